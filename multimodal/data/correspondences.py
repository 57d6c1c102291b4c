"""Correspondences between two point sets and between points and pixels (numpy, data-pipeline side)."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from multimodal.sensors.frame import CameraImage, LidarSweep
from multimodal.sensors.geometry import project_lidar_to_camera


def match_points(xyz_a: np.ndarray, xyz_b: np.ndarray, radius_m: float) -> np.ndarray:
    """Mutual matches: point i of A and j of B when each is the other's nearest neighbour within ``radius_m``.

    Args:
        xyz_a, xyz_b: ``(N, 3)`` / ``(M, 3)`` metres in one common frame.

    Returns:
        ``(P, 2) int64`` rows ``(i, j)``. Points with no partner (occluded, dynamic, out of range) have none.
    """
    if len(xyz_a) == 0 or len(xyz_b) == 0:
        return np.zeros((0, 2), np.int64)
    tree_b = cKDTree(xyz_b)
    d_ab, j = tree_b.query(xyz_a, k=1, distance_upper_bound=radius_m)
    ok = np.isfinite(d_ab)
    i = np.nonzero(ok)[0]
    j = j[ok]
    # Mutual check: B's nearest in A must be i again, so one B point never serves several A points.
    tree_a = cKDTree(xyz_a)
    _, back = tree_a.query(xyz_b[j], k=1)
    keep = back == i
    return np.stack([i[keep], j[keep]], axis=1).astype(np.int64)


def point_pixel_pairs(sweep: LidarSweep, cameras: list[CameraImage], stride: int,
                      min_depth_m: float = 1.0) -> np.ndarray:
    """Pairs of LiDAR points and camera feature-map cells through the calibrated projection.

    Args:
        cameras: images of one frame, in the order they are stacked into the batch.
        stride: the camera encoder's output stride (pixels per feature cell).

    Returns:
        ``(P, 4) int64`` rows ``(point index, camera index, row, col)`` on the stride grid. A point seen by
        two cameras appears twice.
    """
    rows = []
    for c, cam in enumerate(cameras):
        uv, _, mask = project_lidar_to_camera(sweep, cam, min_depth=min_depth_m)
        idx = np.nonzero(mask)[0]
        H, W = cam.image.shape[:2]
        col = np.minimum(uv[idx, 0] // stride, W // stride - 1).astype(np.int64)
        row = np.minimum(uv[idx, 1] // stride, H // stride - 1).astype(np.int64)
        rows.append(np.stack([idx, np.full_like(idx, c), row, col], axis=1))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 4), np.int64)
