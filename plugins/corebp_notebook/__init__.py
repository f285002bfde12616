"""corebp first-party plugin: notebook (being written)."""
