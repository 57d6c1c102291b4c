"""The built-in demo drive (``make_demo_drive``) and the ray caster under it."""
from __future__ import annotations

import numpy as np
import pytest

from multimodal.sensors.frame import Frame
from multimodal.sensors.geometry import transform_points
from multimodal.sensors.synthetic import (
    CAMERA_NAMES,
    CLASS_NAMES,
    T_EGO_FROM_LIDAR,
    WorldCaster,
    make_demo_drive,
    make_world,
)
from multimodal.sensors.synthetic.drive import DEFAULT_START_US

SEED = 0
N_FRAMES = 4


@pytest.fixture(scope="module")
def drive() -> list[Frame]:
    return make_demo_drive(N_FRAMES, seed=SEED)


def _small_drive(seed: int) -> list[Frame]:
    return make_demo_drive(2, seed=seed, image_wh=(64, 36), lidar_beams=16, lidar_azimuth_steps=256)


def test_same_seed_gives_identical_arrays_and_another_seed_does_not():
    a, b, c = _small_drive(3), _small_drive(3), _small_drive(4)
    for fa, fb in zip(a, b):
        assert fa.timestamp_us == fb.timestamp_us
        np.testing.assert_array_equal(fa.T_world_from_ego, fb.T_world_from_ego)
        np.testing.assert_array_equal(fa.lidars["LIDAR_TOP"].points, fb.lidars["LIDAR_TOP"].points)
        np.testing.assert_array_equal(fa.lidars["LIDAR_TOP"].labels, fb.lidars["LIDAR_TOP"].labels)
        for name in CAMERA_NAMES:
            np.testing.assert_array_equal(fa.cameras[name].image, fb.cameras[name].image)
    pa, pc = a[0].lidars["LIDAR_TOP"].points, c[0].lidars["LIDAR_TOP"].points
    assert pa.shape != pc.shape or not np.array_equal(pa, pc)
    assert not np.array_equal(a[0].cameras["CAM_FRONT"].image, c[0].cameras["CAM_FRONT"].image)


def test_camera_subset_and_unknown_camera():
    frames = make_demo_drive(1, seed=2, image_wh=(32, 18), lidar_beams=8, lidar_azimuth_steps=64,
                             cameras=("CAM_BACK",))
    assert list(frames[0].cameras) == ["CAM_BACK"] and frames[0].cameras["CAM_BACK"].image.shape == (18, 32, 3)
    with pytest.raises(ValueError, match="CAM_TOP"):
        make_demo_drive(1, cameras=("CAM_TOP",))
    assert make_demo_drive(0) == []


def test_every_frame_has_a_labelled_sweep_and_all_cameras(drive):
    for i, frame in enumerate(drive):
        assert frame.timestamp_us == DEFAULT_START_US + 25_000 + 50_000 * i
        sweep = frame.lidars["LIDAR_TOP"]
        assert sweep.timestamp_us == frame.timestamp_us
        assert sweep.fields == ("x", "y", "z", "intensity", "ring") and sweep.points.dtype == np.float32
        assert 25_000 <= len(sweep) <= 34_688 and np.isfinite(sweep.points).all()
        assert sweep.labels.dtype == np.uint8 and sweep.labels.shape == (len(sweep),)
        assert set(frame.cameras) == set(CAMERA_NAMES)
        stamps = {c.timestamp_us for c in frame.cameras.values()}
        assert len(stamps) == 6 and frame.timestamp_us not in stamps
        assert all(abs(t - frame.timestamp_us) < 25_000 for t in stamps)
        assert frame.boxes and {b["category"] for b in frame.boxes} <= {"car", "truck", "pedestrian", "cyclist"}
    present = {CLASS_NAMES[c] for c in np.unique(drive[0].lidars["LIDAR_TOP"].labels)}
    assert {"road", "sidewalk", "building", "car"} <= present and "sky" not in present


def test_lidar_mount_road_points_and_intensity(drive):
    T = T_EGO_FROM_LIDAR
    assert abs(T[2, 3] - 1.84) < 0.05
    np.testing.assert_allclose(T[:3, 0], [0, -1, 0], atol=0.05)  # lidar x -> ego right (nuScenes)
    np.testing.assert_allclose(T[:3, 1], [1, 0, 0], atol=0.05)  # lidar y -> ego forward
    sweep = drive[0].lidars["LIDAR_TOP"]
    p_ego = transform_points(sweep.T_ego_from_sensor, sweep.xyz)
    road = sweep.labels == CLASS_NAMES.index("road")
    near = road & (np.linalg.norm(p_ego[:, :2], axis=1) < 12)
    assert np.abs(p_ego[near, 2]).max() < 0.15  # the road is the ego's ground plane nearby
    side = sweep.labels == CLASS_NAMES.index("sidewalk")
    # Asphalt reflects less near-infrared than paving.
    assert np.median(sweep.points[road, 3]) < np.median(sweep.points[side, 3])


def test_camera_layout_and_intrinsics(drive):
    expected_yaw = dict(zip(CAMERA_NAMES, (0, -55, -110, 180, 110, 55)))
    for name, cam in drive[1].cameras.items():
        assert cam.image.shape == (180, 320, 3) and cam.image.std() > 10
        R = cam.T_ego_from_sensor[:3, :3]
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
        z = R[:, 2]  # optical axis in the ego frame
        yaw = np.degrees(np.arctan2(z[1], z[0]))
        assert abs((yaw - expected_yaw[name] + 180) % 360 - 180) < 1e-6 and abs(z[2]) < 1e-9
        np.testing.assert_allclose(R[:, 1], [0, 0, -1], atol=1e-12)  # image y down
        assert 1.4 < cam.T_ego_from_sensor[2, 3] < 1.6
        assert cam.K[0, 2] == 160 and cam.K[1, 2] == 90


def test_ego_moves_with_its_speed():
    world = make_world(SEED, duration_s=N_FRAMES * 0.05)
    frames = make_demo_drive(N_FRAMES, seed=SEED, image_wh=(32, 18), lidar_beams=8, lidar_azimuth_steps=64,
                             scene=world)
    pos = np.array([f.T_world_from_ego[:3, 3] for f in frames])
    t = world.ego.seconds([f.timestamp_us for f in frames])
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    np.testing.assert_allclose(steps, 0.05 * (world.ego.speed(t[1:]) + world.ego.speed(t[:-1])) / 2, rtol=0.02)


def test_caster_hits_ground_static_objects_and_moving_agents():
    world = make_world(1, duration_s=1.0)
    caster = WorldCaster(world)
    x = 20.0
    top = world.road.to_world(x, 0.0, world.road.road_z(x) + 10.0)
    down = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    hits = caster.cast(top, down, 0.0)
    assert abs(hits.distance[0] - 10.0) < 1e-3 and caster.class_id[hits.triangle[0]] == CLASS_NAMES.index("road")
    np.testing.assert_allclose(hits.normal[0], [0, 0, 1], atol=0.05)
    assert np.isinf(hits.distance[1]) and hits.triangle[1] == -1 and list(hits.index) == [0]
    # A moving car is hit where it is at that time, and the road where it was.
    a = int(np.flatnonzero(world.agents.class_id == CLASS_NAMES.index("car"))[0])
    _, p0 = world.agents.poses(0.0, world.road, world.ego)
    above = p0[a] + [0.0, 0.0, 10.0]
    now = caster.cast(above, down[:1], 0.0)
    later = caster.cast(above, down[:1], 0.8)
    assert caster.instance[now.triangle[0]] == world.agents.instance[a]
    assert caster.class_id[later.triangle[0]] != CLASS_NAMES.index("car") or \
        caster.instance[later.triangle[0]] != world.agents.instance[a]
