"""Process-wide switches of the sparse engine: the backend and deterministic mode.

The backend is a run-time setting, never part of a network's architecture: layers keep one weight
layout for every backend, and every forward reads the current setting, so an encoder trained with
one backend serves with another. Precedence: an explicit ``backend=`` argument of a call, then
:func:`set_backend` / :func:`use_backend`, then ``$MULTIMODAL_SPARSE_BACKEND``, then ``native``.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

BACKEND_ENV = "MULTIMODAL_SPARSE_BACKEND"
DEFAULT_BACKEND = "native"

_backend: Optional[str] = None  # set_backend's choice; None: the environment variable or the default
_deterministic = False


def default_backend_name() -> str:
    """The backend used when a call names none: :func:`set_backend`'s, else ``$MULTIMODAL_SPARSE_BACKEND``,
    else ``native``."""
    return _backend or os.environ.get(BACKEND_ENV, "").strip() or DEFAULT_BACKEND


def backend_source() -> str:
    """Where :func:`default_backend_name` took its answer from (for error messages)."""
    if _backend:
        return "set_backend / use_backend"
    return f"${BACKEND_ENV}" if os.environ.get(BACKEND_ENV, "").strip() else "the default"


def set_backend(name: Optional[str]) -> None:
    """Use backend ``name`` (``native``, ``minkowski``, ``spconv``) for every sparse tensor this process
    makes from now on, whatever the encoders' configs; ``None`` goes back to ``$MULTIMODAL_SPARSE_BACKEND``
    or ``native``. Raises ``ValueError`` for an unknown name and ``BackendUnavailable`` (with the reason)
    when its library is not installed, so a bad choice fails here, not at the first forward."""
    global _backend
    if name is not None:
        from .backends import get_backend  # the registry imports this module: resolve at call time

        name = get_backend(str(name).strip()).name
    _backend = name


def current_backend() -> Optional[str]:
    """:func:`set_backend`'s choice, or None when none is set."""
    return _backend


@contextmanager
def use_backend(name: Optional[str]) -> Iterator[None]:
    """Context manager form of :func:`set_backend` (process-wide while it lasts; the previous choice is
    restored on exit)::

        with use_backend("minkowski"):
            features = encoder(points, batch)
    """
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


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
