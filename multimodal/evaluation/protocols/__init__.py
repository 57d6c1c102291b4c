"""Evaluation protocols, one file each, one registry line each.

Frozen-feature protocols (``needs == "features"``) are called as ``fn(probe, test, classes, **options)`` with
per-frame ``(features (n, C), class ids (n,))`` of the probe and test scenes
(:func:`~multimodal.evaluation.features.extract_point_features`); ``finetune`` (``needs == "points"``) as
``fn(encoder, probe, test, classes, **options)`` with per-frame ``(points (n, 4), class ids (n,))``
(:func:`~multimodal.evaluation.features.extract_point_frames`). Each returns a JSON-able dict.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import fewshot, finetune, knn, linear


class Protocol(NamedTuple):
    """A registered protocol: its function, what it is fed (``features`` or ``points``), one line about it."""

    fn: Callable[..., dict]
    needs: str
    summary: str


PROTOCOLS: dict[str, Protocol] = {
    "linear": Protocol(linear.evaluate, "features", "linear probe on frozen features: mIoU, per-class IoU"),
    "knn": Protocol(knn.evaluate, "features", "k-nearest-neighbour (cosine) on frozen features: mIoU"),
    "fewshot": Protocol(fewshot.evaluate, "features", "N-way K-shot episodes: mean accuracy, 95% interval"),
    "finetune": Protocol(finetune.evaluate, "points", "whole network fine-tuned on 1% / 10% of the probe frames"),
}

__all__ = ["PROTOCOLS", "Protocol"]
