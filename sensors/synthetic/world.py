"""One procedural street scene: road, static objects, moving agents, the ego's drive, light and sounds.

:func:`make_world` draws everything from one seed through independent random streams (road,
ego, each side's buildings / trees / poles / parked cars, agents, sounds, light), so the same seed
always gives the same world and two seeds give different layouts, object counts and appearances.
Static geometry is merged into one triangle soup with per-triangle class, instance and surface
attributes; moving agents keep their own meshes and are posed per time (see ``agents``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import objects
from .agents import AgentSet, build_agent_set
from .audio import BELL, BIRD, ENGINE, FOOTSTEPS, HORN, WIND, SoundSources
from .classes import BUILDING, CAR, CYCLIST, PEDESTRIAN, POLE, TERRAIN, TRUCK, VEGETATION
from .ego import EgoTrajectory, make_ego
from .lighting import Lighting, make_lighting
from .meshes import Mesh
from .road import RoadLayout, ground_mesh, make_road

GROUND_INSTANCE = 0
"""Instance id of the ground (road, sidewalks, terrain): "stuff" without objects."""
MAX_SPEED_BOUND = 16.5
"""An upper bound of the ego's speed (m/s), used to size the street before the ego is drawn."""


@dataclass
class StaticGeometry:
    """All static triangles of a world, in the world frame.

    Attributes:
        vertices: ``(V, 3) float32`` metres, world frame.
        local: ``(V, 3) float32`` texture coordinates (object frame; road ``(x, lat, z)`` on the ground).
        triangles: ``(T, 3) uint32``.
        class_id: ``(T,) uint8``; instance: ``(T,) int32``; material: ``(T,) uint8``; albedo: ``(T, 3) float32``;
        tex: ``(T, 4) float32``; uaxis: ``(T,) int8`` (see :class:`~multimodal.sensors.synthetic.meshes.Mesh`).
    """

    vertices: np.ndarray
    local: np.ndarray
    triangles: np.ndarray
    class_id: np.ndarray
    instance: np.ndarray
    material: np.ndarray
    albedo: np.ndarray
    tex: np.ndarray
    uaxis: np.ndarray


@dataclass
class Instances:
    """Per-instance facts (index = instance id).

    Attributes:
        class_id: ``(I,) uint8``.
        agent: ``(I,) int64`` index into the world's :class:`AgentSet`, -1 for static objects.
        box: ``(I, 7)`` static objects' box: centre x, y, z (world, metres), length, width, height, yaw;
            NaN for agents (their box moves: see :meth:`World.boxes_at`) and the ground.
    """

    class_id: np.ndarray
    agent: np.ndarray
    box: np.ndarray


@dataclass
class World:
    """Everything that exists in one scene.

    Attributes:
        seed: the scene's seed.
        road / ego / lighting: the street, the ego's drive, the light.
        static: merged static triangles; agents: the moving agents; instances: per-instance facts.
        sounds: sound sources (attached to agents and trees, plus the wind).
        duration_s: length of the drive the world was made for (seconds).
    """

    seed: int
    road: RoadLayout
    ego: EgoTrajectory
    lighting: Lighting
    static: StaticGeometry
    agents: AgentSet
    instances: Instances
    sounds: SoundSources
    duration_s: float

    @property
    def start_us(self) -> int:
        return self.ego.start_us

    def boxes_at(self, timestamp_us: int, centre_xy: np.ndarray | None = None, radius_m: float = np.inf) -> list[dict]:
        """World-frame boxes of vehicles, pedestrians and cyclists (parked or moving) at a time.

        Each box: ``category`` (class name), ``instance``, ``center`` (3,), ``size`` (lat, w, h),
        ``yaw`` (radians), ``moving`` and ``frame="world"``; only boxes within ``radius_m`` of ``centre_xy``.
        """
        from .classes import CLASS_NAMES, DYNAMIC_CLASSES

        t = float(self.ego.seconds(timestamp_us))
        R, pos = self.agents.poses(t, self.road, self.ego)
        out = []
        for inst in range(len(self.instances.class_id)):
            cls = int(self.instances.class_id[inst])
            if cls not in DYNAMIC_CLASSES:
                continue
            a = int(self.instances.agent[inst])
            if a >= 0:
                size = self.agents.size[a]
                center = pos[a] + R[a] @ np.array([0.0, 0.0, size[2] / 2])
                yaw = float(np.arctan2(R[a][1, 0], R[a][0, 0]))
            else:
                b = self.instances.box[inst]
                center, size, yaw = b[:3], b[3:6], float(b[6])
            if centre_xy is not None and np.hypot(*(center[:2] - centre_xy[:2])) > radius_m:
                continue
            out.append({"category": CLASS_NAMES[cls], "instance": inst, "center": np.array(center, dtype=np.float64),
                        "size": np.array(size, dtype=np.float64), "yaw": yaw, "moving": a >= 0, "frame": "world"})
        return out


class _Placer:
    """Collects static objects (mesh in its frame + pose) and agents while a world is drawn."""

    def __init__(self, road: RoadLayout):
        self.road = road
        self.static: list[tuple[Mesh, np.ndarray, int, int]] = []
        self.agents: list[dict] = []
        self.classes: list[int] = [TERRAIN]  # instance 0: the ground
        self.agent_of: list[int] = [-1]
        self.boxes: list[np.ndarray] = [np.full(7, np.nan)]

    def new_instance(self, cls: int, agent: int = -1, box: np.ndarray | None = None) -> int:
        self.classes.append(cls)
        self.agent_of.append(agent)
        self.boxes.append(np.full(7, np.nan) if box is None else box)
        return len(self.classes) - 1

    def pose(self, x: float, lat: float, z: float, yaw_offset: float = 0.0) -> np.ndarray:
        yaw = float(self.road.heading(x)) + yaw_offset
        T = np.eye(4)
        c, s = np.cos(yaw), np.sin(yaw)
        T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
        T[:3, 3] = self.road.to_world(x, lat, z)
        return T

    def add_static(self, mesh: Mesh, cls: int, x: float, lat: float, yaw_offset: float = 0.0, z: float | None = None,
                   size: np.ndarray | None = None) -> int:
        zz = float(self.road.ground_height(x, lat)) if z is None else z
        T = self.pose(x, lat, zz, yaw_offset)
        box = None
        if size is not None:
            c = T[:3, 3] + T[:3, :3] @ np.array([0.0, 0.0, size[2] / 2])
            box = np.r_[c, size, np.arctan2(T[1, 0], T[0, 0])]
        inst = self.new_instance(cls, box=box)
        self.static.append((mesh, T, cls, inst))
        return inst

    def add_agent(self, mesh: Mesh, cls: int, size: np.ndarray, **motion) -> int:
        inst = self.new_instance(cls, agent=len(self.agents))
        self.agents.append({"mesh": mesh, "class_id": cls, "instance": inst, "size": size, **motion})
        return inst


def _merge_static(road: RoadLayout, placed: list[tuple[Mesh, np.ndarray, int, int]]) -> StaticGeometry:
    ground, ground_local, ground_cls = ground_mesh(road)
    meshes = [ground] + [m.transformed(T) for m, T, _, _ in placed]
    merged = Mesh.concat(meshes)
    local = np.concatenate([ground_local] + [m.vertices for m, _, _, _ in placed])
    cls = np.concatenate([ground_cls] + [np.full(m.n_triangles, c, np.uint8) for m, _, c, _ in placed])
    inst = np.concatenate([np.zeros(ground.n_triangles, np.int32)] +
                          [np.full(m.n_triangles, i, np.int32) for m, _, _, i in placed])
    return StaticGeometry(vertices=merged.vertices.astype(np.float32), local=local.astype(np.float32),
                          triangles=merged.triangles.astype(np.uint32), class_id=cls, instance=inst,
                          material=merged.material, albedo=merged.albedo.astype(np.float32),
                          tex=merged.tex.astype(np.float32), uaxis=merged.uaxis)


def _place_side(p: _Placer, side: float, streams, x0: float, x1: float) -> list[tuple[float, float]]:
    """Buildings, yard vegetation, trees, poles and parked vehicles on one side (+1 left, -1 right).

    Returns the (station, lateral) of the trees, where birds may sit.
    """
    road = p.road
    rw, so = road.road_half_width, road.sidewalk_outer
    away = 0.0 if side > 0 else np.pi  # turns an object's +y away from the road
    trees: list[tuple[float, float]] = []

    rng = np.random.default_rng(next(streams))  # buildings (+ hedges in front yards)
    x = x0 + rng.uniform(0.0, 4.0)
    while x < x1:
        length = rng.uniform(8.0, 26.0)
        depth = rng.uniform(8.0, 16.0)
        kind = rng.random()
        height = rng.uniform(4.5, 8.5) if kind < 0.35 else (rng.uniform(9.0, 15.0) if kind < 0.75
                                                             else rng.uniform(15.0, 28.0))
        setback = rng.choice([rng.uniform(0.3, 1.5), rng.uniform(2.5, 8.0)])
        xm = x + length / 2
        lat = side * (so + setback)
        corners = np.array([[x, lat], [x + length, lat], [x, lat + side * depth], [x + length, lat + side * depth]])
        zs = road.ground_height(corners[:, 0], corners[:, 1])
        sink = float(zs.max() - zs.min()) + 0.4
        mesh = objects.building(rng, length, depth, height + (zs.max() - zs.min()), sink)
        p.add_static(mesh, BUILDING, xm, lat, yaw_offset=away, z=float(zs.min()),
                     size=np.array([length, depth, height]))
        if setback > 3.0 and rng.random() < 0.35:
            hedge = objects.bush(rng, hedge_length=length * rng.uniform(0.5, 0.9))
            p.add_static(hedge, VEGETATION, xm, side * (so + setback * rng.uniform(0.3, 0.6)))
        elif setback > 2.5 and rng.random() < 0.5:
            p.add_static(objects.bush(rng), VEGETATION, x + rng.uniform(1.0, length - 1.0),
                         side * (so + rng.uniform(0.8, setback - 0.8)))
        x += length + (rng.uniform(0.0, 1.0) if rng.random() < 0.6 else rng.uniform(2.0, 7.0))

    rng = np.random.default_rng(next(streams))  # trees in sidewalk pits or at the sidewalk's edge
    x = x0 + rng.uniform(0.0, 10.0)
    while x < x1:
        if rng.random() < 0.75:
            lat = side * (so - 0.8 if road.sidewalk_width > 2.8 else so + 0.9)
            p.add_static(objects.tree(rng), VEGETATION, x, lat, yaw_offset=rng.uniform(0, 2 * np.pi))
            trees.append((x, lat))
        x += rng.uniform(8.0, 24.0)

    rng = np.random.default_rng(next(streams))  # street lights, signs, traffic lights, bollards
    x = x0 + rng.uniform(0.0, 15.0)
    while x < x1:
        p.add_static(objects.street_light(rng), POLE, x, side * (rw + 0.45), yaw_offset=away + np.pi)
        x += rng.uniform(20.0, 35.0)
    x = x0 + rng.uniform(0.0, 25.0)
    while x < x1:
        k = rng.random()
        mesh = objects.sign_post(rng) if k < 0.6 else objects.traffic_light(rng) if k < 0.75 else None
        if mesh is not None:
            p.add_static(mesh, POLE, x, side * (rw + 0.35), yaw_offset=(np.pi if side < 0 else 0.0) +
                         rng.normal(0, 0.1))
        else:
            for j in range(int(rng.integers(2, 6))):
                p.add_static(objects.bollard(rng), POLE, x + 1.5 * j, side * (rw + 0.3))
        x += rng.uniform(15.0, 45.0)

    rng = np.random.default_rng(next(streams))  # parked cars and trucks, facing the traffic of their side
    lane = side * (road.lane_width + road.bike_width + road.parking_width / 2)
    x = x0 + rng.uniform(0.0, 6.0)
    while x < x1:
        if rng.random() < 0.65:
            mesh, size = objects.truck(rng) if rng.random() < 0.1 else objects.car(rng)
            cls = TRUCK if size[0] > 5.6 else CAR
            p.add_static(mesh, cls, x + size[0] / 2, lane + rng.normal(0, 0.1),
                         yaw_offset=(np.pi if side > 0 else 0.0) + rng.normal(0, 0.03), size=size)
            x += size[0] + rng.uniform(0.8, 3.0)
        else:
            x += rng.uniform(3.0, 9.0)
    return trees


def _place_agents(p: _Placer, rng: np.random.Generator, ego: EgoTrajectory, travel: float) -> None:
    road = p.road
    lw = road.lane_width

    def vehicle():
        mesh, size = objects.truck(rng) if rng.random() < 0.2 else objects.car(rng)
        return mesh, size, (TRUCK if size[0] > 5.6 else CAR)

    # Traffic in the ego's lane keeps its gap to the ego (ahead and behind): nobody drives through it.
    gaps = [rng.uniform(14.0, 30.0)]
    if rng.random() < 0.6:
        gaps.append(gaps[0] + rng.uniform(14.0, 30.0))
    if rng.random() < 0.6:
        gaps.append(-rng.uniform(12.0, 28.0))
    for g in gaps:
        mesh, size, cls = vehicle()
        p.add_agent(mesh, cls, size, lateral=ego.lane_l + rng.normal(0, 0.1), x0=g, direction=1.0, speed=0.0,
                    wobble=(rng.uniform(0.3, 1.5), rng.uniform(0.3, 1.0), rng.uniform(0, 2 * np.pi)), follows_ego=True)
    # Oncoming traffic in the left lane.
    x = ego.x_start - rng.uniform(10.0, 40.0)
    while x < ego.x_start + travel + 200.0:
        mesh, size, cls = vehicle()
        v = rng.uniform(6.0, 13.0)
        p.add_agent(mesh, cls, size, lateral=lw / 2 + rng.normal(0, 0.12), x0=x, direction=-1.0, speed=v,
                    wobble=(rng.uniform(0.0, 1.0), rng.uniform(0.2, 0.8), rng.uniform(0, 2 * np.pi)))
        x += size[0] + rng.uniform(8.0, 45.0)
    # Cyclists in the bike lanes.
    if road.bike_width > 0:
        for side in (-1.0, 1.0):
            for _ in range(int(rng.integers(0, 3))):
                mesh, size = objects.cyclist(rng)
                p.add_agent(mesh, CYCLIST, size, lateral=side * (lw + road.bike_width / 2) + rng.normal(0, 0.1),
                            x0=ego.x_start + rng.uniform(-10.0, travel + 90.0), direction=-side,
                            speed=rng.uniform(3.0, 6.5), wobble=(rng.uniform(0.0, 0.5), rng.uniform(0.5, 1.5),
                                                                 rng.uniform(0, 2 * np.pi)), upright=False)
    # Pedestrians walking (or standing) on the sidewalks.
    span = (ego.x_start - 50.0, ego.x_start + travel + 110.0)
    density = rng.uniform(0.4, 1.4)
    for side in (-1.0, 1.0):
        n = rng.poisson(density * (span[1] - span[0]) / 14.0)
        for x0 in np.sort(rng.uniform(span[0], span[1], n)):
            mesh, size = objects.pedestrian(rng)
            v = 0.0 if rng.random() < 0.15 else rng.uniform(0.9, 1.7)
            lat = side * (road.road_half_width + road.sidewalk_width * rng.uniform(0.3, 0.75))
            p.add_agent(mesh, PEDESTRIAN, size, lateral=lat, x0=x0, direction=float(rng.choice([-1.0, 1.0])),
                        speed=v, wobble=(0.0, 1.0, 0.0), upright=True,
                        gait=(v / 1.4, rng.uniform(0, 2 * np.pi)))


def _sound_sources(agents: AgentSet, trees: list[tuple[float, float]], road: RoadLayout, rng: np.random.Generator,
                   duration_s: float, lighting: Lighting) -> SoundSources:
    rows: list[tuple] = []  # (kind, agent, position, gain, params, events)
    none = (np.nan, np.nan)

    def events(p: float) -> tuple[float, float]:
        if rng.random() >= p:
            return none
        t1 = rng.uniform(0.0, max(duration_s, 0.5))
        return (t1, t1 + rng.uniform(0.6, 2.0) if rng.random() < 0.3 else np.nan)

    for a in range(len(agents)):
        cls = int(agents.class_id[a])
        if cls in (CAR, TRUCK):
            big = cls == TRUCK
            rows.append((ENGINE, a, np.zeros(3), 2.2 if big else 1.0,
                         (rng.uniform(22, 30) if big else rng.uniform(28, 40), rng.uniform(2.5, 4.0), 0.6, 0), none))
            ev = events(0.2)
            if not np.isnan(ev[0]):
                f1 = rng.uniform(380, 480)
                rows.append((HORN, a, np.zeros(3), 3.0, (f1, f1 * rng.uniform(1.18, 1.3), rng.uniform(0.25, 0.6), 0),
                             ev))
        elif cls == PEDESTRIAN and agents.speed[a] > 0:
            rows.append((FOOTSTEPS, a, np.zeros(3), 0.35, (2.0 * agents.gait[a, 0], agents.gait[a, 1],
                                                           rng.uniform(0.7, 1.3), 0), none))
        elif cls == CYCLIST:
            ev = events(0.5)
            if not np.isnan(ev[0]):
                rows.append((BELL, a, np.zeros(3), 1.2, (rng.uniform(2000, 2600), 0, 0, 0), ev))
    for x, lat in trees:
        if rng.random() < 0.35:
            z = float(road.ground_height(x, lat)) + rng.uniform(3.0, 6.0)
            rows.append((BIRD, -1, road.to_world(x, lat, z), 0.6, (rng.uniform(2500, 5000), rng.uniform(0.8, 3.0),
                                                                 rng.uniform(0.05, 0.15), 0), none))
    gust = 0.012 if lighting.overcast else 0.006
    rows.append((WIND, -2, np.zeros(3), gust, (rng.uniform(2.0, 6.0), rng.uniform(0, 2 * np.pi), 0, 0), none))
    kinds, agent, pos, gain, params, ev = zip(*rows)
    seeds = rng.integers(0, 2**31 - 1, len(rows))
    return SoundSources(kind=np.array(kinds, np.int8), agent=np.array(agent, np.int64),
                        position=np.array(pos, np.float64), gain=np.array(gain, np.float64),
                        params=np.array(params, np.float64), events=np.array(ev, np.float64), seed=seeds)


def make_world(seed: int, duration_s: float, start_us: int = 1_700_000_000_000_000) -> World:
    """Draw a street scene for a drive of ``duration_s`` seconds starting at ``start_us``.

    The street spans from 110 m behind the start to 170 m beyond the farthest the ego can get,
    closed at both ends by buildings across the road (so cameras see facades, not the world's edge).
    """
    ss = np.random.SeedSequence([int(seed), 20240])
    streams = iter(ss.spawn(32))
    duration_s = float(duration_s)
    x_far = MAX_SPEED_BOUND * duration_s
    x0, x1 = -110.0, x_far + 170.0
    road = make_road(np.random.default_rng(next(streams)), (x0 - 5.0, x1 + 25.0), centre=0.0)
    ego = make_ego(np.random.default_rng(next(streams)), road, start_us, x_start=0.0)
    travel = float(ego.station(np.array(duration_s)) - ego.x_start)
    p = _Placer(road)
    trees = []
    for side in (1.0, -1.0):
        trees += _place_side(p, side, streams, x0, x1)
    rng = np.random.default_rng(next(streams))
    for xe, direction in ((x0 - 5.0, -1.0), (x1 + 5.0, 1.0)):  # end caps across the street
        width = 2 * (road.sidewalk_outer + 40.0)
        h = rng.uniform(12.0, 25.0)
        mesh = objects.building(rng, width, 12.0, h, 3.0)
        p.add_static(mesh, BUILDING, xe, 0.0, yaw_offset=direction * -np.pi / 2,
                     z=float(road.road_z(xe)) - 1.0, size=np.array([width, 12.0, h]))
    _place_agents(p, np.random.default_rng(next(streams)), ego, travel)
    agents = build_agent_set(p.agents)
    lighting = make_lighting(np.random.default_rng(next(streams)))
    sounds = _sound_sources(agents, trees, road, np.random.default_rng(next(streams)), duration_s, lighting)
    static = _merge_static(road, p.static)
    instances = Instances(class_id=np.array(p.classes, np.uint8), agent=np.array(p.agent_of, np.int64),
                          box=np.array(p.boxes, np.float64))
    return World(seed=int(seed), road=road, ego=ego, lighting=lighting, static=static, agents=agents,
                 instances=instances, sounds=sounds, duration_s=duration_s)
