"""corebp first-party plugin: optim (being written)."""
