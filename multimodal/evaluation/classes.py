"""The fixed class list a dataset is scored on, and the map from a log's raw labels to it.

Scores are over a class list fixed per dataset, never over "the classes that happen to be in the test set":

- nuScenes lidarseg: the 16 classes of the lidarseg benchmark (as SLidR and the devkit's own evaluation use
  them), id 0 = ``ignore``. Raw labels are indexes into the version's ``category.json``, which differ between
  datasets, so they are mapped by category *name* (devkit's ``lidarseg_name2idx_mapping``) through devkit's
  fine-to-coarse table (``nuscenes.eval.lidarseg.utils.LidarsegClassMapper``); names it does not know map to
  ignore and are listed in :attr:`LabelMapping.unmapped`.
- the synthetic world: its own classes (:mod:`multimodal.sensors.synthetic.classes`), id 0 = ``noise``
  (ignore). Written in nuScenes format it stores nuScenes category names; it is recognised by the
  ``world.json`` that ``write_world`` puts next to the data root, by the demo log's stamp file, or by its
  category table itself (index -> name exactly as the synthetic writer makes it), and its labels are mapped
  back by name to the synthetic classes.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import numpy as np

from multimodal.sensors import SensorLog


class NoLabelsError(ValueError):
    """The log has no per-point labels, so there is nothing to probe or score against."""


@dataclass(frozen=True)
class ClassList:
    """Class id -> name for one dataset; ids index :attr:`names` (the ignore class included).

    Attributes:
        dataset: ``nuscenes-lidarseg-16`` or ``synthetic``.
        names: ``(K,)`` class names, position = class id.
        ignore_index: the id whose points are never scored (0 in both lists).
        colors: ``(K, 3) uint8`` RGB drawing colour per class.
    """

    dataset: str
    names: tuple[str, ...]
    ignore_index: int
    colors: np.ndarray = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.ignore_index < len(self.names):
            raise ValueError(f"ignore_index {self.ignore_index} is outside the {len(self.names)} classes")
        if self.colors.shape != (len(self.names), 3) or self.colors.dtype != np.uint8:
            raise ValueError(f"colors must be ({len(self.names)}, 3) uint8, got {self.colors.shape} {self.colors.dtype}")

    @property
    def num_classes(self) -> int:
        """K: the number of ids, the ignore class included (the width of a classifier's output)."""
        return len(self.names)

    @property
    def scored_ids(self) -> list[int]:
        """The ids mIoU averages over: every id but :attr:`ignore_index`."""
        return [i for i in range(self.num_classes) if i != self.ignore_index]

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "names": list(self.names), "ignore_index": self.ignore_index,
                "colors": self.colors.tolist()}


@dataclass(frozen=True)
class LabelMapping:
    """Raw label -> class id of a :class:`ClassList`, as a lookup table; call it on an array of raw labels.

    Attributes:
        lut: ``(R,) int64``; raw labels ``>= R`` (or negative) map to ``ignore_index``.
        ignore_index: the class id unmapped labels get.
        source: where the mapping comes from (for the report).
        unmapped: raw category names that map to ignore although they are not the dataset's ignore class.
    """

    lut: np.ndarray
    ignore_index: int
    source: str = ""
    unmapped: tuple[str, ...] = ()

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """``raw (N,) int`` -> ``(N,) int64`` class ids."""
        raw = np.asarray(raw).astype(np.int64, copy=False)
        out = np.full(raw.shape, self.ignore_index, dtype=np.int64)
        ok = (raw >= 0) & (raw < len(self.lut))
        out[ok] = self.lut[raw[ok]]
        return out


def _devkit_tables() -> tuple[dict[str, str], dict[str, int], dict[str, tuple[int, int, int]]]:
    """devkit's lidarseg benchmark tables: fine name -> coarse name, coarse name -> id, coarse name -> RGB."""
    from nuscenes.eval.lidarseg.utils import LidarsegClassMapper

    # The three getters only read ``ignore_class``; the class's constructor would also want a loaded NuScenes.
    shim = SimpleNamespace(ignore_class=LidarsegClassMapper.get_ignore_class())
    return (LidarsegClassMapper.get_fine2coarse(shim), LidarsegClassMapper.get_coarse2idx(shim),
            LidarsegClassMapper.get_coarse2color(shim))


def nuscenes_lidarseg_classes() -> ClassList:
    """The 16 classes of the nuScenes lidarseg benchmark plus ``ignore`` (id 0), from devkit's tables."""
    _, coarse2idx, coarse2color = _devkit_tables()
    names = [""] * len(coarse2idx)
    for name, idx in coarse2idx.items():
        names[idx] = name
    colors = np.array([coarse2color[n] for n in names], dtype=np.uint8)
    return ClassList("nuscenes-lidarseg-16", tuple(names), ignore_index=0, colors=colors)


def synthetic_classes(manifest: Optional[dict] = None) -> ClassList:
    """The synthetic world's classes (id 0 ``noise`` = ignore); from a ``world.json`` manifest when given."""
    from multimodal.sensors.synthetic.classes import CLASS_COLORS, CLASS_NAMES

    if manifest and manifest.get("classes"):
        table = manifest["classes"]
        names = tuple(table[str(i)]["name"] for i in range(len(table)))
    else:
        names = CLASS_NAMES
    palette = dict(zip(CLASS_NAMES, CLASS_COLORS.tolist()))
    colors = np.array([palette.get(n, [128, 128, 128]) for n in names], dtype=np.uint8)
    return ClassList("synthetic", names, ignore_index=0, colors=colors)


def find_world_manifest(path: str | os.PathLike) -> Optional[dict]:
    """The ``world.json`` of a synthetic world that ``path`` is (or lies inside: ``nuscenes/``, ``bags/x``)."""
    p = Path(path).resolve()
    for folder in (p, *p.parents[:3]):
        f = folder / "world.json"
        if f.is_file():
            try:
                manifest = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(manifest, dict) and "classes" in manifest:
                return manifest
    return None


def _synthetic_nuscenes_names(manifest: Optional[dict]) -> dict[int, str]:
    """Synthetic class id -> the nuScenes category name its writer stores."""
    if manifest and manifest.get("classes"):
        return {int(i): c["nuscenes"] for i, c in manifest["classes"].items() if c.get("nuscenes")}
    from multimodal.sensors.synthetic.classes import NUSCENES_CATEGORIES

    return dict(NUSCENES_CATEGORIES)


def _is_synthetic_nuscenes(root: Path, idx2name: dict[int, str], manifest: Optional[dict]) -> bool:
    if manifest is not None or (root / ".multimodal_demo").is_file():
        return True
    return bool(idx2name) and idx2name == _synthetic_nuscenes_names(None)


def _lut(mapping: dict[int, int], ignore: int) -> np.ndarray:
    lut = np.full(max(mapping, default=0) + 1, ignore, dtype=np.int64)
    for raw, cid in mapping.items():
        lut[raw] = cid
    return lut


def _nuscenes_mapping(log: SensorLog, where: str) -> tuple[ClassList, LabelMapping]:
    nusc = log.nusc
    idx2name: dict[int, str] = dict(getattr(nusc, "lidarseg_idx2name_mapping", {}) or {})
    if not getattr(nusc, "lidarseg", None) or not idx2name:
        raise NoLabelsError(f"{where}: no per-point labels: version {log.version} has no lidarseg table "
                            f"(lidarseg.json with its label files and an indexed category.json), so there are "
                            "no labels to probe or score against; use a dataset with nuScenes-lidarseg")
    root = Path(log.path)
    manifest = find_world_manifest(root)
    if _is_synthetic_nuscenes(root, idx2name, manifest):
        classes = synthetic_classes(manifest)
        by_name = {n: i for i, n in _synthetic_nuscenes_names(manifest).items()}
        source = f"{where}: synthetic world (category names -> synthetic classes)"
    else:
        classes = nuscenes_lidarseg_classes()
        fine2coarse, coarse2idx, _ = _devkit_tables()
        by_name = {fine: coarse2idx[coarse] for fine, coarse in fine2coarse.items()}
        source = f"{where}: nuScenes lidarseg benchmark mapping (devkit, by category name)"
    ignore = classes.ignore_index
    mapping, unmapped = {}, []
    for raw, name in idx2name.items():
        if name in by_name:
            mapping[int(raw)] = by_name[name]
        else:
            mapping[int(raw)] = ignore
            unmapped.append(name)
    return classes, LabelMapping(_lut(mapping, ignore), ignore, source, tuple(sorted(unmapped)))


def _first_labels(log: SensorLog) -> Optional[np.ndarray]:
    for i in range(min(len(log), 3)):
        for sweep in log[i].lidars.values():
            if sweep.labels is not None:
                return sweep.labels
    return None


def class_list_for_log(log: SensorLog, path: Optional[str | os.PathLike] = None) -> tuple[ClassList, LabelMapping]:
    """The fixed class list of an opened log and the map from its raw per-point labels to it.

    Args:
        log: an opened :class:`~multimodal.sensors.SensorLog` (``NuScenesLog``, ``RosbagLog``, ...).
        path: the path the log was opened from, for messages and to find a synthetic world's ``world.json``
            (default: ``log.path``).

    Raises:
        NoLabelsError: the log has no per-point labels (a nuScenes version without lidarseg, a bag whose
            sweeps carry none); the message names the path and says there are no labels to probe.
    """
    where = str(path if path is not None else getattr(log, "path", "<log>"))
    if getattr(log, "format", None) == "nuscenes" and hasattr(log, "nusc"):
        return _nuscenes_mapping(log, where)
    labels = _first_labels(log)
    if labels is None:
        raise NoLabelsError(f"{where}: no per-point labels in its LiDAR sweeps (format "
                            f"{getattr(log, 'format', '?')}), so there are no labels to probe or score against")
    manifest = find_world_manifest(where)
    if manifest is None:
        raise NoLabelsError(f"{where}: its sweeps carry labels but no class list is known for format "
                            f"{getattr(log, 'format', '?')} outside a synthetic world (no world.json found)")
    classes = synthetic_classes(manifest)
    lut = np.arange(classes.num_classes, dtype=np.int64)
    return classes, LabelMapping(lut, classes.ignore_index, f"{where}: synthetic world (labels are class ids)")
