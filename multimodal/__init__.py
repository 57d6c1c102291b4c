"""multimodal: self-supervised learning of per-sensor encoders from unlabeled robot logs.

``multimodal.load_encoder(path)`` loads an exported encoder (safetensors + JSON) without the training code.
"""
from __future__ import annotations

from importlib import metadata as _metadata

DISTRIBUTION = "multimodal-robot-ssl"  # the name pip knows; the import name is ``multimodal``
try:
    __version__ = _metadata.version(DISTRIBUTION)
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def load_encoder(path, map_location="cpu"):
    """Build and load an exported encoder folder; see :func:`multimodal.export.load_encoder`."""
    from .export import load_encoder as _load

    return _load(path, map_location=map_location)


__all__ = ["DISTRIBUTION", "__version__", "load_encoder"]
