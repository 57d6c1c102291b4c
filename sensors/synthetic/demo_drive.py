"""The small built-in demo drive: a few frames of the synthetic world with all six cameras in every frame.

``make_demo_drive`` is what ``multimodal inspect --demo`` and several tests use: every frame holds
the LiDAR sweep (with per-point labels) and all cameras (they run at 20 Hz here, each firing as the
LiDAR beam crosses its optical axis), no audio. For the full sensor set at nuScenes rates (12 Hz
cameras, audio) use :class:`~multimodal.sensors.synthetic.drive.SyntheticDrive`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..frame import Frame
from . import camera as cam_mod
from .camera import CAMERA_NAMES
from .drive import DEFAULT_START_US, DriveConfig, SyntheticDrive
from .lidar import LIDAR_PERIOD_US, LidarModel
from .raycast import WorldCaster
from .world import World, make_world


def make_demo_drive(
    n_frames: int = 8,
    seed: int = 0,
    image_wh: tuple[int, int] = (320, 180),
    lidar_beams: int = 32,
    lidar_azimuth_steps: int = 1084,
    start_us: int = DEFAULT_START_US,
    cameras: Sequence[str] = CAMERA_NAMES,
    scene: World | None = None,
) -> list[Frame]:
    """``n_frames`` deterministic frames (20 Hz) of the world drawn from ``seed``.

    Frame ``i`` has the LiDAR's timestamp ``start_us + 25_000 + i * 50_000``, its ego pose, the
    sweep ``lidars["LIDAR_TOP"]`` (columns x, y, z, intensity, ring; class ``labels``) and one
    :class:`~multimodal.sensors.frame.CameraImage` per name in ``cameras`` with its own timestamp and ego pose;
    ``boxes`` lists vehicles, pedestrians and cyclists within 70 m (world frame). ``scene`` replaces
    the drawn world. The same arguments always give identical arrays.
    """
    n_frames = int(n_frames)
    if n_frames < 0:
        raise ValueError("n_frames must be >= 0")
    if n_frames == 0:
        return []
    config = DriveConfig(sweeps=n_frames, image_wh=tuple(image_wh), camera_hz=20.0, cameras=tuple(cameras),
                         audio_rate=0, start_us=int(start_us))
    config = replace(config, lidar=replace(LidarModel(), beams=int(lidar_beams),
                                           azimuth_steps=int(lidar_azimuth_steps)))
    drive = SyntheticDrive(world=scene, config=config, seed=seed)
    return list(drive.frames())


def demo_scene(n_frames: int = 8, seed: int = 0, start_us: int = DEFAULT_START_US) -> World:
    """The world :func:`make_demo_drive` draws for ``n_frames`` and ``seed`` (to render ground truth for its frames)."""
    return make_world(seed, max(int(n_frames), 1) * LIDAR_PERIOD_US * 1e-6, start_us)


def render_camera(scene: World, T_world_from_camera: np.ndarray, K: np.ndarray, wh: tuple[int, int],
                  timestamp_us: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth of a camera anywhere in ``scene``: ``rgb`` ``(H, W, 3) uint8`` (no sensor noise),
    ``class_id`` ``(H, W) uint8`` and ``depth`` ``(H, W) float32`` (metres along the optical axis, ``inf``
    for sky), with moving agents posed at ``timestamp_us`` (default: the drive's start)."""
    caster = getattr(scene, "_caster", None)
    if caster is None:
        caster = WorldCaster(scene)
        scene._caster = caster  # one Embree scene per world, however many renders
    t_s = 0.0 if timestamp_us is None else float(scene.ego.seconds(timestamp_us))
    out = cam_mod.render(caster, T_world_from_camera, K, wh, t_s)
    return out.rgb, out.class_id, out.depth
