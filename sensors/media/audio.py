"""Audio decoding: the audio stream decoded and resampled forward into a buffer of output samples.

Audio is decoded from its own container handle with its own cursor (so video and audio positions do
not fight), resampled with :class:`av.AudioResampler` to the log's output rate / layout as planar float32.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import av
import numpy as np

from ..errors import IssueCounter
from .common import (
    AUDIO_ANCHOR_FRAMES,
    AUDIO_MAX_FORWARD_S,
    AUDIO_RESYNC_S,
    AUDIO_SEEK_MARGIN_S,
    ffmpeg_reason,
)
from .probe import MediaIndex


class AudioCursor:
    """Decodes + resamples the audio stream forward into a buffer of output samples.

    Output samples are addressed by their index ``s`` at the output rate, ``s = 0`` at the time origin
    (``start_us``). Placement: the first frames decoded after a (re)seek anchor the buffer (median of
    their ``pts`` against the sample count, see :meth:`_anchor`); later samples are counted
    contiguously (container timestamps jitter, e.g. webm's 1 ms ticks); a timestamp jump of more
    than ``AUDIO_RESYNC_S`` against the running count is a real gap (filled with zeros) or overlap
    (the buffer tail is dropped), counted once each in ``issues`` (``audio_gap`` / ``audio_overlap``).
    """

    def __init__(self, path: str, ix: MediaIndex, layout: str | None, issues: IssueCounter,
                 resyncs: set[tuple[int, int]]):
        self.path = path
        self.ix = ix
        self.issues = issues
        self.resyncs = resyncs  # gaps / overlaps already counted, shared by the log's cursors
        self.container = av.open(path)
        self.stream = self.container.streams[ix.audio_index]
        self.tb = Fraction(self.stream.time_base)
        self.rate = ix.out_rate
        self.layout = layout
        self.chunks: list[np.ndarray] = []
        self.buf_start = 0  # output-sample index of chunks[0][:, 0]
        self.buf_len = 0
        self.eof = True
        self.started = False
        self.prebuf: list[Any] = []  # first frames after a (re)start, held until they are anchored
        self.expected_s = 0.0  # source time (s, origin-relative) of the next source sample
        self.resampler: Any = None
        self.packets: Any = None
        self.errors: list[str] = []

    # -- positioning -------------------------------------------------------------------------------
    @property
    def buf_end(self) -> int:
        return self.buf_start + self.buf_len

    def restart(self, at_s: float | None) -> None:
        """Seek so that decoding starts at or before origin-relative time ``at_s`` (None: from the start)."""
        if at_s is not None:
            abs_s = at_s + self.ix.origin_s
            self.container.seek(math.floor(abs_s / self.tb), stream=self.stream, backward=True, any_frame=False)
        elif self.packets is not None:  # already consumed: go back to the start
            self.container.seek(0, stream=self.stream, backward=True, any_frame=False)
        self.packets = self.container.demux(self.stream)
        self.resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        self.chunks, self.buf_len, self.buf_start = [], 0, 0
        self.started = False
        self.prebuf = []
        self.eof = False
        self.errors = []

    def _append(self, frames: list) -> None:
        for out in frames:
            arr = out.to_ndarray()
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.shape[1]:
                self.chunks.append(np.asarray(arr, dtype=np.float32))
                self.buf_len += arr.shape[1]

    def _new_resampler(self) -> None:
        self._append(self.resampler.resample(None))
        self.resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)

    def _time_s(self, frame: Any) -> float | None:
        return None if frame.pts is None else float(frame.pts * self.tb) - self.ix.origin_s

    def _add_source_frame(self, frame: Any) -> None:
        if self.started:
            self._place(frame)
            return
        self.prebuf.append(frame)
        if len(self.prebuf) >= AUDIO_ANCHOR_FRAMES:
            self._anchor()

    def _anchor(self) -> None:
        """Place the first decoded frames: median of ``pts - running sample count`` over them.

        One frame's timestamp can be off by several ms (webm stores ms ticks, some muxers jitter);
        the median of the first ``AUDIO_ANCHOR_FRAMES`` (up to the first real gap) is not, so a
        random-access read and a sequential read place the samples alike.
        """
        frames, self.prebuf = self.prebuf, []
        if not frames:
            return
        offsets: list[float] = []
        cum = 0.0
        for f in frames:
            t = self._time_s(f)
            if t is not None:
                if offsets and abs((t - cum) - offsets[0]) > AUDIO_RESYNC_S:
                    break  # a real gap: anchor on the segment before it, _place() handles the rest
                offsets.append(t - cum)
            cum += f.samples / float(f.sample_rate)
        anchor = float(np.median(offsets)) if offsets else 0.0
        self.buf_start = round(anchor * self.rate)
        self.expected_s = anchor
        self.started = True
        for f in frames:
            self._place(f)

    def _place(self, frame: Any) -> None:
        t = self._time_s(frame)
        if t is not None and abs(t - self.expected_s) > AUDIO_RESYNC_S:
            self._new_resampler()
            target = round(t * self.rate)
            key = (target, self.buf_end)
            seen = key in self.resyncs
            self.resyncs.add(key)
            if target > self.buf_end:
                n = target - self.buf_end
                self.chunks.append(np.zeros((self.ix.out_channels, n), np.float32))
                self.buf_len += n
                if not seen:
                    self.issues.add("audio_gap", 1, f"{self.path}: audio timestamps jump {n / self.rate:.3f} s "
                                        f"ahead at {t:.3f} s; the gap is filled with silence")
            else:
                self._drop_tail(self.buf_end - target)
                if not seen:
                    self.issues.add("audio_overlap", 1, f"{self.path}: audio timestamps jump back "
                                        f"{(self.buf_end - target) / self.rate:.3f} s at {t:.3f} s; "
                                        "the overlapped samples are replaced")
            self.expected_s = t
        self.expected_s += frame.samples / float(frame.sample_rate)
        self._append(self.resampler.resample(frame))

    def _drop_tail(self, n: int) -> None:
        while n > 0 and self.chunks:
            last = self.chunks[-1]
            k = min(n, last.shape[1])
            if k == last.shape[1]:
                self.chunks.pop()
            else:
                self.chunks[-1] = last[:, : last.shape[1] - k]
            self.buf_len -= k
            n -= k

    def fill(self, until: int | None) -> None:
        """Decode until the buffer reaches output sample ``until`` (None: to the end of the stream)."""
        while not self.eof and (until is None or not self.started or self.buf_end < until):
            try:
                packet = next(self.packets)
            except StopIteration:
                packet = None
            except av.FFmpegError as err:
                self.errors.append(f"cannot read further audio packets: {ffmpeg_reason(err)}")
                packet = None
            if packet is None:
                self._anchor()
                self._append(self.resampler.resample(None))
                self.eof = True
                break
            if packet.is_discard:
                continue
            try:
                decoded = packet.decode()
            except av.FFmpegError as err:
                self.errors.append(f"audio packet pts={packet.pts}: {ffmpeg_reason(err)}")
                continue
            for frame in decoded:
                self._add_source_frame(frame)

    def fill_range(self, a: int, b: int, first_audio_s: float) -> None:
        """Buffer output samples ``[a, b)``: read forward when ``a`` is at most ``AUDIO_MAX_FORWARD_S`` past the
        buffer, else seek ``AUDIO_SEEK_MARGIN_S`` before it (5 s earlier, then from the start, when a seek lands
        after the target). ``first_audio_s``: origin-relative time of the first audio packet."""
        forward = int(AUDIO_MAX_FORWARD_S * self.rate)
        at = a / self.rate - AUDIO_SEEK_MARGIN_S
        seeks: list[float | None] = [at, at - 5.0, None]
        if self.started and self.buf_start <= a <= self.buf_end + forward:
            seeks = []  # keep reading forward from the current position
            self.fill(b)
        for at in seeks:
            self.restart(None if at is None or at <= first_audio_s else at)
            self.fill(b)
            # a seek that landed after the target (and not because the track starts late): go earlier
            if not (self.started and self.buf_start > a and a / self.rate > first_audio_s + 0.05):
                break

    def drop_before(self, s: int) -> None:
        """Forget buffered samples before output index ``s`` (keeps memory bounded when streaming)."""
        n = min(s - self.buf_start, self.buf_len)
        if n <= 0:
            return
        while n > 0 and self.chunks:
            first = self.chunks[0]
            k = min(n, first.shape[1])
            if k == first.shape[1]:
                self.chunks.pop(0)
            else:
                self.chunks[0] = first[:, k:]
            self.buf_start += k
            self.buf_len -= k
            n -= k

    def take(self, a: int, b: int) -> tuple[int, np.ndarray]:
        """Samples ``[a, b)`` clipped to what is buffered: ``(first index, (C, S) float32)``."""
        lo, hi = max(a, self.buf_start), min(b, self.buf_end)
        if hi <= lo or not self.chunks:
            return lo, np.zeros((self.ix.out_channels, 0), np.float32)
        data = np.concatenate(self.chunks, axis=1) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks = [data]
        return lo, data[:, lo - self.buf_start: hi - self.buf_start]

    def close(self) -> None:
        self.packets = None
        self.container.close()
