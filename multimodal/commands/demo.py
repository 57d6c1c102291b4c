"""``multimodal demo``: build a world, pretrain, export, probe, draw; print where everything is."""
from __future__ import annotations

import argparse
import sys

HELP = "the whole pipeline in a few minutes: world -> pretraining -> export -> probe -> pictures"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help=HELP, description=(
        "On a fresh machine with no data: write a small synthetic world, pretrain the LiDAR encoder with "
        "PointContrast for a few minutes on CPU, export it, compare a linear probe on its frozen features "
        "with a random-init encoder, and write a run folder with the encoder, loss curves, probe numbers and "
        "a picture of the learned features. With --data it does the same on your nuScenes root or bag "
        "(the probe needs per-point labels, e.g. nuScenes lidarseg)."))
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    p.add_argument("--data", help="your log instead of the synthetic world (nuScenes root, bag)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="reader option for --data, e.g. version=v1.0-mini")
    p.add_argument("--steps", type=int, default=300, help="pretraining steps (default 300: about 3 minutes on 2 cores)")
    p.add_argument("--frames", type=int, default=60, help="synthetic world: sweeps to generate (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="dataloader workers")
    return p


def run(args: argparse.Namespace) -> int:
    from multimodal.sensors import SensorLogError

    from ..demo import format_demo, run_demo
    from .inspect import parse_options
    from .train import _quiet_third_party

    _quiet_third_party()
    try:
        results = run_demo(args.out, data=args.data, steps=args.steps, frames=args.frames, seed=args.seed,
                           num_workers=args.workers, log_options=parse_options(args.option))
    except (SensorLogError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_demo(results))
    return 0
