"""Random rigid transforms and point augmentations for contrastive views (numpy, data-pipeline side)."""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def random_rigid(rng: np.random.Generator, max_yaw_deg: float = 180.0, max_tilt_deg: float = 5.0,
                 max_shift_m: float = 1.0) -> np.ndarray:
    """A random ``(4, 4)`` rigid transform: any yaw up to ``max_yaw_deg``, small roll/pitch, a shift."""
    yaw = np.deg2rad(rng.uniform(-max_yaw_deg, max_yaw_deg))
    roll, pitch = np.deg2rad(rng.uniform(-max_tilt_deg, max_tilt_deg, 2))
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [roll, pitch, yaw]).as_matrix()
    T[:3, 3] = rng.uniform(-max_shift_m, max_shift_m, 3)
    return T


def augment_points(points: np.ndarray, T: np.ndarray, rng: np.random.Generator, scale_range=(0.95, 1.05),
                   jitter_m: float = 0.01, drop_ratio: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Transform, scale, jitter and randomly drop points.

    Args:
        points: ``(N, C>=3)`` float32; xyz metres, other columns kept.

    Returns:
        the augmented ``(M, C)`` points and ``kept`` ``(M,)`` int64 indices into the input.
    """
    keep = np.nonzero(rng.random(len(points)) >= drop_ratio)[0]
    out = points[keep].astype(np.float32, copy=True)
    xyz = out[:, :3].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    xyz *= rng.uniform(*scale_range)
    xyz += rng.normal(scale=jitter_m, size=xyz.shape)
    out[:, :3] = xyz
    return out, keep
