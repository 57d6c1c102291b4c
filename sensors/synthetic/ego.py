"""The ego vehicle's drive: smooth poses along the right lane at a smoothly varying speed.

Speed is a mean plus two sinusoids (a slow one over 6-20 s and a quicker one over 2-5 s), so it
varies within a scene and between scenes; distance travelled is its exact integral. The car keeps
to the right lane with a gentle weave, follows the road's curve and grade (yaw and pitch), and
pitches a little with acceleration as a sprung car does. The ego frame is nuScenes' (origin on the
ground under the rear axle; x forward, y left, z up). Every function is vectorized over times.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .road import RoadLayout

PITCH_PER_ACCEL = 0.006
"""Nose-down pitch (rad) per m/s^2 of deceleration: a sprung car's dive and squat."""


def rotation_yaw_pitch(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotations ``Rz(yaw) @ Ry(pitch)`` (pitch about y: positive tips x towards -z)."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    z = np.zeros_like(cy * cp)
    return np.stack([np.stack([cy * cp, -sy + z, cy * sp], -1), np.stack([sy * cp, cy + z, sy * sp], -1),
                     np.stack([-sp + z, z, cp + z], -1)], -2)


@dataclass(frozen=True)
class EgoTrajectory:
    """The ego's path and speed; ``t`` is seconds since ``start_us``.

    Attributes:
        road: the street driven on.
        start_us: time of ``t = 0`` (µs).
        x_start: station at ``t = 0`` (metres).
        v_mean: mean speed (m/s).
        waves: ``(2, 3)`` rows ``(amplitude m/s, angular frequency rad/s, phase)`` of the speed.
        lane_l: lateral offset of the lane centre (metres, negative = right of the centre line).
        weave: ``(amplitude m, angular frequency rad/s, phase)`` of the lateral weave.
    """

    road: RoadLayout
    start_us: int
    x_start: float
    v_mean: float
    waves: np.ndarray
    lane_l: float
    weave: tuple[float, float, float]

    def seconds(self, timestamp_us) -> np.ndarray:
        return (np.asarray(timestamp_us, dtype=np.int64) - int(self.start_us)) * 1e-6

    def speed(self, t: np.ndarray) -> np.ndarray:
        """Speed along the path (m/s) at ``t`` seconds."""
        t = np.asarray(t, dtype=np.float64)
        return self.v_mean + sum(a * np.cos(w * t + p) for a, w, p in self.waves)

    def accel(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return -sum(a * w * np.sin(w * t + p) for a, w, p in self.waves)

    def distance(self, t: np.ndarray) -> np.ndarray:
        """Path length driven since ``t = 0`` (metres): the exact integral of :meth:`speed`."""
        t = np.asarray(t, dtype=np.float64)
        return self.v_mean * t + sum(a / w * (np.sin(w * t + p) - np.sin(p)) for a, w, p in self.waves)

    def station(self, t: np.ndarray) -> np.ndarray:
        """Station ``x`` at ``t``: inverts the arc length of the lane (curve and grade included)."""
        xs = np.arange(self.road.x_range[0], self.road.x_range[1], 0.25)
        ds = np.sqrt(1.0 + self.road.centre_slope(xs) ** 2 + self.road.road_dz(xs) ** 2) * 0.25
        s = np.concatenate([[0.0], np.cumsum(ds[:-1])])
        s0 = np.interp(self.x_start, xs, s)
        return np.interp(s0 + self.distance(t), s, xs)

    def lateral(self, t: np.ndarray) -> np.ndarray:
        a, w, p = self.weave
        return self.lane_l + a * np.sin(w * np.asarray(t, dtype=np.float64) + p)

    def poses(self, timestamps_us) -> np.ndarray:
        """``(N, 4, 4)`` (or ``(4, 4)`` for a scalar) ``T_world_from_ego`` at the given times (µs)."""
        t = self.seconds(timestamps_us)
        x = self.station(t)
        lat = self.lateral(t)
        a, w, p = self.weave
        v = np.maximum(self.speed(t), 0.1)
        yaw_road, pitch_road = self.road.frame_axes(x)
        yaw = yaw_road + np.arctan(a * w * np.cos(w * t + p) / v)
        pitch = pitch_road - PITCH_PER_ACCEL * self.accel(t)
        T = np.zeros(np.shape(t) + (4, 4))
        T[..., :3, :3] = rotation_yaw_pitch(yaw, pitch)
        T[..., :3, 3] = self.road.to_world(x, lat, self.road.road_z(x))
        T[..., 3, 3] = 1.0
        return T

    def pose(self, timestamp_us: int) -> np.ndarray:
        """``(4, 4)`` ``T_world_from_ego`` at one time (µs)."""
        return self.poses(np.asarray([int(timestamp_us)]))[0]


def make_ego(rng: np.random.Generator, road: RoadLayout, start_us: int, x_start: float = 0.0) -> EgoTrajectory:
    """Draw the ego's speed profile (mean 5-11 m/s, never below about 1.5 m/s) and lane weave."""
    v = rng.uniform(5.0, 11.0)
    a1 = rng.uniform(0.1, 0.3) * v
    a2 = rng.uniform(0.05, 0.15) * v
    waves = np.array([[a1, 2 * np.pi / rng.uniform(6.0, 20.0), rng.uniform(0, 2 * np.pi)],
                      [a2, 2 * np.pi / rng.uniform(2.0, 5.0), rng.uniform(0, 2 * np.pi)]])
    weave = (float(rng.uniform(0.05, 0.25)), float(2 * np.pi / rng.uniform(4.0, 9.0)), float(rng.uniform(0, 2 * np.pi)))
    return EgoTrajectory(road=road, start_us=int(start_us), x_start=float(x_start), v_mean=float(v), waves=waves,
                         lane_l=-road.lane_width / 2, weave=weave)


def max_travel(ego: EgoTrajectory, duration_s: float) -> float:
    """Upper bound of the distance driven in ``duration_s`` seconds (metres)."""
    return float((ego.v_mean + np.abs(ego.waves[:, 0]).sum()) * duration_s)
