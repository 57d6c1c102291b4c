"""Cost of self-supervision, and whether the data pipeline keeps up.

1. One SSL training step (PointContrast: PointInfoNCE on two views; image-to-LiDAR: superpixel contrast) against
   one supervised segmentation step (cross-entropy on per-point labels through a linear head) of the same
   backbone on the same point clouds, in the same run: time ratio and peak memory ratio. Each case runs in
   its own subprocess so its peak resident memory (ru_maxrss) is its own.
2. The data pipeline (dataloader with N workers computing correspondences) against the training step's
   consumption: samples/s of each and their ratio (goal: loader >= 3x what training needs).

    python benchmarks/bench_training.py [--steps 10] [--workers 2] [--points 8000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ENCODER = {"name": "minkunet14", "params": {"in_channels": 4, "out_channels": 32, "voxel_size": 0.1, "init_dim": 16,
                                            "planes": [16, 32, 64, 64, 64, 48, 32, 32]}}


def _world(frames: int) -> str:
    from multimodal.demo_log import write_demo_log

    root = Path(tempfile.gettempdir()) / f"multimodal_bench_world_{frames}"
    return str(write_demo_log(root, n_frames=frames, seed=0))


def _case(kind: str, steps: int, points: int, log: str) -> dict:
    """Time ``steps`` training steps of one kind in this process; report median ms and peak RSS."""
    import torch

    from models.registry import build_encoder
    from multimodal.data.log_source import LogSource
    from multimodal.data.point_pairs import PointPairDataset, collate_point_pairs
    from multimodal.objectives import build_objective

    torch.manual_seed(0)
    torch.set_num_threads(2)
    src = LogSource(log)
    ds = PointPairDataset(src, mode="two_sweeps", max_points=points, match_radius_m=0.15)
    batch = collate_point_pairs([ds[0], ds[1]])
    # Class ids per point: the supervised step's cost does not depend on which ids they are.
    labels = {side: torch.randint(1, 7, (len(batch[f"points_{side}"]),)) for side in ("a", "b")}
    enc = build_encoder(ENCODER["name"], **ENCODER["params"])
    head = torch.nn.Linear(enc.out_channels, 32 if kind == "ssl" else 8)
    opt = torch.optim.AdamW([*enc.parameters(), *head.parameters()], lr=1e-3)
    obj = build_objective("point_info_nce", temperature=0.07, num_pairs=1024)
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        opt.zero_grad()
        fa = head(enc(batch["points_a"], batch["batch_a"]))
        fb = head(enc(batch["points_b"], batch["batch_b"]))
        if kind == "ssl":
            owner = batch["batch_a"][batch["matches"][:, 0]]
            loss = torch.stack([obj(fa, fb, batch["matches"][owner == s])[0] for s in range(2)]).mean()
        else:
            loss = torch.nn.functional.cross_entropy(fa, labels["a"]) + torch.nn.functional.cross_entropy(fb, labels["b"])
        loss.backward()
        opt.step()
        if i >= 2:  # warm-up: first calls build kernel maps and allocate
            times.append(time.perf_counter() - t)
    return {"kind": kind, "ms": 1000 * statistics.median(times), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "points_per_view": points, "samples_per_s": 2 / statistics.median(times)}


def _loader(workers: int, points: int, log: str, batches: int) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from multimodal.data.log_source import LogSource
    from multimodal.data.point_pairs import PointPairDataset, collate_point_pairs
    from multimodal.training.step_data import StepBatches, StepSampler

    torch.set_num_threads(1)
    ds = PointPairDataset(LogSource(log), mode="two_sweeps", max_points=points, match_radius_m=0.15)
    stream = StepBatches(ds, StepSampler(len(ds), 2), collate_point_pairs, 0, batches + 2)
    dl = DataLoader(stream, batch_size=None, num_workers=workers)
    it = iter(dl)
    next(it), next(it)  # worker start-up is not throughput
    t = time.perf_counter()
    n = sum(1 for _ in it)
    return {"workers": workers, "samples_per_s": 2 * n / (time.perf_counter() - t)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10, help="timed steps per case")
    ap.add_argument("--points", type=int, default=8000, help="points per view")
    ap.add_argument("--workers", type=int, default=2, help="dataloader workers")
    ap.add_argument("--frames", type=int, default=40, help="frames of the synthetic world")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(_case(args.case, args.steps, args.points, args.log)))
        return
    log = _world(args.frames)
    res = {}
    for kind in ("supervised", "ssl", "supervised", "ssl"):  # interleaved twice; keep the better of each
        out = subprocess.run([sys.executable, __file__, "--case", kind, "--steps", str(args.steps), "--points",
                              str(args.points), "--log", log], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if kind not in res or r["ms"] < res[kind]["ms"]:
            res[kind] = r
    loader = _loader(args.workers, args.points, log, batches=20)
    sup, ssl = res["supervised"], res["ssl"]
    print(f"command: python benchmarks/bench_training.py --steps {args.steps} --points {args.points} "
          f"--workers {args.workers} --frames {args.frames}")
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, torch threads 2")
    print("encoder: MinkUNet-14 (planes 16-64, 0.1 m voxels), 2 samples x 2 views per step\n")
    print("| step | ms (median) | peak RSS MB | samples/s |")
    print("|---|---|---|---|")
    for k in ("supervised", "ssl"):
        print(f"| {k} | {res[k]['ms']:.0f} | {res[k]['peak_rss_mb']:.0f} | {res[k]['samples_per_s']:.2f} |")
    print(f"\nSSL / supervised: time {ssl['ms'] / sup['ms']:.2f}x, peak memory {ssl['peak_rss_mb'] / sup['peak_rss_mb']:.2f}x "
          f"(goal <= 1.2x each)")
    print(f"data pipeline, {args.workers} workers: {loader['samples_per_s']:.2f} samples/s; training consumes "
          f"{ssl['samples_per_s']:.2f} samples/s: loader / training = {loader['samples_per_s'] / ssl['samples_per_s']:.1f}x "
          f"(goal >= 3x)")


if __name__ == "__main__":
    main()
