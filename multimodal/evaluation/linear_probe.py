"""Linear probe and few-shot episodes for per-point semantic segmentation on frozen features.

A linear softmax classifier is trained on standardized features (full-batch L-BFGS, a convex problem:
no learning-rate tuning, deterministic) and scored by mean IoU over the classes present in the test set.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch


def mean_iou(pred: np.ndarray, target: np.ndarray, classes: Sequence[int]) -> tuple[float, dict[int, float]]:
    """Mean IoU over ``classes`` (those absent from both prediction and target are skipped)."""
    ious = {}
    for c in classes:
        inter = np.sum((pred == c) & (target == c))
        union = np.sum((pred == c) | (target == c))
        if union:
            ious[int(c)] = float(inter / union)
    return (float(np.mean(list(ious.values()))) if ious else 0.0), ious


def fit_linear(x: np.ndarray, y: np.ndarray, num_classes: int, weight_decay: float = 1e-4,
               iters: int = 100) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Softmax regression ``x (n, C) -> y (n,)``; returns ``(W, b, mean, std)`` of the standardization."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy((x - mu) / sd).double()
    yt = torch.from_numpy(y)
    W = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ W + b, yt) + weight_decay * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach(), mu, sd


def predict_linear(x: np.ndarray, model) -> np.ndarray:
    W, b, mu, sd = model
    return (torch.from_numpy((x - mu) / sd).double() @ W + b).argmax(1).numpy()


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
