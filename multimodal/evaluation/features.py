"""Per-point features of a frozen encoder over labelled frames of a log, and the labelled points themselves.

The LiDAR encoders of ``multimodal.models`` are called as ``encoder(points (N, 4) float32 [x, y, z,
intensity] in the sensor frame (metres), batch (N,) long) -> (N, C)``, one feature per input point.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from multimodal.sensors import LidarSweep, SensorLog

LabelMap = Callable[[np.ndarray], np.ndarray]
"""Raw per-point labels ``(N,)`` -> class ids ``(N,) int64`` (e.g. a
:class:`~multimodal.evaluation.classes.LabelMapping`)."""


def labelled_sweep(log: SensorLog, i: int) -> LidarSweep:
    """Frame ``i``'s (first) LiDAR sweep; raises ValueError naming the log and frame when it has no sweep or
    no per-point labels."""
    frame = log[i]
    if not frame.lidars:
        raise ValueError(f"{log.path}: frame {i} has no LiDAR sweep")
    sweep = next(iter(frame.lidars.values()))
    if sweep.labels is None:
        raise ValueError(f"{log.path}: frame {i} has no per-point labels (lidarseg) to probe with")
    return sweep


def extract_point_frames(log: SensorLog, frames: Sequence[int], *, label_map: Optional[LabelMap] = None,
                         max_points: Optional[int] = 20000, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(points (n, 4) float32, labels (n,) int64), ...]``, one entry per frame: scans for fine-tuning.

    Points are kept whatever their label (the network sees the scan as recorded); labels are mapped by
    ``label_map`` (raw labels kept when None), so ignored points carry the class list's ignore id. At most
    ``max_points`` random points (seeded) are kept per frame, in their original order.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in frames:
        sweep = labelled_sweep(log, i)
        labels = label_map(sweep.labels) if label_map is not None else sweep.labels.astype(np.int64)
        keep = np.arange(len(labels))
        if max_points is not None and keep.size > max_points:
            keep = np.sort(rng.choice(keep, max_points, replace=False))
        out.append((np.ascontiguousarray(sweep.points[keep, :4], np.float32), labels[keep].astype(np.int64)))
    return out


@torch.no_grad()
def extract_point_features(encoder: nn.Module, log: SensorLog, frames: Sequence[int], *,
                           max_points: Optional[int] = 20000, seed: int = 0,
                           ignore_label: int = 0,
                           label_map: Optional[LabelMap] = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(features (n, C) float32, labels (n,) int64), ...]``, one entry per frame; eval mode, one frame at a time.

    With ``label_map`` (raw labels -> class ids of a fixed class list, see
    :func:`~multimodal.evaluation.classes.class_list_for_log`): the encoder sees the same input as
    :func:`extract_point_frames` gives fine-tuning (at most ``max_points`` random points of the scan, seeded,
    whatever their label), and the features of the points whose class is not ``ignore_label`` are returned.

    Without it (the raw labels kept, the older behaviour): points labelled ``ignore_label`` are dropped first,
    then at most ``max_points`` random points are encoded.
    """
    encoder.eval()
    if label_map is not None:
        out = []
        for pts, labels in extract_point_frames(log, frames, label_map=label_map, max_points=max_points, seed=seed):
            keep = torch.from_numpy(np.nonzero(labels != ignore_label)[0])
            feats = encoder(torch.from_numpy(pts), torch.zeros(len(pts), dtype=torch.long))[keep]
            out.append((feats.float().numpy(), labels[keep.numpy()]))
        return out
    rng = np.random.default_rng(seed)
    out = []
    for i in frames:
        sweep = labelled_sweep(log, i)
        keep = np.nonzero(sweep.labels != ignore_label)[0]
        if max_points is not None and keep.size > max_points:
            keep = np.sort(rng.choice(keep, max_points, replace=False))
        pts = torch.from_numpy(np.ascontiguousarray(sweep.points[keep, :4], np.float32))
        feats = encoder(pts, torch.zeros(len(pts), dtype=torch.long))
        out.append((feats.float().numpy(), sweep.labels[keep].astype(np.int64)))
    return out
