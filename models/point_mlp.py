"""A per-point MLP (PointNet without pooling): the smallest LiDAR encoder, a baseline and a fast test model.

Input ``points (N, C_in) float32`` (x, y, z metres, intensity, ...) and ``batch (N,)`` sample index;
output ``(N, out_channels)``: one feature per input point. It sees no neighbours, so it can only learn
what a single point's coordinates tell; the sparse U-Nets see context.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


class PointMLP(nn.Module):
    """Per-point MLP; arguments: :class:`Params`."""

    @dataclass
    class Params:
        """The constructor's keyword arguments, typed and documented (configs are validated against it)."""

        in_channels: int = 4    # leading point columns read (x, y, z metres, intensity)
        hidden: int = 64        # width of the hidden layers
        out_channels: int = 32  # feature size per point
        layers: int = 3         # linear layers (layers - 1 hidden ones with batch norm and ReLU, then the output)

    # Which sensor the encoder reads; serving picks the ROS node by it.
    modality = "lidar"

    def __init__(self, in_channels: int = 4, hidden: int = 64, out_channels: int = 32, layers: int = 3):
        super().__init__()
        dims = [in_channels] + [hidden] * (layers - 1)
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            # no bias before batch norm: BN removes it, and its gradient would be pure rounding noise
            blocks += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        blocks.append(nn.Linear(dims[-1], out_channels))
        self.net = nn.Sequential(*blocks)
        self.in_channels, self.out_channels = in_channels, out_channels

    def contract(self) -> dict[str, Any]:
        """This encoder's input and output (an export records it)."""
        return {"input": f"points (N, >={self.in_channels}) float32 (x, y, z metres, intensity, ...), "
                         "batch (N,) int64 or None (unused: every point is encoded alone)",
                "output": f"features (N, {self.out_channels}) float32, one per input point",
                "in_channels": self.in_channels, "out_channels": self.out_channels}

    def forward(self, points: torch.Tensor, batch: torch.Tensor | None = None) -> torch.Tensor:
        if points.ndim != 2 or points.shape[1] < self.in_channels:
            raise ValueError(f"expected points (N, >={self.in_channels}), got {tuple(points.shape)}")
        return self.net(points[:, : self.in_channels])
