"""Write frames as a ROS 2 bag (.mcap or .db3, through ``rosbags``): the inverse of ``RosbagLog``.

Topics (``NAME`` is the sensor name): ``/NAME`` PointCloud2 for LiDARs; ``/NAME/image_raw``
(Image, rgb8) or ``/NAME/image_raw/compressed`` (CompressedImage, jpeg) plus ``/NAME/camera_info``
for cameras; ``/NAME/audio`` AudioDataStamped plus a latched-style ``/NAME/audio_info`` for audio;
``/tf_static`` with ``base_link -> sensor`` extrinsics and ``/tf`` with ``map -> base_link`` at every
sensor timestamp. Messages are logged at their header stamps.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .frame import Frame
from .geometry import matrix_to_quat_wxyz


def _tf(types, parent: str, child: str, T: np.ndarray, stamp_ns: int):
    from .ros_messages import make_header

    q = matrix_to_quat_wxyz(T[:3, :3])
    t = T[:3, 3]
    Transform = types["geometry_msgs/msg/Transform"]
    return types["geometry_msgs/msg/TransformStamped"](
        header=make_header(stamp_ns, parent, types), child_frame_id=child,
        transform=Transform(translation=types["geometry_msgs/msg/Vector3"](x=float(t[0]), y=float(t[1]), z=float(t[2])),
                            rotation=types["geometry_msgs/msg/Quaternion"](x=float(q[1]), y=float(q[2]), z=float(q[3]),
                                                                           w=float(q[0]))))


def _camera_info(types, K: np.ndarray, wh: tuple[int, int], stamp_ns: int, frame_id: str):
    from .ros_messages import make_header

    P = np.zeros((3, 4))
    P[:, :3] = K
    return types["sensor_msgs/msg/CameraInfo"](
        header=make_header(stamp_ns, frame_id, types), height=int(wh[1]), width=int(wh[0]),
        distortion_model="plumb_bob", d=np.zeros(5), k=np.asarray(K, dtype=np.float64).reshape(9),
        r=np.eye(3).reshape(9), p=P.reshape(12), binning_x=0, binning_y=0,
        roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def write_frames_as_rosbag(frames: Iterable[Frame], path: str | os.PathLike, *, storage: str = "mcap",
                           compressed_images: bool = True, ego_frame: str = "base_link",
                           world_frame: str = "map") -> Path:
    """Write frames to a new rosbag2 folder ``path`` (must not exist); returns it.

    Args:
        storage: ``mcap`` or ``sqlite3`` (.db3).
        compressed_images: JPEG CompressedImage (small) instead of raw rgb8 Image (lossless).
    """
    from .ros_messages import AudioFormat, array_to_audio, array_to_pointcloud2, rgb_to_compressed_image, rgb_to_image

    if storage not in ("mcap", "sqlite3", "db3"):
        raise ValueError(f"storage must be mcap or sqlite3, got {storage!r}")
    ts = default_typestore()
    types = ts.types
    out = Path(path)
    pending: list[tuple[int, str, str, object]] = []  # (stamp ns, topic, msgtype, msg)
    static: dict[str, np.ndarray] = {}

    def put(topic: str, msgtype: str, msg: object, stamp_ns: int) -> None:
        pending.append((stamp_ns, topic, msgtype, msg))

    for frame in frames:
        for name, sweep in frame.lidars.items():
            ns = int(sweep.timestamp_us) * 1000
            static[name] = sweep.T_ego_from_sensor
            put(f"/{name}", "sensor_msgs/msg/PointCloud2",
                array_to_pointcloud2(sweep.points, sweep.fields, ns, name, types), ns)
            if sweep.T_world_from_ego is not None:
                put("/tf", "tf2_msgs/msg/TFMessage", types["tf2_msgs/msg/TFMessage"](
                    transforms=[_tf(types, world_frame, ego_frame, sweep.T_world_from_ego, ns)]), ns)
        for name, cam in frame.cameras.items():
            ns = int(cam.timestamp_us) * 1000
            static[name] = cam.T_ego_from_sensor
            if compressed_images:
                put(f"/{name}/image_raw/compressed", "sensor_msgs/msg/CompressedImage",
                    rgb_to_compressed_image(cam.image, ns, name, types), ns)
            else:
                put(f"/{name}/image_raw", "sensor_msgs/msg/Image", rgb_to_image(cam.image, ns, name, types), ns)
            put(f"/{name}/camera_info", "sensor_msgs/msg/CameraInfo",
                _camera_info(types, cam.K, cam.size_wh, ns, name), ns)
            if cam.T_world_from_ego is not None:
                put("/tf", "tf2_msgs/msg/TFMessage", types["tf2_msgs/msg/TFMessage"](
                    transforms=[_tf(types, world_frame, ego_frame, cam.T_world_from_ego, ns)]), ns)
        for name, chunk in frame.audio.items():
            ns = int(chunk.timestamp_us) * 1000
            if chunk.T_ego_from_sensor is not None:
                static[name] = chunk.T_ego_from_sensor
            fmt = AudioFormat(channels=chunk.samples.shape[0], sample_rate=chunk.sample_rate, sample_format="S16LE")
            put(f"/{name}/audio_info", "audio_common_msgs/msg/AudioInfo", fmt.to_info_msg(types), ns)
            put(f"/{name}/audio", "audio_common_msgs/msg/AudioDataStamped",
                array_to_audio(chunk.samples, ns, name, types), ns)
    if static:
        first = min(p[0] for p in pending) if pending else 0
        put("/tf_static", "tf2_msgs/msg/TFMessage", types["tf2_msgs/msg/TFMessage"](
            transforms=[_tf(types, ego_frame, n, T, first) for n, T in sorted(static.items())]), first)
    pending.sort(key=lambda p: p[0])
    return write_messages(out, ((topic, msgtype, msg, t) for t, topic, msgtype, msg in pending), storage=storage)


def write_messages(path: str | os.PathLike, messages: Iterable[tuple[str, str, object, int]],
                   storage: str = "mcap", typestore=None) -> Path:
    """Write ``(topic, msgtype, message, log time ns)`` tuples, in order, to a new rosbag2 folder.

    ``typestore`` defaults to ROS 2 Humble plus the audio types of :mod:`sensors.ros_messages`.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    ts = typestore or default_typestore()
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3, "db3": StoragePlugin.SQLITE3}[storage]
    conns: dict[str, object] = {}
    with Writer(Path(path), version=9, storage_plugin=plugin) as writer:
        for topic, msgtype, msg, t_ns in messages:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(conns[topic], t_ns, ts.serialize_cdr(msg, msgtype))
    return Path(path)


def default_typestore():
    """ROS 2 Humble message types plus ``audio_common_msgs`` (used by the writers and tests)."""
    from rosbags.typesys import Stores, get_typestore

    from .ros_messages import register_audio_types

    ts = get_typestore(Stores.ROS2_HUMBLE)
    register_audio_types(ts)
    return ts
