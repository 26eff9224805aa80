"""Leaving the training framework: ONNX export of the dense detectors and an onnxruntime backend."""
