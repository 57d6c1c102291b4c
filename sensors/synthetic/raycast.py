"""Ray casting against a :class:`~multimodal.sensors.synthetic.world.World` with open3d's ``RaycastingScene`` (Embree).

Two Embree scenes answer every query: the static geometry (built once per world, about 50k
triangles) and the moving agents posed at the query time (rebuilt per time, a few thousand
triangles, about a millisecond). The nearer of the two hits wins. The hit triangle's index into
one attribute table (static triangles first, then the agents') gives class, instance and surface
attributes; the barycentric coordinates give the hit's local (texture) coordinates.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import open3d as o3d

from .world import World

_INVALID = np.uint32(0xFFFFFFFF)
EMBREE_USED = False
"""Set once this process has built an Embree scene (its worker threads may then exist: see ``export``)."""
AGENT_RANGE_M = 100.0
"""Agents farther than this from the ego are left out of the dynamic scene (beyond every sensor's reach
that matters: the LiDAR ends at 70 m, haze hides small objects farther away)."""


class Hits(NamedTuple):
    """First hits of ``N`` rays, ``M`` of which hit something.

    Attributes:
        distance: ``(N,) float32`` metres along the unit ray; ``inf`` where nothing is hit.
        triangle: ``(N,) int64`` index into the caster's triangle tables; -1 where nothing is hit.
        index: ``(M,) int64`` the rays that hit, ascending; ``normal`` and ``local`` are aligned with it.
        normal: ``(M, 3) float32`` unit surface normal facing the ray's origin, world frame.
        local: ``(M, 3) float32`` local (texture) coordinates of the hit point.
    """

    distance: np.ndarray
    triangle: np.ndarray
    index: np.ndarray
    normal: np.ndarray
    local: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        """``(N,) bool``."""
        return self.triangle >= 0


def _scene(vertices: np.ndarray, triangles: np.ndarray) -> o3d.t.geometry.RaycastingScene:
    global EMBREE_USED
    EMBREE_USED = True
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(triangles, dtype=np.uint32)))
    return scene


def _rays(origins: np.ndarray, directions: np.ndarray) -> o3d.core.Tensor:
    r = np.empty((directions.shape[0], 6), np.float32)
    r[:, :3] = origins
    r[:, 3:] = directions
    return o3d.core.Tensor(r)


class WorldCaster:
    """Nearest-hit and occlusion queries against a world at a given time.

    Attribute tables (index = the ``triangle`` of :class:`Hits`): ``class_id``, ``instance``,
    ``material``, ``albedo``, ``tex``, ``uaxis``; static triangles first, then the agents'.
    """

    def __init__(self, world: World, cache_size: int = 16, threads: int = 0):
        self.world = world
        self.threads = int(threads)
        """Embree threads per query (0: all cores). Parallel scene workers use 1 each: idle Embree
        threads spin, so more threads than cores only burn the time the other worker needs."""
        st, ag = world.static, world.agents
        self.n_static = int(st.triangles.shape[0])
        self._static_scene = _scene(st.vertices, st.triangles)
        m = ag.mesh
        self.class_id = np.concatenate([st.class_id, ag.class_id[ag.triangle_agent]])
        self.instance = np.concatenate([st.instance, ag.instance[ag.triangle_agent]])
        self.material = np.concatenate([st.material, m.material])
        self.albedo = np.concatenate([st.albedo, m.albedo.astype(np.float32)])
        self.tex = np.concatenate([st.tex, m.tex.astype(np.float32)])
        self.uaxis = np.concatenate([st.uaxis, m.uaxis])
        local = np.concatenate([st.local, m.vertices.astype(np.float32)])
        tris = np.concatenate([st.triangles.astype(np.int64), m.triangles + st.vertices.shape[0]])
        # Per triangle: local coordinates of its first corner and its two edges (one gather per hit).
        c0 = local[tris[:, 0]]
        self._tri_local = np.stack([c0, local[tris[:, 1]] - c0, local[tris[:, 2]] - c0], axis=1)
        self._cache: OrderedDict[tuple, tuple | None] = OrderedDict()
        self._cache_size = cache_size
        self._poses: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def agent_poses(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Agents' rotations ``(A, 3, 3)`` and positions ``(A, 3)`` at ``t_s`` (cached by microsecond)."""
        key = int(round(t_s * 1e6))
        if key not in self._poses:
            w = self.world
            self._poses[key] = w.agents.poses(key * 1e-6, w.road, w.ego)
            if len(self._poses) > self._cache_size:
                self._poses.popitem(last=False)
        return self._poses[key]

    def dynamic_scene(self, t_s: float, agents: np.ndarray | None = None
                      ) -> tuple[o3d.t.geometry.RaycastingScene, np.ndarray] | None:
        """The ``agents`` (indices; default: all within :data:`AGENT_RANGE_M` of the ego) posed at ``t_s``
        seconds since the drive's start, and the agent-triangle index of each of the scene's triangles.
        Cached by (microsecond, agents); None when there are no agents to show."""
        w = self.world
        ag = w.agents
        t_us = int(round(t_s * 1e6))
        t = t_us * 1e-6
        if agents is None and len(ag):
            _, pos = self.agent_poses(t)
            ego_xy = w.ego.pose(w.start_us + t_us)[:2, 3]
            agents = np.flatnonzero(np.hypot(*(pos[:, :2] - ego_xy).T) < AGENT_RANGE_M)
        sel = np.zeros(0, np.int64) if agents is None else np.asarray(agents, np.int64)
        key = (t_us, sel.tobytes())
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        entry = None
        if sel.size:
            vsel = np.flatnonzero(np.isin(ag.vertex_agent, sel))
            tsel = np.flatnonzero(np.isin(ag.triangle_agent, sel))
            remap = np.full(len(ag.vertex_agent), -1, np.int64)
            remap[vsel] = np.arange(vsel.size)
            verts = ag.vertices_at(t, w.road, w.ego, vertices=vsel, poses=self.agent_poses(t))
            entry = (_scene(verts, remap[ag.mesh.triangles[tsel]]), tsel)
        self._cache[key] = entry
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return entry

    def agents_in_view(self, t_s: float, origins: np.ndarray, directions: np.ndarray,
                       sun_direction: np.ndarray | None = None) -> np.ndarray | None:
        """Indices of the agents a bundle of rays may hit at ``t_s`` (and, with ``sun_direction``, the
        agents whose shadow may fall where the rays land): those whose bounding sphere reaches into the
        cone around the rays. None (no cull) when the rays spread over more than a hemisphere.

        Building a moving agent into Embree costs far more than casting rays at it, so each camera
        image and each LiDAR slice gets a scene of the agents it can see, not of all agents.
        """
        w = self.world
        ag = w.agents
        d = np.asarray(directions, dtype=np.float64)
        o = np.asarray(origins, dtype=np.float64).reshape(-1, 3)
        axis = d.mean(axis=0)
        norm = np.linalg.norm(axis)
        if norm < 1e-6:
            return None
        axis /= norm
        cos_min = float((d @ axis).min())
        if cos_min < 0.05:
            return None
        half = np.arccos(cos_min)
        apex = o.mean(axis=0)
        spread = float(np.linalg.norm(o - apex, axis=1).max())
        if not len(ag):
            return np.zeros(0, np.int64)
        R, pos = self.agent_poses(t_s)
        radius = 0.5 * np.linalg.norm(ag.size, axis=1) + 0.35 + spread
        centre = pos + R[:, :, 2] * (ag.size[:, 2:3] / 2)
        points = [centre]
        if sun_direction is not None and sun_direction[2] > 0.05:
            points.append(centre - np.asarray(sun_direction) * (ag.size[:, 2:3] / sun_direction[2]))
        keep = np.zeros(len(ag), bool)
        for c in points:
            v = c - apex
            dist = np.linalg.norm(v, axis=1)
            ang = np.arccos(np.clip((v @ axis) / np.maximum(dist, 1e-9), -1.0, 1.0))
            keep |= (dist <= radius) | ((ang - np.arcsin(np.clip(radius / np.maximum(dist, 1e-9), 0, 1)) <= half) &
                                        (dist < AGENT_RANGE_M))
        return np.flatnonzero(keep)

    def cast(self, origins: np.ndarray, directions: np.ndarray, t_s: float | np.ndarray,
             may_hit_agents: np.ndarray | None = None, agents: np.ndarray | None = None) -> Hits:
        """Nearest hits of rays at a time.

        Args:
            origins: ``(N, 3)`` or ``(3,)`` world-frame origins (metres).
            directions: ``(N, 3)`` unit directions, world frame.
            t_s: the time (seconds since the drive's start) for all rays, or ``(N,)`` per-ray times
                taking few distinct values (LiDAR time slices): one dynamic scene per value.
            may_hit_agents: optional ``(N,) bool``: only these rays are tested against the agents
                (a conservative cull, e.g. the agents' image rectangles).
            agents: the agents to test (indices); default: per time, those :meth:`agents_in_view` finds
                for that time's rays.
        """
        d = np.asarray(directions)
        n = d.shape[0]
        o = np.asarray(origins)
        res = self._static_scene.cast_rays(_rays(o, d), nthreads=self.threads)
        dist = res["t_hit"].numpy()
        prim = res["primitive_ids"].numpy()
        uv = res["primitive_uvs"].numpy()
        normal = res["primitive_normals"].numpy()
        tri = prim.astype(np.int64)
        tri[prim == _INVALID] = -1
        times = np.broadcast_to(np.asarray(t_s, dtype=np.float64), (n,))
        candidates = np.ones(n, bool) if may_hit_agents is None else np.asarray(may_hit_agents, bool)
        for t in (np.unique(times) if np.ndim(t_s) else [float(t_s)]):
            idx = np.flatnonzero(candidates & (times == t)) if np.ndim(t_s) else np.flatnonzero(candidates)
            if idx.size == 0:
                continue
            sel = agents
            if sel is None:
                sel = self.agents_in_view(float(t), o if o.ndim == 1 else o[idx], d[idx])
            entry = self.dynamic_scene(float(t), sel)
            if entry is None:
                continue
            scene, tri_map = entry
            r = scene.cast_rays(_rays(o if o.ndim == 1 else o[idx], d[idx]), nthreads=self.threads)
            td = r["t_hit"].numpy()
            closer = td < dist[idx]
            if not closer.any():
                continue
            j = idx[closer]
            dist[j] = td[closer]
            tri[j] = tri_map[r["primitive_ids"].numpy()[closer].astype(np.int64)] + self.n_static
            uv[j] = r["primitive_uvs"].numpy()[closer]
            normal[j] = r["primitive_normals"].numpy()[closer]
        hit = np.flatnonzero(tri >= 0)
        nh = normal[hit]
        # Normals face the ray's origin, so shading does not depend on triangle winding.
        nh[np.einsum("ij,ij->i", nh, d[hit]) > 0] *= -1.0
        L = self._tri_local[tri[hit]]
        w = uv[hit]
        local = L[:, 0] + w[:, 0:1] * L[:, 1] + w[:, 1:2] * L[:, 2]
        return Hits(dist, tri, hit, nh, local)

    def occluded(self, origins: np.ndarray, directions: np.ndarray, t_s: float, t_far: float = np.inf,
                 agents: np.ndarray | None = None) -> np.ndarray:
        """``(N,) bool``: does anything (the static world, the ``agents`` or by default every agent near
        the ego) lie on each ray within ``t_far`` metres at time ``t_s``?"""
        rays = _rays(origins, np.asarray(directions, dtype=np.float64))
        occ = self._static_scene.test_occlusions(rays, tfar=float(t_far), nthreads=self.threads).numpy()
        entry = self.dynamic_scene(t_s, agents)
        if entry is not None:
            occ |= entry[0].test_occlusions(rays, tfar=float(t_far), nthreads=self.threads).numpy()
        return occ
