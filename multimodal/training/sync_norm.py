"""Batch norm with statistics synchronized across processes, on CPU (gloo) as well as GPU.

``torch.nn.SyncBatchNorm`` refuses CPU tensors, yet a DDP run should match a single-process run with the
same global batch on any device. These layers all-reduce the per-channel count, sum and sum of squares
(in float64; autograd-aware, so gradients flow through the global statistics) and normalize with them: the result
equals batch norm over the concatenated batch of all processes.

:func:`convert_batchnorm` switches every batch norm of a model in place, subclasses included (the sparse
engine's ``SparseBatchNorm`` normalizes its rows through ``nn.BatchNorm1d.forward``, which the switched
class intercepts), so the LiDAR, camera and any other encoder synchronize alike.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _synced_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Batch norm of ``x`` (``(N, C)`` or ``(N, C, *spatial)``) with statistics over all processes."""
    from torch.distributed.nn.functional import all_reduce

    C = x.shape[1]
    rows = x.transpose(0, 1).reshape(C, -1).t() if x.ndim > 2 else x  # (N * spatial, C)
    # One reduction of (count, sum, sum of squares), accumulated in float64: in float32, E[x^2] - E[x]^2
    # cancels catastrophically for channels whose mean dwarfs their spread, and the backward through
    # 1 / sqrt(var) amplifies that rounding. (PyTorch's CPU batch norm accumulates in float64 too.)
    acc = rows.double()
    n_local = torch.tensor([float(rows.shape[0])], device=x.device, dtype=torch.float64)
    stats = all_reduce(torch.cat([n_local, acc.sum(0), (acc * acc).sum(0)]))  # differentiable sum
    n = stats[0]
    mean64 = stats[1:1 + C] / n
    var = (stats[1 + C:] / n - mean64 * mean64).clamp_min(0).to(x.dtype)
    mean = mean64.to(x.dtype)
    if bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked += 1
            m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
            bn.running_mean.mul_(1 - m).add_(m * mean.detach())
            bn.running_var.mul_(1 - m).add_(m * var.detach() * n.detach() / (n.detach() - 1).clamp_min(1))
    shape = (1, C) + (1,) * (x.ndim - 2)
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + bn.eps)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    return y


class DistributedBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` on ``(N, C)`` that synchronizes its statistics in training when distributed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _distributed()):
            return super().forward(x)
        if x.ndim != 2:
            raise ValueError(f"DistributedBatchNorm1d expects (N, C) features, got {tuple(x.shape)}")
        return _synced_batch_norm(self, x)


class DistributedBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` on ``(N, C, H, W)`` that synchronizes its statistics in training when distributed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _distributed()):
            return super().forward(x)
        return _synced_batch_norm(self, x)


_SYNCED = {nn.BatchNorm1d: DistributedBatchNorm1d, nn.BatchNorm2d: DistributedBatchNorm2d}
_classes: dict[type, type] = {}


def _synced_class(cls: type) -> type:
    """``cls`` with the synchronized forward of its batch-norm base placed right after it in the MRO."""
    if cls in _SYNCED.values() or any(issubclass(cls, s) for s in _SYNCED.values()):
        return cls
    base = next(b for b in _SYNCED if issubclass(cls, b))
    if cls is base:
        return _SYNCED[base]
    if cls not in _classes:
        _classes[cls] = type(f"Distributed{cls.__name__}", (cls, _SYNCED[base]), {})
    return _classes[cls]


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Make every ``BatchNorm1d`` / ``BatchNorm2d`` of ``module`` (subclasses too) synchronize across
    processes, in place; parameters, buffers and state-dict keys stay as they are."""
    for child in module.modules():
        if isinstance(child, tuple(_SYNCED)):
            child.__class__ = _synced_class(type(child))
    return module
