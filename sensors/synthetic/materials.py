"""Materials: procedural texture (visible albedo) and near-infrared LiDAR reflectivity of a surface point.

The camera sees visible albedo; the LiDAR (905 nm) sees a different reflectivity: vegetation is
bright in near infrared, lane paint and signs are retro-reflective, glass mostly drops the beam.
So the two sensors carry information the other lacks. Every pattern is a function of the hit
point's *local* coordinates (object frame, or road coordinates on the ground), so textures stay
put on moving objects, and is vectorized over hits.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .meshes import U_AROUND, U_Y

(M_NONE, M_ASPHALT, M_CURB, M_PAVING, M_GRASS, M_FACADE, M_ROOF, M_BARK, M_LEAVES, M_METAL, M_SIGN, M_PAINT,
 M_GLASS, M_TYRE, M_CLOTH, M_SKIN, M_PLATE, M_LAMP, M_CARGO) = range(19)

MATERIAL_NAMES = ("none", "asphalt", "curb", "paving", "grass", "facade", "roof", "bark", "leaves", "metal", "sign",
                  "paint", "glass", "tyre", "cloth", "skin", "plate", "lamp", "cargo")

# Near-infrared reflectivity in [0, 1] per material (before the pattern's own variation).
NIR = np.zeros(256, np.float32)
NIR[[M_ASPHALT, M_CURB, M_PAVING, M_GRASS, M_FACADE, M_ROOF, M_BARK, M_LEAVES, M_METAL, M_SIGN, M_PAINT, M_GLASS,
     M_TYRE, M_CLOTH, M_SKIN, M_PLATE, M_LAMP, M_CARGO]] = [
    0.10, 0.35, 0.28, 0.50, 0.30, 0.18, 0.30, 0.60, 0.35, 0.95, 0.25, 0.05, 0.04, 0.35, 0.45, 0.95, 0.60, 0.45]

WHITE_PAINT = np.array([0.85, 0.85, 0.80], np.float32)
YELLOW_PAINT = np.array([0.85, 0.65, 0.12], np.float32)
WINDOW = np.array([0.10, 0.13, 0.18], np.float32)
LIT_WINDOW = np.array([0.80, 0.68, 0.40], np.float32)
DIRT = np.array([0.36, 0.27, 0.18], np.float32)
DRY_GRASS = np.array([0.50, 0.46, 0.28], np.float32)


def hash01(a: np.ndarray, b: np.ndarray, c: np.ndarray | int = 0, seed: int = 0) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer lattice cell ``(a, b, c)`` (integer hash;
    ``a``, ``b``, ``c`` are integer-valued, any numeric dtype)."""
    h = (np.asarray(a, dtype=np.int64) * 73856093) ^ (np.asarray(b, dtype=np.int64) * 19349663) ^ \
        (np.asarray(c, dtype=np.int64) * 83492791 + seed)
    return _mix(h)


def _mix(h: np.ndarray) -> np.ndarray:
    """Finalize a 32-bit hash (int64 holding uint32 values) into [0, 1)."""
    h &= 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0x5BD1E995) & 0xFFFFFFFF
    h ^= h >> 15
    return h.astype(np.float32) * np.float32(1.0 / 2**32)


def value_noise(u: np.ndarray, v: np.ndarray, scale: float, seed: int = 0) -> np.ndarray:
    """Smooth noise in [0, 1] (float32): lattice values every ``scale`` metres, smoothstep-interpolated.

    Equal to interpolating :func:`hash01` at the four lattice corners (the products are shared)."""
    x = np.asarray(u, dtype=np.float64) * (1.0 / scale)
    y = np.asarray(v, dtype=np.float64) * (1.0 / scale)
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0).astype(np.float32)
    fy = (y - y0).astype(np.float32)
    fx = fx * fx * (3 - 2 * fx)
    fy = fy * fy * (3 - 2 * fy)
    a0 = x0.astype(np.int64) * 73856093
    a1 = a0 + 73856093
    b0 = y0.astype(np.int64) * 19349663
    b1 = b0 + 19349663
    c = seed  # hash01's third coordinate is 0 here, so its term is just the seed
    h00, h10, h01, h11 = _mix((a0 ^ b0) ^ c), _mix((a1 ^ b0) ^ c), _mix((a0 ^ b1) ^ c), _mix((a1 ^ b1) ^ c)
    top = h00 + (h10 - h00) * fx
    bottom = h01 + (h11 - h01) * fx
    return top + (bottom - top) * fy


_USES_U = frozenset({M_CURB, M_FACADE, M_ROOF, M_BARK, M_LEAVES, M_METAL, M_SIGN, M_PAINT, M_CARGO})
_USES_TEX = frozenset({M_PAVING, M_FACADE, M_SIGN, M_CLOTH, M_CARGO})
_NIR_FROM_ALBEDO = frozenset({M_FACADE, M_CARGO})  # their NIR follows the (textured) visible albedo


class Surface(NamedTuple):
    """What sensors see of surface points (aligned with the hits).

    Attributes:
        albedo: ``(N, 3) float32`` visible RGB albedo in [0, 1] (linear).
        nir: ``(N,) float32`` near-infrared reflectivity in [0, 1] (LiDAR intensity source).
        glass: ``(N,) bool`` glass (windows): the LiDAR mostly gets no return, the camera sees reflections.
    """

    albedo: np.ndarray
    nir: np.ndarray
    glass: np.ndarray


def _u(local: np.ndarray, uaxis: np.ndarray) -> np.ndarray:
    u = np.where(uaxis == U_Y, local[:, 1], local[:, 0])
    around = np.flatnonzero(uaxis == U_AROUND)
    if around.size:
        p = local[around]
        u[around] = np.arctan2(p[:, 1], p[:, 0]) * np.hypot(p[:, 0], p[:, 1])
    return u


def surface(material: np.ndarray, local: np.ndarray, uaxis: np.ndarray, tex: np.ndarray, base: np.ndarray,
            road, need_albedo: bool = True) -> Surface:
    """Albedo, NIR reflectivity and glass flag at surface points.

    Args:
        material: ``(N,) uint8`` material codes.
        local: ``(N, 3)`` local coordinates (object frame; road ``(x, lat, z)`` on the ground), metres.
        uaxis: ``(N,) int8`` texture u-axis codes.
        tex: ``(N, 4) float32`` material parameters.
        base: ``(N, 3) float32`` base albedo.
        road: the :class:`~multimodal.sensors.synthetic.road.RoadLayout` (lane markings).
        need_albedo: False skips the visible texture where it does not feed the NIR reflectivity
            (the LiDAR's case); ``albedo`` is then only the base albedo there.
    """
    n = material.shape[0]
    albedo = np.asarray(base, dtype=np.float32).copy()
    nir = NIR[material].copy()
    glass = np.zeros(n, bool)
    order = np.argsort(material, kind="stable")
    for i in np.split(order, np.flatnonzero(np.diff(material[order])) + 1) if n else []:
        m = int(material[i[0]])
        p = local[i]
        t = tex[i] if m in _USES_TEX else None
        u = _u(p, uaxis[i]) if m in _USES_U else None
        v = p[:, 2]
        colour = need_albedo or m in _NIR_FROM_ALBEDO
        a = albedo[i] if colour else None
        if m == M_ASPHALT:
            x, lat = p[:, 0], p[:, 1]
            grain = value_noise(x, lat, 0.25, 1)
            if colour:
                a *= ((0.85 + 0.25 * grain) * (0.8 + 0.4 * value_noise(x, lat, 7.0, 2)))[:, None]
            nir[i] *= 0.8 + 0.4 * grain
            al = np.abs(lat)
            if road.double_centre_line:
                yellow = np.abs(al - 0.12) < 0.055
            else:
                yellow = np.zeros(len(i), bool)
            white = (~yellow) & (al < 0.075) & ((x % 9.0) < 3.0) & (not road.double_centre_line)
            if road.bike_width > 0 or road.parking_width > 0:
                white |= np.abs(al - road.lane_width) < 0.075
            if road.bike_width > 0:
                white |= (np.abs(al - road.lane_width - road.bike_width) < 0.06) & ((x % 3.0) < 1.5)
            for cx in road.crosswalks:
                white |= (np.abs(x - cx) < 2.0) & (al < road.road_half_width - 0.4) & (((lat + 50.0) % 1.0) < 0.5)
            if colour:
                worn = (0.75 + 0.25 * grain)[:, None]
                a[white] = WHITE_PAINT * worn[white]
                a[yellow] = YELLOW_PAINT * worn[yellow]
            nir[i[white | yellow]] = 0.55 + 0.2 * grain[white | yellow]
        elif m == M_CURB and need_albedo:
            a *= (0.85 + 0.3 * value_noise(u, v * 4 + p[:, 1], 0.3, 3))[:, None]
        elif m == M_PAVING:
            size = np.maximum(t[:, 0], 0.2)
            cu, cv = p[:, 0] / size, p[:, 1] / size
            tile = hash01(np.floor(cu), np.floor(cv), 4)
            fu, fv = cu % 1.0, cv % 1.0
            seam = (np.minimum(fu, 1 - fu) < 0.05) | (np.minimum(fv, 1 - fv) < 0.05)
            if colour:
                a *= ((0.85 + 0.3 * tile) * np.where(seam, 0.65, 1.0))[:, None]
            nir[i] *= 0.85 + 0.3 * tile
        elif m == M_GRASS:
            x, lat = p[:, 0], p[:, 1]
            dry = np.clip((value_noise(x, lat, 6.0, 5) - 0.45) * 3.0, 0.0, 1.0)[:, None]
            dirt = np.clip((value_noise(x, lat, 1.7, 6) - 0.7) * 5.0, 0.0, 1.0)[:, None]
            if colour:
                grain = (0.8 + 0.4 * value_noise(x, lat, 0.15, 7))[:, None]
                a[:] = ((a * (1 - dry) + DRY_GRASS * dry) * (1 - dirt) + DIRT * dirt) * grain
            nir[i] = (0.50 * (1 - dirt[:, 0]) + 0.25 * dirt[:, 0]) * (0.8 + 0.4 * dry[:, 0] * 0.5)
        elif m == M_FACADE:
            floor_h, win_w, pitch, lit_share = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
            fv = v % floor_h
            fu = u % pitch
            storey = np.floor(v / floor_h)
            win = (fv > 0.9) & (fv < 0.9 + 0.5 * floor_h) & (np.abs(fu - pitch / 2) < win_w / 2) & (storey >= 1)
            shop = (storey == 0) & (v > 0.5) & (v < floor_h - 0.6) & ((u % 4.0) > 0.4)
            glass_here = win | shop
            cell = hash01(np.floor(u / pitch), storey, 8)
            if need_albedo:  # the NIR only needs the windows
                a *= ((0.88 + 0.24 * value_noise(u, v, 1.5, 9)) * np.where(fv < 0.18, 0.8, 1.0))[:, None]
            a[glass_here] = WINDOW * (0.7 + 0.6 * cell[glass_here, None])
            lit = glass_here & (cell > 1.0 - lit_share)
            a[lit] = LIT_WINDOW
            nir[i] *= (0.6 + 0.8 * a.mean(axis=1))
            nir[i[glass_here]] = 0.05
            glass[i[glass_here]] = True
        elif m == M_ROOF and need_albedo:
            a *= (0.8 + 0.4 * value_noise(u, p[:, 1], 0.8, 10))[:, None]
        elif m == M_BARK and need_albedo:
            a *= (0.8 + 0.2 * np.sin(u * 25.0) + 0.1 * value_noise(u, v, 0.2, 11))[:, None]
        elif m == M_LEAVES:
            n1 = value_noise(u + 3.1 * v, v, 0.18, 12)
            if colour:
                n2 = value_noise(p[:, 0] - p[:, 1], v + 7.0, 0.9, 13)
                a *= (0.5 + 0.6 * n1 * (0.6 + 0.6 * n2))[:, None]
            nir[i] *= 0.8 + 0.4 * n1
        elif m == M_METAL and need_albedo:
            a *= (0.9 + 0.2 * value_noise(u, v, 0.5, 14))[:, None]
        elif m == M_SIGN and colour:
            half_w, half_h = t[:, 0], t[:, 1]
            border = (half_w - np.abs(u) < 0.05) | (half_h - np.abs(v - t[:, 2]) < 0.05)
            a[border] = WHITE_PAINT
        elif m == M_PAINT:
            if colour:
                a *= (np.where(v < 0.4, 0.75, 1.0) * (0.95 + 0.1 * value_noise(u, v, 0.7, 15)))[:, None]
            nir[i] = 0.10 + 0.45 * base[i].mean(axis=1)
        elif m == M_GLASS:
            glass[i] = True
        elif m == M_CLOTH:
            period = t[:, 0]
            if colour:
                stripes = (period > 0) & ((v % np.maximum(period, 1e-3)) < period / 2)
                a *= np.where(stripes, 0.55, 1.0)[:, None]
            nir[i] = t[:, 1]
        elif m == M_CARGO:
            ribs = (u % 0.45) < 0.05
            band = np.abs(v - t[:, 0]) < 0.25
            a *= np.where(ribs, 0.75, 1.0)[:, None]
            a[band] = t[band, 1:4]
            nir[i] = 0.2 + 0.5 * a.mean(axis=1)
        if colour:
            albedo[i] = a
    return Surface(np.clip(albedo, 0.0, 1.0), np.clip(nir, 0.0, 1.0), glass)
