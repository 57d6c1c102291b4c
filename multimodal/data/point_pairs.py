"""PointContrast samples: two views of the same LiDAR points and which point matches which.

Views (PointContrast, Xie et al. 2020):
- ``"same_sweep"``: one sweep under two random rigid transforms and augmentations;
- ``"two_sweeps"``: two real sweeps of the same drive at least ``min_gap_s`` apart, registered with the
  ego poses; matches by mutual nearest neighbour within ``match_radius_m`` (1.5x the voxel size), so
  moving objects and newly visible surfaces simply have no match.
Matches are computed here, in the dataloader workers, not in the training step.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from multimodal.sensors.geometry import invert, transform_points

from .augment import augment_points, random_rigid
from .correspondences import match_points
from .log_source import LogSource


class PointPairDataset(Dataset):
    """Pairs of views with point matches, from any log with LiDAR sweeps and (for two sweeps) ego poses.

    Args:
        source: the log.
        lidar: LiDAR sensor name (default: the first LiDAR of each frame).
        mode: ``"same_sweep"`` or ``"two_sweeps"``.
        min_gap_s / max_gap_s: time window for the second sweep (two_sweeps).
        match_radius_m: match distance (metres); 1.5x the encoder's voxel size.
        max_points: random subsample of each view (keeps steps cheap), None for all.
        augment: apply random rigid transforms, scaling, jitter and point drop to each view.
        seed: base seed; sample ``k`` of epoch ``e`` uses ``seed + k + 1_000_003 * e`` (set ``epoch``).

    Each item: ``points_a (N_a, 4)`` and ``points_b (N_b, 4)`` float32 (x, y, z metres in each view's own
    augmented frame, intensity), ``matches (P, 2)`` int64, ``frame_a``/``frame_b`` indices.
    """

    def __init__(self, source: LogSource, *, lidar: Optional[str] = None,
                 mode: Literal["same_sweep", "two_sweeps"] = "two_sweeps", min_gap_s: float = 0.5,
                 max_gap_s: float = 2.0, match_radius_m: float = 0.15, max_points: Optional[int] = 20000,
                 augment: bool = True, seed: int = 0):
        self.source, self.lidar, self.mode = source, lidar, mode
        self.min_gap_us, self.max_gap_us = int(min_gap_s * 1e6), int(max_gap_s * 1e6)
        self.match_radius_m, self.max_points, self.augment, self.seed = match_radius_m, max_points, augment, seed
        self.epoch = 0
        times = np.asarray(source.log.frame_timestamps_us(), dtype=np.int64)
        if mode == "two_sweeps":
            self.partner = self._partners(times)
            self.items = np.nonzero(self.partner >= 0)[0]
            if self.items.size == 0:
                raise ValueError(f"{source.path}: no two sweeps are {min_gap_s}-{max_gap_s} s apart; use "
                                 "mode='same_sweep' or a longer log")
        elif mode == "same_sweep":
            self.partner = np.arange(len(times))
            self.items = np.arange(len(times))
        else:
            raise ValueError(f"mode must be 'same_sweep' or 'two_sweeps', got {mode!r}")

    def _partners(self, times: np.ndarray) -> np.ndarray:
        """For each frame, the first later frame at least min_gap and at most max_gap later (-1 if none)."""
        order = np.argsort(times)
        st = times[order]
        pos = np.searchsorted(st, st + self.min_gap_us)
        partner = np.full(len(times), -1, dtype=np.int64)
        ok = pos < len(st)
        ok[ok] &= (st[pos[ok]] - st[ok]) <= self.max_gap_us
        partner[order[ok]] = order[pos[ok]]
        return partner

    def __len__(self) -> int:
        return int(self.items.size)

    def _sweep(self, index: int):
        frame = self.source.log[index]
        if not frame.lidars:
            raise ValueError(f"{self.source.path}: frame {index} has no LiDAR sweep")
        return frame.lidars[self.lidar] if self.lidar else next(iter(frame.lidars.values()))

    def __getitem__(self, k: int) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed + int(k) + 1_000_003 * self.epoch)
        ia = int(self.items[k])
        ib = int(self.partner[ia])
        sa = self._sweep(ia)
        pa = sa.points[:, :4]
        if self.mode == "same_sweep":
            pb, xyz_b_in_a = pa, pa[:, :3]
        else:
            sb = self._sweep(ib)
            pb = sb.points[:, :4]
            if sa.T_world_from_ego is None or sb.T_world_from_ego is None:
                raise ValueError(f"{self.source.path}: frames {ia}/{ib} have no ego pose to register two sweeps")
            T_a_from_b = invert(sa.T_world_from_ego @ sa.T_ego_from_sensor) @ (sb.T_world_from_ego @ sb.T_ego_from_sensor)
            xyz_b_in_a = transform_points(T_a_from_b, pb[:, :3])
        keep_a = _subsample(len(pa), self.max_points, rng)
        keep_b = _subsample(len(pb), self.max_points, rng)
        matches = match_points(pa[keep_a, :3].astype(np.float64), xyz_b_in_a[keep_b], self.match_radius_m)
        va, vb = pa[keep_a], pb[keep_b]
        if self.augment:
            va, da = augment_points(va, random_rigid(rng), rng, drop_ratio=0.0)
            vb, db = augment_points(vb, random_rigid(rng), rng, drop_ratio=0.0)
        return {"points_a": np.ascontiguousarray(va, np.float32), "points_b": np.ascontiguousarray(vb, np.float32),
                "matches": matches, "frame_a": ia, "frame_b": ib}


def _subsample(n: int, k: Optional[int], rng: np.random.Generator) -> np.ndarray:
    if k is None or n <= k:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


def collate_point_pairs(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Concatenate views of a batch: ``points_a (sum N_a, 4)``, ``batch_a (sum N_a,)`` sample index,
    likewise for b, and ``matches (sum P, 2)`` indexing the concatenated rows."""
    out: dict[str, Any] = {}
    for side in ("a", "b"):
        pts = [torch.from_numpy(it[f"points_{side}"]) for it in items]
        out[f"points_{side}"] = torch.cat(pts)
        out[f"batch_{side}"] = torch.cat([torch.full((len(p),), i, dtype=torch.long) for i, p in enumerate(pts)])
    off_a = np.cumsum([0] + [len(it["points_a"]) for it in items[:-1]])
    off_b = np.cumsum([0] + [len(it["points_b"]) for it in items[:-1]])
    out["matches"] = torch.cat([torch.from_numpy(it["matches"] + np.array([oa, ob]))
                                for it, oa, ob in zip(items, off_a, off_b)])
    out["frames"] = torch.tensor([[it["frame_a"], it["frame_b"]] for it in items])
    return out
