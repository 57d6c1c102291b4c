"""``multimodal inspect``: what a log holds, and a picture of one frame."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

HELP = "show what a log holds; draw a frame"


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``["version=v1.0-mini", "sweeps=true"]`` -> ``{"version": "v1.0-mini", "sweeps": True}``."""
    from multimodal.sensors.registry import parse_scalar

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--option expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = parse_scalar(v.strip())
    return out


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "inspect", help=HELP,
        description="Show a log's sensors, message counts, rates, time span, synchronization gaps and "
                    "skipped records. --render draws one frame: LiDAR points projected onto each camera "
                    "(coloured by depth) and a bird's-eye view.",
        epilog="examples:\n"
               "  multimodal inspect /data/nuscenes --option version=v1.0-mini --render frame.png\n"
               "  multimodal inspect run.mcap --json\n"
               "  multimodal inspect --demo --render inspect.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", help="nuScenes data root, bag (.bag/.db3/.mcap/folder) or media file")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--render", metavar="OUT.png", help="draw one frame into this PNG")
    p.add_argument("--frame", type=int, default=None, help="frame index to draw (default 0)")
    p.add_argument("--check", action="store_true",
                   help="decode every frame to find and count bad records (slow on big logs; progress bar)")
    p.add_argument("--format", choices=["nuscenes", "rosbag", "av"], help="force the reader instead of detecting it")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="reader option, repeatable: version=v1.0-mini, sweeps=true, tolerance_us=30000, "
                        "ego_frame=base_link, strict=true ...")
    p.add_argument("--demo", action="store_true", help="write a small built-in log (synthetic drive) and inspect it")
    p.add_argument("--demo-dir", default="runs/demo_log", help="where --demo writes its log (default runs/demo_log)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --demo log")
    return p


def _looks_like_bag(path: str) -> bool:
    p = Path(path)
    return p.suffix in (".db3", ".mcap", ".bag") or (p.is_dir() and (p / "metadata.yaml").is_file())


def run(args: argparse.Namespace) -> int:
    from multimodal.sensors import SensorLogError, open_log

    from ..inspect_log import check_frames, format_summary

    if args.demo:
        from ..demo_log import write_demo_log

        path = write_demo_log(args.demo_dir, seed=args.seed)
        print(f"demo log written to {path}", file=sys.stderr)
    elif args.path is None:
        raise SystemExit("inspect: give a log PATH, or --demo to write and inspect a small built-in log")
    else:
        path = args.path
    options = parse_options(args.option)
    if args.format == "rosbag" or (args.format is None and _looks_like_bag(str(path))):
        options.setdefault("show_progress", not args.json)
    try:
        log = open_log(path, format=args.format, **options)
        summary = log.summary()
        if args.check:
            summary["check"] = check_frames(log, show_progress=not args.json)
            summary["issues"] = log.issues.as_dict()
        if args.render:
            if len(log) == 0:
                raise SystemExit(f"--render: {path} has no frames to draw" +
                                 (f" ({log.notes[0]})" if log.notes else ""))
            from ..viz.log_render import render_log_frame

            out = render_log_frame(log, args.frame if args.frame is not None else 0, args.render)
            summary["render"] = str(out)
            summary["issues"] = log.issues.as_dict()
    except SensorLogError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
        if "render" in summary:
            print(f"\npicture: {summary['render']}")
    return 0
