"""Pictures of learned features: PCA to RGB on points and image maps, and training curves."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np


def pca_rgb(features: np.ndarray, basis: Optional[tuple[np.ndarray, np.ndarray, np.ndarray]] = None
            ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Colours ``(N, 3)`` in [0, 1] from the first three principal components of ``features (N, C)``.

    Returns the colours and the ``(mean, components, (lo, hi))`` basis, so other features (another frame,
    the random-init encoder) can be coloured in the same frame of reference.
    """
    x = features.astype(np.float64)
    if basis is None:
        mu = x.mean(0)
        _, _, vt = np.linalg.svd(x - mu, full_matrices=False)
        comp = vt[:3]
        proj = (x - mu) @ comp.T
        lo, hi = np.percentile(proj, 2, axis=0), np.percentile(proj, 98, axis=0)
        basis = (mu, comp, np.stack([lo, hi]))
    mu, comp, lohi = basis
    proj = (x - mu) @ comp.T
    rgb = (proj - lohi[0]) / np.maximum(lohi[1] - lohi[0], 1e-9)
    if rgb.shape[1] < 3:
        rgb = np.pad(rgb, ((0, 0), (0, 3 - rgb.shape[1])), constant_values=0.5)
    return np.clip(rgb, 0, 1), basis


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
    """Save a matplotlib figure as PNG atomically (temporary file + rename) and close it."""
    import matplotlib.pyplot as plt

    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out
