"""ROS bags through ``rosbags``: ROS 2 (.db3 / .mcap, a bag folder or a single storage file) and ROS 1 (.bag).

Streams and message types read into frames:

- ``sensor_msgs/msg/PointCloud2`` -> LiDAR (any field layout, see :mod:`multimodal.sensors.ros_messages`);
- ``sensor_msgs/msg/Image`` and ``CompressedImage`` -> camera, with ``CameraInfo`` from the
  sibling ``camera_info`` topic (``/ns/image_raw`` -> ``/ns/camera_info``);
- ``audio_common_msgs/msg/AudioDataStamped`` (+ ``AudioInfo``) -> audio (layout in ``ros_messages``);
- ``tf`` / ``tf_static`` -> calibration (``T_ego_from_sensor``, looked up ``ego_frame`` <- the
  message's ``header.frame_id``) and ego pose (``world_frame`` <- ``ego_frame``), interpolated at
  each message's header stamp.

Other topics (IMU, odometry, GPS, ...) are listed in :attr:`RosbagLog.sensors` but do not enter frames;
``sensors=`` narrows the sensors frames carry (names, topics or kinds, see :mod:`multimodal.sensors.selection`).
Topic naming and stream choice are in :mod:`multimodal.sensors.rosbag_streams`.

Opening makes one pass over the bag that reads raw bytes only (header stamps are read straight
from the serialized message), plus deserialization of the small tf / info topics. Sensor
messages are deserialized when a frame is asked for, by seeking to their log time.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import SensorInfo, SensorLog
from .errors import BadRecordError, IssueCounter, LogFormatError, MissingFileError
from .frame import AudioChunk, CameraImage, Frame, LidarSweep
from .rosbag_streams import (
    AUDIO_INFO,
    CAMERA_INFO,
    IMAGE,
    INFO_TYPES,
    OTHER_KINDS,
    TF,
    BagStream,
    camera_info_topics,
    header_stamp_us,
    normalize_msgtype,
    pick_sensor_streams,
    read_messages,
    sensor_name_for_topic,
)
from .selection import SensorSelection, resolve_selection
from .sync import SyncReport, match_nearest, summarize_match
from .tf_tree import TransformLookupError, TransformTree

__all__ = ["SUPPORTED_STORAGE", "RosbagLog", "sensor_name_for_topic"]

BAG_SUFFIXES = (".bag", ".db3", ".mcap")
SUPPORTED_STORAGE = ("a rosbag2 folder (metadata.yaml)", ".db3", ".mcap", ".bag (ROS 1)")


class RosbagLog(SensorLog):
    """A ROS bag as frames.

    Args:
        path: rosbag2 folder, ``.db3`` / ``.mcap`` file, or ROS 1 ``.bag`` file.
        topics: sensor name -> topic, to choose which streams go into frames and how they are named
            (default: every PointCloud2, Image/CompressedImage and audio topic, named by
            :func:`sensor_name_for_topic`; for a camera with both raw and compressed topics, raw wins).
        sensors: which of those sensors frames carry: sensor names, their topics and/or kinds
            (``lidar``, ``camera``, ``audio``); None for all. Unselected messages are never
            deserialized; the frames (reference messages) stay the same.
        reference: sensor whose messages define the frames (default: the first LiDAR, else the
            first camera, else audio).
        tolerance_us: largest time gap between the reference message and another sensor's (µs).
        ego_frame: the vehicle body frame in tf (``base_link``).
        world_frame: the fixed frame of the ego pose; default the first of ``map``, ``odom``,
            ``world`` present in tf; poses are None without one.
        tf_tolerance_us: how far a transform may be extrapolated past its first / last sample (µs).
        audio_format: format of the audio topic when the bag has no ``AudioInfo``.
        strict: raise on the first bad message instead of skipping and counting it.

    Raises:
        MissingFileError / LogFormatError: the bag does not exist, or is not a storage rosbags reads;
            a ``topics`` entry or ``reference`` is not a sensor stream of the bag.
        NoSuchSensorError: a ``sensors`` entry names no sensor of the bag.
    """

    format = "rosbag"
    accepts = "bags (.bag, .db3, .mcap, or a rosbag2 folder with metadata.yaml)"

    @classmethod
    def sniff(cls, path: str | os.PathLike) -> bool:
        """A folder with ``metadata.yaml`` (rosbag2), or a ``.bag`` / ``.db3`` / ``.mcap`` file."""
        p = Path(path)
        if p.is_dir():
            return (p / "metadata.yaml").is_file()
        return p.suffix.lower() in BAG_SUFFIXES

    def __init__(self, path: str | os.PathLike, *, topics: dict[str, str] | None = None,
                 sensors: SensorSelection = None, reference: str | None = None, tolerance_us: int = 50_000,
                 ego_frame: str = "base_link", world_frame: str | None = None, tf_tolerance_us: int = 100_000,
                 audio_format: Any = None, strict: bool = False, show_progress: bool = False):
        self.path = str(path)
        self._open_bag(Path(path))
        self.issues = IssueCounter(strict=strict)
        self.notes: list[str] = []
        self.tolerance_us = int(tolerance_us)
        self.tf_tolerance_us = int(tf_tolerance_us)
        self.ego_frame = ego_frame
        self._all_streams = self._list_streams()
        self._streams = pick_sensor_streams(self._all_streams, topics, self.path)
        self.frame_sensors = resolve_selection(
            sensors, {n: s.kind for n, s in self._streams.items()}, self.path,
            aliases={s.topic: n for n, s in self._streams.items()})
        self._index_messages(show_progress)
        self._settle_audio_format(audio_format)
        self._settle_tf_frames(world_frame)
        self._match_to_reference(reference)

    # --- opening, step by step ------------------------------------------------------------------
    def _open_bag(self, p: Path) -> None:
        """Check the path and open it with rosbags' AnyReader (the package's one typestore as default)."""
        from rosbags.highlevel import AnyReader, AnyReaderError

        from .ros_messages import ros_typestore

        if not p.exists():
            raise MissingFileError(self.path, "bag does not exist")
        if p.is_file() and p.suffix not in BAG_SUFFIXES:
            raise LogFormatError(f"{self.path}: unknown bag storage {p.suffix!r}; supported: "
                                 f"{', '.join(SUPPORTED_STORAGE)}")
        if p.is_dir() and not (p / "metadata.yaml").is_file():
            raise LogFormatError(f"{self.path}: folder has no metadata.yaml, so it is not a rosbag2 bag")
        self.ros1 = p.suffix == ".bag"
        try:
            self._reader = AnyReader([p], default_typestore=ros_typestore())
            self._reader.open()
        except (AnyReaderError, Exception) as e:  # rosbags raises several error types for bad storage
            if isinstance(e, FileNotFoundError):
                raise MissingFileError(self.path, str(e)) from e
            raise LogFormatError(f"{self.path}: cannot open bag ({type(e).__name__}: {e}); supported storage: "
                                 f"{', '.join(SUPPORTED_STORAGE)}") from e

    def _list_streams(self) -> dict[str, BagStream]:
        """Topic -> stream (its connections, normalized type, whether messages start with a Header)."""
        streams: dict[str, BagStream] = {}
        for c in self._reader.connections:
            s = streams.setdefault(c.topic, BagStream(topic=c.topic, msgtype=normalize_msgtype(c.msgtype), conns=[]))
            s.conns.append(c)
        for s in streams.values():
            s.has_header = self._has_header(s.conns[0].msgtype)
        return streams

    def _index_messages(self, show_progress: bool) -> None:
        """One pass over the bag: header stamps of everything (raw bytes), tf into the tree, CameraInfo /
        AudioInfo deserialized."""
        reader, streams = self._reader, self._all_streams
        self.tf = TransformTree()
        self._camera_info: dict[str, list[tuple[int, Any]]] = {}
        self._audio_info: Any | None = None
        info_topics = {t for t, s in streams.items() if s.msgtype in INFO_TYPES}
        seen_at: dict[tuple[str, int], int] = {}
        it = reader.messages()
        if show_progress:
            from tqdm import tqdm
            it = tqdm(it, total=sum(c.msgcount for c in reader.connections), unit="msg", desc="indexing bag")
        for conn, t_ns, raw in it:
            s = streams[conn.topic]
            stamp = header_stamp_us(raw, self.ros1) if s.has_header else None
            key = (conn.topic, t_ns)
            s.ordinal.append(seen_at.get(key, 0))
            seen_at[key] = seen_at.get(key, 0) + 1
            s.log_ns.append(t_ns)
            s.stamps_us.append(stamp if stamp is not None and stamp > 0 else t_ns // 1000)
            if conn.topic in info_topics:
                self._take_info_message(s, conn, raw)

    def _take_info_message(self, s: BagStream, conn: Any, raw: bytes) -> None:
        index = len(s.log_ns) - 1
        try:
            msg = self._reader.deserialize(raw, conn.msgtype)
        except Exception as e:
            self.issues.skip(BadRecordError(conn.topic, f"cannot deserialize ({e})", index=index))
            return
        if s.msgtype == TF:
            self._add_tf(msg, static=conn.topic.endswith("tf_static"))
        elif s.msgtype == CAMERA_INFO:
            self._camera_info.setdefault(conn.topic, []).append((s.stamps_us[-1], msg))
        elif s.msgtype == AUDIO_INFO:
            self._audio_info = msg

    def _settle_audio_format(self, audio_format: Any) -> None:
        """The given format, else the bag's AudioInfo, else mono S16LE 16 kHz (said in ``notes``)."""
        from .ros_messages import AudioFormat

        if audio_format is not None:
            self.audio_format = audio_format
        elif self._audio_info is not None:
            self.audio_format = AudioFormat.from_info_msg(self._audio_info)
        else:
            self.audio_format = AudioFormat(channels=1, sample_rate=16000, sample_format="S16LE")
            if any(self._streams[n].kind == "audio" for n in self.frame_sensors):
                self.notes.append("no AudioInfo topic: audio assumed mono S16LE 16 kHz (pass audio_format=...)")

    def _settle_tf_frames(self, world_frame: str | None) -> None:
        """The world frame of the poses (default: map, odom or world in tf); notes for missing tf frames."""
        if world_frame is None:
            world_frame = next((f for f in ("map", "odom", "world") if f in self.tf), None)
        self.world_frame = world_frame
        if world_frame is None and self._streams:
            self.notes.append("tf has no map/odom/world frame: ego poses are None")
        if self._streams and self.ego_frame not in self.tf:
            self.notes.append(f"tf has no {self.ego_frame!r} frame: sensors whose frame is not {self.ego_frame!r} "
                              "get an identity T_ego_from_sensor")

    def _match_to_reference(self, reference: str | None) -> None:
        """Frames = the reference sensor's messages; each selected sensor contributes its nearest message
        within ``tolerance_us`` (one-to-one, except audio), what does not match is counted in ``sync``."""
        chosen = self._streams
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
            kinds = sorted({OTHER_KINDS.get(s.msgtype, s.msgtype) for s in self._all_streams.values()})
            self.notes.insert(0, f"no LiDAR (PointCloud2), camera (Image/CompressedImage) or audio topic in "
                                 f"this bag, so it has no frames; it holds: {', '.join(kinds) or 'nothing'}")
            return
        ref = np.asarray(chosen[reference].stamps_us, dtype=np.int64)
        self._frames = [{reference: i} for i in range(ref.size)]
        for name in self.frame_sensors:
            s = chosen[name]
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
        """Messages (or a BadRecordError each) of several sensors, sensor name -> message index, in one read."""
        return read_messages(self._reader, {name: (self._streams[name], i) for name, i in wanted.items()})

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

    def _camera_info_for(self, s: BagStream, t_us: int) -> Any | None:
        for topic in camera_info_topics(s.topic):
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
        # the reference's index stays in the frame record (it times the frame) even when it is not selected
        members = {n: i for n, i in self._frames[index].items() if n in self.frame_sensors}
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
