"""Shared helpers of the contrastive objectives: pair sampling and the InfoNCE core."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def sample_rows(n: int, k: int, device: torch.device, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Indices of ``min(n, k)`` distinct rows out of ``n`` (all rows, in order, when ``n <= k``)."""
    if n <= k:
        return torch.arange(n, device=device)
    return torch.randperm(n, generator=generator, device="cpu")[:k].to(device)


def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE over matched rows: row i of ``query`` must pick row i of ``key`` among all rows.

    Args:
        query, key: ``(P, C)`` features, L2-normalized here (cosine similarity / temperature).

    Returns:
        the mean cross-entropy loss and the top-1 accuracy of the retrieval (both scalars).
    """
    q = F.normalize(query, dim=1)
    k = F.normalize(key, dim=1)
    logits = q @ k.t() / temperature
    target = torch.arange(q.shape[0], device=q.device)
    loss = F.cross_entropy(logits, target)
    top1 = (logits.argmax(dim=1) == target).float().mean()
    return loss, top1.detach()
