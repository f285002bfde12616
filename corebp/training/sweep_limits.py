"""A sweep's limit, in a module of its own so that `corebp sweep --help` shows it without
importing torch."""

#: The most runs (cells × seeds) a sweep starts unless told otherwise (`--max-runs`).
MAX_RUNS = 1000
