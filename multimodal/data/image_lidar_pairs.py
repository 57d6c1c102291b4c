"""Image-to-LiDAR samples (PPKT / SLidR): a sweep, its camera images and the point-to-pixel pairs
through the calibrated projection, plus superpixels; computed in dataloader workers."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from multimodal.sensors.frame import CameraImage

from .correspondences import point_pixel_pairs
from .log_source import LogSource
from .superpixels import SuperpixelCache


def resize_camera(cam: CameraImage, width: int, height: int) -> CameraImage:
    """The image resized to ``width x height`` with its intrinsics scaled to match."""
    H, W = cam.image.shape[:2]
    sx, sy = width / W, height / H
    K = cam.K.copy()
    K[0] *= sx
    K[1] *= sy
    img = cv2.resize(cam.image, (width, height), interpolation=cv2.INTER_AREA)
    return CameraImage(image=img, K=K, T_ego_from_sensor=cam.T_ego_from_sensor, timestamp_us=cam.timestamp_us,
                       T_world_from_ego=cam.T_world_from_ego, frame_id=cam.frame_id)


class ImageLidarDataset(Dataset):
    """One sample per frame: points, camera images (resized to ``image_wh``, multiples of 32) and pairs.

    Args:
        cameras: camera names to use (default: all cameras of each frame, sorted).
        image_wh: network input size; the intrinsics are scaled with the image.
        stride: the camera encoder's output stride.
        superpixels: a :class:`SuperpixelCache`, or None to skip superpixels (PPKT only).
        max_points: random subsample of the sweep.

    Item: ``points (N, 4)`` float32 lidar frame, ``images (n_cam, H, W, 3)`` uint8, ``pairs (P, 4)`` int64
    (point, camera, row, col on the stride grid), and with superpixels ``pixel_segment (n_cam, H/s, W/s)``
    and ``point_segment (N,)`` int64 local superpixel ids (unique across this sample's cameras; -1: none).
    """

    def __init__(self, source: LogSource, *, cameras: Optional[Sequence[str]] = None, image_wh=(416, 224),
                 stride: int = 4, superpixels: Optional[SuperpixelCache] = None, max_points: Optional[int] = 20000,
                 seed: int = 0):
        W, H = image_wh
        if W % 32 or H % 32:
            raise ValueError(f"image_wh {image_wh} must be multiples of 32")
        self.source, self.cameras, self.image_wh, self.stride = source, cameras, (W, H), stride
        self.superpixels, self.max_points, self.seed = superpixels, max_points, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.source.log)

    def __getitem__(self, k: int) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed + int(k) + 1_000_003 * self.epoch)
        frame = self.source.log[k]
        if not frame.lidars:
            raise ValueError(f"{self.source.path}: frame {k} has no LiDAR sweep")
        sweep = next(iter(frame.lidars.values()))
        names = list(self.cameras) if self.cameras is not None else sorted(frame.cameras)
        missing = [n for n in names if n not in frame.cameras]
        if missing:
            raise ValueError(f"{self.source.path}: frame {k} lacks camera(s) {missing}")
        if self.max_points is not None and len(sweep) > self.max_points:
            keep = np.sort(rng.choice(len(sweep), self.max_points, replace=False))
            sweep = type(sweep)(points=sweep.points[keep], T_ego_from_sensor=sweep.T_ego_from_sensor,
                                timestamp_us=sweep.timestamp_us, T_world_from_ego=sweep.T_world_from_ego,
                                fields=sweep.fields, labels=None if sweep.labels is None else sweep.labels[keep])
        cams = [resize_camera(frame.cameras[n], *self.image_wh) for n in names]
        pairs = point_pixel_pairs(sweep, cams, self.stride)
        item: dict[str, Any] = {"points": np.ascontiguousarray(sweep.points[:, :4], np.float32),
                                "images": np.stack([c.image for c in cams]), "pairs": pairs, "frame": int(k)}
        if sweep.labels is not None:
            item["labels"] = sweep.labels.astype(np.int64)
        if self.superpixels is not None:
            s = self.stride
            segs, offset = [], 0
            for n, c in zip(names, cams):
                seg = self.superpixels.get(f"{self.source.path}|{k}|{n}", c.image)
                cell = seg[s // 2::s, s // 2::s] + offset  # label at each feature cell's centre
                segs.append(cell)
                offset = int(cell.max()) + 1
            pix = np.stack(segs).astype(np.int64)
            point_seg = np.full(len(sweep), -1, np.int64)
            # A point seen by two cameras keeps its first camera's superpixel.
            first = pairs[::-1]
            point_seg[first[:, 0]] = pix[first[:, 1], first[:, 2], first[:, 3]]
            item["pixel_segment"], item["point_segment"] = pix, point_seg
        return item


def collate_image_lidar(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Concatenate points (with ``batch``), stack images, offset pairs and superpixel ids across samples."""
    out: dict[str, Any] = {}
    pts = [torch.from_numpy(it["points"]) for it in items]
    out["points"] = torch.cat(pts)
    out["batch"] = torch.cat([torch.full((len(p),), i, dtype=torch.long) for i, p in enumerate(pts)])
    out["images"] = torch.cat([torch.from_numpy(it["images"]) for it in items])
    pairs, off_p, off_c, off_s = [], 0, 0, 0
    psegs, xsegs = [], []
    for it in items:
        p = torch.from_numpy(it["pairs"]).clone()
        p[:, 0] += off_p
        p[:, 1] += off_c
        pairs.append(p)
        if "pixel_segment" in it:
            xs = torch.from_numpy(it["pixel_segment"]) + off_s
            ps = torch.from_numpy(it["point_segment"]).clone()
            ps[ps >= 0] += off_s
            xsegs.append(xs)
            psegs.append(ps)
            off_s = int(xs.max()) + 1
        off_p += len(it["points"])
        off_c += len(it["images"])
    out["pairs"] = torch.cat(pairs)
    if xsegs:
        out["pixel_segment"], out["point_segment"] = torch.cat(xsegs), torch.cat(psegs)
    if all("labels" in it for it in items):
        out["labels"] = torch.cat([torch.from_numpy(it["labels"]) for it in items])
    out["frames"] = torch.tensor([it["frame"] for it in items])
    return out
