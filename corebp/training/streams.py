"""`Streams`: every random stream a run draws from, saved and restored together.

torch's global generator (and CUDA's: Dropout masks, a rule's draws through torch), every
`torch.Generator` a layer holds, and the shuffle generator. Data-parallel, each rank's own
torch and layer generators are gathered in rank order (a collective: every rank calls
`state_dict`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from corebp.layers.sequential import Sequential

if TYPE_CHECKING:
    from corebp.training.distributed import DataParallel


class Streams:
    """The run's random streams; `shuffle` draws each epoch's order."""

    def __init__(
        self, model: Sequential, seed: int, device: torch.device, parallel: DataParallel | None
    ) -> None:
        self.model, self.device, self.parallel = model, device, parallel
        self.shuffle = torch.Generator().manual_seed(seed)
        #: The shuffle generator's state when the current epoch's order was drawn.
        self.epoch_start = self.shuffle.get_state()

    def start_epoch(self) -> None:
        """Remember the shuffle generator's state before this epoch draws its order."""
        self.epoch_start = self.shuffle.get_state()

    def _layers(self) -> dict[str, torch.Generator]:
        """Every generator a layer holds, by "<layer index>.<attribute>"."""
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.model.layers)
            for name, value in vars(layer).items()
            if isinstance(value, torch.Generator)
        }

    def state_dict(self, mid_epoch: bool) -> dict[str, Any]:
        """Mid-epoch, the shuffle generator as it was when this epoch's order was drawn (the
        order is drawn again and the batches done skipped); between epochs, as it is now,
        after the finished epoch's draw, so that the next epoch draws a new order."""
        own: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "layers": {k: g.get_state() for k, g in self._layers().items()},
        }
        if self.device.type == "cuda":
            own["cuda"] = torch.cuda.get_rng_state(self.device)
        shuffle = self.epoch_start if mid_epoch else self.shuffle.get_state()
        state = own | {"shuffle": shuffle.clone()}
        if self.parallel is not None:
            state["ranks"] = self.parallel.gather(own)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.parallel is not None:  # each rank's own streams (its Dropout masks)
            state = state | state["ranks"][self.parallel.rank]
        torch.set_rng_state(state["torch"])
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device)
        for k, g in self._layers().items():
            g.set_state(state["layers"][k])
        self.shuffle.set_state(state["shuffle"])
        self.epoch_start = state["shuffle"].clone()
