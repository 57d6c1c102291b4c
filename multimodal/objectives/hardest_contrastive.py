"""Hardest-contrastive loss of PointContrast (Xie et al., ECCV 2020), from FCGF (Choy et al., ICCV 2019)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ._sampling import sample_rows


@dataclass
class HardestContrastiveParams:
    pos_margin: float = 0.1     # positive margin, feature distance (0.1 in the paper)
    neg_margin: float = 1.4     # negative margin, feature distance (1.4 in the paper)
    num_pos: int = 1024         # positive pairs sampled per call
    num_candidates: int = 512   # random points of each view searched for hardest negatives
    normalize: bool = True      # L2-normalize features first (distances then lie in [0, 2])


class HardestContrastive(nn.Module):
    """Double-margin contrastive loss with hardest negatives.

    ``L = mean_pos [d(a_i, b_j) - m_pos]_+^2 + 1/2 (mean [m_neg - min_k d(a_i, b_k)]_+^2 + mean [m_neg - min_k d(b_j, a_k)]_+^2)``
    with Euclidean feature distance ``d``. Hardest negatives are searched among ``num_candidates`` random
    points of the other view; a candidate that is a true match of the anchor is not a negative.

    Args:
        pos_margin / neg_margin: the margins (0.1 and 1.4 in the paper).
        num_pos: positive pairs sampled per call.
        num_candidates: random points of each view searched for hardest negatives.
        normalize: L2-normalize features first (distances then lie in [0, 2]).

    Inputs: ``feats_a (N_a, C)``, ``feats_b (N_b, C)``, ``corr = {"matches": (P, 2) long}`` as in :class:`PointInfoNCE`.
    Returns: ``(loss, logs)`` with ``pos_loss``, ``neg_loss``.
    """

    Params: ClassVar[type] = HardestContrastiveParams
    inputs: ClassVar[tuple[str, ...]] = ("matches",)

    def __init__(self, pos_margin: float = 0.1, neg_margin: float = 1.4, num_pos: int = 1024,
                 num_candidates: int = 512, normalize: bool = True):
        super().__init__()
        self.pos_margin, self.neg_margin = float(pos_margin), float(neg_margin)
        self.num_pos, self.num_candidates = int(num_pos), int(num_candidates)
        self.normalize = normalize

    def forward(self, feats_a: torch.Tensor, feats_b: torch.Tensor, corr: dict[str, torch.Tensor],
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        matches = corr["matches"]
        if matches.ndim != 2 or matches.shape[1] != 2 or matches.shape[0] == 0:
            raise ValueError(f"matches must be (P>0, 2), got {tuple(matches.shape)}")
        if self.normalize:
            feats_a, feats_b = F.normalize(feats_a, dim=1), F.normalize(feats_b, dim=1)
        dev = feats_a.device
        pos = matches[sample_rows(matches.shape[0], self.num_pos, dev, generator)]
        cand_a = sample_rows(feats_a.shape[0], self.num_candidates, dev, generator)
        cand_b = sample_rows(feats_b.shape[0], self.num_candidates, dev, generator)
        fa, fb = feats_a[pos[:, 0]], feats_b[pos[:, 1]]
        d_pos = (fa - fb).pow(2).sum(1).add(1e-12).sqrt()
        # True matches among the candidates are not negatives: a set of (i, j) keys of all matches.
        n_b = max(feats_b.shape[0], 1)
        match_keys = matches[:, 0] * n_b + matches[:, 1]
        d_ab = torch.cdist(fa, feats_b[cand_b])  # anchors in A vs candidates in B
        d_ab = d_ab.masked_fill(torch.isin(pos[:, :1] * n_b + cand_b[None, :], match_keys), float("inf"))
        d_ba = torch.cdist(fb, feats_a[cand_a])  # anchors in B vs candidates in A
        d_ba = d_ba.masked_fill(torch.isin(cand_a[None, :] * n_b + pos[:, 1:], match_keys), float("inf"))
        hard_ab, hard_ba = d_ab.min(1).values, d_ba.min(1).values
        pos_loss = F.relu(d_pos - self.pos_margin).pow(2).mean()
        neg_ab = F.relu(self.neg_margin - hard_ab[torch.isfinite(hard_ab)]).pow(2)
        neg_ba = F.relu(self.neg_margin - hard_ba[torch.isfinite(hard_ba)]).pow(2)
        zero = feats_a.sum() * 0
        neg_loss = 0.5 * ((neg_ab.mean() if neg_ab.numel() else zero) + (neg_ba.mean() if neg_ba.numel() else zero))
        return pos_loss + neg_loss, {"pos_loss": pos_loss.detach(), "neg_loss": neg_loss.detach()}
