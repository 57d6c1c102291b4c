"""MinkUNet: the sparse residual U-Net of Choy et al. (4D Spatio-Temporal ConvNets, CVPR 2019),
the LiDAR encoder of PointContrast and SLidR, on our sparse API (any backend).

Input: ``points (N, >=in_channels) float32`` (x, y, z metres in the sensor or ego frame, intensity,
...) and ``batch (N,)`` int sample index. The points are voxelized at ``voxel_size`` metres (voxel
features: the mean of the points' first ``in_channels`` columns), run through the U-Net (tensor
strides 1 -> 16 -> 1), and every point gets its voxel's feature: output ``(N, out_channels)``.
The voxel size is part of the encoder's declared contract (``contract()["voxel_size_m"]``); the
sparse backend is not: it is the run-time setting of ``multimodal.models.sparse.settings``
(``use_backend("minkowski")``), read at every forward, so the same weights serve on any backend.

Layout (``layers`` = blocks per stage, ``planes`` = channels per stage, 4 down + 4 up)::

    conv k5 -> [conv k2 s2, stage 1..4]        (encoder, strides 2, 4, 8, 16)
            -> [transposed conv k2 s2, cat skip, stage 5..8]  (decoder, strides 8, 4, 2, 1)
            -> conv k1 (bias) -> devoxelize
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import nn

from ..sparse import SparseConv3d, SparseTensor, cat, devoxelize, voxelize
from .blocks import ConvBNReLU, make_stage

DEFAULT_PLANES = (32, 64, 128, 256, 256, 128, 96, 96)


class MinkUNet(nn.Module):
    """Sparse residual U-Net; see the module docstring for input and output. Arguments: :class:`Params`."""

    @dataclass
    class Params:
        """The constructor's keyword arguments, typed and documented (configs are validated against it)."""

        in_channels: int = 4                      # leading point columns used as voxel features (x, y, z metres, intensity)
        out_channels: int = 64                    # feature size per point
        voxel_size: float = 0.1                   # voxel edge, metres
        layers: Optional[tuple[int, ...]] = None  # 8 block counts (4 encoder, 4 decoder stages); None: the variant's LAYERS
        planes: tuple[int, ...] = DEFAULT_PLANES  # 8 channel widths, one per stage
        init_dim: int = 32                        # channels of the stem (the k5 convolution)

    # Which sensor the encoder reads; serving picks the ROS node by it.
    modality = "lidar"
    LAYERS: ClassVar[tuple[int, ...]] = (1, 1, 1, 1, 1, 1, 1, 1)

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 64,
        voxel_size: float = 0.1,
        layers: Optional[Sequence[int]] = None,
        planes: Sequence[int] = DEFAULT_PLANES,
        init_dim: int = 32,
    ):
        super().__init__()
        layers = tuple(layers) if layers is not None else self.LAYERS
        planes = tuple(planes)
        if len(layers) != 8 or len(planes) != 8:
            raise ValueError(f"layers and planes need 8 entries (4 down, 4 up stages), got {len(layers)} and {len(planes)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.voxel_size = float(voxel_size)
        self.layers, self.planes = layers, planes

        self.stem = ConvBNReLU(in_channels, init_dim, kernel_size=5)
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        widths = [init_dim]  # channels of the skip at stride 1, 2, 4, 8
        c = init_dim
        for i in range(4):
            self.down.append(ConvBNReLU(c, c, kernel_size=2, stride=2))
            self.enc.append(make_stage(c, planes[i], layers[i]))
            c = planes[i]
            widths.append(c)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(4):
            skip = widths[3 - i]
            self.up.append(ConvBNReLU(c, planes[4 + i], kernel_size=2, stride=2, transposed=True))
            self.dec.append(make_stage(planes[4 + i] + skip, planes[4 + i], layers[4 + i]))
            c = planes[4 + i]
        self.head = SparseConv3d(c, out_channels, kernel_size=1, bias=True)

    def contract(self) -> dict[str, Any]:
        """This encoder's input and output (an export records it): the voxel size is part of it."""
        return {
            "input": f"points (N, >={max(3, self.in_channels)}) float32 (x, y, z metres, intensity, ...), "
                     "batch (N,) int64 or None",
            "output": f"features (N, {self.out_channels}) float32, one per input point (devoxelized)",
            "voxel_size_m": self.voxel_size,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
        }

    def voxelize(self, points: torch.Tensor, batch: torch.Tensor | None = None) -> tuple[SparseTensor, torch.Tensor]:
        """The encoder's own voxelization: ``(stride-1 tensor (V, in_channels), point_to_voxel (N,))``, voxels
        of ``voxel_size`` metres, features the mean of their points' first ``in_channels`` columns."""
        if points.ndim != 2 or points.shape[1] < max(3, self.in_channels):
            raise ValueError(f"expected points (N, >={max(3, self.in_channels)}) float, got {tuple(points.shape)}")
        return voxelize(points, self.voxel_size, batch=batch, feats=points[:, : self.in_channels])

    def forward_sparse(self, x: SparseTensor) -> SparseTensor:
        """The U-Net on a stride-1 sparse tensor ``(N_voxels, in_channels)`` -> ``(N_voxels, out_channels)``."""
        skips = [self.stem(x)]
        y = skips[0]
        for down, enc in zip(self.down, self.enc):
            y = enc(down(y))
            skips.append(y)
        skips.pop()  # the deepest output is not a skip
        for up, dec in zip(self.up, self.dec):
            y = dec(cat(up(y), skips.pop()))
        return self.head(y)

    def forward(self, points: torch.Tensor, batch: torch.Tensor | None = None) -> torch.Tensor:
        """``points (N, >=in_channels)``, ``batch (N,)`` -> ``(N, out_channels)``, one row per point."""
        x, point_to_voxel = self.voxelize(points, batch)
        return devoxelize(self.forward_sparse(x), point_to_voxel)


class MinkUNet14(MinkUNet):
    """MinkUNet with one basic block per stage."""

    LAYERS = (1, 1, 1, 1, 1, 1, 1, 1)


class MinkUNet18(MinkUNet):
    """MinkUNet with two basic blocks per stage."""

    LAYERS = (2, 2, 2, 2, 2, 2, 2, 2)


class MinkUNet34(MinkUNet):
    """MinkUNet with 2, 3, 4, 6 encoder blocks and 2 per decoder stage (MinkowskiEngine's MinkUNet34)."""

    LAYERS = (2, 3, 4, 6, 2, 2, 2, 2)
