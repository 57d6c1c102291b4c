"""The pieces of the ROS nodes that need no running ROS graph: queue, wire layouts, voxel grouping, PCA colours,
parameter parsing, node selection and the ament package files."""
from __future__ import annotations

import ast
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from multimodal.ros_nodes.feature_colors import FixedPCA
from multimodal.ros_nodes.latest_queue import LatestQueue
from multimodal.ros_nodes.wire import (
    cloud_features,
    feature_cloud,
    float_image,
    image_features,
    pack_rgb,
    typestore,
    unpack_rgb,
)

ROS_DIR = Path(__file__).resolve().parents[1] / "ros_nodes"
AMENT_DIR = ROS_DIR / "ament" / "multimodal_ros"  # the colcon package: folder = ROS package = Python package


def test_latest_queue_keeps_the_newest_and_counts_drops():
    q: LatestQueue[int] = LatestQueue(3)
    dropped = [q.put(i) for i in range(10)]
    assert dropped == [False] * 3 + [True] * 7 and q.dropped == 7
    assert q.get_many(10, timeout=0) == [7, 8, 9]
    assert q.get_many(1, timeout=0.01) == []
    got = []
    t = threading.Thread(target=lambda: got.extend(q.get_many(1, timeout=5)))
    t.start()
    q.put(42)
    t.join(5)
    assert got == [42]
    with pytest.raises(ValueError, match="queue size"):
        LatestQueue(0)


def test_feature_cloud_roundtrip_through_cdr():
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(500, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (500, 3)).astype(np.uint8)
    feats = rng.normal(size=(500, 7)).astype(np.float32)
    ts = typestore()
    header = ts.types["std_msgs/msg/Header"](stamp=ts.types["builtin_interfaces/msg/Time"](sec=5, nanosec=7),
                                             frame_id="lidar")
    for kind in ("float32", "int8"):
        msg = feature_cloud(xyz, rgb, feats, header, kind)
        back = ts.deserialize_cdr(ts.serialize_cdr(msg, "sensor_msgs/msg/PointCloud2"), "sensor_msgs/msg/PointCloud2")
        x2, c2, f2 = cloud_features(back)
        assert back.header.frame_id == "lidar" and back.header.stamp.nanosec == 7
        np.testing.assert_array_equal(x2, xyz)
        np.testing.assert_array_equal(c2, rgb)
        if kind == "float32":
            np.testing.assert_array_equal(f2, feats)
        else:  # direction kept: cosine to the original > 0.999
            unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
            cos = (f2.astype(np.float64) / np.linalg.norm(f2, axis=1, keepdims=True) * unit).sum(1)
            assert cos.min() > 0.999
        names = [f.name for f in back.fields]
        assert names[:4] == ["x", "y", "z", "rgb"] and names[4:] == [f"f{k}" for k in range(7)]
    with pytest.raises(ValueError, match="feature_type"):
        feature_cloud(xyz, rgb, feats, header, "float16")
    np.testing.assert_array_equal(unpack_rgb(pack_rgb(rgb)), rgb)


def test_float_image_roundtrip():
    ts = typestore()
    fmap = np.random.default_rng(1).normal(size=(5, 6, 9)).astype(np.float32)
    header = ts.types["std_msgs/msg/Header"](stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2),
                                             frame_id="cam")
    msg = float_image(fmap, header)
    assert msg.encoding == "32FC9" and msg.step == 6 * 9 * 4
    back = ts.deserialize_cdr(ts.serialize_cdr(msg, "sensor_msgs/msg/Image"), "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(image_features(back), fmap)


def test_voxel_rows_groups_points_by_voxel():
    from multimodal.ros_nodes.lidar_node import voxel_rows

    rng = np.random.default_rng(2)
    xyz = rng.uniform(-3, 3, (2000, 3)).astype(np.float32)
    first, inverse, centroid = voxel_rows(xyz, 0.5)
    keys = np.floor(xyz / 0.5).astype(np.int64)
    assert len(first) == len(np.unique(keys, axis=0))
    np.testing.assert_array_equal(keys[first][inverse], keys)  # each point's voxel is the voxel of its row
    assert (np.diff(first) > 0).all()  # rows in order of first appearance
    for v in (0, len(first) // 2, len(first) - 1):
        np.testing.assert_allclose(centroid[v], xyz[inverse == v].mean(0), atol=1e-5)


def test_fixed_pca_colours_are_stable_across_messages():
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(3, 16))
    a = rng.normal(size=(4000, 3)) @ basis
    pca = FixedPCA().fit(a)
    colors_a = pca.colors(a)
    assert colors_a.dtype == np.uint8 and colors_a.shape == (4000, 3) and colors_a.std() > 20
    b = a[::-1].copy()  # the same points in another message: the same colours
    np.testing.assert_array_equal(pca.colors(b), colors_a[::-1])
    assert pca.project(a, 3).shape == (4000, 3)
    # The three axes span the data: projecting back reconstructs it.
    proj = pca.project(a, 3)
    np.testing.assert_allclose(proj @ pca.axes[:, :3].T + pca.mean, a, atol=1e-4)


def test_parameter_overrides_follow_ros_typing():
    from multimodal.ros_nodes.serve import parse_overrides

    assert parse_overrides(["threads:=1", "scale:=0.5", "input_topic:=/LIDAR_TOP", "x=true", "e:="]) == {
        "threads": 1, "scale": 0.5, "input_topic": "/LIDAR_TOP", "x": True, "e": ""}
    with pytest.raises(ValueError, match="name:=value"):
        parse_overrides(["novalue"])


def test_serve_picks_the_node_by_encoder_modality(tmp_path):
    import torch

    from multimodal.export import EncoderFormatError, export_encoder
    from multimodal.models.registry import build_encoder
    from multimodal.ros_nodes.serve import encoder_modality

    torch.manual_seed(0)
    export_encoder(build_encoder("point_mlp"), "point_mlp", {}, tmp_path / "lidar")
    export_encoder(build_encoder("camera_resnet", depth=18, out_channels=8), "camera_resnet",
                   {"depth": 18, "out_channels": 8}, tmp_path / "cam")
    assert encoder_modality(str(tmp_path / "lidar")) == "lidar"
    assert encoder_modality(str(tmp_path / "cam")) == "camera"
    with pytest.raises(EncoderFormatError, match="no exported encoder"):
        encoder_modality(str(tmp_path / "missing"))


def test_ament_package_files_agree():
    """Folder, package.xml, setup.py, the Python package, the resource marker, the launch file and the parameter
    YAML name the same things, as ament_python expects; every executable reaches a real main() of the library."""
    import importlib
    import xml.etree.ElementTree as ET

    pkg = ET.parse(AMENT_DIR / "package.xml").getroot()
    name = pkg.findtext("name")
    assert name == "multimodal_ros" == AMENT_DIR.name and pkg.find("export/build_type").text == "ament_python"
    assert (AMENT_DIR / "resource" / name).is_file() and (AMENT_DIR / name / "__init__.py").is_file()
    setup_src = (AMENT_DIR / "setup.py").read_text()
    assert f'PACKAGE = "{name}"' in setup_src
    assert f"install_scripts=$base/lib/{name}" in (AMENT_DIR / "setup.cfg").read_text()
    tree = ast.parse((AMENT_DIR / name / "__init__.py").read_text())
    table = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "EXECUTABLES")
    executables = ast.literal_eval(table)
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    declared = ast.literal_eval(setup_src.split("EXECUTABLES = ", 1)[1].split("\n", 1)[0])
    assert set(declared) == set(executables) <= funcs
    for exe, target in executables.items():  # every executable points at a real main() of the library
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), exe
    launch = (AMENT_DIR / "launch" / "features.launch.py").read_text()
    ast.parse(launch)
    for exe in ("lidar_features", "camera_features", "audio_features"):
        assert f'"{exe}"' in launch and exe in executables
    params = yaml.safe_load((AMENT_DIR / "config" / "features.yaml").read_text())
    assert set(params) == {"lidar_features", "camera_features", "audio_features"}


def test_parameter_yaml_lists_every_declared_parameter():
    """Every parameter a node declares is in config/features.yaml with a comment, and nothing else is."""
    import re

    params = yaml.safe_load((AMENT_DIR / "config" / "features.yaml").read_text())
    base = set(re.findall(r'self\._declare\("(\w+)"', (ROS_DIR / "feature_node.py").read_text()))
    for node, module in (("lidar_features", "lidar_node"), ("camera_features", "camera_node"),
                         ("audio_features", "audio_node")):
        own = set(re.findall(r'self\._declare\("(\w+)"', (ROS_DIR / f"{module}.py").read_text()))
        assert set(params[node]["ros__parameters"]) == base | own, node
    for line in (AMENT_DIR / "config" / "features.yaml").read_text().splitlines():
        if line.startswith("    ") and ":" in line:
            assert "#" in line, f"uncommented parameter: {line.strip()}"


def test_cli_finds_the_ros_commands_through_entry_points():
    """`multimodal serve` / `replay` come from ros_nodes via the `multimodal.commands` entry points."""
    import subprocess
    import sys

    from multimodal.commands import COMMANDS, command_modules

    mods = command_modules()
    assert mods["serve"] == "multimodal.ros_nodes.serve" and mods["replay"] == "multimodal.ros_nodes.replay"
    assert "serve" not in COMMANDS  # the multimodal package itself never names ros_nodes
    out = subprocess.run([sys.executable, "-m", "multimodal.cli", "serve", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "ENCODER_DIR" in out.stdout and "--params-file" in out.stdout
    out = subprocess.run([sys.executable, "-m", "multimodal.cli", "replay", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--rate" in out.stdout and "--restamp" in out.stdout


def test_replay_messages_stream_frames_and_loop_with_increasing_stamps(tmp_path):
    """Replay order: recorded stamps, one frame read at a time, later loops continue the clock."""
    from multimodal.demo_log import write_demo_log
    from multimodal.ros_nodes.replay import replay_messages

    root = write_demo_log(tmp_path / "world", n_frames=3, seed=0)
    lidar = list(replay_messages(str(root), loops=3, topics=["/LIDAR_TOP"]))
    assert [m.topic for m in lidar] == ["/LIDAR_TOP"] * 9
    stamps = [m.stamp_ns for m in lidar]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    step = stamps[1] - stamps[0]
    assert stamps[3] - stamps[2] == step  # the loop restarts one frame interval later
    for m in lidar:  # every message keeps its own header (loops must not restamp earlier ones)
        assert m.msg.header.stamp.sec * 10**9 + m.msg.header.stamp.nanosec == m.stamp_ns
    everything = list(replay_messages(str(root)))
    topics = {m.topic for m in everything}
    assert {"/LIDAR_TOP", "/tf", "/tf_static", "/CAM_FRONT/image_raw", "/CAM_FRONT/camera_info"} <= topics
    assert everything[0].topic == "/tf_static"
    frame_stamps = [m.stamp_ns for m in everything[1:]]
    assert frame_stamps == sorted(frame_stamps)
