"""The scenes of a data path and their split into probe-training and test scenes (never by frame).

What a scene is, per kind of path:

- a nuScenes data root: each scene of its ``scene.json`` (opened alone with the reader's ``scenes=`` option);
- a synthetic world folder (``multimodal make-world``, with ``world.json``): its scenes, through the
  nuScenes dataset it wrote when there is one, else one bag per scene;
- a folder of bags: one bag = one scene; a single bag (or media file): one scene.
"""
from __future__ import annotations

import difflib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from multimodal.sensors import SensorLog, detect_format, open_log
from multimodal.sensors.errors import LogFormatError, MissingFileError
from multimodal.sensors.nuscenes_log import find_versions


@dataclass(frozen=True)
class SceneRef:
    """One scene of a data path: what to open to read only its frames.

    Attributes:
        name: the scene's name (nuScenes ``scene.name``, a bag's folder or file name).
        index: its position among the data path's scenes (0-based).
        path: the log path to open (a nuScenes data root, a bag).
        format: the reader's format name (``nuscenes``, ``rosbag``, ``av``).
        options: reader options that restrict the log to this scene (``{"scenes": [name], "version": ...}``).
    """

    name: str
    index: int
    path: str
    format: str
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def open(self, **options: Any) -> SensorLog:
        """This scene as a log (``options`` are passed to the reader on top of :attr:`options`)."""
        return open_log(self.path, format=self.format, **{**self.options, **options})

    def to_json(self) -> dict:
        return {"name": self.name, "index": self.index, "path": self.path, "format": self.format}


def _nuscenes_scenes(root: Path, version: Optional[str]) -> list[SceneRef]:
    versions = find_versions(root)
    if version is None:
        if len(versions) != 1:
            raise LogFormatError(f"{root}: found version folders {versions or 'none'}; pass version=...")
        version = versions[0]
    table = root / version / "scene.json"
    if not table.is_file():
        raise MissingFileError(str(table), "the nuScenes scene table does not exist")
    rows = json.loads(table.read_text())
    return [SceneRef(r["name"], i, str(root), "nuscenes", {"scenes": [r["name"]], "version": version})
            for i, r in enumerate(rows)]


def _bag_like(p: Path) -> bool:
    try:
        return detect_format(p) == "rosbag"
    except (LogFormatError, MissingFileError):
        return False


def _world_scenes(root: Path, manifest: dict, version: Optional[str]) -> list[SceneRef]:
    nus = manifest.get("nuscenes")
    if nus and (root / nus["dataroot"]).is_dir():
        return _nuscenes_scenes(root / nus["dataroot"], version or nus.get("version"))
    bags = [root / "bags" / s["name"] for s in manifest.get("scenes", [])]
    if bags and all(_bag_like(b) for b in bags):
        return [SceneRef(b.name, i, str(b), "rosbag") for i, b in enumerate(bags)]
    raise LogFormatError(f"{root}: a synthetic world (world.json) with neither a nuScenes dataset "
                         f"({root / 'nuscenes'}) nor one bag per scene ({root / 'bags'}); write it with "
                         "formats nuscenes or bag")


def list_scenes(path: str | os.PathLike, version: Optional[str] = None) -> list[SceneRef]:
    """The scenes of a data path, in a fixed order (the scene table's, or bags sorted by name).

    Args:
        path: a nuScenes data root, a synthetic world folder, a folder of bags, a bag or a media file.
        version: the nuScenes version folder when the root holds several.

    Raises:
        MissingFileError: the path does not exist.
        LogFormatError: no scene can be found there (the message says what was looked for).
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(str(p), "data path does not exist")
    world = p / "world.json"
    if p.is_dir() and world.is_file():
        return _world_scenes(p, json.loads(world.read_text()), version)
    try:
        fmt = detect_format(p)
    except LogFormatError:
        fmt = None
    if fmt == "nuscenes":
        return _nuscenes_scenes(p, version)
    if fmt is not None:
        return [SceneRef(p.name, 0, str(p), fmt)]
    bags = sorted(c for c in p.iterdir() if _bag_like(c)) if p.is_dir() else []
    if bags:
        return [SceneRef(b.name, i, str(b), "rosbag") for i, b in enumerate(bags)]
    raise LogFormatError(f"{p}: no scenes found: not a nuScenes data root, a synthetic world (world.json), a "
                         "bag, a media file, nor a folder of bags")


SceneKey = Union[str, int]


@dataclass(frozen=True)
class SceneSplit:
    """Which scenes train the probe and which ones it is scored on; they never share a scene.

    Attributes:
        probe / test: the scenes of each side, in the data path's order.
        unused: scenes in neither (when both sides were given and do not cover all).
        rule: how the split was made (``default: last third are test scenes`` or ``given``).
    """

    probe: tuple[SceneRef, ...]
    test: tuple[SceneRef, ...]
    unused: tuple[SceneRef, ...] = ()
    rule: str = ""

    def to_json(self) -> dict:
        """A JSON-able record of the split (names, indexes, paths), for ``summary.json``."""
        return {"rule": self.rule, "probe": [s.to_json() for s in self.probe],
                "test": [s.to_json() for s in self.test], "unused": [s.to_json() for s in self.unused],
                "probe_names": [s.name for s in self.probe], "test_names": [s.name for s in self.test]}


def _resolve(keys: Sequence[SceneKey], scenes: Sequence[SceneRef], side: str) -> list[int]:
    by_name = {s.name: i for i, s in enumerate(scenes)}
    out: list[int] = []
    for k in keys:
        if isinstance(k, str) and k in by_name:
            i = by_name[k]
        elif isinstance(k, int) or (isinstance(k, str) and k.lstrip("-").isdigit()):
            i = int(k)
            if not -len(scenes) <= i < len(scenes):
                raise ValueError(f"{side} scene index {i} is out of range: there are {len(scenes)} scenes "
                                 f"(0..{len(scenes) - 1})")
            i %= len(scenes)
        else:
            close = difflib.get_close_matches(str(k), list(by_name), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else \
                f"; scenes are {', '.join(list(by_name)[:8])}{' ...' if len(by_name) > 8 else ''}"
            raise ValueError(f"unknown {side} scene {k!r}{hint}")
        if i not in out:
            out.append(i)
    return out


def split_scenes(scenes: Sequence[SceneRef], probe: Optional[Sequence[SceneKey]] = None,
                 test: Optional[Sequence[SceneKey]] = None) -> SceneSplit:
    """Split scenes into probe-training and test scenes, by scene names or indexes (``"3"`` is index 3
    unless a scene is named so).

    Default (neither given): the last third of the scenes (at least one, ``max(1, round(n / 3))``) are
    test scenes, the rest probe scenes. One side given: the other is every remaining scene.

    Raises:
        ValueError: fewer than two scenes, an unknown name or index (close names suggested), a scene on
            both sides, or an empty side.
    """
    n = len(scenes)
    if n < 2:
        raise ValueError(f"splitting by scene needs at least two scenes, got {n} "
                         f"({', '.join(s.name for s in scenes) or 'none'}): one to train the probe, one to test")
    if probe is None and test is None:
        n_test = max(1, round(n / 3))
        p_idx, t_idx, rule = list(range(n - n_test)), list(range(n - n_test, n)), "default: last third are test scenes"
    else:
        p_idx = _resolve(probe, scenes, "probe") if probe is not None else None
        t_idx = _resolve(test, scenes, "test") if test is not None else None
        if p_idx is not None and t_idx is not None:
            both = sorted(set(p_idx) & set(t_idx))
            if both:
                raise ValueError(f"scenes {', '.join(scenes[i].name for i in both)} are both probe and test "
                                 "scenes; a split must never share a scene")
        elif p_idx is None:
            p_idx = [i for i in range(n) if i not in set(t_idx)]
        else:
            t_idx = [i for i in range(n) if i not in set(p_idx)]
        rule = "given"
    for side, idx in (("probe", p_idx), ("test", t_idx)):
        if not idx:
            raise ValueError(f"no {side} scenes left among the {n} scenes; give at least one on each side")
    used = set(p_idx) | set(t_idx)
    return SceneSplit(probe=tuple(scenes[i] for i in sorted(p_idx)), test=tuple(scenes[i] for i in sorted(t_idx)),
                      unused=tuple(s for i, s in enumerate(scenes) if i not in used), rule=rule)
