"""LiDAR encoders: sparse-convolution U-Nets over voxels, one feature per input point."""
from .minkunet import MinkUNet, MinkUNet14, MinkUNet18, MinkUNet34

__all__ = ["MinkUNet", "MinkUNet14", "MinkUNet18", "MinkUNet34"]
