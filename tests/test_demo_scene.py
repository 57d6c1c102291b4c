"""The synthetic demo drive: determinism, sensor layout, ray casting and LiDAR/camera consistency."""
from __future__ import annotations

import copy
import time

import numpy as np
import pytest

from sensors.frame import Frame
from sensors.geometry import invert, project_lidar_to_camera
from sensors.synthetic import (
    CAMERA_NAMES,
    CLASS_NAMES,
    GROUND,
    NO_HIT,
    T_EGO_FROM_LIDAR,
    Scene,
    cast_rays,
    demo_scene,
    demo_trajectory,
    make_demo_drive,
    make_scene,
    render_camera,
    scan_lidar,
)

SEED = 0
N_FRAMES = 8
START_US = 1_700_000_000_000_000
SKY = CLASS_NAMES.index("sky")


@pytest.fixture(scope="module")
def drive() -> list[Frame]:
    return make_demo_drive(N_FRAMES, seed=SEED)


@pytest.fixture(scope="module")
def scene() -> Scene:
    return demo_scene(N_FRAMES, seed=SEED)


def _camera_pose(cam) -> np.ndarray:
    return cam.T_world_from_ego @ cam.T_ego_from_sensor


def _small_drive(seed: int) -> list[Frame]:
    return make_demo_drive(2, seed=seed, image_wh=(64, 36), lidar_beams=16, lidar_azimuth_steps=256)


# --- determinism -------------------------------------------------------------------------------------------

def test_same_seed_gives_identical_arrays():
    a, b = _small_drive(3), _small_drive(3)
    assert len(a) == len(b) == 2
    for fa, fb in zip(a, b):
        assert fa.timestamp_us == fb.timestamp_us
        np.testing.assert_array_equal(fa.T_world_from_ego, fb.T_world_from_ego)
        sa, sb = fa.lidars["LIDAR_TOP"], fb.lidars["LIDAR_TOP"]
        np.testing.assert_array_equal(sa.points, sb.points)
        np.testing.assert_array_equal(sa.labels, sb.labels)
        assert list(fa.cameras) == list(fb.cameras) == list(CAMERA_NAMES)
        for name in CAMERA_NAMES:
            np.testing.assert_array_equal(fa.cameras[name].image, fb.cameras[name].image)
            np.testing.assert_array_equal(fa.cameras[name].T_world_from_ego, fb.cameras[name].T_world_from_ego)


def test_different_seed_gives_different_scene_and_data():
    s3, s4 = make_scene(3), make_scene(4)
    assert len(s3) != len(s4) or not np.allclose(s3.centers, s4.centers)
    a, b = _small_drive(3), _small_drive(4)
    pa, pb = a[0].lidars["LIDAR_TOP"].points, b[0].lidars["LIDAR_TOP"].points
    assert pa.shape != pb.shape or not np.array_equal(pa, pb)
    assert not np.array_equal(a[0].cameras["CAM_FRONT"].image, b[0].cameras["CAM_FRONT"].image)


def test_camera_subset_and_unknown_camera():
    frames = make_demo_drive(1, seed=2, image_wh=(32, 18), lidar_beams=8, lidar_azimuth_steps=64,
                             cameras=("CAM_BACK",))
    assert list(frames[0].cameras) == ["CAM_BACK"] and frames[0].cameras["CAM_BACK"].image.shape == (18, 32, 3)
    with pytest.raises(ValueError, match="CAM_TOP"):
        make_demo_drive(1, cameras=("CAM_TOP",))


def test_longer_street_only_appends_objects():
    short, long_ = make_scene(5, x_range=(-60.0, 100.0)), make_scene(5, x_range=(-60.0, 200.0))
    assert len(long_) > len(short)
    inner = short.centers[:, 0] < 80.0  # away from the end cap and the last, range-cut objects
    for c in short.centers[inner]:
        assert np.min(np.linalg.norm(long_.centers - c, axis=1)) < 1e-9


# --- LiDAR -------------------------------------------------------------------------------------------------

def test_sweeps_have_realistic_size_classes_and_format(drive):
    for frame in drive:
        sweep = frame.lidars["LIDAR_TOP"]
        assert sweep.points.dtype == np.float32 and sweep.points.ndim == 2
        assert sweep.points.shape[1] == len(sweep.fields) >= 4
        assert sweep.fields[:4] == ("x", "y", "z", "intensity")
        assert 25_000 <= len(sweep) <= 35_000
        assert np.isfinite(sweep.points).all()
        assert sweep.labels.dtype == np.uint8 and sweep.labels.shape == (len(sweep),)
        r = np.linalg.norm(sweep.xyz, axis=1)
        assert r.max() < 70.2 and r.min() > 0.9
        assert sweep.points[:, 3].min() >= 0 and sweep.points[:, 3].max() <= 255
        ring = sweep.points[:, 4]
        assert set(np.unique(ring).astype(int)) <= set(range(32)) and np.unique(ring).size >= 30
    labels = drive[0].lidars["LIDAR_TOP"].labels
    present = {CLASS_NAMES[c] for c in np.unique(labels)}
    assert len(present) >= 5, present
    assert {"road", "sidewalk", "building", "car"} <= present
    assert "sky" not in present and "noise" not in present


def test_lidar_mount_and_geometry(drive):
    T = T_EGO_FROM_LIDAR
    assert abs(T[2, 3] - 1.84) < 0.05
    np.testing.assert_allclose(T[:3, 0], [0, -1, 0], atol=0.05)  # lidar x -> ego right (nuScenes)
    np.testing.assert_allclose(T[:3, 1], [1, 0, 0], atol=0.05)  # lidar y -> ego forward
    sweep = drive[0].lidars["LIDAR_TOP"]
    # Road points lie on the ground plane z = 0 of the world, up to noise and the mount tilt.
    p_world = (sweep.T_world_from_ego @ sweep.T_ego_from_sensor @ np.c_[sweep.xyz, np.ones(len(sweep))].T).T
    road = sweep.labels == CLASS_NAMES.index("road")
    assert np.abs(p_world[road, 2]).max() < 0.1
    # Road points lie within the road half width; darker asphalt reads lower intensity than the sidewalk.
    assert np.abs(p_world[road, 1]).max() < 4.1
    side = sweep.labels == CLASS_NAMES.index("sidewalk")
    assert np.median(sweep.points[road, 3]) < np.median(sweep.points[side, 3])


def test_range_noise_is_centimetre_scale(scene):
    traj = demo_trajectory(SEED)
    T = traj.pose(START_US) @ T_EGO_FROM_LIDAR
    clean, lab_clean = scan_lidar(scene, T)
    noisy, lab_noisy = scan_lidar(scene, T, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(lab_clean, lab_noisy)
    dr = np.linalg.norm(noisy[:, :3], axis=1) - np.linalg.norm(clean[:, :3], axis=1)
    assert 0.01 < dr.std() < 0.03 and abs(dr.mean()) < 0.002


# --- ray casting -------------------------------------------------------------------------------------------

def _one_box_scene(yaw: float) -> Scene:
    return Scene(
        centers=np.array([[0.0, 0.0, 1.0]]), half_sizes=np.array([[1.0, 1.0, 1.0]]), yaws=np.array([yaw]),
        class_ids=np.array([4], dtype=np.uint8), albedos=np.full((1, 3), 0.5), textured=np.zeros(1, bool),
        instance_ids=np.zeros(1, np.int32),
    )


def test_raycast_box_ground_and_miss():
    origins = np.array([[-10.0, 0.0, 1.0], [-10.0, 0.0, 1.0], [-10.0, 0.0, 1.0], [0.0, 0.0, 5.0]])
    d = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    hits = cast_rays(_one_box_scene(0.0), origins, d)
    np.testing.assert_allclose(hits.distance[0], 9.0)
    np.testing.assert_allclose(hits.normal[0], [-1, 0, 0])
    assert hits.object_index[0] == 0 and hits.class_id[0] == 4
    assert np.isinf(hits.distance[1]) and hits.object_index[1] == NO_HIT and hits.class_id[1] == 0
    assert np.isinf(hits.distance[2])
    np.testing.assert_allclose(hits.distance[3], 3.0)  # box top at z = 2
    np.testing.assert_allclose(hits.normal[3], [0, 0, 1])
    down = cast_rays(_one_box_scene(0.0), np.array([5.0, 5.0, 2.0]), np.array([[0.0, 0.6, -0.8]]))
    np.testing.assert_allclose(down.distance, [2.5])
    assert down.object_index[0] == GROUND and CLASS_NAMES[down.class_id[0]] == "sidewalk"  # y = 6.5


def test_raycast_yawed_box():
    hits = cast_rays(_one_box_scene(np.pi / 4), np.array([-10.0, 0.0, 1.0]), np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(hits.distance, [10.0 - np.sqrt(2.0)])
    n = hits.normal[0]
    assert abs(np.linalg.norm(n) - 1) < 1e-12 and n[0] < -0.7 and abs(n[2]) < 1e-12


def test_raycast_shared_and_per_ray_origins_agree(scene):
    """The two culling paths (cone for a shared origin, sphere per ray) must give the same hits."""
    rng = np.random.default_rng(1)
    d = rng.normal(size=(20_000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = np.array([3.0, 0.5, 1.6])
    shared = cast_rays(scene, o, d)
    per_ray = cast_rays(scene, np.tile(o, (len(d), 1)), d)
    np.testing.assert_array_equal(shared.object_index, per_ray.object_index)
    np.testing.assert_allclose(shared.distance, per_ray.distance)
    np.testing.assert_array_equal(shared.class_id, per_ray.class_id)
    hit_box = shared.object_index >= 0
    assert hit_box.mean() > 0.3 and len(np.unique(shared.object_index[hit_box])) > 20


def test_lidar_scan_is_fast(scene):
    T = demo_trajectory(SEED).pose(START_US) @ T_EGO_FROM_LIDAR
    t0 = time.perf_counter()
    points, _ = scan_lidar(scene, T, beams=32, azimuth_steps=1024)
    assert time.perf_counter() - t0 < 1.0
    assert len(scene) >= 50 and len(points) > 25_000


# --- cameras and poses -------------------------------------------------------------------------------------

def test_camera_layout_timestamps_and_intrinsics(drive):
    traj = demo_trajectory(SEED, START_US)
    expected_yaw = dict(zip(CAMERA_NAMES, (0, -55, -110, 180, 110, 55)))
    for i, frame in enumerate(drive):
        assert frame.timestamp_us == START_US + i * 50_000
        assert frame.lidars["LIDAR_TOP"].timestamp_us == frame.timestamp_us
        np.testing.assert_array_equal(frame.lidars["LIDAR_TOP"].T_world_from_ego, frame.T_world_from_ego)
        offsets = set()
        for name, cam in frame.cameras.items():
            assert cam.image.shape == (180, 320, 3) and cam.image.dtype == np.uint8
            assert cam.image.std() > 10
            dt = frame.timestamp_us - cam.timestamp_us
            assert 1_000 <= dt <= 50_000
            offsets.add(dt)
            np.testing.assert_allclose(cam.T_world_from_ego, traj.pose(cam.timestamp_us))
            assert not np.allclose(cam.T_world_from_ego, frame.T_world_from_ego)
            hfov = 2 * np.degrees(np.arctan(160 / cam.K[0, 0]))
            assert 65 < hfov < 75 and cam.K[0, 2] == 160 and cam.K[1, 2] == 90
            R = cam.T_ego_from_sensor[:3, :3]
            np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
            z = R[:, 2]  # optical axis in the ego frame
            yaw = np.degrees(np.arctan2(z[1], z[0]))
            assert abs((yaw - expected_yaw[name] + 180) % 360 - 180) < 1e-6 and abs(z[2]) < 1e-9
            np.testing.assert_allclose(R[:, 1], [0, 0, -1], atol=1e-12)  # image y down
            assert 1.4 < cam.T_ego_from_sensor[2, 3] < 1.6
        assert len(offsets) == len(CAMERA_NAMES)


def test_ego_moves_consistently_with_speed(drive):
    speed = demo_trajectory(SEED).speed
    assert 5.0 <= speed <= 10.0
    pos = np.array([f.T_world_from_ego[:3, 3] for f in drive])
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    np.testing.assert_allclose(steps, speed * 0.05, rtol=0.02)
    yaws = np.array([np.arctan2(f.T_world_from_ego[1, 0], f.T_world_from_ego[0, 0]) for f in drive])
    assert np.abs(yaws).max() < 0.1 and np.abs(np.diff(yaws)).max() < 0.01
    # The heading follows the direction of travel.
    travel = np.arctan2(np.diff(pos[:, 1]), np.diff(pos[:, 0]))
    np.testing.assert_allclose(travel, (yaws[1:] + yaws[:-1]) / 2, atol=2e-3)
    # A camera firing 44 ms before the lidar sits about speed * 44 ms behind.
    cam = drive[3].cameras["CAM_FRONT_LEFT"]
    shift = np.linalg.norm(invert(cam.T_world_from_ego) @ drive[3].T_world_from_ego @ [0, 0, 0, 1] - [0, 0, 0, 1])
    np.testing.assert_allclose(shift, speed * (drive[3].timestamp_us - cam.timestamp_us) * 1e-6, rtol=0.02)


def test_render_ground_truth_is_consistent(drive, scene):
    cam = drive[0].cameras["CAM_BACK"]
    rgb, cls, depth = render_camera(scene, _camera_pose(cam), cam.K, cam.size_wh)
    np.testing.assert_array_equal(rgb, cam.image)
    assert cls.shape == depth.shape == (180, 320) and depth.dtype == np.float32 and cls.dtype == np.uint8
    np.testing.assert_array_equal(cls == SKY, np.isinf(depth))
    assert (depth[np.isfinite(depth)] > 0).all()
    assert len(np.unique(cls)) >= 5
    # Upper image rows see sky or buildings, the bottom row sees the ground right behind the car.
    assert set(np.unique(cls[-1])) <= {CLASS_NAMES.index("road"), CLASS_NAMES.index("sidewalk"),
                                      CLASS_NAMES.index("car")}


# --- the key check: LiDAR labels agree with camera ground truth --------------------------------------------

def _agreement(sweep, cam, cls, depth, tol=0.3):
    """(points the camera sees unoccluded, of which on a pixel of their class, of which within 5 cm)."""
    uv, d, inside = project_lidar_to_camera(sweep, cam)
    px = np.floor(uv[inside]).astype(int)
    residual = np.abs(d[inside] - depth[px[:, 1], px[:, 0]])
    visible = residual < tol
    same = sweep.labels[inside][visible] == cls[px[visible, 1], px[visible, 0]]
    return int(visible.sum()), int(same.sum()), int((residual < 0.05).sum())


@pytest.mark.parametrize("frame_index", [0, N_FRAMES - 1])
def test_lidar_labels_match_camera_ground_truth(drive, scene, frame_index):
    frame = drive[frame_index]
    sweep = frame.lidars["LIDAR_TOP"]
    tight, tight_no_motion = 0, 0
    for name, cam in frame.cameras.items():
        _, cls, depth = render_camera(scene, _camera_pose(cam), cam.K, cam.size_wh)
        visible, same, close = _agreement(sweep, cam, cls, depth)
        assert visible > 1000, name  # the check is not vacuous
        assert same / visible >= 0.95, (name, same / visible)
        tight += close
        # Ignoring the ego motion between lidar and camera time misplaces points by up to ~0.3 m:
        # far fewer land within 5 cm of the camera's depth.
        still = copy.copy(cam)
        still.T_world_from_ego = None
        tight_no_motion += _agreement(sweep, still, cls, depth)[2]
    assert tight > 1.1 * tight_no_motion, (tight, tight_no_motion)
