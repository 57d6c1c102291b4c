"""Backend registry: a new backend is one file in this folder plus one line in ``BACKENDS``.

Choose a backend per call (``backend="minkowski"``), for the process with ``set_backend`` /
``use_backend`` (``multimodal.models.sparse.settings``) or ``$MULTIMODAL_SPARSE_BACKEND``; the default is
``native``. Encoders never store one: the backend is a run-time setting.
"""
from __future__ import annotations

from ..settings import backend_source, default_backend_name
from .base import BackendUnavailable, SparseBackend
from .minkowski import MinkowskiBackend
from .native import NativeBackend
from .spconv import SpconvBackend

BACKENDS: dict[str, type[SparseBackend]] = {
    "native": NativeBackend,
    "minkowski": MinkowskiBackend,
    "spconv": SpconvBackend,
}

_instances: dict[str, SparseBackend] = {}


def get_backend(name: str | None = None) -> SparseBackend:
    """The backend called ``name`` (default: the process setting, see ``settings.default_backend_name``).

    Raises:
        ValueError: unknown name.
        BackendUnavailable: its library is not installed here (the message says how to get it).
    """
    source = "argument" if name else backend_source()
    name = (name or default_backend_name()).lower()
    if name not in BACKENDS:
        raise ValueError(f"unknown sparse backend {name!r} (from {source}); choose one of {sorted(BACKENDS)}")
    if name not in _instances:
        cls = BACKENDS[name]
        reason = cls.missing()
        if reason is not None:
            raise BackendUnavailable(f"sparse backend {name!r} (from {source}) is not usable here: {reason}")
        _instances[name] = cls()
    return _instances[name]


def available_backends() -> dict[str, str | None]:
    """Every registered backend and why it is unusable here (None: usable)."""
    return {name: cls.missing() for name, cls in BACKENDS.items()}


__all__ = ["BACKENDS", "BackendUnavailable", "SparseBackend", "available_backends", "get_backend"]
