"""A PCA of the features fixed at the first message, so colours (and reduced channels) mean the same thing
in every later message: a surface keeps its colour in RViz while the robot drives."""
from __future__ import annotations

from typing import Optional

import numpy as np


class FixedPCA:
    """Principal axes of a feature sample, fitted once.

    Args:
        sample_size: at most this many feature rows are used for the fit.
        seed: seed of the subsample.
    """

    def __init__(self, sample_size: int = 8192, seed: int = 0):
        self.sample_size, self.seed = sample_size, seed
        self.mean: Optional[np.ndarray] = None        # (C,)
        self.axes: Optional[np.ndarray] = None        # (C, C) columns = principal axes, by variance
        self.low: Optional[np.ndarray] = None         # (3,) 2nd percentile of the first three projections
        self.high: Optional[np.ndarray] = None        # (3,) 98th percentile

    @property
    def fitted(self) -> bool:
        return self.axes is not None

    def fit(self, features: np.ndarray) -> FixedPCA:
        """Fit on ``(N, C)`` features (N >= 1)."""
        x = np.asarray(features, dtype=np.float64)
        if len(x) > self.sample_size:
            x = x[np.random.default_rng(self.seed).choice(len(x), self.sample_size, replace=False)]
        self.mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=True)
        axes = vt.T
        # SVD signs are arbitrary; fix them so a refit on similar data gives similar colours.
        signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
        self.axes = axes * np.where(signs == 0, 1, signs)
        proj = (x - self.mean) @ self.axes[:, :3]
        if proj.shape[1] < 3:
            proj = np.pad(proj, ((0, 0), (0, 3 - proj.shape[1])))
        self.low, self.high = np.percentile(proj, 2, axis=0), np.percentile(proj, 98, axis=0)
        return self

    def project(self, features: np.ndarray, k: int) -> np.ndarray:
        """``(N, C)`` -> ``(N, k)`` float32 coordinates on the first ``k`` axes."""
        if not self.fitted:
            self.fit(features)
        return ((np.asarray(features, dtype=np.float64) - self.mean) @ self.axes[:, :k]).astype(np.float32)

    def colors(self, features: np.ndarray) -> np.ndarray:
        """``(N, C)`` -> ``(N, 3) uint8``: the first three components scaled by the fitted 2-98 % range."""
        p = self.project(features, min(3, features.shape[1]))
        if p.shape[1] < 3:
            p = np.pad(p, ((0, 0), (0, 3 - p.shape[1])))
        span = np.maximum(self.high - self.low, 1e-12)
        return (np.clip((p - self.low) / span, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
