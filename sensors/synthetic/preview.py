"""Pictures of one synthetic frame with its ground truth, to check the world by eye (``make-world --render``).

Writes PNGs (numpy + PIL, no plotting library):

- ``cameras_lidar``: the six cameras with the LiDAR points projected, coloured by the points' class;
  a point whose colour disagrees with the surface under it is a labelling or calibration bug;
- ``bev``: bird's-eye view of the sweep (ego frame, 50 m around), points by class, annotation boxes;
- ``labels`` / ``depth``: each camera's per-pixel class and depth ground truth;
- ``audio``: spectrogram of the scene's microphone track, the frame's time marked.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_write
from ..frame import Frame
from ..geometry import invert, project_lidar_to_camera, transform_points
from .classes import CLASS_COLORS, CLASS_NAMES
from .drive import SyntheticDrive

GRID_ORDER = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT")
_DEPTH_STOPS = np.array([[0.50, 0.0, 0.0], [1.0, 0.3, 0.0], [1.0, 0.9, 0.1], [0.3, 0.9, 0.5], [0.1, 0.5, 1.0],
                         [0.15, 0.1, 0.45]])


def depth_colours(depth: np.ndarray, max_m: float = 60.0) -> np.ndarray:
    """``(..., 3) uint8``: near red through yellow, green and blue to far violet; black for ``inf``."""
    x = np.clip(np.nan_to_num(depth, posinf=max_m) / max_m, 0.0, 1.0) * (len(_DEPTH_STOPS) - 1)
    k = np.minimum(x.astype(int), len(_DEPTH_STOPS) - 2)
    f = (x - k)[..., None]
    rgb = (_DEPTH_STOPS[k] * (1 - f) + _DEPTH_STOPS[k + 1] * f) * 255
    rgb[~np.isfinite(depth)] = 0
    return rgb.astype(np.uint8)


def _dots(img: np.ndarray, uv: np.ndarray, colours: np.ndarray, radius: int = 1) -> None:
    """Draw square dots of ``(2 radius + 1)`` px at ``uv`` (col, row) in place; later dots cover earlier ones."""
    H, W = img.shape[:2]
    c = np.floor(uv).astype(int)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            x, y = c[:, 0] + dx, c[:, 1] + dy
            ok = (x >= 0) & (x < W) & (y >= 0) & (y < H)
            img[y[ok], x[ok]] = colours[ok]


def _caption(img: np.ndarray, text: str) -> Image.Image:
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    box = draw.textbbox((3, 2), text)
    draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
    draw.text((3, 2), text, fill=(255, 255, 255))
    return pil


def _grid(tiles: list[Image.Image], cols: int = 3, pad: int = 4) -> Image.Image:
    w = max(t.width for t in tiles)
    h = max(t.height for t in tiles)
    rows = (len(tiles) + cols - 1) // cols
    out = Image.new("RGB", (cols * w + (cols + 1) * pad, rows * h + (rows + 1) * pad), (255, 255, 255))
    for k, t in enumerate(tiles):
        out.paste(t, (pad + (k % cols) * (w + pad), pad + (k // cols) * (h + pad)))
    return out


def legend(class_ids: list[int] | None = None, width: int = 0) -> Image.Image:
    """A strip of class colour swatches with names."""
    ids = list(range(1, len(CLASS_NAMES))) if class_ids is None else class_ids
    item = 92
    per_row = max(1, (width or item * len(ids)) // item)
    rows = (len(ids) + per_row - 1) // per_row
    img = Image.new("RGB", (max(width, item * min(per_row, len(ids))), 18 * rows + 4), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for k, c in enumerate(ids):
        x, y = 4 + (k % per_row) * item, 3 + (k // per_row) * 18
        draw.rectangle((x, y, x + 12, y + 12), fill=tuple(int(v) for v in CLASS_COLORS[c]), outline=(0, 0, 0))
        draw.text((x + 16, y), CLASS_NAMES[c], fill=(0, 0, 0))
    return img


def _stack(top: Image.Image, bottom: Image.Image) -> Image.Image:
    out = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height), (255, 255, 255))
    out.paste(top, (0, 0))
    out.paste(bottom, (0, top.height))
    return out


def _save(img: Image.Image, path: Path) -> Path:
    return atomic_write(path, lambda f: img.save(f, format="PNG"))


def cameras_with_lidar(frame: Frame) -> Image.Image:
    """Camera grid with the sweep's points projected and coloured by class."""
    sweep = next(iter(frame.lidars.values()))
    tiles = []
    for name in [n for n in GRID_ORDER if n in frame.cameras]:
        cam = frame.cameras[name]
        img = cam.image.copy()
        uv, depth, mask = project_lidar_to_camera(sweep, cam)
        order = np.flatnonzero(mask)[np.argsort(-depth[mask])]  # far first: near points stay on top
        _dots(img, uv[order], CLASS_COLORS[sweep.labels[order]], radius=1)
        dt = (cam.timestamp_us - sweep.timestamp_us) / 1000
        tiles.append(_caption(img, f"{name}  {mask.sum()} pts  dt {dt:+.1f} ms"))
    return _stack(_grid(tiles), legend(width=_grid(tiles).width))


def birds_eye(frame: Frame, range_m: float = 50.0, px: int = 720) -> Image.Image:
    """Top view of the sweep in the ego frame (x up, y left), points by class, boxes in white."""
    sweep = next(iter(frame.lidars.values()))
    img = np.full((px, px, 3), 70, np.uint8)
    p = transform_points(sweep.T_ego_from_sensor, sweep.xyz)
    scale = px / (2 * range_m)
    uv = np.stack([px / 2 - p[:, 1] * scale, px / 2 - p[:, 0] * scale], axis=1)
    order = np.argsort(p[:, 2])  # high points drawn last
    _dots(img, uv[order], CLASS_COLORS[sweep.labels[order]], radius=1)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    T_ego_world = invert(frame.T_world_from_ego)
    for b in frame.boxes or []:
        c, s = np.cos(b["yaw"]), np.sin(b["yaw"])
        hl, hw = b["size"][0] / 2, b["size"][1] / 2
        corners = np.array([[hl, hw], [hl, -hw], [-hl, -hw], [-hl, hw]]) @ np.array([[c, s], [-s, c]]) + b["center"][:2]
        ce = transform_points(T_ego_world, np.c_[corners, np.full(4, b["center"][2])])
        draw.polygon([(px / 2 - y * scale, px / 2 - x * scale) for x, y, _ in ce], outline=(255, 255, 255))
    ego = [(px / 2 - y * scale, px / 2 - x * scale) for x, y in ((3.9, 0.95), (3.9, -0.95), (-1.0, -0.95),
                                                                 (-1.0, 0.95))]
    draw.polygon(ego, outline=(255, 255, 0), width=2)
    draw.text((6, 4), f"bird's-eye view, ego frame, {range_m:.0f} m around; {len(sweep)} points", fill=(255, 255, 255))
    return _stack(pil, legend(width=px))


def label_grid(truth: dict) -> tuple[Image.Image, Image.Image]:
    """Per-pixel class and depth ground truth of each camera, as two grids."""
    names = [n for n in GRID_ORDER if n in truth]
    cls = [_caption(CLASS_COLORS[truth[n].class_id], f"{n} classes") for n in names]
    dep = [_caption(depth_colours(truth[n].depth), f"{n} depth (red near, violet 60 m, black sky)") for n in names]
    g = _grid(cls)
    return _stack(g, legend(width=g.width)), _grid(dep)


def spectrogram(samples: np.ndarray, sample_rate: int, mark_s: float | None = None, height: int = 256,
                px_per_s: int = 200) -> Image.Image:
    """Log-magnitude spectrogram (0 to Nyquist, low frequencies at the bottom) of a mono track."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    px_per_s = max(px_per_s, int(np.ceil(480 * sample_rate / max(len(x), 1))))  # at least 480 px wide
    hop = max(1, sample_rate // px_per_s)
    win = 512
    n = max(1, (len(x) - win) // hop + 1)
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    frames = np.pad(x, (0, win))[idx] * np.hanning(win)
    mag = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-6)
    v = np.clip((mag - (mag.max() - 80)) / 80, 0, 1).T[::-1]
    img = (np.stack([v ** 0.6, v ** 1.5, v ** 4], -1) * 255).astype(np.uint8)
    pil = Image.fromarray(img).resize((n, height), Image.BILINEAR)
    draw = ImageDraw.Draw(pil)
    if mark_s is not None:
        x0 = mark_s * sample_rate / hop
        draw.line((x0, 0, x0, height), fill=(0, 255, 0))
    draw.text((4, 2), f"microphone, 0-{sample_rate // 2} Hz, {len(x) / sample_rate:.1f} s", fill=(255, 255, 255))
    return pil


def render_previews(drive: SyntheticDrive, frame_index: int, out_dir: str | os.PathLike, prefix: str = "") -> list[Path]:
    """Write the preview PNGs of frame ``frame_index`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    truth: dict = {}
    frame = drive.frame(int(frame_index), camera_truth=truth)
    paths = [_save(cameras_with_lidar(frame), out / f"{prefix}cameras_lidar.png"),
             _save(birds_eye(frame), out / f"{prefix}bev.png")]
    labels, depth = label_grid(truth)
    paths += [_save(labels, out / f"{prefix}labels.png"), _save(depth, out / f"{prefix}depth.png")]
    if drive.config.audio_rate > 0:
        track = drive.audio_track()
        mark = (frame.timestamp_us - track.timestamp_us) * 1e-6
        paths.append(_save(spectrogram(track.samples[0], track.sample_rate, mark), out / f"{prefix}audio.png"))
    return paths
