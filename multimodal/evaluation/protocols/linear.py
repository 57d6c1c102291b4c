"""Linear probe: frozen per-point features -> a linear softmax classifier, scored on the test scenes.

The classifier is trained on standardized features by full-batch L-BFGS (a convex problem: deterministic,
no learning rate to tune) and scored by :mod:`multimodal.evaluation.metrics` over the fixed class list.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch

from ..classes import ClassList
from ..metrics import SegmentationMeter
from .common import FeatureFrames, cap_points, stack_frames


class LinearModel(NamedTuple):
    """``logits = ((x - mean) / std) @ W + b``: ``W (C, K)``, ``b (K,)`` float64 tensors, ``mean``/``std`` ``(C,)``."""

    W: torch.Tensor
    b: torch.Tensor
    mean: np.ndarray
    std: np.ndarray


def fit_linear(x: np.ndarray, y: np.ndarray, num_classes: int, weight_decay: float = 1e-4,
               iters: int = 100) -> LinearModel:
    """Softmax regression ``x (n, C) -> y (n,)`` in ``[0, num_classes)``, L2 ``weight_decay`` on ``W``;
    L-BFGS with strong-Wolfe line search, at most ``iters`` iterations."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy((x - mu) / sd).double()
    yt = torch.from_numpy(np.asarray(y, np.int64))
    W = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ W + b, yt) + weight_decay * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LinearModel(W.detach(), b.detach(), mu, sd)


@torch.no_grad()
def predict_linear(x: np.ndarray, model: LinearModel, batch: int = 262144) -> np.ndarray:
    """Class ids ``(n,) int64`` of features ``x (n, C)`` under ``model`` (in batches of ``batch`` rows)."""
    W, b, mu, sd = model
    out = [(torch.from_numpy((x[i:i + batch] - mu) / sd).double() @ W + b).argmax(1).numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def evaluate(probe: FeatureFrames, test: FeatureFrames, classes: ClassList, *, seed: int = 0,
             weight_decay: float = 1e-4, iters: int = 100, max_train_points: Optional[int] = 200_000) -> dict:
    """Train on the probe frames' points, score on every test frame's point.

    Args:
        probe / test: per-frame ``(features (n, C), class ids (n,))`` of the probe and test scenes.
        classes: the fixed class list (the classifier has ``classes.num_classes`` outputs).
        seed: draws the ``max_train_points`` training points when there are more (None: all).

    Returns:
        the keys of :func:`~multimodal.evaluation.metrics.scores_from_confusion` (``miou``, ``accuracy``,
        ``per_class_iou``, ``confusion`` ...) plus ``protocol``, ``train_points``, ``test_points``,
        ``train_classes`` (names seen in training), ``weight_decay``, ``iters``, ``seed``.
    """
    x, y = stack_frames(probe, "linear probe: probe frames")
    x, y = cap_points(x, y, max_train_points, np.random.default_rng(seed))
    model = fit_linear(x, y, classes.num_classes, weight_decay=weight_decay, iters=iters)
    meter = SegmentationMeter(classes)
    n_test = 0
    for f, lab in test:
        if len(lab):
            meter.update(predict_linear(np.asarray(f, np.float32), model), lab)
            n_test += len(lab)
    if not n_test:
        raise ValueError("linear probe: test frames: no labelled points")
    return {"protocol": "linear", **meter.compute(), "train_points": int(len(y)), "test_points": n_test,
            "train_classes": [classes.names[c] for c in np.unique(y)], "weight_decay": weight_decay,
            "iters": iters, "seed": seed}
