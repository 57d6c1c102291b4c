"""k-nearest-neighbour classification of points on frozen features (cosine similarity, weighted vote).

The bank is the probe scenes' points (at most ``max_bank`` of them, drawn by seed); each test point takes
the class of its ``k`` most similar bank points, each voting ``exp(cos / temperature)`` (the weighted kNN of
Wu et al. 2018, as DINO evaluates). Batched torch matrix products; no training.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..classes import ClassList
from ..metrics import SegmentationMeter
from .common import FeatureFrames, cap_points, stack_frames

MAX_SIMILARITIES = 1 << 26
"""Entries of one batch's query-by-bank similarity matrix at most (float32: 256 MiB)."""


@torch.no_grad()
def knn_predict(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, num_classes: int, *,
                k: int = 20, temperature: float = 0.07, batch: int = 4096) -> torch.Tensor:
    """Class ids ``(Q,) long`` of ``queries (Q, C)`` by a weighted vote of their ``k`` cosine-nearest rows
    of ``bank (B, C)`` (labels ``bank_labels (B,) long`` in ``[0, num_classes)``); ``batch`` queries at a time,
    fewer when a batch's ``(batch, B)`` similarity matrix would pass ``MAX_SIMILARITIES`` entries."""
    bank = F.normalize(bank.float(), dim=1)
    k = min(k, len(bank))
    batch = max(1, min(batch, MAX_SIMILARITIES // max(1, len(bank))))
    out = []
    for i in range(0, len(queries), batch):
        q = F.normalize(queries[i:i + batch].float(), dim=1)
        sim, idx = (q @ bank.t()).topk(k, dim=1)
        votes = torch.zeros(len(q), num_classes, device=q.device)
        votes.scatter_add_(1, bank_labels[idx], (sim / temperature).exp())
        out.append(votes.argmax(1))
    return torch.cat(out).cpu() if out else torch.zeros(0, dtype=torch.long)


def evaluate(probe: FeatureFrames, test: FeatureFrames, classes: ClassList, *, seed: int = 0, k: int = 20,
             temperature: float = 0.07, max_bank: Optional[int] = 100_000, batch: int = 4096) -> dict:
    """kNN from the probe frames' points (the bank) to every test frame's point.

    Args:
        probe / test: per-frame ``(features (n, C), class ids (n,))`` of the probe and test scenes.
        classes: the fixed class list.
        k / temperature: neighbours per query and the vote's temperature (cosine similarity units).
        max_bank: at most this many bank points, drawn by ``seed`` (None: all).

    Returns:
        the keys of :func:`~multimodal.evaluation.metrics.scores_from_confusion` plus ``protocol``, ``k``,
        ``temperature``, ``bank_points``, ``test_points``, ``seed``.
    """
    x, y = stack_frames(probe, "kNN: probe frames")
    x, y = cap_points(x, y, max_bank, np.random.default_rng(seed))
    bank, bank_labels = torch.from_numpy(x), torch.from_numpy(y)
    meter = SegmentationMeter(classes)
    n_test = 0
    for f, lab in test:
        if len(lab):
            pred = knn_predict(bank, bank_labels, torch.from_numpy(np.asarray(f, np.float32)), classes.num_classes,
                               k=k, temperature=temperature, batch=batch)
            meter.update(pred, lab)
            n_test += len(lab)
    if not n_test:
        raise ValueError("kNN: test frames: no labelled points")
    return {"protocol": "knn", **meter.compute(), "k": k, "temperature": temperature,
            "bank_points": int(len(y)), "test_points": n_test, "seed": seed}
