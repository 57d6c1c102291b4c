"""The ``spconv`` backend: spconv 2.x behind our API, on CUDA only.

Why CUDA only: measured on CPU (spconv 2.3), (1) its backward calls ``torch.cuda.current_stream()``
and fails without CUDA, and (2) with more than one thread its CPU forward returns wrong values that
change from run to run (its CPU scatter-add races). We do not patch spconv's kernels, so a CPU
tensor is refused with that reason; use ``native`` on CPU. ``$MULTIMODAL_SPCONV_CPU_FORWARD=1``
lets the forward run on CPU anyway, for checking this adapter's coordinate and weight mapping
with one thread (tests/test_sparse_parity.py); it is not a supported mode.

Mapping: spconv wants non-negative grid indices at the current resolution, ``(N, 4)`` int32
``[batch, i, j, l]``; ours are ``[batch, x, y, z]`` in stride-1 units, multiples of the tensor
stride. The context shifts them by a multiple of 256 (so flooring commutes with the shift) and
divides by the stride. Weights: ours ``(k^3, C_in, C_out)`` with z fastest -> spconv's KRSC
``(C_out, k, k, k, C_in)``. Submanifold (odd k), stride-2 with kernel 2 (same output voxels as
ours and MinkowskiEngine's) and the transposed conv through spconv's inverse conv are supported;
spconv's stride-2 conv with kernel 3 has dense-conv output voxels (every cell a kernel window
touches), unlike ours, and is refused.
"""
from __future__ import annotations

import importlib
import itertools
import os
from types import ModuleType

import torch

from ..tensor import SparseTensor
from .base import SparseBackend

CPU_FORWARD_ENV = "MULTIMODAL_SPCONV_CPU_FORWARD"
_ALIGN = 256  # shift and grid size granularity: strides up to 256 floor the same way as ours
_CPU_REASON = (
    "the spconv backend runs on CUDA only: on CPU spconv 2.x's backward calls torch.cuda.current_stream() "
    "and its multi-threaded forward gives wrong results (docs/sparse.md); use backend 'native' on CPU"
)


def _import_spconv() -> ModuleType:
    return importlib.import_module("spconv.pytorch")


class SpconvContext:
    """spconv indices per tensor stride, and spconv's cached index pairs (its ``indice_dict``)."""

    def __init__(self, backend: SpconvBackend, coords: torch.Tensor) -> None:
        if not coords.is_cuda and os.environ.get(CPU_FORWARD_ENV) != "1":
            raise RuntimeError(_CPU_REASON)
        self.backend = backend
        self.batch_size = int(coords[:, 0].max()) + 1 if coords.shape[0] else 0
        xyz = coords[:, 1:].to(torch.int64)
        lo = torch.div(xyz.min(0).values, _ALIGN, rounding_mode="floor") * _ALIGN
        hi = xyz.max(0).values
        self.shift = lo.to(torch.int32)
        size = torch.div(hi - lo + _ALIGN, _ALIGN, rounding_mode="floor") * _ALIGN
        self._shape = {1: [int(v) for v in size]}
        self._coords = {1: coords.to(torch.int32)}
        self._indices = {1: self._to_indices(coords, 1)}
        self.indice_dict: dict = {}
        self._down_key: dict[int, str] = {}
        self._calls = itertools.count()

    def _to_indices(self, coords: torch.Tensor, stride: int) -> torch.Tensor:
        idx = coords.to(torch.int32).clone()
        idx[:, 1:] = torch.div(idx[:, 1:] - self.shift, stride, rounding_mode="floor")
        return idx.contiguous()

    def coords(self, stride: int) -> torch.Tensor:
        return self._coords[stride]

    def num_rows(self, stride: int) -> int:
        return int(self._coords[stride].shape[0])

    def has_stride(self, stride: int) -> bool:
        return stride in self._coords

    def spconv_tensor(self, feats: torch.Tensor, stride: int):
        spc = self.backend.spc
        return spc.SparseConvTensor(
            feats, self._indices[stride], self._shape[stride], self.batch_size, indice_dict=dict(self.indice_dict)
        )

    def add_strided(self, stride: int, out) -> None:
        """Record the output set of a stride-2 conv from ``stride`` (spconv's row order)."""
        out_stride = 2 * stride
        if out_stride not in self._indices:
            idx = out.indices.to(torch.int32)
            coords = idx.clone()
            coords[:, 1:] = idx[:, 1:] * out_stride + self.shift
            self._indices[out_stride] = idx.contiguous()
            self._coords[out_stride] = coords
            self._shape[out_stride] = [int(v) for v in out.spatial_shape]


class SpconvBackend(SparseBackend):
    name = "spconv"

    @classmethod
    def missing(cls) -> str | None:
        try:
            _import_spconv()
        except ImportError as err:
            return f"spconv is not importable ({err}); `pip install spconv-cu1xx` matching your CUDA (GPU only)"
        return None

    def __init__(self) -> None:
        self.spc = _import_spconv()
        self._modules: dict[tuple, torch.nn.Module] = {}

    def make_context(self, coords: torch.Tensor) -> SpconvContext:
        return SpconvContext(self, coords)

    def _module(self, kind: str, c_in: int, c_out: int, k: int, key: str, device: torch.device) -> torch.nn.Module:
        spec = (kind, c_in, c_out, k, key, str(device))
        if spec not in self._modules:
            spc = self.spc
            if kind == "subm":
                mod = spc.SubMConv3d(c_in, c_out, k, bias=False, indice_key=key)
            elif kind == "down":
                mod = spc.SparseConv3d(c_in, c_out, k, stride=2, bias=False, indice_key=key)
            else:
                mod = spc.SparseInverseConv3d(c_in, c_out, k, bias=False, indice_key=key)
            self._modules[spec] = mod.to(device)
        return self._modules[spec]

    @staticmethod
    def _weight(weight: torch.Tensor, k: int) -> torch.Tensor:
        c_in, c_out = weight.shape[1], weight.shape[2]
        # ours (k^3, C_in, C_out), offsets z fastest -> spconv KRSC (C_out, kx, ky, kz, C_in)
        return weight.reshape(k, k, k, c_in, c_out).permute(4, 0, 1, 2, 3).contiguous()

    def conv(
        self, x: SparseTensor, weight: torch.Tensor, kernel_size: int, stride: int, transposed: bool
    ) -> SparseTensor:
        ctx: SpconvContext = x.ctx  # type: ignore[assignment]
        c_in, c_out = weight.shape[1], weight.shape[2]
        if stride == 1:
            if kernel_size % 2 == 0:
                raise NotImplementedError("spconv backend: submanifold convolution needs an odd kernel size")
            kind, key, out_stride = "subm", f"subm_s{x.stride}_k{kernel_size}", x.stride
        elif stride != 2:
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        elif kernel_size != 2:
            raise NotImplementedError(
                "spconv backend: stride-2 convolution only with kernel 2 (spconv's kernel-3 output voxels differ)"
            )
        elif not transposed:
            # spconv refuses to recompute a non-submanifold key: one key per call (pairs rebuilt each time).
            key = f"down_s{x.stride}_{next(ctx._calls)}"
            kind, out_stride = "down", 2 * x.stride
            ctx._down_key[x.stride] = key
        else:
            fine = x.stride // 2
            if fine not in ctx._down_key:
                raise ValueError(f"transposed convolution from stride {x.stride} needs a stride-2 conv from {fine} first")
            kind, key, out_stride = "inverse", ctx._down_key[fine], fine
        mod = self._module(kind, c_in, c_out, kernel_size, key, x.feats.device)
        inp = ctx.spconv_tensor(x.feats, x.stride)
        out = torch.func.functional_call(mod, {"weight": self._weight(weight, kernel_size)}, (inp,))
        ctx.indice_dict.update(out.indice_dict)
        if kind == "down":
            ctx.add_strided(x.stride, out)
        return SparseTensor(out.features, ctx, out_stride)

    def pool(self, x: SparseTensor, kernel_size: int, stride: int, mode: str) -> SparseTensor:
        raise NotImplementedError("spconv backend: local pooling is not adapted (use native or minkowski)")
