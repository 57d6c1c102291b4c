"""``multimodal train CONFIG [key=value ...]``: self-supervised pretraining from a YAML config."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "pretrain encoders from a YAML config (resumable, multi-process)"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train", help=HELP,
        description="Pretrain per-sensor encoders without labels. One YAML config = one experiment (see configs/); "
                    "key=value arguments override config keys. Checkpoints go to RUN_DIR/checkpoints/last.ckpt "
                    "(atomic); --resume continues from it; every encoder of the run is exported to RUN_DIR/encoders/<modality>.",
        epilog="examples:\n"
               "  multimodal train configs/synthetic_pointcontrast.yaml trainer.max_steps=200\n"
               "  multimodal train configs/nuscenes_pointcontrast.yaml data.log=/data/nuscenes --resume\n"
               "  torchrun --nproc_per_node 2 -m multimodal.cli train CONFIG trainer.strategy=ddp trainer.devices=2",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="experiment YAML file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. optim.lr=0.01")
    p.add_argument("--run-dir", help="run folder (default runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/last.ckpt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    return p


def run(args: argparse.Namespace) -> int:
    from ..training.config import ExperimentConfig
    from ..training.run import train
    from ..typed_config import ConfigError, load_config

    _quiet_third_party()
    try:
        cfg = load_config(ExperimentConfig, args.config, args.overrides)
        run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / cfg.name
        out = train(cfg, run_dir, resume=args.resume, progress=not args.no_progress)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import os

    if os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0":
        print(f"run folder: {run_dir}")
        for modality, folder in out.items():
            print(f"exported {modality} encoder: {folder}")
    return 0


def _quiet_third_party() -> None:
    """Keep Lightning's start-up chatter and known-harmless warnings out of the console."""
    import logging
    import warnings

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # StepBatches shards by worker itself, so its __len__ is exact.
    warnings.filterwarnings("ignore", message=".*IterableDataset.*has `__len__` defined.*")
    warnings.filterwarnings("ignore", message=".*litlogger.*")
