"""Plumbing the rest of corebp shares: atomic writes, environment flags, optional dependencies."""
