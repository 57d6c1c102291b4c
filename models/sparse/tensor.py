"""The sparse tensor: features on a coordinate set owned by a backend's coordinate context.

A ``SparseTensor`` is ``feats (N, C)`` plus a reference to the coordinate context that owns its
coordinates ``(N, 4)`` int ``[batch, x, y, z]`` at tensor stride ``stride``. All tensors derived
from one voxelization share one context, as in MinkowskiEngine's coordinate manager: a strided
convolution adds the coarser set to it, a transposed convolution goes back to the finer set that is
already there, and kernel maps between the sets are computed once and cached in it. Ops that keep
coordinates (submanifold conv, norm, activation, concatenation) only change ``feats``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

if TYPE_CHECKING:
    from .backends.base import SparseBackend


class CoordinateContext(Protocol):
    """What every backend's context offers (the rest is the backend's own business)."""

    backend: SparseBackend
    batch_size: int

    def coords(self, stride: int) -> torch.Tensor:
        """``(N, 4)`` int32 ``[batch, x, y, z]`` of the set at tensor ``stride`` (x, y, z multiples
        of ``stride``, stride-1 voxel units)."""
        ...

    def num_rows(self, stride: int) -> int: ...

    def has_stride(self, stride: int) -> bool: ...


class SparseTensor:
    """Features ``(N, C)`` on the coordinate set of ``ctx`` at tensor ``stride``."""

    __slots__ = ("feats", "ctx", "stride")

    def __init__(self, feats: torch.Tensor, ctx: CoordinateContext, stride: int = 1) -> None:
        if feats.ndim != 2:
            raise ValueError(f"features must be (N, C), got shape {tuple(feats.shape)}")
        n = ctx.num_rows(stride)
        if feats.shape[0] != n:
            raise ValueError(f"features have {feats.shape[0]} rows, the coordinate set at stride {stride} has {n}")
        self.feats = feats
        self.ctx = ctx
        self.stride = stride

    @property
    def coords(self) -> torch.Tensor:
        """``(N, 4)`` int32 ``[batch, x, y, z]``."""
        return self.ctx.coords(self.stride)

    @property
    def backend(self) -> SparseBackend:
        return self.ctx.backend

    @property
    def num_channels(self) -> int:
        return int(self.feats.shape[1])

    @property
    def batch_size(self) -> int:
        return self.ctx.batch_size

    def __len__(self) -> int:
        return int(self.feats.shape[0])

    def replace(self, feats: torch.Tensor) -> SparseTensor:
        """Same coordinates, new features ``(N, C')``."""
        return SparseTensor(feats, self.ctx, self.stride)

    def __repr__(self) -> str:
        return (
            f"SparseTensor(rows={len(self)}, channels={self.num_channels}, stride={self.stride}, "
            f"backend={self.backend.name}, device={self.feats.device})"
        )


def sparse_tensor(coords: torch.Tensor, feats: torch.Tensor, backend: str | None = None) -> SparseTensor:
    """A stride-1 sparse tensor from unique coordinates ``(N, 4)`` int ``[batch, x, y, z]`` and
    features ``(N, C)``.

    Rows are put in coordinate key order (batch, then x, y, z): ``result.coords`` may be a
    permutation of ``coords``; ``result.feats`` follows it. Duplicate coordinates are an error
    (use ``voxelize`` to pool points that share a voxel).
    """
    from .backends import get_backend

    return get_backend(backend).from_coords(coords, feats)


def cat(*tensors: SparseTensor) -> SparseTensor:
    """Concatenate the features of tensors on the same coordinate set (U-Net skip connections)."""
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    first = tensors[0]
    for i, t in enumerate(tensors[1:], start=1):
        if t.ctx is not first.ctx or t.stride != first.stride:
            raise ValueError(
                f"cat: tensor {i} is on another coordinate set (stride {t.stride} vs {first.stride}, "
                f"same context: {t.ctx is first.ctx})"
            )
    return first.replace(torch.cat([t.feats for t in tensors], dim=1))
