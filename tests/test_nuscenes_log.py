"""nuScenes-format datasets: the table writer round trip (synthetic drive) and every kind of bad input."""
from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np
import pytest

from multimodal import sensors
from multimodal.sensors.errors import BadRecordError, LogFormatError, MissingFileError
from multimodal.sensors.nuscenes_log import NuScenesLog
from multimodal.sensors.nuscenes_tables import write_frames_as_nuscenes
from multimodal.sensors.synthetic import NUSCENES_CATEGORIES

from .conftest import require_data
from .nuscenes_fixtures import VERSION, demo_drive, write_dataset


@pytest.fixture(scope="module")
def drive():
    return demo_drive()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, drive):
    return write_dataset(tmp_path_factory.mktemp("nusc"), drive)


@pytest.fixture
def fresh(tmp_path, dataset):
    """A private copy of the dataset that a test may damage."""
    out = tmp_path / "copy"
    shutil.copytree(dataset, out)
    return out


def test_written_dataset_loads_in_devkit_with_lidarseg(dataset, drive):
    from nuscenes.nuscenes import NuScenes

    nusc = NuScenes(version=VERSION, dataroot=str(dataset), verbose=False)
    assert len(nusc.sample) == 2 and len(nusc.scene) == 1
    sd = nusc.get("sample_data", nusc.sample[0]["data"]["LIDAR_TOP"])
    labels = np.fromfile(os.path.join(str(dataset), nusc.get("lidarseg", sd["token"])["filename"]), dtype=np.uint8)
    np.testing.assert_array_equal(labels, drive[0].lidars["LIDAR_TOP"].labels)
    # prev/next chains link keyframes and sweeps of a channel in time order.
    chain, tok = [], nusc.scene[0]["first_sample_token"]
    tok = nusc.get("sample", tok)["data"]["LIDAR_TOP"]
    while tok:
        chain.append(nusc.get("sample_data", tok)["timestamp"])
        tok = nusc.get("sample_data", tok)["next"]
    assert chain == [f.timestamp_us for f in drive]


def test_keyframes_and_sweeps_read_back(dataset, drive):
    keys = NuScenesLog(dataset, VERSION)
    assert len(keys) == 2 and [f.timestamp_us for f in keys] == [drive[0].timestamp_us, drive[2].timestamp_us]
    sweeps = sensors.open_log(dataset, version=VERSION, sweeps=True)
    assert len(sweeps) == 4
    for i, frame in enumerate(sweeps):
        src = drive[i].lidars["LIDAR_TOP"]
        got = frame.lidars["LIDAR_TOP"]
        np.testing.assert_array_equal(got.points, src.points)  # 5 float32 columns, lossless
        np.testing.assert_allclose(got.T_ego_from_sensor, src.T_ego_from_sensor, atol=1e-12)
        np.testing.assert_allclose(got.T_world_from_ego, src.T_world_from_ego, atol=1e-9)
        if i % 2 == 0:
            np.testing.assert_array_equal(got.labels, src.labels)
        else:
            assert got.labels is None  # lidarseg labels exist for keyframes only, as in nuScenes
        for name, cam in frame.cameras.items():
            ref = next(c for f in drive for n, c in f.cameras.items() if n == name and c.timestamp_us == cam.timestamp_us)
            np.testing.assert_allclose(cam.K, ref.K)
            np.testing.assert_allclose(cam.T_world_from_ego, ref.T_world_from_ego, atol=1e-9)
            assert np.abs(cam.image.astype(int) - ref.image).mean() < 3.0  # JPEG, quality 95


def test_same_input_gives_identical_tables(tmp_path, drive):
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        write_frames_as_nuscenes(drive[:2], root, VERSION, class_names=NUSCENES_CATEGORIES)
    for name in sorted(os.listdir(a / VERSION)):
        assert (a / VERSION / name).read_bytes() == (b / VERSION / name).read_bytes(), name


def test_version_detection_and_errors(tmp_path, dataset):
    assert sensors.detect_format(dataset) == "nuscenes"
    with pytest.raises(LogFormatError, match="v9.9"):
        NuScenesLog(dataset, "v9.9")
    with pytest.raises(LogFormatError, match=r"nuScenes \*version\* folder"):
        sensors.open_log(dataset / VERSION)
    with pytest.raises(MissingFileError, match="does not exist"):
        sensors.open_log(tmp_path / "nothing_here")
    with pytest.raises(LogFormatError, match="CAM_NOPE"):
        NuScenesLog(dataset, cameras=["CAM_NOPE"])


def _lidar_file(root):
    return sorted((root / "samples" / "LIDAR_TOP").iterdir())[0]


def test_pcd_bin_size_not_a_multiple_of_the_point_size(fresh):
    path = _lidar_file(fresh)
    path.write_bytes(path.read_bytes()[:-3])
    log = NuScenesLog(fresh, strict=True)
    with pytest.raises(BadRecordError, match=rf"{path.name}.*not a multiple of the point size 20 bytes"):
        log[0]
    lenient = NuScenesLog(fresh)
    frame = lenient[0]
    assert "LIDAR_TOP" not in frame.lidars and "CAM_FRONT" in frame.cameras
    assert lenient.issues.counts["bad_message"] == 1


def test_nonfinite_points_are_dropped_with_their_labels(fresh, drive):
    path = _lidar_file(fresh)
    pts = np.fromfile(path, dtype=np.float32).reshape(-1, 5)
    pts[[0, 5, 9], 1] = np.nan
    pts[20, 0] = -np.inf
    pts.tofile(path)
    log = NuScenesLog(fresh, strict=True)
    sweep = log[0].lidars["LIDAR_TOP"]
    keep = np.ones(len(pts), bool)
    keep[[0, 5, 9, 20]] = False
    assert len(sweep) == keep.sum() and np.isfinite(sweep.points).all()
    np.testing.assert_array_equal(sweep.labels, drive[0].lidars["LIDAR_TOP"].labels[keep])
    assert log.issues.counts["nonfinite_points"] == 4


def test_empty_sweep(fresh):
    path = _lidar_file(fresh)
    path.write_bytes(b"")
    seg = fresh / "lidarseg" / VERSION
    for f in seg.iterdir():  # keep labels consistent so the empty sweep itself is what fails
        f.write_bytes(b"")
    with pytest.raises(BadRecordError, match=rf"{path.name}.*empty sweep"):
        NuScenesLog(fresh, strict=True)[0]


def test_corrupt_jpeg(fresh):
    path = sorted((fresh / "samples" / "CAM_FRONT").iterdir())[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(BadRecordError, match=rf"{path.name}.*cannot decode image"):
        NuScenesLog(fresh, strict=True)[0]
    lenient = NuScenesLog(fresh)
    frame = lenient[0]
    assert "CAM_FRONT" not in frame.cameras and "CAM_BACK" in frame.cameras and "LIDAR_TOP" in frame.lidars


def test_table_file_name_escaping_the_data_root(fresh):
    table = fresh / VERSION / "sample_data.json"
    rows = json.loads(table.read_text())
    rows[0]["filename"] = "../../../etc/passwd"
    table.write_text(json.dumps(rows))
    log = NuScenesLog(fresh, strict=True)
    with pytest.raises(BadRecordError, match=r"sample_data.json field 'filename'.*escapes the data root"):
        log[0]


def test_missing_file_referenced_by_a_table(caplog):
    """The real Lyft table fixture names sensor files that are not shipped with it."""
    root = require_data("lyft_level5_tables_mmdet3d", "v1.01-train")
    before = sorted(p for p in root.rglob("*"))
    log = sensors.open_log(root)
    assert log.version == "v1.01-train" and len(log) == 1
    assert {"LIDAR_TOP", "CAM_FRONT", "CAM_FRONT_ZOOMED"} <= set(log.sensors)
    with pytest.raises(MissingFileError, match=r"host-a101_lidar1_1240710385903083166\.bin.*referenced by sample_data"):
        NuScenesLog(root, strict=True)[0]
    with caplog.at_level(logging.WARNING, logger="sensors"):
        frame = log[0]
    assert frame.sensors == [] and log.issues.counts["bad_message"] == 8
    assert "does not exist" in caplog.text
    assert sorted(p for p in root.rglob("*")) == before  # nothing written into the data folder


def test_nothing_is_written_into_the_real_data_folder(nuscenes_sample_root):
    src = require_data("nuscenes_mmdet3d_demo")
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    log = sensors.open_log(nuscenes_sample_root)
    list(log)
    sensors.open_log(require_data("nuscenes_demo_ros2_bag_derived", "n015_scene0061_sample0"))[0]
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*")} == before
