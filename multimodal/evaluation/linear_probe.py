"""The first linear probe and few-shot helpers (kept for callers of their API).

A linear softmax classifier (:func:`~multimodal.evaluation.protocols.linear.fit_linear`, full-batch L-BFGS)
scored by mean IoU over the classes present in the test set. The evaluation of issue 11 (a fixed class list,
held-out scenes) is :mod:`multimodal.evaluation.protocols`; prefer it.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .protocols.linear import fit_linear, predict_linear

__all__ = ["few_shot", "fit_linear", "linear_probe", "mean_iou", "predict_linear"]


def mean_iou(pred: np.ndarray, target: np.ndarray, classes: Sequence[int]) -> tuple[float, dict[int, float]]:
    """Mean IoU over ``classes`` (those absent from both prediction and target are skipped)."""
    ious = {}
    for c in classes:
        inter = np.sum((pred == c) & (target == c))
        union = np.sum((pred == c) | (target == c))
        if union:
            ious[int(c)] = float(inter / union)
    return (float(np.mean(list(ious.values()))) if ious else 0.0), ious


def linear_probe(train: Sequence[tuple[np.ndarray, np.ndarray]], test: Sequence[tuple[np.ndarray, np.ndarray]],
                 num_classes: Optional[int] = None) -> dict:
    """Train on the ``train`` frames' (features, labels), report mIoU / accuracy on ``test``."""
    xtr = np.concatenate([f for f, _ in train])
    ytr = np.concatenate([y for _, y in train])
    xte = np.concatenate([f for f, _ in test])
    yte = np.concatenate([y for _, y in test])
    k = num_classes or int(max(ytr.max(), yte.max()) + 1)
    pred = predict_linear(xte, fit_linear(xtr, ytr, k))
    miou, ious = mean_iou(pred, yte, np.unique(yte))
    return {"miou": miou, "accuracy": float((pred == yte).mean()), "per_class_iou": ious,
            "train_points": int(len(ytr)), "test_points": int(len(yte))}


def few_shot(frames: Sequence[tuple[np.ndarray, np.ndarray]], test: Sequence[tuple[np.ndarray, np.ndarray]],
             shots_per_class: int = 10, episodes: int = 20, seed: int = 0) -> dict:
    """Many small training sets (``shots_per_class`` labelled points per class drawn from ``frames``),
    each scored on ``test``; the mean mIoU with a 95 % confidence interval (normal approximation)."""
    x = np.concatenate([f for f, _ in frames])
    y = np.concatenate([lab for _, lab in frames])
    xte = np.concatenate([f for f, _ in test])
    yte = np.concatenate([lab for _, lab in test])
    k = int(max(y.max(), yte.max()) + 1)
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(episodes):
        idx = np.concatenate([rng.choice(np.nonzero(y == c)[0], min(shots_per_class, int(np.sum(y == c))),
                                         replace=False) for c in np.unique(y)])
        pred = predict_linear(xte, fit_linear(x[idx], y[idx], k))
        scores.append(mean_iou(pred, yte, np.unique(yte))[0])
    s = np.asarray(scores)
    half = 1.96 * s.std(ddof=1) / np.sqrt(len(s)) if len(s) > 1 else 0.0
    return {"miou_mean": float(s.mean()), "miou_ci95": float(half), "episodes": len(s),
            "shots_per_class": shots_per_class}
