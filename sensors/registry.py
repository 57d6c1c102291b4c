"""Which reader opens what: one registry line per log format, and :func:`open_log`."""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from .base import SensorLog
from .errors import LogFormatError, MissingFileError
from .selection import SensorSelection

# format name -> "module:class". A new format is one reader file (a SensorLog with ``sniff``) plus one line here.
# detect_format asks the readers in this order: a folder with metadata.yaml is a bag before anything else.
READERS: dict[str, str] = {
    "rosbag": "multimodal.sensors.rosbag_log:RosbagLog",
    "nuscenes": "multimodal.sensors.nuscenes_log:NuScenesLog",
    "av": "multimodal.sensors.media:AVClipLog",
}


def reader_class(fmt: str) -> type[SensorLog]:
    """The reader class registered for a format name."""
    if fmt not in READERS:
        raise LogFormatError(f"unknown log format {fmt!r}; known: {sorted(READERS)}")
    module, cls = READERS[fmt].split(":")
    return getattr(importlib.import_module(module), cls)


def detect_format(path: str | os.PathLike) -> str:
    """The format of a path: the first registered reader whose ``sniff`` recognises it.

    Raises:
        MissingFileError: the path does not exist.
        LogFormatError: no reader recognises it (the message lists what each one opens), or a reader
            recognises a near miss (a nuScenes version folder: open its parent).
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(str(p), "log does not exist")
    for fmt in READERS:
        if reader_class(fmt).sniff(p):
            return fmt
    supported = ", ".join(reader_class(fmt).accepts for fmt in READERS)
    what = "(a folder no reader recognises)" if p.is_dir() else repr(p.suffix.lower() or "(no suffix)")
    raise LogFormatError(f"{p}: unknown log format {what}; supported: {supported}")


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


def open_log(path_or_uri: str | os.PathLike, format: str | None = None, *,
             sensors: SensorSelection = None, **options: Any) -> SensorLog:
    """Open any supported log as a sequence of :class:`~multimodal.sensors.frame.Frame`.

    ``path_or_uri`` is a path (format detected, or forced with ``format=``) or a URI
    ``FORMAT://PATH?key=value&...`` whose query gives reader options
    (``nuscenes:///data/nuscenes?version=v1.0-trainval&sweeps=true&sensors=lidar``). ``sensors``
    selects the sensors frames carry (names and/or kinds ``lidar``, ``camera``, ``audio``; None: all;
    see :mod:`multimodal.sensors.selection`). ``options`` are passed to the reader (see
    :class:`~multimodal.sensors.nuscenes_log.NuScenesLog`, :class:`~multimodal.sensors.rosbag_log.RosbagLog`,
    :class:`~multimodal.sensors.media.AVClipLog`).
    """
    if sensors is not None:
        options["sensors"] = sensors
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
