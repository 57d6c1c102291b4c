"""Indexing a media file by demuxing only (no decoding): the packets' times, the frame times, stream facts.

:func:`probe_media` reads every packet header of the best video and audio streams once and returns a
:class:`MediaIndex`. Video ``pts`` are kept in presentation order (discarded and empty packets left out,
repeated ``pts`` indexed once), so the frame count is exact, not the container's estimate. What is odd
about the file (truncation, packets without timestamps, more frames declared than found ...) goes into
``notes`` and ``issues``.

Time base: every ``*_us`` is ``int`` microseconds relative to the *video stream's* start (its
``start_time``, else its first packet) plus ``start_us``; audio uses the same origin. A file without
video uses the audio stream's start as origin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np

from ..errors import BadRecordError, IssueCounter, LogFormatError
from .common import ffmpeg_reason, pts_to_us


@dataclass
class MediaIndex:
    """What one demux pass learned about a media file (``F`` video packets, ``P`` audio packets)."""

    container_format: str
    video_index: int | None  # stream index of the video, None without a video stream
    audio_index: int | None  # stream index of the audio, None without an audio stream
    vpts_all: np.ndarray  # (F,) int64 video pts, presentation order, unique
    keyframes: list[int]  # sorted pts of key frames
    corrupt_pts: set[int]  # pts of video packets the demuxer flagged corrupt
    vtb: Fraction  # video time base (s per tick); 1 without video
    origin_pts: int  # video pts of the time origin
    origin_s: float  # stream time (s) of the time origin (``start_us``)
    t_all: np.ndarray  # (F,) int64 µs of every video frame
    video_end_us: int  # end of the last frame's display (µs)
    sel: np.ndarray  # (n,) int64 positions in ``t_all`` of the log's frames (after ``fps`` subsampling)
    t: np.ndarray  # (n,) int64 µs: frame times of the log
    ends: np.ndarray  # (n,) int64 µs: where each frame's interval ends (the next frame, or the video end)
    video_info: dict | None = None
    audio_info: dict | None = None
    apts_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (P,) sorted audio packet µs
    aend_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (P,) their ends (µs)
    out_rate: int | None = None  # output audio rate (Hz); None: audio is not decoded
    out_channels: int = 1  # output audio channels


@dataclass
class _Packets:
    """Per-packet facts of one demux pass (stream time-base ticks), in demux order."""

    vpts: list[int] = field(default_factory=list)
    vdur: list[int] = field(default_factory=list)
    vkey: list[int] = field(default_factory=list)
    vcorrupt: set[int] = field(default_factory=set)
    apts: list[int] = field(default_factory=list)
    adur: list[int] = field(default_factory=list)


class _Probe:
    """One indexing pass; ``notes`` / ``issues`` are the log's, filled in file order."""

    def __init__(self, path: str, notes: list[str], issues: IssueCounter, start_us: int):
        self.path, self.notes, self.issues, self.start_us = path, notes, issues, start_us

    def pick_streams(self, container: Any) -> tuple[Any, Any]:
        """The best video and audio streams (None where the file has none)."""
        videos = list(container.streams.video)
        audios = list(container.streams.audio)
        if not videos and not audios:
            raise LogFormatError(f"{self.path}: no audio or video stream (container '{container.format.name}')")
        vs = container.streams.best("video") if videos else None
        as_ = container.streams.best("audio") if audios else None
        if len(videos) > 1:
            self.notes.append(f"{len(videos)} video streams; using stream #{vs.index}")
        if len(audios) > 1:
            self.notes.append(f"{len(audios)} audio streams; using stream #{as_.index}")
        return vs, as_

    def demux(self, container: Any, vs: Any, as_: Any) -> _Packets:
        """Read every packet header once; a read error ends the pass (the file is indexed as far as read)."""
        out = _Packets()
        no_ts = corrupt = 0
        packets = container.demux(*[s for s in (vs, as_) if s is not None])
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as err:
                e = BadRecordError(self.path, f"demuxing stopped early, the file looks truncated or corrupt "
                                   f"({ffmpeg_reason(err)}); indexed what was read", field="index")
                self.notes.append(str(e))
                self.issues.skip(e, kind="truncated")
                break
            if packet.size == 0 or packet.is_discard:
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                no_ts += 1
                continue
            corrupt += bool(packet.is_corrupt)
            if vs is not None and packet.stream_index == vs.index:
                if packet.is_corrupt:
                    out.vcorrupt.add(ts)
                out.vpts.append(ts)
                out.vdur.append(packet.duration or 0)
                if packet.is_keyframe:
                    out.vkey.append(ts)
            else:
                out.apts.append(ts)
                out.adur.append(packet.duration or 0)
        self._count_odd_packets(no_ts, corrupt)
        if not out.vpts and not out.apts:
            raise LogFormatError(f"{self.path}: no readable audio or video packets (truncated or empty file?)")
        return out

    def _count_odd_packets(self, no_ts: int, corrupt: int) -> None:
        if no_ts:
            self.notes.append(f"{no_ts} packets without pts/dts were left out of the index")
            self.issues.add("no_timestamp", no_ts)
        if corrupt:
            self.notes.append(f"{corrupt} packets are flagged corrupt by the demuxer")
            self.issues.add("corrupt_packet", corrupt)

    def video_packets(self, packets: _Packets) -> tuple[np.ndarray, np.ndarray]:
        """Video ``(pts, duration)`` in presentation order, a repeated pts indexed once."""
        vp = np.asarray(packets.vpts, dtype=np.int64)
        vd = np.asarray(packets.vdur, dtype=np.int64)
        order = np.argsort(vp, kind="stable")
        vp, vd = vp[order], vd[order]
        if vp.size and np.any(np.diff(vp) == 0):
            keep = np.concatenate([[True], np.diff(vp) != 0])
            self.notes.append(f"{int((~keep).sum())} video packets repeat an earlier pts; only the first is indexed")
            self.issues.add("duplicate_pts", int((~keep).sum()))
            vp, vd = vp[keep], vd[keep]
        return vp, vd

    @staticmethod
    def time_origin(vs: Any, as_: Any, vp: np.ndarray, apts: list[int]) -> tuple[Fraction, int, float]:
        """``(video time base, origin pts, origin s)``: the video's start, else the audio's."""
        if vs is not None:
            vtb = Fraction(vs.time_base)
            origin_tb = vs.start_time if vs.start_time is not None else (int(vp[0]) if vp.size else 0)
            if vp.size:
                origin_tb = min(origin_tb, int(vp[0]))
            return vtb, int(origin_tb), float(int(origin_tb) * vtb)
        atb = Fraction(as_.time_base)
        first = as_.start_time if as_.start_time is not None else (apts[0] if apts else 0)
        return Fraction(1, 1), 0, float(first * atb)

    def frame_times(self, vs: Any, vp: np.ndarray, vd: np.ndarray, vtb: Fraction,
                    origin_pts: int) -> tuple[np.ndarray, int]:
        """µs of every video frame and the end of the last one's display (its duration, else the median step)."""
        if not vp.size:
            return np.zeros(0, np.int64), self.start_us
        t_all = pts_to_us(vp, origin_pts, vtb, self.start_us)
        last_dur = int(vd[-1])
        if last_dur <= 0:
            last_dur = int(np.median(np.diff(vp))) if vp.size > 1 else 0
        if last_dur <= 0 and vs is not None and vs.average_rate:
            last_dur = round(1 / (float(vs.average_rate) * vtb))
        end_us = int(pts_to_us(np.array([vp[-1] + max(last_dur, 0)]), origin_pts, vtb, self.start_us)[0])
        return t_all, max(end_us, int(t_all[-1]) + 1)

    def select_frames(self, t_all: np.ndarray, fps: float | None) -> np.ndarray:
        """Positions in ``t_all`` of the frames nearest to ``t_0 + k / fps`` (all frames for None), each once."""
        n = t_all.size
        if fps is None or not n:
            return np.arange(n, dtype=np.int64)
        t0 = int(t_all[0])
        n_targets = math.floor((int(t_all[-1]) - t0) * 1e-6 * fps + 1e-9) + 1
        targets = t0 + np.round(np.arange(n_targets) * (1e6 / fps)).astype(np.int64)
        pos = np.clip(np.searchsorted(t_all, targets), 1, n - 1) if n > 1 else np.zeros(n_targets, np.int64)
        if n > 1:
            left = t_all[pos - 1]
            right = t_all[pos]
            pos = np.where(np.abs(targets - left) <= np.abs(right - targets), pos - 1, pos)
        sel = np.unique(pos)
        if sel.size < n_targets:
            self.notes.append(f"fps={fps} exceeds the video's rate: {sel.size} distinct frames for "
                              f"{n_targets} time steps, each kept once")
        return sel.astype(np.int64)

    def describe_video(self, vs: Any, vp: np.ndarray, t_all: np.ndarray, end_us: int, vtb: Fraction,
                       n_keyframes: int) -> dict | None:
        """Stream facts of :attr:`AVClipLog.video_info`; a frame count below the declared one is a truncation."""
        if vs is None:
            self.notes.append("no video stream: the log has 0 frames (audio_track() still reads the audio)")
            return None
        cc = vs.codec_context
        declared = int(vs.frames or 0)
        if declared and declared != vp.size:
            msg = (f"the container declares {declared} video frames but {vp.size} packets were indexed"
                   + (" (file truncated?)" if vp.size < declared else ""))
            self.notes.append(msg)
            if vp.size < declared:
                self.issues.add("truncated", 1, f"{self.path}: {msg}")
        if not vp.size:
            self.notes.append("the video stream has no readable packets: the log has 0 frames")
        span_us = int(t_all[-1]) - int(t_all[0]) if vp.size else 0
        return {
            "stream_index": vs.index,
            "codec": cc.name,
            "width": int(cc.width),
            "height": int(cc.height),
            "pix_fmt": cc.pix_fmt,
            "frames": int(vp.size),
            "declared_frames": declared,
            "frame_rate": (vp.size - 1) / (span_us * 1e-6) if vp.size > 1 and span_us > 0 else 0.0,
            "declared_frame_rate": float(vs.average_rate) if vs.average_rate else 0.0,
            "duration_s": (end_us - int(t_all[0])) * 1e-6 if vp.size else 0.0,
            "time_base": str(vtb),
            "keyframes": n_keyframes,
        }

    def index_audio(self, index: MediaIndex, as_: Any, packets: _Packets, audio_rate: int | None,
                    audio_channels: int | None) -> None:
        """Audio packet times (µs, the video's origin), output rate / channels and :attr:`AVClipLog.audio_info`."""
        if as_ is None:
            self.notes.append("no audio stream: frames carry no audio")
            return
        acc = as_.codec_context
        atb = Fraction(as_.time_base)
        ap = np.asarray(packets.apts, dtype=np.int64)
        ad = np.asarray(packets.adur, dtype=np.int64)
        o = np.argsort(ap, kind="stable")
        ap, ad = ap[o], ad[o]
        # origin-relative µs: start_us + (pts * atb - origin_s) * 1e6 (float64: sub-µs exact for days)
        index.apts_us = self.start_us + np.round(ap * (float(atb) * 1e6) - index.origin_s * 1e6).astype(np.int64)
        index.aend_us = index.apts_us + np.round(ad * (float(atb) * 1e6)).astype(np.int64)
        src_rate = int(acc.sample_rate or 0)
        index.out_rate = audio_rate or (src_rate or None)
        if index.out_rate is None:
            self.notes.append("audio stream without a sample rate: audio is not decoded")
        channels = int(acc.layout.nb_channels) if acc.layout is not None else int(getattr(acc, "channels", 0))
        index.out_channels = audio_channels if audio_channels is not None else max(channels, 1)
        index.audio_info = {
            "stream_index": as_.index,
            "codec": acc.name,
            "sample_rate": src_rate,
            "channels": channels,
            "layout": acc.layout.name if acc.layout is not None else "",
            "packets": int(ap.size),
            "duration_s": float(as_.duration * atb) if as_.duration else (
                (int(index.aend_us.max()) - int(index.apts_us[0])) * 1e-6 if ap.size else 0.0),
            "output_rate": index.out_rate,
            "output_channels": index.out_channels,
        }
        if not ap.size:
            self.notes.append("the audio stream has no readable packets")


def probe_media(container: Any, path: str, *, notes: list[str], issues: IssueCounter, start_us: int = 0,
                fps: float | None = None, audio_rate: int | None = None,
                audio_channels: int | None = None) -> MediaIndex:
    """Index an open PyAV container (see the module docstring); notes and issue counts go to ``notes`` / ``issues``.

    Raises:
        LogFormatError: no audio or video stream, or no readable packet.
    """
    probe = _Probe(path, notes, issues, int(start_us))
    vs, as_ = probe.pick_streams(container)
    packets = probe.demux(container, vs, as_)
    vp, vd = probe.video_packets(packets)
    keyframes = sorted(set(packets.vkey))
    vtb, origin_pts, origin_s = probe.time_origin(vs, as_, vp, packets.apts)
    t_all, end_us = probe.frame_times(vs, vp, vd, vtb, origin_pts)
    sel = probe.select_frames(t_all, fps)
    t = t_all[sel]
    ends = np.empty_like(t)
    if t.size:
        ends[:-1] = t[1:]
        ends[-1] = end_us
    index = MediaIndex(
        container_format=container.format.name, video_index=vs.index if vs is not None else None,
        audio_index=as_.index if as_ is not None else None, vpts_all=vp, keyframes=keyframes,
        corrupt_pts=packets.vcorrupt, vtb=vtb, origin_pts=origin_pts, origin_s=origin_s, t_all=t_all,
        video_end_us=end_us, sel=sel, t=t, ends=ends,
        video_info=probe.describe_video(vs, vp, t_all, end_us, vtb, len(keyframes)))
    probe.index_audio(index, as_, packets, audio_rate, audio_channels)
    return index
