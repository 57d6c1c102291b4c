"""Pictures of learned features: PCA to RGB on points and image maps, and training curves."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from .eval_figures import FixedPCA, save_png


def pca_rgb(features: np.ndarray, basis: Union[FixedPCA, tuple[np.ndarray, np.ndarray, np.ndarray], None] = None
            ) -> tuple[np.ndarray, Union[FixedPCA, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Colours ``(N, 3) float32`` in [0, 1] from the first three principal components of ``features (N, C)``.

    Fits :class:`~multimodal.viz.eval_figures.FixedPCA` (standardized channels, outliers trimmed, each component
    scaled by its own 2nd/98th percentiles; see :func:`~multimodal.viz.eval_figures.robust_pca_rgb`). Returns the
    colours and the fitted basis, so other features (another frame, the random-init encoder) can be coloured in
    the same frame of reference by passing it back. A ``(mean, components, (lo, hi))`` tuple from an older
    version is still accepted as ``basis``.
    """
    if basis is None:
        basis = FixedPCA.fit(features)
    if isinstance(basis, FixedPCA):
        return basis.rgb(features), basis
    mu, comp, lohi = basis
    proj = (np.asarray(features, dtype=np.float64) - mu) @ np.asarray(comp).T
    rgb = (proj - lohi[0]) / np.maximum(lohi[1] - lohi[0], 1e-9)
    if rgb.shape[1] < 3:
        rgb = np.pad(rgb, ((0, 0), (0, 3 - rgb.shape[1])), constant_values=0.5)
    return np.clip(rgb, 0, 1).astype(np.float32), basis


def render_point_features(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], out_png: str | os.PathLike,
                          range_m: float = 40.0, title: str = "") -> Path:
    """Bird's-eye views of points coloured by features, side by side.

    Args:
        panels: ``(title, xyz (N, 3) metres in the ego/lidar frame, rgb (N, 3) in [0, 1])`` per panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.5), dpi=100, squeeze=False)
    for ax, (name, xyz, rgb) in zip(axes[0], panels):
        near = (np.abs(xyz[:, 0]) < range_m) & (np.abs(xyz[:, 1]) < range_m)
        ax.scatter(xyz[near, 0], xyz[near, 1], c=rgb[near], s=0.5, linewidths=0)
        ax.set_xlim(-range_m, range_m)
        ax.set_ylim(-range_m, range_m)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out_png)


def plot_training_curves(metrics_csv: str | os.PathLike, out_png: str | os.PathLike,
                         keys: Sequence[str] = ("loss", "top1")) -> Path:
    """Plot the CSV logger's columns ``keys`` against the optimizer step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(metrics_csv))) if Path(metrics_csv).is_file() else []
    present = [k for k in keys if rows and k in rows[0]]
    fig, axes = plt.subplots(1, max(1, len(present)), figsize=(5 * max(1, len(present)), 3.5), dpi=100,
                             squeeze=False)
    for ax, k in zip(axes[0], present):
        pts = [(int(r["step"]), float(r[k])) for r in rows if r.get(k) not in (None, "")]
        if pts:
            s, v = np.array(pts).T
            ax.plot(s, v, lw=0.8, alpha=0.5, label=k)
            if len(v) >= 10:  # a moving average reads better than the noisy per-step values
                w = max(5, len(v) // 20)
                ax.plot(s[w - 1:], np.convolve(v, np.ones(w) / w, mode="valid"), lw=2, label=f"{k} (mean of {w})")
        ax.set_xlabel("optimizer step")
        ax.set_title(k)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_png)


def save_figure(fig, out_png: str | os.PathLike) -> Path:
    """Save a matplotlib figure as PNG atomically (unique temporary file + rename) and close it."""
    import matplotlib.pyplot as plt

    try:
        return save_png(fig, out_png)
    finally:
        plt.close(fig)
