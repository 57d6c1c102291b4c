"""The street: a gently curving, rising and falling road with kerbs, sidewalks and uneven terrain.

Positions along the street use *road coordinates* ``(x, lat)``: ``x`` is the station (metres along
world x, the road's parameter) and ``lat`` the lateral offset from the centre line (metres, left
positive, measured along the road's horizontal normal). The cross-section, from the centre out on
each side: driving lane, optional bike lane, parking lane (together ``road_half_width``), a kerb
``curb_height`` high, the sidewalk, then terrain with smooth bumps that rises or falls away from
the street. The road surface itself is flat across and follows ``road_z(x)`` along.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classes import ROAD, SIDEWALK, TERRAIN
from .materials import M_ASPHALT, M_CURB, M_GRASS, M_PAVING
from .meshes import U_X, Mesh

TERRAIN_REACH_M = 45.0
"""How far terrain extends beyond the sidewalk (metres)."""


@dataclass(frozen=True)
class RoadLayout:
    """Geometry of one street (all lengths metres, angles radians, wave numbers rad/m).

    Attributes:
        x_range: stations covered by the ground mesh.
        curve: ``(2, 3)`` rows ``(amplitude, wave number, phase)``: centre line ``y = sum a sin(k x + p)``.
        grade: ``(amplitude, wave number, phase, slope)``: ``road_z = a sin(k x + p) + slope x``.
        lane_width / bike_width / parking_width: cross-section, centre outwards (bike 0 = no bike lane).
        curb_height / sidewalk_width: the kerb step and the sidewalk width.
        bumps: ``(n, 4)`` rows ``(amplitude, kx, kl, phase)`` of the terrain's bumps.
        side_slope: terrain rise per metre away from the sidewalk, ``(left, right)``.
        double_centre_line: solid double yellow centre line instead of a dashed white one.
        crosswalks: stations of zebra crossings.
        materials: per-scene base albedos ``(4, 3)``: asphalt, kerb, paving, grass.
        tile_size: sidewalk paving tile size.
    """

    x_range: tuple[float, float]
    curve: np.ndarray
    grade: np.ndarray
    lane_width: float
    bike_width: float
    parking_width: float
    curb_height: float
    sidewalk_width: float
    bumps: np.ndarray
    side_slope: tuple[float, float]
    double_centre_line: bool
    crosswalks: tuple[float, ...]
    materials: np.ndarray
    tile_size: float

    @property
    def road_half_width(self) -> float:
        return self.lane_width + self.bike_width + self.parking_width

    @property
    def sidewalk_outer(self) -> float:
        """``|lat|`` of the sidewalk's outer edge (metres)."""
        return self.road_half_width + self.sidewalk_width

    # --- centre line and height ------------------------------------------------------------
    def centre_y(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return sum(a * np.sin(k * x + p) for a, k, p in self.curve)

    def centre_slope(self, x: np.ndarray) -> np.ndarray:
        """``dy/dx`` of the centre line."""
        x = np.asarray(x, dtype=np.float64)
        return sum(a * k * np.cos(k * x + p) for a, k, p in self.curve)

    def heading(self, x: np.ndarray) -> np.ndarray:
        """Yaw of the road direction (+x way) at station ``x``, radians."""
        return np.arctan(self.centre_slope(x))

    def road_z(self, x: np.ndarray) -> np.ndarray:
        a, k, p, s = self.grade
        x = np.asarray(x, dtype=np.float64)
        return a * np.sin(k * x + p) + s * x

    def road_dz(self, x: np.ndarray) -> np.ndarray:
        """``d road_z / dx``."""
        a, k, p, s = self.grade
        return a * k * np.cos(k * np.asarray(x, dtype=np.float64) + p) + s

    def ground_height(self, x: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """World z of the ground surface at road coordinates ``(x, lat)`` (top of the kerb at ``|lat| = road_half_width``)."""
        x = np.asarray(x, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        a = np.abs(lat)
        z = self.road_z(x)
        walk = z + self.curb_height
        d = np.maximum(a - self.sidewalk_outer, 0.0)
        slope = np.where(lat >= 0, self.side_slope[0], self.side_slope[1])
        ramp = np.clip(d / 3.0, 0.0, 1.0)
        bumps = sum(am * np.sin(kx * x + kl * lat + ph) for am, kx, kl, ph in self.bumps)
        terrain = walk + slope * d + ramp * bumps
        return np.where(a <= self.road_half_width, z, np.where(a <= self.sidewalk_outer, walk, terrain))

    def to_world(self, x: np.ndarray, lat: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``(..., 3)`` world points from road coordinates ``(x, lat)`` and world height ``z``."""
        x = np.asarray(x, dtype=np.float64)
        th = self.heading(x)
        return np.stack(np.broadcast_arrays(x - lat * np.sin(th), self.centre_y(x) + lat * np.cos(th), z), axis=-1)

    def frame_axes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Road yaw and pitch at station ``x`` (pitch positive nose-down, the ego convention)."""
        x = np.asarray(x, dtype=np.float64)
        slope = self.centre_slope(x)
        return np.arctan(slope), -np.arctan(self.road_dz(x) / np.sqrt(1.0 + slope**2))


def make_road(rng: np.random.Generator, x_range: tuple[float, float], centre: float) -> RoadLayout:
    """Draw a street covering stations ``x_range``; crossings are placed around station ``centre``."""
    curve = np.array([[rng.uniform(0.0, 7.0), 2 * np.pi / rng.uniform(220.0, 420.0), rng.uniform(0, 2 * np.pi)],
                      [rng.uniform(0.0, 1.5), 2 * np.pi / rng.uniform(70.0, 140.0), rng.uniform(0, 2 * np.pi)]])
    grade = np.array([rng.uniform(0.0, 2.5), 2 * np.pi / rng.uniform(160.0, 320.0), rng.uniform(0, 2 * np.pi),
                      rng.uniform(-0.03, 0.03)])
    n_b = 5
    bumps = np.stack([rng.uniform(0.05, 0.35, n_b), rng.uniform(-1, 1, n_b) * 2 * np.pi / rng.uniform(6, 30, n_b),
                      rng.uniform(-1, 1, n_b) * 2 * np.pi / rng.uniform(6, 30, n_b), rng.uniform(0, 2 * np.pi, n_b)],
                     axis=1)
    asphalt = rng.uniform(0.16, 0.30) * np.array([1.0, 1.0, 1.05]) * rng.uniform(0.95, 1.05, 3)
    kerb = rng.uniform(0.45, 0.65) * np.array([1.0, 0.98, 0.95])
    paving = np.array([[0.55, 0.53, 0.50], [0.50, 0.30, 0.24], [0.62, 0.57, 0.45], [0.40, 0.40, 0.42]])[
        rng.integers(4)] * rng.uniform(0.85, 1.15)
    grass = np.array([[0.20, 0.36, 0.10], [0.30, 0.40, 0.14], [0.38, 0.40, 0.20]])[rng.integers(3)] * rng.uniform(
        0.8, 1.2)
    n_cross = int(rng.integers(0, 3))
    crosswalks = tuple(float(centre + rng.uniform(-60, 120)) for _ in range(n_cross))
    return RoadLayout(
        x_range=(float(x_range[0]), float(x_range[1])), curve=curve, grade=grade,
        lane_width=float(rng.uniform(3.0, 3.6)), bike_width=float(rng.choice([0.0, rng.uniform(1.2, 1.8)])),
        parking_width=float(rng.uniform(2.0, 2.6)), curb_height=float(rng.uniform(0.10, 0.18)),
        sidewalk_width=float(rng.uniform(2.2, 4.0)), bumps=bumps,
        side_slope=(float(rng.uniform(-0.06, 0.08)), float(rng.uniform(-0.06, 0.08))),
        double_centre_line=bool(rng.random() < 0.4), crosswalks=crosswalks,
        materials=np.clip(np.stack([asphalt, kerb, paving, grass]), 0.0, 1.0).astype(np.float32),
        tile_size=float(rng.uniform(0.3, 0.9)),
    )


def ground_mesh(road: RoadLayout, step_m: float = 1.0) -> tuple[Mesh, np.ndarray, np.ndarray]:
    """Triangulated ground of the street: road, kerb faces, sidewalks and terrain on both sides.

    Returns:
        ``mesh`` (world frame), ``local`` ``(V, 3) float64`` texture coordinates per vertex
        (station ``x``, lateral ``lat``, world ``z``) and ``class_id`` ``(T,) uint8`` per triangle.
    """
    x0, x1 = road.x_range
    xs = np.arange(x0, x1 + step_m, step_m)
    rw, so = road.road_half_width, road.sidewalk_outer
    terrain = so + np.concatenate([[0.6], np.arange(1.5, TERRAIN_REACH_M + 1e-6, 1.5)])
    # Columns from the centre outwards: (lateral offset, height kind, class and material of the
    # strip between this column and the previous one).
    cols = [(0.0, "road", None), (rw, "road", (ROAD, M_ASPHALT)), (rw, "walk", (SIDEWALK, M_CURB)),
            (so, "walk", (SIDEWALK, M_PAVING))] + [(t, "ground", (TERRAIN, M_GRASS)) for t in terrain]
    meshes, locals_, classes = [], [], []
    albedo_of = np.zeros((256, 3), np.float32)
    albedo_of[[M_ASPHALT, M_CURB, M_PAVING, M_GRASS]] = road.materials
    for side in (1.0, -1.0):
        ls = np.array([c[0] for c in cols]) * side
        X, L = np.meshgrid(xs, ls, indexing="ij")  # (nx, nc)
        Z = road.ground_height(X, L * (1 - 1e-9))  # just inside, so the kerb column at lat = rw is road height
        for j, (_, kind, _) in enumerate(cols):
            if kind == "walk":
                Z[:, j] = road.road_z(xs) + road.curb_height
        V = road.to_world(X, L, Z).reshape(-1, 3)
        nc = len(cols)
        idx = np.arange(len(xs) * nc).reshape(len(xs), nc)
        tris, mats, cls = [], [], []
        for j in range(1, nc):
            a, b = idx[:-1, j - 1], idx[1:, j - 1]
            c, d = idx[1:, j], idx[:-1, j]
            quad = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
            tris.append(quad)
            cl, mat = cols[j][2]
            mats.append(np.full(len(quad), mat, np.uint8))
            cls.append(np.full(len(quad), cl, np.uint8))
        mat = np.concatenate(mats)
        albedo = albedo_of[mat]
        tex = np.zeros((len(mat), 4), np.float32)
        tex[:, 0] = road.tile_size
        meshes.append(Mesh(V, np.concatenate(tris), mat, albedo, tex, np.full(len(mat), U_X, np.int8)))
        locals_.append(np.stack([X.ravel(), L.ravel(), Z.ravel()], axis=1))
        classes.append(np.concatenate(cls))
    return Mesh.concat(meshes), np.concatenate(locals_), np.concatenate(classes)
