"""Time the synthetic world's generation: per sweep, per stage (LiDAR, cameras, audio, each writer).

Runs ``multimodal.sensors.synthetic.export.write_world`` (what ``multimodal make-world`` runs) into a
temporary folder and prints a markdown table: wall-clock time of the whole run, and the seconds
each stage took summed over scenes (worker processes run scenes in parallel, so stage sums can
exceed the wall time), divided by the number of sweeps, and the CPU seconds of all processes
(less sensitive than wall time to other programs sharing the machine). Prints the machine, its
load and the command.

    .venv/bin/python benchmarks/bench_world.py --scenes 2 --sweeps 40 --repeats 3
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES = ("world", "lidar", "cameras", "audio", "write_nuscenes", "write_bag", "write_av")


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy as np
    import open3d

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, open3d {open3d.__version__}; "
            f"1-minute load average before the run {load:.2f}")


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_once(args: argparse.Namespace, workers: int | None) -> tuple[float, float, dict]:
    from multimodal.sensors.synthetic.export import WorldSpec, write_world

    spec = WorldSpec(scenes=args.scenes, sweeps_per_scene=args.sweeps, seed=args.seed,
                     formats=tuple(args.formats.split(",")), image_wh=(args.width, args.height))
    out = Path(tempfile.mkdtemp(prefix="bench_world_"))
    try:
        c0, t0 = _cpu_s(), time.perf_counter()
        manifest = write_world(out, spec, workers=workers)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    sums = {s: sum(t.get(s, 0.0) for t in manifest["timings_s"].values()) for s in STAGES}
    return wall, cpu, sums


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=int, default=2)
    p.add_argument("--sweeps", type=int, default=40, help="sweeps per scene")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--formats", default="nuscenes,bag,av")
    p.add_argument("--width", type=int, default=400)
    p.add_argument("--height", type=int, default=225)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", default="auto", help="'auto' (one per scene up to the cores), or a number; "
                   "comma-separated to compare several")
    args = p.parse_args()
    n = args.scenes * args.sweeps
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {machine()}")
    print(f"world: {args.scenes} scenes x {args.sweeps} sweeps, {args.width}x{args.height} cameras, "
          f"formats {args.formats}; median of {args.repeats} runs\n")
    rows = []
    for w in args.workers.split(","):
        workers = None if w == "auto" else int(w)
        runs = [run_once(args, workers) for _ in range(args.repeats)]
        walls = [r[0] for r in runs]
        k = sorted(range(len(walls)), key=walls.__getitem__)[(len(walls) - 1) // 2]  # the median run
        wall, cpu, sums = runs[k]
        rows.append((w, wall, min(walls), max(walls), cpu, sums))
    head = ("| workers | wall s (min-max) | wall ms/sweep | CPU s | " +
            " | ".join(f"{s} ms/sweep" for s in STAGES) + " |")
    print(head)
    print("|" + "---|" * (4 + len(STAGES)))
    for w, wall, lo, hi, cpu, sums in rows:
        cells = " | ".join(f"{1000 * sums[s] / n:.0f}" for s in STAGES)
        print(f"| {w} | {wall:.1f} ({lo:.1f}-{hi:.1f}) | {1000 * wall / n:.0f} | {cpu:.1f} | {cells} |")
    print(f"\n1-minute load average after the runs: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
