"""Camera encoder: a torchvision ResNet trunk with a light FPN-style decoder to a dense feature map.

Input ``(B, 3, H, W)`` float32 RGB in [0, 1] (:func:`images_to_float` makes it from uint8 images); the
encoder applies the ImageNet mean/std itself (:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`), so an
exported encoder is self-contained. Output ``(B, C, H / stride, W / stride)`` (``stride`` 4 or 8), so
the feature of a pixel ``(u, v)`` (e.g. a projected LiDAR point) is at ``(v // stride, u // stride)``.
H and W must be multiples of 32 (:func:`pad_images` pads with the mean colour, which normalizes to 0).
Weights start random or come from a local file; nothing is downloaded at run time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_TRUNKS = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}


class CameraResNet(nn.Module):
    """ResNet-{18,34,50} trunk + top-down decoder; arguments: :class:`Params`.

    ``weights_path``: a local torchvision ResNet state dict (``.pth`` loaded with ``weights_only=True``,
    or ``.safetensors``) for the trunk, trained on ImageNet-normalized input as this encoder feeds it.
    ``freeze_trunk``: keep the trunk fixed (a frozen teacher, as SLidR does): no gradients, batch norm
    in eval mode even while training.
    """

    @dataclass
    class Params:
        """The constructor's keyword arguments, typed and documented (configs are validated against it)."""

        depth: int = 18                     # ResNet depth: 18, 34 or 50
        out_channels: int = 64              # channels of the output feature map
        stride: int = 4                     # output stride in pixels: 4 or 8
        weights_path: Optional[str] = None  # local torchvision ResNet state dict for the trunk (.pth or .safetensors)
        freeze_trunk: bool = False          # frozen trunk: no gradients, batch norm statistics fixed

    # Which sensor the encoder reads; serving picks the ROS node by it.
    modality = "camera"

    def __init__(self, depth: int = 18, out_channels: int = 64, stride: int = 4, weights_path: Optional[str] = None,
                 freeze_trunk: bool = False):
        super().__init__()
        if depth not in _TRUNKS:
            raise ValueError(f"depth must be one of {sorted(_TRUNKS)}, got {depth}")
        if stride not in (4, 8):
            raise ValueError(f"stride must be 4 or 8, got {stride}")
        self.depth, self.out_channels, self.stride, self.freeze_trunk = depth, out_channels, stride, freeze_trunk
        # Input normalization inside the encoder; not persistent, so the state dict keys stay the trunk's.
        self.register_buffer("input_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        trunk = _TRUNKS[depth](weights=None)
        if weights_path:
            trunk.load_state_dict(_load_state_dict(weights_path), strict=False)
        self.stem = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool)
        self.layers = nn.ModuleList([trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4])
        widths = [64, 128, 256, 512] if depth < 50 else [256, 512, 1024, 2048]
        self.lateral = nn.ModuleList([nn.Conv2d(w, out_channels, 1) for w in widths])
        self.head = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
                                  nn.ReLU(inplace=True), nn.Conv2d(out_channels, out_channels, 1))
        if freeze_trunk:
            for p in [*self.stem.parameters(), *self.layers.parameters()]:
                p.requires_grad_(False)

    def contract(self) -> dict[str, Any]:
        """This encoder's input and output (an export records it)."""
        return {"input": "images (B, 3, H, W) float32 RGB in [0, 1] (ImageNet mean/std applied inside), "
                         "H and W multiples of 32",
                "output": f"features (B, {self.out_channels}, H/{self.stride}, W/{self.stride}) float32",
                "stride_px": self.stride, "size_multiple_px": 32, "out_channels": self.out_channels,
                "input_range": [0.0, 1.0], "normalization_mean": list(IMAGENET_MEAN),
                "normalization_std": list(IMAGENET_STD)}

    def train(self, mode: bool = True) -> "CameraResNet":
        super().train(mode)
        if self.freeze_trunk:  # frozen statistics too, not only frozen weights
            self.stem.eval()
            self.layers.eval()
        return self

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` float RGB in [0, 1] -> ImageNet-normalized, what the trunk sees (forward does it)."""
        return (images - self.input_mean) / self.input_std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` float RGB in [0, 1] -> ``(B, out_channels, H / stride, W / stride)``."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"expected float RGB in [0, 1], got {images.dtype} (uint8 images: images_to_float)")
        H, W = images.shape[-2:]
        if H % 32 or W % 32:
            raise ValueError(f"image size {W}x{H} must be a multiple of 32 (pad_images or resize first)")
        x = self.stem(self.normalize(images))
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        # Top-down: start at stride 32, add each finer lateral down to the output stride.
        finest = 0 if self.stride == 4 else 1
        y = self.lateral[3](feats[3])
        for i in (2, 1, 0):
            if i < finest:
                break
            y = F.interpolate(y, size=feats[i].shape[-2:], mode="bilinear", align_corners=False) + self.lateral[i](feats[i])
        return self.head(y)


def _load_state_dict(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"camera trunk weights {path} do not exist (nothing is downloaded)")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def images_to_float(images_uint8: torch.Tensor) -> torch.Tensor:
    """``(B, H, W, 3) uint8`` RGB -> ``(B, 3, H, W) float32`` RGB in [0, 1], the encoder's input."""
    if images_uint8.ndim != 4 or images_uint8.shape[-1] != 3 or images_uint8.dtype != torch.uint8:
        raise ValueError(f"expected (B, H, W, 3) uint8 RGB, got {tuple(images_uint8.shape)} {images_uint8.dtype}")
    return images_uint8.permute(0, 3, 1, 2).float() / 255.0


def pad_images(images: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    """``(B, 3, H, W)`` float RGB in [0, 1] padded at the right and bottom to multiples of ``multiple``
    pixels with the ImageNet mean colour (0 after the encoder's normalization)."""
    B, C, H, W = images.shape
    ph, pw = (-H) % multiple, (-W) % multiple
    if not ph and not pw:
        return images
    out = images.new_tensor(IMAGENET_MEAN).view(1, C, 1, 1).expand(B, C, H + ph, W + pw).clone()
    out[:, :, :H, :W] = images
    return out
