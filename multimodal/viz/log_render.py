"""Draw one frame of a log: LiDAR points projected onto every camera (coloured by depth) and a
bird's-eye view of the sweep in the ego frame, with the cameras' viewing directions."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from multimodal.sensors.frame import Frame
from multimodal.sensors.geometry import project_lidar_to_camera, transform_points

# nuScenes-like order so a 6-camera rig reads naturally: front row, then back row.
_CAMERA_ORDER = ["CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT"]


def _camera_names(frame: Frame) -> list[str]:
    known = [c for c in _CAMERA_ORDER if c in frame.cameras]
    return known + sorted(c for c in frame.cameras if c not in known)


def render_frame(frame: Frame, out_png: str | os.PathLike, title: str = "", max_depth_m: float = 50.0,
                 bev_range_m: float = 50.0, point_size: float = 1.0) -> Path:
    """Write a PNG of ``frame`` and return its path (written atomically).

    Args:
        max_depth_m: depth (metres) mapped to the end of the colour scale.
        bev_range_m: half-width of the bird's-eye view, metres around the ego.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cams = _camera_names(frame)
    lidar_name = next(iter(frame.lidars), None)
    sweep = frame.lidars[lidar_name] if lidar_name else None
    ncols = 3 if len(cams) > 1 else 1
    nrows_cam = max(1, math.ceil(len(cams) / ncols)) if cams else 0
    has_bev = sweep is not None
    has_audio = bool(frame.audio)
    rows = max(nrows_cam, 1) + (1 if has_audio else 0)
    cam_h = 3.3 * max(nrows_cam, 1)
    fig = plt.figure(figsize=(5.2 * ncols + (cam_h * 1.15 if has_bev else 0), cam_h + (2.2 if has_audio else 0)),
                     dpi=100)
    # The bird's-eye view is square: give it a column as wide as the camera block is tall.
    ratios = [5.2] * ncols + ([cam_h * 1.15] if has_bev else [])
    gs = fig.add_gridspec(rows, len(ratios), width_ratios=ratios)
    cmap = plt.get_cmap("turbo")
    for k, name in enumerate(cams):
        cam = frame.cameras[name]
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        ax.imshow(cam.image)
        if sweep is not None and cam.K is not None:
            uv, depth, mask = project_lidar_to_camera(sweep, cam)
            order = np.argsort(-depth[mask])  # far first so near points stay on top
            ax.scatter(uv[mask][order, 0], uv[mask][order, 1], c=np.clip(depth[mask][order] / max_depth_m, 0, 1),
                       cmap=cmap, vmin=0, vmax=1, s=point_size, linewidths=0)
            label = f"{name}  ({int(mask.sum())} pts, dt={(cam.timestamp_us - sweep.timestamp_us) / 1000:+.1f} ms)"
        else:
            label = name
        ax.set_title(label, fontsize=8)
        ax.set_xlim(0, cam.image.shape[1])
        ax.set_ylim(cam.image.shape[0], 0)
        ax.axis("off")
    if has_bev:
        ax = fig.add_subplot(gs[: max(nrows_cam, 1), ncols])
        p_ego = transform_points(sweep.T_ego_from_sensor, sweep.xyz)
        near = (np.abs(p_ego[:, 0]) < bev_range_m) & (np.abs(p_ego[:, 1]) < bev_range_m)
        z = p_ego[near, 2]
        lo, hi = np.percentile(z, [2, 98]) if z.size else (0.0, 1.0)
        # BEV drawn with x forward pointing up and y (left) pointing left, as seen from above.
        sc = ax.scatter(-p_ego[near, 1], p_ego[near, 0], c=z, cmap="viridis", vmin=lo, vmax=hi, s=0.3, linewidths=0)
        fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.01, label="height in ego frame (m)")
        for name in cams:
            T = frame.cameras[name].T_ego_from_sensor
            origin, fwd = T[:3, 3], T[:3, 2]
            ax.plot([-origin[1], -(origin[1] + 6 * fwd[1])], [origin[0], origin[0] + 6 * fwd[0]], "r-", lw=1)
            ax.text(-(origin[1] + 7.5 * fwd[1]), origin[0] + 7.5 * fwd[0], name.replace("CAM_", ""), fontsize=6,
                    color="red", ha="center", va="center")
        ax.add_patch(plt.Rectangle((-1.0, -2.3), 2.0, 4.6, fill=False, color="k", lw=1))
        ax.set_xlim(-bev_range_m, bev_range_m)
        ax.set_ylim(-bev_range_m, bev_range_m)
        ax.set_aspect("equal")
        ax.set_xlabel("-y (m, right of ego)")
        ax.set_ylabel("x (m, forward)")
        ax.set_title(f"{lidar_name}: {len(sweep)} points, bird's-eye view (ego frame)", fontsize=9)
    if has_audio:
        ax = fig.add_subplot(gs[rows - 1, :])
        for name, chunk in frame.audio.items():
            t = np.arange(chunk.samples.shape[-1]) / chunk.sample_rate
            for ch in range(chunk.samples.shape[0]):
                ax.plot(t, chunk.samples[ch], lw=0.5, label=f"{name} ch{ch}")
        ax.set_xlabel("time in chunk (s)")
        ax.set_ylabel("amplitude")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title or f"frame {frame.index} at t={frame.timestamp_us} µs", fontsize=10)
    fig.tight_layout()
    from .features import save_figure

    return save_figure(fig, out_png)


def render_log_frame(log, index: int, out_png: str | os.PathLike, title: str | None = None) -> Path:
    """Render frame ``index`` of a :class:`~multimodal.sensors.base.SensorLog`."""
    frame = log[index]
    return render_frame(frame, out_png, title=title or f"{Path(str(log.path)).name} ({log.format}) frame {frame.index}")
