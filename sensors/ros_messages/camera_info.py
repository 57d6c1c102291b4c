"""``sensor_msgs/CameraInfo`` <-> pinhole intrinsics ``K`` (pixels), distortion and image size."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import BadRecordError
from .common import make_header


def camera_info_to_calibration(
    msg: Any, source: str = "CameraInfo", index: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Read intrinsics from ``sensor_msgs/CameraInfo``.

    Returns:
        ``(K, distortion, (width, height))``: ``K`` ``(3, 3) float64`` in pixels; ``distortion``
        ``(n,) float64`` in the order of ``distortion_model`` (``plumb_bob``: k1 k2 p1 p2 k3), or
        None when empty or all zero; image size in pixels. ROS 1 names ``K``/``D`` also work.

    Raises:
        BadRecordError (field ``k``): K not 9 finite values, all zero, or fx/fy <= 0.
    """
    k_raw = getattr(msg, "k", None)
    if k_raw is None:
        k_raw = getattr(msg, "K", None)
    if k_raw is None:
        raise BadRecordError(source, "message has no intrinsic matrix k", index, "k")
    K = np.asarray(k_raw, dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise BadRecordError(source, f"k has {K.size} values, expected 9", index, "k")
    K = K.reshape(3, 3).copy()
    if not np.isfinite(K).all():
        raise BadRecordError(source, f"k has non-finite values: {K.tolist()}", index, "k")
    if not K.any():
        raise BadRecordError(source, "k is all zeros (uncalibrated camera)", index, "k")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise BadRecordError(source, f"focal lengths must be > 0, got fx={K[0, 0]}, fy={K[1, 1]}", index, "k")
    d_raw = getattr(msg, "d", None)
    if d_raw is None:
        d_raw = getattr(msg, "D", None)
    dist: np.ndarray | None = None
    if d_raw is not None:
        d = np.asarray(d_raw, dtype=np.float64).reshape(-1).copy()
        if d.size and d.any():
            dist = d
    return K, dist, (int(msg.width), int(msg.height))


def pinhole_camera_info(types: Mapping[str, Any], K: np.ndarray, wh: tuple[int, int], stamp_ns: int,
                        frame_id: str) -> Any:
    """``sensor_msgs/CameraInfo`` of a pinhole camera without distortion (``K`` 3x3 pixels, ``wh`` pixels)."""
    P = np.zeros((3, 4))
    P[:, :3] = K
    return types["sensor_msgs/msg/CameraInfo"](
        header=make_header(stamp_ns, frame_id, types), height=int(wh[1]), width=int(wh[0]),
        distortion_model="plumb_bob", d=np.zeros(5), k=np.asarray(K, dtype=np.float64).reshape(9),
        r=np.eye(3).reshape(9), p=P.reshape(12), binning_x=0, binning_y=0,
        roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
