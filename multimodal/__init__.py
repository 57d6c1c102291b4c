"""multimodal: self-supervised learning of per-sensor encoders from unlabeled robot logs.

``multimodal.load_encoder(path)`` loads an exported encoder (safetensors + JSON) without the training code.
"""
from __future__ import annotations


def load_encoder(path, map_location="cpu"):
    """Build and load an exported encoder folder; see :func:`multimodal.export.load_encoder`."""
    from .export import load_encoder as _load

    return _load(path, map_location=map_location)


__all__ = ["load_encoder"]
