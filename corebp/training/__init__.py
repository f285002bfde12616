"""A training run: the loop (`trainer`), its listeners, checkpoints, data-parallel training,
the run directory and sweeps."""
