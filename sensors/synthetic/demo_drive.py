"""A small deterministic multi-sensor drive through a synthetic street: one LiDAR and six cameras.

The ego drives along the street (world +x) at a seed-dependent 6-9 m/s, weaving gently (a few degrees
of yaw) about the road centre line. Sensors follow the nuScenes layout and conventions:

- ``LIDAR_TOP`` at 20 Hz, about 1.84 m up, rotated about -90 deg in yaw as in nuScenes (lidar x to
  the right of the car, y forward); 32 beams from -30 to +10 deg elevation; points in the lidar frame
  with columns ``x, y, z, intensity, ring`` and per-point class ``labels``;
- six cameras (``CAM_FRONT`` yaw 0, ``CAM_FRONT_RIGHT`` -55, ``CAM_BACK_RIGHT`` -110, ``CAM_BACK``
  180, ``CAM_BACK_LEFT`` 110, ``CAM_FRONT_LEFT`` 55 deg), about 1.5 m up, OpenCV optical frames,
  70 deg horizontal field of view. Each camera fires a few to tens of milliseconds *before* the LiDAR
  and carries the ego pose at its own timestamp.

Ground truth for the cameras (class image and depth) and the LiDAR comes from :func:`render_camera`
and :func:`scan_lidar` run on :func:`demo_scene` at the sensor's pose.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..frame import CameraImage, Frame, LidarSweep
from ..geometry import make_transform, transform_from_quat
from .raycast import cast_rays
from .scene import CAR, CLASS_NAMES, NO_HIT, SKY, Scene, make_scene, surface_albedo

LIDAR_NAME = "LIDAR_TOP"
LIDAR_FIELDS = ("x", "y", "z", "intensity", "ring")
LIDAR_PERIOD_US = 50_000  # 20 Hz

T_EGO_FROM_LIDAR = transform_from_quat(
    (0.7077955119163518, -0.006492242056004365, 0.010646214713995808, -0.7063073142877817),
    (0.943713, 0.0, 1.84023),
)
"""nuScenes LIDAR_TOP extrinsics (scene-0061 calibration): yaw about -90 deg, 1.84 m up."""

CAMERA_NAMES = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_FRONT_LEFT")

# name: (position in the ego frame [m], yaw [deg], exposure time before the LiDAR timestamp [us])
CAMERA_RIG: dict[str, tuple[tuple[float, float, float], float, int]] = {
    "CAM_FRONT": ((1.70, 0.02, 1.51), 0.0, 4_000),
    "CAM_FRONT_RIGHT": ((1.55, -0.49, 1.49), -55.0, 12_000),
    "CAM_BACK_RIGHT": ((1.03, -0.48, 1.56), -110.0, 20_000),
    "CAM_BACK": ((0.03, 0.0, 1.57), 180.0, 28_000),
    "CAM_BACK_LEFT": ((1.04, 0.48, 1.56), 110.0, 36_000),
    "CAM_FRONT_LEFT": ((1.52, 0.49, 1.51), 55.0, 44_000),
}

# Optical frame (x right, y down, z forward) -> ego frame (x forward, y left, z up) for a camera
# looking straight ahead: columns are the optical axes expressed in the ego frame.
_R_EGO_FROM_OPTICAL_FORWARD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

SUN_DIRECTION = np.array([0.35, 0.55, 0.76]) / np.linalg.norm([0.35, 0.55, 0.76])
"""Unit vector towards the sun, world frame."""


def T_ego_from_camera(name: str) -> np.ndarray:
    """``(4, 4)`` optical-frame-to-ego extrinsics of rig camera ``name``."""
    if name not in CAMERA_RIG:
        raise ValueError(f"unknown camera {name!r}; known: {', '.join(CAMERA_RIG)}")
    position, yaw_deg, _ = CAMERA_RIG[name]
    R = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix() @ _R_EGO_FROM_OPTICAL_FORWARD
    return make_transform(R, position)


def camera_intrinsics(image_wh: tuple[int, int], hfov_deg: float = 70.0) -> np.ndarray:
    """``(3, 3)`` pinhole K with square pixels, the principal point at the image centre and the given
    horizontal field of view. Pixel ``(col, row)`` covers ``[col, col+1) x [row, row+1)``."""
    W, H = int(image_wh[0]), int(image_wh[1])
    f = (W / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[f, 0.0, W / 2.0], [0.0, f, H / 2.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class DemoTrajectory:
    """The ego path: ``x = x0 + speed * t``, ``y = amplitude * sin(2 pi x / wavelength + phase)``,
    heading along the path tangent, on the ground (z = 0, no roll or pitch). ``t`` in seconds from
    ``start_us``."""

    start_us: int
    speed: float
    amplitude: float
    wavelength: float
    phase: float
    x0: float = 0.0

    def pose(self, timestamp_us: int) -> np.ndarray:
        """``T_world_from_ego`` at ``timestamp_us``."""
        t = (int(timestamp_us) - int(self.start_us)) * 1e-6
        x = self.x0 + self.speed * t
        k = 2.0 * np.pi / self.wavelength
        y = self.amplitude * np.sin(k * x + self.phase)
        yaw = np.arctan(self.amplitude * k * np.cos(k * x + self.phase))
        return make_transform(Rotation.from_euler("z", yaw).as_matrix(), (x, y, 0.0))


def demo_trajectory(seed: int = 0, start_us: int = 1_700_000_000_000_000) -> DemoTrajectory:
    """The trajectory :func:`make_demo_drive` uses for ``seed``."""
    rng = np.random.default_rng([int(seed), 7])
    return DemoTrajectory(
        start_us=int(start_us),
        speed=float(rng.uniform(6.0, 9.0)),
        amplitude=float(rng.uniform(0.2, 0.4)),
        wavelength=float(rng.uniform(40.0, 60.0)),
        phase=float(rng.uniform(0.0, 2.0 * np.pi)),
    )


def demo_scene(n_frames: int = 8, seed: int = 0) -> Scene:
    """The scene :func:`make_demo_drive` uses for ``n_frames`` and ``seed`` (street long enough for
    the drive plus 100 m of view ahead)."""
    traj = demo_trajectory(seed)
    x_end = traj.x0 + traj.speed * max(int(n_frames), 1) * LIDAR_PERIOD_US * 1e-6
    return make_scene(seed, x_range=(traj.x0 - 60.0, x_end + 100.0))


def scan_lidar(
    scene: Scene,
    T_world_from_lidar: np.ndarray,
    beams: int = 32,
    azimuth_steps: int = 1024,
    elevation_deg: tuple[float, float] = (-30.0, 10.0),
    max_range: float = 70.0,
    min_range: float = 1.0,
    range_noise_m: float = 0.02,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One spinning-LiDAR sweep from a fixed pose (no motion during the sweep).

    Args:
        scene: the scene.
        T_world_from_lidar: ``(4, 4)`` lidar pose.
        beams / elevation_deg: number of beams, evenly spaced between the two elevations (degrees).
        azimuth_steps: firings per revolution.
        max_range / min_range: returns outside ``[min_range, max_range)`` (true range) are dropped.
        range_noise_m: standard deviation of Gaussian range noise (needs ``rng``; none without one).
        rng: noise source; None for noise-free ranges.

    Returns:
        ``points`` ``(N, 5) float32`` columns ``x, y, z, intensity, ring`` in the lidar frame (intensity
        0-255 from albedo and incidence angle; ring 0 = lowest beam), ordered by azimuth then ring,
        and ``labels`` ``(N,) uint8`` class ids (see ``CLASS_NAMES``).
    """
    el = np.radians(np.linspace(elevation_deg[0], elevation_deg[1], int(beams)))
    az = 2.0 * np.pi * np.arange(int(azimuth_steps)) / int(azimuth_steps)
    A, E = np.meshgrid(az, el, indexing="ij")  # (azimuth, ring)
    ring = np.broadcast_to(np.arange(int(beams)), A.shape).ravel()
    d_lidar = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)

    T = np.asarray(T_world_from_lidar, dtype=np.float64)
    d_world = d_lidar @ T[:3, :3].T
    hits = cast_rays(scene, T[:3, 3], d_world, max_distance=max_range)
    keep = np.isfinite(hits.distance) & (hits.distance >= min_range) & (hits.distance < max_range)
    r = hits.distance[keep]

    p_world = T[:3, 3] + r[:, None] * d_world[keep]
    albedo = surface_albedo(scene, p_world, hits.object_index[keep])
    reflectance = albedo @ np.array([0.3, 0.59, 0.11])
    cos_inc = np.abs(np.einsum("ij,ij->i", hits.normal[keep], d_world[keep]))
    intensity = np.round(255.0 * np.clip(1.3 * reflectance * (0.25 + 0.75 * cos_inc), 0.0, 1.0))

    if rng is not None and range_noise_m > 0:
        r = r + rng.normal(0.0, range_noise_m, r.shape)
    points = np.empty((r.size, 5), dtype=np.float32)
    points[:, :3] = r[:, None] * d_lidar[keep]
    points[:, 3] = intensity
    points[:, 4] = ring[keep]
    return points, hits.class_id[keep]


def render_camera(
    scene: Scene,
    T_world_from_camera: np.ndarray,
    K: np.ndarray,
    wh: tuple[int, int],
    sun_direction: np.ndarray = SUN_DIRECTION,
    ambient: float = 0.35,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast a pinhole camera image through the pixel centres ``(col + 0.5, row + 0.5)``.

    Args:
        scene: the scene.
        T_world_from_camera: ``(4, 4)`` pose of the camera's optical frame (x right, y down, z forward).
        K: ``(3, 3)`` intrinsics, pixels.
        wh: image width and height, pixels.
        sun_direction: unit vector towards the sun, world frame.
        ambient: ambient light share; the rest is Lambertian sun light.

    Returns:
        ``rgb`` ``(H, W, 3) uint8`` (albedo * (ambient + lambert), gamma 2.2, sky gradient where nothing
        is hit), ``class_img`` ``(H, W) uint8`` class ids (``sky`` where nothing is hit) and ``depth``
        ``(H, W) float32`` metres along the optical axis (``inf`` where nothing is hit).
    """
    W, H = int(wh[0]), int(wh[1])
    cols, rows = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    pix = np.stack([cols.ravel(), rows.ravel(), np.ones(W * H)], axis=1)
    d_cam = pix @ np.linalg.inv(np.asarray(K, dtype=np.float64)).T
    d_cam /= np.linalg.norm(d_cam, axis=1, keepdims=True)
    T = np.asarray(T_world_from_camera, dtype=np.float64)
    d_world = d_cam @ T[:3, :3].T
    hits = cast_rays(scene, T[:3, 3], d_world)

    hit = hits.object_index != NO_HIT
    albedo = surface_albedo(scene, hits.points(T[:3, 3], d_world)[hit], hits.object_index[hit])
    lambert = np.clip(hits.normal[hit] @ np.asarray(sun_direction, dtype=np.float64), 0.0, None)
    color = np.empty((W * H, 3))
    color[hit] = albedo * (ambient + (1.0 - ambient) * lambert)[:, None]
    up = np.clip(d_world[~hit, 2] * 2.5, 0.0, 1.0)[:, None]
    color[~hit] = (1.0 - up) * np.array([0.72, 0.80, 0.90]) + up * np.array([0.25, 0.45, 0.80])
    rgb = np.round(255.0 * np.clip(color, 0.0, 1.0) ** (1.0 / 2.2)).astype(np.uint8).reshape(H, W, 3)

    class_img = np.where(hit, hits.class_id, SKY).astype(np.uint8).reshape(H, W)
    depth = np.where(hit, hits.distance * d_cam[:, 2], np.inf).astype(np.float32).reshape(H, W)
    return rgb, class_img, depth


def _annotation_boxes(scene: Scene, T_world_from_ego: np.ndarray, radius: float) -> list[dict]:
    """World-frame boxes of the cars within ``radius`` metres of the ego."""
    near = np.linalg.norm(scene.centers[:, :2] - T_world_from_ego[:2, 3], axis=1) < radius
    return [
        {
            "category": CLASS_NAMES[int(scene.class_ids[i])],
            "instance": int(scene.instance_ids[i]),
            "center": scene.centers[i].copy(),
            "size": 2.0 * scene.half_sizes[i],
            "yaw": float(scene.yaws[i]),
            "frame": "world",
        }
        for i in np.flatnonzero(near & (scene.class_ids == CAR))
    ]


def make_demo_drive(
    n_frames: int = 8,
    seed: int = 0,
    image_wh: tuple[int, int] = (320, 180),
    lidar_beams: int = 32,
    lidar_azimuth_steps: int = 1024,
    start_us: int = 1_700_000_000_000_000,
    cameras: Sequence[str] = CAMERA_NAMES,
    scene: Scene | None = None,
) -> list[Frame]:
    """A deterministic drive of ``n_frames`` LiDAR frames (20 Hz) with camera images.

    Frame ``i`` has timestamp ``start_us + i * 50_000`` (the LiDAR's), ``T_world_from_ego`` at that
    time, ``lidars["LIDAR_TOP"]`` and one :class:`CameraImage` per name in ``cameras``; each camera has
    its own timestamp (``CAMERA_RIG`` offsets before the LiDAR) and the ego pose at that time.
    ``boxes`` lists the parked cars within 70 m (world frame). ``scene`` defaults to
    ``demo_scene(n_frames, seed)``; the same arguments always give identical arrays.
    """
    n_frames = int(n_frames)
    if n_frames < 0:
        raise ValueError("n_frames must be >= 0")
    for name in cameras:
        T_ego_from_camera(name)  # validate names early
    traj = demo_trajectory(seed, start_us)
    if scene is None:
        scene = demo_scene(n_frames, seed)
    K = camera_intrinsics(image_wh)
    frames = []
    for i in range(n_frames):
        t_us = int(start_us) + i * LIDAR_PERIOD_US
        T_world_from_ego = traj.pose(t_us)
        points, labels = scan_lidar(
            scene, T_world_from_ego @ T_EGO_FROM_LIDAR, beams=lidar_beams, azimuth_steps=lidar_azimuth_steps,
            rng=np.random.default_rng([int(seed), 1000 + i]),
        )
        sweep = LidarSweep(points=points, T_ego_from_sensor=T_EGO_FROM_LIDAR.copy(), timestamp_us=t_us,
                           T_world_from_ego=T_world_from_ego, fields=LIDAR_FIELDS, labels=labels,
                           frame_id=LIDAR_NAME)
        cams = {}
        for name in cameras:
            t_cam = t_us - CAMERA_RIG[name][2]
            T_cam_ego = traj.pose(t_cam)
            T_ego_cam = T_ego_from_camera(name)
            rgb, _, _ = render_camera(scene, T_cam_ego @ T_ego_cam, K, image_wh)
            cams[name] = CameraImage(image=rgb, K=K.copy(), T_ego_from_sensor=T_ego_cam, timestamp_us=t_cam,
                                     T_world_from_ego=T_cam_ego, frame_id=name)
        frames.append(Frame(timestamp_us=t_us, T_world_from_ego=T_world_from_ego.copy(), lidars={LIDAR_NAME: sweep},
                            cameras=cams, index=i, token=f"demo-{int(seed)}-{i:04d}",
                            boxes=_annotation_boxes(scene, T_world_from_ego, 70.0)))
    return frames


__all__ = [
    "CAMERA_NAMES",
    "CAMERA_RIG",
    "LIDAR_FIELDS",
    "LIDAR_NAME",
    "SUN_DIRECTION",
    "T_EGO_FROM_LIDAR",
    "DemoTrajectory",
    "T_ego_from_camera",
    "camera_intrinsics",
    "demo_scene",
    "demo_trajectory",
    "make_demo_drive",
    "render_camera",
    "scan_lidar",
]
