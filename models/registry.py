"""Encoders by name: one line per encoder. ``build_encoder(name, **params)`` makes one from a config.

Each encoder class declares:

- ``Params``: a dataclass of its constructor's keyword arguments (same names and defaults, each typed
  and commented with its unit or meaning), against which configs are validated;
- ``modality``: the sensor it reads (``lidar``, ``camera``, ``audio``);
- ``contract()``: the instance's input and output (shapes, units, and values such as the LiDAR
  encoders' ``voxel_size_m`` or the camera's ``stride_px``), recorded in an export.
"""
from __future__ import annotations

import importlib

from torch import nn

# name -> "module:Class". A new encoder is one file plus one line here.
ENCODERS: dict[str, str] = {
    "point_mlp": "multimodal.models.point_mlp:PointMLP",
    "camera_resnet": "multimodal.models.camera_resnet:CameraResNet",
    "audio_cnn": "multimodal.models.audio_cnn:AudioCNN",
    "minkunet14": "multimodal.models.lidar.minkunet:MinkUNet14",
    "minkunet18": "multimodal.models.lidar.minkunet:MinkUNet18",
    "minkunet34": "multimodal.models.lidar.minkunet:MinkUNet34",
}


def encoder_class(name: str) -> type[nn.Module]:
    if name not in ENCODERS:
        raise KeyError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}")
    module, cls = ENCODERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_encoder(name: str, **params) -> nn.Module:
    """The encoder registered as ``name`` built with ``params`` (its constructor's keyword arguments)."""
    return encoder_class(name)(**params)
