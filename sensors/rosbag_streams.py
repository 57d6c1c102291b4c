"""The streams of a bag: message types, sensor names from topics, and which topics become which sensor.

Used by :class:`~multimodal.sensors.rosbag_log.RosbagLog`; :func:`read_messages` reads messages back by position.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from .errors import BadRecordError, LogFormatError

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
TF = "tf2_msgs/msg/TFMessage"
AUDIO = "audio_common_msgs/msg/AudioDataStamped"
AUDIO_INFO = "audio_common_msgs/msg/AudioInfo"
#: message type -> sensor kind, for the streams that go into frames
SENSOR_KINDS_BY_TYPE = {POINTCLOUD2: "lidar", IMAGE: "camera", COMPRESSED: "camera", AUDIO: "audio"}
#: message type -> kind, for the streams listed in ``sensors`` that do not go into frames
OTHER_KINDS = {
    "sensor_msgs/msg/Imu": "imu", "nav_msgs/msg/Odometry": "odometry", "sensor_msgs/msg/NavSatFix": "gps",
    "geometry_msgs/msg/PoseStamped": "pose", "geometry_msgs/msg/PoseWithCovarianceStamped": "pose",
    TF: "calibration", CAMERA_INFO: "calibration", AUDIO_INFO: "calibration",
}
#: small topics deserialized while indexing (calibration, poses, audio format)
INFO_TYPES = (TF, CAMERA_INFO, AUDIO_INFO)
# Topic suffixes that name a stream rather than the sensor (image_raw, compressed, audio): stripped to name it.
_IMAGE_SUFFIX = re.compile(r"(/(image(_raw|_rect|_rect_color|_color|_mono|_rect_compressed)?|compressed|"
                           r"compressedDepth|audio|audio_stamped))+$")


def normalize_msgtype(t: str) -> str:
    """ROS 1 bags name types ``sensor_msgs/PointCloud2``; ROS 2 ``sensor_msgs/msg/PointCloud2`` (returned)."""
    parts = t.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else t


def sensor_name_for_topic(topic: str) -> str:
    """Default sensor name of a topic: ``/CAM_FRONT/image_rect_compressed`` -> ``CAM_FRONT``,
    ``/LIDAR_TOP`` -> ``LIDAR_TOP``, ``/camera/color/image_raw`` -> ``camera_color``."""
    base = _IMAGE_SUFFIX.sub("", topic.rstrip("/")) or topic
    return base.strip("/").replace("/", "_") or topic


def camera_info_topics(image_topic: str) -> list[str]:
    """Where the CameraInfo of an image topic is looked for, in order: ``/ns/image_raw`` -> ``/ns/camera_info``,
    ``/cam/image_raw/compressed`` -> ``/cam/camera_info``."""
    ns = image_topic.rsplit("/", 1)[0]
    base = _IMAGE_SUFFIX.sub("", image_topic.rstrip("/"))
    return [f"{ns}/camera_info", f"{base}/camera_info"]


def header_stamp_us(raw: bytes, ros1: bool) -> int | None:
    """Header stamp (µs) read from the first bytes of a serialized message whose first field is a Header.

    CDR: 4-byte encapsulation (byte 1 = 1 for little endian), then int32 sec, uint32 nanosec.
    ROS 1: uint32 seq, then uint32 sec, uint32 nsec (little endian).
    """
    if len(raw) < 12:
        return None
    if ros1:
        sec, nsec = struct.unpack_from("<II", raw, 4)
    else:
        fmt = "<iI" if raw[1] == 1 else ">iI"
        sec, nsec = struct.unpack_from(fmt, raw, 4)
    return sec * 1_000_000 + nsec // 1000


@dataclass
class BagStream:
    """One topic of a bag and the per-message facts of the indexing pass."""

    topic: str
    msgtype: str
    conns: list
    name: str = ""
    kind: str = "other"
    has_header: bool = False
    stamps_us: list = field(default_factory=list)   # header stamp (or log time) per message
    log_ns: list = field(default_factory=list)      # log (receive) time per message, ns
    ordinal: list = field(default_factory=list)     # rank among this topic's messages sharing that log time


def pick_sensor_streams(streams: dict[str, BagStream], topics: dict[str, str] | None,
                        path: str) -> dict[str, BagStream]:
    """Sensor name -> stream of the topics that go into frames (and set their ``name`` / ``kind``).

    ``topics`` (sensor name -> topic) chooses and names them; by default every PointCloud2, Image /
    CompressedImage and audio topic, named by :func:`sensor_name_for_topic` (for a camera with both
    raw and compressed topics, raw wins).

    Raises:
        LogFormatError: a topic of ``topics`` is not in the bag or is not a sensor stream.
    """
    chosen: dict[str, BagStream] = {}
    if topics is not None:
        for name, topic in topics.items():
            if topic not in streams:
                raise LogFormatError(f"{path}: topic {topic!r} (sensor {name!r}) is not in the bag; "
                                     f"topics: {sorted(streams)}")
            s = streams[topic]
            if s.msgtype not in SENSOR_KINDS_BY_TYPE:
                raise LogFormatError(f"{path}: topic {topic!r} has type {s.msgtype}, which is not a "
                                     f"sensor stream ({', '.join(SENSOR_KINDS_BY_TYPE)})")
            chosen[name] = s
    else:
        for topic in sorted(streams):
            s = streams[topic]
            if s.msgtype not in SENSOR_KINDS_BY_TYPE:
                continue
            name = sensor_name_for_topic(topic)
            if name in chosen:  # e.g. image_raw and image_raw/compressed of one camera: raw wins
                if chosen[name].msgtype == IMAGE or s.msgtype != IMAGE:
                    continue
            chosen[name] = s
    for name, s in chosen.items():
        s.name, s.kind = name, SENSOR_KINDS_BY_TYPE[s.msgtype]
    return chosen


def read_messages(reader: Any, wanted: dict[str, tuple[BagStream, int]]) -> dict[str, Any]:
    """Deserialize several sensors' messages (sensor name -> (stream, message index)) in one pass over the bag.

    One ranged read from the earliest to the latest wanted log time: each seek would re-read and
    re-check a whole storage chunk. Values are messages, or a BadRecordError for a bad one.
    """
    if not wanted:
        return {}
    targets = {}
    for name, (s, i) in wanted.items():
        targets[(s.topic, s.log_ns[i], s.ordinal[i])] = name
    conns = [c for s, _ in wanted.values() for c in s.conns]
    lo = min(t for _, t, _ in targets)
    hi = max(t for _, t, _ in targets)
    seen: dict[tuple[str, int], int] = {}
    out: dict[str, Any] = {}
    for conn, t_ns, raw in reader.messages(connections=conns, start=lo, stop=hi + 1):
        key = (conn.topic, t_ns)
        k = seen.get(key, 0)
        seen[key] = k + 1
        name = targets.get((conn.topic, t_ns, k))
        if name is None:
            continue
        try:
            out[name] = reader.deserialize(raw, conn.msgtype)
        except Exception as e:  # rosbags raises several error types for malformed CDR
            s, i = wanted[name]
            out[name] = BadRecordError(s.topic, f"cannot deserialize {s.msgtype} ({e})", index=i)
        if len(out) == len(targets):
            break
    for name, (s, i) in wanted.items():
        if name not in out:
            out[name] = BadRecordError(s.topic, f"message at log time {s.log_ns[i]} ns not found on re-read", i)
    return out
