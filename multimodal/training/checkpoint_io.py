"""Checkpoint files written atomically and read without unpickling arbitrary objects."""
from __future__ import annotations

import io
from typing import Any, Optional

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from multimodal.sensors.atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file in the same folder, fsync, then rename over the target: a process that
    dies while writing leaves the last good checkpoint in place. Loads with ``weights_only=True``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write(path, lambda f: f.write(buf.getbuffer()))

    def load_checkpoint(self, path, map_location: Optional[Any] = None, weights_only: Optional[bool] = None) -> dict:
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)
