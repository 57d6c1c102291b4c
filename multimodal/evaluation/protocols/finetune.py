"""Fine-tuning with few labels: the whole network (encoder + a linear head) trained on 1% / 10% of the
labelled probe frames, scored on the test scenes (SLidR's and PPKT's "1% of the labels" protocol, small).

The frames are chosen by seed from one permutation of the labelled probe frames, each fraction taking its
first ``max(1, round(fraction * n))``: the smaller set is inside the larger one, and both are returned.
Every fraction starts from a deep copy of the caller's encoder (never modified) and a fresh head; AdamW,
a fixed number of steps, seeded, on the CPU or whatever device the encoder is on.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..classes import ClassList
from ..metrics import SegmentationMeter

PointFrames = Sequence[tuple[np.ndarray, np.ndarray]]
"""Per-frame ``(points (n, 4) float32 [x, y, z, intensity], class ids (n,) int64)``, ignored points kept
(labelled ``ignore_index``), as :func:`~multimodal.evaluation.features.extract_point_frames` returns them."""


def choose_frames(labelled: Sequence[int], fractions: Sequence[float], seed: int) -> dict[float, list[int]]:
    """For each fraction, ``max(1, round(fraction * len(labelled)))`` of ``labelled`` (sorted), nested."""
    order = np.random.default_rng(seed).permutation(len(labelled))
    out = {}
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"fine-tune fraction {f} must be in (0, 1]")
        k = max(1, int(round(f * len(labelled))))
        out[f] = sorted(int(labelled[i]) for i in order[:k])
    return out


def _forward(encoder: nn.Module, frames: Sequence[tuple[np.ndarray, np.ndarray]], device: torch.device
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``(sum n, C)`` of several frames in one batch, and their labels ``(sum n,)``."""
    pts = torch.from_numpy(np.concatenate([p for p, _ in frames])).to(device)
    batch = torch.cat([torch.full((len(p),), b, dtype=torch.long) for b, (p, _) in enumerate(frames)]).to(device)
    labels = torch.from_numpy(np.concatenate([lab for _, lab in frames])).to(device)
    return encoder(pts, batch), labels


def _out_channels(encoder: nn.Module, frame: tuple[np.ndarray, np.ndarray], device: torch.device) -> int:
    c = getattr(encoder, "out_channels", None)
    if isinstance(c, int):
        return c
    with torch.no_grad():
        return int(_forward(encoder, [frame], device)[0].shape[1])


@torch.no_grad()
def score(encoder: nn.Module, head: nn.Module, test: PointFrames, classes: ClassList) -> dict:
    """Scores of ``head(encoder(points))`` on the test frames (eval mode, one frame at a time)."""
    encoder.eval()
    head.eval()
    device = next(head.parameters()).device
    meter = SegmentationMeter(classes)
    for frame in test:
        feats, labels = _forward(encoder, [frame], device)
        meter.update(head(feats).argmax(1).cpu(), labels.cpu())
    return meter.compute()


def finetune_once(encoder: nn.Module, train: PointFrames, test: PointFrames, classes: ClassList, *, steps: int,
                  lr: float, head_lr: Optional[float], weight_decay: float, frames_per_step: int, seed: int) -> dict:
    """Train a deep copy of ``encoder`` + a new linear head on ``train`` for ``steps`` steps; score on ``test``."""
    device = next(encoder.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = copy.deepcopy(encoder).to(device)
        head = nn.Linear(_out_channels(net, train[0], device), classes.num_classes).to(device)
        opt = torch.optim.AdamW([{"params": net.parameters(), "lr": lr},
                                 {"params": head.parameters(), "lr": head_lr if head_lr is not None else lr}],
                                weight_decay=weight_decay)
        rng = np.random.default_rng(seed)
        losses: list[float] = []
        order: list[int] = []
        for _ in range(steps):
            picks = []
            while len(picks) < min(frames_per_step, len(train)):
                if not order:
                    order = rng.permutation(len(train)).tolist()
                picks.append(order.pop())
            net.train()
            head.train()
            feats, labels = _forward(net, [train[i] for i in picks], device)
            loss = F.cross_entropy(head(feats), labels, ignore_index=classes.ignore_index)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        result = score(net, head, test, classes)
    n = min(10, len(losses))
    result["losses"] = losses
    result["loss_first"] = float(np.mean(losses[:n])) if losses else None
    result["loss_last"] = float(np.mean(losses[-n:])) if losses else None
    return result


def evaluate(encoder: nn.Module, probe: PointFrames, test: PointFrames, classes: ClassList, *,
             fractions: Sequence[float] = (0.01, 0.1), steps: int = 100, lr: float = 1e-3,
             head_lr: Optional[float] = None, weight_decay: float = 1e-2, frames_per_step: int = 1, seed: int = 0,
             frame_ids: Optional[Sequence[Any]] = None) -> dict:
    """Fine-tune on each fraction of the labelled probe frames; mIoU on the test frames.

    Args:
        encoder: a LiDAR encoder ``(points (N, 4) float32, batch (N,) long) -> (N, C)``; deep-copied per fraction.
        probe / test: per-frame points and class ids (see :data:`PointFrames`) of the probe and test scenes.
        classes: the fixed class list (head outputs ``classes.num_classes``; the loss ignores ``ignore_index``).
        fractions: shares of the labelled probe frames (a frame is labelled when a point is not ignored).
        steps / lr / head_lr / weight_decay / frames_per_step: AdamW, ``steps`` steps of ``frames_per_step``
            frames each (cycling through the chosen frames in a seeded order); ``head_lr`` defaults to ``lr``.
        seed: chooses the frames and seeds the head's initialization and the frame order.
        frame_ids: names of the probe frames (e.g. ``"scene-0001:12"``), echoed for the chosen ones.

    Returns:
        ``protocol``, ``labelled_frames``, ``steps``, ``lr``, ``head_lr``, ``weight_decay``,
        ``frames_per_step``, ``seed``, ``fractions``: ``{"0.01": {fraction, frames (indexes into probe),
        frame_ids, num_frames, loss_first, loss_last, losses, + the metrics keys (miou, per_class_iou,
        accuracy, confusion ...)}, ...}``.
    """
    ignore = classes.ignore_index
    labelled = [i for i, (_, lab) in enumerate(probe) if np.any(np.asarray(lab) != ignore)]
    if not labelled:
        raise ValueError("fine-tune: no probe frame has a labelled (non-ignored) point")
    if not any(np.any(np.asarray(lab) != ignore) for _, lab in test):
        raise ValueError("fine-tune: no test frame has a labelled (non-ignored) point")
    if frame_ids is not None and len(frame_ids) != len(probe):
        raise ValueError(f"fine-tune: {len(frame_ids)} frame_ids for {len(probe)} probe frames")
    chosen = choose_frames(labelled, fractions, seed)
    out: dict[str, Any] = {"protocol": "finetune", "labelled_frames": len(labelled), "steps": steps, "lr": lr,
                           "head_lr": head_lr, "weight_decay": weight_decay, "frames_per_step": frames_per_step,
                           "seed": seed, "fractions": {}}
    for f, idx in chosen.items():
        res = finetune_once(encoder, [probe[i] for i in idx], test, classes, steps=steps, lr=lr, head_lr=head_lr,
                            weight_decay=weight_decay, frames_per_step=frames_per_step, seed=seed)
        out["fractions"][f"{f:g}"] = {"fraction": f, "frames": idx, "num_frames": len(idx),
                                      "frame_ids": [frame_ids[i] for i in idx] if frame_ids is not None else None,
                                      **res}
    return out
