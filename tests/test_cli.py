"""The ``multimodal`` command: help, inspect (text, JSON, picture, demo) and clear errors; README/CI agreement."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .conftest import REPO, require_data

EXE = str(Path(sys.executable).with_name("multimodal"))


def run(*args, cwd=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_help_explains_commands():
    r = run("--help")
    assert r.returncode == 0 and "inspect" in r.stdout
    r = run("inspect", "--help")
    assert r.returncode == 0 and "--render" in r.stdout and "examples:" in r.stdout


def test_inspect_bag_json_and_render(tmp_path):
    bag = require_data("nuscenes_demo_ros2_bag_derived", "n015_scene0061_sample0")
    png = tmp_path / "bag.png"
    r = run("inspect", bag, "--json", "--render", png, "--check")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["format"] == "rosbag" and s["frames"] == 1
    assert s["sensors"]["LIDAR_TOP"]["count"] == 1 and s["sensors"]["LIDAR_TOP"]["msgtype"].endswith("PointCloud2")
    assert s["sync"]["streams"]["CAM_FRONT_LEFT"]["max_gap_us"] == 43107
    assert s["issues"] == {} and s["check"]["frames_decoded"] == 1
    img = np.asarray(Image.open(png))
    assert img.shape[0] > 400 and img.shape[1] > 1500 and img.std() > 20  # a real picture, not a blank canvas


def test_inspect_text_for_a_robot_bag_without_camera_or_lidar():
    bag = require_data("robot_localization_bags", "ros2", "test2")
    r = run("inspect", bag)
    assert r.returncode == 0, r.stderr
    assert "/imu/data" in r.stdout and "3061" in r.stdout and "imu" in r.stdout
    assert "no LiDAR (PointCloud2), camera" in r.stdout
    r = run("inspect", bag, "--render", "x.png")
    assert r.returncode != 0 and "has no frames to draw" in r.stderr


def test_inspect_nuscenes_root_with_options(nuscenes_sample_root, tmp_path):
    r = run("inspect", nuscenes_sample_root, "-o", "version=v1.0-mini", "-o", "sweeps=true",
            "-o", "tolerance_us=20000", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["format"] == "nuscenes"
    missing = {k for k, v in s["sync"]["streams"].items() if v["missing"]}
    assert missing == {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK_RIGHT"}  # > 20 ms from lidar


def test_inspect_demo_writes_its_own_log_and_picture(tmp_path):
    r = run("inspect", "--demo", "--demo-dir", tmp_path / "demo", "--render", tmp_path / "demo.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "LIDAR_TOP" in r.stdout and "frames   8" in r.stdout
    assert (tmp_path / "demo" / "v1.0-demo" / "lidarseg.json").is_file()
    assert Image.open(tmp_path / "demo.png").size[0] > 1500


def test_errors_name_the_path_and_exit_nonzero(tmp_path):
    r = run("inspect", tmp_path / "missing.mcap")
    assert r.returncode == 2 and "missing.mcap" in r.stderr and "does not exist" in r.stderr
    odd = tmp_path / "log.xyz"
    odd.write_text("hi")
    r = run("inspect", odd)
    assert r.returncode == 2 and "log.xyz" in r.stderr and "unknown log format" in r.stderr


def test_readme_commands_match_ci():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    test_cmd = next(line for line in ci.splitlines() if "pytest" in line and not line.startswith("#"))
    assert test_cmd.strip() in readme
    head = readme.split("```")[1]  # the first code block holds the two fresh-machine commands
    assert ".venv/bin/multimodal demo" in head and test_cmd.strip() in head


def test_demo_writes_encoder_curves_probe_and_picture(tmp_path):
    """A short demo: every product of the run folder is there and loadable (learning itself is
    measured by the probe numbers in the README and the training tests)."""
    out = tmp_path / "demo"
    r = run("demo", "--out", out, "--steps", 4, "--frames", 14, "--workers", 0, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    for key in ("pretrained", "random_init"):
        assert 0.0 <= summary[key]["linear_probe"]["miou"] <= 1.0
    import multimodal

    enc = multimodal.load_encoder(summary["files"]["encoder"])
    assert enc.out_channels == 32
    for picture in ("loss_curves", "features"):
        assert Image.open(summary["files"][picture]).size[0] > 500
    assert "linear probe mIoU" in r.stdout and str(out / "features.png") in r.stdout
