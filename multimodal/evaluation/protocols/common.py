"""What the protocols share: per-frame (features, labels) lists, stacked and capped."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

FeatureFrames = Sequence[tuple[np.ndarray, np.ndarray]]
"""Per-frame ``(features (n, C) float32, labels (n,) int64 class ids)``, as
:func:`~multimodal.evaluation.features.extract_point_features` returns them (ignored points dropped)."""


def stack_frames(frames: FeatureFrames, where: str) -> tuple[np.ndarray, np.ndarray]:
    """All frames' points as ``(x (N, C) float32, y (N,) int64)``; ValueError naming ``where`` when empty."""
    frames = [(f, y) for f, y in frames if len(y)]
    if not frames:
        raise ValueError(f"{where}: no labelled points (every frame is empty or all its points are ignored)")
    dims = {f.shape[1] for f, _ in frames}
    if len(dims) != 1:
        raise ValueError(f"{where}: frames have different feature widths {sorted(dims)}")
    x = np.concatenate([np.asarray(f, np.float32) for f, _ in frames])
    y = np.concatenate([np.asarray(lab, np.int64) for _, lab in frames])
    return x, y


def cap_points(x: np.ndarray, y: np.ndarray, cap: Optional[int], rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``cap`` rows of ``(x, y)``, drawn without replacement by ``rng`` (kept in order)."""
    if cap is None or len(y) <= cap:
        return x, y
    keep = np.sort(rng.choice(len(y), cap, replace=False))
    return x[keep], y[keep]
