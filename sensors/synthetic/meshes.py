"""Triangle meshes with per-triangle surface attributes, and the primitives objects are built from.

A :class:`Mesh` lives in its object's frame (x forward / along, y left, z up, origin on the ground
under the object's centre). Every triangle carries what the sensors need to know about the
surface it belongs to: a material (texture pattern and LiDAR reflectivity, see ``materials``), a
base albedo, four material parameters and which local axis runs along the surface (texture
``u``). Vertices carry an articulation flag so legs and arms can swing (see ``agents``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

# Texture u-axis codes (per triangle): which local coordinate runs along the surface.
U_X, U_Y, U_AROUND = 0, 1, 2
"""``U_X``: u = local x; ``U_Y``: u = local y; ``U_AROUND``: u = arc length around local z."""


@dataclass
class Mesh:
    """Triangles in an object frame with per-triangle surface attributes.

    Attributes:
        vertices: ``(V, 3) float64`` metres, object frame.
        triangles: ``(T, 3) int64`` vertex indices.
        material: ``(T,) uint8`` material code (``materials.M_*``).
        albedo: ``(T, 3) float32`` base RGB albedo in [0, 1] (linear).
        tex: ``(T, 4) float32`` material parameters (window spacing, tile size, stripe period ...).
        uaxis: ``(T,) int8`` texture u-axis code (``U_X``, ``U_Y``, ``U_AROUND``).
        swing: ``(V,) int8`` articulation: 0 rigid, +-1 legs, +-2 arms (sign = phase).
        pivot_z: ``(V,) float32`` height (metres, object frame) of the joint a swinging vertex turns about.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    material: np.ndarray
    albedo: np.ndarray
    tex: np.ndarray
    uaxis: np.ndarray
    swing: np.ndarray = field(default=None)  # type: ignore[assignment]
    pivot_z: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        V = self.vertices.shape[0]
        if self.swing is None:
            self.swing = np.zeros(V, dtype=np.int8)
        if self.pivot_z is None:
            self.pivot_z = np.zeros(V, dtype=np.float32)

    @property
    def n_triangles(self) -> int:
        return int(self.triangles.shape[0])

    def transformed(self, T: np.ndarray) -> Mesh:
        """A copy with vertices moved by the ``(4, 4)`` transform ``T`` (pivots are not moved)."""
        v = self.vertices @ T[:3, :3].T + T[:3, 3]
        return Mesh(v, self.triangles, self.material, self.albedo, self.tex, self.uaxis, self.swing.copy(),
                    self.pivot_z.copy())

    def articulated(self, swing: int, pivot_z: float) -> Mesh:
        """A copy whose vertices all swing with code ``swing`` about a joint at height ``pivot_z``."""
        out = Mesh(self.vertices, self.triangles, self.material, self.albedo, self.tex, self.uaxis)
        out.swing[:] = swing
        out.pivot_z[:] = pivot_z
        return out

    @staticmethod
    def concat(meshes: Sequence[Mesh]) -> Mesh:
        """One mesh holding all of ``meshes`` (triangle indices re-based)."""
        offsets = np.cumsum([0] + [m.vertices.shape[0] for m in meshes[:-1]])
        return Mesh(
            vertices=np.concatenate([m.vertices for m in meshes]),
            triangles=np.concatenate([m.triangles + o for m, o in zip(meshes, offsets)]),
            material=np.concatenate([m.material for m in meshes]),
            albedo=np.concatenate([m.albedo for m in meshes]),
            tex=np.concatenate([m.tex for m in meshes]),
            uaxis=np.concatenate([m.uaxis for m in meshes]),
            swing=np.concatenate([m.swing for m in meshes]),
            pivot_z=np.concatenate([m.pivot_z for m in meshes]),
        )


def _attributes(n_tri: int, material: int, albedo: Sequence[float], tex: Sequence[float] | None,
                uaxis: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.zeros((n_tri, 4), dtype=np.float32)
    if tex is not None:
        t[:, : len(tex)] = tex
    ua = np.broadcast_to(np.asarray(uaxis, dtype=np.int8), (n_tri,)).copy()
    return (np.full(n_tri, material, dtype=np.uint8), np.tile(np.asarray(albedo, dtype=np.float32), (n_tri, 1)),
            t, ua)


_BOX_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
# Two triangles per face, faces in the order -x, +x, -y, +y, -z, +z.
_BOX_TRIS = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], dtype=np.int64)
_BOX_UAXIS = np.array([U_Y, U_Y, U_Y, U_Y, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X], dtype=np.int8)


def box(center: Sequence[float], half: Sequence[float], material: int, albedo: Sequence[float],
        tex: Sequence[float] | None = None, yaw: float = 0.0, pitch: float = 0.0) -> Mesh:
    """Axis-aligned box (then turned by ``pitch`` about y and ``yaw`` about z) with half extents ``half``."""
    v = _BOX_CORNERS * np.asarray(half, dtype=np.float64)
    v = _rotate(v, yaw, pitch) + np.asarray(center, dtype=np.float64)
    return Mesh(v, _BOX_TRIS.copy(), *_attributes(12, material, albedo, tex, _BOX_UAXIS))


def _rotate(v: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    if pitch:
        c, s = np.cos(pitch), np.sin(pitch)
        v = v @ np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]).T
    if yaw:
        c, s = np.cos(yaw), np.sin(yaw)
        v = v @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
    return v


def cylinder(radius: float, z0: float, z1: float, material: int, albedo: Sequence[float], segments: int = 8,
             center_xy: Sequence[float] = (0.0, 0.0), tex: Sequence[float] | None = None, top_radius: float | None = None
             ) -> Mesh:
    """Capped vertical cylinder (a truncated cone if ``top_radius`` differs) from height ``z0`` to ``z1``."""
    a = 2.0 * np.pi * np.arange(segments) / segments
    r1 = radius if top_radius is None else top_radius
    ring = np.stack([np.cos(a), np.sin(a)], axis=1)
    bottom = np.c_[radius * ring, np.full(segments, z0)]
    top = np.c_[r1 * ring, np.full(segments, z1)]
    v = np.vstack([bottom, top, [[0.0, 0.0, z0], [0.0, 0.0, z1]]])
    v[:, :2] += np.asarray(center_xy, dtype=np.float64)
    i = np.arange(segments)
    j = (i + 1) % segments
    cb, ct = 2 * segments, 2 * segments + 1
    tris = np.concatenate([
        np.stack([i, j, segments + j], axis=1), np.stack([i, segments + j, segments + i], axis=1),
        np.stack([np.full(segments, cb), j, i], axis=1), np.stack([np.full(segments, ct), segments + i, segments + j],
                                                                   axis=1),
    ])
    return Mesh(v, tris, *_attributes(len(tris), material, albedo, tex, U_AROUND))


def wheel(center: Sequence[float], radius: float, half_width: float, material: int, albedo: Sequence[float],
          segments: int = 10) -> Mesh:
    """A disc-like cylinder with its axis along local y (car and bicycle wheels)."""
    m = cylinder(radius, -half_width, half_width, material, albedo, segments)
    R = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # z axis -> y axis
    m.vertices = m.vertices @ R.T + np.asarray(center, dtype=np.float64)
    return m


def cone(radius: float, z0: float, z1: float, material: int, albedo: Sequence[float], segments: int = 8,
         tex: Sequence[float] | None = None) -> Mesh:
    """Vertical cone with its base at ``z0`` and apex at ``z1`` (conifer crowns)."""
    a = 2.0 * np.pi * np.arange(segments) / segments
    v = np.vstack([np.c_[radius * np.cos(a), radius * np.sin(a), np.full(segments, z0)], [[0, 0, z1], [0, 0, z0]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    tris = np.concatenate([np.stack([i, j, np.full(segments, segments)], axis=1),
                           np.stack([np.full(segments, segments + 1), j, i], axis=1)])
    return Mesh(v, tris, *_attributes(len(tris), material, albedo, tex, U_AROUND))


@lru_cache(maxsize=4)
def _icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    p = (1.0 + 5 ** 0.5) / 2.0
    v = [[-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0], [0, -1, p], [0, 1, p], [0, -1, -p], [0, 1, -p],
         [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1]]
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6],
         [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10],
         [8, 6, 7], [9, 8, 1]]
    verts = [np.asarray(x, dtype=np.float64) / np.linalg.norm(x) for x in v]
    faces = f
    for _ in range(subdivisions):
        def mid(a: int, b: int, cache: dict[tuple[int, int], int]) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        cache: dict[tuple[int, int], int] = {}
        for a, b, c in faces:
            ab, bc, ca = mid(a, b, cache), mid(b, c, cache), mid(c, a, cache)
            new += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = new
    return np.asarray(verts), np.asarray(faces, dtype=np.int64)


def blob(center: Sequence[float], radii: Sequence[float], material: int, albedo: Sequence[float],
         rng: np.random.Generator | None = None, roughness: float = 0.0, subdivisions: int = 1,
         tex: Sequence[float] | None = None) -> Mesh:
    """An ellipsoid (icosphere scaled by ``radii``) whose vertices are pushed in or out by up to
    ``roughness`` (a fraction of the radius) to make irregular crowns, bushes and heads."""
    v, f = _icosphere(subdivisions)
    scale = np.ones(len(v))
    if rng is not None and roughness > 0:
        scale = 1.0 + rng.uniform(-roughness, roughness, len(v))
    v = v * scale[:, None] * np.asarray(radii, dtype=np.float64) + np.asarray(center, dtype=np.float64)
    return Mesh(v, f.copy(), *_attributes(len(f), material, albedo, tex, U_AROUND))


def gable_roof(length: float, depth: float, height: float, z0: float, material: int, albedo: Sequence[float],
               center_y: float = 0.0) -> Mesh:
    """A triangular prism roof along x over a ``length`` x ``depth`` footprint, ridge ``height`` above ``z0``."""
    hx, hy = length / 2.0, depth / 2.0
    v = np.array([[-hx, center_y - hy, z0], [-hx, center_y + hy, z0], [-hx, center_y, z0 + height],
                  [hx, center_y - hy, z0], [hx, center_y + hy, z0], [hx, center_y, z0 + height]])
    tris = np.array([[0, 2, 1], [3, 4, 5], [0, 3, 5], [0, 5, 2], [1, 2, 5], [1, 5, 4]], dtype=np.int64)
    return Mesh(v, tris, *_attributes(6, material, albedo, None, U_X))
