"""Encoders: text to unit vectors (ONNX int8 by default, torch for any other model)."""
