"""PointInfoNCE of PointContrast (Xie et al., ECCV 2020, "PointContrast: Unsupervised Pre-training for
3D Point Cloud Understanding", eq. 2)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import nn

from ._sampling import info_nce, sample_rows


@dataclass
class PointInfoNCEParams:
    temperature: float = 0.07   # softmax temperature (the reference scripts use 0.07 and 0.4)
    num_pairs: int = 4096       # matched pairs sampled per call; the logits are num_pairs^2


class PointInfoNCE(nn.Module):
    """InfoNCE over matched points of two views: each sampled point of view A must retrieve its match in
    view B among the other sampled matches (which act as negatives).

    Args:
        temperature: softmax temperature (the reference scripts use 0.07 and 0.4).
        num_pairs: matched pairs sampled per call (4096 in the paper); the logits are ``num_pairs^2``.

    Inputs (the objectives' shared signature ``(feats_a, feats_b, corr, generator)``):
        feats_a: ``(N_a, C)`` per-point features of view A.
        feats_b: ``(N_b, C)`` per-point features of view B.
        corr: ``{"matches": (P, 2) long}``, rows ``(i, j)``: point i of A and point j of B are the same world point.

    Returns:
        ``(loss, logs)``; logs hold ``top1``: retrieval accuracy of the sampled pairs.
    """

    Params: ClassVar[type] = PointInfoNCEParams
    inputs: ClassVar[tuple[str, ...]] = ("matches",)

    def __init__(self, temperature: float = 0.07, num_pairs: int = 4096):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.num_pairs = int(num_pairs)

    def forward(self, feats_a: torch.Tensor, feats_b: torch.Tensor, corr: dict[str, torch.Tensor],
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        matches = corr["matches"]
        if matches.ndim != 2 or matches.shape[1] != 2:
            raise ValueError(f"matches must be (P, 2), got {tuple(matches.shape)}")
        if matches.shape[0] < 2:
            raise ValueError(f"PointInfoNCE needs at least 2 matched pairs, got {matches.shape[0]}")
        sel = matches[sample_rows(matches.shape[0], self.num_pairs, matches.device, generator)]
        loss, top1 = info_nce(feats_a[sel[:, 0]], feats_b[sel[:, 1]], self.temperature)
        return loss, {"top1": top1, "pairs": torch.tensor(float(sel.shape[0]))}
