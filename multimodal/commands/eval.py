"""``multimodal eval ENCODER_DIR --data PATH --protocol ... --out DIR``: score an encoder on held-out scenes."""
from __future__ import annotations

import argparse
import sys

HELP = "score an exported encoder on held-out scenes (linear probe, kNN, few-shot, fine-tuning)"

EPILOG = """\
Splits are by scene, never by frame: --probe-scenes / --test-scenes take scene names or indexes; by default
the last third of the scenes (at least one) are the test scenes and the rest train the probes. The class list
is fixed per dataset (nuScenes lidarseg: the 16 benchmark classes, ignore 0; the synthetic world: its own).

examples:
  multimodal make-world --out worlds/w --scenes 3 --formats nuscenes --keyframe-every 1
  multimodal eval runs/demo/train/encoders/lidar --data worlds/w --protocol all --random-init --out eval/demo
  multimodal eval ENC --data /data/nuscenes --version v1.0-trainval --test-scenes scene-0103 scene-0916 \\
      --protocol linear --frames-per-scene 8 --out eval/nusc

Writes DIR/summary.json (results, split, seeds, encoder, data), DIR/report.md and PNGs (predicted classes
next to the ground truth with an error map and PCA colours, bird's-eye view and camera; confusion matrices;
fine-tuning curve), and prints one summary line."""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..evaluation.protocols import PROTOCOLS

    p = sub.add_parser("eval", help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("encoder_dir", help="an exported LiDAR encoder folder (encoder.json + encoder.safetensors)")
    p.add_argument("--data", required=True, help="labelled data: a nuScenes root with lidarseg, a synthetic "
                   "world folder (multimodal make-world), a bag or a folder of bags (one bag = one scene)")
    p.add_argument("--protocol", nargs="+", default=["linear"], choices=[*PROTOCOLS, "all"],
                   help="protocols to run: " + "; ".join(f"{k}: {v.summary}" for k, v in PROTOCOLS.items())
                   + " (default: linear)")
    p.add_argument("--out", required=True, help="output folder (created; nothing is written elsewhere)")
    p.add_argument("--random-init", action="store_true",
                   help="also score the same architecture at random initialization (seeded)")
    p.add_argument("--probe-scenes", nargs="+", metavar="SCENE", help="scenes that train the probes (names or "
                   "indexes; default: all scenes that are not test scenes)")
    p.add_argument("--test-scenes", nargs="+", metavar="SCENE", help="held-out scenes scored (names or indexes; "
                   "default: the last third)")
    p.add_argument("--seed", type=int, default=0, help="point subsampling, episodes, label fractions, random "
                   "init (default 0)")
    p.add_argument("--max-points", type=int, default=20000, help="random points per frame (default 20000)")
    p.add_argument("--frames-per-scene", type=int, default=None,
                   help="evenly spaced labelled frames per scene (default: all)")
    p.add_argument("--finetune-steps", type=int, default=100, help="optimizer steps per label fraction (100)")
    p.add_argument("--episodes", type=int, default=1000, help="few-shot episodes (default 1000)")
    p.add_argument("--version", default=None, help="nuScenes version folder (e.g. v1.0-trainval)")
    p.add_argument("--no-progress", action="store_true", help="no progress messages on stderr")
    return p


def run(args: argparse.Namespace) -> int:
    from ..evaluation.classes import NoLabelsError
    from ..evaluation.protocols import PROTOCOLS
    from ..evaluation.run import EvalOptions, evaluate, headline
    from ..export import EncoderFormatError
    from ..sensors import SensorLogError

    protocols = list(PROTOCOLS) if "all" in args.protocol else list(dict.fromkeys(args.protocol))
    opts = EvalOptions(protocols=protocols, probe_scenes=args.probe_scenes, test_scenes=args.test_scenes,
                       random_init=args.random_init, seed=args.seed, max_points=args.max_points,
                       frames_per_scene=args.frames_per_scene, finetune_steps=args.finetune_steps,
                       fewshot_episodes=args.episodes, version=args.version)

    def say(msg: str) -> None:
        if not args.no_progress:
            print(f"[eval] {msg}", file=sys.stderr, flush=True)

    try:
        summary = evaluate(args.encoder_dir, args.data, args.out, opts, progress=say)
    except NoLabelsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (EncoderFormatError, SensorLogError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(headline(summary))
    print(f"report: {summary['files']['report']}")
    return 0
