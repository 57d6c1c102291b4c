"""Files of a nuScenes-format dataset: safe paths under the data root, ``.pcd.bin`` sweeps, images, the colour map.

Used by :class:`~multimodal.sensors.nuscenes_log.NuScenesLog`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import BadRecordError
from .images import decode_image_bytes


def safe_data_path(dataroot: str | os.PathLike, filename: str, table: str, token: str) -> Path:
    """Join a table's file name to the data root, refusing names that escape it.

    A table is data too: a name like ``../../etc/passwd`` or ``/abs/path`` must not make us read
    (or later write next to) files outside the dataset.
    """
    norm = os.path.normpath(filename)
    if os.path.isabs(filename) or norm == ".." or norm.startswith(".." + os.sep) or not filename:
        raise BadRecordError(f"{table}.json", f"file name {filename!r} of record {token} escapes the data root "
                             f"{str(dataroot)!r} (must be a relative path inside it)", field="filename")
    return Path(dataroot) / norm


def read_pcd_bin(path: Path, point_dims: int = 5, source: str | None = None) -> np.ndarray:
    """``(N, point_dims) float32`` from a nuScenes ``.pcd.bin`` (through devkit's ``LidarPointCloud``).

    Raises :class:`BadRecordError` when the file size is not a multiple of ``4 * point_dims``.
    """
    size = path.stat().st_size
    step = 4 * point_dims
    if size % step:
        raise BadRecordError(source or str(path), f"size {size} bytes is not a multiple of the point size "
                             f"{step} bytes ({point_dims} float32 per point)", field="filename")
    if point_dims == 5:
        from nuscenes.utils.data_classes import LidarPointCloud

        class _AllColumns(LidarPointCloud):
            # devkit reads (x, y, z, intensity, ring) and keeps nbr_dims() of them; keep the ring too.
            @staticmethod
            def nbr_dims() -> int:
                return 5

        return np.ascontiguousarray(_AllColumns.from_file(str(path)).points.T, dtype=np.float32)
    return np.fromfile(path, dtype=np.float32).reshape(-1, point_dims)


def decode_image_file(path: Path, source: Optional[str] = None) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB from a JPEG/PNG file; corrupt or truncated files raise BadRecordError."""
    return decode_image_bytes(path.read_bytes(), source or str(path))


def colormap_for(table_root: Path) -> dict | None:
    """devkit's class colour map extended to every category of the dataset.

    devkit looks up a colour for each category when lidarseg is present and fails on names it does
    not know (any non-nuScenes class list); give those a deterministic colour.
    """
    import json

    from nuscenes.utils.color_map import get_colormap

    path = table_root / "category.json"
    if not (table_root / "lidarseg.json").is_file() or not path.is_file():
        return None
    cmap = dict(get_colormap())
    for k, cat in enumerate(json.loads(path.read_text())):
        if cat["name"] not in cmap:
            rng = np.random.default_rng(k)
            cmap[cat["name"]] = tuple(int(v) for v in rng.integers(0, 256, 3))
    return cmap
