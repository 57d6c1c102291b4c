"""What ``multimodal eval`` writes besides ``summary.json``: figures and a Markdown report."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from multimodal.sensors.atomic import atomic_write

from .classes import ClassList, LabelMapping
from .features import extract_point_frames
from .protocols.common import cap_points, stack_frames
from .protocols.linear import fit_linear, predict_linear


@torch.no_grad()
def write_figures(out: Path, summary: dict[str, Any], encoders: dict[str, nn.Module], feats: dict[str, tuple],
                  test_scenes: Sequence[Any], mapping: LabelMapping, classes: ClassList, opts: Any) -> dict[str, str]:
    """Per encoder: the linear probe's prediction on the first test frame next to the ground truth, an error
    map and PCA colours (bird's-eye view, and in a camera when the frame has one); the linear probe's
    confusion matrix; and, with fine-tuning, mIoU against the fraction of labelled frames."""
    from multimodal.sensors.geometry import transform_points

    from ..viz.eval_figures import (
        FixedPCA,
        confusion_figure,
        frame_camera_view,
        probe_curves_figure,
        segmentation_figure,
    )

    files: dict[str, str] = {}
    scene = test_scenes[0]
    i = scene.frames[0]
    pts, gt = extract_point_frames(scene.log, [i], label_map=mapping, max_points=opts.max_points,
                                   seed=opts.seed)[0]
    frame = scene.log[i]
    sweep = next(iter(frame.lidars.values()))
    # the kept points are a subsample of the sweep: find their rows to project them into a camera
    rows = _rows_of(sweep.points[:, :4].astype(np.float32), pts)
    xyz = transform_points(sweep.T_ego_from_sensor, pts[:, :3].astype(np.float64))
    try:
        camera = frame_camera_view(frame, point_index=rows)
    except ValueError:
        camera = None
    colors = np.asarray(classes.colors, np.uint8)
    for name, enc in encoders.items():
        f = enc(torch.from_numpy(pts), torch.zeros(len(pts), dtype=torch.long)).float().numpy()
        # the probe's own training points (the linear protocol's default cap and draw), so the picture shows
        # the classifier its numbers come from
        x, y = cap_points(*stack_frames(feats[name][0], "figures: probe frames"), 200_000,
                          np.random.default_rng(opts.seed))
        pred = predict_linear(f, fit_linear(x, y, classes.num_classes))
        own = FixedPCA.fit(f, seed=opts.seed)  # each encoder's own colouring: shared axes mean nothing across nets
        files[f"segmentation_{name}"] = str(segmentation_figure(
            out / f"segmentation_{name}.png", xyz, gt, pred, f, classes.names, colors,
            ignore_index=classes.ignore_index, camera=camera, pca=own,
            title=f"{name}: linear probe on scene {scene.ref.name}, frame {i} (held out)"))
        lin = summary["results"][name].get("linear")
        if lin is not None:
            files[f"confusion_{name}"] = str(confusion_figure(
                out / f"confusion_{name}.png", np.asarray(lin["confusion"]), classes.names,
                title=f"{name}: linear probe, test scenes (mIoU {lin['miou']:.3f})"))
    curves = {}
    for name, res in summary["results"].items():
        ft = res.get("finetune")
        if ft:
            curves[name] = [(v["fraction"], v["miou"]) for v in ft["fractions"].values()]
    if curves:
        files["finetune_curve"] = str(probe_curves_figure(
            out / "finetune_curve.png", curves, "fraction of labelled probe frames", "test mIoU",
            title="fine-tuning with few labels"))
    return files


def _rows_of(all_points: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Row in ``all_points (N, 4)`` of each row of ``kept (n, 4)`` (a subsample in original order)."""
    j = 0
    rows = np.empty(len(kept), np.int64)
    for k, p in enumerate(kept):
        while not np.array_equal(all_points[j], p):
            j += 1
        rows[k] = j
        j += 1
    return rows


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def write_report(path: Path, summary: dict[str, Any]) -> Path:
    """``report.md``: the split, one table per protocol with a column per encoder, and the figures."""
    res = summary["results"]
    encs = list(res)
    split = summary["split"]
    lines = [f"# Evaluation of `{summary['encoder']['path']}`", "",
             f"Data: `{summary['data']}`. Classes: {summary['classes']['dataset']} "
             f"({len(summary['classes']['names']) - 1} scored, ignore `{summary['classes']['names'][0]}`).",
             f"Probe scenes: {', '.join(split['probe_names'])}. Test scenes (held out): "
             f"{', '.join(split['test_names'])} ({split['rule']}).", "",
             "| protocol | " + " | ".join(encs) + " |", "|---|" + "---|" * len(encs)]
    protocols = [p for p in res[encs[0]]]
    for p in protocols:
        r0 = res[encs[0]][p]
        if "miou" in r0:
            lines.append(f"| {p} mIoU | " + " | ".join(_fmt(res[e][p]["miou"]) for e in encs) + " |")
        if "accuracy_mean" in r0:
            lines.append(f"| {p} accuracy ({r0['ways']}-way {r0['shots']}-shot, {r0['episodes']} episodes) | "
                         + " | ".join(f"{res[e][p]['accuracy_mean']:.3f} ± {res[e][p]['accuracy_ci95']:.3f}"
                                      for e in encs) + " |")
        if "fractions" in r0:
            for k in r0["fractions"]:
                lines.append(f"| finetune {float(k):.0%} of probe frames mIoU | "
                             + " | ".join(_fmt(res[e][p]["fractions"][k]["miou"]) for e in encs) + " |")
    lin = {e: res[e].get("linear") for e in encs}
    if all(lin.values()):
        lines += ["", "Per-class IoU, linear probe:", "", "| class | " + " | ".join(encs) + " |",
                  "|---|" + "---|" * len(encs)]
        for c in lin[encs[0]]["per_class_iou"]:
            lines.append(f"| {c} | " + " | ".join(_fmt(lin[e]["per_class_iou"][c]) for e in encs) + " |")
        lines += ["", f"mIoU convention: {lin[encs[0]].get('convention', '')}"]
    lines += [""] + [f"![{k}]({Path(v).name})" for k, v in summary["files"].items() if v.endswith(".png")]
    text = "\n".join(lines) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")
