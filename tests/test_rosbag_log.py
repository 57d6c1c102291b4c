"""ROS bags through rosbags: round trips of synthetic frames, tf interpolation, real robot bags, bad messages."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from multimodal import sensors
from multimodal.sensors.bag_writer import write_frames_as_rosbag
from multimodal.sensors.errors import BadRecordError, LogFormatError
from multimodal.sensors.frame import AudioChunk, Frame, LidarSweep
from multimodal.sensors.geometry import make_transform, quat_wxyz_to_matrix
from multimodal.sensors.ros_messages import array_to_pointcloud2, rgb_to_compressed_image, rgb_to_image
from multimodal.sensors.rosbag_log import RosbagLog, sensor_name_for_topic
from multimodal.sensors.synthetic import make_demo_drive

from .bag_fixtures import TYPES, write_bag
from .conftest import require_data


@pytest.fixture(scope="module")
def drive():
    return make_demo_drive(n_frames=3, seed=3)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip_of_synthetic_frames(tmp_path, drive, storage):
    bag = write_frames_as_rosbag(drive, tmp_path / "bag", storage=storage, compressed_images=False)
    log = sensors.open_log(bag)
    assert isinstance(log, RosbagLog) and len(log) == len(drive)
    assert log.world_frame == "map" and log.notes == []
    originals = {(n, c.timestamp_us): c for f in drive for n, c in f.cameras.items()}
    n_cams = 0
    for i, frame in enumerate(log):
        src = drive[i].lidars["LIDAR_TOP"]
        got = frame.lidars["LIDAR_TOP"]
        assert got.timestamp_us == src.timestamp_us
        np.testing.assert_array_equal(got.points, src.points)
        assert got.fields == src.fields
        np.testing.assert_allclose(got.T_ego_from_sensor, src.T_ego_from_sensor, atol=1e-12)
        np.testing.assert_allclose(got.T_world_from_ego, src.T_world_from_ego, atol=1e-9)
        for name, cam in frame.cameras.items():
            ref = originals[(name, cam.timestamp_us)]  # pairing is by time; compare with the same message
            np.testing.assert_array_equal(cam.image, ref.image)
            np.testing.assert_allclose(cam.K, ref.K)
            np.testing.assert_allclose(cam.T_ego_from_sensor, ref.T_ego_from_sensor, atol=1e-12)
            np.testing.assert_allclose(cam.T_world_from_ego, ref.T_world_from_ego, atol=1e-9)
            assert abs(cam.timestamp_us - frame.timestamp_us) <= log.tolerance_us
            n_cams += 1
    assert n_cams >= 2 * len(drive)


def test_topic_mapping_and_reference_are_configurable(tmp_path, drive):
    bag = write_frames_as_rosbag(drive, tmp_path / "bag")
    log = sensors.open_log(bag, topics={"front": "/CAM_FRONT/image_raw/compressed", "lidar": "/LIDAR_TOP"},
                           reference="front")
    assert log.reference == "front" and len(log) == len(drive)
    frame = log[0]
    assert set(frame.cameras) == {"front"} and set(frame.lidars) <= {"lidar"}
    assert frame.timestamp_us == drive[0].cameras["CAM_FRONT"].timestamp_us
    with pytest.raises(LogFormatError, match="/nope"):
        sensors.open_log(bag, topics={"x": "/nope"})
    with pytest.raises(LogFormatError, match="not a sensor stream"):
        sensors.open_log(bag, topics={"x": "/tf"})


def test_default_sensor_names():
    assert sensor_name_for_topic("/CAM_FRONT/image_rect_compressed") == "CAM_FRONT"
    assert sensor_name_for_topic("/camera/color/image_raw") == "camera_color"
    assert sensor_name_for_topic("/cam/image_raw/compressed") == "cam"
    assert sensor_name_for_topic("/velodyne_points") == "velodyne_points"
    assert sensor_name_for_topic("/mic/audio") == "mic"


def _tf_msg(parent, child, T, stamp_ns):
    from multimodal.sensors.frame_messages import transform_stamped as _tf

    return TYPES["tf2_msgs/msg/TFMessage"](transforms=[_tf(TYPES, parent, child, T, stamp_ns)])


def _cloud(n=100, stamp_ns=0, frame="lidar", seed=0):
    pts = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32) * 10
    return pts, array_to_pointcloud2(pts, ("x", "y", "z", "intensity"), stamp_ns, frame, TYPES)


def test_tf_is_interpolated_at_sensor_time(tmp_path):
    t0, t1, tl = 1_000_000_000, 1_100_000_000, 1_050_000_000
    R1 = quat_wxyz_to_matrix((np.cos(0.25), 0, 0, np.sin(0.25)))  # 0.5 rad yaw
    T0, T1 = make_transform(np.eye(3), [0, 0, 0]), make_transform(R1, [2.0, 0, 0])
    T_ego_lidar = make_transform(np.eye(3), [0.5, 0, 1.8])
    _, cloud = _cloud(stamp_ns=tl)
    bag = write_bag(tmp_path / "b", [
        ("/tf_static", "tf2_msgs/msg/TFMessage", _tf_msg("base_link", "lidar", T_ego_lidar, t0), t0),
        ("/tf", "tf2_msgs/msg/TFMessage", _tf_msg("odom", "base_link", T0, t0), t0),
        ("/points", "sensor_msgs/msg/PointCloud2", cloud, tl),
        ("/tf", "tf2_msgs/msg/TFMessage", _tf_msg("odom", "base_link", T1, t1), t1),
    ])
    log = sensors.open_log(bag)
    sweep = log[0].lidars["points"]
    assert log.world_frame == "odom"
    np.testing.assert_allclose(sweep.T_ego_from_sensor, T_ego_lidar, atol=1e-12)
    pose = sweep.T_world_from_ego
    np.testing.assert_allclose(pose[:3, 3], [1.0, 0, 0], atol=1e-9)
    yaw = np.arctan2(pose[1, 0], pose[0, 0])
    assert yaw == pytest.approx(0.25, abs=1e-9)


def test_audio_topic_round_trip(tmp_path):
    rate = 16000
    t = np.arange(rate // 10) / rate
    chunks = []
    for k in range(5):
        s = (0.5 * np.sin(2 * np.pi * (440 + 100 * k) * t)).astype(np.float32)[None]
        chunks.append(Frame(timestamp_us=1_000_000 + k * 100_000,
                            audio={"mic": AudioChunk(samples=s, sample_rate=rate, timestamp_us=1_000_000 + k * 100_000)}))
    bag = write_frames_as_rosbag(chunks, tmp_path / "bag")
    log = sensors.open_log(bag)
    assert log.reference == "mic" and len(log) == 5 and log.sensors["mic"].kind == "audio"
    assert log.sensors["mic"].rate_hz == pytest.approx(10.0)
    for k, frame in enumerate(log):
        a = frame.audio["mic"]
        assert a.sample_rate == rate and a.samples.shape == (1, rate // 10)
        np.testing.assert_allclose(a.samples, chunks[k].audio["mic"].samples, atol=1 / 32767 + 1e-6)  # S16


def test_real_robot_bags_have_no_frames_and_say_why():
    ros2 = require_data("robot_localization_bags", "ros2", "test2")
    log = sensors.open_log(ros2)
    assert len(log) == 0
    assert "no LiDAR" in log.notes[0] and "imu" in log.notes[0] and "odometry" in log.notes[0]
    kinds = {s.kind for s in log.sensors.values()}
    assert kinds == {"imu", "odometry"}
    assert log.sensors["/imu/data"].count == 3061
    assert log.sensors["/imu/data"].rate_hz == pytest.approx(50.0, rel=0.05)
    with pytest.raises(IndexError, match="no LiDAR"):
        log[0]
    ros1 = sensors.open_log(require_data("robot_localization_bags", "ros1", "test1.bag"))
    assert {s.kind for s in ros1.sensors.values()} == {"imu", "odometry", "gps"}
    assert ros1.sensors["/fix"].count == 989 and len(ros1) == 0


def test_unknown_bag_storage(tmp_path):
    bad = tmp_path / "log.bag2"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(LogFormatError, match="log.bag2"):
        sensors.open_log(bad, format="rosbag")
    folder = tmp_path / "bagdir"
    folder.mkdir()
    (folder / "x.ldb").write_bytes(b"\0" * 64)
    (folder / "metadata.yaml").write_text(
        "rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: leveldb\n  relative_file_paths: [x.ldb]\n"
        "  duration: {nanoseconds: 0}\n  starting_time: {nanoseconds_since_epoch: 0}\n  message_count: 0\n"
        "  topics_with_message_count: []\n  compression_format: ''\n  compression_mode: ''\n  files: []\n"
        "  custom_data: {}\n  ros_distro: humble\n")
    with pytest.raises(LogFormatError, match="leveldb"):
        sensors.open_log(folder)


def _long_bag_with_one_bad(tmp_path, bad_index: int, make_bad):
    msgs = []
    for i in range(6):
        stamp = 1_000_000_000 + i * 100_000_000
        _, cloud = _cloud(stamp_ns=stamp, seed=i)
        if i == bad_index:
            cloud = make_bad(cloud)
        msgs.append(("/lidar", "sensor_msgs/msg/PointCloud2", cloud, stamp))
    return write_bag(tmp_path / "b", msgs)


def test_bad_message_is_skipped_and_counted_or_raised_in_strict_mode(tmp_path, caplog):
    def bad_row_step(msg):
        msg.row_step = msg.row_step + 16
        return msg

    bag = _long_bag_with_one_bad(tmp_path, 2, bad_row_step)
    log = sensors.open_log(bag)
    with caplog.at_level(logging.WARNING, logger="sensors"):
        frames = list(log)
    assert [("lidar" in f.lidars) for f in frames] == [True, True, False, True, True, True]
    assert log.issues.counts["bad_message"] == 1
    assert "/lidar [message 2] field 'row_step'" in caplog.text
    strict = sensors.open_log(bag, strict=True)
    strict[1]
    with pytest.raises(BadRecordError, match=r"/lidar \[message 2\] field 'row_step'.*row_step\*height = 1616\*1 = 1616 but data has 1600"):
        strict[2]


def test_nonfinite_points_dropped_and_counted_and_empty_cloud_rejected(tmp_path):
    pts = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    pts[[3, 7], 0] = np.nan
    pts[11, 2] = np.inf
    empty = array_to_pointcloud2(np.zeros((0, 4), np.float32), ("x", "y", "z", "intensity"), 2_000, "l", TYPES)
    bag = write_bag(tmp_path / "b", [
        ("/lidar", "sensor_msgs/msg/PointCloud2",
         array_to_pointcloud2(pts, ("x", "y", "z", "intensity"), 1_000, "l", TYPES), 1_000),
        ("/lidar", "sensor_msgs/msg/PointCloud2", empty, 2_000),
    ])
    log = sensors.open_log(bag, strict=True)
    sweep = log[0].lidars["lidar"]
    assert len(sweep) == 47 and np.isfinite(sweep.points).all()
    assert log.issues.counts["nonfinite_points"] == 3
    with pytest.raises(BadRecordError, match=r"/lidar \[message 1\].*empty"):
        log[1]


def _camera_bag(tmp_path, image_msg, topic):
    from multimodal.sensors.frame_messages import camera_info as _camera_info

    K = np.array([[100.0, 0, 16], [0, 100.0, 12], [0, 0, 1]])
    return write_bag(tmp_path / "b", [
        (topic, image_msg.__class__.__msgtype__, image_msg, 1_000),
        ("/cam/camera_info", "sensor_msgs/msg/CameraInfo", _camera_info(TYPES, K, (32, 24), 1_000, "cam"), 1_000),
    ])


def test_unknown_image_encoding_names_topic_index_and_field(tmp_path):
    msg = rgb_to_image(np.zeros((24, 32, 3), np.uint8), 1_000, "cam", TYPES)
    msg.encoding = "yuv422_yuy2"
    log = sensors.open_log(_camera_bag(tmp_path, msg, "/cam/image_raw"), strict=True)
    with pytest.raises(BadRecordError, match=r"/cam/image_raw \[message 0\] field 'encoding'.*yuv422_yuy2"):
        log[0]


def test_corrupt_jpeg_in_a_bag(tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    msg = rgb_to_compressed_image(np.zeros((24, 32, 3), np.uint8), 1_000, "cam", TYPES)
    msg.data = np.frombuffer(buf.getvalue()[: len(buf.getvalue()) // 2], dtype=np.uint8)
    log = sensors.open_log(_camera_bag(tmp_path, msg, "/cam/image_raw/compressed"))
    frame = log[0]
    assert frame.cameras == {} and log.issues.counts["bad_message"] == 1
    strict = sensors.open_log(tmp_path / "b", strict=True)
    with pytest.raises(BadRecordError, match=r"/cam/image_raw/compressed \[message 0\] field 'data'"):
        strict[0]


def test_lidar_only_bag_without_tf_uses_identity_and_says_so(tmp_path):
    _, cloud = _cloud(stamp_ns=5_000)
    log = sensors.open_log(write_bag(tmp_path / "b", [("/lidar", "sensor_msgs/msg/PointCloud2", cloud, 5_000)]))
    sweep = log[0].lidars["lidar"]
    np.testing.assert_array_equal(sweep.T_ego_from_sensor, np.eye(4))
    assert sweep.T_world_from_ego is None
    assert any("no map/odom/world" in n for n in log.notes)
    assert log.issues.counts["no_calibration:/lidar"] == 1


def test_frame_has_lidar_sweep_type(tmp_path, drive):
    bag = write_frames_as_rosbag(drive[:1], tmp_path / "bag")
    assert isinstance(sensors.open_log(bag)[0].lidars["LIDAR_TOP"], LidarSweep)
