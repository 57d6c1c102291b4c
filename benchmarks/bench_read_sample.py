#!/usr/bin/env python
"""Frames/s reading the real nuScenes keyframe: ``sensors`` against a plain devkit / rosbags loop.

One run measures, on the same data and in the same process, interleaved repeat by repeat:

- ``tables``: ``multimodal.sensors.open_log(root)`` opened once, then ``log[0]`` (LIDAR_TOP + 6 decoded
  cameras, calibration, ego poses, synchronization) -- against nuscenes-devkit + numpy:
  ``NuScenes(...)`` once, then per repeat ``LidarPointCloud.from_file`` for LIDAR_TOP, PIL-decoding
  the six JPEGs to numpy RGB and the 4x4 calibrated_sensor / ego_pose matrices (pyquaternion) of
  all seven sample_data records.
- ``tables, fresh open``: the same, but the log (ours) / ``NuScenes`` (peer) is opened again in every
  repeat and all its frames read, so the devkit table load counts.
- ``bag``: ``multimodal.sensors.open_log(bag)`` once, then ``log[0]`` -- against rosbags ``AnyReader`` + numpy:
  opened once, then per repeat every message read and deserialized, the PointCloud2 data viewed as
  ``(N, 5) float32`` with ``np.frombuffer``, the CompressedImages PIL-decoded to numpy RGB, the
  CameraInfo ``k`` read as a 3x3 matrix and the tf quaternions turned into 4x4 matrices.
- ``bag, fresh open``: the same with the bag opened again in every repeat (ours indexes it).

Times are ``time.perf_counter`` per repeat; the table gives the median per-frame time over the
repeats as frames/s. Before timing, both sides' outputs are compared (same points, same pixels,
same matrices), so the two loops are known to do the same work.

Data: ``$MULTIMODAL_SHARED_DATA`` (default ``<repo>/../shared/data``) with
``nuscenes_mmdet3d_demo/`` and ``nuscenes_demo_ros2_bag_derived/n015_scene0061_sample0``.
The nuScenes tables are written to a temporary folder by
``multimodal.sensors.mmdet3d_info.write_nuscenes_tables_from_info`` (sensor folder symlinked) and removed at exit.

Usage::

    .venv/bin/python benchmarks/bench_read_sample.py --repeats 20
    .venv/bin/python benchmarks/bench_read_sample.py --json results.json
    .venv/bin/python benchmarks/bench_read_sample.py --profile bag   # cProfile of one of our cases
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

NUSCENES_INFO = "mmdet3d_info_n015-2018-07-24-11-22-45+0800.json"
BAG = ("nuscenes_demo_ros2_bag_derived", "n015_scene0061_sample0")
VERSION = "v1.0-mini"
CASES = ("tables", "tables, fresh open", "bag", "bag, fresh open")


def shared_data_dir() -> Path:
    env = os.environ.get("MULTIMODAL_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# --------------------------------------------------------------------------- the peer: plain loops
def _matrix(q_wxyz, t) -> np.ndarray:
    from pyquaternion import Quaternion

    T = np.eye(4)
    T[:3, :3] = Quaternion(q_wxyz).rotation_matrix
    T[:3, 3] = t
    return T


def peer_tables_sample(nusc, sample_token: str) -> dict:
    """nuscenes-devkit + numpy: one sample's LIDAR_TOP points, six RGB images, K and 4x4 matrices."""
    from nuscenes.utils.data_classes import LidarPointCloud

    sample = nusc.get("sample", sample_token)
    out = {}
    for channel, sd_token in sample["data"].items():
        sd = nusc.get("sample_data", sd_token)
        cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
        ep = nusc.get("ego_pose", sd["ego_pose_token"])
        rec = {"T_ego_from_sensor": _matrix(cs["rotation"], cs["translation"]),
               "T_world_from_ego": _matrix(ep["rotation"], ep["translation"]), "timestamp_us": sd["timestamp"]}
        path = os.path.join(nusc.dataroot, sd["filename"])
        if sd["sensor_modality"] == "lidar":
            rec["points"] = LidarPointCloud.from_file(path).points  # (4, N) float32: x y z intensity
        else:
            with Image.open(path) as im:
                rec["image"] = np.asarray(im.convert("RGB"))
            rec["K"] = np.asarray(cs["camera_intrinsic"], dtype=np.float64)
        out[channel] = rec
    return out


def peer_bag_messages(reader) -> dict:
    """rosbags + numpy: every message of the bag deserialized and turned into arrays."""
    from pyquaternion import Quaternion

    out: dict = {"tf": {}, "K": {}}
    for conn, _t_ns, raw in reader.messages():
        msg = reader.deserialize(raw, conn.msgtype)
        mt = conn.msgtype
        if mt == "sensor_msgs/msg/PointCloud2":
            out[conn.topic] = np.frombuffer(msg.data, dtype=np.float32).reshape(-1, msg.point_step // 4)  # (N, 5)
        elif mt == "sensor_msgs/msg/CompressedImage":
            with Image.open(io.BytesIO(msg.data)) as im:
                out[conn.topic] = np.asarray(im.convert("RGB"))
        elif mt == "sensor_msgs/msg/CameraInfo":
            out["K"][conn.topic] = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
        elif mt == "tf2_msgs/msg/TFMessage":
            for tr in msg.transforms:
                q, t = tr.transform.rotation, tr.transform.translation
                T = np.eye(4)
                T[:3, :3] = Quaternion(q.w, q.x, q.y, q.z).rotation_matrix
                T[:3, 3] = (t.x, t.y, t.z)
                out["tf"][(tr.header.frame_id, tr.child_frame_id)] = T
    return out


def open_peer_bag(bag: Path):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    reader = AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
    reader.open()
    return reader


def open_peer_tables(root: Path):
    from nuscenes.nuscenes import NuScenes

    with contextlib.redirect_stdout(io.StringIO()):
        return NuScenes(version=VERSION, dataroot=str(root), verbose=False)


# --------------------------------------------------------------------------- checks
def check_same_work(frame_tables, frame_bag, peer_t: dict, peer_b: dict) -> list[str]:
    """Assert both sides return the same data; returns a few lines describing what was compared."""
    lid = frame_tables.lidars["LIDAR_TOP"]
    np.testing.assert_array_equal(lid.points[:, :4], peer_t["LIDAR_TOP"]["points"].T)
    np.testing.assert_allclose(lid.T_ego_from_sensor, peer_t["LIDAR_TOP"]["T_ego_from_sensor"], atol=1e-9)
    np.testing.assert_allclose(lid.T_world_from_ego, peer_t["LIDAR_TOP"]["T_world_from_ego"], atol=1e-6)
    assert set(frame_tables.cameras) == set(peer_t) - {"LIDAR_TOP"}, (sorted(frame_tables.cameras), sorted(peer_t))
    for name, cam in frame_tables.cameras.items():
        np.testing.assert_array_equal(cam.image, peer_t[name]["image"])
        np.testing.assert_array_equal(cam.K, peer_t[name]["K"])
        np.testing.assert_allclose(cam.T_ego_from_sensor, peer_t[name]["T_ego_from_sensor"], atol=1e-9)
        np.testing.assert_allclose(cam.T_world_from_ego, peer_t[name]["T_world_from_ego"], atol=1e-6)

    np.testing.assert_array_equal(frame_bag.lidars["LIDAR_TOP"].points, peer_b["/LIDAR_TOP"])
    np.testing.assert_allclose(frame_bag.lidars["LIDAR_TOP"].T_ego_from_sensor,
                               peer_b["tf"][("base_link", "LIDAR_TOP")], atol=1e-9)
    assert set(frame_bag.cameras) == {k.split("/")[1] for k in peer_b if k.endswith("image_rect_compressed")}
    for name, cam in frame_bag.cameras.items():
        np.testing.assert_array_equal(cam.image, peer_b[f"/{name}/image_rect_compressed"])
        np.testing.assert_array_equal(cam.K, peer_b["K"][f"/{name}/camera_info"])
        np.testing.assert_allclose(cam.T_ego_from_sensor, peer_b["tf"][("base_link", name)], atol=1e-9)
    n = len(lid)
    return [f"tables: {n} points x 5 (peer keeps 4 columns), 6 images "
            f"{frame_tables.cameras['CAM_FRONT'].image.shape}, K, 14 4x4 matrices: equal",
            f"bag: {len(frame_bag.lidars['LIDAR_TOP'])} points x 5, 6 images, K, tf matrices: equal"]


# --------------------------------------------------------------------------- timing
def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict:
    import PIL
    import PIL.features

    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": os.cpu_count(), "cpus_usable": affinity, "cpu_model": cpu_model,
        "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
        "pillow": PIL.__version__, "libjpeg_turbo": bool(PIL.features.check_feature("libjpeg_turbo")),
        "nuscenes_devkit": _version("nuscenes-devkit"), "rosbags": _version("rosbags"),
        "loadavg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def build_cases(root: Path, bag: Path) -> tuple[dict[str, tuple[Callable, Callable]], dict]:
    """case -> (ours, peer); each callable reads once and returns the number of frames it produced."""
    from multimodal import sensors
    log_t = sensors.open_log(root)
    log_b = sensors.open_log(bag)
    nusc = open_peer_tables(root)
    reader = open_peer_bag(bag)
    sample_token = nusc.sample[0]["token"]
    keep = {"log_t": log_t, "log_b": log_b, "nusc": nusc, "reader": reader}

    def ours_tables():
        log_t[0]
        return 1

    def peer_tables():
        peer_tables_sample(nusc, sample_token)
        return 1

    def ours_tables_fresh():
        log = sensors.open_log(root)
        n = 0
        for _ in log:
            n += 1
        return n

    def peer_tables_fresh():
        ns = open_peer_tables(root)
        for s in ns.sample:
            peer_tables_sample(ns, s["token"])
        return len(ns.sample)

    def ours_bag():
        log_b[0]
        return 1

    def peer_bag():
        peer_bag_messages(reader)
        return 1

    def ours_bag_fresh():
        with sensors.open_log(bag) as log:
            n = 0
            for _ in log:
                n += 1
        return n

    def peer_bag_fresh():
        r = open_peer_bag(bag)
        try:
            peer_bag_messages(r)
        finally:
            r.close()
        return 1

    keep["check"] = check_same_work(log_t[0], log_b[0], peer_tables_sample(nusc, sample_token),
                                    peer_bag_messages(reader))
    cases = {
        "tables": (ours_tables, peer_tables),
        "tables, fresh open": (ours_tables_fresh, peer_tables_fresh),
        "bag": (ours_bag, peer_bag),
        "bag, fresh open": (ours_bag_fresh, peer_bag_fresh),
    }
    return cases, keep


def run_timing(cases: dict, repeats: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    """Per-frame seconds of every (case, side), interleaved: each repeat runs every callable once,
    in an order rotated repeat by repeat, so drift (thermal, other load) hits all alike."""
    jobs = [(case, side, fn) for case, pair in cases.items() for side, fn in zip(("ours", "peer"), pair)]
    times: dict[str, dict[str, list[float]]] = {case: {"ours": [], "peer": []} for case in cases}
    for r in range(warmup + repeats):
        k = r % len(jobs)
        for case, side, fn in jobs[k:] + jobs[:k]:
            t0 = time.perf_counter()
            n = fn()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[case][side].append(dt / n)
    return times


def summarize(times: dict) -> list[dict]:
    rows = []
    for case, sides in times.items():
        row = {"case": case}
        for side, ts in sides.items():
            med = statistics.median(ts)
            q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [med, med, med]
            row[side] = {"median_ms": med * 1e3, "frames_per_s": 1.0 / med, "min_ms": min(ts) * 1e3,
                         "q1_ms": q[0] * 1e3, "q3_ms": q[2] * 1e3, "repeats": len(ts)}
        row["ratio_ours_over_peer"] = row["ours"]["frames_per_s"] / row["peer"]["frames_per_s"]
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    head = ("case", "ours frames/s", "peer frames/s", "ratio ours/peer", "ours ms/frame (q1-q3)",
            "peer ms/frame (q1-q3)")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        o, p = r["ours"], r["peer"]
        lines.append(f"| {r['case']} | {o['frames_per_s']:.2f} | {p['frames_per_s']:.2f} | "
                     f"{r['ratio_ours_over_peer']:.3f} | {o['median_ms']:.1f} ({o['q1_ms']:.1f}-{o['q3_ms']:.1f}) | "
                     f"{p['median_ms']:.1f} ({p['q1_ms']:.1f}-{p['q3_ms']:.1f}) |")
    return "\n".join(lines)


def profile_case(cases: dict, case: str, repeats: int, top: int) -> str:
    """cProfile of our side of one case over ``repeats`` calls; the ``top`` entries by cumulative time."""
    fn = cases[case][0]
    fn()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeats):
        fn()
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(top)
    buf.write("\n--- by own time ---\n")
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Frames/s reading the real nuScenes keyframe (tables and ROS 2 bag) with sensors.open_log "
                    "and with a plain nuscenes-devkit / rosbags + numpy loop, in one run; prints ours/peer ratios.")
    ap.add_argument("--repeats", type=int, default=20, help="timed repeats per case and side (default 20)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed repeats first (default 2)")
    ap.add_argument("--json", nargs="?", const="-", metavar="PATH",
                    help="also write the results as JSON to PATH (no PATH: print JSON instead of the table)")
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), metavar="CASE",
                    help=f"cases to run (default all): {', '.join(repr(c) for c in CASES)}")
    ap.add_argument("--profile", choices=CASES, metavar="CASE",
                    help="instead of timing, cProfile our side of CASE over --repeats calls and print the top entries")
    ap.add_argument("--top", type=int, default=25, help="entries printed by --profile (default 25)")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        ap.error("--repeats must be >= 1 and --warmup >= 0")

    data = shared_data_dir()
    src = data / "nuscenes_mmdet3d_demo"
    bag = data.joinpath(*BAG)
    for p in (src / NUSCENES_INFO, bag):
        if not p.exists():
            print(f"error: data not found: {p} (set MULTIMODAL_SHARED_DATA)", file=sys.stderr)
            return 2

    from multimodal.sensors.mmdet3d_info import write_nuscenes_tables_from_info

    command = "cd " + shlex.quote(str(REPO)) + " && " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO))
                                 else sys.executable, os.path.relpath(__file__, REPO), *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="bench_read_sample_") as tmp:
        root = write_nuscenes_tables_from_info(src / NUSCENES_INFO, src, Path(tmp) / "nuscenes", version=VERSION)
        all_cases, keep = build_cases(root, bag)
        if args.profile:
            print(profile_case(all_cases, args.profile, args.repeats, args.top))
            return 0
        load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        times = run_timing({c: all_cases[c] for c in args.cases}, args.repeats, args.warmup)
    rows = summarize(times)
    machine = machine_info()
    machine["loadavg_1min_before"] = load_before
    result = {
        "benchmark": "bench_read_sample", "date": datetime.date.today().isoformat(), "command": command,
        "repeats": args.repeats, "warmup": args.warmup, "machine": machine, "checks": keep["check"],
        "rows": rows, "raw_seconds_per_frame": times,
    }
    if args.json == "-":
        print(json.dumps(result, indent=2))
        return 0
    m = result["machine"]
    print(f"command: {command}")
    print(f"machine: {m['cpu_count']} CPUs ({m['cpus_usable']} usable) {m['cpu_model']}; {m['platform']}")
    print(f"python {m['python']}, numpy {m['numpy']}, pillow {m['pillow']} (libjpeg-turbo: {m['libjpeg_turbo']}), "
          f"nuscenes-devkit {m['nuscenes_devkit']}, rosbags {m['rosbags']}")
    print(f"repeats: {args.repeats} timed + {args.warmup} warmup, interleaved; median per-frame time; "
          f"1-min load average {m['loadavg_1min_before']} before, {m['loadavg_1min']} after")
    for line in keep["check"]:
        print(f"same output: {line}")
    print()
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
