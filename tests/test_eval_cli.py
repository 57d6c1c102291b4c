"""``multimodal eval`` end to end through the real CLI: a synthetic world (labelled, 3 scenes) and the real
nuScenes sample (no lidarseg: a clear error, exit code 2)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

EXE = str(Path(sys.executable).with_name("multimodal"))
SMALL = {"in_channels": 4, "out_channels": 8, "voxel_size": 0.2, "init_dim": 8, "planes": [8, 8, 16, 16, 16, 8, 8, 8]}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from multimodal.sensors.synthetic.export import WorldSpec, write_world

    out = tmp_path_factory.mktemp("evalworld") / "w"
    write_world(out, WorldSpec(scenes=3, sweeps_per_scene=2, seed=5, formats=("nuscenes",), image_wh=(160, 96),
                               keyframe_every=1), workers=1)
    return out


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    from multimodal.export import export_encoder
    from multimodal.models.registry import build_encoder

    torch.manual_seed(3)
    return export_encoder(build_encoder("minkunet14", **SMALL), "minkunet14", SMALL,
                          tmp_path_factory.mktemp("evalenc") / "lidar")


def _eval(*args, timeout=900):
    return subprocess.run([EXE, "eval", *map(str, args), "--no-progress"], capture_output=True, text=True,
                          timeout=timeout, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_eval_on_a_synthetic_world_end_to_end(world, encoder, tmp_path):
    out = tmp_path / "eval"
    r = _eval(encoder, "--data", world, "--protocol", "linear", "knn", "fewshot", "--episodes", "200",
              "--random-init", "--max-points", "3000", "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("eval on 1 held-out scene(s): pretrained: linear mIoU")
    s = json.loads((out / "summary.json").read_text())
    split = s["split"]
    assert split["test_names"] == ["scene-0003"] and set(split["probe_names"]) == {"scene-0001", "scene-0002"}
    assert s["classes"]["dataset"] == "synthetic" and s["options"]["random_init"] is True
    for enc in ("pretrained", "random_init"):
        lin = s["results"][enc]["linear"]
        assert 0.0 < lin["miou"] <= 1.0 and lin["test_points"] > 0
        assert set(lin["per_class_iou"]) == set(s["classes"]["names"][1:])  # the fixed list, not "what occurs"
        fs = s["results"][enc]["fewshot"]
        assert fs["episodes"] == 200 and 0 < fs["accuracy_ci95"] < 0.2
    report = (out / "report.md").read_text()
    assert "scene-0003" in report and "| linear mIoU |" in report
    for key in ("segmentation_pretrained", "segmentation_random_init", "confusion_pretrained"):
        assert Path(s["files"][key]).stat().st_size > 10_000
    # Same seed, same numbers.
    r2 = _eval(encoder, "--data", world, "--protocol", "linear", "--max-points", "3000", "--out", tmp_path / "again")
    assert r2.returncode == 0, r2.stderr[-3000:]
    s2 = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert s2["results"]["pretrained"]["linear"]["miou"] == s["results"]["pretrained"]["linear"]["miou"]


def test_eval_refuses_overlapping_scenes_and_unlabelled_data(world, encoder, nuscenes_sample_root, tmp_path):
    r = _eval(encoder, "--data", world, "--probe-scenes", "scene-0001", "scene-0003", "--test-scenes", "scene-0003",
              "--out", tmp_path / "x")
    assert r.returncode == 2 and "scene-0003" in r.stderr, r.stderr[-2000:]
    r = _eval(encoder, "--data", nuscenes_sample_root, "--out", tmp_path / "y")
    assert r.returncode == 2 and "no labels to probe" in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "y" / "summary.json").exists()
