"""The ``native`` backend: pure PyTorch on any device, the default.

Coordinate sets live as ascending int64 keys (``models/sparse/coords.py``), so every set is in key
order and a neighbour lookup is a ``searchsorted``; kernel maps come from
``models/sparse/kernel_map.py`` and the convolution from ``models/sparse/native_conv.py``.
"""
from __future__ import annotations

import torch

from ..coords import KeyPacking
from ..kernel_map import KernelMap, downsample, strided_map, submanifold_map
from ..native_conv import sparse_conv
from ..tensor import SparseTensor
from .base import SparseBackend, sort_coords


class NativeContext:
    """Coordinate sets by tensor stride, and the kernel maps between them, computed on demand
    and cached (``map_builds`` counts how many were computed, for tests and benchmarks)."""

    def __init__(
        self,
        backend: NativeBackend,
        coords: torch.Tensor,
        packing: KeyPacking | None = None,
        keys: torch.Tensor | None = None,
    ) -> None:
        self.backend = backend
        self.packing = packing if packing is not None else KeyPacking.for_coords(coords)
        if keys is None:
            keys = self.packing.pack(coords)
        self._coords: dict[int, torch.Tensor] = {1: coords.to(torch.int32)}
        self._keys: dict[int, torch.Tensor] = {1: keys}
        self._parent_rows: dict[int, torch.Tensor] = {}  # stride 2s -> (rows at s,) its row
        self._maps: dict[tuple[str, int, int], KernelMap] = {}
        self.map_builds = 0
        self.batch_size = int(coords[:, 0].max()) + 1 if coords.shape[0] else 0

    @property
    def device(self) -> torch.device:
        return self._keys[1].device

    def has_stride(self, stride: int) -> bool:
        return stride in self._keys

    def _require(self, stride: int) -> None:
        if stride not in self._keys:
            raise KeyError(f"no coordinate set at tensor stride {stride}; have {sorted(self._keys)}")

    def coords(self, stride: int) -> torch.Tensor:
        self._require(stride)
        if stride not in self._coords:
            self._coords[stride] = self.packing.unpack(self._keys[stride])
        return self._coords[stride]

    def keys(self, stride: int) -> torch.Tensor:
        """``(N,)`` ascending int64 keys of the set at ``stride``."""
        self._require(stride)
        return self._keys[stride]

    def num_rows(self, stride: int) -> int:
        self._require(stride)
        return int(self._keys[stride].numel())

    def ensure_downsampled(self, stride: int) -> int:
        """Create (once) the set at ``2 * stride``, the set at ``stride`` floored; return 2*stride."""
        out = 2 * stride
        if out not in self._keys:
            keys, coords, inverse = downsample(self.coords(stride), self.packing, out)
            self._keys[out] = keys
            self._coords[out] = coords
            self._parent_rows[out] = inverse
        return out

    def submanifold_map(self, stride: int, kernel_size: int) -> KernelMap:
        key = ("sub", stride, kernel_size)
        if key not in self._maps:
            self._maps[key] = submanifold_map(self.keys(stride), self.packing, kernel_size, stride, self.coords(stride))
            self.map_builds += 1
        return self._maps[key]

    def strided_map(self, stride: int, kernel_size: int) -> KernelMap:
        """Map from the set at ``stride`` to the set at ``2 * stride`` (created if needed)."""
        key = ("down", stride, kernel_size)
        if key not in self._maps:
            out = self.ensure_downsampled(stride)
            self._maps[key] = strided_map(
                self.coords(stride), self.keys(stride), self.keys(out), self._parent_rows[out],
                self.packing, kernel_size, stride,
            )
            self.map_builds += 1
        return self._maps[key]


class NativeBackend(SparseBackend):
    """Pure-PyTorch sparse convolution (CPU and CUDA)."""

    name = "native"

    def make_context(self, coords: torch.Tensor) -> NativeContext:
        return NativeContext(self, coords)

    def make_context_packed(self, coords: torch.Tensor, packing: KeyPacking, keys: torch.Tensor) -> NativeContext:
        """Context for coordinates whose ascending ``keys`` under ``packing`` are known (no re-packing)."""
        return NativeContext(self, coords, packing, keys)

    def from_coords(self, coords: torch.Tensor, feats: torch.Tensor) -> SparseTensor:
        packing, keys, order = sort_coords(coords, feats)
        ctx = NativeContext(self, coords.index_select(0, order).to(torch.int32), packing, keys)
        return SparseTensor(feats.index_select(0, order), ctx, 1)

    def _map(self, x: SparseTensor, kernel_size: int, stride: int, transposed: bool) -> tuple[KernelMap, int]:
        ctx: NativeContext = x.ctx  # type: ignore[assignment]
        if stride == 1:
            return ctx.submanifold_map(x.stride, kernel_size), x.stride
        if stride != 2:
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if not transposed:
            return ctx.strided_map(x.stride, kernel_size), 2 * x.stride
        if x.stride % 2 or not ctx.has_stride(x.stride // 2):
            raise ValueError(
                f"transposed convolution from tensor stride {x.stride} needs the finer set at stride "
                f"{x.stride // 2} in the same context (made by a strided convolution)"
            )
        return ctx.strided_map(x.stride // 2, kernel_size).transposed(), x.stride // 2

    def conv(
        self, x: SparseTensor, weight: torch.Tensor, kernel_size: int, stride: int, transposed: bool
    ) -> SparseTensor:
        kmap, out_stride = self._map(x, kernel_size, stride, transposed)
        return SparseTensor(sparse_conv(x.feats, weight, kmap), x.ctx, out_stride)

    def pool(self, x: SparseTensor, kernel_size: int, stride: int, mode: str) -> SparseTensor:
        kmap, out_stride = self._map(x, kernel_size, stride, transposed=False)
        feats = x.feats
        n_out, c = kmap.n_out, feats.shape[1]
        in_idx, out_idx = kmap.in_idx, kmap.out_idx
        if kmap.identity is not None:
            ar = torch.arange(kmap.n_in, device=feats.device)
            in_idx, out_idx = torch.cat([ar, in_idx]), torch.cat([ar, out_idx])
        g = feats.index_select(0, in_idx)
        index = out_idx.unsqueeze(1).expand(-1, c)
        if mode == "max":
            out = feats.new_zeros(n_out, c).scatter_reduce(0, index, g, "amax", include_self=False)
        elif mode == "avg":
            out = feats.new_zeros(n_out, c).index_add(0, out_idx, g)
            count = torch.bincount(out_idx, minlength=n_out).clamp_min(1).to(feats.dtype)
            out = out / count.unsqueeze(1)
        else:
            raise ValueError(f"pool mode must be 'max' or 'avg', got {mode!r}")
        return SparseTensor(out, x.ctx, out_stride)
