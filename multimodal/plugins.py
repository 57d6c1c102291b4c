"""Registries of plug-ins (methods, objectives, encoders): a name from one explicit dict, or, for code that
lives outside this package, an import path ``package.module:Class``.

A new method / objective / encoder inside the package is one file plus one line in its registry dict; a
user's own is one file on the Python path, named in the config by its import path.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping


def resolve(registry: Mapping[str, Any], name: str, kind: str) -> Any:
    """The class registered as ``name`` (a class or a ``"module:Class"`` string), or the class at the import
    path ``name`` when it contains a colon. Raises ``KeyError`` naming the known entries."""
    entry = registry.get(name)
    if entry is None and ":" not in name:
        raise KeyError(f"unknown {kind} {name!r}; known: {sorted(registry)} (or an import path 'package.module:Class')")
    target = entry if entry is not None else name
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise KeyError(f"{kind} {name!r}: cannot import {target!r} ({e})") from e
