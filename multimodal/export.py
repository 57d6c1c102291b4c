"""Exported encoders: safetensors weights + a small JSON config, loadable without the training code
and without unpickling anything.

Layout of an encoder folder::

    encoder.json           {"format": "multimodal-encoder", "version": 1, "encoder": <registry name>,
                            "params": {...constructor keyword arguments...}, "contract": {...}, "meta": {...}}
    encoder.safetensors    the state dict
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from multimodal.models.registry import encoder_class
from multimodal.sensors.atomic import atomic_write, atomic_write_json

FORMAT, VERSION = "multimodal-encoder", 1


class EncoderFormatError(ValueError):
    """An encoder folder or checkpoint that cannot be loaded; the message names the file and why."""


def export_encoder(encoder: nn.Module, name: str, params: dict[str, Any], out_dir: str | os.PathLike,
                   meta: Optional[dict[str, Any]] = None) -> Path:
    """Write ``encoder`` (registered as ``name``, built with ``params``) to ``out_dir``; returns it.

    The weights are written before the JSON, each atomically, so a folder with an ``encoder.json`` is
    always complete.
    """
    from safetensors.torch import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in encoder.state_dict().items()}
    atomic_write(out / "encoder.safetensors", lambda f: f.write(save(state)))
    cls = encoder_class(name)
    contract = getattr(encoder, "contract", {})  # the instance's: it may state its own voxel size, stride ...
    atomic_write_json(out / "encoder.json", {
        "format": FORMAT, "version": VERSION, "encoder": name, "params": encoder_params(cls, params, str(out)),
        "contract": contract() if callable(contract) else contract, "meta": meta or {}}, indent=2)
    return out


def read_encoder_config(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON of an encoder folder (or of the ``encoder.json`` file itself), validated."""
    p = Path(path)
    cfg_path = p / "encoder.json" if p.is_dir() else p
    if not cfg_path.is_file():
        raise EncoderFormatError(f"{cfg_path}: no exported encoder here (expected encoder.json + encoder.safetensors)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise EncoderFormatError(f"{cfg_path}: not valid JSON ({e})") from e
    if cfg.get("format") != FORMAT:
        raise EncoderFormatError(f"{cfg_path}: format is {cfg.get('format')!r}, expected {FORMAT!r}")
    if cfg.get("version", 0) > VERSION:
        raise EncoderFormatError(f"{cfg_path}: version {cfg['version']} is newer than this code reads ({VERSION})")
    return cfg


def load_encoder(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Build the encoder an export folder describes and load its weights (eval mode).

    Raises :class:`EncoderFormatError` naming the file when the folder is incomplete or the weights do not
    fit the architecture in its JSON.
    """
    from safetensors.torch import load_file

    p = Path(path)
    folder = p if p.is_dir() else p.parent
    cfg = read_encoder_config(folder)
    try:
        cls = encoder_class(cfg["encoder"])
        model = cls(**encoder_params(cls, cfg.get("params", {}), str(folder / "encoder.json")))
    except (KeyError, TypeError, ValueError) as e:
        raise EncoderFormatError(f"{folder / 'encoder.json'}: cannot build encoder {cfg.get('encoder')!r} "
                                 f"with params {cfg.get('params')}: {e}") from e
    weights = folder / "encoder.safetensors"
    if not weights.is_file():
        raise EncoderFormatError(f"{weights}: weights file missing")
    state = load_file(str(weights), device=str(map_location))
    load_state_checked(model, state, str(weights))
    return model.eval()


# Keys older exports saved that are no longer part of an encoder's architecture (the sparse backend is
# now a run-time setting: an encoder trained on one backend serves on another).
_LEGACY_KEYS = ("backend",)


def encoder_params(cls: type, params: dict[str, Any], source: str) -> dict[str, Any]:
    """``params`` checked against ``cls.Params`` with defaults filled in; errors name ``source``."""
    from .typed_config import ConfigError, typed_params

    params = {k: v for k, v in params.items() if k not in _LEGACY_KEYS}
    try:
        return typed_params(cls, params, "params")
    except ConfigError as e:
        raise EncoderFormatError(f"{source}: {e}") from None


def load_state_checked(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict`` with an error that says which keys and shapes do not fit."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if shapes:
            parts.append(f"{len(shapes)} with other shapes (e.g. {shapes[:3]})")
        raise EncoderFormatError(f"{source}: weights are for a different architecture than "
                                 f"{type(model).__name__}: " + "; ".join(parts))
    model.load_state_dict(state)
