"""Process-wide switches of the sparse engine: default backend and deterministic mode."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

BACKEND_ENV = "MULTIMODAL_SPARSE_BACKEND"
DEFAULT_BACKEND = "native"

_deterministic = False


def default_backend_name() -> str:
    """The backend used when none is named: ``$MULTIMODAL_SPARSE_BACKEND`` or ``native``."""
    return os.environ.get(BACKEND_ENV, "").strip() or DEFAULT_BACKEND


def set_deterministic(enabled: bool) -> None:
    """Bitwise-reproducible results on CUDA too (slower scatters); CPU is deterministic anyway."""
    global _deterministic
    _deterministic = bool(enabled)


def deterministic_enabled() -> bool:
    return _deterministic


@contextmanager
def deterministic(enabled: bool = True) -> Iterator[None]:
    """Context manager form of ``set_deterministic``."""
    previous = _deterministic
    set_deterministic(enabled)
    try:
        yield
    finally:
        set_deterministic(previous)
