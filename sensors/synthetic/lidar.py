"""A spinning multi-beam LiDAR like nuScenes' (Velodyne HDL-32E) rendered by ray casting.

The head spins clockwise seen from above at 20 Hz; a sweep with timestamp ``t`` starts pointing
backwards at ``t - 25 ms``, faces forward at ``t`` and ends backwards at ``t + 25 ms``. Each of the
``azimuth_steps`` firings casts all beams from the lidar's pose *at its own firing time* (the ego
moves during the sweep; moving agents are posed per time slice), then the driver-side motion
compensation expresses every return in the lidar frame at ``t`` with the ego poses, as nuScenes'
points are. Returns get Gaussian range noise, random dropouts, dropouts on glass and on weak
returns (dark, far or grazing surfaces), and an intensity from the surface's near-infrared
reflectivity and the incidence angle.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..geometry import invert, transform_from_quat
from .materials import surface
from .raycast import WorldCaster

LIDAR_NAME = "LIDAR_TOP"
LIDAR_FIELDS = ("x", "y", "z", "intensity", "ring")
LIDAR_PERIOD_US = 50_000
"""One revolution: 20 Hz."""

T_EGO_FROM_LIDAR = transform_from_quat(
    (0.7077955119163518, -0.006492242056004365, 0.010646214713995808, -0.7063073142877817),
    (0.943713, 0.0, 1.84023),
)
"""nuScenes LIDAR_TOP extrinsics (scene-0061 calibration): yaw about -90 deg (lidar x to the ego's
right, y forward), 1.84 m up."""


@dataclass(frozen=True)
class LidarModel:
    """Sensor parameters (lengths metres, angles degrees, times µs).

    Attributes:
        beams / elevation_deg: beam count, spread evenly between the two elevations.
        azimuth_steps: firings per revolution (1084 x 32 = 34,688 rays, as nuScenes' sweeps).
        period_us: one revolution (20 Hz).
        min_range / max_range: returns outside are dropped.
        range_noise_m / range_noise_rel: noise sigma = ``range_noise_m + range_noise_rel * range``.
        dropout: probability that any return is lost.
        glass_dropout: probability that a return from glass is lost.
        weak_signal: returns with ``nir * cos(incidence) * (10 m / range)^2`` below this are lost
            (linearly more often the weaker they are).
        time_slices: moving agents are posed this many times per sweep (10 ms apart: a car at 15 m/s
            moves 7.5 cm between two).
    """

    beams: int = 32
    elevation_deg: tuple[float, float] = (-30.0, 10.0)
    azimuth_steps: int = 1084
    period_us: int = LIDAR_PERIOD_US
    min_range: float = 1.0
    max_range: float = 70.0
    range_noise_m: float = 0.012
    range_noise_rel: float = 0.0003
    dropout: float = 0.01
    glass_dropout: float = 0.6
    weak_signal: float = 0.004
    time_slices: int = 5


class LidarScan(NamedTuple):
    """One sweep with ground truth.

    Attributes:
        points: ``(N, 5) float32`` x, y, z (metres, lidar frame at the sweep's timestamp), intensity
            (0-255), ring (0 = lowest beam); ordered by firing, then beam.
        labels: ``(N,) uint8`` class ids; instance: ``(N,) int32`` instance ids.
        fire_time_us: ``(N,) int64`` when each return was fired.
    """

    points: np.ndarray
    labels: np.ndarray
    instance: np.ndarray
    fire_time_us: np.ndarray


@lru_cache(maxsize=8)
def beam_directions(model: LidarModel) -> np.ndarray:
    """``(azimuth_steps, beams, 3)`` unit beam directions in the lidar frame, in firing order.

    Firing ``k`` points at ego azimuth ``pi - 2 pi (k + 0.5) / steps`` (from behind, over the left,
    forward, over the right); the lidar frame is the ego frame turned -90 deg about z.
    """
    el = np.radians(np.linspace(model.elevation_deg[0], model.elevation_deg[1], model.beams))
    psi = np.pi - 2.0 * np.pi * (np.arange(model.azimuth_steps) + 0.5) / model.azimuth_steps
    alpha = psi + np.pi / 2.0
    A, E = np.meshgrid(alpha, el, indexing="ij")
    d = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1)
    d.flags.writeable = False  # cached: shared by every sweep
    return d


def firing_times_us(model: LidarModel, timestamp_us: int) -> np.ndarray:
    """``(azimuth_steps,) int64`` firing times of a sweep stamped ``timestamp_us`` (its middle)."""
    k = np.arange(model.azimuth_steps)
    return int(timestamp_us) - model.period_us // 2 + np.round((k + 0.5) * model.period_us /
                                                               model.azimuth_steps).astype(np.int64)


def scan(caster: WorldCaster, model: LidarModel, timestamp_us: int, rng: np.random.Generator,
         T_ego_from_lidar: np.ndarray = T_EGO_FROM_LIDAR) -> LidarScan:
    """Render one sweep stamped ``timestamp_us`` (see the module docstring for the timing)."""
    world = caster.world
    fire_us = firing_times_us(model, timestamp_us)
    T_world_lidar = world.ego.poses(fire_us) @ T_ego_from_lidar  # (S, 4, 4), pose at each firing
    d_lidar = beam_directions(model)  # (S, B, 3)
    d = np.matmul(d_lidar, T_world_lidar[:, :3, :3].transpose(0, 2, 1)).reshape(-1, 3)
    o = np.repeat(T_world_lidar[:, :3, 3], model.beams, axis=0)
    ring = np.tile(np.arange(model.beams), model.azimuth_steps)
    t_ray = np.repeat(fire_us, model.beams)
    # Agents are posed once per slice of the revolution, at the slice's middle firing.
    slice_of = np.arange(model.azimuth_steps) * model.time_slices // model.azimuth_steps
    mids = np.array([fire_us[slice_of == s][len(fire_us[slice_of == s]) // 2] for s in range(model.time_slices)])
    t_slice = world.ego.seconds(np.repeat(mids[slice_of], model.beams))
    hits = caster.cast(o, d, t_slice)

    r_hit = hits.distance[hits.index]
    keep = np.flatnonzero((r_hit >= model.min_range) & (r_hit < model.max_range))
    i = hits.index[keep]
    r = r_hit[keep].astype(np.float64)
    tri = hits.triangle[i]
    surf = surface(caster.material[tri], hits.local[keep], caster.uaxis[tri], caster.tex[tri], caster.albedo[tri],
                   world.road, need_albedo=False)
    cos_inc = np.abs(np.einsum("ij,ij->i", hits.normal[keep], d[i]))
    signal = surf.nir * cos_inc * (10.0 / r) ** 2
    p_lost = model.dropout + surf.glass * model.glass_dropout + np.clip(1.0 - signal / model.weak_signal, 0.0, 1.0)
    u = rng.random(i.size)
    noise = rng.normal(0.0, 1.0, i.size)
    inten_noise = rng.normal(0.0, 0.015, i.size)
    ok = u >= p_lost
    i, r, tri, cos_inc, nir = i[ok], r[ok], tri[ok], cos_inc[ok], surf.nir[ok]
    r = r + noise[ok] * (model.range_noise_m + model.range_noise_rel * r)
    intensity = np.round(255.0 * np.clip(nir * (0.25 + 0.75 * cos_inc) * (1.0 - 0.35 * np.minimum(r / 70.0, 1.0))
                                         + inten_noise[ok], 0.0, 1.0))
    p_world = o[i] + r[:, None] * d[i]
    # Motion compensation: every return in the lidar frame at the sweep's timestamp.
    T_lidar_world = invert(world.ego.pose(timestamp_us) @ T_ego_from_lidar)
    p = p_world @ T_lidar_world[:3, :3].T + T_lidar_world[:3, 3]
    points = np.empty((i.size, 5), dtype=np.float32)
    points[:, :3] = p
    points[:, 3] = intensity
    points[:, 4] = ring[i]
    return LidarScan(points, caster.class_id[tri].astype(np.uint8), caster.instance[tri].astype(np.int32), t_ray[i])
