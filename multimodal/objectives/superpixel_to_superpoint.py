"""Superpixel-to-superpoint contrast (SLidR: Sautier et al., "Image-to-Lidar Self-Supervised Distillation
for Autonomous Driving Data", CVPR 2022)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import nn

from ._sampling import info_nce


def segment_mean(feats: torch.Tensor, segment: torch.Tensor, num_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``feats (N, C)`` per segment id in ``[0, num_segments)`` (ids < 0 ignored).

    Returns ``(means (S, C), counts (S,))``.
    """
    keep = segment >= 0
    seg = segment[keep]
    sums = feats.new_zeros(num_segments, feats.shape[1]).index_add_(0, seg, feats[keep])
    counts = torch.bincount(seg, minlength=num_segments).to(feats.dtype)
    return sums / counts.clamp(min=1)[:, None], counts


@dataclass
class SuperpixelToSuperpointParams:
    temperature: float = 0.07   # softmax temperature (0.07 in SLidR)


class SuperpixelToSuperpointInfoNCE(nn.Module):
    """InfoNCE between superpixel-pooled camera features and the pooled features of the LiDAR points
    that project into the same superpixel (a "superpoint").

    Args:
        temperature: softmax temperature (0.07 in SLidR).

    Inputs (the objectives' shared signature ``(feats_a, feats_b, corr, generator)``):
        point_feats: ``(N, C)`` LiDAR features.
        pixel_feats: ``(B_img, C, H', W')`` camera features on the superpixel grid.
        corr: ``{"point_segment": (N,) long, "pixel_segment": (B_img, H', W') long}``: the superpixel id of each
            point's projection (-1 when it projects nowhere) and of each feature-map cell (ids unique across
            the images; -1 to ignore).
        generator: unused (no sampling); part of the shared signature.

    Only superpixels that contain at least one point take part. Returns ``(loss, logs)``.
    """

    Params: ClassVar[type] = SuperpixelToSuperpointParams
    inputs: ClassVar[tuple[str, ...]] = ("point_segment", "pixel_segment")

    def __init__(self, temperature: float = 0.07):
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, point_feats: torch.Tensor, pixel_feats: torch.Tensor, corr: dict[str, torch.Tensor],
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        point_segment, pixel_segment = corr["point_segment"], corr["pixel_segment"]
        B, C, H, W = pixel_feats.shape
        if pixel_segment.shape != (B, H, W):
            raise ValueError(f"pixel_segment must be {(B, H, W)}, got {tuple(pixel_segment.shape)}")
        S = int(max(point_segment.max().item(), pixel_segment.max().item())) + 1
        sp, n_pts = segment_mean(point_feats, point_segment, S)
        pix = pixel_feats.permute(0, 2, 3, 1).reshape(-1, C)
        sx, n_pix = segment_mean(pix, pixel_segment.reshape(-1), S)
        used = (n_pts > 0) & (n_pix > 0)
        if int(used.sum()) < 2:
            raise ValueError("fewer than 2 superpixels hold LiDAR points: nothing to contrast")
        loss, top1 = info_nce(sp[used], sx[used], self.temperature)
        return loss, {"top1": top1, "superpixels": used.sum().float()}
