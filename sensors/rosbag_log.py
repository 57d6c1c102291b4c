"""ROS bags through ``rosbags``: ROS 2 (.db3 / .mcap, a bag folder or a single storage file) and ROS 1 (.bag).

Streams and message types read into frames:

- ``sensor_msgs/msg/PointCloud2`` -> LiDAR (any field layout, see :mod:`multimodal.sensors.ros_messages`);
- ``sensor_msgs/msg/Image`` and ``CompressedImage`` -> camera, with ``CameraInfo`` from the
  sibling ``camera_info`` topic (``/ns/image_raw`` -> ``/ns/camera_info``);
- ``audio_common_msgs/msg/AudioDataStamped`` (+ ``AudioInfo``) -> audio (layout in ``ros_messages``);
- ``tf`` / ``tf_static`` -> calibration (``T_ego_from_sensor``, looked up ``ego_frame`` <- the
  message's ``header.frame_id``) and ego pose (``world_frame`` <- ``ego_frame``), interpolated at
  each message's header stamp.

Other topics (IMU, odometry, GPS, ...) are listed in :attr:`RosbagLog.sensors` but do not enter frames.

Opening makes one pass over the bag that reads raw bytes only (header stamps are read straight
from the serialized message), plus deserialization of the small tf / info topics. Sensor
messages are deserialized when a frame is asked for, by seeking to their log time.
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .base import SensorInfo, SensorLog
from .errors import BadRecordError, IssueCounter, LogFormatError, MissingFileError
from .frame import AudioChunk, CameraImage, Frame, LidarSweep
from .sync import SyncReport, match_nearest, summarize_match
from .tf_tree import TransformLookupError, TransformTree

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
TF = "tf2_msgs/msg/TFMessage"
AUDIO = "audio_common_msgs/msg/AudioDataStamped"
AUDIO_INFO = "audio_common_msgs/msg/AudioInfo"
OTHER_KINDS = {
    "sensor_msgs/msg/Imu": "imu", "nav_msgs/msg/Odometry": "odometry", "sensor_msgs/msg/NavSatFix": "gps",
    "geometry_msgs/msg/PoseStamped": "pose", "geometry_msgs/msg/PoseWithCovarianceStamped": "pose",
    TF: "calibration", CAMERA_INFO: "calibration", AUDIO_INFO: "calibration",
}
# Topic suffixes that name a stream rather than the sensor (image_raw, compressed, audio): stripped to name it.
_IMAGE_SUFFIX = re.compile(r"(/(image(_raw|_rect|_rect_color|_color|_mono|_rect_compressed)?|compressed|"
                           r"compressedDepth|audio|audio_stamped))+$")
SUPPORTED_STORAGE = ("a rosbag2 folder (metadata.yaml)", ".db3", ".mcap", ".bag (ROS 1)")


def _normalize_msgtype(t: str) -> str:
    # ROS 1 bags name types 'sensor_msgs/PointCloud2'; ROS 2 'sensor_msgs/msg/PointCloud2'.
    parts = t.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else t


def sensor_name_for_topic(topic: str) -> str:
    """Default sensor name of a topic: ``/CAM_FRONT/image_rect_compressed`` -> ``CAM_FRONT``,
    ``/LIDAR_TOP`` -> ``LIDAR_TOP``, ``/camera/color/image_raw`` -> ``camera_color``."""
    base = _IMAGE_SUFFIX.sub("", topic.rstrip("/")) or topic
    return base.strip("/").replace("/", "_") or topic


def _header_stamp_us(raw: bytes, ros1: bool) -> int | None:
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
class _Stream:
    topic: str
    msgtype: str
    conns: list
    name: str = ""
    kind: str = "other"
    has_header: bool = False
    stamps_us: list = field(default_factory=list)   # header stamp (or log time) per message
    log_ns: list = field(default_factory=list)      # log (receive) time per message, ns
    ordinal: list = field(default_factory=list)     # rank among this topic's messages sharing that log time


class RosbagLog(SensorLog):
    """A ROS bag as frames.

    Args:
        path: rosbag2 folder, ``.db3`` / ``.mcap`` file, or ROS 1 ``.bag`` file.
        topics: sensor name -> topic, to choose which streams go into frames and how they are named
            (default: every PointCloud2, Image/CompressedImage and audio topic, named by
            :func:`sensor_name_for_topic`; for a camera with both raw and compressed topics, raw wins).
        reference: sensor whose messages define the frames (default: the first LiDAR, else the
            first camera, else audio).
        tolerance_us: largest time gap between the reference message and another sensor's (µs).
        ego_frame: the vehicle body frame in tf (``base_link``).
        world_frame: the fixed frame of the ego pose; default the first of ``map``, ``odom``,
            ``world`` present in tf; poses are None without one.
        tf_tolerance_us: how far a transform may be extrapolated past its first / last sample (µs).
        audio_format: format of the audio topic when the bag has no ``AudioInfo``.
        strict: raise on the first bad message instead of skipping and counting it.
    """

    format = "rosbag"

    def __init__(self, path: str | os.PathLike, *, topics: dict[str, str] | None = None,
                 reference: str | None = None, tolerance_us: int = 50_000, ego_frame: str = "base_link",
                 world_frame: str | None = None, tf_tolerance_us: int = 100_000,
                 audio_format: Any = None, strict: bool = False, show_progress: bool = False):
        from rosbags.highlevel import AnyReader, AnyReaderError

        from .ros_messages import AudioFormat, ros_typestore

        self.path = str(path)
        p = Path(path)
        if not p.exists():
            raise MissingFileError(self.path, "bag does not exist")
        if p.is_file() and p.suffix not in (".db3", ".mcap", ".bag"):
            raise LogFormatError(f"{self.path}: unknown bag storage {p.suffix!r}; supported: "
                                 f"{', '.join(SUPPORTED_STORAGE)}")
        if p.is_dir() and not (p / "metadata.yaml").is_file():
            raise LogFormatError(f"{self.path}: folder has no metadata.yaml, so it is not a rosbag2 bag")
        self.issues = IssueCounter(strict=strict)
        self.notes: list[str] = []
        self.tolerance_us = int(tolerance_us)
        self.tf_tolerance_us = int(tf_tolerance_us)
        self.ego_frame = ego_frame
        self.ros1 = p.suffix == ".bag"
        try:
            self._reader = AnyReader([p], default_typestore=ros_typestore())
            self._reader.open()
        except (AnyReaderError, Exception) as e:  # rosbags raises several error types for bad storage
            if isinstance(e, FileNotFoundError):
                raise MissingFileError(self.path, str(e)) from e
            raise LogFormatError(f"{self.path}: cannot open bag ({type(e).__name__}: {e}); supported storage: "
                                 f"{', '.join(SUPPORTED_STORAGE)}") from e
        reader = self._reader

        streams: dict[str, _Stream] = {}
        for c in reader.connections:
            mt = _normalize_msgtype(c.msgtype)
            s = streams.setdefault(c.topic, _Stream(topic=c.topic, msgtype=mt, conns=[]))
            s.conns.append(c)
        for s in streams.values():
            s.has_header = self._has_header(s.conns[0].msgtype)

        # Pick sensor streams.
        by_kind = {POINTCLOUD2: "lidar", IMAGE: "camera", COMPRESSED: "camera", AUDIO: "audio"}
        chosen: dict[str, _Stream] = {}
        if topics is not None:
            for name, topic in topics.items():
                if topic not in streams:
                    raise LogFormatError(f"{self.path}: topic {topic!r} (sensor {name!r}) is not in the bag; "
                                         f"topics: {sorted(streams)}")
                s = streams[topic]
                if s.msgtype not in by_kind:
                    raise LogFormatError(f"{self.path}: topic {topic!r} has type {s.msgtype}, which is not a "
                                         f"sensor stream ({', '.join(by_kind)})")
                chosen[name] = s
        else:
            for topic in sorted(streams):
                s = streams[topic]
                if s.msgtype not in by_kind:
                    continue
                name = sensor_name_for_topic(topic)
                if name in chosen:  # e.g. image_raw and image_raw/compressed of one camera: raw wins
                    if chosen[name].msgtype == IMAGE or s.msgtype != IMAGE:
                        continue
                chosen[name] = s
        for name, s in chosen.items():
            s.name, s.kind = name, by_kind[s.msgtype]
        self._streams = chosen
        self._all_streams = streams

        # One pass: header stamps of everything, tf into the tree, CameraInfo / AudioInfo deserialized.
        self.tf = TransformTree()
        self._camera_info: dict[str, list[tuple[int, Any]]] = {}
        self._audio_info: Any | None = None
        info_topics = {t for t, s in streams.items() if s.msgtype in (TF, CAMERA_INFO, AUDIO_INFO)}
        seen_at: dict[tuple[str, int], int] = {}
        it = reader.messages()
        if show_progress:
            from tqdm import tqdm
            it = tqdm(it, total=sum(c.msgcount for c in reader.connections), unit="msg", desc="indexing bag")
        for conn, t_ns, raw in it:
            s = streams[conn.topic]
            stamp = _header_stamp_us(raw, self.ros1) if s.has_header else None
            key = (conn.topic, t_ns)
            s.ordinal.append(seen_at.get(key, 0))
            seen_at[key] = seen_at.get(key, 0) + 1
            s.log_ns.append(t_ns)
            s.stamps_us.append(stamp if stamp is not None and stamp > 0 else t_ns // 1000)
            if conn.topic in info_topics:
                index = len(s.log_ns) - 1
                try:
                    msg = reader.deserialize(raw, conn.msgtype)
                except Exception as e:
                    self.issues.skip(BadRecordError(conn.topic, f"cannot deserialize ({e})", index=index))
                    continue
                if s.msgtype == TF:
                    self._add_tf(msg, static=conn.topic.endswith("tf_static"))
                elif s.msgtype == CAMERA_INFO:
                    self._camera_info.setdefault(conn.topic, []).append((s.stamps_us[-1], msg))
                else:
                    self._audio_info = msg
        if audio_format is not None:
            self.audio_format = audio_format
        elif self._audio_info is not None:
            self.audio_format = AudioFormat.from_info_msg(self._audio_info)
        else:
            self.audio_format = AudioFormat(channels=1, sample_rate=16000, sample_format="S16LE")
            if any(s.kind == "audio" for s in chosen.values()):
                self.notes.append("no AudioInfo topic: audio assumed mono S16LE 16 kHz (pass audio_format=...)")

        if world_frame is None:
            world_frame = next((f for f in ("map", "odom", "world") if f in self.tf), None)
        self.world_frame = world_frame
        if world_frame is None and chosen:
            self.notes.append("tf has no map/odom/world frame: ego poses are None")
        if chosen and ego_frame not in self.tf:
            self.notes.append(f"tf has no {ego_frame!r} frame: sensors whose frame is not {ego_frame!r} get an "
                              "identity T_ego_from_sensor")

        # Reference stream and synchronization.
        if reference is None:
            for kind in ("lidar", "camera", "audio"):
                reference = next((n for n, s in sorted(chosen.items()) if s.kind == kind), None)
                if reference:
                    break
        elif reference not in chosen:
            raise LogFormatError(f"{self.path}: reference sensor {reference!r} is not one of {sorted(chosen)}")
        self.reference = reference
        self._frames: list[dict[str, int]] = []
        self.sync = SyncReport(reference=reference or "", tolerance_us=self.tolerance_us)
        if reference is None:
            kinds = sorted({OTHER_KINDS.get(s.msgtype, s.msgtype) for s in streams.values()})
            self.notes.insert(0, f"no LiDAR (PointCloud2), camera (Image/CompressedImage) or audio topic in "
                                 f"this bag, so it has no frames; it holds: {', '.join(kinds) or 'nothing'}")
            return
        ref = np.asarray(chosen[reference].stamps_us, dtype=np.int64)
        self._frames = [{reference: i} for i in range(ref.size)]
        for name, s in chosen.items():
            if name == reference:
                continue
            ts = np.asarray(s.stamps_us, dtype=np.int64)
            m = match_nearest(ref, ts, self.tolerance_us, unique=s.kind != "audio")
            self.sync.streams[name] = summarize_match(ref, ts, m)
            for i, j in enumerate(m):
                if j >= 0:
                    self._frames[i][name] = int(j)
            unused = self.sync.streams[name].unused
            if unused and s.kind != "audio":
                self.issues.add(f"unmatched:{name}", unused)

    # --- helpers -------------------------------------------------------------------------------
    def _has_header(self, msgtype: str) -> bool:
        try:
            _, fields = self._reader.typestore.fielddefs[msgtype]
        except KeyError:
            return False
        return bool(fields) and fields[0][0] == "header"

    def _add_tf(self, msg: Any, static: bool) -> None:
        from .ros_messages import transform_stamped_to_matrix

        for tr in msg.transforms:
            parent, child, T, t_us = transform_stamped_to_matrix(tr)
            self.tf.add(parent, child, T, t_us, static=static)

    def _read_many(self, wanted: dict[str, int]) -> dict[str, Any]:
        """Deserialize several sensors' messages (sensor name -> message index) in one pass over the bag.

        One ranged read from the earliest to the latest wanted log time: each seek would re-read and
        re-check a whole storage chunk. Values are messages, or a BadRecordError for a bad one.
        """
        targets = {}
        for name, i in wanted.items():
            s = self._streams[name]
            targets[(s.topic, s.log_ns[i], s.ordinal[i])] = name
        conns = [c for name in wanted for c in self._streams[name].conns]
        lo = min(t for _, t, _ in targets)
        hi = max(t for _, t, _ in targets)
        seen: dict[tuple[str, int], int] = {}
        out: dict[str, Any] = {}
        for conn, t_ns, raw in self._reader.messages(connections=conns, start=lo, stop=hi + 1):
            key = (conn.topic, t_ns)
            k = seen.get(key, 0)
            seen[key] = k + 1
            name = targets.get((conn.topic, t_ns, k))
            if name is None:
                continue
            try:
                out[name] = self._reader.deserialize(raw, conn.msgtype)
            except Exception as e:  # rosbags raises several error types for malformed CDR
                s = self._streams[name]
                out[name] = BadRecordError(s.topic, f"cannot deserialize {s.msgtype} ({e})", index=wanted[name])
            if len(out) == len(targets):
                break
        for name, i in wanted.items():
            if name not in out:
                s = self._streams[name]
                out[name] = BadRecordError(s.topic, f"message at log time {s.log_ns[i]} ns not found on re-read", i)
        return out

    def _T_ego_from(self, frame_id: str, t_us: int, source: str) -> np.ndarray:
        frame_id = frame_id.lstrip("/")
        if frame_id == self.ego_frame or not frame_id:
            return np.eye(4)
        try:
            return self.tf.lookup(self.ego_frame, frame_id, t_us, self.tf_tolerance_us)
        except TransformLookupError as e:
            self.issues.add(f"no_calibration:{source}", 1, f"{source}: no transform {self.ego_frame} <- {frame_id} "
                            f"({e}); using identity")
            return np.eye(4)

    def _pose(self, t_us: int) -> np.ndarray | None:
        if self.world_frame is None:
            return None
        try:
            return self.tf.lookup(self.world_frame, self.ego_frame, t_us, self.tf_tolerance_us)
        except TransformLookupError as e:
            self.issues.add("no_pose", 1, f"ego pose {self.world_frame} <- {self.ego_frame} at {t_us} µs: {e}")
            return None

    def _camera_info_for(self, s: _Stream, t_us: int) -> Any | None:
        ns = s.topic.rsplit("/", 1)[0]
        candidates = [f"{ns}/camera_info"]
        # /cam/image_raw/compressed -> /cam/camera_info
        base = _IMAGE_SUFFIX.sub("", s.topic.rstrip("/"))
        candidates.append(f"{base}/camera_info")
        for topic in candidates:
            infos = self._camera_info.get(topic)
            if infos:
                return min(infos, key=lambda r: abs(r[0] - t_us))[1]
        return None

    def load_sensor(self, name: str, i: int, msg: Any = None) -> LidarSweep | CameraImage | AudioChunk:
        """Message ``i`` of sensor ``name`` as frame data (raises BadRecordError for a bad message).

        ``msg`` is the already deserialized message, when the caller read it.
        """
        from .ros_messages import (
            audio_to_array,
            camera_info_to_calibration,
            compressed_image_to_rgb,
            image_to_rgb,
            pointcloud2_to_array,
        )

        s = self._streams[name]
        if msg is None:
            msg = self._read_many({name: i})[name]
        if isinstance(msg, BadRecordError):
            raise msg
        t_us = s.stamps_us[i]
        frame_id = msg.header.frame_id
        if s.kind == "lidar":
            pts, fields, dropped = pointcloud2_to_array(msg, source=s.topic, index=i)
            if dropped:
                self.issues.add("nonfinite_points", dropped, f"{s.topic} [message {i}]: dropped {dropped} points "
                                "with NaN/inf coordinates")
            return LidarSweep(points=pts, T_ego_from_sensor=self._T_ego_from(frame_id, t_us, s.topic),
                              timestamp_us=t_us, T_world_from_ego=self._pose(t_us), fields=tuple(fields),
                              frame_id=frame_id or name)
        if s.kind == "camera":
            rgb = (image_to_rgb if s.msgtype == IMAGE else compressed_image_to_rgb)(msg, source=s.topic, index=i)
            info = self._camera_info_for(s, t_us)
            if info is None:
                raise BadRecordError(s.topic, "no CameraInfo for this camera (looked for a sibling camera_info "
                                     "topic), so its intrinsics are unknown", index=i, field="camera_info")
            K, dist, _ = camera_info_to_calibration(info, source=s.topic, index=i)
            return CameraImage(image=rgb, K=K, T_ego_from_sensor=self._T_ego_from(frame_id, t_us, s.topic),
                               timestamp_us=t_us, T_world_from_ego=self._pose(t_us), distortion=dist,
                               frame_id=frame_id or name)
        samples = audio_to_array(msg, self.audio_format, source=s.topic, index=i)
        return AudioChunk(samples=samples, sample_rate=int(self.audio_format.sample_rate), timestamp_us=t_us,
                          T_ego_from_sensor=self._T_ego_from(frame_id, t_us, s.topic), frame_id=frame_id or name)

    # --- SensorLog API ----------------------------------------------------------------------------
    @property
    def sensors(self) -> dict[str, SensorInfo]:
        out = {}
        names = {s.topic: n for n, s in self._streams.items()}
        for topic, s in sorted(self._all_streams.items()):
            name = names.get(topic, topic)
            kind = s.kind if topic in names else OTHER_KINDS.get(s.msgtype, "other")
            st = s.stamps_us
            out[name] = SensorInfo(name=name, kind=kind, source=topic, count=len(st), msgtype=s.msgtype,
                                   first_us=min(st) if st else None, last_us=max(st) if st else None)
        return out

    def __len__(self) -> int:
        return len(self._frames)

    def _frame_time_us(self, index: int) -> int:
        return int(self._streams[self.reference].stamps_us[self._frames[index][self.reference]])

    def frame_timestamps_us(self) -> list[int]:
        st = self._streams[self.reference].stamps_us if self.reference else []
        return [int(st[f[self.reference]]) for f in self._frames]

    def _load_frame(self, index: int) -> Frame:
        members = self._frames[index]
        t_ref = self._frame_time_us(index)
        frame = Frame(timestamp_us=t_ref, T_world_from_ego=self._pose(t_ref), token=f"{self.reference}@{t_ref}")
        messages = self._read_many(members)
        slots = {"lidar": frame.lidars, "camera": frame.cameras, "audio": frame.audio}
        for name, i in members.items():
            try:
                data = self.load_sensor(name, i, messages[name])
            except BadRecordError as e:
                self.issues.skip(e)
                continue
            slots[self._streams[name].kind][name] = data
        return frame

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> RosbagLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
