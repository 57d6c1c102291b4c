"""Sub-commands of the ``multimodal`` CLI: one module per command, each with ``add_parser(sub)`` and ``run(args)``.

A new command is one module here plus one line in :data:`COMMANDS`.
"""
from __future__ import annotations

COMMANDS: dict[str, str] = {
    "inspect": "multimodal.commands.inspect",
    "train": "multimodal.commands.train",
    "export": "multimodal.commands.export",
    "demo": "multimodal.commands.demo",
    "make-world": "multimodal.commands.make_world",
}
