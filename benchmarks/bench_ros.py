"""End-to-end latency of the ROS 2 feature nodes, in separate processes on this machine.

The real nuScenes keyframe (LiDAR sweep of 34,688 points; CAM_FRONT 1600x900) is replayed with
``multimodal.ros_nodes.replay --restamp`` (header stamp = wall clock at sending) into ``multimodal serve`` and the features
are recorded by ``multimodal.ros_nodes.record`` (log time = wall clock at arrival); latency = arrival - stamp. All three
processes run in one private loopback-only network namespace (:class:`tests.support.local_network.LocalNetwork`,
test infrastructure).

Per scenario it prints p50/p99 latency, throughput (features/s against the input rate), the node's own time
split (decode / encode / publish, from its timing topic), the encoder alone on the same input in this process
(the peer: what the node adds is everything above it), and the transport overhead = (p50 latency - p50 encode
time) / p50 latency (goal <= 10 %). Goal: LiDAR p99 <= 100 ms at 10 Hz.

    python benchmarks/bench_ros.py [--seconds 20] [--scenarios lidar10,lidar20,lidar10_point,camera12]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("MULTIMODAL_SHARED_DATA", REPO.parent / "shared" / "data"))
INFO = "mmdet3d_info_n015-2018-07-24-11-22-45+0800.json"
MULTIMODAL = str(Path(sys.executable).parent / "multimodal")

# name -> (modality, input topic, replay rate (1 = 10 Hz: one keyframe looped every 100 ms), QoS of the input,
# node parameters). Reliable input by default: with Fast DDS over loopback UDP, best-effort messages of
# 0.7-4 MB lose fragments (measured: ~10 % of LiDAR sweeps, ~60 % of raw 1600x900 images), see docs/ros.md.
SCENARIOS = {
    "lidar4": ("lidar", "/LIDAR_TOP", 0.4, "reliable", {}),
    "lidar10": ("lidar", "/LIDAR_TOP", 1.0, "reliable", {}),
    "lidar20": ("lidar", "/LIDAR_TOP", 2.0, "reliable", {}),
    "lidar10_best_effort": ("lidar", "/LIDAR_TOP", 1.0, "best_effort", {}),
    "lidar10_point": ("lidar", "/LIDAR_TOP", 1.0, "reliable", {"output_mode": "point"}),
    "lidar10_point_int8": ("lidar", "/LIDAR_TOP", 1.0, "reliable", {"output_mode": "point", "feature_type": "int8"}),
    "camera12": ("camera", "/CAM_FRONT/image_raw", 1.2, "reliable", {}),
    "camera12_scale0.26": ("camera", "/CAM_FRONT/image_raw", 1.2, "reliable", {"scale": 0.26}),
}


def nuscenes_root(tmp: Path) -> Path:
    from multimodal.sensors.mmdet3d_info import write_nuscenes_tables_from_info

    src = SHARED / "nuscenes_mmdet3d_demo"
    if not src.exists():
        sys.exit(f"{src}: the nuScenes sample is missing (set MULTIMODAL_SHARED_DATA)")
    return write_nuscenes_tables_from_info(src / INFO, src, tmp / "nuscenes", version="v1.0-mini")


def export_defaults(tmp: Path) -> dict[str, Path]:
    """The demo's LiDAR encoder and the camera encoder with its constructor defaults (random weights: the
    latency does not depend on them)."""
    import torch

    from multimodal.demo import DEFAULT_ENCODER
    from multimodal.export import export_encoder
    from multimodal.models.registry import build_encoder

    torch.manual_seed(0)
    return {"lidar": export_encoder(build_encoder(DEFAULT_ENCODER.name, **DEFAULT_ENCODER.params),
                                    DEFAULT_ENCODER.name, DEFAULT_ENCODER.params, tmp / "lidar"),
            "camera": export_encoder(build_encoder("camera_resnet"), "camera_resnet", {}, tmp / "camera")}


def encoder_alone(encoders: dict[str, Path], root: Path, repeats: int = 10) -> dict[str, dict[str, float]]:
    """The peer: the exported encoders called directly on the same input (median ms), no ROS."""
    import torch

    from multimodal import load_encoder
    from multimodal.ros_nodes.camera_node import camera_feature_map
    from multimodal.sensors import open_log

    frame = open_log(root)[0]
    pts = torch.from_numpy(np.ascontiguousarray(frame.lidars["LIDAR_TOP"].points[:, :4], np.float32))
    img = frame.cameras["CAM_FRONT"].image
    out = {}
    lidar, camera = load_encoder(encoders["lidar"]), load_encoder(encoders["camera"])
    import cv2

    small = cv2.resize(img, (round(img.shape[1] * 0.26), round(img.shape[0] * 0.26)), interpolation=cv2.INTER_AREA)
    for name, fn in (("lidar", lambda: lidar(pts)), ("camera", lambda: camera_feature_map(camera, [img])),
                     ("camera_scale0.26", lambda: camera_feature_map(camera, [small]))):
        ts = []
        with torch.inference_mode():
            for _ in range(repeats + 2):
                t = time.perf_counter()
                fn()
                ts.append((time.perf_counter() - t) * 1e3)
        out[name] = {"median_ms": float(np.median(ts[2:])), "p99_ms": float(np.percentile(ts[2:], 99))}
    return out


def run_scenario(name: str, encoders: dict[str, Path], root: Path, seconds: float, tmp: Path) -> dict:
    from multimodal.ros_nodes.wire import decode
    from tests.support.local_network import LocalNetwork  # the repository root is on sys.path (above)

    modality, topic, rate, reliability, params = SCENARIOS[name]
    params = {**params, "input_reliability": reliability}
    out_topic = f"/{modality}/features"
    out_type = "sensor_msgs/msg/PointCloud2" if modality == "lidar" else "sensor_msgs/msg/Image"
    loops = int(seconds * 10 * rate)
    bag = tmp / f"rec_{name}"
    with LocalNetwork() as net:
        args = [MULTIMODAL, "serve", str(encoders[modality]), "-p", f"input_topic:={topic}"]
        for k, v in params.items():
            args += ["-p", f"{k}:={v}"]
        log = open(tmp / f"serve_{name}.log", "w")
        node = net.popen(args, stdout=log, stderr=subprocess.STDOUT)
        rec = net.python(["-m", "multimodal.ros_nodes.record", "--out", str(bag), "--duration", str(seconds + 40),
                          f"{out_topic}={out_type}", f"{out_topic}/timing=std_msgs/msg/Float64MultiArray",
                          "/diagnostics=diagnostic_msgs/msg/DiagnosticArray"],
                         stdout=subprocess.PIPE, text=True)
        rec.stdout.readline()
        replay = net.run([sys.executable, "-m", "multimodal.ros_nodes.replay", str(root), "--topic", topic, "--rate", str(rate),
                          "--loop", str(loops), "--restamp", "--reliability", reliability,
                          "--wait-for-subscribers", "60"], timeout=seconds + 300, capture_output=True, text=True)
        if replay.returncode != 0:
            raise RuntimeError(f"replay failed: {replay.stderr[-2000:]}")
        time.sleep(2.0)
        net.stop(rec)
        rec.communicate(timeout=120)
        alive = node.poll() is None
    from rosbags.rosbag2 import Reader

    lat, timing, diag = [], [], None
    with Reader(bag) as r:
        for c, t, raw in r.messages():
            m = decode(raw, c.msgtype)
            if c.topic == out_topic:
                lat.append((t - (m.header.stamp.sec * 10**9 + m.header.stamp.nanosec)) / 1e6)
            elif c.topic.endswith("/timing"):
                timing.append(np.asarray(m.data))
            elif m.status and m.status[0].name.startswith(f"{modality}_features"):
                diag = {kv.key: kv.value for kv in m.status[0].values}
    if not lat:
        raise RuntimeError(f"{name}: no features received; see {tmp / f'serve_{name}.log'}")
    lat = np.asarray(lat[2:] if len(lat) > 5 else lat)  # the first messages include warm-up (PCA fit, allocations)
    tm = np.asarray(timing[2:] if len(timing) > 5 else timing)
    p50 = float(np.percentile(lat, 50))
    enc = float(np.median(tm[:, 1]))
    return {"scenario": name, "input_hz": 10 * rate, "params": params, "sent": loops, "received_features": len(lat),
            "processed": int(diag["processed"]) if diag else None, "dropped": int(diag["dropped"]) if diag else None,
            "latency_p50_ms": p50, "latency_p99_ms": float(np.percentile(lat, 99)),
            "decode_ms": float(np.median(tm[:, 0])), "encode_ms": enc, "publish_ms": float(np.median(tm[:, 2])),
            "node_total_ms": float(np.median(tm[:, 3])), "queued_ms": float(np.median(tm[:, 4])),
            "transport_overhead": (p50 - enc) / p50, "node_overhead": (float(np.median(tm[:, 3])) - enc) / p50,
            "node_alive": alive}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="input duration per scenario")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_ros_"))
    root = nuscenes_root(tmp)
    encoders = export_defaults(tmp)
    import torch

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device cpu")
    alone = encoder_alone(encoders, root)
    print("encoder alone (peer, no ROS):", json.dumps(alone))
    rows = []
    for name in args.scenarios.split(","):
        try:
            row = run_scenario(name, encoders, root, args.seconds, tmp)
        except RuntimeError as e:  # one scenario failing must not lose the others' numbers
            print(f"{name}: FAILED: {e}", flush=True)
            continue
        row["throughput_per_s"] = row["processed"] / args.seconds if row["processed"] is not None else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| scenario | input Hz | p50 ms | p99 ms | processed/sent | dropped | decode / encode / publish ms (node) "
          "| encoder alone ms | transport overhead |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        peer = alone["lidar" if r["scenario"].startswith("lidar") else
                     ("camera_scale0.26" if "scale" in r["scenario"] else "camera")]["median_ms"]
        print(f"| {r['scenario']} | {r['input_hz']:.0f} | {r['latency_p50_ms']:.1f} | {r['latency_p99_ms']:.1f} | "
              f"{r['processed']}/{r['sent']} | {r['dropped']} | {r['decode_ms']:.1f} / {r['encode_ms']:.1f} / "
              f"{r['publish_ms']:.1f} | {peer:.1f} | {100 * r['transport_overhead']:.1f} % |")
    if args.json:
        Path(args.json).write_text(json.dumps({"encoder_alone": alone, "scenarios": rows}, indent=2))


if __name__ == "__main__":
    main()
