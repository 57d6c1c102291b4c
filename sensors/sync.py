"""Timestamp synchronization of sensor streams with an explicit tolerance.

A frame is built around one *reference* stream (usually the LiDAR); every other stream
contributes the message closest in time, if it is within ``tolerance_us``. Matching is
one-to-one by default: a 12 Hz camera cannot fill two 20 Hz LiDAR frames with the same image.
Whatever cannot be matched is counted in a :class:`SyncReport`, never silently paired.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StreamSync:
    """How one stream matched the reference.

    Attributes:
        matched: reference frames that got a message of this stream.
        missing: reference frames without one (nothing within tolerance).
        unused: messages of this stream that went into no frame.
        max_gap_us / mean_gap_us: |t_message - t_reference| over matched pairs (µs).
    """

    matched: int = 0
    missing: int = 0
    unused: int = 0
    max_gap_us: int = 0
    mean_gap_us: float = 0.0


@dataclass
class SyncReport:
    """Synchronization summary of a log: reference stream, tolerance and one entry per stream."""

    reference: str
    tolerance_us: int
    streams: dict[str, StreamSync] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "reference": self.reference,
            "tolerance_us": self.tolerance_us,
            "streams": {k: vars(v).copy() for k, v in self.streams.items()},
        }


def match_nearest(ref_us: np.ndarray, other_us: np.ndarray, tolerance_us: int, unique: bool = True) -> np.ndarray:
    """For each reference time, the index of the nearest ``other`` time within the tolerance.

    Args:
        ref_us: ``(R,)`` int64 reference timestamps, µs (any order).
        other_us: ``(M,)`` int64 timestamps of the stream to match, µs (any order).
        tolerance_us: largest accepted ``|t_other - t_ref|``, µs (inclusive).
        unique: each ``other`` message is used at most once; conflicts go to the closest pair.

    Returns:
        ``(R,)`` int64 indices into ``other_us``; -1 where nothing matched.
    """
    ref = np.asarray(ref_us, dtype=np.int64)
    oth = np.asarray(other_us, dtype=np.int64)
    out = np.full(ref.shape[0], -1, dtype=np.int64)
    if ref.size == 0 or oth.size == 0:
        return out
    order = np.argsort(oth, kind="stable")
    s = oth[order]
    pos = np.searchsorted(s, ref)
    lo = np.clip(pos - 1, 0, s.size - 1)
    hi = np.clip(pos, 0, s.size - 1)
    gap_lo = np.abs(ref - s[lo])
    gap_hi = np.abs(s[hi] - ref)
    best = np.where(gap_hi < gap_lo, hi, lo)
    gap = np.minimum(gap_lo, gap_hi)
    ok = gap <= tolerance_us
    cand = np.where(ok, order[best], -1)
    if not unique:
        return cand
    # Resolve conflicts: closest pair wins; losers try their other neighbour inside tolerance.
    used: set[int] = set()
    for r in np.argsort(np.where(ok, gap, np.iinfo(np.int64).max), kind="stable"):
        if not ok[r]:
            break
        options = sorted({int(lo[r]), int(hi[r])}, key=lambda k: abs(int(s[k]) - int(ref[r])))
        for k in options:
            j = int(order[k])
            if abs(int(s[k]) - int(ref[r])) <= tolerance_us and j not in used:
                used.add(j)
                out[r] = j
                break
    return out


def summarize_match(ref_us: np.ndarray, other_us: np.ndarray, match: np.ndarray) -> StreamSync:
    """Counts and gaps of a :func:`match_nearest` result."""
    ref = np.asarray(ref_us, dtype=np.int64)
    oth = np.asarray(other_us, dtype=np.int64)
    ok = match >= 0
    gaps = np.abs(oth[match[ok]] - ref[ok]) if ok.any() else np.zeros(0, dtype=np.int64)
    return StreamSync(
        matched=int(ok.sum()),
        missing=int((~ok).sum()),
        unused=int(oth.size - np.unique(match[ok]).size),
        max_gap_us=int(gaps.max()) if gaps.size else 0,
        mean_gap_us=float(gaps.mean()) if gaps.size else 0.0,
    )
