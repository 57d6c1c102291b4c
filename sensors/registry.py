"""Which reader opens what: one registry line per log format, and :func:`open_log`."""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from .base import SensorLog
from .errors import LogFormatError, MissingFileError

# format name -> "module:class". A new format is one reader file plus one line here.
READERS: dict[str, str] = {
    "nuscenes": "multimodal.sensors.nuscenes_log:NuScenesLog",
    "rosbag": "multimodal.sensors.rosbag_log:RosbagLog",
    "av": "multimodal.sensors.media:AVClipLog",
}
MEDIA_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ogv", ".mpg", ".mpeg", ".flv"}
BAG_SUFFIXES = {".db3", ".mcap", ".bag"}


def reader_class(fmt: str) -> type[SensorLog]:
    """The reader class registered for a format name."""
    if fmt not in READERS:
        raise LogFormatError(f"unknown log format {fmt!r}; known: {sorted(READERS)}")
    module, cls = READERS[fmt].split(":")
    return getattr(importlib.import_module(module), cls)


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of a path: rosbag2 folder / bag file, nuScenes root, or media file."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(str(p), "log does not exist")
    if p.is_dir():
        if (p / "metadata.yaml").is_file():
            return "rosbag"
        from .nuscenes_log import find_versions

        if find_versions(p):
            return "nuscenes"
        if (p / "sample_data.json").is_file():
            raise LogFormatError(f"{p}: this is a nuScenes *version* folder; open its parent (the data root) "
                                 f"with version={p.name!r}")
        raise LogFormatError(f"{p}: folder is neither a rosbag2 bag (metadata.yaml) nor a nuScenes data root "
                             "(a version folder with sample_data.json)")
    suffix = p.suffix.lower()
    if suffix in BAG_SUFFIXES:
        return "rosbag"
    if suffix in MEDIA_SUFFIXES:
        return "av"
    raise LogFormatError(f"{p}: unknown log format {suffix or '(no suffix)'!r}; supported: nuScenes data roots, "
                         f"bags ({', '.join(sorted(BAG_SUFFIXES))} or a rosbag2 folder), media files "
                         f"({', '.join(sorted(MEDIA_SUFFIXES))})")


def parse_scalar(value: str) -> Any:
    """A text option value as bool, int, float or str (``"true"`` -> True, ``"30000"`` -> 30000)."""
    low = value.lower()
    if low in ("true", "yes", "1"):
        return True
    if low in ("false", "no", "0"):
        return False
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def open_log(path_or_uri: str | os.PathLike, format: str | None = None, **options: Any) -> SensorLog:
    """Open any supported log as a sequence of :class:`~multimodal.sensors.frame.Frame`.

    ``path_or_uri`` is a path (format detected, or forced with ``format=``) or a URI
    ``FORMAT://PATH?key=value&...`` whose query gives reader options
    (``nuscenes:///data/nuscenes?version=v1.0-trainval&sweeps=true``). ``options`` are passed to
    the reader (see :class:`~multimodal.sensors.nuscenes_log.NuScenesLog`, :class:`~multimodal.sensors.rosbag_log.RosbagLog`,
    :class:`~multimodal.sensors.av_log.AVClipLog`).
    """
    text = os.fspath(path_or_uri)
    parsed = urlparse(text)
    if parsed.scheme in READERS:
        fmt = format or parsed.scheme
        path = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
        options = {**{k: parse_scalar(v) for k, v in parse_qsl(parsed.query)}, **options}
    else:
        path = text
        fmt = format or detect_format(path)
    return reader_class(fmt)(path, **options)
