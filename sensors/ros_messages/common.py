"""What every message family shares: byte sequences as ``uint8`` arrays, headers and their stamps.

Timestamps: ``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer microseconds with
:func:`stamp_to_us`; builders take integer nanoseconds (:func:`us_to_stamp_ns`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def as_uint8(data: Any) -> np.ndarray:
    """A 1-D ``uint8`` view (or copy, for lists) of a message byte sequence.

    ``data`` may be ``bytes``, ``bytearray``, ``memoryview``, ``array.array('B')`` (rclpy), a
    ``list`` of ints or a numpy array (rosbags; any dtype is reinterpreted as bytes).
    """
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            if data.dtype.itemsize == 1:
                data = data.view(np.uint8)
            else:
                data = np.ascontiguousarray(data).view(np.uint8)
        return np.ascontiguousarray(data).reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    try:  # array.array and any other buffer-protocol object
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _make_stamp(stamp_ns: int, msg_types: Mapping[str, Any]) -> Any:
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return msg_types["builtin_interfaces/msg/Time"](sec=int(sec), nanosec=int(nanosec))


def make_header(stamp_ns: int, frame_id: str, msg_types: Mapping[str, Any]) -> Any:
    """A ``std_msgs/msg/Header`` (stamp in ns, frame id) built from ``msg_types``."""
    return msg_types["std_msgs/msg/Header"](stamp=_make_stamp(stamp_ns, msg_types), frame_id=str(frame_id))


def stamp_to_us(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer microseconds.

    Sub-microsecond parts are rounded half to even. ROS 1 style ``secs``/``nsecs`` also work.
    """
    sec = getattr(stamp, "sec", None)
    if sec is None:
        sec = stamp.secs
    nanosec = getattr(stamp, "nanosec", None)
    if nanosec is None:
        nanosec = stamp.nsecs
    q, r = divmod(int(sec) * 1_000_000_000 + int(nanosec), 1000)
    if r > 500 or (r == 500 and q % 2 == 1):
        q += 1
    return int(q)


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds (exact; what the builders take as ``stamp_ns``)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def us_to_stamp_ns(us: int) -> int:
    """Integer microseconds -> integer nanoseconds (what the builders take as ``stamp_ns``)."""
    return int(us) * 1000
