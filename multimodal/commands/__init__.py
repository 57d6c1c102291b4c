"""Sub-commands of the ``multimodal`` CLI: one module per command, each with ``add_parser(sub)`` and ``run(args)``.

A new command is one module here plus one line in :data:`COMMANDS`. Packages that build on this one (the ROS 2
nodes of ``ros_nodes``: ``serve``, ``replay``) add commands through the ``multimodal.commands`` entry point group,
so this package never imports them (imports flow ``multimodal -> ros_nodes`` only).
"""
from __future__ import annotations

COMMANDS: dict[str, str] = {
    "inspect": "multimodal.commands.inspect",
    "train": "multimodal.commands.train",
    "export": "multimodal.commands.export",
    "eval": "multimodal.commands.eval",
    "demo": "multimodal.commands.demo",
    "make-world": "multimodal.commands.make_world",
}


def command_modules() -> dict[str, str]:
    """Every command: the built-in ones plus those registered under the ``multimodal.commands`` entry points."""
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="multimodal.commands")}
    return {**COMMANDS, **{k: v for k, v in sorted(found.items()) if k not in COMMANDS}}
