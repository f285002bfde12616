"""The recipe schema: what a recipe file may say, checked by pydantic with unknown keys refused.

Components (layers, loss, optimizer, learning rule, schedule, metrics) are written as
`{type: <registered name>, <argument>: <value>, ...}`; their arguments are checked later
against the registered class's constructor (`corebp.recipe.components`), because which
arguments exist depends on the plugins installed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The metrics of a recipe that lists none. Every data source yields class labels (the
#: DataSource contract) and every loss takes them, so every run is a classification run:
#: it reports its loss and accuracy unless the recipe says `metrics: []`.
DEFAULT_METRICS = ("loss", "accuracy")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _bare_names(value: Any) -> Any:
    """In a list of components, a bare name `accuracy` stands for `{type: accuracy}`."""
    if isinstance(value, list):
        return [{"type": v} if isinstance(v, str) else v for v in value]
    return value


class ComponentSpec(BaseModel):
    """A registered component by name, with its constructor arguments beside `type`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="registered name (see `corebp plugins`)")

    @property
    def args(self) -> dict[str, Any]:
        """The constructor arguments: every key but `type`."""
        return dict(self.model_extra or {})


class DataSpec(_Strict):
    """Where the examples come from and how they are batched."""

    source: str = Field(description="registered data source, e.g. mnist, synthetic")
    root: str | None = Field(
        None, description="data folder for file-based sources; null: the source's default"
    )
    batch_size: int = Field(32, gt=0, description="training batch size")
    eval_batch_size: int = Field(1000, gt=0, description="batch size for evaluation")
    shuffle: bool = Field(True, description="reshuffle the training split every epoch")
    drop_last: bool = Field(False, description="drop the last partial training batch")
    validation_split: float = Field(
        0.0, ge=0.0, lt=1.0, description="share of the training split held out as 'val'"
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="further arguments of the data source"
    )


class DistributedSpec(_Strict):
    """Data-parallel training, used when the run is launched by torchrun with more than one
    process (see docs/distributed.md); a plain `corebp run` ignores it."""

    backend: Literal["auto", "gloo", "nccl"] = Field(
        "auto", description="auto: nccl when training on CUDA, else gloo"
    )
    timeout_s: float = Field(
        300.0,
        gt=0,
        description="seconds a collective waits for the other processes before the run fails "
        "(torch's default is 30 minutes)",
    )


class TrainSpec(_Strict):
    """How long, where and how reproducibly to train."""

    epochs: int = Field(5, gt=0, description="passes over the training split")
    seed: int = Field(
        0,
        ge=0,
        lt=2**63,
        description="torch.manual_seed before the model is built; also seeds shuffling",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: cuda when available, else cpu"
    )
    dtype: Literal["float32", "float64"] = Field(
        "float32", description="dtype of parameters and inputs"
    )
    flush_denormal: bool = Field(
        True,
        description="on CPU, flush subnormal floats to zero while training and evaluating "
        "(torch.set_flush_denormal, restored afterwards): saturated sigmoids produce "
        "subnormals, which CPUs handle ~10x slower",
    )
    distributed: DistributedSpec | None = Field(
        None,
        description="data-parallel settings for runs launched by torchrun; null: the defaults",
    )


class AutogradCheckSpec(_Strict):
    """Compare the explicit gradients with torch autograd during training."""

    every: int = Field(
        1, gt=0, description="check every n-th step (1: every step); step 0 is always checked"
    )
    rtol: float | None = Field(
        None,
        gt=0,
        description="a step fails when |g - g_autograd| > atol + rtol * max|g_autograd|; "
        "null: 1e-4 in float32, 1e-10 in float64",
    )
    atol: float | None = Field(
        None, ge=0, description="see rtol; null: 1e-5 in float32, 1e-13 in float64"
    )
    twin: bool = Field(
        False,
        description="also train a torch.nn/autograd/torch.optim twin in lockstep and compare; "
        "needs an optimizer that declares its torch_counterpart",
    )


class AlignmentCheckSpec(_Strict):
    """Measure how well the learning rule's updates align with the true gradient."""

    every: int = Field(
        100, gt=0, description="measure every n-th step (step 0 included), per weight W"
    )


class ChecksSpec(_Strict):
    """Checks run alongside training."""

    autograd: AutogradCheckSpec | None = Field(
        None, description="explicit-vs-autograd gradient check; null: off"
    )
    alignment: AlignmentCheckSpec | None = Field(
        None,
        description="angles between the rule's updates, feedback and errors and backprop's "
        "(docs/learning-rules.md); null: off",
    )


class OutputSpec(_Strict):
    """What a run writes besides metrics.jsonl and summary.json."""

    dir: str | None = Field(
        None,
        description="run directory (new or empty); null: runs/{recipe}-{YYYYmmdd-HHMMSS} "
        "under the cwd, with -2, -3, ... added when another run took the name",
    )
    plots: bool = Field(
        True, description="write <metric>.png for each numeric metric, and weights.png"
    )
    checkpoint: bool = Field(
        True,
        description="write checkpoint.pt after every epoch and when stopped, so that "
        "`corebp resume` can continue the run exactly",
    )
    checkpoint_every: int | None = Field(
        None, gt=0, description="also write checkpoint.pt every n updates; null: only per epoch"
    )
    progress: Literal["auto", "bar", "log"] = Field(
        "auto", description="auto: a progress bar on a terminal, plain log lines otherwise"
    )
    loggers: list[ComponentSpec] = Field(
        default_factory=list,
        description="further metric sinks, names or {type: name, argument: value}, e.g. "
        "[tensorboard]; metrics.jsonl is always written",
    )

    @field_validator("loggers", mode="before")
    @classmethod
    def _logger_names(cls, value: Any) -> Any:
        return _bare_names(value)


class Recipe(_Strict):
    """A whole training run."""

    model: list[ComponentSpec] = Field(
        min_length=1, description="layers in order, each {type: name, argument: value, ...}"
    )
    loss: ComponentSpec = Field(description="the loss, {type: name, ...}")
    optimizer: ComponentSpec = Field(description="the update rule, {type: name, lr: ..., ...}")
    learning_rule: ComponentSpec = Field(
        default_factory=lambda: ComponentSpec(type="backprop"),
        description="how backward assigns credit, {type: name, ...}; default {type: backprop}; "
        "the rules plugin adds fa, dfa, usf, brsf, frsf, kp, wm, drtp (docs/learning-rules.md)",
    )
    schedule: ComponentSpec | None = Field(
        None, description="learning-rate schedule, {type: name, ...}; null: constant lr"
    )
    data: DataSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
    metrics: list[ComponentSpec] = Field(
        default_factory=lambda: [ComponentSpec(type=name) for name in DEFAULT_METRICS],
        description="metric names, or {type: name, argument: value} for ones with arguments; "
        "each is reported as train_<name>, val_<name>, test_<name>; [] for none",
    )
    checks: ChecksSpec = Field(default_factory=ChecksSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    note: str | None = Field(
        None,
        description="a few sentences `corebp run` and `corebp resume` print when they start, "
        "e.g. what result to expect and why",
    )

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_names(cls, value: Any) -> Any:
        return _bare_names(value)
