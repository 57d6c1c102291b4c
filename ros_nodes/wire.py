"""Messages on the wire: CDR (de)serialization and the feature messages the nodes publish.

The nodes subscribe with ``raw=True`` and publish serialized bytes, and do the CDR conversion with the
``rosbags`` typestore: the same typestore (:func:`multimodal.sensors.ros_messages.ros_typestore`), message
classes and converters (:mod:`multimodal.sensors.ros_messages`) that read and write bags, so a topic accepts exactly the layouts a bag does, and large arrays never pass through
rclpy's per-field Python conversion. The bytes are ordinary CDR: any rclpy/rclcpp subscriber reads them.

Feature message layouts (documented in ``docs/ros.md``):

- LiDAR features: ``sensor_msgs/PointCloud2`` with fields ``x, y, z`` (float32, metres, the input's
  frame), ``rgb`` (float32 holding packed ``0x00RRGGBB``, as PCL/RViz expect) and ``f0 .. f{C-1}``
  (float32, or int8 = round(127 * feature / ||feature||)). One row per input point (``output_mode=point``)
  or per occupied voxel (``voxel``: x, y, z = centroid of the voxel's points).
- Dense (camera) features: ``sensor_msgs/Image`` with encoding ``32FC{C}``: height x width x C float32,
  row-major, channels last, at the encoder's stride (``width = ceil(W / stride)``); the colour view is an
  ``rgb8`` Image of the same size.
- Clip (audio) embeddings: ``sensor_msgs/Image`` 1 x 1 with encoding ``32FC{C}`` (a one-pixel feature map),
  so the header (stamp of the first sample) is kept.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from multimodal.sensors.ros_messages import (
    array_to_pointcloud2,
    make_header,
    pointcloud2_block,
    ros_typestore,
    stamp_to_ns,
)

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
AUDIO = "audio_common_msgs/msg/AudioDataStamped"
FLOAT32_ARRAY = "std_msgs/msg/Float32MultiArray"
FLOAT64_ARRAY = "std_msgs/msg/Float64MultiArray"
_CLOUD_FIELDS = ("x", "y", "z", "rgb")  # then f0 .. f{C-1}


def typestore() -> Any:
    """The rosbags typestore of the nodes: the package's one (ROS 2 Kilted definitions plus ``audio_common_msgs``)."""
    return ros_typestore()


def decode(raw: bytes | memoryview, msgtype: str) -> Any:
    """CDR bytes -> rosbags message object of type ``msgtype``."""
    return typestore().deserialize_cdr(raw, msgtype)


def encode(msg: Any, msgtype: str) -> bytes:
    """rosbags message object -> CDR bytes (publishable with ``publisher.publish(bytes)``)."""
    return bytes(typestore().serialize_cdr(msg, msgtype))


def types() -> Any:
    return typestore().types


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(N, 3) uint8`` -> ``(N,) float32`` whose bits are ``0x00RRGGBB`` (the PCL ``rgb`` field)."""
    rgb = np.asarray(rgb, dtype=np.uint32)
    return ((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32).view(np.float32)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_rgb`: ``(N,) float32`` -> ``(N, 3) uint8``."""
    v = np.ascontiguousarray(packed, dtype=np.float32).view(np.uint32)
    return np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=1).astype(np.uint8)


def quantize_int8(features: np.ndarray) -> np.ndarray:
    """``(N, C)`` float -> ``(N, C) int8`` = round(127 * f / ||f||): keeps the direction (cosine) only."""
    norm = np.linalg.norm(features, axis=1, keepdims=True)
    return np.rint(127.0 * features / np.maximum(norm, 1e-12)).astype(np.int8)


def feature_cloud(xyz: np.ndarray, rgb: np.ndarray, features: np.ndarray, header: Any,
                  feature_type: str = "float32") -> Any:
    """A PointCloud2 with ``x, y, z, rgb, f0..f{C-1}`` (see the module docstring).

    Args:
        xyz: ``(N, 3)`` float, metres, frame ``header.frame_id``.
        rgb: ``(N, 3) uint8`` colours.
        features: ``(N, C)`` float features.
        header: the input message's header (stamp and frame kept).
        feature_type: ``float32`` or ``int8``.
    """
    if feature_type not in ("float32", "int8"):
        raise ValueError(f"feature_type must be 'float32' or 'int8', got {feature_type!r}")
    n, c = features.shape
    # One float32 table: the packed rgb keeps its bits, int8 features are exact in float32.
    table = np.empty((n, 4 + c), dtype=np.float32)
    table[:, :3] = xyz
    table[:, 3] = pack_rgb(rgb)
    table[:, 4:] = features if feature_type == "float32" else quantize_int8(features)
    names = (*_CLOUD_FIELDS, *(f"f{k}" for k in range(c)))
    fdt = np.float32 if feature_type == "float32" else np.int8
    return array_to_pointcloud2(table, names, stamp_to_ns(header.stamp), str(header.frame_id), types(),
                                dtype={f"f{k}": fdt for k in range(c)}, is_dense=True)


def float_image(features_hwc: np.ndarray, header: Any) -> Any:
    """``(H, W, C)`` float features -> ``sensor_msgs/Image`` with encoding ``32FC{C}``."""
    h, w, c = features_hwc.shape
    data = np.ascontiguousarray(features_hwc, dtype="<f4")
    return types()[IMAGE](header=header, height=h, width=w, encoding=f"32FC{c}", is_bigendian=0, step=w * c * 4,
                          data=data.view(np.uint8).reshape(-1))


def rgb8_image(rgb: np.ndarray, header: Any) -> Any:
    """``(H, W, 3) uint8`` -> ``sensor_msgs/Image`` rgb8."""
    h, w, _ = rgb.shape
    return types()[IMAGE](header=header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
                          data=np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1))


def image_features(msg: Any) -> np.ndarray:
    """Inverse of :func:`float_image` (any object with the Image fields) -> ``(H, W, C) float32``."""
    enc = str(msg.encoding)
    if not enc.startswith("32FC"):
        raise ValueError(f"expected a 32FC<n> feature image, got encoding {enc!r}")
    c = int(enc[4:])
    buf = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data.tobytes(), dtype="<f4")
    return buf.reshape(int(msg.height), int(msg.width), c)


def cloud_features(msg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`feature_cloud` -> ``(xyz (N, 3) float32, rgb (N, 3) uint8, features (N, C))``.

    Features are float32 or int8, as in the message.
    """
    names = [str(f.name) for f in msg.fields]
    c = sum(1 for n in names if n.startswith("f") and n[1:].isdigit())
    xyz = pointcloud2_block(msg, ("x", "y", "z"), source="feature cloud")
    rgb = unpack_rgb(pointcloud2_block(msg, ("rgb",), source="feature cloud")[:, 0])
    features = pointcloud2_block(msg, [f"f{k}" for k in range(c)], source="feature cloud")
    return xyz, rgb, features


def header_like(header: Any) -> Any:
    """A copy of a rosbags header (stamp and frame id)."""
    return make_header(stamp_to_ns(header.stamp), str(header.frame_id), types())
