"""The real nuScenes keyframe, read through nuscenes-devkit, and the same keyframe from the ROS 2 bag."""
from __future__ import annotations

import numpy as np
import pytest

from multimodal import sensors
from multimodal.sensors.geometry import project_lidar_to_camera
from multimodal.sensors.nuscenes_log import NuScenesLog

CAMERAS = ["CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT", "CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT"]


def test_tables_load_in_devkit_and_reader(nuscenes_sample_root):
    from nuscenes.nuscenes import NuScenes

    nusc = NuScenes(version="v1.0-mini", dataroot=str(nuscenes_sample_root), verbose=False)
    assert len(nusc.sample) == 1
    sample = nusc.sample[0]
    assert sample["token"] == "ca9a282c9e77460f8360f564131a8af5"  # the real sample token survives
    assert set(sample["data"]) == {"LIDAR_TOP", *CAMERAS}

    log = sensors.open_log(nuscenes_sample_root)
    assert isinstance(log, NuScenesLog) and len(log) == 1
    frame = log[0]
    sweep = frame.lidars["LIDAR_TOP"]
    assert sweep.points.shape == (34688, 5) and sweep.points.dtype == np.float32
    assert sweep.fields == ("x", "y", "z", "intensity", "ring")
    assert set(frame.cameras) == set(CAMERAS)
    for cam in frame.cameras.values():
        assert cam.image.shape == (900, 1600, 3) and cam.image.dtype == np.uint8
        assert cam.K[2, 2] == 1.0 and cam.K[0, 0] > 500
    # Timestamps are the real ones (µs), cameras ~up to 45 ms before the lidar.
    assert frame.timestamp_us == 1532402927647951
    gaps = [frame.timestamp_us - c.timestamp_us for c in frame.cameras.values()]
    assert 0 <= min(gaps) and max(gaps) < 50_000
    assert log.sync.streams["CAM_FRONT"].max_gap_us == 1532402927647951 - 1532402927612460


def test_points_match_the_raw_file_and_devkit(nuscenes_sample_root):
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.data_classes import LidarPointCloud

    src = nuscenes_sample_root / "samples" / "LIDAR_TOP"
    raw = np.fromfile(next(src.iterdir()), dtype=np.float32).reshape(-1, 5)
    frame = sensors.open_log(nuscenes_sample_root)[0]
    np.testing.assert_array_equal(frame.lidars["LIDAR_TOP"].points, raw)
    nusc = NuScenes(version="v1.0-mini", dataroot=str(nuscenes_sample_root), verbose=False)
    pc = LidarPointCloud.from_file(nusc.get_sample_data_path(nusc.sample[0]["data"]["LIDAR_TOP"]))
    np.testing.assert_array_equal(frame.lidars["LIDAR_TOP"].points[:, :4], pc.points.T)


def _devkit_chain_float64(nusc, lidar_sd: str, cam_sd: str):
    """devkit's own map_pointcloud_to_image steps (PointCloud.rotate/translate, pyquaternion, view_points),
    on float64 points. map_pointcloud_to_image itself keeps the points in float32 while they are in
    world coordinates (~1 km from the origin here), which costs up to ~0.02 px."""
    from nuscenes.utils.data_classes import LidarPointCloud
    from nuscenes.utils.geometry_utils import view_points
    from pyquaternion import Quaternion

    lsd, csd = nusc.get("sample_data", lidar_sd), nusc.get("sample_data", cam_sd)
    pc = LidarPointCloud.from_file(nusc.get_sample_data_path(lidar_sd))
    pc.points = pc.points.astype(np.float64)
    cs = nusc.get("calibrated_sensor", lsd["calibrated_sensor_token"])
    pc.rotate(Quaternion(cs["rotation"]).rotation_matrix)
    pc.translate(np.array(cs["translation"]))
    ep = nusc.get("ego_pose", lsd["ego_pose_token"])
    pc.rotate(Quaternion(ep["rotation"]).rotation_matrix)
    pc.translate(np.array(ep["translation"]))
    ep = nusc.get("ego_pose", csd["ego_pose_token"])
    pc.translate(-np.array(ep["translation"]))
    pc.rotate(Quaternion(ep["rotation"]).rotation_matrix.T)
    cs = nusc.get("calibrated_sensor", csd["calibrated_sensor_token"])
    pc.translate(-np.array(cs["translation"]))
    pc.rotate(Quaternion(cs["rotation"]).rotation_matrix.T)
    return view_points(pc.points[:3], np.array(cs["camera_intrinsic"]), normalize=True)[:2].T


@pytest.mark.parametrize("camera", CAMERAS)
def test_projection_agrees_with_devkit(nuscenes_sample_root, camera):
    """Same points kept as NuScenesExplorer.map_pointcloud_to_image, and pixel coordinates within 1e-3 px
    of devkit's projection chain (within 0.05 px of map_pointcloud_to_image's float32 result)."""
    from nuscenes.nuscenes import NuScenes

    nusc = NuScenes(version="v1.0-mini", dataroot=str(nuscenes_sample_root), verbose=False)
    sample = nusc.sample[0]
    lidar_sd, cam_sd = sample["data"]["LIDAR_TOP"], sample["data"][camera]
    pts_dk, _, _ = nusc.explorer.map_pointcloud_to_image(lidar_sd, cam_sd, min_dist=1.0)
    frame = sensors.open_log(nuscenes_sample_root)[0]
    uv, depth, mask = project_lidar_to_camera(frame.lidars["LIDAR_TOP"], frame.cameras[camera],
                                              min_depth=1.0, margin_px=1.0)
    assert mask.sum() == pts_dk.shape[1] > 2000
    np.testing.assert_allclose(uv[mask], pts_dk[:2].T, atol=0.05, rtol=0)
    uv_dk64 = _devkit_chain_float64(nusc, lidar_sd, cam_sd)
    np.testing.assert_allclose(uv[mask], uv_dk64[mask], atol=1e-3, rtol=0)
    assert (depth[mask] > 1.0).all()


def test_bag_gives_the_same_frame_as_the_tables(nuscenes_sample_root, nuscenes_sample_bag):
    tables = sensors.open_log(nuscenes_sample_root)[0]
    bag_log = sensors.open_log(nuscenes_sample_bag)
    assert bag_log.format == "rosbag" and len(bag_log) == 1
    bag = bag_log[0]
    assert bag_log.issues.as_dict() == {}
    a, b = tables.lidars["LIDAR_TOP"], bag.lidars["LIDAR_TOP"]
    assert a.timestamp_us == b.timestamp_us
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_allclose(a.T_ego_from_sensor, b.T_ego_from_sensor, atol=5e-6)  # both from float32 matrices
    np.testing.assert_allclose(a.T_world_from_ego, b.T_world_from_ego, atol=1e-4)  # float32 source values
    assert set(bag.cameras) == set(tables.cameras)
    for name, cam in tables.cameras.items():
        other = bag.cameras[name]
        assert cam.timestamp_us == other.timestamp_us
        np.testing.assert_array_equal(cam.image, other.image)  # same JPEG bytes, same decoder
        np.testing.assert_allclose(cam.K, other.K, rtol=1e-6)
        np.testing.assert_allclose(cam.T_ego_from_sensor, other.T_ego_from_sensor, atol=5e-6)


def test_sweeps_mode_matches_cameras_by_time(nuscenes_sample_root):
    log = NuScenesLog(nuscenes_sample_root, sweeps=True, tolerance_us=40_000)
    assert len(log) == 1
    frame = log[0]
    # Only cameras within 40 ms of the lidar are paired; the others are reported, not paired.
    near = {c for c, cam in frame.cameras.items() if abs(cam.timestamp_us - frame.timestamp_us) <= 40_000}
    assert set(frame.cameras) == near and 0 < len(near) < 6
    missing = {c for c, s in log.sync.streams.items() if s.missing}
    assert missing == set(CAMERAS) - near
    assert all(log.issues.counts[f"unmatched:{c}"] == 1 for c in missing)
