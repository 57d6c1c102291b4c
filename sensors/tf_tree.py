"""A transform tree (ROS ``tf`` / ``tf_static``) that answers "where was frame A in frame B at time t".

Edges are ``T_parent_from_child`` (a ROS ``TransformStamped`` with ``header.frame_id`` = parent and
``child_frame_id`` = child). Dynamic edges are interpolated at the query time (slerp + lerp)
and may be extrapolated by at most ``tolerance_us`` past their first / last sample.
"""
from __future__ import annotations

import bisect
from collections import defaultdict, deque

import numpy as np

from .errors import SensorLogError
from .geometry import interpolate_transform, invert


class TransformLookupError(SensorLogError, LookupError):
    """No chain of transforms connects two frames (or not at that time)."""


def _clean(frame: str) -> str:
    return frame.lstrip("/")


class TransformTree:
    """Static and time-stamped transforms between named frames."""

    def __init__(self) -> None:
        self.static: dict[tuple[str, str], np.ndarray] = {}
        self._dyn: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = defaultdict(list)
        self._sorted = True
        self._adj: dict[str, set[str]] = defaultdict(set)

    def add(self, parent: str, child: str, T_parent_from_child: np.ndarray, stamp_us: int = 0,
            static: bool = False) -> None:
        """Add one edge sample (``(4, 4)`` transform, time in µs)."""
        p, c = _clean(parent), _clean(child)
        if static:
            self.static[(p, c)] = np.asarray(T_parent_from_child, dtype=np.float64)
        else:
            self._dyn[(p, c)].append((int(stamp_us), np.asarray(T_parent_from_child, dtype=np.float64)))
            self._sorted = False
        self._adj[p].add(c)
        self._adj[c].add(p)

    @property
    def frames(self) -> set[str]:
        return set(self._adj)

    def __contains__(self, frame: str) -> bool:
        return _clean(frame) in self._adj

    def _edge(self, parent: str, child: str, t_us: int, tolerance_us: int) -> np.ndarray:
        if (parent, child) in self.static:
            return self.static[(parent, child)]
        if not self._sorted:
            for v in self._dyn.values():
                v.sort(key=lambda s: s[0])
            self._sorted = True
        samples = self._dyn[(parent, child)]
        times = [s[0] for s in samples]
        k = bisect.bisect_left(times, t_us)
        if k < len(times) and times[k] == t_us:
            return samples[k][1]
        if k == 0:
            if times[0] - t_us > tolerance_us:
                raise TransformLookupError(f"{parent} -> {child}: time {t_us} µs is {times[0] - t_us} µs before the "
                                           f"first transform (tolerance {tolerance_us} µs)")
            return samples[0][1]
        if k == len(times):
            if t_us - times[-1] > tolerance_us:
                raise TransformLookupError(f"{parent} -> {child}: time {t_us} µs is {t_us - times[-1]} µs after the "
                                           f"last transform (tolerance {tolerance_us} µs)")
            return samples[-1][1]
        t0, T0 = samples[k - 1]
        t1, T1 = samples[k]
        return interpolate_transform(T0, T1, (t_us - t0) / float(t1 - t0))

    def lookup(self, target: str, source: str, t_us: int = 0, tolerance_us: int = 100_000) -> np.ndarray:
        """``T_target_from_source`` at time ``t_us`` (µs), composed along the tree."""
        tgt, src = _clean(target), _clean(source)
        if tgt == src:
            return np.eye(4)
        for f in (tgt, src):
            if f not in self._adj:
                raise TransformLookupError(f"frame {f!r} is not in the transform tree (frames: {sorted(self._adj)})")
        prev: dict[str, str | None] = {src: None}
        queue = deque([src])
        while queue and tgt not in prev:
            f = queue.popleft()
            for g in self._adj[f]:
                if g not in prev:
                    prev[g] = f
                    queue.append(g)
        if tgt not in prev:
            raise TransformLookupError(f"no transform chain connects {src!r} to {tgt!r}")
        # Walk from target back to source, accumulating T_target_from_x.
        T = np.eye(4)
        node = tgt
        while prev[node] is not None:
            nxt = prev[node]  # one step closer to source
            if (node, nxt) in self.static or (node, nxt) in self._dyn:
                step = self._edge(node, nxt, t_us, tolerance_us)  # T_node_from_nxt
            else:
                step = invert(self._edge(nxt, node, t_us, tolerance_us))
            T = T @ step
            node = nxt
        return T
