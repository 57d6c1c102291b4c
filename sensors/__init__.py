"""sensors: read robot logs (nuScenes, ROS bags, media files, the synthetic world) into time-aligned,
calibrated :class:`Frame` records. Knows nothing of models or training."""
from .base import SensorInfo, SensorLog
from .errors import BadRecordError, IssueCounter, LogFormatError, MissingFileError, NoSuchSensorError, SensorLogError
from .frame import AudioChunk, CameraImage, Frame, LidarSweep
from .registry import READERS, detect_format, open_log
from .selection import MODALITY_KINDS

__all__ = [
    "READERS",
    "AudioChunk",
    "BadRecordError",
    "CameraImage",
    "Frame",
    "IssueCounter",
    "LidarSweep",
    "LogFormatError",
    "MODALITY_KINDS",
    "MissingFileError",
    "NoSuchSensorError",
    "SensorInfo",
    "SensorLog",
    "SensorLogError",
    "detect_format",
    "open_log",
]
