"""PointContrast views from a real reader over a written synthetic drive: registration, matches, collation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from multimodal.data.correspondences import match_points
from multimodal.data.log_source import LogSource
from multimodal.data.point_pairs import PointPairDataset, collate_point_pairs
from multimodal.sensors.geometry import invert, transform_points
from multimodal.sensors.nuscenes_tables import write_frames_as_nuscenes
from multimodal.sensors.synthetic import NUSCENES_CATEGORIES, make_demo_drive


@pytest.fixture(scope="module")
def drive_root(tmp_path_factory):
    frames = make_demo_drive(n_frames=14, seed=2, image_wh=(64, 36), lidar_azimuth_steps=512)
    root = tmp_path_factory.mktemp("drive")
    write_frames_as_nuscenes(frames, root, "v1.0-drive", class_names=NUSCENES_CATEGORIES)
    return root


def test_mutual_nearest_matches():
    a = np.array([[0, 0, 0], [1, 0, 0], [5, 5, 5]], float)
    b = np.array([[0.05, 0, 0], [1.02, 0, 0], [1.04, 0, 0], [9, 9, 9]], float)
    m = match_points(a, b, radius_m=0.1)
    assert m.tolist() == [[0, 0], [1, 1]]  # b2 is farther from a1 than b1; a2 and b3 have no partner


def test_two_sweeps_are_registered_and_matched(drive_root):
    src = LogSource(drive_root)
    ds = PointPairDataset(src, mode="two_sweeps", augment=False, match_radius_m=0.15, max_points=None)
    times = src.log.frame_timestamps_us()
    assert len(ds) > 0
    item = ds[0]
    gap = times[item["frame_b"]] - times[item["frame_a"]]
    assert 500_000 <= gap <= 2_000_000
    fa, fb = src.log[item["frame_a"]], src.log[item["frame_b"]]
    sa, sb = fa.lidars["LIDAR_TOP"], fb.lidars["LIDAR_TOP"]
    T = invert(sa.T_world_from_ego @ sa.T_ego_from_sensor) @ (sb.T_world_from_ego @ sb.T_ego_from_sensor)
    m = item["matches"]
    d = np.linalg.norm(item["points_a"][m[:, 0], :3] - transform_points(T, item["points_b"][m[:, 1], :3]), axis=1)
    assert (d <= 0.15 + 1e-6).all()
    # The ego moved metres between the sweeps, yet a large share of the scene is matched.
    assert np.linalg.norm(T[:3, 3]) > 2.0
    assert len(m) > 0.1 * min(len(item["points_a"]), len(item["points_b"]))
    # Matched points share their ground-truth class (labels travel with the reader's frames).
    la, lb = sa.labels, sb.labels
    assert (la[m[:, 0]] == lb[m[:, 1]]).mean() > 0.95


def test_same_sweep_views_are_augmented_and_deterministic(drive_root):
    ds = PointPairDataset(LogSource(drive_root), mode="same_sweep", max_points=3000, seed=7)
    a, b = ds[3], ds[3]
    np.testing.assert_array_equal(a["points_a"], b["points_a"])  # same seed, same sample
    assert not np.allclose(a["points_a"][:, :3].mean(0), a["points_b"][:, :3].mean(0), atol=0.05)
    assert len(a["matches"]) > 500


def test_collate_offsets_matches(drive_root):
    ds = PointPairDataset(LogSource(drive_root), mode="same_sweep", max_points=1000)
    items = [ds[0], ds[1]]
    batch = collate_point_pairs(items)
    n0a, n0b = len(items[0]["points_a"]), len(items[0]["points_b"])
    assert batch["points_a"].shape == (n0a + len(items[1]["points_a"]), 4)
    assert batch["batch_a"][n0a].item() == 1
    m1 = torch.from_numpy(items[1]["matches"][0])
    row = len(items[0]["matches"])
    assert batch["matches"][row].tolist() == [m1[0].item() + n0a, m1[1].item() + n0b]


def test_too_short_log_for_two_sweeps_is_a_clear_error(tmp_path):
    frames = make_demo_drive(n_frames=3, seed=2, image_wh=(32, 18), lidar_azimuth_steps=128)
    write_frames_as_nuscenes(frames, tmp_path, "v1.0-x", class_names=NUSCENES_CATEGORIES)
    with pytest.raises(ValueError, match="no two sweeps are 0.5-2.0 s apart"):
        PointPairDataset(LogSource(tmp_path), mode="two_sweeps")
