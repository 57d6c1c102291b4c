"""Procedural object models, each in its own frame (x forward / along the facade, y left, z up,
origin on the ground), drawn from an ``np.random.Generator``.

Every class has a distinctive but varied shape and appearance, and the classes overlap in single
cues on purpose: bushes are as high as cars, bollards as high as pedestrians, green facades and
green cars next to vegetation, red autumn trees next to red cars, grey trucks next to grey walls.
"""
from __future__ import annotations

import numpy as np

from .materials import (
    M_BARK,
    M_CARGO,
    M_CLOTH,
    M_FACADE,
    M_GLASS,
    M_LAMP,
    M_LEAVES,
    M_METAL,
    M_PAINT,
    M_PLATE,
    M_ROOF,
    M_SIGN,
    M_SKIN,
    M_TYRE,
)
from .meshes import Mesh, blob, box, cone, cylinder, gable_roof, wheel

# Swing codes for articulated pedestrians (see agents.pose_vertices).
LEG_A, LEG_B, ARM_A, ARM_B = 1, -1, 2, -2

FACADE_COLOURS = np.array([[0.55, 0.28, 0.20], [0.72, 0.64, 0.50], [0.55, 0.55, 0.55], [0.80, 0.80, 0.77],
                           [0.30, 0.30, 0.33], [0.70, 0.64, 0.40], [0.48, 0.58, 0.70], [0.45, 0.60, 0.45]])
CAR_COLOURS = np.array([[0.80, 0.80, 0.80], [0.05, 0.05, 0.06], [0.55, 0.56, 0.58], [0.33, 0.34, 0.36],
                        [0.60, 0.05, 0.05], [0.08, 0.15, 0.45], [0.10, 0.26, 0.12], [0.80, 0.60, 0.06],
                        [0.62, 0.55, 0.42]])
CAR_COLOUR_P = np.array([0.22, 0.2, 0.16, 0.12, 0.09, 0.08, 0.05, 0.03, 0.05])
CLOTH_COLOURS = np.array([[0.10, 0.15, 0.35], [0.05, 0.05, 0.05], [0.40, 0.40, 0.42], [0.60, 0.52, 0.40],
                          [0.70, 0.10, 0.10], [0.15, 0.35, 0.15], [0.85, 0.85, 0.85], [0.80, 0.65, 0.10],
                          [0.35, 0.20, 0.45], [0.20, 0.45, 0.60]])
SKIN_TONES = np.array([[0.85, 0.65, 0.52], [0.72, 0.52, 0.38], [0.55, 0.37, 0.25], [0.35, 0.22, 0.15]])


def _jitter(rng: np.random.Generator, colour, spread: float = 0.08) -> np.ndarray:
    c = np.asarray(colour, dtype=np.float64) * rng.uniform(1 - spread, 1 + spread) + rng.normal(0, spread / 4, 3)
    return np.clip(c, 0.0, 1.0)


def _roofed(m: Mesh, material: int, albedo) -> Mesh:
    """Give a :func:`box`'s top face (its last two triangles) another material."""
    m.material[10:12] = material
    m.albedo[10:12] = albedo
    return m


# --- static objects ---------------------------------------------------------------------------------------

def building(rng: np.random.Generator, length: float, depth: float, height: float, sink: float) -> Mesh:
    """A block with a facade of windows: front at y = 0 facing -y, extending to y = depth; its bottom
    ``sink`` metres below z = 0 so it meets uneven ground. Upper setback storeys or a gable roof vary."""
    colour = _jitter(rng, FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))], 0.12)
    floor_h = rng.uniform(2.8, 3.8)
    pitch = rng.uniform(1.8, 3.5)
    tex = (floor_h, rng.uniform(0.6, 0.8) * pitch, pitch, rng.choice([0.0, 0.05, 0.15]))
    roof_col = _jitter(rng, rng.choice([0.15, 0.25, 0.35]) * np.array([1.0, 0.95, 0.9]))
    parts = [_roofed(box([0, depth / 2, (height - sink) / 2], [length / 2, depth / 2, (height + sink) / 2],
                         M_FACADE, colour, tex), M_ROOF, roof_col)]
    style = rng.random()
    if height < 9.0 and style < 0.6:
        parts.append(gable_roof(length, depth, rng.uniform(1.5, 3.5), height, M_ROOF,
                                _jitter(rng, [0.45, 0.2, 0.15] if rng.random() < 0.5 else [0.2, 0.2, 0.22]),
                                center_y=depth / 2))
    elif height > 12.0 and style < 0.5:
        h2 = rng.uniform(3.0, 8.0)
        inset = rng.uniform(1.5, 3.0)
        parts.append(_roofed(box([0, depth / 2 + inset / 2, height + h2 / 2], [length / 2 - inset, depth / 2 - inset,
                                                                              h2 / 2], M_FACADE, colour, tex),
                             M_ROOF, roof_col))
    else:  # parapet edge
        parts.append(_roofed(box([0, 0.15, height + 0.4], [length / 2, 0.15, 0.4], M_FACADE, colour * 0.9, tex),
                             M_ROOF, roof_col))
    return Mesh.concat(parts)


def tree(rng: np.random.Generator) -> Mesh:
    """Deciduous (one to three lumpy crowns) or conifer (stacked cones) tree, 4-13 m tall."""
    bark = _jitter(rng, [0.30, 0.22, 0.15], 0.15)
    if rng.random() < 0.75:
        crown_base = rng.uniform(1.8, 3.5)
        r = rng.uniform(1.3, 3.0)
        trunk_r = rng.uniform(0.12, 0.3)
        parts = [cylinder(trunk_r, -0.3, crown_base + r * 0.8, M_BARK, bark, 7, top_radius=trunk_r * 0.7)]
        autumn = rng.random() < 0.15
        base = (np.array([[0.60, 0.35, 0.08], [0.55, 0.14, 0.06]])[rng.integers(2)] if autumn
                else np.array([rng.uniform(0.10, 0.28), rng.uniform(0.26, 0.45), rng.uniform(0.06, 0.14)]))
        for _ in range(int(rng.integers(1, 4))):
            c = [rng.uniform(-0.5, 0.5) * r, rng.uniform(-0.5, 0.5) * r, crown_base + r * rng.uniform(0.8, 1.4)]
            radii = r * rng.uniform(0.7, 1.1, 3) * np.array([1.0, 1.0, rng.uniform(0.8, 1.4)])
            parts.append(blob(c, radii, M_LEAVES, _jitter(rng, base, 0.1), rng, roughness=0.25))
        return Mesh.concat(parts)
    h = rng.uniform(5.0, 13.0)
    r = h * rng.uniform(0.18, 0.28)
    parts = [cylinder(0.18, -0.3, 1.5, M_BARK, bark, 6)]
    green = _jitter(rng, [0.08, 0.22, 0.10], 0.15)
    for k in range(3):
        z0 = 1.0 + k * (h - 1.0) * 0.28
        parts.append(cone(r * (1.0 - 0.25 * k), z0, z0 + (h - 1.0) * 0.5, M_LEAVES, green, 9))
    return Mesh.concat(parts)


def bush(rng: np.random.Generator, hedge_length: float = 0.0) -> Mesh:
    """A lumpy bush (0.6-1.8 m: car height) or, with ``hedge_length`` > 0, a hedge along x."""
    green = np.array([rng.uniform(0.08, 0.25), rng.uniform(0.22, 0.40), rng.uniform(0.05, 0.14)])
    h = rng.uniform(0.6, 1.8)
    if hedge_length > 0:
        n = max(1, int(hedge_length / 2.0))
        xs = (np.arange(n) + 0.5) * hedge_length / n - hedge_length / 2
        return Mesh.concat([blob([x, 0, h / 2], [hedge_length / n * 0.65, rng.uniform(0.4, 0.7), h / 2], M_LEAVES,
                                 _jitter(rng, green, 0.05), rng, roughness=0.15) for x in xs])
    return blob([0, 0, h * 0.45], [rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.2), h / 2], M_LEAVES, green, rng, 0.25)


def street_light(rng: np.random.Generator) -> Mesh:
    """A 6-9 m pole with an arm reaching over the road along local +y and a lamp head."""
    colour = _jitter(rng, [[0.45, 0.47, 0.5], [0.12, 0.2, 0.14], [0.08, 0.08, 0.08]][rng.integers(3)])
    h = rng.uniform(6.0, 9.0)
    r = rng.uniform(0.07, 0.12)
    arm = rng.uniform(1.0, 2.2)
    return Mesh.concat([
        cylinder(r, -0.2, h, M_METAL, colour, 8, top_radius=r * 0.7),
        box([0, arm / 2, h - 0.1], [0.05, arm / 2, 0.05], M_METAL, colour),
        box([0, arm, h - 0.2], [0.25, 0.15, 0.08], M_LAMP, [0.85, 0.85, 0.75]),
    ])


def sign_post(rng: np.random.Generator) -> Mesh:
    """A 2-3 m post with a square, wide or round-ish plate facing along x, in a sign colour with a white rim."""
    h = rng.uniform(2.2, 3.0)
    plate = np.array([[0.7, 0.1, 0.1], [0.1, 0.25, 0.65], [0.85, 0.7, 0.1], [0.85, 0.85, 0.85],
                      [0.1, 0.45, 0.2]])[rng.integers(5)]
    hw, hh = rng.uniform(0.25, 0.5), rng.uniform(0.25, 0.4)
    zc = h - hh
    return Mesh.concat([
        cylinder(0.04, -0.2, h - 0.05, M_METAL, [0.55, 0.56, 0.58], 6),
        box([0.05, 0, zc], [0.015, hw, hh], M_SIGN, plate, tex=(hw, hh, zc)),
    ])


def traffic_light(rng: np.random.Generator) -> Mesh:
    """A 3-4 m pole with a dark signal head."""
    h = rng.uniform(3.0, 4.0)
    lamp = np.array([[0.9, 0.1, 0.05], [0.9, 0.6, 0.05], [0.1, 0.8, 0.3]])[rng.integers(3)]
    return Mesh.concat([
        cylinder(0.07, -0.2, h, M_METAL, [0.1, 0.1, 0.1], 8),
        box([0.15, 0, h - 0.5], [0.12, 0.18, 0.5], M_METAL, [0.06, 0.06, 0.06]),
        box([0.28, 0, h - 0.5 + 0.3 * rng.integers(-1, 2)], [0.02, 0.1, 0.1], M_LAMP, lamp),
    ])


def bollard(rng: np.random.Generator) -> Mesh:
    """A 0.8-1.2 m post (pole class, pedestrian-sized for the LiDAR)."""
    colour = _jitter(rng, [[0.1, 0.1, 0.1], [0.5, 0.5, 0.52], [0.75, 0.6, 0.1]][rng.integers(3)])
    return cylinder(rng.uniform(0.06, 0.12), -0.1, rng.uniform(0.8, 1.2), M_METAL, colour, 8)


# --- vehicles and people ----------------------------------------------------------------------------------

def car(rng: np.random.Generator) -> tuple[Mesh, np.ndarray]:
    """A car (sedan, hatchback, SUV or van) facing +x; returns the mesh and its box size (l, w, h) metres."""
    kind = rng.choice(4, p=[0.4, 0.25, 0.25, 0.1])
    L, W, H = [(rng.uniform(4.2, 4.9), rng.uniform(1.75, 1.9), rng.uniform(1.4, 1.55)),
               (rng.uniform(3.6, 4.2), rng.uniform(1.65, 1.8), rng.uniform(1.45, 1.6)),
               (rng.uniform(4.4, 5.0), rng.uniform(1.85, 2.0), rng.uniform(1.65, 1.85)),
               (rng.uniform(4.8, 5.3), rng.uniform(1.9, 2.05), rng.uniform(1.9, 2.2))][kind]
    paint = _jitter(rng, CAR_COLOURS[rng.choice(len(CAR_COLOURS), p=CAR_COLOUR_P)], 0.06)
    clearance = rng.uniform(0.15, 0.25)
    body_top = clearance + (H - clearance) * (0.55 if kind < 3 else 0.45)
    cabin_len = L * (rng.uniform(0.45, 0.6) if kind < 3 else 0.8)
    cabin_x = -L * (0.06 if kind < 3 else 0.05)
    wr = rng.uniform(0.30, 0.36) + (0.03 if kind >= 2 else 0.0)
    parts = [
        box([0, 0, (clearance + body_top) / 2], [L / 2, W / 2, (body_top - clearance) / 2], M_PAINT, paint),
        _roofed(box([cabin_x, 0, (body_top + H) / 2], [cabin_len / 2, W / 2 - 0.08, (H - body_top) / 2], M_GLASS,
                    [0.06, 0.08, 0.10]), M_PAINT, paint),
        box([L / 2 + 0.005, 0, clearance + 0.3], [0.01, 0.26, 0.06], M_PLATE, [0.9, 0.9, 0.85]),
        box([-L / 2 - 0.005, 0, clearance + 0.35], [0.01, 0.26, 0.06], M_PLATE, [0.9, 0.9, 0.85]),
        box([L / 2 + 0.004, W / 2 - 0.25, body_top - 0.15], [0.01, 0.15, 0.06], M_LAMP, [0.9, 0.9, 0.8]),
        box([L / 2 + 0.004, -W / 2 + 0.25, body_top - 0.15], [0.01, 0.15, 0.06], M_LAMP, [0.9, 0.9, 0.8]),
        box([-L / 2 - 0.004, W / 2 - 0.2, body_top - 0.15], [0.01, 0.12, 0.07], M_LAMP, [0.7, 0.05, 0.05]),
        box([-L / 2 - 0.004, -W / 2 + 0.2, body_top - 0.15], [0.01, 0.12, 0.07], M_LAMP, [0.7, 0.05, 0.05]),
    ]
    for x in (L / 2 - 0.8, -L / 2 + 0.8):
        for y in (W / 2 - 0.1, -W / 2 + 0.1):
            parts.append(wheel([x, y, wr], wr, 0.11, M_TYRE, [0.04, 0.04, 0.04]))
    return Mesh.concat(parts), np.array([L, W, H])


def truck(rng: np.random.Generator) -> tuple[Mesh, np.ndarray]:
    """A box truck or a tanker facing +x: cab with windscreen and a long cargo body; size (l, w, h)."""
    W = rng.uniform(2.3, 2.55)
    cab_len = rng.uniform(1.8, 2.4)
    cargo_len = rng.uniform(4.0, 8.5)
    L = cab_len + cargo_len + 0.3
    cab_h = rng.uniform(2.8, 3.3)
    H = rng.uniform(3.2, 3.9)
    cab_col = _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 0.06)
    xf = L / 2
    parts = [
        box([xf - cab_len / 2, 0, 0.55 + (cab_h - 0.55) / 2], [cab_len / 2, W / 2, (cab_h - 0.55) / 2], M_PAINT,
            cab_col),
        box([xf + 0.005, 0, cab_h - 0.75], [0.01, W / 2 - 0.15, 0.45], M_GLASS, [0.06, 0.08, 0.1]),
        box([xf + 0.006, 0, 0.7], [0.01, 0.28, 0.06], M_PLATE, [0.9, 0.85, 0.2]),
        box([xf - cab_len / 2, 0, 0.4], [L / 2 - 0.2, 0.6, 0.15], M_METAL, [0.15, 0.15, 0.15]),  # chassis
    ]
    cx = xf - cab_len - 0.3 - cargo_len / 2
    if rng.random() < 0.8:
        body = _jitter(rng, [[0.85, 0.85, 0.85], [0.6, 0.6, 0.62], [0.2, 0.35, 0.6], [0.7, 0.15, 0.1]][
            rng.integers(4)], 0.05)
        band = np.r_[rng.uniform(1.5, H - 0.6), _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))])]
        parts.append(box([cx, 0, 0.9 + (H - 0.9) / 2], [cargo_len / 2, W / 2, (H - 0.9) / 2], M_CARGO, body,
                         tex=band))
    else:  # tanker: a cylinder lying along x
        r = (H - 0.9) / 2
        tank = cylinder(r, -cargo_len / 2, cargo_len / 2, M_METAL, _jitter(rng, [0.7, 0.72, 0.75]), 12)
        R = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # z axis -> x axis
        tank.vertices = tank.vertices @ R.T + np.array([cx, 0.0, 0.9 + r])
        parts.append(tank)
    for x in (xf - 1.2, cx - cargo_len / 4, cx - cargo_len / 4 - 1.1):
        for y in (W / 2 - 0.2, -W / 2 + 0.2):
            parts.append(wheel([x, y, 0.5], 0.5, 0.16, M_TYRE, [0.04, 0.04, 0.04]))
    return Mesh.concat(parts), np.array([L, W, H])


def _person(rng: np.random.Generator, height: float, seated: bool) -> Mesh:
    """Legs, torso, arms and head of a person facing +x (standing; ``seated`` leans forward on a bicycle)."""
    shirt = _jitter(rng, CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))], 0.1)
    pants = _jitter(rng, CLOTH_COLOURS[rng.choice([0, 1, 2, 3, 0])], 0.1)
    skin = _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 0.05)
    nir = rng.uniform(0.2, 0.6)
    stripes = rng.choice([0.0, 0.0, rng.uniform(0.08, 0.2)])
    width = rng.uniform(0.36, 0.5) * height / 1.75
    depth = rng.uniform(0.2, 0.3)
    leg = 0.47 * height
    torso = 0.30 * height
    head_r = rng.uniform(0.095, 0.12)
    if seated:
        hip = np.array([-0.25, 0.0, 0.95])
        lean = rng.uniform(0.4, 0.7)
        top = hip + torso * np.array([np.sin(lean), 0.0, np.cos(lean)])
        parts = [
            box((hip + top) / 2, [depth / 2, width / 2, torso / 2], M_CLOTH, shirt, (stripes, nir), pitch=lean),
            box([hip[0] + 0.12, 0.1, 0.62], [0.07, 0.07, 0.33], M_CLOTH, pants, (0.0, nir), pitch=0.3),
            box([hip[0] + 0.15, -0.1, 0.6], [0.07, 0.07, 0.33], M_CLOTH, pants, (0.0, nir), pitch=-0.1),
            box([top[0] + 0.22, width / 2, top[2] - 0.18], [0.05, 0.05, 0.3], M_CLOTH, shirt, (0.0, nir), pitch=1.0),
            box([top[0] + 0.22, -width / 2, top[2] - 0.18], [0.05, 0.05, 0.3], M_CLOTH, shirt, (0.0, nir), pitch=1.0),
            blob(top + [0.05, 0, head_r + 0.08], [head_r] * 3, M_SKIN, skin, rng, 0.05),
        ]
        if rng.random() < 0.6:  # helmet
            parts.append(blob(top + [0.03, 0, head_r + 0.14], [head_r * 1.2, head_r * 1.1, head_r * 0.8], M_PAINT,
                              _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))]), rng, 0.02))
        return Mesh.concat(parts)
    shoulder = leg + torso
    parts = [
        box([0, width / 4, leg / 2], [0.075, 0.07, leg / 2], M_CLOTH, pants, (0.0, nir)).articulated(LEG_A, leg),
        box([0, -width / 4, leg / 2], [0.075, 0.07, leg / 2], M_CLOTH, pants, (0.0, nir)).articulated(LEG_B, leg),
        box([0, 0, leg + torso / 2], [depth / 2, width / 2, torso / 2], M_CLOTH, shirt, (stripes, nir)),
        box([0, width / 2 + 0.05, shoulder - 0.3], [0.05, 0.05, 0.3], M_CLOTH, shirt, (0.0, nir)).articulated(
            ARM_A, shoulder),
        box([0, -width / 2 - 0.05, shoulder - 0.3], [0.05, 0.05, 0.3], M_CLOTH, shirt, (0.0, nir)).articulated(
            ARM_B, shoulder),
        blob([0, 0, shoulder + 0.05 + head_r], [head_r * 0.95, head_r * 0.85, head_r * 1.1], M_SKIN, skin, rng, 0.05),
        blob([-0.02, 0, shoulder + 0.09 + head_r], [head_r, head_r * 0.9, head_r * 0.95], M_CLOTH,
             _jitter(rng, [[0.1, 0.07, 0.05], [0.35, 0.25, 0.12], [0.6, 0.5, 0.3]][rng.integers(3)]), rng, 0.1),
    ]
    if rng.random() < 0.3:  # backpack
        parts.append(box([-depth / 2 - 0.1, 0, leg + torso * 0.55], [0.1, width * 0.35, torso * 0.35], M_CLOTH,
                         _jitter(rng, CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))]), (0.0, nir)))
    return Mesh.concat(parts)


def pedestrian(rng: np.random.Generator) -> tuple[Mesh, np.ndarray]:
    """A walking person facing +x, 1.5-1.95 m, with swinging legs and arms; size (l, w, h)."""
    h = rng.uniform(1.5, 1.95)
    return _person(rng, h, seated=False), np.array([0.5, 0.6, h + 0.1])


def cyclist(rng: np.random.Generator) -> tuple[Mesh, np.ndarray]:
    """A bicycle with a seated rider facing +x; size (l, w, h)."""
    frame_col = _jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 0.1)
    r = rng.uniform(0.32, 0.35)
    parts = [
        wheel([0.52, 0, r], r, 0.02, M_TYRE, [0.05, 0.05, 0.05], 12),
        wheel([-0.52, 0, r], r, 0.02, M_TYRE, [0.05, 0.05, 0.05], 12),
        box([0.0, 0, 0.62], [0.45, 0.02, 0.025], M_PAINT, frame_col, pitch=-0.25),
        box([-0.22, 0, 0.6], [0.025, 0.02, 0.27], M_PAINT, frame_col, pitch=-0.3),
        box([0.3, 0, 0.72], [0.02, 0.02, 0.3], M_PAINT, frame_col, pitch=0.35),
        box([0.42, 0, 1.0], [0.03, 0.3, 0.02], M_METAL, [0.1, 0.1, 0.1]),
    ]
    rider_h = rng.uniform(1.6, 1.9)
    parts.append(_person(rng, rider_h, seated=True))
    return Mesh.concat(parts), np.array([1.8, 0.65, 0.95 + 0.3 * rider_h + 0.4])
