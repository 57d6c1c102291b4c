"""The ``multimodal`` command line: a thin dispatcher over :mod:`multimodal.commands`."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

from . import DISTRIBUTION, __version__
from .commands import command_modules

DESCRIPTION = """\
multimodal: self-supervised learning of per-sensor encoders from unlabeled robot logs.

Logs are nuScenes-format data roots (read with nuscenes-devkit), ROS 1/2 bags (.bag, .db3, .mcap or a
rosbag2 folder, read with rosbags) and media files with audio (read with PyAV)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multimodal", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} ({DISTRIBUTION})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules().values():
        mod = importlib.import_module(module)
        mod.add_parser(sub).set_defaults(func=mod.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    # Commands with config overrides (key=value) accept them anywhere on the line, also after options.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
