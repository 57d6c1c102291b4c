"""Semantic segmentation scores over a FIXED class list (torchmetrics underneath).

The convention, the same for every protocol and dataset:

- Points whose target is the list's ignore class are dropped before anything is counted. A prediction of
  the ignore class for a scored point is kept: it is a miss for the point's true class.
- The confusion matrix is accumulated over the whole test split (every test frame's points), rows = target,
  columns = prediction, ``(K, K)`` over the full class list (``torchmetrics`` ``MulticlassConfusionMatrix``
  with ``ignore_index``).
- Per-class IoU = ``TP / (TP + FP + FN)``. A class absent from both target and prediction on the whole
  test split is *absent*: its IoU is NaN (``None`` in JSON) and it is excluded from the mean. A class that is
  predicted but absent from the target has IoU 0 and counts.
- mIoU = the mean of the per-class IoU over the fixed class list minus the ignore class and the absent
  classes. This equals ``torchmetrics``' ``MulticlassJaccardIndex(average="macro", ignore_index=...)``.
- Accuracy = correctly classified scored points / scored points.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from .classes import ClassList


class SegmentationMeter:
    """Accumulates a test split's confusion matrix frame by frame; :meth:`compute` gives the scores.

    Args:
        classes: the fixed class list (its ``num_classes`` K and ``ignore_index``).
    """

    def __init__(self, classes: ClassList):
        self.classes = classes
        self._cm = MulticlassConfusionMatrix(classes.num_classes, ignore_index=classes.ignore_index,
                                             validate_args=False)

    def update(self, pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> None:
        """Add one frame: ``pred (N,)`` and ``target (N,)`` integer class ids in ``[0, K)``."""
        p, t = torch.as_tensor(np.asarray(pred), dtype=torch.long), torch.as_tensor(np.asarray(target), dtype=torch.long)
        if p.shape != t.shape:
            raise ValueError(f"pred {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
        k = self.classes.num_classes
        for name, v in (("pred", p), ("target", t)):
            if v.numel() and (int(v.min()) < 0 or int(v.max()) >= k):
                raise ValueError(f"{name} holds class ids outside 0..{k - 1} of {self.classes.dataset}: "
                                 f"{int(v.min())}..{int(v.max())}")
        if t.numel():
            self._cm.update(p, t)

    def confusion(self) -> np.ndarray:
        """``(K, K) int64`` confusion matrix so far, rows = target, columns = prediction."""
        return self._cm.compute().numpy().astype(np.int64)

    def compute(self) -> dict:
        """The scores of everything added so far; see :func:`scores_from_confusion`."""
        return scores_from_confusion(self.confusion(), self.classes)


def per_class_iou(cm: np.ndarray, classes: ClassList) -> np.ndarray:
    """``(K,) float64`` IoU per class from a ``(K, K)`` confusion matrix; NaN for absent classes and for
    the ignore class."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
    iou[classes.ignore_index] = np.nan
    return iou


def _json_float(x: float) -> Optional[float]:
    return None if math.isnan(x) else float(x)


def scores_from_confusion(cm: np.ndarray, classes: ClassList) -> dict:
    """Scores of a ``(K, K)`` confusion matrix (rows = target, ignore row already empty).

    Returns a JSON-able dict:
        ``miou`` (float, NaN-free; None when no class is present), ``accuracy``, ``per_class_iou``
        ``{name: float or None (absent)}`` over the scored classes, ``absent`` (names), ``present``
        (names), ``points`` (scored points), ``confusion`` (``K x K`` list of ints), ``classes`` (all K
        names), ``ignore_index``, ``convention`` (one line).
    """
    cm = np.asarray(cm, dtype=np.int64)
    iou = per_class_iou(cm, classes)
    scored = classes.scored_ids
    vals = iou[scored]
    present = [classes.names[i] for i in scored if not np.isnan(iou[i])]
    total = int(cm.sum())
    return {
        "miou": _json_float(float(np.nanmean(vals))) if present else None,
        "accuracy": float(np.trace(cm) / total) if total else None,
        "per_class_iou": {classes.names[i]: _json_float(float(iou[i])) for i in scored},
        "present": present,
        "absent": [classes.names[i] for i in scored if np.isnan(iou[i])],
        "points": total,
        "confusion": cm.tolist(),
        "classes": list(classes.names),
        "ignore_index": classes.ignore_index,
        "convention": "mIoU over the fixed class list minus ignore; classes absent from target and prediction "
                      "on the whole test split excluded (None); predicted-but-absent count 0",
    }


def segmentation_scores(pred: np.ndarray, target: np.ndarray, classes: ClassList) -> dict:
    """Scores of one set of predictions ``pred (N,)`` against ``target (N,)`` (class ids); see
    :func:`scores_from_confusion` for the keys."""
    meter = SegmentationMeter(classes)
    meter.update(pred, target)
    return meter.compute()
