"""Geometry (SE(3), interpolation, ego motion, projection), timestamp matching and the tf tree."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from multimodal.sensors.frame import CameraImage, LidarSweep
from multimodal.sensors.geometry import (
    ego_motion,
    interpolate_transform,
    invert,
    make_transform,
    matrix_to_quat_wxyz,
    project_lidar_to_camera,
    quat_wxyz_to_matrix,
    transform_points,
)
from multimodal.sensors.sync import match_nearest, summarize_match
from multimodal.sensors.tf_tree import TransformLookupError, TransformTree


def _random_T(rng):
    return make_transform(Rotation.random(random_state=rng.integers(1 << 30)).as_matrix(), rng.normal(size=3) * 10)


def test_invert_and_quaternions(rng):
    for _ in range(5):
        T = _random_T(rng)
        np.testing.assert_allclose(invert(T) @ T, np.eye(4), atol=1e-12)
        q = matrix_to_quat_wxyz(T[:3, :3])
        assert q[0] >= 0 and np.linalg.norm(q) == pytest.approx(1.0)
        np.testing.assert_allclose(quat_wxyz_to_matrix(q), T[:3, :3], atol=1e-12)
    # nuScenes order (w, x, y, z): 90 degrees about z maps x to y.
    R = quat_wxyz_to_matrix((np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)))
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_interpolation_is_geodesic():
    T0 = make_transform(np.eye(3), [0, 0, 0])
    T1 = make_transform(Rotation.from_euler("z", 1.0).as_matrix(), [4, 2, 0])
    mid = interpolate_transform(T0, T1, 0.25)
    assert Rotation.from_matrix(mid[:3, :3]).as_euler("xyz")[2] == pytest.approx(0.25)
    np.testing.assert_allclose(mid[:3, 3], [1, 0.5, 0])
    np.testing.assert_array_equal(interpolate_transform(T0, T1, 0.0), T0)


def test_ego_motion_registers_static_points(rng):
    world = rng.uniform(-20, 20, size=(100, 3))
    A, B = _random_T(rng), _random_T(rng)
    p_a = transform_points(invert(A), world)
    p_b = transform_points(invert(B), world)
    np.testing.assert_allclose(transform_points(ego_motion(A, B), p_a), p_b, atol=1e-9)


def test_projection_with_known_camera():
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    # Camera optical frame from ego: optical z = ego x (forward), optical x = -ego y, optical y = -ego z.
    R = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    cam = CameraImage(image=np.zeros((80, 100, 3), np.uint8), K=K, T_ego_from_sensor=make_transform(R, [0, 0, 0]),
                      timestamp_us=0)
    pts = np.array([[10, 0, 0, 0], [10, 1, 0, 0], [10, 0, 1, 0], [-10, 0, 0, 0], [0.5, 0, 0, 0], [10, 10, 0, 0]],
                   np.float32)
    sweep = LidarSweep(points=pts, T_ego_from_sensor=np.eye(4), timestamp_us=0)
    uv, depth, mask = project_lidar_to_camera(sweep, cam)
    np.testing.assert_allclose(uv[:3], [[50, 40], [40, 40], [50, 30]])
    np.testing.assert_allclose(depth[:3], 10)
    assert mask.tolist() == [True, True, True, False, False, False]  # behind, too close, outside


def test_projection_compensates_ego_motion():
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    R = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    pose_lidar = make_transform(np.eye(3), [0, 0, 0])
    pose_cam = make_transform(np.eye(3), [0, 1.0, 0])  # the ego moved 1 m left before the camera fired
    cam = CameraImage(np.zeros((80, 100, 3), np.uint8), K, make_transform(R, [0, 0, 0]), 0, T_world_from_ego=pose_cam)
    sweep = LidarSweep(np.array([[10, 1, 0, 0]], np.float32), np.eye(4), 0, T_world_from_ego=pose_lidar)
    uv, _, _ = project_lidar_to_camera(sweep, cam)
    np.testing.assert_allclose(uv[0], [50, 40])  # straight ahead of the moved camera


def test_match_nearest_tolerance_and_uniqueness():
    ref = np.array([0, 50_000, 100_000, 150_000])
    cam = np.array([-4_000, 46_000, 54_000, 140_000, 400_000])
    m = match_nearest(ref, cam, tolerance_us=10_000)
    assert m.tolist() == [0, 1, -1, 3]  # 54_000 loses to 46_000 (closer to 50_000); 100_000 has nothing near
    s = summarize_match(ref, cam, m)
    assert (s.matched, s.missing, s.unused, s.max_gap_us) == (3, 1, 2, 10_000)
    # Not unique: one message may serve several references.
    assert match_nearest(np.array([0, 1, 2]), np.array([1]), 5, unique=False).tolist() == [0, 0, 0]
    assert match_nearest(np.array([0, 1, 2]), np.array([1]), 5).tolist() == [-1, 0, -1]
    # A conflict loser falls back to its other neighbour when that is within tolerance.
    assert match_nearest(np.array([10, 12]), np.array([11, 14]), 3).tolist() == [0, 1]


def test_match_nearest_random_against_brute_force(rng):
    for _ in range(20):
        ref = np.sort(rng.integers(0, 10_000, 30))
        oth = rng.integers(0, 10_000, 25)
        m = match_nearest(ref, oth, 200, unique=False)
        for r, j in zip(ref, m):
            best = np.abs(oth - r).min()
            assert (j == -1) == (best > 200)
            if j >= 0:
                assert abs(oth[j] - r) == best


def test_tf_tree_chains_inverts_and_refuses():
    tree = TransformTree()
    T_ego_lidar = make_transform(np.eye(3), [1, 0, 2])
    T_ego_cam = make_transform(Rotation.from_euler("z", 0.3).as_matrix(), [2, 0, 1.5])
    tree.add("base_link", "lidar", T_ego_lidar, static=True)
    tree.add("/base_link", "cam", T_ego_cam, static=True)
    tree.add("map", "base_link", make_transform(np.eye(3), [0, 0, 0]), stamp_us=0)
    tree.add("map", "base_link", make_transform(np.eye(3), [10, 0, 0]), stamp_us=1_000_000)
    np.testing.assert_allclose(tree.lookup("cam", "lidar"), invert(T_ego_cam) @ T_ego_lidar, atol=1e-12)
    np.testing.assert_allclose(tree.lookup("map", "lidar", 500_000)[:3, 3], [6, 0, 2], atol=1e-12)
    np.testing.assert_allclose(tree.lookup("lidar", "map", 500_000), invert(tree.lookup("map", "lidar", 500_000)))
    with pytest.raises(TransformLookupError, match="after the last transform"):
        tree.lookup("map", "base_link", 2_000_000, tolerance_us=100_000)
    with pytest.raises(TransformLookupError, match="'radar' is not in the transform tree"):
        tree.lookup("base_link", "radar")
    tree.add("odom2", "island", np.eye(4), static=True)
    with pytest.raises(TransformLookupError, match="no transform chain"):
        tree.lookup("island", "lidar")
