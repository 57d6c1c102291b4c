"""The ``minkowski`` backend: MinkowskiEngine 0.5.4 behind our API.

Optional; install with ``bash scripts/install_minkowski.sh`` (builds a CPU wheel once, see
docs/sparse.md). Our tensors keep their coordinates in MinkowskiEngine's coordinate manager (one per
context, as ME's own SparseTensor does), and convolutions call ME's autograd Functions with our
weight tensor, re-ordered from our kernel offset order to ME's. ME's own kernel maps (cached by
its coordinate manager) are used, so timings measure ME, not us.
"""
from __future__ import annotations

import importlib
import warnings
from functools import lru_cache
from types import ModuleType

import torch

from ..kernel_map import _offsets_list
from ..tensor import SparseTensor
from .base import SparseBackend

_INSTALL_HINT = "install it with `bash scripts/install_minkowski.sh` (builds MinkowskiEngine 0.5.4, CPU; docs/sparse.md)"


def _import_me() -> ModuleType:
    with warnings.catch_warnings():
        # A CPU-only build warns on import that it has no CUDA: that is what we built.
        warnings.filterwarnings("ignore", message=".*CPU_ONLY.*")
        return importlib.import_module("MinkowskiEngine")


class MinkowskiContext:
    """A MinkowskiEngine ``CoordinateManager`` and the map keys of our tensor strides."""

    def __init__(self, backend: MinkowskiBackend, coords: torch.Tensor) -> None:
        me = backend.me
        self.backend = backend
        self.device = coords.device
        map_type = me.CoordinateMapType.GPU if coords.is_cuda else me.CoordinateMapType.CPU
        self.manager = me.CoordinateManager(D=3, coordinate_map_type=map_type)
        key, (unique_map, _) = self.manager.insert_and_map(coords.to(torch.int32).contiguous(), [1, 1, 1])
        # Our row order must survive (devoxelize indexes it): ME keeps insertion order of unique rows.
        if unique_map.numel() != coords.shape[0] or not torch.equal(
            unique_map.to(torch.int64).cpu(), torch.arange(coords.shape[0])
        ):
            raise RuntimeError("MinkowskiEngine re-ordered unique coordinates on insertion; cannot keep row order")
        self._keys = {1: key}
        self._coords = {1: coords.to(torch.int32)}
        self.batch_size = int(coords[:, 0].max()) + 1 if coords.shape[0] else 0

    def key(self, stride: int):
        if stride not in self._keys:
            raise KeyError(f"no coordinate set at tensor stride {stride}; have {sorted(self._keys)}")
        return self._keys[stride]

    def has_stride(self, stride: int) -> bool:
        return stride in self._keys

    def strided_key(self, stride: int):
        """Key of the set at ``2 * stride`` (ME creates it from the set at ``stride`` once)."""
        out = 2 * stride
        if out not in self._keys:
            self._keys[out] = self.manager.stride(self.key(stride), [2, 2, 2])
        return self._keys[out]

    def coords(self, stride: int) -> torch.Tensor:
        if stride not in self._coords:
            self._coords[stride] = self.manager.get_coordinates(self.key(stride)).to(torch.int32)
        return self._coords[stride]

    def num_rows(self, stride: int) -> int:
        return int(self.manager.size(self.key(stride)))


class MinkowskiBackend(SparseBackend):
    name = "minkowski"

    @classmethod
    def missing(cls) -> str | None:
        try:
            _import_me()
        except ImportError as err:
            return f"MinkowskiEngine is not importable ({err}); {_INSTALL_HINT}"
        return None

    def __init__(self) -> None:
        self.me = _import_me()
        # ConvolutionMode is not re-exported at the package top level in 0.5.4.
        self._conv_mode = importlib.import_module("MinkowskiEngine.MinkowskiConvolution").ConvolutionMode.DEFAULT

    def make_context(self, coords: torch.Tensor) -> MinkowskiContext:
        return MinkowskiContext(self, coords)

    def _kernel_generator(self, kernel_size: int, stride: int):
        return self.me.KernelGenerator(kernel_size=kernel_size, stride=stride, dilation=1, dimension=3)

    def _keys(self, x: SparseTensor, stride: int, transposed: bool):
        ctx: MinkowskiContext = x.ctx  # type: ignore[assignment]
        in_key = ctx.key(x.stride)
        if stride == 1:
            return in_key, in_key, x.stride
        if stride != 2:
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if not transposed:
            return in_key, ctx.strided_key(x.stride), 2 * x.stride
        fine = x.stride // 2
        if x.stride % 2 or not ctx.has_stride(fine):
            raise ValueError(f"transposed convolution from tensor stride {x.stride} needs the finer set at stride {fine}")
        return in_key, ctx.key(fine), fine

    def conv(
        self, x: SparseTensor, weight: torch.Tensor, kernel_size: int, stride: int, transposed: bool
    ) -> SparseTensor:
        me = self.me
        in_key, out_key, out_stride = self._keys(x, stride, transposed)
        ctx: MinkowskiContext = x.ctx  # type: ignore[assignment]
        perm = me_kernel_order(kernel_size, self).to(weight.device)
        fn = me.MinkowskiConvolutionTransposeFunction if transposed else me.MinkowskiConvolutionFunction
        out = fn.apply(
            x.feats, weight.index_select(0, perm), self._kernel_generator(kernel_size, stride),
            self._conv_mode, in_key, out_key, ctx.manager,
        )
        return SparseTensor(out, ctx, out_stride)

    def pool(self, x: SparseTensor, kernel_size: int, stride: int, mode: str) -> SparseTensor:
        me = self.me
        modes = {"max": me.PoolingMode.LOCAL_MAX_POOLING, "avg": me.PoolingMode.LOCAL_AVG_POOLING}
        if mode not in modes:
            raise ValueError(f"pool mode must be 'max' or 'avg', got {mode!r}")
        in_key, out_key, out_stride = self._keys(x, stride, transposed=False)
        ctx: MinkowskiContext = x.ctx  # type: ignore[assignment]
        out = me.MinkowskiLocalPoolingFunction.apply(
            x.feats, modes[mode], self._kernel_generator(kernel_size, stride), in_key, out_key, ctx.manager
        )
        return SparseTensor(out, ctx, out_stride)


@lru_cache(maxsize=None)
def _me_kernel_order_cpu(kernel_size: int, backend: MinkowskiBackend) -> torch.Tensor:
    # Read ME's kernel offset order from ME itself: around one output voxel at the origin put every
    # voxel of a cube, ask ME for the kernel map, and see which input each kernel index reaches.
    me = backend.me
    ours = {o: i for i, o in enumerate(_offsets_list(kernel_size))}
    span = range(-kernel_size, kernel_size + 1)
    cube = torch.tensor([(0, x, y, z) for x in span for y in span for z in span], dtype=torch.int32)
    manager = me.CoordinateManager(D=3, coordinate_map_type=me.CoordinateMapType.CPU)
    key, _ = manager.insert_and_map(cube, [1, 1, 1])
    kmap = manager.kernel_map(key, key, stride=1, kernel_size=kernel_size)
    coords = manager.get_coordinates(key)
    origin = int(((coords[:, 1:] == 0).all(1)).nonzero()[0, 0])
    perm = torch.full((kernel_size**3,), -1, dtype=torch.int64)
    for me_index, in_out in kmap.items():
        in_rows, out_rows = in_out[0].long(), in_out[1].long()
        sel = in_rows[out_rows == origin]
        if sel.numel() != 1:
            continue
        offset = tuple(int(v) for v in coords[sel[0], 1:])
        if offset not in ours:
            raise RuntimeError(f"MinkowskiEngine kernel offset {offset} (k={kernel_size}) is outside our kernel region")
        perm[int(me_index)] = ours[offset]
    if bool((perm < 0).any()):
        raise RuntimeError(f"could not read MinkowskiEngine's kernel offset order for kernel size {kernel_size}")
    return perm


def me_kernel_order(kernel_size: int, backend: MinkowskiBackend) -> torch.Tensor:
    """``perm`` with ``weight_me = weight_ours[perm]`` (``(k**3,)`` int64)."""
    return _me_kernel_order_cpu(kernel_size, backend)
