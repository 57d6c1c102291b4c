"""PointContrast (Xie et al., ECCV 2020): matched points of two views of a LiDAR sweep are pulled together.

Views: ``same_sweep`` (one sweep under two random rigid transforms and augmentations) or ``two_sweeps``
(two real sweeps of one drive, registered with the ego poses). Objectives: ``point_info_nce`` (default) or
``hardest_contrastive``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

from .base import Losses, Method, per_sample


@dataclass
class PointContrastParams:
    views: Literal["two_sweeps", "same_sweep"] = "two_sweeps"  # two registered sweeps, or one sweep twice
    min_gap_s: float = 0.5                  # two_sweeps: smallest time between the two sweeps (s)
    max_gap_s: float = 2.0                  # two_sweeps: largest time between the two sweeps (s)
    max_points: Optional[int] = 20000       # random subsample of each view (None: all points)
    augment: bool = True                    # random rigid transform, scale, jitter per view
    lidar: Optional[str] = None             # LiDAR sensor name (None: the first LiDAR of each frame)
    match_radius_m: Optional[float] = None  # match distance (m); None: 1.5x the encoder's voxel size


class PointContrast(Method):
    Params = PointContrastParams
    encoders = {"lidar": "rows"}
    provides = ("matches",)
    default_objective = "point_info_nce"

    def sensors(self) -> Optional[list[str]]:
        return [self.params.lidar] if self.params.lidar else ["lidar"]

    def build_dataset(self, source, run_dir: Path):
        from ..data.point_pairs import PointPairDataset, collate_point_pairs

        p = self.params
        radius = p.match_radius_m
        if radius is None:
            radius = 1.5 * float(self.cfg.model.lidar.params.get("voxel_size", 0.1))
        ds = PointPairDataset(source, lidar=p.lidar, mode=p.views, min_gap_s=p.min_gap_s, max_gap_s=p.max_gap_s,
                              match_radius_m=radius, max_points=p.max_points, augment=p.augment,
                              seed=self.cfg.trainer.seed)
        return ds, collate_point_pairs

    def training_step(self, module, batch: dict[str, Any]) -> Losses:
        fa = module.features("lidar", batch["points_a"], batch["batch_a"])
        fb = module.features("lidar", batch["points_b"], batch["batch_b"])
        owner = batch["batch_a"][batch["matches"][:, 0]]

        def loss_of(s: int, sid: int):
            return module.objective(fa, fb, {"matches": batch["matches"][owner == s]}, generator=module.generator(sid))

        return per_sample(batch["sample_ids"].tolist(), loss_of)
