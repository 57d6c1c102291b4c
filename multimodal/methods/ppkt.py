"""PPKT (Liu et al., 2021): pixel-to-point contrast through the calibration. A LiDAR point's feature must
retrieve the camera feature at the pixel it projects to. Objective: ``pixel_to_point`` (default)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from .base import Losses, Method, per_sample


@dataclass
class PPKTParams:
    cameras: Optional[list[str]] = None     # cameras paired with the LiDAR (None: all of each frame)
    image_wh: tuple[int, int] = (416, 224)  # camera input size (W, H), multiples of 32; intrinsics scaled with it
    max_points: Optional[int] = 20000       # random subsample of each sweep (None: all points)


class PPKT(Method):
    Params = PPKTParams
    encoders = {"lidar": "rows", "camera": "map"}
    provides = ("pairs",)
    default_objective = "pixel_to_point"

    def sensors(self) -> Optional[list[str]]:
        return ["lidar", *(self.params.cameras or ["camera"])]

    def _superpixels(self, run_dir: Path):
        return None

    def build_dataset(self, source, run_dir: Path):
        from ..data.image_lidar_pairs import ImageLidarDataset, collate_image_lidar

        p = self.params
        stride = int(self.cfg.model.camera.params.get("stride", 4))
        ds = ImageLidarDataset(source, cameras=p.cameras, image_wh=tuple(p.image_wh), stride=stride,
                               superpixels=self._superpixels(run_dir), max_points=p.max_points,
                               seed=self.cfg.trainer.seed)
        return ds, collate_image_lidar

    def training_step(self, module, batch: dict[str, Any]) -> Losses:
        from multimodal.models.camera_resnet import images_to_float

        fp = module.features("lidar", batch["points"], batch["batch"])
        fx = module.features("camera", images_to_float(batch["images"]))
        ids = batch["sample_ids"].tolist()
        n_cam = fx.shape[0] // len(ids)
        owner = batch["batch"]
        starts = torch.searchsorted(owner, torch.arange(len(ids) + 1, device=owner.device))

        def loss_of(s: int, sid: int):
            cams = slice(s * n_cam, (s + 1) * n_cam)
            rows = slice(int(starts[s]), int(starts[s + 1]))  # collate concatenates samples in order
            corr = {}
            if "pairs" in batch:
                pairs = batch["pairs"][owner[batch["pairs"][:, 0]] == s].clone()
                pairs[:, 0] -= rows.start
                pairs[:, 1] -= s * n_cam
                corr["pairs"] = pairs
            if "point_segment" in batch:
                corr["point_segment"] = batch["point_segment"][rows]
                corr["pixel_segment"] = batch["pixel_segment"][cams]
            return module.objective(fp[rows], fx[cams], corr, generator=module.generator(sid))

        return per_sample(ids, loss_of)
