"""Compression: int8 quantization, pruning, distillation and ONNX export, each measured."""
