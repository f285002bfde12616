"""How close predictive coding's update comes to backprop's as the inference steps T grow.

On the first training batch of MNIST (64 images, unshuffled) and the initial weights of
`mnist-mlp2-pc` (784-256-256-10 tanh, xavier, seed 0), in float64: backprop's gradients
(the model's own backward) against `pc`'s update for T in 1, 2, 5, 10, 20, 50, 100 at
inference rate 0.1, for standard pc (output weight 1 and 0.01) and under the fixed-prediction
assumption. Per setting and T: the relative error ‖Δ − ∇‖ / ‖∇‖ over all parameters, and the
angle between Δ and ∇ of each layer's W. Run:

    python benchmarks/pc_convergence.py --json benchmarks/pc-convergence.json \
        --doc docs/learning-rules.md
"""

from __future__ import annotations

import argparse
import math

import report
import torch
from corebp_rules import PredictiveCoding

from corebp.checks.alignment import angle
from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer

STEPS = (1, 2, 5, 10, 20, 50, 100)
RATE = 0.1
SETTINGS = {
    "standard, output_weight 1": {"fixed_prediction": False, "output_weight": 1.0},
    "standard, output_weight 0.01": {"fixed_prediction": False, "output_weight": 0.01},
    "fixed prediction": {"fixed_prediction": True},
}


def measure() -> dict:
    overrides = ["train.dtype=float64", "train.device=cpu", "checks.alignment=null"]
    trainer = Trainer(load_recipe("mnist-mlp2-pc", overrides))
    model, loss = trainer.model, trainer.loss
    x, y = next(iter(trainer.data.batches("train", trainer.recipe.data.batch_size)))
    loss.forward(model.forward(x), y)
    model.zero_grad()
    model.backward(loss.backward(), False)
    truth = {k: g.clone() for k, g in model.grads.items()}
    norm = torch.cat([g.flatten() for g in truth.values()]).norm()
    rows = []
    for setting, args in SETTINGS.items():
        for steps in STEPS:
            model.zero_grad()
            PredictiveCoding(steps=steps, rate=RATE, **args).train_step(model, loss, x, y)
            diff = torch.cat([(model.grads[k] - g).flatten() for k, g in truth.items()])
            rows.append(
                {
                    "setting": setting,
                    "steps": steps,
                    "relative_error": (diff.norm() / norm).item(),
                    "angle": {k: _degrees(model.grads[k], g) for k, g in truth.items() if "W" in k},
                }
            )
    model.zero_grad()
    return {"recipe": "mnist-mlp2-pc", "batch": x.shape[0], "rate": RATE, "rows": rows}


def _degrees(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """∠(a, b) in degrees; None where a is 0 (no update reached the layer yet)."""
    value = angle(a, b).item()
    return value if math.isfinite(value) else None


def markdown(result: dict) -> str:
    """The table docs/learning-rules.md shows: per T and setting the relative error, and the
    angles of the layers' updates ("–": no error has reached the layer yet)."""
    settings = list(dict.fromkeys(r["setting"] for r in result["rows"]))
    heads = [s.replace("output_weight ", "β = ") for s in settings]
    lines = ["| T | " + " | ".join(heads) + " |", "|---:|" + "---:|" * len(settings)]
    for steps in sorted({r["steps"] for r in result["rows"]}):
        cells = []
        for setting in settings:
            (row,) = (r for r in result["rows"] if r["setting"] == setting and r["steps"] == steps)
            angles = "/".join("–" if a is None else f"{a:.0f}" for a in row["angle"].values())
            cells.append(f"{row['relative_error']:.3g} ({angles}°)")
        lines.append(f"| {steps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


BEGIN, END = report.begin("benchmarks/pc-convergence.json"), report.END


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    report.add_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report.report(args, measure, markdown, BEGIN)


if __name__ == "__main__":
    main()
