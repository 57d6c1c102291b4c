"""A log opened lazily in each process: datasets hold the path and options, never an open reader
(readers hold file handles that must not cross into dataloader worker processes)."""
from __future__ import annotations

import os
from typing import Any

from multimodal.sensors import SensorLog, open_log


class LogSource:
    """``open_log(path, **options)`` on first use in this process."""

    def __init__(self, path: str | os.PathLike, **options: Any):
        self.path = str(path)
        self.options = options
        self._log: SensorLog | None = None
        self._pid: int | None = None

    @property
    def log(self) -> SensorLog:
        if self._log is None or self._pid != os.getpid():
            self._log = open_log(self.path, **self.options)
            self._pid = os.getpid()
        return self._log

    def __getstate__(self) -> dict:
        return {"path": self.path, "options": self.options, "_log": None, "_pid": None}
