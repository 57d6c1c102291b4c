"""Which sensors a reader decodes into frames: the ``sensors=`` option of every reader and of ``open_log``.

An entry is a sensor name (``"LIDAR_TOP"``, ``"CAM_FRONT"``, ``"video"``), a name the reader also knows
the sensor by (a bag topic: ``"/velodyne_points"``), or a modality kind (``"lidar"``, ``"camera"``,
``"audio"``: every sensor of that kind). ``None`` selects every sensor. A selection changes what a
frame carries, never which moments are frames: ``len(log)`` and ``frame_timestamps_us()`` are the
same with or without one. Unselected sensors are not read or decoded at all.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import NoSuchSensorError

MODALITY_KINDS = ("lidar", "camera", "audio")

SensorSelection = str | Sequence[str] | None


def selection_entries(sensors: SensorSelection) -> tuple[str, ...] | None:
    """The entries of a selection; a string is a comma-separated list (``"lidar,CAM_FRONT"``, as in a URI)."""
    if sensors is None:
        return None
    if isinstance(sensors, str):
        return tuple(e.strip() for e in sensors.split(",") if e.strip())
    if not isinstance(sensors, Sequence):  # one scalar, e.g. a URI value parsed as a number
        return (str(sensors),)
    return tuple(str(e) for e in sensors)


def resolve_selection(sensors: SensorSelection, available: Mapping[str, str], log: str,
                      aliases: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The names of ``available`` that ``sensors`` selects, in the order of ``available``.

    Args:
        sensors: the selection (see the module docstring); None selects all.
        available: sensor name -> kind (one of :data:`MODALITY_KINDS`) of the sensors frames can carry.
        log: the log's path, for the error.
        aliases: other names of the sensors (bag topic -> sensor name).

    Raises:
        NoSuchSensorError: an entry names no sensor of the log, or a kind the log has no sensor of;
            the message lists the log's sensors and the kinds.
    """
    entries = selection_entries(sensors)
    if entries is None:
        return tuple(available)
    aliases = aliases or {}
    chosen: set[str] = set()
    for entry in entries:
        if entry in available:
            chosen.add(entry)
        elif entry in aliases and aliases[entry] in available:
            chosen.add(aliases[entry])
        elif entry in MODALITY_KINDS and entry in available.values():
            chosen.update(name for name, kind in available.items() if kind == entry)
        else:
            raise NoSuchSensorError(_unknown(entry, available, log))
    return tuple(name for name in available if name in chosen)


def _unknown(entry: str, available: Mapping[str, str], log: str) -> str:
    listing = ", ".join(f"{name} ({kind})" for name, kind in available.items()) or "none"
    what = f"no {entry} sensor" if entry in MODALITY_KINDS else f"no sensor {entry!r}"
    return (f"{log}: {what} to select; the log's sensors are: {listing}; "
            f"a selection entry is one of those names or a kind ({', '.join(MODALITY_KINDS)})")
