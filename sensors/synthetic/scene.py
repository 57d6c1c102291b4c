"""A static synthetic street: a ground plane ``z = 0`` plus yaw-rotated boxes.

The street runs along world +x. The ground is class ``road`` where ``|y| < road_half_width`` and
``sidewalk`` beyond; buildings line both sides, cars are parked along the kerbs, poles and trees stand
on the sidewalks, and two end-cap buildings close the street so cameras looking along it see facades
rather than an empty horizon.

Everything is drawn from ``np.random.default_rng`` streams derived from one seed: one stream per
object kind and side, each walking along +x from the start of the street, so the same seed gives the
same scene and a longer ``x_range`` only appends objects.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("noise", "road", "sidewalk", "building", "car", "pole", "vegetation", "sky")
"""Class id -> name. 0 (``noise``) is the ignore class; ``sky`` only occurs in camera ground truth."""
# The same classes as nuScenes lidarseg categories (what the nuScenes writer stores). "sky" is never
# hit by the LiDAR, so it has no lidarseg category.
NUSCENES_CATEGORIES = {
    0: "noise", 1: "flat.driveable_surface", 2: "flat.sidewalk", 3: "static.manmade", 4: "vehicle.car",
    5: "static.other", 6: "static.vegetation",
}

NOISE, ROAD, SIDEWALK, BUILDING, CAR, POLE, VEGETATION, SKY = range(len(CLASS_NAMES))

NO_HIT = -1
"""Object index of a ray that hits nothing."""
GROUND = -2
"""Object index of a ray that hits the ground plane."""

# Surface albedos (linear RGB in [0, 1]); per-object variation is added on top.
ROAD_ALBEDO = np.array([0.28, 0.28, 0.30])
SIDEWALK_ALBEDO = np.array([0.62, 0.60, 0.56])
LANE_MARKING_ALBEDO = np.array([0.92, 0.92, 0.86])
WINDOW_ALBEDO = np.array([0.14, 0.19, 0.27])
CAR_GLASS_ALBEDO = np.array([0.08, 0.10, 0.13])


@dataclass
class Scene:
    """A ground plane plus ``M`` boxes.

    Attributes:
        centers: ``(M, 3) float64`` box centres, world frame, metres.
        half_sizes: ``(M, 3) float64`` half extents along the box's own x, y, z axes, metres.
        yaws: ``(M,) float64`` rotation of each box about world z, radians.
        class_ids: ``(M,) uint8`` indices into :data:`CLASS_NAMES`.
        albedos: ``(M, 3) float64`` RGB albedo in [0, 1].
        textured: ``(M,) bool`` boxes that get a procedural facade (windows) when shaded.
        instance_ids: ``(M,) int32`` one id per physical object (a tree's trunk and crown share one).
        road_half_width: ground with ``|y|`` below this is road, beyond it sidewalk (metres).
        x_range: ``(x_min, x_max)`` street extent along world x (metres).
        seed: the seed it was generated from.
    """

    centers: np.ndarray
    half_sizes: np.ndarray
    yaws: np.ndarray
    class_ids: np.ndarray
    albedos: np.ndarray
    textured: np.ndarray
    instance_ids: np.ndarray
    road_half_width: float = 4.0
    x_range: tuple[float, float] = (-60.0, 160.0)
    seed: int = 0

    def __len__(self) -> int:
        return int(self.centers.shape[0])

    def ground_class(self, y: np.ndarray) -> np.ndarray:
        """``uint8`` class of ground points with world lateral coordinate ``y``."""
        return np.where(np.abs(y) < self.road_half_width, ROAD, SIDEWALK).astype(np.uint8)


class _Builder:
    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.next_instance = 0

    def add(self, center, half, yaw, cls, albedo, textured=False, instance=None) -> int:
        if instance is None:
            instance = self.next_instance
            self.next_instance += 1
        self.rows.append((center, half, float(yaw), int(cls), np.clip(albedo, 0.0, 1.0), bool(textured), instance))
        return instance


def _jitter(rng: np.random.Generator, base, spread: float) -> np.ndarray:
    """Per-object albedo variation: a brightness factor and a small per-channel tint."""
    base = np.asarray(base, dtype=np.float64)
    return base * rng.uniform(1.0 - spread, 1.0 + spread) + rng.normal(0.0, spread / 3.0, 3)


def make_scene(seed: int = 0, x_range: tuple[float, float] = (-60.0, 160.0), road_half_width: float = 4.0) -> Scene:
    """Generate the street for ``seed`` between ``x_range[0]`` and ``x_range[1]`` (metres along world x).

    Layout (``|y|`` from the road centre line): road ``< road_half_width``; parked cars centred at
    about ``road_half_width - 1``; poles and trees on the sidewalk; building fronts from
    ``road_half_width + 4.5`` to ``+ 7``.
    """
    x0, x1 = float(x_range[0]), float(x_range[1])
    if not x1 > x0 + 20.0:
        raise ValueError(f"x_range too short: {x_range}")
    rw = float(road_half_width)
    streams = iter(np.random.SeedSequence(int(seed)).spawn(16))
    b = _Builder()

    for side in (1.0, -1.0):
        # Buildings: a row of blocks with small gaps, fronts facing the road.
        rng = np.random.default_rng(next(streams))
        x = x0 + rng.uniform(0.0, 3.0)
        while x < x1:
            length = rng.uniform(8.0, 20.0)
            depth = rng.uniform(8.0, 14.0)
            height = rng.uniform(5.0, 22.0)
            front = rw + rng.uniform(4.5, 7.0)
            yaw = rng.uniform(-0.04, 0.04)
            albedo = _jitter(rng, rng.choice([[0.70, 0.62, 0.52], [0.55, 0.55, 0.58], [0.72, 0.45, 0.36]]), 0.12)
            b.add([x + length / 2, side * (front + depth / 2), height / 2], [length / 2, depth / 2, height / 2],
                  yaw, BUILDING, albedo, textured=True)
            x += length + rng.choice([0.0, rng.uniform(1.0, 4.0)])

        # Parked cars along the kerb, sometimes in short rows.
        rng = np.random.default_rng(next(streams))
        x = x0 + rng.uniform(0.0, 6.0)
        while x < x1:
            if rng.random() < 0.6:
                length, width, height = rng.uniform(3.9, 4.9), rng.uniform(1.7, 1.95), rng.uniform(1.4, 1.7)
                y = side * (rw - 1.0 + rng.uniform(-0.1, 0.1))
                yaw = (0.0 if rng.random() < 0.5 else np.pi) + rng.normal(0.0, 0.03)
                albedo = _jitter(rng, rng.choice([[0.75, 0.1, 0.1], [0.1, 0.2, 0.6], [0.85, 0.85, 0.85],
                                                  [0.12, 0.12, 0.12], [0.3, 0.45, 0.3]]), 0.1)
                b.add([x, y, height / 2], [length / 2, width / 2, height / 2], yaw, CAR, albedo)
            x += rng.uniform(5.5, 14.0)

        # Poles (street lights, signs) near the kerb.
        rng = np.random.default_rng(next(streams))
        x = x0 + rng.uniform(0.0, 15.0)
        while x < x1:
            height = rng.uniform(4.5, 8.0)
            half = rng.uniform(0.08, 0.14)
            y = side * (rw + rng.uniform(0.4, 0.8))
            b.add([x, y, height / 2], [half, half, height / 2], rng.uniform(0, np.pi / 2), POLE,
                  _jitter(rng, [0.45, 0.47, 0.5], 0.15))
            x += rng.uniform(18.0, 30.0)

        # Trees: trunk box plus crown box, one instance.
        rng = np.random.default_rng(next(streams))
        x = x0 + rng.uniform(0.0, 12.0)
        while x < x1:
            if rng.random() < 0.7:
                y = side * (rw + rng.uniform(1.5, 2.3))
                trunk_h = rng.uniform(2.0, 3.0)
                trunk_half = rng.uniform(0.15, 0.25)
                inst = b.add([x, y, trunk_h / 2], [trunk_half, trunk_half, trunk_h / 2], rng.uniform(0, np.pi / 2),
                             VEGETATION, _jitter(rng, [0.35, 0.24, 0.14], 0.15))
                crown_half = rng.uniform(1.0, 1.6)
                crown_h = rng.uniform(2.0, 3.5)
                b.add([x, y, trunk_h + crown_h / 2], [crown_half, crown_half, crown_h / 2], rng.uniform(0, np.pi / 2),
                      VEGETATION, _jitter(rng, [0.18, 0.42, 0.14], 0.2), instance=inst)
            x += rng.uniform(12.0, 26.0)

    # End caps: buildings across the street at both ends.
    rng = np.random.default_rng(next(streams))
    for xf, direction in ((x0, -1.0), (x1, 1.0)):
        depth, height = 10.0, rng.uniform(12.0, 25.0)
        b.add([xf + direction * depth / 2, 0.0, height / 2], [depth / 2, rw + 12.0, height / 2], 0.0, BUILDING,
              _jitter(rng, [0.6, 0.58, 0.55], 0.1), textured=True)

    centers, halves, yaws, classes, albedos, textured, instances = zip(*b.rows)
    return Scene(
        centers=np.asarray(centers, dtype=np.float64),
        half_sizes=np.asarray(halves, dtype=np.float64),
        yaws=np.asarray(yaws, dtype=np.float64),
        class_ids=np.asarray(classes, dtype=np.uint8),
        albedos=np.asarray(albedos, dtype=np.float64),
        textured=np.asarray(textured, dtype=bool),
        instance_ids=np.asarray(instances, dtype=np.int32),
        road_half_width=rw,
        x_range=(x0, x1),
        seed=int(seed),
    )


def _hash01(a: np.ndarray, b: np.ndarray, c: np.ndarray | int = 0) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer cell ``(a, b, c)``."""
    v = np.sin(a * 12.9898 + b * 78.233 + np.asarray(c) * 37.719) * 43758.5453
    return v - np.floor(v)


def surface_albedo(scene: Scene, points: np.ndarray, object_index: np.ndarray) -> np.ndarray:
    """``(N, 3) float64`` albedo of the surface at world ``points`` hit on ``object_index``.

    Adds the procedural detail that makes images and intensities non-trivial: lane markings and
    asphalt grain on the road, paving tiles on the sidewalk, windows on building facades, glass on
    car sides and leaf noise on tree crowns. ``NO_HIT`` rows get zeros.
    """
    p = np.asarray(points, dtype=np.float64)
    idx = np.asarray(object_index)
    out = np.zeros((p.shape[0], 3))

    g = idx == GROUND
    if g.any():
        x, y = p[g, 0], p[g, 1]
        rw = scene.road_half_width
        road = np.abs(y) < rw
        grain = _hash01(np.floor(x / 0.4), np.floor(y / 0.4))
        alb = np.where(road[:, None], ROAD_ALBEDO * (0.85 + 0.3 * grain[:, None]), 0.0)
        tile = _hash01(np.floor(x / 1.2), np.floor(y / 1.2), 1)
        seam = (np.minimum((x / 1.2) % 1.0, (y / 1.2) % 1.0) < 0.05)
        side_alb = SIDEWALK_ALBEDO * (0.9 + 0.15 * tile[:, None]) * np.where(seam, 0.7, 1.0)[:, None]
        alb = np.where(road[:, None], alb, side_alb)
        centre_dash = (np.abs(y) < 0.075) & ((x % 9.0) < 3.0)
        edge_line = np.abs(np.abs(y) - (rw - 0.3)) < 0.075
        alb[centre_dash | edge_line] = LANE_MARKING_ALBEDO
        out[g] = alb

    b = idx >= 0
    if b.any():
        bi = idx[b]
        alb = scene.albedos[bi].copy()
        c, s = np.cos(scene.yaws[bi]), np.sin(scene.yaws[bi])
        d = p[b] - scene.centers[bi]
        lx, ly, lz = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]
        half = scene.half_sizes[bi]
        on_x_face = np.abs(np.abs(lx) - half[:, 0]) < 1e-6 * np.maximum(1.0, half[:, 0])
        on_y_face = np.abs(np.abs(ly) - half[:, 1]) < 1e-6 * np.maximum(1.0, half[:, 1])
        side = (on_x_face | on_y_face) & ~(np.abs(np.abs(lz) - half[:, 2]) < 1e-6)
        along = np.where(on_y_face, lx + half[:, 0], ly + half[:, 1])
        z = lz + half[:, 2]  # height above the box bottom

        facade = scene.textured[bi] & side
        window = facade & ((z % 3.2) > 1.0) & ((z % 3.2) < 2.3) & (z < 2 * half[:, 2] - 0.8)
        window &= ((along % 2.6) > 0.6) & ((along % 2.6) < 1.9)
        alb[window] = WINDOW_ALBEDO

        cls = scene.class_ids[bi]
        glass = (cls == CAR) & side & (z > 1.1 * half[:, 2]) & (z < 1.85 * half[:, 2])
        alb[glass] = CAR_GLASS_ALBEDO

        leaves = (cls == VEGETATION) & (half[:, 0] > 0.5)
        if leaves.any():
            n = _hash01(np.floor(lx[leaves] / 0.3), np.floor(ly[leaves] / 0.3), np.floor(lz[leaves] / 0.3))
            alb[leaves] *= (0.75 + 0.5 * n)[:, None]
        out[b] = alb
    return np.clip(out, 0.0, 1.0)
