"""The ``sensors=`` option of every reader: unselected sensors are never read or decoded, frames carry only the
selected ones, the frames themselves (count, timestamps) do not change, and an unknown name is a clear error."""
from __future__ import annotations

import numpy as np
import pytest

from multimodal import sensors
from multimodal.sensors.bag_writer import write_frames_as_rosbag
from multimodal.sensors.errors import NoSuchSensorError
from multimodal.sensors.nuscenes_log import NuScenesLog
from multimodal.sensors.selection import resolve_selection, selection_entries

from .conftest import require_data
from .nuscenes_fixtures import VERSION, demo_drive, write_dataset


@pytest.fixture(scope="module")
def drive():
    return demo_drive()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, drive):
    return write_dataset(tmp_path_factory.mktemp("nusc_sel"), drive)


@pytest.fixture(scope="module")
def bag(tmp_path_factory, drive):
    return write_frames_as_rosbag(drive, tmp_path_factory.mktemp("bag_sel") / "bag")


def test_resolve_selection_names_kinds_aliases_and_errors():
    avail = {"LIDAR_TOP": "lidar", "CAM_FRONT": "camera", "CAM_BACK": "camera"}
    assert resolve_selection(None, avail, "log") == ("LIDAR_TOP", "CAM_FRONT", "CAM_BACK")
    assert resolve_selection(["camera"], avail, "log") == ("CAM_FRONT", "CAM_BACK")
    assert resolve_selection(["CAM_BACK", "lidar"], avail, "log") == ("LIDAR_TOP", "CAM_BACK")
    assert resolve_selection("lidar, CAM_FRONT", avail, "log") == ("LIDAR_TOP", "CAM_FRONT")  # URI form
    assert resolve_selection(["/cam"], avail, "log", aliases={"/cam": "CAM_FRONT"}) == ("CAM_FRONT",)
    assert resolve_selection([], avail, "log") == ()
    assert selection_entries(7) == ("7",)
    with pytest.raises(NoSuchSensorError, match=r"log: no sensor 'CAM_NOPE'.*LIDAR_TOP \(lidar\), CAM_FRONT \(camera\)"):
        resolve_selection(["CAM_NOPE"], avail, "log")
    with pytest.raises(NoSuchSensorError, match=r"log: no audio sensor to select"):
        resolve_selection(["audio"], avail, "log")


@pytest.mark.parametrize("sweeps", [False, True])
def test_nuscenes_lidar_only_never_decodes_an_image(dataset, monkeypatch, sweeps):
    from multimodal.sensors import nuscenes_files

    calls = []
    real = nuscenes_files.decode_image_bytes
    monkeypatch.setattr(nuscenes_files, "decode_image_bytes", lambda *a, **k: (calls.append(a[1:]), real(*a, **k))[1])
    full = NuScenesLog(dataset, VERSION, sweeps=sweeps)
    frames = list(full)
    assert calls and all(f.cameras for f in frames)  # the spy sees the decoder when cameras are selected
    calls.clear()
    lidar_only = NuScenesLog(dataset, VERSION, sweeps=sweeps, sensors=["lidar"])
    assert lidar_only.frame_sensors == ("LIDAR_TOP",) and lidar_only.cameras == []
    assert lidar_only.frame_timestamps_us() == full.frame_timestamps_us()
    for got, ref in zip(lidar_only, frames):
        assert set(got.lidars) == {"LIDAR_TOP"} and got.cameras == {} and got.audio == {}
        np.testing.assert_array_equal(got.lidars["LIDAR_TOP"].points, ref.lidars["LIDAR_TOP"].points)
        np.testing.assert_array_equal(got.T_world_from_ego, ref.T_world_from_ego)
    assert calls == []  # six cameras per frame, none decoded
    assert lidar_only.sync.streams == {} and not any(k.startswith("unmatched") for k in lidar_only.issues.counts)


def test_nuscenes_camera_selection_and_unknown_name(dataset):
    log = sensors.open_log(dataset, version=VERSION, sweeps=True, sensors=["CAM_FRONT"])
    full = sensors.open_log(dataset, version=VERSION, sweeps=True)
    assert len(log) == len(full) and log.frame_timestamps_us() == full.frame_timestamps_us()
    assert all(f.lidars == {} and set(f.cameras) <= {"CAM_FRONT"} for f in log)
    assert any(f.cameras for f in log) and list(log.sync.streams) == ["CAM_FRONT"]
    uri = sensors.open_log(f"nuscenes://{dataset}?version={VERSION}&sensors=lidar")
    assert uri.frame_sensors == ("LIDAR_TOP",)
    with pytest.raises(NoSuchSensorError, match=r"no sensor 'RADAR_FRONT'.*LIDAR_TOP \(lidar\).*CAM_FRONT \(camera\)"):
        NuScenesLog(dataset, VERSION, sensors=["RADAR_FRONT"])


def test_bag_lidar_only_never_reads_camera_messages(bag, monkeypatch):
    from multimodal.sensors import ros_messages

    full = sensors.open_log(bag)
    full_frames = list(full)
    log = sensors.open_log(bag, sensors=["lidar"])
    assert log.frame_sensors == ("LIDAR_TOP",) and log.frame_timestamps_us() == full.frame_timestamps_us()
    deserialized = []
    real = log._reader.deserialize
    monkeypatch.setattr(log._reader, "deserialize", lambda raw, t: (deserialized.append(t), real(raw, t))[1])

    def no_decoding(*a, **k):
        raise AssertionError("an unselected image was decoded")

    monkeypatch.setattr(ros_messages, "compressed_image_to_rgb", no_decoding)
    monkeypatch.setattr(ros_messages, "image_to_rgb", no_decoding)
    for got, ref in zip(log, full_frames):
        assert set(got.lidars) == {"LIDAR_TOP"} and got.cameras == {}
        np.testing.assert_array_equal(got.lidars["LIDAR_TOP"].points, ref.lidars["LIDAR_TOP"].points)
    assert set(deserialized) == {"sensor_msgs/msg/PointCloud2"}
    assert log.sync.streams == {} and log.summary()["sensors"].keys() == full.summary()["sensors"].keys()


def test_bag_selection_by_topic_and_camera_kind(bag):
    by_topic = sensors.open_log(bag, sensors=["/CAM_FRONT/image_raw/compressed"])
    assert by_topic.frame_sensors == ("CAM_FRONT",) and by_topic.reference == "LIDAR_TOP"
    frame = by_topic[0]
    assert frame.lidars == {} and set(frame.cameras) == {"CAM_FRONT"}
    cams = sensors.open_log(bag, sensors="camera")
    assert "LIDAR_TOP" not in cams.frame_sensors and len(cams.frame_sensors) >= 2
    with pytest.raises(NoSuchSensorError, match=r"no sensor '/nope'.*LIDAR_TOP \(lidar\)"):
        sensors.open_log(bag, sensors=["/nope"])


def test_av_selection_decodes_only_the_selected_stream(monkeypatch):
    from multimodal.sensors.media.audio import AudioCursor
    from multimodal.sensors.media.video import VideoCursor

    clip = str(require_data("moviepy_media", "big_buck_bunny_432_433.webm"))
    full = sensors.open_log(clip)
    video_calls, audio_calls = [], []
    real_frame_at, real_fill = VideoCursor.frame_at, AudioCursor.fill_range
    monkeypatch.setattr(VideoCursor, "frame_at", lambda self, *a: (video_calls.append(a), real_frame_at(self, *a))[1])
    monkeypatch.setattr(AudioCursor, "fill_range", lambda self, *a, **k: (audio_calls.append(a), real_fill(self, *a, **k))[1])
    audio_only = sensors.open_log(clip, sensors=["audio"])
    assert len(audio_only) == len(full) and audio_only.frame_sensors == ("audio",)
    frames = [audio_only[i] for i in range(3)]
    assert video_calls == [] and len(audio_calls) == 3
    for i, f in enumerate(frames):
        assert f.cameras == {}
        np.testing.assert_array_equal(f.audio["audio"].samples, full[i].audio["audio"].samples)
    audio_calls.clear()
    video_only = sensors.open_log(clip, sensors="camera")
    assert video_only.frame_sensors == ("video",) and video_only[0].audio == {} and audio_calls == []
    with pytest.raises(NoSuchSensorError, match=r"no lidar sensor.*video \(camera\), audio \(audio\)"):
        sensors.open_log(clip, sensors=["lidar"])
