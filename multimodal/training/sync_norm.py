"""Batch norm with statistics synchronized across processes, on CPU (gloo) as well as GPU.

``torch.nn.SyncBatchNorm`` refuses CPU tensors, yet a DDP run should match a single-process run with the
same global batch on any device. This layer all-reduces the per-channel count, sum and sum of squares
(autograd-aware, so gradients flow through the global statistics) and normalizes with them: the result
equals batch norm over the concatenated batch of all processes.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class DistributedBatchNorm1d(nn.BatchNorm1d):
    """Drop-in for ``nn.BatchNorm1d`` on ``(N, C)`` inputs; synchronizes in training when distributed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        if x.ndim != 2:
            raise ValueError(f"DistributedBatchNorm1d expects (N, C) features, got {tuple(x.shape)}")
        from torch.distributed.nn.functional import all_reduce

        n_local = torch.tensor([float(x.shape[0])], device=x.device, dtype=x.dtype)
        stats = torch.cat([n_local, x.sum(0), (x * x).sum(0)])
        stats = all_reduce(stats)  # differentiable sum over processes
        n = stats[0]
        C = x.shape[1]
        mean = stats[1:1 + C] / n
        var = (stats[1 + C:] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n.detach() / (n.detach() - 1).clamp_min(1))
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm1d`` (by type, not subclasses of ours) with :class:`DistributedBatchNorm1d`,
    keeping parameters and running statistics."""
    for name, child in list(module.named_children()):
        if type(child) is nn.BatchNorm1d:
            new = DistributedBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                         child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_batchnorm(child)
    return module
