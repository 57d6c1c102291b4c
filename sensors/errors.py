"""Errors and issue counting for log readers.

Every error names where the problem is (file, topic, message index, field) and what was
wrong, so a user can find the bad record in a multi-GB log. Readers in non-strict mode turn
a bad message into a warning plus a count in an :class:`IssueCounter` instead of raising.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("sensors")


class SensorLogError(Exception):
    """Base class of all errors raised by ``sensors``."""


class LogFormatError(SensorLogError, ValueError):
    """The path is not a log we can read (unknown format or storage)."""


class BadRecordError(SensorLogError, ValueError):
    """One record (a file of a table, a message of a bag) is malformed.

    Args:
        source: file path or topic name where the record lives.
        reason: what was wrong and what was expected.
        index: message index within the topic / record index, when known.
        field: the offending field (``row_step``, ``encoding``, ``filename`` ...), when known.
    """

    def __init__(self, source: str, reason: str, index: int | None = None, field: str | None = None):
        self.source = str(source)
        self.reason = reason
        self.index = index
        self.field = field
        where = self.source
        if index is not None:
            where += f" [message {index}]"
        if field is not None:
            where += f" field '{field}'"
        super().__init__(f"{where}: {reason}")


class MissingFileError(BadRecordError, FileNotFoundError):
    """A file referenced by a table (or a log) does not exist."""


class NoSuchSensorError(SensorLogError, KeyError):
    """A requested sensor / topic is not in the log."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


@dataclass
class IssueCounter:
    """Counts skipped records and dropped values per kind, and warns at a throttled rate.

    ``counts`` maps a kind (``"bad_message"``, ``"nonfinite_points"``, ``"unmatched:/topic"`` ...)
    to how many times it happened. The first ``warn_first`` of each kind are logged, then one
    in every ``warn_every``, so a log with a million bad messages does not flood the console.
    """

    strict: bool = False
    warn_first: int = 5
    warn_every: int = 1000
    counts: Counter = field(default_factory=Counter)

    def add(self, kind: str, n: int = 1, message: str | None = None) -> None:
        if n <= 0:
            return
        before = self.counts[kind]
        self.counts[kind] += n
        if message is not None and (before < self.warn_first or (before // self.warn_every) != (self.counts[kind] // self.warn_every)):
            log.warning("%s (%s: %d so far)", message, kind, self.counts[kind])

    def skip(self, err: BadRecordError, kind: str = "bad_message") -> None:
        """Record a bad record: raise it in strict mode, otherwise warn and count it."""
        if self.strict:
            raise err
        self.add(kind, 1, f"skipped: {err}")

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
