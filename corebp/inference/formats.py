"""The export formats, in a module of their own so that `corebp export --help` lists them
without importing torch."""

#: Each format with the file suffix it gets by default.
FORMATS = {"torch": ".pt", "onnx": ".onnx", "safetensors": ".safetensors"}
