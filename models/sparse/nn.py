"""Layers on sparse tensors. Weights live here, in one layout for every backend, so the same
module with the same state dict computes on whichever backend made its input tensor."""
from __future__ import annotations

import math

import torch
from torch import nn

from .kernel_map import kernel_volume
from .tensor import SparseTensor


class SparseConv3d(nn.Module):
    """Sparse 3D convolution.

    ``stride=1``: submanifold (output on the input's coordinates). ``stride=2``: output on the
    input coordinates floored to twice the tensor stride. Weight ``(k**3, C_in, C_out)`` indexed by
    kernel offset (``multimodal.models.sparse.kernel_map.kernel_offsets``); the dense equivalent is
    ``conv3d`` with weight ``W_dense[:, :, i, j, l] = weight[(i * k + j) * k + l].T``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, bias: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.weight = nn.Parameter(torch.empty(kernel_volume(kernel_size), in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    transposed = False

    def reset_parameters(self) -> None:
        # Same scale as nn.Conv3d's default init: uniform in +-1/sqrt(fan_in) with fan_in = C_in * k^3.
        bound = 1.0 / math.sqrt(self.in_channels * self.weight.shape[0])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: SparseTensor) -> SparseTensor:
        if x.num_channels != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects {self.in_channels} channels, got {x.num_channels}")
        if self.kernel_size == 1 and self.stride == 1:
            # A 1x1x1 kernel pairs every voxel with itself only: a plain matrix product, any backend.
            out = x.replace(x.feats @ self.weight[0])
        else:
            out = x.backend.conv(x, self.weight, self.kernel_size, self.stride, self.transposed)
        if self.bias is not None:
            out = out.replace(out.feats + self.bias)
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"bias={self.bias is not None}"
        )


class SparseConvTranspose3d(SparseConv3d):
    """Transposed sparse convolution back to the finer coordinate set of the same context
    (``stride=2``: from tensor stride ``2 s`` to ``s``). Weight ``(k**3, C_in, C_out)``; the dense
    equivalent is ``conv_transpose3d`` with ``W_dense[:, :, i, j, l] = weight[(i * k + j) * k + l]``."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2, stride: int = 2, bias: bool = False):
        super().__init__(in_channels, out_channels, kernel_size, stride, bias)


class SparseBatchNorm(nn.BatchNorm1d):
    """Batch norm over the rows of a sparse tensor (statistics over all voxels of the batch)."""

    def forward(self, x: SparseTensor) -> SparseTensor:  # type: ignore[override]
        return x.replace(super().forward(x.feats))


class SparseActivation(nn.Module):
    """Applies a feature-wise activation (a ``torch.nn`` module, default ReLU) to the features."""

    def __init__(self, fn: nn.Module | None = None):
        super().__init__()
        self.fn = fn if fn is not None else nn.ReLU(inplace=True)

    def forward(self, x: SparseTensor) -> SparseTensor:
        return x.replace(self.fn(x.feats))


class SparseReLU(SparseActivation):
    def __init__(self, inplace: bool = True):
        super().__init__(nn.ReLU(inplace=inplace))


class SparsePool3d(nn.Module):
    """Local ``max`` / ``avg`` pooling (avg over the inputs present in the window)."""

    def __init__(self, kernel_size: int = 2, stride: int = 2, mode: str = "max"):
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        self.kernel_size, self.stride, self.mode = kernel_size, stride, mode

    def forward(self, x: SparseTensor) -> SparseTensor:
        return x.backend.pool(x, self.kernel_size, self.stride, self.mode)


def global_pool(x: SparseTensor, mode: str = "mean") -> torch.Tensor:
    """``(batch_size, C)``: ``mean``, ``max`` or ``sum`` of each batch item's rows."""
    b = x.coords[:, 0].to(torch.int64)
    n, c = x.batch_size, x.num_channels
    feats = x.feats
    if mode in ("mean", "sum"):
        out = feats.new_zeros(n, c).index_add(0, b, feats)
        if mode == "mean":
            out = out / torch.bincount(b, minlength=n).clamp_min(1).to(feats.dtype).unsqueeze(1)
        return out
    if mode == "max":
        return feats.new_zeros(n, c).scatter_reduce(0, b.unsqueeze(1).expand(-1, c), feats, "amax", include_self=False)
    raise ValueError(f"global pool mode must be 'mean', 'max' or 'sum', got {mode!r}")


class SparseGlobalPool(nn.Module):
    """Module form of ``global_pool``."""

    def __init__(self, mode: str = "mean"):
        super().__init__()
        self.mode = mode

    def forward(self, x: SparseTensor) -> torch.Tensor:
        return global_pool(x, self.mode)
