"""``geometry_msgs/TransformStamped`` (the entries of ``tf2_msgs/TFMessage``) <-> 4x4 transforms.

A ``TransformStamped`` with ``header.frame_id = parent`` and ``child_frame_id = child`` holds
``T_parent_from_child``: translation in metres, rotation as a unit quaternion (x, y, z, w).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..geometry import make_transform, matrix_to_quat_wxyz, quat_wxyz_to_matrix
from .common import make_header, stamp_to_us


def transform_stamped(types: Mapping[str, Any], parent: str, child: str, T: np.ndarray, stamp_ns: int) -> Any:
    """``geometry_msgs/TransformStamped`` for ``T`` (4x4, parent-from-child, metres)."""
    q = matrix_to_quat_wxyz(T[:3, :3])
    t = T[:3, 3]
    Transform = types["geometry_msgs/msg/Transform"]
    return types["geometry_msgs/msg/TransformStamped"](
        header=make_header(stamp_ns, parent, types), child_frame_id=child,
        transform=Transform(translation=types["geometry_msgs/msg/Vector3"](x=float(t[0]), y=float(t[1]), z=float(t[2])),
                            rotation=types["geometry_msgs/msg/Quaternion"](x=float(q[1]), y=float(q[2]), z=float(q[3]),
                                                                           w=float(q[0]))))


def transform_stamped_to_matrix(tr: Any) -> tuple[str, str, np.ndarray, int]:
    """Inverse of :func:`transform_stamped`: ``(parent, child, T_parent_from_child (4, 4) float64, stamp µs)``."""
    q = tr.transform.rotation
    t = tr.transform.translation
    T = make_transform(quat_wxyz_to_matrix((q.w, q.x, q.y, q.z)), (t.x, t.y, t.z))
    return tr.header.frame_id, tr.child_frame_id, T, stamp_to_us(tr.header.stamp)
