"""Moving agents (cars, trucks, cyclists, pedestrians) and their motion along the street.

Each agent keeps a lateral offset ``l`` (its lane, bike lane or sidewalk band) and moves along the
stations: ``x(t) = x0 + dir * (v t + A (sin(w t + p) - sin p))``, a speed that varies smoothly
around ``v``. Agents that follow the ego in its lane keep a gap to the ego's own station instead,
so nobody drives through the ego. Pedestrians swing legs and arms at their gait frequency.
All agents' meshes are concatenated once; :meth:`AgentSet.vertices_at` poses every vertex for a
time in one vectorized step, which is what the ray caster rebuilds its dynamic scene from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ego import EgoTrajectory, rotation_yaw_pitch
from .meshes import Mesh
from .road import RoadLayout

LEG_SWING_RAD = 0.45
ARM_SWING_RAD = 0.35


@dataclass
class AgentSet:
    """``A`` moving agents with one concatenated mesh.

    Attributes:
        class_id: ``(A,) uint8``; instance: ``(A,) int32`` world instance ids.
        size: ``(A, 3)`` box length, width, height (metres).
        lateral: ``(A,)`` lateral offset ``l`` (metres).
        x0: ``(A,)`` station at ``t = 0``; for followers, the gap to the ego's station (metres).
        direction: ``(A,)`` +1 drives towards +x, -1 towards -x.
        speed: ``(A,)`` mean speed (m/s); wobble: ``(A, 3)`` amplitude (m), rad/s, phase of its variation.
        follows_ego: ``(A,) bool``: station = ego station + ``x0`` + wobble.
        upright: ``(A,) bool``: stays vertical (people) instead of following the road's grade.
        gait: ``(A, 2)`` gait frequency (Hz, 0 = none) and phase.
        mesh: all agents' meshes (each in its own frame), concatenated.
        vertex_agent / triangle_agent: owner of each vertex / triangle.
    """

    class_id: np.ndarray
    instance: np.ndarray
    size: np.ndarray
    lateral: np.ndarray
    x0: np.ndarray
    direction: np.ndarray
    speed: np.ndarray
    wobble: np.ndarray
    follows_ego: np.ndarray
    upright: np.ndarray
    gait: np.ndarray
    mesh: Mesh
    vertex_agent: np.ndarray
    triangle_agent: np.ndarray

    def __len__(self) -> int:
        return int(self.class_id.shape[0])

    def stations(self, t: np.ndarray, ego: EgoTrajectory) -> np.ndarray:
        """``(..., A)`` stations at times ``t`` (seconds, any shape)."""
        t = np.asarray(t, dtype=np.float64)[..., None]
        a, w, p = self.wobble[:, 0], self.wobble[:, 1], self.wobble[:, 2]
        wob = a * (np.sin(w * t + p) - np.sin(p))
        free = self.x0 + self.direction * (self.speed * t + wob)
        if not self.follows_ego.any():
            return free
        return np.where(self.follows_ego, ego.station(t) + self.x0 + wob, free)

    def speeds(self, t: np.ndarray, ego: EgoTrajectory) -> np.ndarray:
        """``(..., A)`` speed along the path (m/s) at times ``t`` (seconds)."""
        t = np.asarray(t, dtype=np.float64)[..., None]
        a, w, p = self.wobble[:, 0], self.wobble[:, 1], self.wobble[:, 2]
        wob = a * w * np.cos(w * t + p)
        return np.where(self.follows_ego, ego.speed(t) + wob, self.speed + wob)

    def poses(self, t: float, road: RoadLayout, ego: EgoTrajectory) -> tuple[np.ndarray, np.ndarray]:
        """Rotations ``(A, 3, 3)`` and positions ``(A, 3)`` (world frame) of every agent at ``t`` seconds."""
        x = self.stations(t, ego)
        yaw, pitch = road.frame_axes(x)
        back = self.direction < 0
        yaw = yaw + np.where(back, np.pi, 0.0)
        pitch = np.where(self.upright, 0.0, np.where(back, -pitch, pitch))
        z = road.ground_height(x, self.lateral)
        return rotation_yaw_pitch(yaw, pitch), road.to_world(x, self.lateral, z)

    def vertices_at(self, t: float, road: RoadLayout, ego: EgoTrajectory,
                    vertices: np.ndarray | None = None, poses: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> np.ndarray:
        """``(V, 3) float64`` world positions of the agents' vertices (all, or the indices ``vertices``)
        at ``t`` seconds, limbs swung; ``poses`` are :meth:`poses` at ``t`` if already computed."""
        R, pos = self.poses(t, road, ego) if poses is None else poses
        sel = np.arange(len(self.vertex_agent)) if vertices is None else np.asarray(vertices)
        v = self.mesh.vertices[sel]
        owner = self.vertex_agent[sel]
        swing = self.mesh.swing[sel]
        moving = swing != 0
        if moving.any():
            va = owner[moving]
            freq, phase = self.gait[va, 0], self.gait[va, 1]
            amp = np.where(np.abs(swing[moving]) == 1, LEG_SWING_RAD, ARM_SWING_RAD)
            ang = np.sign(swing[moving]) * amp * np.sin(2 * np.pi * freq * t + phase) * (freq > 0)
            pz = self.mesh.pivot_z[sel][moving]
            x, z = v[moving, 0], v[moving, 2] - pz
            c, s = np.cos(ang), np.sin(ang)
            v[moving, 0] = c * x + s * z
            v[moving, 2] = pz - s * x + c * z
        return np.einsum("vij,vj->vi", R[owner], v) + pos[owner]


def build_agent_set(rows: list[dict]) -> AgentSet:
    """Assemble an :class:`AgentSet` from per-agent dicts (keys: the attributes, plus ``mesh``)."""
    if not rows:
        empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.uint8), np.zeros((0, 3), np.float32),
                     np.zeros((0, 4), np.float32), np.zeros(0, np.int8))
        z = np.zeros(0)
        return AgentSet(np.zeros(0, np.uint8), np.zeros(0, np.int32), np.zeros((0, 3)), z, z, z, z, np.zeros((0, 3)),
                        np.zeros(0, bool), np.zeros(0, bool), np.zeros((0, 2)), empty, np.zeros(0, np.int64),
                        np.zeros(0, np.int64))
    meshes = [r["mesh"] for r in rows]
    return AgentSet(
        class_id=np.array([r["class_id"] for r in rows], np.uint8),
        instance=np.array([r["instance"] for r in rows], np.int32),
        size=np.array([r["size"] for r in rows], np.float64),
        lateral=np.array([r["lateral"] for r in rows], np.float64),
        x0=np.array([r["x0"] for r in rows], np.float64),
        direction=np.array([r["direction"] for r in rows], np.float64),
        speed=np.array([r["speed"] for r in rows], np.float64),
        wobble=np.array([r["wobble"] for r in rows], np.float64),
        follows_ego=np.array([r.get("follows_ego", False) for r in rows], bool),
        upright=np.array([r.get("upright", False) for r in rows], bool),
        gait=np.array([r.get("gait", (0.0, 0.0)) for r in rows], np.float64),
        mesh=Mesh.concat(meshes),
        vertex_agent=np.repeat(np.arange(len(rows)), [m.vertices.shape[0] for m in meshes]),
        triangle_agent=np.repeat(np.arange(len(rows)), [m.n_triangles for m in meshes]),
    )
