"""Your own data from Python: tensors or numpy arrays passed straight in."""

from __future__ import annotations

from typing import ClassVar

import torch

from corebp.errors import ShapeError
from corebp.inference.preprocess import to_features
from corebp_data.memory import (
    ArrayLike,
    InMemorySource,
    NormalizeArg,
    as_examples,
    check_labels,
    resolve_normalize,
)


def hold_examples(
    source: InMemorySource,
    train: tuple[ArrayLike, ArrayLike],
    test: tuple[ArrayLike, ArrayLike] | None,
    *,
    names: tuple[str, str],
    num_classes: int | None,
    divide_by: float | None,
    normalize: NormalizeArg,
) -> None:
    """Check, convert and hold (x, y) pairs; shared by the tensors, npz and csv sources.

    `names` says where train and test came from, for error messages. `num_classes`
    defaults to the largest label + 1.
    """
    pairs = {"train": as_examples(*train, names[0])}
    if test is not None:
        pairs["test"] = as_examples(*test, names[1])
        if pairs["test"][0].shape[1:] != pairs["train"][0].shape[1:]:
            raise ShapeError(
                f"{names[1]}: examples of shape {tuple(pairs['test'][0].shape[1:])}, but "
                f"{names[0]} has {tuple(pairs['train'][0].shape[1:])}; expected the same shape."
            )
    if num_classes is None:
        num_classes = max(int(y.max()) + 1 if y.numel() else 0 for _, y in pairs.values())
    for split, (_, y) in pairs.items():
        check_labels(y, num_classes, names[0 if split == "train" else 1])
    source.num_classes = num_classes
    source.normalize = resolve_normalize(normalize, None)
    converted = {
        s: (to_features(x, source.dtype, divide_by=divide_by, normalize=source.normalize), y)
        for s, (x, y) in pairs.items()
    }
    source._hold(converted["train"], converted.get("test"))


class TensorSource(InMemorySource):
    """Data handed in from Python: `train=(x, y)` and optionally `test=(x, y)`.

    x: (n, *input_shape) tensor or array; y: (n,) class indices. uint8 inputs are scaled
    by 1/255 as torchvision's ToTensor does unless `divide_by` says otherwise;
    `normalize` = [mean, std] then applies (x - mean) / std. `num_classes` defaults to
    the largest label + 1.

    Args:
        train: the training examples, (x, y).
        test: the test examples, (x, y) with x of train's example shape; null: no test split.
        num_classes: the number of classes, > every label; null: the largest label + 1.
        divide_by: what every input is divided by first; null: 255 for uint8 inputs, else 1.
        normalize: [mean, std] to apply (x − mean) / std after `divide_by`; none or null:
            no normalisation.
    """

    check_args: ClassVar = [
        {"train": ([[i, i % 7] for i in range(40)], [i % 3 for i in range(40)])},
        {
            "train": ([[i, i % 7] for i in range(40)], [i % 3 for i in range(40)]),
            "test": ([[i, 1] for i in range(9)], [i % 4 for i in range(9)]),
            "num_classes": 5,
            "divide_by": 10.0,
            "normalize": [1.0, 2.0],
        },
    ]

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
        train: tuple[ArrayLike, ArrayLike],
        test: tuple[ArrayLike, ArrayLike] | None = None,
        num_classes: int | None = None,
        divide_by: float | None = None,
        normalize: NormalizeArg = None,
    ) -> None:
        super().__init__(device=device, dtype=dtype, seed=seed, validation_split=validation_split)
        hold_examples(
            self,
            train,
            test,
            names=("tensors source argument `train`", "tensors source argument `test`"),
            num_classes=num_classes,
            divide_by=divide_by,
            normalize=normalize,
        )
