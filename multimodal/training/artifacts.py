"""A run's artifacts: reading a training checkpoint back into its module, and exporting every encoder of
the module. Used by training (resume, export at the end) and by ``multimodal export``: one of each."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch

from ..export import EncoderFormatError, export_encoder, load_state_checked


def read_checkpoint(ckpt: str | os.PathLike) -> dict[str, Any]:
    """A Lightning checkpoint as plain data (``weights_only``: nothing arbitrary is unpickled)."""
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise EncoderFormatError(f"{ckpt}: no checkpoint (train first, or check the run folder)")
    try:
        return torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, not a torch file, pickled objects outside the allow-list
        raise EncoderFormatError(f"{ckpt}: cannot read this checkpoint ({type(e).__name__}: {e})") from e


def load_weights(module: torch.nn.Module, ckpt: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint's weights into ``module``, checking they fit its architecture; returns the checkpoint."""
    state = read_checkpoint(ckpt)
    load_state_checked(module, state.get("state_dict", {}), str(ckpt))
    return state


def module_from_checkpoint(ckpt: str | os.PathLike):
    """The :class:`SSLModule` a checkpoint was written by (built from the config inside it), weights loaded."""
    from .module import SSLModule

    state = read_checkpoint(ckpt)
    config = state.get("hyper_parameters", {}).get("config")
    if config is None:
        raise EncoderFormatError(f"{ckpt}: no run config inside; not a multimodal training checkpoint")
    module = SSLModule(config)
    load_state_checked(module, state["state_dict"], str(ckpt))
    return module, state


def export_encoders(module, out_root: str | os.PathLike, meta: Optional[dict[str, Any]] = None,
                    modalities: Optional[list[str]] = None) -> dict[str, Path]:
    """Write every encoder of ``module`` (or those in ``modalities``) to ``out_root/<modality>/``.

    Each folder is a complete exported encoder (safetensors + JSON), loadable with
    :func:`multimodal.load_encoder`. Returns modality -> folder.
    """
    cfg = module.cfg
    wanted = list(module.encoders) if modalities is None else list(modalities)
    unknown = [m for m in wanted if m not in module.encoders]
    if unknown:
        raise EncoderFormatError(f"this run has no {', '.join(unknown)} encoder (it has {', '.join(module.encoders)})")
    out = {}
    for modality in wanted:
        enc_cfg = getattr(cfg.model, modality)
        info = {"method": cfg.method.name, "objective": cfg.objective_name(), "modality": modality, **(meta or {})}
        out[modality] = export_encoder(module.encoders[modality], enc_cfg.name, dict(enc_cfg.params),
                                       Path(out_root) / modality, meta=info)
    return out
