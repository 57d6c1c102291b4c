"""The contract between the sparse API and a backend: a coordinate context and two ops."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..coords import KeyPacking
from ..tensor import CoordinateContext, SparseTensor


def sort_coords(coords: torch.Tensor, feats: torch.Tensor) -> tuple[KeyPacking, torch.Tensor, torch.Tensor]:
    """Packing, ascending keys and sorting order of unique coordinates ``(N, 4)``; raises on
    duplicates or a row-count mismatch with ``feats``."""
    if coords.ndim != 2 or coords.shape[1] != 4:
        raise ValueError(f"coords must be (N, 4) int [batch, x, y, z], got shape {tuple(coords.shape)}")
    if coords.shape[0] != feats.shape[0]:
        raise ValueError(f"coords have {coords.shape[0]} rows, feats {feats.shape[0]}")
    packing = KeyPacking.for_coords(coords)
    keys, order = torch.sort(packing.pack(coords))
    if keys.numel() > 1 and bool((keys[1:] == keys[:-1]).any()):
        raise ValueError("duplicate coordinates: pool points that share a voxel with models.sparse.voxelize")
    return packing, keys, order


class BackendUnavailable(ImportError):
    """A requested backend's library is not installed (the message says what to install)."""


class SparseBackend(ABC):
    """One implementation of the sparse ops that need coordinates and kernel maps.

    Everything that only touches features (norm, activation, concatenation, global pooling,
    devoxelization) is backend-independent and lives in the API modules.
    """

    name: str = ""

    @classmethod
    def missing(cls) -> str | None:
        """None when usable here, else what is missing and how to get it."""
        return None

    @abstractmethod
    def make_context(self, coords: torch.Tensor) -> CoordinateContext:
        """A context whose stride-1 set is ``coords`` ``(N, 4)`` int32, unique, in key order."""

    def from_coords(self, coords: torch.Tensor, feats: torch.Tensor) -> SparseTensor:
        """Stride-1 tensor from unique coordinates in any order (sorted into key order here)."""
        _, _, order = sort_coords(coords, feats)
        ctx = self.make_context(coords.index_select(0, order).to(torch.int32))
        return SparseTensor(feats.index_select(0, order), ctx, 1)

    @abstractmethod
    def conv(
        self, x: SparseTensor, weight: torch.Tensor, kernel_size: int, stride: int, transposed: bool
    ) -> SparseTensor:
        """Sparse convolution without bias.

        Args:
            x: input at tensor stride ``s``.
            weight: ``(kernel_size**3, C_in, C_out)``, kernel offsets in the order of
                ``multimodal.models.sparse.kernel_map.kernel_offsets`` (z fastest).
            kernel_size: cubic kernel edge.
            stride: 1 (submanifold: output coords = input coords) or 2 (``transposed=False``:
                output at ``2 s``; ``transposed=True``: output on the existing set at ``s / 2``).
        """

    @abstractmethod
    def pool(self, x: SparseTensor, kernel_size: int, stride: int, mode: str) -> SparseTensor:
        """Local ``max`` or ``avg`` pooling (avg = mean over the inputs present in the window);
        same coordinate rules as ``conv``."""
