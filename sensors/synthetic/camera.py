"""Six pinhole cameras in the nuScenes layout, rendered by ray casting with sun, sky, shadows and haze.

Each pixel casts one ray through its centre ``(col + 0.5, row + 0.5)``. A hit is shaded with the
surface's procedural albedo under hemispherical sky light and direct sun (a second ray towards
the sun decides the shadow), glass reflects the sky, distance adds haze; misses show a sky
gradient with clouds. Exposure drifts slowly per camera (auto-exposure), the image gets a
vignette and sensor noise. Ground truth per pixel: class, instance and depth along the optical axis.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry import make_transform
from .classes import SKY
from .materials import surface, value_noise
from .raycast import WorldCaster

CAMERA_NAMES = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_FRONT_LEFT")


@dataclass(frozen=True)
class CameraSpec:
    """Mounting of one camera: ``position`` (ego frame, metres), ``yaw_deg`` of its optical axis
    (0 = forward, positive = left), horizontal field of view, and the trigger latency (µs) after
    the LiDAR beam sweeps across its optical axis."""

    position: tuple[float, float, float]
    yaw_deg: float
    hfov_deg: float
    latency_us: int


CAMERA_RIG: dict[str, CameraSpec] = {
    "CAM_FRONT": CameraSpec((1.70, 0.02, 1.51), 0.0, 64.6, 1_300),
    "CAM_FRONT_RIGHT": CameraSpec((1.55, -0.49, 1.49), -55.0, 64.6, 2_100),
    "CAM_BACK_RIGHT": CameraSpec((1.03, -0.48, 1.56), -110.0, 64.6, 1_700),
    "CAM_BACK": CameraSpec((0.03, 0.0, 1.57), 180.0, 89.4, 2_500),
    "CAM_BACK_LEFT": CameraSpec((1.04, 0.48, 1.56), 110.0, 64.6, 1_900),
    "CAM_FRONT_LEFT": CameraSpec((1.52, 0.49, 1.51), 55.0, 64.6, 1_500),
}
"""nuScenes camera layout: positions and yaws as on the nuScenes car, the back camera wider."""

# Optical frame (x right, y down, z forward) -> ego frame for a camera looking straight ahead.
_R_EGO_FROM_OPTICAL_FORWARD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def T_ego_from_camera(name: str) -> np.ndarray:
    """``(4, 4)`` optical-frame-to-ego extrinsics of rig camera ``name``."""
    if name not in CAMERA_RIG:
        raise ValueError(f"unknown camera {name!r}; known: {', '.join(CAMERA_RIG)}")
    spec = CAMERA_RIG[name]
    R = Rotation.from_euler("z", spec.yaw_deg, degrees=True).as_matrix() @ _R_EGO_FROM_OPTICAL_FORWARD
    return make_transform(R, spec.position)


def camera_intrinsics(image_wh: tuple[int, int], hfov_deg: float = 64.6) -> np.ndarray:
    """``(3, 3)`` pinhole K with square pixels, the principal point at the image centre and the given
    horizontal field of view (degrees)."""
    W, H = int(image_wh[0]), int(image_wh[1])
    f = (W / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[f, 0.0, W / 2.0], [0.0, f, H / 2.0], [0.0, 0.0, 1.0]])


def exposure_time_offset_us(name: str, period_us: int = 50_000) -> int:
    """When camera ``name`` fires relative to a LiDAR sweep's timestamp (µs): as the beam crosses its
    optical axis (the head starts pointing backwards at ``-period / 2``), plus its trigger latency."""
    spec = CAMERA_RIG[name]
    psi = np.radians(spec.yaw_deg)
    frac = ((np.pi - psi) / (2 * np.pi)) % 1.0
    return int(round(-period_us / 2 + frac * period_us)) + spec.latency_us


class CameraRender(NamedTuple):
    """One rendered image and its ground truth.

    Attributes:
        rgb: ``(H, W, 3) uint8``.
        class_id: ``(H, W) uint8`` class per pixel (``sky`` where nothing is hit).
        instance: ``(H, W) int32`` instance per pixel (-1 for sky).
        depth: ``(H, W) float32`` metres along the optical axis (``inf`` for sky).
    """

    rgb: np.ndarray
    class_id: np.ndarray
    instance: np.ndarray
    depth: np.ndarray


@lru_cache(maxsize=16)
def _pixel_rays(K_bytes: bytes, W: int, H: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit rays through the pixel centres ``(W*H, 3)`` (camera frame) and the vignette factor ``(W*H,)``."""
    K = np.frombuffer(K_bytes, dtype=np.float64).reshape(3, 3)
    cols, rows = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    pix = np.stack([cols.ravel(), rows.ravel(), np.ones(W * H)], axis=1)
    d = pix @ np.linalg.inv(K).T
    r2 = (d[:, 0] ** 2 + d[:, 1] ** 2) / (K[0, 2] / K[0, 0]) ** 2
    vignette = (1.0 - 0.18 * np.clip(r2, 0.0, 2.0)).astype(np.float32)
    return (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32), vignette


_NOISE = np.random.default_rng(12345).normal(0.0, 1.2, 3 * 1_000_003).astype(np.float32)


def _sensor_noise(rng: np.random.Generator, n_pixels: int) -> np.ndarray:
    """``(n_pixels, 3) float32`` sensor noise (sigma 1.2 grey levels): a window of a fixed noise table at a
    random offset, which costs no random number generation per pixel."""
    n = 3 * n_pixels
    if n > _NOISE.size:
        return rng.normal(0.0, 1.2, (n_pixels, 3)).astype(np.float32)
    k = int(rng.integers(0, _NOISE.size - n + 1))
    return _NOISE[k:k + n].reshape(n_pixels, 3)


_GAMMA_LUT = (np.linspace(0.0, 1.0, 4096) ** (1.0 / 2.2) * 255.0).astype(np.float32)
AGENT_MARGIN_M = 0.35
"""Agents' boxes are grown by this much when deciding which pixels may see them (swinging limbs)."""


def _agent_pixels(caster: WorldCaster, T_world_from_camera: np.ndarray, K: np.ndarray, W: int, H: int,
                  t_s: float) -> np.ndarray:
    """``(H*W,) bool``: pixels whose ray may hit an agent (the union of the agents' projected boxes)."""
    ag = caster.world.agents
    mask = np.zeros((H, W), bool)
    if not len(ag):
        return mask.ravel()
    R, pos = caster.agent_poses(t_s)
    half = ag.size[:, :2] / 2 + AGENT_MARGIN_M
    sx = np.array([-1, 1, -1, 1, -1, 1, -1, 1], np.float64)
    sy = np.array([-1, -1, 1, 1, -1, -1, 1, 1], np.float64)
    sz = np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float64)
    local = np.stack([sx * half[:, :1], sy * half[:, 1:2], sz * (ag.size[:, 2:3] + AGENT_MARGIN_M) - 0.2], axis=-1)
    corners = np.einsum("aij,akj->aki", R, local) + pos[:, None, :]  # (A, 8, 3) world
    Tcw = np.linalg.inv(T_world_from_camera)
    pc = corners @ Tcw[:3, :3].T + Tcw[:3, 3]
    z = pc[..., 2]
    in_front = z > 0.05
    uv = (pc @ K.T)[..., :2] / np.where(in_front, z, 1.0)[..., None]
    near = np.linalg.norm(pc.mean(axis=1), axis=1) < 100.0
    for a in np.flatnonzero(near & in_front.any(axis=1)):
        if not in_front[a].all():  # the box reaches behind the camera: anything may be covered
            mask[:] = True
            break
        u0, v0 = np.floor(uv[a].min(axis=0)).astype(int)
        u1, v1 = np.ceil(uv[a].max(axis=0)).astype(int)
        if u1 < 0 or v1 < 0 or u0 >= W or v0 >= H:
            continue
        mask[max(v0, 0):min(v1 + 1, H), max(u0, 0):min(u1 + 1, W)] = True
    return mask.ravel()


def exposure_gain(seed: int, name: str, t_s: float) -> float:
    """Auto-exposure drift of camera ``name``: a slow wobble of a few percent around 1."""
    k = sum(ord(c) for c in name)
    ph = value_noise(np.array([k * 7.3]), np.array([seed % 1000 + 0.5]), 1.0)[0] * 2 * np.pi
    return float(1.0 + 0.07 * np.sin(2 * np.pi * t_s / 3.7 + ph) + 0.03 * np.sin(2 * np.pi * t_s / 1.3 + 2 * ph))


def render(caster: WorldCaster, T_world_from_camera: np.ndarray, K: np.ndarray, image_wh: tuple[int, int],
           t_s: float, rng: np.random.Generator | None = None, gain: float = 1.0, shadows: bool = True) -> CameraRender:
    """Render a camera at pose ``T_world_from_camera`` (optical frame) and time ``t_s`` (seconds since
    the drive's start). ``rng`` adds sensor noise (none without); ``gain`` scales the exposure."""
    world = caster.world
    light = world.lighting
    W, H = int(image_wh[0]), int(image_wh[1])
    K = np.ascontiguousarray(K, dtype=np.float64)
    d_cam, vignette = _pixel_rays(K.tobytes(), W, H)
    T = np.asarray(T_world_from_camera, dtype=np.float64)
    d = d_cam @ T[:3, :3].T.astype(np.float32)
    origin = T[:3, 3]
    agents = caster.agents_in_view(t_s, origin, d, light.sun_direction if shadows else None)
    hits = caster.cast(origin, d, t_s, may_hit_agents=_agent_pixels(caster, T, K, W, H, t_s), agents=agents)
    i = hits.index
    tri = hits.triangle[i]
    dist = hits.distance[i]
    surf = surface(caster.material[tri], hits.local, caster.uaxis[tri], caster.tex[tri], caster.albedo[tri],
                   world.road)
    n = hits.normal
    di = d[i]  # directions of the rays that hit
    sun = light.sun_direction.astype(np.float32)
    cos_sun = n @ sun
    lit = np.clip(cos_sun, 0.0, None)
    if shadows and not light.overcast:
        facing = np.flatnonzero(cos_sun > 0.0)
        p = origin + dist[facing, None] * di[facing] + 0.03 * n[facing]
        lit[facing[caster.occluded(p, np.broadcast_to(sun, p.shape), t_s, 300.0, agents)]] = 0.0
    sky_rgb, sun_rgb, horizon = (c.astype(np.float32) for c in (light.sky_rgb, light.sun_rgb, light.horizon_rgb))
    colour = surf.albedo * (sky_rgb * (np.float32(0.55) + np.float32(0.45) * n[:, 2:3]) + sun_rgb * lit[:, None])
    colour[surf.glass] += np.float32(0.16) * horizon * (np.float32(0.4) + np.abs(di[surf.glass, 2:3]))
    fog = np.exp(-dist / np.float32(light.haze_m))[:, None]
    colour = fog * colour + (np.float32(1.0) - fog) * horizon

    img = np.empty((W * H, 3), np.float32)
    img[i] = colour
    miss = np.flatnonzero(~hits.hit)
    dm = d[miss]
    up = np.clip(dm[:, 2] * 2.5, 0.0, 1.0)[:, None] ** 0.7
    sky = (1.0 - up) * light.horizon_rgb + up * light.zenith_rgb
    if not light.overcast and miss.size:
        el = np.maximum(dm[:, 2], 0.02)
        cloud = value_noise(dm[:, 0] / el * 3.0, dm[:, 1] / el * 3.0, 1.3, world.seed % 9973)
        cloud = np.clip((cloud - 0.55) * 2.5, 0.0, 1.0)[:, None] * (dm[:, 2:3] > 0)
        sky = sky * (1.0 - 0.7 * cloud) + 0.95 * cloud
        sky += light.sun_rgb * 0.6 * np.clip(dm @ sun, 0.0, 1.0)[:, None] ** 300
    img[miss] = sky

    img *= (np.float32(light.exposure * gain) * vignette)[:, None]
    img = _GAMMA_LUT[(np.clip(img, 0.0, 1.0) * 4095.0).astype(np.int32)]
    if rng is not None:
        img += _sensor_noise(rng, img.shape[0])
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8).reshape(H, W, 3)

    class_id = np.full(W * H, SKY, np.uint8)
    class_id[i] = caster.class_id[tri]
    instance = np.full(W * H, -1, np.int32)
    instance[i] = caster.instance[tri]
    depth = np.full(W * H, np.inf, np.float32)
    depth[i] = dist * d_cam[i, 2]
    return CameraRender(rgb, class_id.reshape(H, W), instance.reshape(H, W), depth.reshape(H, W))
