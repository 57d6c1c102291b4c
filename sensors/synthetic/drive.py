"""A drive through a synthetic world: the sensors' timelines and the :class:`~multimodal.sensors.frame.Frame` records.

Timing (all µs, as on the nuScenes car):

- LiDAR sweep ``i`` is stamped ``start_us + 25_000 + i * 50_000`` (20 Hz; the sweep covers ±25 ms).
- Camera ``c`` fires at ``t_0 + round(k * 1e6 / camera_hz) + offset_c``: at 12 Hz, when the LiDAR beam
  crosses its optical axis every fifth sweep, plus a trigger latency (``camera.exposure_time_offset_us``),
  so no camera shares the LiDAR's timestamps and each has its own.
- The microphone records continuously at ``audio_rate`` Hz from ``start_us``.

Frame ``i`` holds sweep ``i``, every camera image whose time is nearest to that sweep (so at 12 Hz
some frames lack some cameras; every fifth frame has all six) and the audio of the sweep's 50 ms.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..frame import AudioChunk, CameraImage, Frame, LidarSweep
from ..geometry import make_transform
from . import camera as cam_mod
from . import lidar as lidar_mod
from .audio import render_microphone
from .camera import CAMERA_NAMES, CAMERA_RIG, CameraRender, T_ego_from_camera, camera_intrinsics
from .lidar import LIDAR_FIELDS, LIDAR_NAME, T_EGO_FROM_LIDAR, LidarModel
from .raycast import WorldCaster
from .world import World, make_world

MIC_NAME = "MIC_TOP"
T_EGO_FROM_MIC = make_transform(np.eye(3), (0.5, 0.0, 1.95))
"""The microphone sits on the roof, just in front of the LiDAR."""
DEFAULT_START_US = 1_700_000_000_000_000


@dataclass(frozen=True)
class DriveConfig:
    """What to record (sizes in pixels, rates in Hz).

    Attributes:
        sweeps: number of LiDAR sweeps (frames).
        image_wh: camera image width and height.
        camera_hz: camera frame rate (12 as nuScenes; 20 gives every frame all cameras).
        cameras: which rig cameras to render.
        lidar: the LiDAR model.
        audio_rate: microphone sample rate; 0 records no audio.
        start_us: time of the drive's start.
        shadows: cast sun shadows in camera images.
    """

    sweeps: int = 40
    image_wh: tuple[int, int] = (400, 225)
    camera_hz: float = 12.0
    cameras: tuple[str, ...] = CAMERA_NAMES
    lidar: LidarModel = field(default_factory=LidarModel)
    audio_rate: int = 16_000
    start_us: int = DEFAULT_START_US
    shadows: bool = True

    @property
    def duration_s(self) -> float:
        return self.sweeps * self.lidar.period_us * 1e-6


class SyntheticDrive:
    """Sensors driven through a world; frames and ground truth on demand.

    Args:
        world: the world (see :func:`make_world`); None draws one from ``seed`` for ``config``.
        config: what to record.
        seed: seed of the world (when ``world`` is None) and of the sensor noise.
    """

    def __init__(self, world: World | None = None, config: DriveConfig | None = None, seed: int = 0):
        self.config = config or DriveConfig()
        for name in self.config.cameras:
            T_ego_from_camera(name)  # unknown names fail here, before any rendering
        self.seed = int(seed)
        self.world = world if world is not None else make_world(seed, self.config.duration_s, self.config.start_us)
        self.caster = WorldCaster(self.world)
        c = self.config
        period = c.lidar.period_us
        self.sweep_times_us = c.start_us + period // 2 + period * np.arange(c.sweeps, dtype=np.int64)
        end = int(self.sweep_times_us[-1]) + period // 2 if c.sweeps else c.start_us
        self.camera_times_us: dict[str, np.ndarray] = {}
        self._camera_frame: dict[tuple[str, int], int] = {}
        self.frame_cameras: list[dict[str, int]] = [{} for _ in range(c.sweeps)]
        for name in c.cameras:
            first = int(self.sweep_times_us[0]) + cam_mod.exposure_time_offset_us(name, period) if c.sweeps else end
            n = int(np.ceil((end - first) * c.camera_hz * 1e-6)) + 1
            t = first + np.round(np.arange(n) * 1e6 / c.camera_hz).astype(np.int64)
            t = t[(t >= c.start_us) & (t < end)]
            self.camera_times_us[name] = t
            frame = np.clip((t - c.start_us) // period, 0, c.sweeps - 1)
            for k, f in enumerate(frame):
                self.frame_cameras[int(f)][name] = k
        self.K = {name: camera_intrinsics(c.image_wh, CAMERA_RIG[name].hfov_deg) for name in c.cameras}
        self._audio: np.ndarray | None = None
        self.timings_s: dict[str, float] = {"lidar": 0.0, "cameras": 0.0, "audio": 0.0}
        """Seconds spent rendering each sensor so far (what the benchmark reports)."""

    def __len__(self) -> int:
        return self.config.sweeps

    # --- sensors -------------------------------------------------------------------------------------
    def lidar_scan(self, i: int) -> lidar_mod.LidarScan:
        """Sweep ``i`` with its per-point class and instance ground truth."""
        rng = np.random.default_rng([self.seed, 1, int(i)])
        return lidar_mod.scan(self.caster, self.config.lidar, int(self.sweep_times_us[i]), rng)

    def camera_render(self, name: str, timestamp_us: int, noise_key: int | None = None) -> CameraRender:
        """Render camera ``name`` at any time (µs) with full ground truth; ``noise_key`` adds sensor noise."""
        T = self.world.ego.pose(timestamp_us) @ T_ego_from_camera(name)
        t_s = float(self.world.ego.seconds(timestamp_us))
        rng = None if noise_key is None else np.random.default_rng([self.seed, 2, CAMERA_NAMES.index(name), noise_key])
        return cam_mod.render(self.caster, T, self.K[name], self.config.image_wh, t_s, rng,
                              gain=cam_mod.exposure_gain(self.world.seed, name, t_s), shadows=self.config.shadows)

    def camera_image(self, name: str, k: int) -> tuple[CameraImage, CameraRender]:
        """Image ``k`` of camera ``name`` as a :class:`CameraImage`, with its ground truth."""
        t = int(self.camera_times_us[name][k])
        gt = self.camera_render(name, t, noise_key=k)
        img = CameraImage(image=gt.rgb, K=self.K[name].copy(), T_ego_from_sensor=T_ego_from_camera(name),
                          timestamp_us=t, T_world_from_ego=self.world.ego.pose(t), frame_id=name)
        return img, gt

    def audio_track(self) -> AudioChunk:
        """The whole microphone recording (mono), starting at the drive's start."""
        c = self.config
        if self._audio is None:
            n = int(round(c.duration_s * c.audio_rate))
            self._audio = render_microphone(self.world, c.start_us, n, c.audio_rate, T_EGO_FROM_MIC)
        return AudioChunk(samples=self._audio[None, :], sample_rate=c.audio_rate, timestamp_us=c.start_us,
                          T_ego_from_sensor=T_EGO_FROM_MIC.copy(), frame_id=MIC_NAME)

    # --- frames --------------------------------------------------------------------------------------
    def frame(self, i: int, camera_truth: dict | None = None) -> Frame:
        """Frame ``i``; pass a dict as ``camera_truth`` to receive each camera's :class:`CameraRender`."""
        c = self.config
        t = int(self.sweep_times_us[i])
        T_world_from_ego = self.world.ego.pose(t)
        t0 = time.perf_counter()
        s = self.lidar_scan(i)
        t1 = time.perf_counter()
        self.timings_s["lidar"] += t1 - t0
        sweep = LidarSweep(points=s.points, T_ego_from_sensor=T_EGO_FROM_LIDAR.copy(), timestamp_us=t,
                           T_world_from_ego=T_world_from_ego, fields=LIDAR_FIELDS, labels=s.labels, frame_id=LIDAR_NAME)
        frame = Frame(timestamp_us=t, T_world_from_ego=T_world_from_ego.copy(), lidars={LIDAR_NAME: sweep}, index=i,
                      token=f"synthetic-{self.world.seed}-{i:05d}",
                      boxes=self.world.boxes_at(t, T_world_from_ego[:3, 3], 70.0))
        for name in c.cameras:
            if name in self.frame_cameras[i]:
                img, gt = self.camera_image(name, self.frame_cameras[i][name])
                frame.cameras[name] = img
                if camera_truth is not None:
                    camera_truth[name] = gt
        t2 = time.perf_counter()
        self.timings_s["cameras"] += t2 - t1
        if c.audio_rate > 0:
            track = self.audio_track()
            self.timings_s["audio"] += time.perf_counter() - t2
            per = c.audio_rate * c.lidar.period_us // 1_000_000
            frame.audio[MIC_NAME] = AudioChunk(samples=track.samples[:, i * per:(i + 1) * per].copy(),
                                               sample_rate=c.audio_rate, timestamp_us=t - c.lidar.period_us // 2,
                                               T_ego_from_sensor=T_EGO_FROM_MIC.copy(), frame_id=MIC_NAME)
        return frame

    def frames(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self.frame(i)


def make_drive(seed: int = 0, sweeps: int = 40, **config) -> SyntheticDrive:
    """A drive of ``sweeps`` sweeps through the world drawn from ``seed`` (``config``: :class:`DriveConfig` fields)."""
    return SyntheticDrive(config=DriveConfig(sweeps=int(sweeps), **config), seed=seed)


def scene_seed(seed: int, scene_index: int) -> int:
    """Seed of scene ``scene_index`` of a world generated with ``seed`` (scenes differ, runs repeat)."""
    return int(np.random.SeedSequence([int(seed), int(scene_index)]).generate_state(1)[0])


__all__: Sequence[str] = ["DriveConfig", "MIC_NAME", "SyntheticDrive", "T_EGO_FROM_MIC", "make_drive", "scene_seed"]
