"""Point retrieval between two views: does a point's feature find its match among many candidates?"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


@torch.no_grad()
def top1_point_retrieval(feats_a: torch.Tensor, feats_b: torch.Tensor, matches: torch.Tensor,
                         num_candidates: int = 4096, generator: Optional[torch.Generator] = None) -> float:
    """Top-1 retrieval accuracy of matched points between two views, by cosine similarity.

    ``min(P, num_candidates)`` distinct matched pairs are drawn (all of them, in order, when ``P`` is not
    larger). For each drawn point of view A, the candidates are the features of the drawn points of view B;
    the retrieval is right when the most similar candidate is its own match. Chance is ``1 / candidates``.

    Args:
        feats_a: ``(N_a, C)`` per-point features of view A.
        feats_b: ``(N_b, C)`` per-point features of view B.
        matches: ``(P, 2)`` long, rows ``(i, j)``: point i of A and point j of B are the same world point.
        num_candidates: how many matched pairs to draw (the candidate set size).
        generator: seeds the draw (default: the global torch generator).

    Returns:
        the fraction of drawn A points whose nearest B candidate is the true match, in ``[0, 1]``.
    """
    if matches.ndim != 2 or matches.shape[1] != 2 or matches.shape[0] < 1:
        raise ValueError(f"matches must be (P>=1, 2), got {tuple(matches.shape)}")
    if num_candidates < 1:
        raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
    p = matches.shape[0]
    if p > num_candidates:
        matches = matches[torch.randperm(p, generator=generator)[:num_candidates]]
    q = F.normalize(feats_a[matches[:, 0]].float(), dim=1)
    k = F.normalize(feats_b[matches[:, 1]].float(), dim=1)
    nearest = (q @ k.t()).argmax(dim=1)
    return float((nearest == torch.arange(len(q))).float().mean())
