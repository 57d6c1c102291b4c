"""Pure conversions between ROS 2 sensor messages and numpy arrays, one module per message family.

Every parser works on *any* object that has the standard ROS 2 attribute names: messages
deserialized by a ``rosbags`` typestore, and rclpy messages (no rclpy import here). Byte
sequences (``data``) may be ``bytes``, ``bytearray``, ``memoryview``, ``array.array('B')``, a
``list`` of ints or a numpy ``uint8`` array.

Builders (``array_to_pointcloud2``, ``rgb_to_image`` ...) take ``msg_types``, a mapping from
type name to message class such as ``ros_typestore().types``; they serve synthetic bags, tests,
replay and the feature messages of ``ros_nodes``.

Malformed messages raise :class:`~multimodal.sensors.errors.BadRecordError` naming the ``source``
(topic), the message ``index`` and the offending ``field``.

Modules:

- :mod:`.common`: byte sequences, headers, stamps (``stamp_to_us``: ``builtin_interfaces/Time`` ->
  integer microseconds; builders take integer nanoseconds, :func:`us_to_stamp_ns`);
- :mod:`.pointcloud2`: ``sensor_msgs/PointCloud2`` (the one parser and builder of the package);
- :mod:`.images`: ``sensor_msgs/Image`` and ``CompressedImage``;
- :mod:`.camera_info`: ``sensor_msgs/CameraInfo``;
- :mod:`.tf`: ``geometry_msgs/TransformStamped`` / ``tf2_msgs/TFMessage``;
- :mod:`.audio`: ``audio_common_msgs`` (layout documented there);
- :mod:`.typestore`: :func:`ros_typestore`, the one rosbags typestore (ROS 2 Kilted + audio types).
"""
from __future__ import annotations

from .audio import (
    AUDIO_MSG_DEFINITIONS,
    SAMPLE_FORMATS,
    AudioFormat,
    array_to_audio,
    audio_to_array,
    register_audio_types,
)
from .camera_info import camera_info_to_calibration, pinhole_camera_info
from .common import make_header, stamp_to_ns, stamp_to_us, us_to_stamp_ns
from .images import IMAGE_ENCODINGS, compressed_image_to_rgb, image_to_rgb, rgb_to_compressed_image, rgb_to_image
from .pointcloud2 import (
    POINTFIELD_DTYPES,
    array_to_pointcloud2,
    pointcloud2_block,
    pointcloud2_columns,
    pointcloud2_to_array,
)
from .tf import transform_stamped, transform_stamped_to_matrix
from .typestore import ROS_DISTRIBUTION, ros_typestore

__all__ = [
    "AUDIO_MSG_DEFINITIONS",
    "IMAGE_ENCODINGS",
    "POINTFIELD_DTYPES",
    "ROS_DISTRIBUTION",
    "SAMPLE_FORMATS",
    "AudioFormat",
    "array_to_audio",
    "array_to_pointcloud2",
    "audio_to_array",
    "camera_info_to_calibration",
    "compressed_image_to_rgb",
    "image_to_rgb",
    "make_header",
    "pinhole_camera_info",
    "pointcloud2_block",
    "pointcloud2_columns",
    "pointcloud2_to_array",
    "register_audio_types",
    "rgb_to_compressed_image",
    "rgb_to_image",
    "ros_typestore",
    "stamp_to_ns",
    "stamp_to_us",
    "transform_stamped",
    "transform_stamped_to_matrix",
    "us_to_stamp_ns",
]
