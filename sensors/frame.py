"""The record type for one moment of a log: :class:`Frame` and its per-sensor parts.

Conventions used everywhere in ``sensors``:

- timestamps are ``int`` microseconds since the Unix epoch (``*_us``);
- lengths are metres, angles radians;
- transforms are 4x4 ``float64`` matrices named ``T_<to>_from_<from>``: ``T_ego_from_lidar @ p_lidar``
  gives the point in the ego (vehicle body) frame; ``T_world_from_ego`` is the ego pose;
- the ego frame follows nuScenes / ROS ``base_link``: x forward, y left, z up;
- camera frames follow OpenCV / nuScenes: x right, y down, z forward (optical frame).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LIDAR_FIELDS = ("x", "y", "z", "intensity")


@dataclass
class LidarSweep:
    """One LiDAR sweep.

    Attributes:
        points: ``(N, C>=4) float32``; columns ``fields`` (``x, y, z`` metres in the *lidar* frame,
            ``intensity`` as the sensor reports it, then any extra columns such as ``ring``).
            Never contains NaN/inf coordinates (readers drop and count them).
        T_ego_from_sensor: ``(4, 4) float64`` lidar-to-ego extrinsics.
        timestamp_us: acquisition time (µs).
        T_world_from_ego: ``(4, 4) float64`` ego pose at ``timestamp_us``, or None if the log has no poses.
        fields: names of the columns of ``points``.
        labels: optional ``(N,)`` per-point class ids (e.g. nuScenes lidarseg), aligned with ``points``.
        frame_id: the sensor's name in the log (``LIDAR_TOP``, a TF frame ...).
    """

    points: np.ndarray
    T_ego_from_sensor: np.ndarray
    timestamp_us: int
    T_world_from_ego: np.ndarray | None = None
    fields: tuple[str, ...] = LIDAR_FIELDS
    labels: np.ndarray | None = None
    frame_id: str = ""

    @property
    def xyz(self) -> np.ndarray:
        """``(N, 3) float32`` coordinates, metres, lidar frame."""
        return self.points[:, :3]

    def __len__(self) -> int:
        return int(self.points.shape[0])


@dataclass
class CameraImage:
    """One camera image with its calibration.

    Attributes:
        image: ``(H, W, 3) uint8`` RGB.
        K: ``(3, 3) float64`` pinhole intrinsics in pixels (rectified image).
        T_ego_from_sensor: ``(4, 4) float64`` camera(optical)-to-ego extrinsics.
        timestamp_us: exposure time (µs).
        T_world_from_ego: ``(4, 4) float64`` ego pose at ``timestamp_us``, or None.
        distortion: optional distortion coefficients (``plumb_bob`` order); None for rectified images.
        frame_id: the camera's name in the log.
    """

    image: np.ndarray
    K: np.ndarray
    T_ego_from_sensor: np.ndarray
    timestamp_us: int
    T_world_from_ego: np.ndarray | None = None
    distortion: np.ndarray | None = None
    frame_id: str = ""

    @property
    def size_wh(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass
class AudioChunk:
    """A chunk of audio.

    Attributes:
        samples: ``(channels, S) float32`` in [-1, 1].
        sample_rate: Hz.
        timestamp_us: time of the first sample (µs).
        T_ego_from_sensor: microphone pose in the ego frame, if known.
        frame_id: the microphone's name in the log.
    """

    samples: np.ndarray
    sample_rate: int
    timestamp_us: int
    T_ego_from_sensor: np.ndarray | None = None
    frame_id: str = ""

    @property
    def duration_s(self) -> float:
        return self.samples.shape[-1] / float(self.sample_rate)


@dataclass
class Frame:
    """Everything the log holds about one moment, keyed by sensor name.

    Attributes:
        timestamp_us: the frame's reference time (µs): the reference sensor's timestamp.
        T_world_from_ego: ``(4, 4) float64`` ego pose at ``timestamp_us`` (None if the log has no poses).
        lidars / cameras / audio: per-sensor data; each carries its own timestamp and ego pose,
            because sensors fire at different times (project with both poses, see ``geometry``).
        index: position of this frame in its log.
        token: the log's own id for the moment (nuScenes sample / sample_data token, bag time ...).
        boxes: optional annotation boxes (reader-specific dicts), when the log has them.
    """

    timestamp_us: int
    T_world_from_ego: np.ndarray | None = None
    lidars: dict[str, LidarSweep] = field(default_factory=dict)
    cameras: dict[str, CameraImage] = field(default_factory=dict)
    audio: dict[str, AudioChunk] = field(default_factory=dict)
    index: int = 0
    token: str = ""
    boxes: list | None = None

    @property
    def sensors(self) -> list[str]:
        return [*self.lidars, *self.cameras, *self.audio]
