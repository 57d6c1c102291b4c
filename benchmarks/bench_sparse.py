#!/usr/bin/env python
"""Sparse convolution: every installed backend (native, minkowski, spconv) on the same inputs.

One run, one process, backends interleaved repeat by repeat (so machine load hits all alike):

- ``layer``: one layer, 16 -> 32 channels, on 20,000 random voxels of a 200 x 200 x 20 grid
  (seeded): submanifold k3, stride-2 k3, stride-2 k2 and transposed k2 (the U-Net's two), each as
  ``fwd+map`` (coordinates -> sparse tensor -> layer: the kernel map is built inside the time),
  ``fwd`` (map cached, as every later layer on the same coordinates sees it) and ``bwd``
  (backward of that layer alone, map cached; grads of input features and weight).
- ``net``: MinkUNet-14 and -34 (models/lidar/minkunet.py, 16 + 4 stages, same weights on every
  backend), forward + backward on the real nuScenes sweep (34,688 points) at 0.1 m and 0.05 m,
  voxelization and every kernel map included (a fresh sweep per step, as in training).
- ``scale``: the submanifold k3 layer at 10k, 30k, 100k and 300k voxels at the same density as the
  20k case (2.5 %: grid 200 x 200 x 20 scaled in x and y), ``fwd+map`` and ``bwd``.

Before timing, every backend's output is compared with native's (rows matched by coordinates);
the relative error is printed. Times are medians over ``--repeats`` after ``--warmup`` untimed
repeats, with the interquartile range. Peak memory is measured in a separate, untimed pass: the
process's resident set is sampled every 0.2 ms while the case runs once, after ``malloc_trim``,
and the peak above the level before it is reported (it includes the libraries' own C++
allocations, which torch's allocator statistics would miss).

Usage::

    .venv/bin/python benchmarks/bench_sparse.py                 # all cases, 10 repeats
    .venv/bin/python benchmarks/bench_sparse.py --only layer --repeats 20
    .venv/bin/python benchmarks/bench_sparse.py --json results.json
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _threads_from_argv(argv: list[str]) -> int | None:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return None


# Thread pools are sized when the libraries load: torch's OpenMP and MKL, and the OpenBLAS that
# MinkowskiEngine's CPU build calls. Set them all before any import, so both backends get the same.
_THREADS = _threads_from_argv(sys.argv)
if _THREADS is not None:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = str(_THREADS)
# On a machine shared with other busy processes, OpenMP's default spin-waiting at the end of every
# parallel region costs up to a scheduler time slice per region when a worker thread has been
# preempted (measured here: a 2 ms layer took 140 ms). --omp-passive makes idle threads sleep.
if "--omp-passive" in sys.argv:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as np  # noqa: E402
import torch  # noqa: E402

import multimodal.models.sparse as sp  # noqa: E402
from multimodal.models.lidar.minkunet import MinkUNet14, MinkUNet34  # noqa: E402

SWEEP = ("nuscenes_mmdet3d_demo", "samples", "LIDAR_TOP",
         "n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin")
GRID = (200, 200, 20)
DENSITY = 20_000 / (200 * 200 * 20)


def shared_data_dir() -> Path:
    env = os.environ.get("MULTIMODAL_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def random_coords(n: int, seed: int) -> torch.Tensor:
    """``n`` unique voxels ``(n, 4)`` int32, batch 0, at density ``DENSITY`` (grid scaled in x, y)."""
    scale = (n / 20_000) ** 0.5
    gx, gy, gz = round(GRID[0] * scale), round(GRID[1] * scale), GRID[2]
    gen = torch.Generator().manual_seed(seed)
    flat = torch.randperm(gx * gy * gz, generator=gen)[:n]
    x, y, z = flat // (gy * gz), (flat // gz) % gy, flat % gz
    return torch.stack([torch.zeros_like(x), x, y, z], 1).to(torch.int32)


def load_sweep() -> torch.Tensor:
    path = shared_data_dir().joinpath(*SWEEP)
    if not path.exists():
        raise SystemExit(f"real sweep not found: {path} (set MULTIMODAL_SHARED_DATA)")
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 5).copy())


# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One timed thing: ``run(backend) -> seconds`` (it may time only part of what it runs)."""

    group: str
    name: str
    run: Callable[[str], float]
    check: Callable[[str], float] | None = None  # backend -> relative error against native
    times: dict[str, list[float]] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    rel_err: dict[str, float] = field(default_factory=dict)


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _rows_by_coords(x: sp.SparseTensor) -> torch.Tensor:
    """Features in lexicographic coordinate order (backends may order rows differently)."""
    c = x.coords.to(torch.int64)
    key = ((c[:, 0] * 2**20 + c[:, 1] + 2**19) * 2**20 + c[:, 2] + 2**19) * 2**20 + c[:, 3] + 2**19
    return x.feats[torch.argsort(key)]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).norm() / b.detach().double().norm().clamp_min(1e-30))


def layer_cases(n: int, kinds: list[tuple[str, int, int, bool]], group: str, phases: tuple[str, ...]) -> list[Case]:
    coords = random_coords(n, seed=n)
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(n, 16, generator=gen)
    cases = []
    for label, k, stride, transposed in kinds:
        cls = sp.SparseConvTranspose3d if transposed else sp.SparseConv3d
        torch.manual_seed(2)
        layer = cls(16, 32, kernel_size=k, stride=stride)
        down = sp.SparseConv3d(16, 16, kernel_size=2, stride=2)
        cached: dict[str, sp.SparseTensor] = {}

        def make_input(backend: str, transposed=transposed, feats=feats, down=down) -> sp.SparseTensor:
            x = sp.sparse_tensor(coords, feats, backend=backend)
            if transposed:  # the input of a transposed conv lives at stride 2, made from x
                with torch.no_grad():
                    x = down(x)
            return x

        def fwd_map(backend: str, layer=layer, make_input=make_input) -> float:
            with torch.no_grad():
                return _timed(lambda: layer(make_input(backend)))

        def fwd(backend: str, layer=layer, make_input=make_input, cached=cached) -> float:
            if backend not in cached:
                cached[backend] = make_input(backend)
                with torch.no_grad():
                    layer(cached[backend])  # builds and caches the map
            x = cached[backend]
            with torch.no_grad():
                return _timed(lambda: layer(x))

        def bwd(backend: str, layer=layer, fwd=fwd, cached=cached) -> float:
            fwd(backend)
            x = cached[backend]
            xf = x.replace(x.feats.detach().clone().requires_grad_(True))
            y = layer(xf)
            grad = torch.ones_like(y.feats)
            layer.zero_grad(set_to_none=True)
            return _timed(lambda: y.feats.backward(grad))

        def check(backend: str, layer=layer, make_input=make_input) -> float:
            with torch.no_grad():
                ref = _rows_by_coords(layer(make_input("native")))
                out = _rows_by_coords(layer(make_input(backend)))
            return _rel(out, ref)

        runs = {"fwd+map": fwd_map, "fwd": fwd, "bwd": bwd}
        # A transposed conv always reuses the map of the strided conv that made its input.
        mine = [ph for ph in phases if not (transposed and ph == "fwd+map")]
        for phase in mine:
            cases.append(Case(group, f"{label}, {n // 1000}k voxels, {phase}", runs[phase], check if phase == mine[0] else None))
    return cases


def net_cases(points: torch.Tensor) -> list[Case]:
    cases = []
    for cls, label in ((MinkUNet14, "MinkUNet-14"), (MinkUNet34, "MinkUNet-34")):
        torch.manual_seed(3)
        base = cls(in_channels=4, out_channels=64)
        for voxel in (0.1, 0.05):
            net = cls(in_channels=4, out_channels=64, voxel_size=voxel)
            net.load_state_dict(base.state_dict())
            net.train()

            def step(backend: str, net=net) -> float:
                net.backend = backend
                net.zero_grad(set_to_none=True)

                def go() -> None:
                    net(points, None).square().mean().backward()

                return _timed(go)

            def check(backend: str, net=net) -> float:
                net.eval()  # running statistics: outputs independent of batch-norm batch statistics
                with torch.no_grad():
                    net.backend = "native"
                    ref = net(points, None)
                    net.backend = backend
                    out = net(points, None)
                net.train()
                return _rel(out, ref)

            n_vox = len(sp.voxelize(points, voxel, feats=points[:, :4])[0])
            cases.append(Case("net", f"{label}, sweep at {voxel} m ({n_vox} voxels), fwd+bwd", step, check))
    return cases


# --------------------------------------------------------------------------- memory
_libc = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def peak_rss_mb(fn: Callable[[], object]) -> float:
    """Peak resident memory above the level before ``fn`` (MB), sampled every 0.2 ms."""
    if _libc is None:
        return float("nan")
    _libc.malloc_trim(0)
    base = _rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.0002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    fn()
    done.set()
    t.join()
    peak[0] = max(peak[0], _rss_bytes())
    return (peak[0] - base) / 1e6


# --------------------------------------------------------------------------- main
def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    omp = os.environ.get("OMP_WAIT_POLICY", "default")
    return (f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads "
            f"(OMP_WAIT_POLICY {omp}), "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated groups: layer, net, scale")
    ap.add_argument("--backends", default="", help="comma-separated (default: every usable one)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    ap.add_argument("--json", type=Path, help="write raw per-repeat times here")
    ap.add_argument("--threads", type=int, help="threads for every backend (OpenMP, MKL, OpenBLAS); default: all cores")
    ap.add_argument("--omp-passive", action="store_true", help="OMP_WAIT_POLICY=PASSIVE (for machines shared with other load)")
    args = ap.parse_args(argv)

    usable = {name: reason for name, reason in sp.available_backends().items()}
    backends = [b for b in (args.backends.split(",") if args.backends else usable) if usable.get(b) is None]
    skipped = {b: r for b, r in usable.items() if r is not None}
    groups = set(args.only.split(",")) if args.only else {"layer", "net", "scale"}
    print(f"# {datetime.date.today()}  {shlex.join([sys.executable, *sys.argv])}")
    print(f"# machine: {machine()}")
    print(f"# backends: {', '.join(backends)}; not usable here: " + ("; ".join(f"{b}: {r}" for b, r in skipped.items()) or "none"))

    single = [("submanifold k3", 3, 1, False), ("stride-2 k3", 3, 2, False),
              ("stride-2 k2", 2, 2, False), ("transposed k2", 2, 2, True)]
    cases: list[Case] = []
    if "layer" in groups:
        cases += layer_cases(20_000, single, "layer", ("fwd+map", "fwd", "bwd"))
    if "net" in groups:
        cases += net_cases(load_sweep())
    if "scale" in groups:
        for n in (10_000, 30_000, 100_000, 300_000):
            cases += layer_cases(n, single[:1], "scale", ("fwd+map", "bwd"))

    for case in cases:
        if case.check is not None:
            for b in backends:
                if b != "native":
                    case.rel_err[b] = case.check(b)
        for r in range(args.warmup + args.repeats):
            for b in backends:
                dt = case.run(b)
                if r >= args.warmup:
                    case.times.setdefault(b, []).append(dt)
        if not args.no_memory:
            for b in backends:
                case.peak_mb[b] = peak_rss_mb(lambda b=b, case=case: case.run(b))
        line = "  ".join(f"{b} {statistics.median(case.times[b]) * 1e3:.2f} ms" for b in backends)
        errs = "  ".join(f"rel err {b}: {e:.1e}" for b, e in case.rel_err.items())
        print(f"[{case.group}] {case.name}: {line}  {errs}", flush=True)

    peers = [b for b in backends if b != "native"]
    print(f"# load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print()
    head = "| case | " + " | ".join(f"{b} ms median (q1-q3) [min]" for b in backends)
    head += "".join(f" | native/{p}" for p in peers) + " | peak MB (" + ", ".join(backends) + ") |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for case in cases:
        cells = []
        for b in backends:
            q0, q1, med, q3 = np.percentile(np.array(case.times[b]) * 1e3, [0, 25, 50, 75])
            cells.append(f"{med:.2f} ({q1:.2f}-{q3:.2f}) [{q0:.2f}]")
        ratios = [f"{statistics.median(case.times['native']) / statistics.median(case.times[p]):.2f}"
                  for p in peers if "native" in case.times]
        mem = ", ".join(f"{case.peak_mb.get(b, float('nan')):.0f}" for b in backends)
        print(f"| [{case.group}] {case.name} | " + " | ".join(cells) + "".join(f" | {r}" for r in ratios) + f" | {mem} |")
    if args.json:
        args.json.write_text(json.dumps({
            "command": shlex.join([sys.executable, *sys.argv]), "machine": machine(),
            "cases": [{"group": c.group, "name": c.name, "times_s": c.times, "peak_mb": c.peak_mb,
                       "rel_err_vs_native": c.rel_err} for c in cases]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
