"""The probe itself: it finds linearly separable structure, reports chance on noise, and mIoU is right."""
from __future__ import annotations

import numpy as np
import pytest

from multimodal.evaluation.linear_probe import few_shot, linear_probe, mean_iou


def _frames(rng, informative: bool, n_frames=4, n=600, classes=4, dim=8):
    centers = rng.normal(size=(classes, dim)) * 3
    out = []
    for _ in range(n_frames):
        y = rng.integers(1, classes, n)
        x = rng.normal(size=(n, dim)) + (centers[y] if informative else 0)
        out.append((x.astype(np.float32), y.astype(np.int64)))
    return out


def test_mean_iou_hand_value():
    pred = np.array([1, 1, 2, 2])
    tgt = np.array([1, 2, 2, 2])
    miou, ious = mean_iou(pred, tgt, [1, 2])
    assert ious == {1: 0.5, 2: 2 / 3} and miou == pytest.approx((0.5 + 2 / 3) / 2)


def test_probe_separates_informative_features_and_not_noise():
    rng = np.random.default_rng(0)
    good_frames, noise_frames = _frames(rng, True), _frames(rng, False)
    good = linear_probe(good_frames[:3], good_frames[3:])
    noise = linear_probe(noise_frames[:3], noise_frames[3:])
    assert good["miou"] > 0.9
    assert noise["miou"] < 0.4  # 3 balanced classes: chance IoU is about 1/5


def test_few_shot_reports_an_interval():
    rng = np.random.default_rng(1)
    fr = _frames(rng, True)
    res = few_shot(fr[:3], fr[3:], shots_per_class=5, episodes=8)
    assert res["episodes"] == 8 and 0.5 < res["miou_mean"] <= 1.0 and res["miou_ci95"] >= 0
