"""Write frames as a ROS 2 bag (.mcap or .db3, through ``rosbags``): the inverse of ``RosbagLog``.

Topics (``NAME`` is the sensor name): ``/NAME`` PointCloud2 for LiDARs; ``/NAME/image_raw``
(Image, rgb8) or ``/NAME/image_raw/compressed`` (CompressedImage, jpeg) plus ``/NAME/camera_info``
for cameras; ``/NAME/audio`` AudioDataStamped plus a latched-style ``/NAME/audio_info`` for audio;
``/tf_static`` with ``base_link -> sensor`` extrinsics and ``/tf`` with ``map -> base_link`` at every
sensor timestamp (built by :mod:`multimodal.sensors.frame_messages`). Messages are logged at their header stamps.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .frame import Frame


def write_frames_as_rosbag(frames: Iterable[Frame], path: str | os.PathLike, *, storage: str = "mcap",
                           compressed_images: bool = True, ego_frame: str = "base_link",
                           world_frame: str = "map") -> Path:
    """Write frames to a new rosbag2 folder ``path`` (must not exist); returns it.

    Args:
        storage: ``mcap`` or ``sqlite3`` (.db3).
        compressed_images: JPEG CompressedImage (small) instead of raw rgb8 Image (lossless).
    """
    from .frame_messages import FrameMessages

    if storage not in ("mcap", "sqlite3", "db3"):
        raise ValueError(f"storage must be mcap or sqlite3, got {storage!r}")
    ts = default_typestore()
    conv = FrameMessages(ts.types, compressed_images=compressed_images, ego_frame=ego_frame, world_frame=world_frame)
    pending = [m for frame in frames for m in conv.messages(frame)]
    static = conv.tf_static(min((m.stamp_ns for m in pending), default=0))
    if static is not None:
        pending.append(static)
    pending.sort(key=lambda m: m.stamp_ns)
    return write_messages(Path(path), ((m.topic, m.msgtype, m.msg, m.stamp_ns) for m in pending), storage=storage)


def write_messages(path: str | os.PathLike, messages: Iterable[tuple[str, str, object, int]],
                   storage: str = "mcap", typestore=None) -> Path:
    """Write ``(topic, msgtype, message, log time ns)`` tuples, in order, to a new rosbag2 folder.

    ``typestore`` defaults to the package's one typestore (:func:`default_typestore`).
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
    """The package's one typestore (:func:`multimodal.sensors.ros_messages.ros_typestore`: ROS 2 Kilted plus
    ``audio_common_msgs``), used by the writers, the reader and the tests."""
    from .ros_messages import ros_typestore

    return ros_typestore()
