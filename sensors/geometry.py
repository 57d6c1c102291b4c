"""Rigid-body geometry in one place: SE(3) helpers, pose interpolation, ego motion and
LiDAR-to-camera projection.

Transforms are ``(4, 4) float64`` matrices named ``T_<to>_from_<from>``; quaternions are
``(w, x, y, z)`` (nuScenes / pyquaternion order) unless a name says ``xyzw`` (ROS / scipy order).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from .frame import CameraImage, LidarSweep


def make_transform(rotation: np.ndarray, translation: Sequence[float]) -> np.ndarray:
    """``(4, 4) float64`` from a ``(3, 3)`` rotation matrix and a 3-vector translation (metres)."""
    T = np.eye(4)
    T[:3, :3] = np.asarray(rotation, dtype=np.float64)
    T[:3, 3] = np.asarray(translation, dtype=np.float64)
    return T


def quat_wxyz_to_matrix(q_wxyz: Sequence[float]) -> np.ndarray:
    """``(3, 3)`` rotation matrix from a unit quaternion ``(w, x, y, z)`` (normalized here)."""
    w, x, y, z = (float(v) for v in q_wxyz)
    return Rotation.from_quat([x, y, z, w]).as_matrix()


def matrix_to_quat_wxyz(R: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` with ``w >= 0`` from a ``(3, 3)`` rotation matrix."""
    x, y, z, w = Rotation.from_matrix(np.asarray(R, dtype=np.float64)).as_quat()
    q = np.array([w, x, y, z])
    return -q if q[0] < 0 else q


def transform_from_quat(q_wxyz: Sequence[float], translation: Sequence[float]) -> np.ndarray:
    """``(4, 4)`` transform from a ``(w, x, y, z)`` quaternion and a translation (metres)."""
    return make_transform(quat_wxyz_to_matrix(q_wxyz), translation)


def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid transform, exact for SE(3): ``T_b_from_a -> T_a_from_b``."""
    T = np.asarray(T, dtype=np.float64)
    out = np.eye(4)
    R = T[:3, :3]
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ T[:3, 3]
    return out


def transform_points(T_b_from_a: np.ndarray, points_a: np.ndarray) -> np.ndarray:
    """Apply ``T_b_from_a`` to ``(N, 3)`` points in frame a; returns ``(N, 3) float64`` in frame b."""
    p = np.asarray(points_a, dtype=np.float64)[:, :3]
    return p @ T_b_from_a[:3, :3].T + T_b_from_a[:3, 3]


def interpolate_transform(T0: np.ndarray, T1: np.ndarray, alpha: float) -> np.ndarray:
    """Pose between ``T0`` (alpha=0) and ``T1`` (alpha=1): slerp on rotation, lerp on translation."""
    if alpha <= 0.0:
        return np.array(T0, dtype=np.float64)
    if alpha >= 1.0:
        return np.array(T1, dtype=np.float64)
    rots = Rotation.from_matrix(np.stack([T0[:3, :3], T1[:3, :3]]))
    R = Slerp([0.0, 1.0], rots)([alpha]).as_matrix()[0]
    t = (1.0 - alpha) * T0[:3, 3] + alpha * T1[:3, 3]
    return make_transform(R, t)


def ego_motion(T_world_from_ego_a: np.ndarray, T_world_from_ego_b: np.ndarray) -> np.ndarray:
    """Motion of the ego between two moments: ``T_egob_from_egoa``.

    A static point seen at time a in the ego frame (``p_a``) is at ``T_egob_from_egoa @ p_a`` in the
    ego frame at time b. Used to register two sweeps.
    """
    return invert(T_world_from_ego_b) @ np.asarray(T_world_from_ego_a, dtype=np.float64)


def T_camera_from_lidar(sweep: LidarSweep, camera: CameraImage) -> np.ndarray:
    """``(4, 4)`` transform from the lidar frame (at lidar time) to the camera frame (at camera time).

    Goes lidar -> ego(t_lidar) -> world -> ego(t_camera) -> camera, as nuscenes-devkit does, so the
    ego motion between the two timestamps is compensated. Without poses on both, the ego is
    assumed not to have moved.
    """
    T = np.asarray(sweep.T_ego_from_sensor, dtype=np.float64)
    if sweep.T_world_from_ego is not None and camera.T_world_from_ego is not None:
        T = ego_motion(sweep.T_world_from_ego, camera.T_world_from_ego) @ T
    return invert(camera.T_ego_from_sensor) @ T


def project_to_image(
    points_cam: np.ndarray, K: np.ndarray, size_wh: tuple[int, int], min_depth: float = 1.0, margin_px: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pinhole projection of points already in the camera optical frame.

    Args:
        points_cam: ``(N, 3)`` metres, camera frame (z forward).
        K: ``(3, 3)`` intrinsics, pixels.
        size_wh: image width and height, pixels.
        min_depth: points with depth ``<= min_depth`` metres are outside.
        margin_px: a point is inside when ``margin < u < W - margin`` and ``margin < v < H - margin``
            (strict, as nuscenes-devkit with margin 1; with 0, ``0 <= u < W``).

    Returns:
        ``uv`` ``(N, 2) float64`` pixel coordinates (column, row) of *all* points (garbage where
        depth <= 0), ``depth`` ``(N,) float64`` metres, ``mask`` ``(N,) bool`` inside the image.
    """
    p = np.asarray(points_cam, dtype=np.float64)
    depth = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        hom = p @ np.asarray(K, dtype=np.float64).T
        uv = hom[:, :2] / hom[:, 2:3]
    W, H = size_wh
    if margin_px > 0:
        inside = (uv[:, 0] > margin_px) & (uv[:, 0] < W - margin_px) & (uv[:, 1] > margin_px) & (uv[:, 1] < H - margin_px)
    else:
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
    mask = (depth > min_depth) & inside & np.isfinite(uv).all(axis=1)
    return uv, depth, mask


def project_lidar_to_camera(
    sweep: LidarSweep, camera: CameraImage, min_depth: float = 1.0, margin_px: float = 0.0,
    T_cam_from_lidar: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project a LiDAR sweep into a camera image.

    Returns ``uv`` ``(N, 2) float64`` pixels, ``depth`` ``(N,) float64`` metres along the camera's
    optical axis, and ``mask`` ``(N,) bool``: in front of the camera (depth > ``min_depth``) and
    inside the image (see :func:`project_to_image`). Arrays are aligned with ``sweep.points``.
    """
    T = T_camera_from_lidar(sweep, camera) if T_cam_from_lidar is None else T_cam_from_lidar
    p_cam = transform_points(T, sweep.xyz)
    return project_to_image(p_cam, camera.K, camera.size_wh, min_depth=min_depth, margin_px=margin_px)
