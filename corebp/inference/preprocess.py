"""From pixels to model inputs: the arithmetic every image source uses, and its record.

`to_features` is the one place pixel bytes become inputs (ToTensor then Normalize, bit for
bit). A data source whose examples are images describes what it did as `ImagePreprocessing`;
a run writes that to `preprocessing.json`, and `corebp predict` applies exactly it to new
image files, so a prediction sees the inputs the model was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from corebp.errors import DataError

#: (mean, std): one pair for every value, or one mean and one std per channel (dimension 1
#: of an (N, C, ...) batch), as torchvision's Normalize takes them.
Normalization = tuple[float, float] | tuple[tuple[float, ...], tuple[float, ...]]


def to_features(
    x: Tensor,
    dtype: torch.dtype,
    *,
    divide_by: float | None = None,
    normalize: Normalization | None = None,
) -> Tensor:
    """x as `dtype`, computed exactly as torchvision's ToTensor then Normalize.

    Scaling: x / divide_by; divide_by defaults to 255 for uint8 input (as ToTensor does)
    and 1 otherwise. Normalising: (x - mean) / std, per channel of an (N, C, ...) `x` when
    `normalize` holds a mean and std per channel. The arithmetic runs in float32 (float64
    when `dtype` is float64), so float32 results are bit-identical to torchvision's.
    """
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    if divide_by is None:
        divide_by = 255 if x.dtype == torch.uint8 else 1
    out = x.to(compute)
    if divide_by != 1:
        out = out.div(divide_by)
    if normalize is not None:
        per_channel = (-1,) + (1,) * (x.ndim - 2)
        mean, std = (
            torch.as_tensor(v, dtype=compute, device=x.device).reshape(per_channel)
            if isinstance(v, tuple)
            else torch.as_tensor(v, dtype=compute, device=x.device)
            for v in normalize
        )
        out = out.sub_(mean).div_(std)
    return out.to(dtype)


#: The most values one image may have at any stage of its preprocessing (a 4096×4096 grey
#: image): a record that asks for more is refused before anything is allocated.
MAX_VALUES = 1 << 24


@contextmanager
def _header_only() -> Iterator[None]:
    """Inside, PIL opens an image of any claimed size (reading its header, decoding nothing),
    so that the caller can check the size itself; PIL's limit is back afterwards."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


class ImagePreprocessing(BaseModel):
    """How an image file becomes one model input: x = (byte / divide_by − mean) / std.

    The file must be `height` × `width` pixels; it is read as grey ("L") when `channels` is
    1, as RGB when 3; `normalize` is one (mean, std) or a mean and std per channel. A black
    border of `pad` pixels is added to the bytes before scaling; with `resize`, the scaled
    image is then resized to `resize` × `resize` (bilinear, antialiased, as torchvision's
    Resize on a tensor); the result is reshaped to `input_shape`. `classes` names the
    model's classes by index, where the data source names them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    height: int = Field(gt=0)
    width: int = Field(gt=0)
    channels: int = Field(1, description="1: grey, 3: RGB")
    divide_by: float = Field(255.0, gt=0)
    normalize: Normalization | None = Field(
        None, description="(mean, std), ((mean per channel), (std per channel)), or none"
    )
    pad: int = Field(0, ge=0, description="black border added on every side, in pixels")
    resize: int | None = Field(None, gt=0, description="edge length after padding, or none")
    input_shape: tuple[int, ...]
    classes: tuple[str, ...] | None = Field(
        None, description="the name of each class by index, or none (the index is its name)"
    )

    @model_validator(mode="after")
    def _sizes(self) -> ImagePreprocessing:
        if self.channels not in (1, 3):
            raise ValueError(f"channels is {self.channels}; expected 1 (grey) or 3 (RGB)")
        lengths = {len(v) for v in self.normalize or () if isinstance(v, tuple)}
        if lengths and lengths != {self.channels}:
            raise ValueError(
                f"normalize {self.normalize} has no mean and std for each of the "
                f"{self.channels} channel(s)"
            )
        padded = (self.height + 2 * self.pad, self.width + 2 * self.pad)
        edges = padded if self.resize is None else (self.resize, self.resize)
        for what, (h, w) in (("after pad", padded), ("after resize", edges)):
            if h * w * self.channels > MAX_VALUES:
                raise ValueError(
                    f"an image {what} would be {w}×{h}×{self.channels}, over {MAX_VALUES} values"
                )
        values = math.prod(self.input_shape)
        if values != edges[0] * edges[1] * self.channels:
            raise ValueError(
                f"input_shape {list(self.input_shape)} holds {values} values, but the image "
                f"gives {self.channels}×{edges[0]}×{edges[1]}"
            )
        return self

    def read(self, path: Path, *, resize: bool = False, invert: bool = False) -> Tensor:
        """The pixels of one image file as uint8 (channels, height, width), checked: its size
        before anything is decoded (a small file can claim billions of pixels), then the
        whole file.

        An image of another size than `width` × `height` is an error, unless `resize`: then
        it is resized to that size with PIL, shrunk by averaging the pixels each new pixel
        covers (box filter: an image scaled up by a whole factor comes back exactly) and
        enlarged by bilinear interpolation; at most MAX_VALUES pixels are decoded. With
        `invert`, each byte b becomes 255 − b: dark strokes on a light background read as
        MNIST's light strokes on black.
        """
        try:
            with _header_only(), Image.open(path) as image:
                width, height = image.size
            if (height, width) != (self.height, self.width) and not resize:
                raise DataError(
                    f"{path}: {width}×{height} pixels; expected {self.width}×{self.height}, the "
                    "size of the images the model's data source read (its pad and resize are "
                    f"applied after reading). Fix: resize the image to {self.width}×"
                    f"{self.height} first, or let `corebp predict --resize` do it."
                )
            if width * height > MAX_VALUES:
                raise DataError(
                    f"{path}: {width}×{height} pixels, over the {MAX_VALUES} an image may have; "
                    f"expected an image of about {self.width}×{self.height}. Fix: shrink it first."
                )
            with Image.open(path) as image:
                image.verify()  # the whole file: chunk checksums and its end, not just pixels
            with Image.open(path) as image:
                converted = image.convert("L" if self.channels == 1 else "RGB")
                if converted.size != (self.width, self.height):
                    shrinks = width >= self.width and height >= self.height
                    box, bilinear = Image.Resampling.BOX, Image.Resampling.BILINEAR
                    converted = converted.resize(
                        (self.width, self.height), box if shrinks else bilinear
                    )
                pixels = np.asarray(converted)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(
                f"{path}: cannot be read as an image ({reason}); expected a whole PNG or JPEG "
                f"file of {self.width}×{self.height} pixels."
            ) from None
        if invert:
            pixels = 255 - pixels
        shape = (self.height, self.width, -1)
        return torch.from_numpy(pixels.copy()).reshape(shape).permute(2, 0, 1)

    def apply(self, pixels: Tensor, dtype: torch.dtype) -> Tensor:
        """Model inputs (N, *input_shape) from uint8 pixels (N, channels, height, width)."""
        if self.pad:
            pixels = torch.nn.functional.pad(pixels, (self.pad,) * 4)
        x = to_features(pixels, dtype, divide_by=self.divide_by, normalize=self.normalize)
        if self.resize is not None:
            x = torch.nn.functional.interpolate(
                x,
                size=(self.resize, self.resize),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        return x.reshape(pixels.shape[0], *self.input_shape)
