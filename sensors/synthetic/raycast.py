"""Vectorized ray casting against a :class:`~sensors.synthetic.scene.Scene` (ground plane + boxes).

Boxes are intersected with the slab test in each box's own (yaw-rotated) frame; the loop runs over
boxes and is vectorized over rays. A bounding-sphere pre-test keeps each box's work to the rays that
can reach it (for a shared origin, as for a LiDAR or a camera, that test is a single dot product per
ray), and boxes are visited nearest first so rays that already hit something closer are skipped.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .scene import GROUND, NO_HIT, NOISE, Scene

_EPS = 1e-9


class Hits(NamedTuple):
    """Result of :func:`cast_rays`, aligned with the rays.

    Attributes:
        distance: ``(N,) float64`` distance along the (unit) ray, metres; ``inf`` where nothing is hit.
        class_id: ``(N,) uint8`` class of the hit surface; 0 (``noise``) where nothing is hit.
        object_index: ``(N,) int64`` index of the hit box in the scene, ``GROUND`` (-2) for the ground
            plane, ``NO_HIT`` (-1) for none.
        normal: ``(N, 3) float64`` unit outward surface normal, world frame; zeros where nothing is hit.
    """

    distance: np.ndarray
    class_id: np.ndarray
    object_index: np.ndarray
    normal: np.ndarray

    def points(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world hit points (``inf``/``nan`` rows where nothing is hit)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(origins, dtype=np.float64) + self.distance[:, None] * directions


def _azimuth_window(az_order: np.ndarray, az_sorted: np.ndarray, u: np.ndarray, sin_half: float,
                    cos_half: float) -> np.ndarray | None:
    """Indices of the rays whose azimuth lies within the azimuth extent of the cone around unit ``u``
    with half-angle ``asin(sin_half)``; None when the cone contains a pole (every azimuth)."""
    cos_el = float(np.hypot(u[0], u[1]))
    # The cone reaches a pole when its half-angle exceeds the angle between u and the z axis.
    if cos_el <= sin_half + 1e-6:
        return None
    half = np.arcsin(min(1.0, sin_half / cos_el)) + 1e-6
    if half >= np.pi:
        return None
    centre = np.arctan2(u[1], u[0])
    lo, hi = centre - half, centre + half
    parts = []
    for a, b in ((lo, hi), (lo + 2 * np.pi, hi + 2 * np.pi), (lo - 2 * np.pi, hi - 2 * np.pi)):
        i0, i1 = np.searchsorted(az_sorted, [a, b])
        if i1 > i0:
            parts.append(az_order[i0:i1])
    if not parts:
        return az_order[:0]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def cast_rays(scene: Scene, origins: np.ndarray, directions: np.ndarray, max_distance: float = np.inf) -> Hits:
    """Nearest hit of each ray with the ground plane ``z = 0`` and the scene's boxes.

    Args:
        scene: the scene.
        origins: ``(N, 3)`` or ``(3,)`` (shared) ray origins, world frame, metres. Origins are assumed
            outside every box and above the ground.
        directions: ``(N, 3)`` unit ray directions, world frame.
        max_distance: hits farther than this are reported as no hit (metres).

    Returns:
        :class:`Hits`.
    """
    d = np.asarray(directions, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError(f"directions must be (N, 3), got {d.shape}")
    n = d.shape[0]
    o = np.asarray(origins, dtype=np.float64)
    shared = o.ndim == 1
    if shared:
        o_all = np.broadcast_to(o, (n, 3))
    elif o.shape != (n, 3):
        raise ValueError(f"origins must be (3,) or {(n, 3)}, got {o.shape}")
    else:
        o_all = o

    best = np.full(n, np.inf)
    obj = np.full(n, NO_HIT, dtype=np.int64)
    normal = np.zeros((n, 3))

    # Ground plane.
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = -o_all[:, 2] / d[:, 2]
    ground = (d[:, 2] < 0) & (o_all[:, 2] >= 0) & (t_ground > _EPS) & (t_ground < max_distance)
    best[ground] = t_ground[ground]
    obj[ground] = GROUND
    normal[ground, 2] = 1.0

    # Boxes, nearest bounding sphere first.
    radii = np.linalg.norm(scene.half_sizes, axis=1)
    if shared:
        dist_c = np.linalg.norm(scene.centers - o, axis=1)
    else:
        dist_c = np.linalg.norm(scene.centers - o_all.mean(axis=0), axis=1)
        spread = float(np.max(np.linalg.norm(o_all - o_all.mean(axis=0), axis=1))) if n else 0.0
        dist_c = np.maximum(dist_c - spread, 0.0)
    order = np.argsort(dist_c - radii, kind="stable")
    all_rays = np.arange(n)
    if shared:
        # Rays sorted by azimuth about world z: a box's cone maps to one or two contiguous runs.
        ray_az = np.arctan2(d[:, 1], d[:, 0])
        az_order = np.argsort(ray_az, kind="stable")
        az_sorted = ray_az[az_order]

    for b in order:
        r = radii[b]
        if dist_c[b] - r > max_distance:
            break
        c = scene.centers[b]
        if shared:
            v = c - o
            dv = float(np.linalg.norm(v))
            if dv > r:
                u = v / dv
                sin_half = r / dv
                cos_half = np.sqrt(max(0.0, 1.0 - sin_half**2))
                idx = _azimuth_window(az_order, az_sorted, u, sin_half, cos_half)
                if idx is None:
                    idx = all_rays
                idx = idx[(d[idx] @ u >= cos_half - 1e-9) & (best[idx] > dv - r)]
            else:
                idx = all_rays[best > 0]
        else:
            v = c - o_all
            tca = np.einsum("ij,ij->i", v, d)
            d2 = np.einsum("ij,ij->i", v, v) - tca * tca
            idx = np.flatnonzero((d2 <= r * r) & (tca + r > 0) & (best > tca - r))
        if idx.size == 0:
            continue

        cy, sy = np.cos(scene.yaws[b]), np.sin(scene.yaws[b])
        ob = (o if shared else o_all[idx]) - c
        ob = np.atleast_2d(ob)
        db = d[idx]
        # World -> box frame (rotation by -yaw about z).
        ol = np.stack([cy * ob[:, 0] + sy * ob[:, 1], -sy * ob[:, 0] + cy * ob[:, 1], ob[:, 2]], axis=1)
        dl = np.stack([cy * db[:, 0] + sy * db[:, 1], -sy * db[:, 0] + cy * db[:, 1], db[:, 2]], axis=1)
        dl_safe = np.where(np.abs(dl) < 1e-12, 1e-12, dl)
        inv = 1.0 / dl_safe
        h = scene.half_sizes[b]
        t1 = (-h - ol) * inv
        t2 = (h - ol) * inv
        tmin = np.minimum(t1, t2)
        tnear = tmin.max(axis=1)
        tfar = np.maximum(t1, t2).min(axis=1)
        hit = (tnear <= tfar) & (tnear > _EPS) & (tnear < best[idx]) & (tnear < max_distance)
        if not hit.any():
            continue
        hi = idx[hit]
        best[hi] = tnear[hit]
        obj[hi] = b
        axis = tmin[hit].argmax(axis=1)
        sign = -np.sign(dl[hit, axis])
        nl = np.zeros((hi.size, 3))
        nl[np.arange(hi.size), axis] = sign
        normal[hi] = np.stack([cy * nl[:, 0] - sy * nl[:, 1], sy * nl[:, 0] + cy * nl[:, 1], nl[:, 2]], axis=1)

    class_id = np.full(n, NOISE, dtype=np.uint8)
    is_box = obj >= 0
    class_id[is_box] = scene.class_ids[obj[is_box]]
    is_ground = obj == GROUND
    if is_ground.any():
        y = o_all[is_ground, 1] + best[is_ground] * d[is_ground, 1]
        class_id[is_ground] = scene.ground_class(y)
    return Hits(best, class_id, obj, normal)
