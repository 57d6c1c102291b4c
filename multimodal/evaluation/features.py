"""Per-point features of a frozen encoder over labelled frames of a log."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from multimodal.sensors import SensorLog


@torch.no_grad()
def extract_point_features(encoder: nn.Module, log: SensorLog, frames: Sequence[int], *,
                           max_points: Optional[int] = 20000, seed: int = 0,
                           ignore_label: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(features (n, C) float32, labels (n,) int64), ...]``, one entry per frame.

    Points without a label, or labelled ``ignore_label``, are dropped; at most ``max_points`` random points
    are kept per frame. The encoder runs in eval mode, one frame at a time.
    """
    encoder.eval()
    rng = np.random.default_rng(seed)
    out = []
    for i in frames:
        frame = log[i]
        if not frame.lidars:
            raise ValueError(f"{log.path}: frame {i} has no LiDAR sweep")
        sweep = next(iter(frame.lidars.values()))
        if sweep.labels is None:
            raise ValueError(f"{log.path}: frame {i} has no per-point labels (lidarseg) to probe with")
        keep = np.nonzero(sweep.labels != ignore_label)[0]
        if max_points is not None and keep.size > max_points:
            keep = np.sort(rng.choice(keep, max_points, replace=False))
        pts = torch.from_numpy(np.ascontiguousarray(sweep.points[keep, :4], np.float32))
        feats = encoder(pts, torch.zeros(len(pts), dtype=torch.long))
        out.append((feats.float().numpy(), sweep.labels[keep].astype(np.int64)))
    return out
