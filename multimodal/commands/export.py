"""``multimodal export RUN_DIR --out ENCODER_DIR``: the run's LiDAR (and camera) encoder as safetensors + JSON."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "export a run's trained encoder (safetensors + JSON, no pickle)"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help=HELP, description=(
        "Write the encoder of a training run's last checkpoint as ENCODER_DIR/encoder.safetensors + encoder.json, "
        "loadable with multimodal.load_encoder(path) without the training code and without unpickling."))
    p.add_argument("run_dir", help="training run folder (holds checkpoints/last.ckpt)")
    p.add_argument("--out", required=True, help="encoder folder to write")
    p.add_argument("--which", choices=["lidar", "camera"], default="lidar", help="which encoder (default lidar)")
    return p


def export_run(run_dir: str | Path, out: str | Path, which: str = "lidar") -> Path:
    """Export encoder ``which`` from ``run_dir/checkpoints/last.ckpt``."""
    import torch

    from ..export import EncoderFormatError, export_encoder, load_state_checked
    from ..training.module import SSLModule

    ckpt = Path(run_dir) / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        raise EncoderFormatError(f"{ckpt}: no checkpoint (train first, or check the run folder)")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    config = state.get("hyper_parameters", {}).get("config")
    if config is None:
        raise EncoderFormatError(f"{ckpt}: no run config inside; not a multimodal training checkpoint")
    module = SSLModule(config)
    load_state_checked(module, state["state_dict"], str(ckpt))
    enc_cfg = module.cfg.model.lidar if which == "lidar" else module.cfg.model.camera
    encoder = module.lidar if which == "lidar" else module.camera
    if encoder is None or enc_cfg is None:
        raise EncoderFormatError(f"{ckpt}: this run has no {which} encoder")
    return export_encoder(encoder, enc_cfg.name, dict(enc_cfg.params), out,
                          meta={"run": str(run_dir), "steps": int(state.get("global_step", 0)),
                                "objective": module.cfg.objective.name})


def run(args: argparse.Namespace) -> int:
    from ..export import EncoderFormatError

    try:
        out = export_run(args.run_dir, args.out, args.which)
    except EncoderFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"exported {args.which} encoder: {out}")
    return 0
