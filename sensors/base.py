"""What every log reader offers: a sized, indexable, iterable sequence of :class:`Frame`.

Readers keep only an index in memory (timestamps, file names, message positions) and load
sensor data when a frame is asked for, so a 300 GB dataset opens in seconds.
"""
from __future__ import annotations

import abc
import os
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import IssueCounter
from .frame import Frame
from .sync import SyncReport

SENSOR_KINDS = ("lidar", "camera", "audio", "imu", "odometry", "gps", "pose", "calibration", "other")


@dataclass
class SensorInfo:
    """One stream of a log.

    Attributes:
        name: sensor name used as key in :class:`Frame` (``LIDAR_TOP``, ``CAM_FRONT`` ...).
        kind: one of ``SENSOR_KINDS``.
        source: where it comes from (topic, table channel, media stream).
        count: number of messages / records.
        first_us / last_us: time span (µs), None when the stream is empty.
        msgtype: message or record type (``sensor_msgs/msg/PointCloud2``, ``sample_data`` ...).
    """

    name: str
    kind: str
    source: str
    count: int
    first_us: int | None = None
    last_us: int | None = None
    msgtype: str = ""

    @property
    def rate_hz(self) -> float:
        """Mean message rate (Hz), 0 for fewer than two messages."""
        if self.count < 2 or self.first_us is None or self.last_us is None or self.last_us <= self.first_us:
            return 0.0
        return (self.count - 1) / ((self.last_us - self.first_us) * 1e-6)

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "source": self.source, "msgtype": self.msgtype,
            "count": self.count, "first_us": self.first_us, "last_us": self.last_us,
            "rate_hz": round(self.rate_hz, 4),
        }


class SensorLog(abc.ABC):
    """A recording as a sequence of frames.

    Subclasses set ``path``, ``format``, ``issues`` (an :class:`IssueCounter`), ``sync``
    (a :class:`SyncReport` or None) and ``frame_sensors``, implement ``__len__``, ``_load_frame``
    and ``sensors``, and say which paths they open with :meth:`sniff` and ``accepts``.

    Every reader takes ``sensors=`` (see :mod:`multimodal.sensors.selection`): the sensor names
    and/or kinds (``lidar``, ``camera``, ``audio``) whose data frames carry; None for all.
    """

    path: str
    format: str
    issues: IssueCounter
    sync: SyncReport | None = None
    notes: list[str]
    #: names of the sensors frames carry (after the ``sensors=`` selection)
    frame_sensors: tuple[str, ...] = ()
    #: what :meth:`sniff` recognises, in words, for the error of :func:`~multimodal.sensors.registry.detect_format`
    accepts: str = ""

    @classmethod
    def sniff(cls, path: str | os.PathLike) -> bool:
        """Whether ``path`` (which exists) is in this reader's format, from names and small files only.

        May raise :class:`~multimodal.sensors.errors.LogFormatError` for a near miss that must be
        opened differently (a nuScenes version folder instead of its data root).
        """
        return False

    @property
    @abc.abstractmethod
    def sensors(self) -> dict[str, SensorInfo]:
        """All streams of the log (including ones that do not go into frames, e.g. IMU)."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def _load_frame(self, index: int) -> Frame:
        """Load frame ``index`` (0 <= index < len) from disk."""

    def frame_timestamps_us(self) -> list[int]:
        """Reference timestamps of all frames (µs), without loading sensor data."""
        return [self._frame_time_us(i) for i in range(len(self))]

    def _frame_time_us(self, index: int) -> int:
        return self[index].timestamp_us

    def __getitem__(self, index: int) -> Frame:
        n = len(self)
        if not isinstance(index, (int,)) and not hasattr(index, "__index__"):
            raise TypeError(f"{self.path}: frame index must be an int, got {type(index).__name__}")
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            hint = f"; {self.notes[0]}" if n == 0 and getattr(self, "notes", None) else ""
            raise IndexError(f"{self.path}: frame index {index} out of range for a log of {n} frames{hint}")
        frame = self._load_frame(i)
        frame.index = i
        return frame

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self[i]

    def summary(self) -> dict:
        """Sensors, counts, rates, span, synchronization and skipped-record counts as plain data."""
        infos = self.sensors
        firsts = [s.first_us for s in infos.values() if s.first_us is not None]
        lasts = [s.last_us for s in infos.values() if s.last_us is not None]
        return {
            "path": str(self.path),
            "format": self.format,
            "frames": len(self),
            "start_us": min(firsts) if firsts else None,
            "end_us": max(lasts) if lasts else None,
            "duration_s": (max(lasts) - min(firsts)) * 1e-6 if firsts else 0.0,
            "sensors": {k: v.as_dict() for k, v in infos.items()},
            "sync": self.sync.as_dict() if self.sync is not None else None,
            "issues": self.issues.as_dict(),
            "notes": list(getattr(self, "notes", [])),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, frames={len(self)}, sensors={list(self.sensors)})"
