"""corebp first-party plugin: data (being written)."""
