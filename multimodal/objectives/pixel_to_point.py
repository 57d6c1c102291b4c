"""Pixel-to-point contrast through the calibrated projection (PPKT: Liu et al., "Learning from 2D:
Contrastive Pixel-to-Point Knowledge Transfer for 3D Pretraining", 2021)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import nn

from ._sampling import info_nce, sample_rows


@dataclass
class PixelToPointParams:
    temperature: float = 0.07   # softmax temperature
    num_pairs: int = 4096       # point-pixel pairs sampled per call; the others of the sample are the negatives


class PixelToPointInfoNCE(nn.Module):
    """InfoNCE between a LiDAR point's feature and the camera feature at the pixel it projects to.

    Args:
        temperature: softmax temperature.
        num_pairs: point-pixel pairs sampled per call; the others of the sample are the negatives.

    Inputs (the objectives' shared signature ``(feats_a, feats_b, corr, generator)``):
        point_feats: ``(N, C)`` LiDAR features of one sample.
        pixel_feats: ``(B_img, C, H', W')`` dense camera feature maps of that sample's images.
        corr: ``{"pairs": (P, 4) long}``, rows ``(point index, image index, row, col)``; row/col on the feature
            map grid (pixel coordinates divided by the encoder's stride), computed in the data pipeline.

    Returns: ``(loss, logs)`` with ``top1`` retrieval accuracy.
    """

    Params: ClassVar[type] = PixelToPointParams
    inputs: ClassVar[tuple[str, ...]] = ("pairs",)

    def __init__(self, temperature: float = 0.07, num_pairs: int = 4096):
        super().__init__()
        self.temperature = float(temperature)
        self.num_pairs = int(num_pairs)

    def forward(self, point_feats: torch.Tensor, pixel_feats: torch.Tensor, corr: dict[str, torch.Tensor],
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pairs = corr["pairs"]
        if pairs.ndim != 2 or pairs.shape[1] != 4 or pairs.shape[0] < 2:
            raise ValueError(f"pairs must be (P>=2, 4) [point, image, row, col], got {tuple(pairs.shape)}")
        B, C, H, W = pixel_feats.shape
        if (pairs[:, 2] >= H).any() or (pairs[:, 3] >= W).any() or (pairs[:, 1] >= B).any() or (pairs < 0).any():
            raise ValueError(f"pairs index outside the feature maps of shape {tuple(pixel_feats.shape)}")
        sel = pairs[sample_rows(pairs.shape[0], self.num_pairs, pairs.device, generator)]
        pix = pixel_feats.permute(0, 2, 3, 1)[sel[:, 1], sel[:, 2], sel[:, 3]]  # (P, C)
        loss, top1 = info_nce(point_feats[sel[:, 0]], pix, self.temperature)
        return loss, {"top1": top1}
