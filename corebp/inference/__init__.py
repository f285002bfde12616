"""After training: open a trained run (`trained`), its preprocessing, export, and torch interop."""
