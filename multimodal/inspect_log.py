"""``multimodal inspect``: what is in a log (sensors, counts, rates, span, synchronization, bad records)."""
from __future__ import annotations

import datetime as _dt
from typing import Any

from multimodal.sensors.base import SensorLog


def check_frames(log: SensorLog, show_progress: bool = True, limit: int | None = None) -> dict[str, Any]:
    """Decode every frame (or the first ``limit``) so bad records are found and counted.

    Returns counts of frames read and of sensors per frame; the log's ``issues`` then hold the
    skipped-record counts.
    """
    n = len(log) if limit is None else min(limit, len(log))
    it = range(n)
    if show_progress:
        from tqdm import tqdm

        it = tqdm(it, desc="decoding frames", unit="frame")
    per_sensor: dict[str, int] = {}
    for i in it:
        frame = log[i]
        for name in frame.sensors:
            per_sensor[name] = per_sensor.get(name, 0) + 1
    return {"frames_decoded": n, "sensor_messages_decoded": per_sensor}


def _time(us: int | None) -> str:
    if us is None:
        return "-"
    return _dt.datetime.fromtimestamp(us / 1e6, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def format_summary(s: dict[str, Any]) -> str:
    """Human-readable text of :meth:`SensorLog.summary` (plus an optional ``check`` entry)."""
    lines = [f"log      {s['path']}", f"format   {s['format']}", f"frames   {s['frames']}",
             f"span     {_time(s['start_us'])} .. {_time(s['end_us'])}  ({s['duration_s']:.3f} s)", "",
             f"{'sensor':<36} {'kind':<11} {'count':>7} {'rate Hz':>9}  type / source"]
    for name, info in s["sensors"].items():
        lines.append(f"{name[:36]:<36} {info['kind']:<11} {info['count']:>7} {info['rate_hz']:>9.2f}  "
                     f"{info['msgtype']}  ({info['source']})")
    sync = s.get("sync")
    if sync and sync["streams"]:
        lines += ["", f"synchronization: reference {sync['reference']}, tolerance {sync['tolerance_us'] / 1000:.1f} ms",
                  f"{'stream':<36} {'matched':>8} {'missing':>8} {'unused':>7} {'max gap ms':>11} {'mean gap ms':>12}"]
        for name, st in sync["streams"].items():
            lines.append(f"{name[:36]:<36} {st['matched']:>8} {st['missing']:>8} {st['unused']:>7} "
                         f"{st['max_gap_us'] / 1000:>11.1f} {st['mean_gap_us'] / 1000:>12.1f}")
    if "check" in s:
        lines += ["", f"decoded {s['check']['frames_decoded']} frames"]
    lines += ["", "skipped / dropped records: " + (", ".join(f"{k}={v}" for k, v in s["issues"].items()) or "none")]
    for note in s.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
