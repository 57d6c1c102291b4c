"""SLIC superpixels (scikit-image), computed once per image and cached next to the run.

The cache lives in a folder of ours (the run's ``cache/``), never in the user's data folder.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

import numpy as np

from multimodal.sensors.atomic import atomic_write


def slic_superpixels(image: np.ndarray, n_segments: int = 150, compactness: float = 10.0) -> np.ndarray:
    """``(H, W) int32`` superpixel ids in ``[0, S)`` of an ``(H, W, 3) uint8`` RGB image."""
    from skimage.segmentation import slic

    seg = slic(image, n_segments=n_segments, compactness=compactness, start_label=0)
    _, dense = np.unique(seg, return_inverse=True)  # ids made contiguous
    return dense.reshape(seg.shape).astype(np.int32)


class SuperpixelCache:
    """Superpixels of ``(key, image)`` pairs, stored as ``.npy`` under ``cache_dir`` (None: no caching)."""

    def __init__(self, cache_dir: Optional[str | os.PathLike], n_segments: int = 150, compactness: float = 10.0):
        self.dir = Path(cache_dir) if cache_dir else None
        self.n_segments, self.compactness = n_segments, compactness

    def get(self, key: str, image: np.ndarray) -> np.ndarray:
        if self.dir is None:
            return slic_superpixels(image, self.n_segments, self.compactness)
        name = hashlib.sha1(f"{key}|{image.shape}|{self.n_segments}|{self.compactness}".encode()).hexdigest()
        path = self.dir / f"{name}.npy"
        if path.is_file():
            try:
                return np.load(path)
            except (ValueError, OSError):
                pass  # a damaged cache file is recomputed
        seg = slic_superpixels(image, self.n_segments, self.compactness)
        atomic_write(path, lambda f: np.save(f, seg))
        return seg
