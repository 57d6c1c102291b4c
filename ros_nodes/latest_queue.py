"""A bounded, thread-safe queue where the newest message wins: when full, the oldest entry is dropped
(and counted), so a node that falls behind always works on the freshest sensor data and its memory
stays bounded however fast the input comes."""
from __future__ import annotations

import threading
from collections import deque
from typing import Generic, Optional, TypeVar

T = TypeVar("T")


class LatestQueue(Generic[T]):
    """Holds at most ``maxlen`` items; :meth:`put` on a full queue drops the oldest."""

    def __init__(self, maxlen: int):
        if maxlen < 1:
            raise ValueError(f"queue size must be >= 1, got {maxlen}")
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: T) -> bool:
        """Add ``item``; returns True when an older item was dropped to make room."""
        with self._cond:
            dropped = len(self._items) >= self._maxlen
            if dropped:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()
            return dropped

    def get_many(self, max_items: int, timeout: Optional[float] = None) -> list[T]:
        """Up to ``max_items`` items, oldest first, waiting up to ``timeout`` s for the first; [] on timeout/close."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            n = min(max_items, len(self._items))
            return [self._items.popleft() for _ in range(n)]

    def close(self) -> None:
        """Wake every waiter; later gets return what is left, then []."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
