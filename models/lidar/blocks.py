"""Residual building blocks of the sparse U-Nets (ResNet basic block on sparse tensors)."""
from __future__ import annotations

from torch import nn

from ..sparse import SparseBatchNorm, SparseConv3d, SparseConvTranspose3d, SparseTensor


class ConvBNReLU(nn.Module):
    """Sparse conv (no bias: the batch norm removes it), batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, transposed: bool = False):
        super().__init__()
        conv_cls = SparseConvTranspose3d if transposed else SparseConv3d
        self.conv = conv_cls(in_channels, out_channels, kernel_size=kernel_size, stride=stride)
        self.bn = SparseBatchNorm(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: SparseTensor) -> SparseTensor:
        y = self.bn(self.conv(x))
        return y.replace(self.relu(y.feats))


class BasicBlock(nn.Module):
    """``relu(bn(conv3(relu(bn(conv3(x))))) + shortcut(x))``, submanifold 3x3x3 convolutions;
    the shortcut is a 1x1x1 conv + batch norm when the channel count changes."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = SparseConv3d(in_channels, out_channels, kernel_size=3)
        self.bn1 = SparseBatchNorm(out_channels)
        self.conv2 = SparseConv3d(out_channels, out_channels, kernel_size=3)
        self.bn2 = SparseBatchNorm(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module | None = None
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(SparseConv3d(in_channels, out_channels, kernel_size=1), SparseBatchNorm(out_channels))

    def forward(self, x: SparseTensor) -> SparseTensor:
        y = self.bn1(self.conv1(x))
        y = self.bn2(self.conv2(y.replace(self.relu(y.feats))))
        identity = x if self.shortcut is None else self.shortcut(x)
        return y.replace(self.relu(y.feats + identity.feats))


def make_stage(in_channels: int, out_channels: int, blocks: int) -> nn.Sequential:
    """``blocks`` basic blocks, the first changing ``in_channels`` to ``out_channels``."""
    layers = [BasicBlock(in_channels, out_channels)]
    layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)
