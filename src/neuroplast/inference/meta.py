"""The model description of a bundle (``model.json``) and the bundle's file names, as the
inference package names them; defined in :mod:`neuroplast.model_meta`, which the registry
reads too (so that neither package imports the other for it)."""

from neuroplast.model_meta import META, ONNX, ONNX_INT8, VOCAB, WEIGHTS, ModelMeta, read_meta

__all__ = ["META", "ONNX", "ONNX_INT8", "VOCAB", "WEIGHTS", "ModelMeta", "read_meta"]
