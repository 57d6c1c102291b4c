"""``multimodal demo``: the whole product on one machine in a few minutes.

Builds a small synthetic world (or takes the user's log), pretrains the LiDAR encoder with PointContrast,
exports it, compares a linear probe on its frozen features against the same architecture at random
initialization, and writes a run folder with the encoder, loss curves, probe numbers and a picture of the
learned features.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from multimodal.sensors.atomic import atomic_write_json

from .training.config import (
    DataConfig,
    EncoderConfig,
    ExperimentConfig,
    MethodConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    TrainerConfig,
)

# A narrow MinkUNet-14 at 0.1 m voxels: a few minutes of CPU pretraining show a clear probe gain.
DEFAULT_ENCODER = EncoderConfig(name="minkunet14", params={
    "in_channels": 4, "out_channels": 32, "voxel_size": 0.1, "init_dim": 16,
    "planes": [16, 32, 64, 64, 64, 48, 32, 32]})


def demo_config(log: str, log_options: dict[str, Any], steps: int, seed: int, encoder: EncoderConfig,
                num_workers: int) -> ExperimentConfig:
    """The demo's experiment: PointContrast (PointInfoNCE) on two registered sweeps."""
    return ExperimentConfig(
        name="demo",
        data=DataConfig(log=log, log_options=log_options, batch_size=2, num_workers=num_workers),
        method=MethodConfig(name="point_contrast", params={"views": "two_sweeps", "max_points": 4000}),
        model=ModelConfig(lidar=encoder, head_dim=32),
        objective=ObjectiveConfig(name="point_info_nce", params={"temperature": 0.07, "num_pairs": 1024}),
        optim=OptimConfig(optimizer="adamw", lr=2e-3, schedule="cosine", warmup_steps=10),
        trainer=TrainerConfig(max_steps=steps, checkpoint_every_n_steps=max(10, steps // 5),
                              log_every_n_steps=max(1, min(5, steps // 4)),
                              seed=seed, deterministic=False),
    )


def run_demo(out_dir: str | os.PathLike = "runs/demo", data: Optional[str] = None, steps: int = 300,
             frames: int = 60, seed: int = 0, encoder: EncoderConfig = DEFAULT_ENCODER, num_workers: int = 2,
             probe_frames: int = 12, progress: bool = True, log_options: Optional[dict] = None) -> dict[str, Any]:
    """Run the demo into ``out_dir``; returns the summary that is also written to ``summary.json``."""
    import torch

    from multimodal.models.registry import build_encoder

    from .data.log_source import LogSource
    from .evaluation.features import extract_point_features
    from .evaluation.linear_probe import few_shot, linear_probe
    from .export import load_encoder
    from .training.run import train
    from .viz.features import pca_rgb, plot_training_curves, render_point_features

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if data is None:
        from .demo_log import write_demo_log

        log_path = str(write_demo_log(out / "data" / "world", n_frames=frames, seed=seed))
    else:
        log_path = data
    cfg = demo_config(log_path, dict(log_options or {}), steps, seed, encoder, num_workers)
    run_dir = out / "train"
    encoder_dir = train(cfg, run_dir, resume=(run_dir / "checkpoints" / "last.ckpt").is_file(),
                        progress=progress)["lidar"]

    # Linear probe: frozen features of the trained encoder vs the same architecture untrained.
    log = LogSource(log_path, **(log_options or {})).log
    n = len(log)
    idx = np.linspace(0, n - 1, min(probe_frames, n)).round().astype(int)
    split = max(1, int(len(idx) * 0.7))
    train_idx, test_idx = idx[:split], idx[split:] if len(idx) > split else idx[-1:]
    trained = load_encoder(encoder_dir)
    torch.manual_seed(seed + 1)
    random_init = build_encoder(encoder.name, **encoder.params).eval()
    results: dict[str, Any] = {"log": log_path, "steps": steps, "encoder": encoder.name,
                               "probe_frames": {"train": train_idx.tolist(), "test": test_idx.tolist()}}
    feats = {}
    for name, enc in (("pretrained", trained), ("random_init", random_init)):
        tr = extract_point_features(enc, log, train_idx, max_points=6000, seed=seed)
        te = extract_point_features(enc, log, test_idx, max_points=6000, seed=seed + 1)
        feats[name] = te
        results[name] = {"linear_probe": linear_probe(tr, te),
                         "few_shot_10": few_shot(tr, te, shots_per_class=10, episodes=10, seed=seed)}
    results["probe_gain_miou"] = results["pretrained"]["linear_probe"]["miou"] - \
        results["random_init"]["linear_probe"]["miou"]

    # Pictures: loss curves; one test frame's points coloured by PCA of each encoder's features.
    curves = plot_training_curves(run_dir / "logs" / "csv" / "metrics.csv", out / "loss_curves.png")
    frame = log[int(test_idx[0])]
    sweep = next(iter(frame.lidars.values()))
    pts = torch.from_numpy(np.ascontiguousarray(sweep.points[:, :4], np.float32))
    zeros = torch.zeros(len(pts), dtype=torch.long)
    with torch.no_grad():
        f_tr = trained(pts, zeros).numpy()
        f_rd = random_init(pts, zeros).numpy()
    panels = [("pretrained features (PCA)", sweep.xyz, pca_rgb(f_tr)[0]),
              ("random-init features (PCA)", sweep.xyz, pca_rgb(f_rd)[0])]
    if sweep.labels is not None:
        rng = np.random.default_rng(0)
        palette = rng.uniform(0.1, 0.95, (int(sweep.labels.max()) + 1, 3))
        panels.append(("ground-truth classes (not used in training)", sweep.xyz, palette[sweep.labels]))
    picture = render_point_features(panels, out / "features.png",
                                    title=f"frame {int(test_idx[0])} of {Path(log_path).name}")
    results["files"] = {"encoder": str(encoder_dir), "loss_curves": str(curves), "features": str(picture),
                        "run": str(run_dir), "summary": str(out / "summary.json")}
    atomic_write_json(out / "summary.json", results, indent=2)
    return results


def format_demo(results: dict[str, Any]) -> str:
    p, r = results["pretrained"], results["random_init"]
    lines = [
        f"log: {results['log']}",
        f"pretrained {results['encoder']} for {results['steps']} steps (PointContrast, PointInfoNCE)",
        "",
        f"{'LiDAR semantic segmentation, frozen features':<46} {'pretrained':>11} {'random init':>12}",
        f"{'linear probe mIoU':<46} {p['linear_probe']['miou']:>11.3f} {r['linear_probe']['miou']:>12.3f}",
        f"{'linear probe accuracy':<46} {p['linear_probe']['accuracy']:>11.3f} {r['linear_probe']['accuracy']:>12.3f}",
        f"{'10-shot mIoU (mean +- 95% CI)':<46} {p['few_shot_10']['miou_mean']:>6.3f}+-{p['few_shot_10']['miou_ci95']:.3f}"
        f" {r['few_shot_10']['miou_mean']:>6.3f}+-{r['few_shot_10']['miou_ci95']:.3f}",
        "",
    ]
    lines += [f"{k:<12} {v}" for k, v in results["files"].items()]
    return "\n".join(lines)
