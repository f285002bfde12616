"""corebp first-party plugin: metrics (being written)."""
