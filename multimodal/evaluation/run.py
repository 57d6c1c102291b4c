"""``multimodal eval``: an exported LiDAR encoder scored on held-out scenes by every requested protocol.

Scenes, never frames, are split (:mod:`.scenes`); the class list is fixed per dataset (:mod:`.classes`); the
same protocols run on the encoder and, with ``random_init``, on the same architecture at random
initialization (seeded), so the two numbers always come from one command. Everything is written to ``out``:
``summary.json`` (results, split, seeds, encoder, data), ``report.md`` and PNGs.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from multimodal.sensors.atomic import atomic_write_json

from .classes import ClassList, LabelMapping, class_list_for_log
from .features import extract_point_features, extract_point_frames
from .protocols import PROTOCOLS
from .scenes import SceneRef, list_scenes, split_scenes


@dataclass
class EvalOptions:
    """What ``multimodal eval`` runs; every field is written into ``summary.json``."""

    protocols: Sequence[str] = ("linear", "knn", "fewshot", "finetune")  # names of PROTOCOLS
    probe_scenes: Optional[Sequence[str]] = None  # names or indexes; None: all but the test scenes
    test_scenes: Optional[Sequence[str]] = None   # names or indexes; None: the last third (at least one)
    random_init: bool = False                     # also score the same architecture at random init
    seed: int = 0                                 # point subsampling, protocols, random init
    max_points: int = 20000                       # random points kept per frame (seeded)
    frames_per_scene: Optional[int] = None        # evenly spaced labelled frames per scene (None: all)
    finetune_steps: int = 100                     # optimizer steps per labelled fraction
    fewshot_episodes: int = 1000                  # N-way K-shot episodes
    version: Optional[str] = None                 # nuScenes version folder (None: the reader's default)
    protocol_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra kwargs per protocol


def random_init_like(encoder_dir: str | os.PathLike, seed: int) -> nn.Module:
    """The architecture of an exported encoder at random initialization (seeded), in eval mode."""
    from multimodal.models.registry import encoder_class

    from ..export import encoder_params, read_encoder_config

    cfg = read_encoder_config(encoder_dir)
    cls = encoder_class(cfg["encoder"])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return cls(**encoder_params(cls, cfg.get("params", {}), str(encoder_dir))).eval()


def _frames(log, n: Optional[int]) -> list[int]:
    if n is None or n >= len(log):
        return list(range(len(log)))
    return sorted(set(np.linspace(0, len(log) - 1, n).round().astype(int).tolist()))


@dataclass
class _SceneFrames:
    ref: SceneRef
    log: Any
    frames: list[int]


def _open(refs: Sequence[SceneRef], opts: EvalOptions, opened: dict[str, _SceneFrames]) -> list[_SceneFrames]:
    """The scenes ``refs`` opened once each (``opened`` keeps them by name: a nuScenes log loads its tables)."""
    extra = {"version": opts.version} if opts.version and refs and refs[0].format == "nuscenes" else {}
    for ref in refs:
        if ref.name not in opened:
            log = ref.open(sensors=["lidar", "camera"], **extra)
            opened[ref.name] = _SceneFrames(ref, log, _frames(log, opts.frames_per_scene))
    return [opened[ref.name] for ref in refs]


def _features(encoder: nn.Module, scenes: Sequence[_SceneFrames], mapping: LabelMapping, classes: ClassList,
              opts: EvalOptions, salt: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for k, s in enumerate(scenes):
        out += extract_point_features(encoder, s.log, s.frames, max_points=opts.max_points,
                                      seed=opts.seed + 7919 * (salt + k), ignore_label=classes.ignore_index,
                                      label_map=mapping)
    return out


def _points(scenes: Sequence[_SceneFrames], mapping: LabelMapping, opts: EvalOptions, salt: int):
    out = []
    for k, s in enumerate(scenes):
        out += extract_point_frames(s.log, s.frames, label_map=mapping, max_points=opts.max_points,
                                    seed=opts.seed + 7919 * (salt + k))
    return out


def _protocol_kwargs(name: str, opts: EvalOptions) -> dict[str, Any]:
    kw: dict[str, Any] = {"seed": opts.seed}
    if name == "finetune":
        kw["steps"] = opts.finetune_steps
    if name == "fewshot":
        kw["episodes"] = opts.fewshot_episodes
    return {**kw, **opts.protocol_options.get(name, {})}


def evaluate(encoder_dir: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike,
             opts: Optional[EvalOptions] = None, progress: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Score ``encoder_dir`` (an exported LiDAR encoder) on the scenes of ``data``; returns the summary that is
    also written to ``out/summary.json`` (with ``report.md`` and the figures next to it)."""
    from ..export import load_encoder, read_encoder_config

    opts = opts if opts is not None else EvalOptions()
    say = progress or (lambda _msg: None)
    unknown = [p for p in opts.protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol(s) {unknown}; choose from {sorted(PROTOCOLS)} or 'all'")
    cfg = read_encoder_config(encoder_dir)
    encoder = load_encoder(encoder_dir).eval()
    modality = getattr(encoder, "modality", "lidar")
    if modality != "lidar":
        raise ValueError(f"{encoder_dir}: a {modality} encoder; `multimodal eval` scores LiDAR encoders "
                         f"(per-point segmentation) so far")
    scenes = list_scenes(data, version=opts.version)
    opened: dict[str, _SceneFrames] = {}
    if scenes:  # no labels is the first thing to say (before "one scene cannot be split")
        first = _open(scenes[:1], opts, opened)[0]
        classes, mapping = class_list_for_log(first.log, first.ref.path)
    split = split_scenes(scenes, probe=opts.probe_scenes, test=opts.test_scenes)
    say(f"scenes: probe {split.to_json()['probe_names']}, test {split.to_json()['test_names']}")
    probe_scenes, test_scenes = _open(split.probe, opts, opened), _open(split.test, opts, opened)

    encoders = {"pretrained": encoder}
    if opts.random_init:
        encoders["random_init"] = random_init_like(encoder_dir, opts.seed)
    results: dict[str, Any] = {}
    timing: dict[str, float] = {}
    feats_cache: dict[str, tuple] = {}
    points: Optional[tuple] = None  # the scans fine-tuning trains on, read once for every encoder
    for enc_name, enc in encoders.items():
        results[enc_name] = {}
        t0 = time.perf_counter()
        say(f"{enc_name}: features of {sum(len(s.frames) for s in probe_scenes)} probe and "
            f"{sum(len(s.frames) for s in test_scenes)} test frames")
        probe_f = _features(enc, probe_scenes, mapping, classes, opts, 0)
        test_f = _features(enc, test_scenes, mapping, classes, opts, 1000)
        feats_cache[enc_name] = (probe_f, test_f)
        for name in opts.protocols:
            proto = PROTOCOLS[name]
            say(f"{enc_name}: {name}")
            t = time.perf_counter()
            if proto.needs == "features":
                res = proto.fn(probe_f, test_f, classes, **_protocol_kwargs(name, opts))
            else:
                ids = [f"{s.ref.name}:{i}" for s in probe_scenes for i in s.frames]  # the chosen frames, by name
                if points is None:
                    points = (_points(probe_scenes, mapping, opts, 0), _points(test_scenes, mapping, opts, 1000))
                res = proto.fn(enc, *points, classes, frame_ids=ids, **_protocol_kwargs(name, opts))
            res["seconds"] = round(time.perf_counter() - t, 2)
            results[enc_name][name] = res
        timing[enc_name] = round(time.perf_counter() - t0, 2)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from .report import write_figures, write_report

    summary: dict[str, Any] = {
        "encoder": {"path": str(encoder_dir), "name": cfg.get("encoder"), "params": cfg.get("params", {})},
        "data": str(data), "split": split.to_json(), "classes": classes.to_json(),
        "label_mapping": {"source": mapping.source, "unmapped": list(mapping.unmapped)},
        "frames": {"probe": {s.ref.name: s.frames for s in probe_scenes},
                   "test": {s.ref.name: s.frames for s in test_scenes}},
        "options": asdict(opts), "results": results, "seconds": timing,
    }
    say("figures")
    summary["files"] = write_figures(out, summary, encoders, feats_cache, test_scenes, mapping, classes, opts)
    summary["files"]["summary"] = str(out / "summary.json")
    summary["files"]["report"] = str(write_report(out / "report.md", summary))
    atomic_write_json(out / "summary.json", summary, indent=1)
    return summary


def headline(summary: dict[str, Any]) -> str:
    """One line: each encoder's main number per protocol."""
    parts = []
    for enc, res in summary["results"].items():
        bits = []
        for name, r in res.items():
            if "miou" in r:
                bits.append(f"{name} mIoU {r['miou']:.3f}")
            elif "accuracy_mean" in r:
                bits.append(f"{name} acc {r['accuracy_mean']:.3f}+-{r['accuracy_ci95']:.3f}")
            elif "fractions" in r:
                bits += [f"finetune {k} mIoU {v['miou']:.3f}" for k, v in r["fractions"].items()]
        parts.append(f"{enc}: " + ", ".join(bits))
    n_test = len(summary["split"]["test_names"])
    return f"eval on {n_test} held-out scene(s): " + " | ".join(parts)
