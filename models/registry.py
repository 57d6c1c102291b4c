"""Encoders by name: one line per encoder. ``build_encoder(name, **params)`` makes one from a config.

Each encoder class declares ``contract`` (its input and output) as a class attribute.
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
