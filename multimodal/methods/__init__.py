"""Methods: one file each, registered here in one dict (as solo-learn's ``METHODS``).

A method pairs data with an objective (see :class:`~multimodal.methods.base.Method`). A new method is one
file plus one line in :data:`METHODS`; a method outside this package is named in the config by its import
path, ``method.name: package.module:Class``.
"""
from __future__ import annotations

from ..plugins import resolve
from .base import Method
from .point_contrast import PointContrast
from .ppkt import PPKT
from .slidr import SLidR

METHODS: dict[str, type[Method]] = {
    "point_contrast": PointContrast,
    "ppkt": PPKT,
    "slidr": SLidR,
}


def method_class(name: str) -> type[Method]:
    """The method registered as ``name`` (or at the import path ``module:Class``)."""
    cls = resolve(METHODS, name, "method")
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise KeyError(f"method {name!r}: {cls!r} is not a multimodal.methods.Method")
    return cls
