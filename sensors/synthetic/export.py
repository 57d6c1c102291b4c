"""Write synthetic scenes as a nuScenes dataset, ROS 2 bags and audio-video clips (``multimodal make-world``).

Layout under ``out``::

    nuscenes/<version>/*.json, samples/, sweeps/, lidarseg/, maps/   one dataset, one nuScenes scene per scene
    bags/scene-NNNN/                                                  one ROS 2 bag (MCAP) per scene
    clips/scene-NNNN/CAM_*.mp4                                        one clip per camera: H.264 + the microphone (AAC)
    render/scene-NNNN_*.png                                           with ``render``: pictures of one frame
    world.json                                                        what was generated (seeds, counts, classes)

Scenes are independent (their own seed, see :func:`~multimodal.sensors.synthetic.drive.scene_seed`), so they
are generated in parallel worker processes; each writes its own bag, clips and nuScenes sensor
files, and returns its nuScenes table records, which are merged here in scene order. Every file
is a function of the arguments only: the same call writes the same bytes.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from .camera import CAMERA_NAMES
from .classes import CLASS_NAMES, NUSCENES_CATEGORIES
from .drive import DEFAULT_START_US, DriveConfig, SyntheticDrive, scene_seed

FORMATS = ("nuscenes", "bag", "av")
DEFAULT_VERSION = "v1.0-synthetic"
SCENE_GAP_US = 3_600_000_000
"""Scenes start an hour apart, so their timestamps never overlap."""


@dataclass(frozen=True)
class WorldSpec:
    """What :func:`write_world` generates.

    Attributes:
        scenes / sweeps_per_scene: how many scenes, and LiDAR sweeps (20 Hz frames) in each.
        seed: master seed; scene ``i`` uses ``scene_seed(seed, i)``.
        formats: any of ``nuscenes``, ``bag``, ``av``.
        image_wh: camera image size (pixels).
        camera_hz: camera frame rate (Hz).
        keyframe_every: every n-th sweep is a nuScenes keyframe (sample, lidarseg labels); 10 = 2 Hz as nuScenes.
        version: nuScenes version folder name.
        render_frame: frame of scene 0 drawn into ``render/`` (None: no pictures).
        start_us: start time of scene 0 (µs).
    """

    scenes: int = 2
    sweeps_per_scene: int = 40
    seed: int = 0
    formats: tuple[str, ...] = FORMATS
    image_wh: tuple[int, int] = (400, 225)
    camera_hz: float = 12.0
    keyframe_every: int = 10
    version: str = DEFAULT_VERSION
    render_frame: int | None = None
    start_us: int = DEFAULT_START_US

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"unknown format(s) {unknown}; choose among {', '.join(FORMATS)}")
        if self.scenes < 1 or self.sweeps_per_scene < 1:
            raise ValueError(f"need at least one scene and one sweep, got scenes={self.scenes}, "
                             f"sweeps_per_scene={self.sweeps_per_scene}")
        if self.render_frame is not None and not 0 <= self.render_frame < self.sweeps_per_scene:
            raise ValueError(f"render frame {self.render_frame} is outside 0..{self.sweeps_per_scene - 1}")

    def scene_name(self, i: int) -> str:
        return f"scene-{i + 1:04d}"

    def drive_config(self, i: int) -> DriveConfig:
        return DriveConfig(sweeps=self.sweeps_per_scene, image_wh=tuple(self.image_wh), camera_hz=self.camera_hz,
                           start_us=self.start_us + i * SCENE_GAP_US)


@dataclass
class SceneResult:
    """What one scene's worker reports back (timings are seconds, not written to disk)."""

    index: int
    name: str
    seed: int
    tables: dict = field(default_factory=dict)
    lidarseg: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    files: list = field(default_factory=list)


def _write_scene(spec: WorldSpec, out: Path, i: int, tick: Callable[[int], None], threads: int = 0) -> SceneResult:
    """Generate scene ``i`` and write its files (all formats); ``tick(n)`` reports n finished sweeps;
    ``threads``: Embree threads per ray query (0: all cores)."""
    from ..nuscenes_tables import NuScenesTableWriter, write_frames_as_nuscenes

    name = spec.scene_name(i)
    seed = scene_seed(spec.seed, i)
    res = SceneResult(index=i, name=name, seed=seed)
    t0 = time.perf_counter()
    drive = SyntheticDrive(config=spec.drive_config(i), seed=seed)
    drive.caster.threads = threads
    res.timings_s["world"] = time.perf_counter() - t0
    frames = []
    for k in range(len(drive)):
        frames.append(drive.frame(k))
        tick(1)
    res.timings_s.update(drive.timings_s)
    world = drive.world
    res.counts = {
        "sweeps": len(frames), "points": int(sum(len(f.lidars["LIDAR_TOP"]) for f in frames)),
        "images": int(sum(len(f.cameras) for f in frames)), "objects": int(len(world.instances.class_id) - 1),
        "moving_agents": int(len(world.agents)), "sound_sources": int(len(world.sounds)),
        "classes": {CLASS_NAMES[c]: int(n) for c, n in enumerate(np.bincount(
            np.concatenate([f.lidars["LIDAR_TOP"].labels for f in frames]), minlength=len(CLASS_NAMES))) if n},
        "ego_speed_mps": [round(float(v), 3) for v in
                          (drive.world.ego.speed(drive.world.ego.seconds(drive.sweep_times_us)).min(),
                           drive.world.ego.speed(drive.world.ego.seconds(drive.sweep_times_us)).max())],
    }
    if "nuscenes" in spec.formats:
        t = time.perf_counter()
        root = out / "nuscenes"
        w = NuScenesTableWriter(root, spec.version, namespace=f"synthetic/{spec.seed}/{name}")
        write_frames_as_nuscenes(frames, root, spec.version, scene_name=name, log_name=f"synthetic-{name}",
                                 keyframe_every=spec.keyframe_every, class_names=NUSCENES_CATEGORIES, writer=w,
                                 finish=False)
        w.tables["scene"][0]["description"] = (f"synthetic street, seed {seed}, {len(world.agents)} moving agents, "
                                               f"{'overcast' if world.lighting.overcast else 'sunny'}")
        res.tables, res.lidarseg = w.tables, w.lidarseg
        res.timings_s["write_nuscenes"] = time.perf_counter() - t
    if "bag" in spec.formats:
        from ..bag_writer import write_frames_as_rosbag

        t = time.perf_counter()
        bag_dir = out / "bags" / name
        if bag_dir.exists():  # a bag from an earlier run: rosbags refuses to write into an existing folder
            if not (bag_dir / "metadata.yaml").is_file():
                raise FileExistsError(f"{bag_dir} exists and is not a bag; not overwriting it")
            shutil.rmtree(bag_dir)
        bag = write_frames_as_rosbag(frames, bag_dir)
        res.files.append(str(bag.relative_to(out)))
        res.timings_s["write_bag"] = time.perf_counter() - t
    if "av" in spec.formats:
        from ..av_writer import write_av_clip

        t = time.perf_counter()
        track = drive.audio_track()
        for cam in CAMERA_NAMES:
            shots = sorted((c.timestamp_us, c.image) for f in frames for n, c in f.cameras.items() if n == cam)
            if not shots:
                continue
            first = int(round((shots[0][0] - track.timestamp_us) * track.sample_rate * 1e-6))
            clip = write_av_clip(out / "clips" / name / f"{cam}.mp4", [img for _, img in shots], spec.camera_hz,
                                 track.samples[:, first:], track.sample_rate)
            res.files.append(str(clip.relative_to(out)))
        res.timings_s["write_av"] = time.perf_counter() - t
    if spec.render_frame is not None and i == 0:
        from .preview import render_previews

        t = time.perf_counter()
        for p in render_previews(drive, spec.render_frame, out / "render", prefix=f"{name}_frame{spec.render_frame:03d}_"):
            res.files.append(str(p.relative_to(out)))
        res.timings_s["render"] = time.perf_counter() - t
    return res


def _start_method() -> str:
    """``fork`` (children start at once, nothing to re-import) while this process has not run Embree yet;
    ``spawn`` after that, since a forked child would inherit Embree's worker threads in an unknown state."""
    from . import raycast

    if sys.platform.startswith("linux") and not raycast.EMBREE_USED:
        return "fork"
    return "spawn"


def _worker(spec: WorldSpec, out: str, i: int, queue) -> None:
    try:
        res = _write_scene(spec, Path(out), i, lambda n: queue.put(("tick", n)), threads=1)
        queue.put(("done", res))
    except BaseException:  # reported to the parent, which raises it with the scene's name
        queue.put(("error", (i, traceback.format_exc())))


def merge_tables(results: Sequence[SceneResult], root: Path, version: str):
    """One :class:`~multimodal.sensors.nuscenes_tables.NuScenesTableWriter` holding every scene's records.

    Sensor and category records are shared: the first scene's are kept and the others' sensor
    tokens are mapped to them by channel.
    """
    from ..nuscenes_tables import NuScenesTableWriter

    w = NuScenesTableWriter(root, version, namespace="synthetic")
    sensor_tok: dict[str, str] = {}
    for r in results:
        remap = {}
        for s in r.tables["sensor"]:
            if s["channel"] not in sensor_tok:
                sensor_tok[s["channel"]] = s["token"]
                w.tables["sensor"].append(s)
            remap[s["token"]] = sensor_tok[s["channel"]]
        for c in r.tables["calibrated_sensor"]:
            w.tables["calibrated_sensor"].append({**c, "sensor_token": remap[c["sensor_token"]]})
        if not w.tables["category"]:
            w.tables["category"] = list(r.tables["category"])
        for name, rows in r.tables.items():
            if name not in ("sensor", "calibrated_sensor", "category"):
                w.tables[name].extend(rows)
        w.lidarseg.extend(r.lidarseg)
    return w


def write_world(out: str | os.PathLike, spec: WorldSpec | None = None, workers: int | None = None,
                progress: Callable[[int], None] | None = None) -> dict:
    """Generate and write ``spec``'s scenes under ``out``; returns the manifest (also ``out/world.json``)
    plus ``timings_s`` per scene.

    Args:
        workers: processes generating scenes in parallel; None = one per scene up to the CPU count;
            1 generates in this process.
        progress: called with the number of sweeps finished since the last call.
    """
    spec = spec or WorldSpec()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tick = progress or (lambda n: None)
    n_workers = min(spec.scenes, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    results: list[SceneResult] = []
    if n_workers <= 1 or spec.scenes == 1:
        for i in range(spec.scenes):
            results.append(_write_scene(spec, out, i, tick))
    else:
        ctx = mp.get_context(_start_method())
        queue = ctx.Queue()
        pending = list(range(spec.scenes))
        running: dict[int, mp.Process] = {}
        done: dict[int, SceneResult] = {}
        try:
            while pending or running:
                while pending and len(running) < n_workers:
                    i = pending.pop(0)
                    running[i] = ctx.Process(target=_worker, args=(spec, str(out), i, queue), daemon=True)
                    running[i].start()
                kind, payload = queue.get()
                if kind == "tick":
                    tick(payload)
                elif kind == "error":
                    i, tb = payload
                    raise RuntimeError(f"generating {spec.scene_name(i)} (seed {scene_seed(spec.seed, i)}) failed:\n{tb}")
                else:
                    done[payload.index] = payload
                    running.pop(payload.index).join()
        finally:
            for p in running.values():
                p.terminate()
        results = [done[i] for i in range(spec.scenes)]
    if "nuscenes" in spec.formats:
        merge_tables(results, out / "nuscenes", spec.version).write()
    manifest = {
        "spec": {**asdict(spec), "formats": list(spec.formats), "image_wh": list(spec.image_wh)},
        "classes": {str(i): {"name": n, "nuscenes": NUSCENES_CATEGORIES.get(i)} for i, n in enumerate(CLASS_NAMES)},
        "nuscenes": {"dataroot": "nuscenes", "version": spec.version} if "nuscenes" in spec.formats else None,
        "scenes": [{"name": r.name, "seed": r.seed, "counts": r.counts, "files": sorted(r.files)} for r in results],
    }
    atomic_write_json(out / "world.json", manifest, indent=1)
    manifest["timings_s"] = {r.name: r.timings_s for r in results}
    return manifest


def load_manifest(out: str | os.PathLike) -> dict:
    """The ``world.json`` that :func:`write_world` wrote under ``out``."""
    return json.loads((Path(out) / "world.json").read_text())
