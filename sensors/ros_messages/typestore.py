"""The one rosbags typestore of the package: what the bag reader, the bag writer and the ROS nodes use.

ROS 2 Kilted message definitions (the distribution whose ``rclpy`` wheels the nodes run, and the
newest stable store of rosbags) plus the ``audio_common_msgs`` types of
:mod:`multimodal.sensors.ros_messages.audio`. One distribution everywhere means a bag we write,
a bag we read without embedded definitions and a message on the wire are the same types. The
sensor messages we use (Header, PointCloud2, Image, CompressedImage, CameraInfo, TFMessage) have
the same CDR layout in every ROS 2 distribution since Foxy, so Humble bags read the same.
"""
from __future__ import annotations

import functools
from typing import Any

from .audio import register_audio_types

#: the ROS 2 distribution of :func:`ros_typestore`'s definitions
ROS_DISTRIBUTION = "kilted"


@functools.lru_cache(maxsize=1)
def ros_typestore() -> Any:
    """The shared ``rosbags.typesys.Typestore`` (built once per process; ``.types`` are the message classes).

    Shared: register further types only when they cannot clash with the ROS 2 ones.
    """
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    register_audio_types(store)
    return store
