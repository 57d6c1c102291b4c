"""``multimodal export RUN_DIR --out DIR``: every encoder of a run as safetensors + JSON, one folder each."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

HELP = "export a run's trained encoders (safetensors + JSON, no pickle)"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help=HELP, description=(
        "Write every encoder of a training run's last checkpoint (LiDAR, camera, audio, flow: whichever the run "
        "holds) as DIR/<modality>/encoder.safetensors + encoder.json, each loadable with "
        "multimodal.load_encoder(path) without the training code and without unpickling."),
        epilog="example:\n  multimodal export runs/synthetic_slidr --out encoders/   # encoders/lidar, encoders/camera",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="training run folder (holds checkpoints/last.ckpt)")
    p.add_argument("--out", required=True, help="folder to write; each encoder goes to OUT/<modality>/")
    p.add_argument("--modality", action="append", choices=["lidar", "camera", "audio", "flow"],
                   help="export only this encoder (repeatable; default: all of the run's encoders)")
    return p


def export_run(run_dir: str | Path, out: str | Path, modalities: Optional[list[str]] = None) -> dict[str, Path]:
    """Export the encoders of ``run_dir/checkpoints/last.ckpt`` into ``out/<modality>/``."""
    from ..training.artifacts import export_encoders, module_from_checkpoint

    ckpt = Path(run_dir) / "checkpoints" / "last.ckpt"
    module, state = module_from_checkpoint(ckpt)
    return export_encoders(module, out, meta={"run": str(run_dir), "steps": int(state.get("global_step", 0))},
                           modalities=modalities)


def run(args: argparse.Namespace) -> int:
    from ..export import EncoderFormatError

    try:
        written = export_run(args.run_dir, args.out, args.modality)
    except EncoderFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for modality, folder in written.items():
        print(f"exported {modality} encoder: {folder}")
    return 0
