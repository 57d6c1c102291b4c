"""Media files (mp4, webm, mkv, avi, mov ...) as a :class:`~multimodal.sensors.base.SensorLog`, through PyAV.

One frame of an :class:`AVClipLog` is one video frame (``cameras["video"]``) plus the audio that
plays while it is shown (``audio["audio"]``: the samples covering ``[t_i, t_{i+1})``).

Time base
    Every timestamp is ``int`` microseconds: the stream's ``pts`` converted with its ``time_base``,
    relative to the *video stream's* start (its ``start_time``, else its first packet), plus
    ``start_us``. Audio uses the same origin, so audio/video offsets in the file are kept
    (an audio track that starts 3 ms before the picture has first sample at ``start_us - 3000``).
    A file without video uses the audio stream's start as origin.

Opening is cheap
    The constructor only *demuxes* (reads packets, decodes nothing) to index the video packets'
    ``pts`` (presentation order, discarded and empty packets left out) and the audio packets.
    The frame count is therefore exact (not the container's estimate); memory is a few int64 per
    packet. Pixels and samples are decoded when a frame is asked for.

Access
    ``log[i]`` seeks the video to the key frame at or before frame ``i`` and decodes forward to it;
    iterating in order keeps the decoder position and only decodes forward (a seek happens only
    when a key frame lies between the current position and the target). Audio is decoded from a
    second container handle with its own cursor, resampled with :class:`av.AudioResampler` to
    ``audio_rate`` Hz / ``audio_channels`` as planar float32.

Calibration
    A media file has no calibration: ``K`` is a pinhole with ``fx = fy = W / (2 tan(hfov/2))`` from
    ``hfov_deg`` and the principal point at the image centre ``(W/2, H/2)``; ``T_ego_from_sensor``
    is the identity (the camera *is* the ego frame, optical axes: x right, y down, z forward).
    Rotation metadata (phones) and non-square pixels are not applied: images are the decoded
    frames as stored.

Not thread-safe: use one log per worker (the object pickles without its open containers).
"""
from __future__ import annotations

import bisect
import contextlib
import math
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av
import numpy as np

from .base import SensorInfo, SensorLog
from .errors import BadRecordError, IssueCounter, LogFormatError, MissingFileError
from .frame import AudioChunk, CameraImage, Frame
from .sync import StreamSync, SyncReport

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

VIDEO = "video"
AUDIO = "audio"

_AUDIO_SEEK_MARGIN_S = 0.5  # decode this much audio before a random-access target (codec warm-up)
_AUDIO_RESYNC_S = 0.05  # a timestamp jump larger than this is a real gap/overlap, not jitter
_AUDIO_MAX_FORWARD_S = 2.0  # read forward instead of seeking when the target is at most this far ahead
_AUDIO_ANCHOR_FRAMES = 8  # frames whose timestamps place the audio after a (re)start


def _ffmpeg_reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _to_us(pts: np.ndarray, origin: int, tb: Fraction, start_us: int) -> np.ndarray:
    """``start_us + round((pts - origin) * tb * 1e6)``, exact integer arithmetic, ``int64``."""
    num = (np.asarray(pts, dtype=np.int64) - origin) * (tb.numerator * 1_000_000)
    den = tb.denominator
    return start_us + (2 * num + den) // (2 * den)


def _layout_for(channels: int | None) -> str | None:
    if channels is None:
        return None
    if channels == 1:
        return "mono"
    if channels == 2:
        return "stereo"
    if channels <= 0:
        raise ValueError(f"audio_channels must be positive or None, got {channels}")
    names = {3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
    if channels not in names:
        raise ValueError(f"audio_channels={channels} has no standard layout (use 1, 2, ..., 8 or None)")
    return names[channels]


class _VideoCursor:
    """An open container decoding the video stream forward, with the position of the last frame."""

    def __init__(self, path: str, stream_index: int):
        self.container = av.open(path)
        self.stream = self.container.streams[stream_index]
        self.stream.thread_type = "AUTO"
        self.frames: Iterator[Any] | None = None  # decoded frames, presentation order
        self.last_pts: int | None = None  # pts of the last frame taken from ``frames``
        self.pending: Any | None = None  # a frame decoded past a missing target, kept for the next call
        self.errors: dict[int | None, str] = {}  # decode errors since the last seek, by packet pts

    def seek(self, pts: int) -> None:
        self.container.seek(int(pts), stream=self.stream, backward=True, any_frame=False)
        self.frames = self._decode()
        self.last_pts = None
        self.pending = None
        self.errors = {}

    def _decode(self) -> Iterator[Any]:
        """Yields decoded frames; a packet that fails to decode is recorded in ``errors`` and skipped."""
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError as err:  # container read error: nothing more can be demuxed
                self.errors[None] = f"cannot read further packets: {_ffmpeg_reason(err)}"
                return
            if packet.is_discard:
                continue
            try:
                decoded = packet.decode()
            except av.FFmpegError as err:
                self.errors[packet.pts if packet.pts is not None else packet.dts] = _ffmpeg_reason(err)
                continue
            yield from decoded

    def next_frame(self) -> tuple[Any, int | None] | None:
        if self.pending is not None:
            frame, self.pending = self.pending, None
        else:
            frame = next(self.frames, None) if self.frames is not None else None
            if frame is None:
                return None
        pts = frame.pts if frame.pts is not None else frame.dts
        self.last_pts = pts
        return frame, pts

    def close(self) -> None:
        self.frames = None
        self.pending = None
        self.container.close()


class _AudioCursor:
    """Decodes + resamples the audio stream forward into a buffer of output samples.

    Output samples are addressed by their index ``s`` at the output rate, ``s = 0`` at the time origin
    (``start_us``). Placement: the first frames decoded after a (re)seek anchor the buffer (median of
    their ``pts`` against the sample count, see :meth:`_anchor`); later samples are counted
    contiguously (container timestamps jitter, e.g. webm's 1 ms ticks); a timestamp jump of more
    than ``_AUDIO_RESYNC_S`` against the running count is a real gap (filled with zeros) or overlap
    (the buffer tail is dropped), counted once each in ``issues`` (``audio_gap`` / ``audio_overlap``).
    """

    def __init__(self, log: AVClipLog, container: Any = None):
        self.log = log
        self.container = container if container is not None else av.open(log.path)
        self.stream = self.container.streams[log._audio_index]
        self.tb = Fraction(self.stream.time_base)
        self.rate = log._out_rate
        self.layout = log._out_layout
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
            abs_s = at_s + self.log._origin_s
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
        return None if frame.pts is None else float(frame.pts * self.tb) - self.log._origin_s

    def _add_source_frame(self, frame: Any) -> None:
        if self.started:
            self._place(frame)
            return
        self.prebuf.append(frame)
        if len(self.prebuf) >= _AUDIO_ANCHOR_FRAMES:
            self._anchor()

    def _anchor(self) -> None:
        """Place the first decoded frames: median of ``pts - running sample count`` over them.

        One frame's timestamp can be off by several ms (webm stores ms ticks, some muxers jitter);
        the median of the first ``_AUDIO_ANCHOR_FRAMES`` (up to the first real gap) is not, so a
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
                if offsets and abs((t - cum) - offsets[0]) > _AUDIO_RESYNC_S:
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
        if t is not None and abs(t - self.expected_s) > _AUDIO_RESYNC_S:
            self._new_resampler()
            target = round(t * self.rate)
            key = (target, self.buf_end)
            seen = key in self.log._resyncs
            self.log._resyncs.add(key)
            if target > self.buf_end:
                n = target - self.buf_end
                self.chunks.append(np.zeros((self.log._out_channels, n), np.float32))
                self.buf_len += n
                if not seen:
                    self.log.issues.add("audio_gap", 1, f"{self.log.path}: audio timestamps jump {n / self.rate:.3f} s "
                                        f"ahead at {t:.3f} s; the gap is filled with silence")
            else:
                self._drop_tail(self.buf_end - target)
                if not seen:
                    self.log.issues.add("audio_overlap", 1, f"{self.log.path}: audio timestamps jump back "
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
                self.errors.append(f"cannot read further audio packets: {_ffmpeg_reason(err)}")
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
                self.errors.append(f"audio packet pts={packet.pts}: {_ffmpeg_reason(err)}")
                continue
            for frame in decoded:
                self._add_source_frame(frame)

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
            return lo, np.zeros((self.log._out_channels, 0), np.float32)
        data = np.concatenate(self.chunks, axis=1) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks = [data]
        return lo, data[:, lo - self.buf_start: hi - self.buf_start]

    def close(self) -> None:
        self.packets = None
        self.container.close()


class AVClipLog(SensorLog):
    """A media file read through PyAV: video frames with the audio that plays during each.

    Args:
        path: media file (anything FFmpeg demuxes: mp4, mov, webm, mkv, avi ...).
        fps: subsample the video to this rate (Hz): frame ``k`` is the video frame nearest to
            ``t_0 + k / fps``; None keeps every frame. Rates above the native one keep every frame once.
        audio_rate: output sample rate of ``audio["audio"]`` (Hz); None keeps the source rate.
        audio_channels: 1 -> mono (down-mix), 2 -> stereo, None -> the source layout.
        load_audio: False leaves audio out of frames (``audio_track()`` still works).
        hfov_deg: horizontal field of view (degrees) for the synthetic intrinsics ``K``.
        start_us: timestamp (µs) given to the first video frame (e.g. the recording's wall-clock start).
        strict: raise on a bad frame instead of counting it in ``issues`` and leaving it out.

    Frame ``i``:
        ``timestamp_us`` = ``cameras["video"].timestamp_us`` = ``t_i`` (µs);
        ``cameras["video"].image``: ``(H, W, 3) uint8`` RGB;
        ``audio["audio"].samples``: ``(C, S) float32`` in [-1, 1] covering ``[t_i, t_{i+1})`` at
        ``audio_rate`` (the last frame ends at the end of the video); absent where the audio track
        does not reach, ``timestamp_us`` is the first sample's time (later than ``t_i`` if the track
        starts late).

    Also: ``audio_track()`` (whole track), ``video_info`` / ``audio_info`` (stream facts),
    ``notes`` (what is odd about the file: no audio, truncation ...), ``issues`` (counts of skipped
    frames, audio gaps ...), ``close()`` / context manager (containers reopen lazily).

    Raises:
        MissingFileError: the file does not exist.
        LogFormatError: PyAV cannot open it, or it has no readable audio/video packets.
        BadRecordError: (strict mode, from ``log[i]``) a frame fails to decode (``index=i``,
            ``field="video"`` or ``"audio"``); at open, demuxing stops early (``field="index"``).
    """

    format = "av"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        fps: float | None = None,
        audio_rate: int | None = 16000,
        audio_channels: int | None = 1,
        load_audio: bool = True,
        hfov_deg: float = 60.0,
        start_us: int = 0,
        strict: bool = False,
    ):
        self.path = os.fspath(path)
        self.strict = bool(strict)
        self.issues = IssueCounter(strict=self.strict)
        self.notes: list[str] = []
        self.start_us = int(start_us)
        if fps is not None and not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number or None, got {fps}")
        if audio_rate is not None and int(audio_rate) <= 0:
            raise ValueError(f"audio_rate must be a positive int or None, got {audio_rate}")
        if not 0.0 < hfov_deg < 180.0:
            raise ValueError(f"hfov_deg must be in (0, 180), got {hfov_deg}")
        self.fps = fps
        self.audio_rate = None if audio_rate is None else int(audio_rate)
        self.audio_channels = audio_channels
        self._out_layout = _layout_for(audio_channels)
        self.load_audio = bool(load_audio)
        self.hfov_deg = float(hfov_deg)
        self._video: _VideoCursor | None = None
        self._resyncs: set[tuple[int, int]] = set()  # audio gaps/overlaps already counted
        self._audio: _AudioCursor | None = None
        if not os.path.isfile(self.path):
            raise MissingFileError(self.path, "media file does not exist" if not os.path.exists(self.path)
                                   else "not a regular file")
        self._index()

    # -- indexing (demux only) ---------------------------------------------------------------------
    def _index(self) -> None:
        try:
            container = av.open(self.path)
        except av.FFmpegError as err:
            raise LogFormatError(f"{self.path}: PyAV cannot open it as a media file ({_ffmpeg_reason(err)})") from err
        try:
            self._index_container(container)
        finally:
            container.close()

    def _index_container(self, container: Any) -> None:
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
        self._container_format = container.format.name
        self._video_index = vs.index if vs is not None else None
        self._audio_index = as_.index if as_ is not None else None

        vpts: list[int] = []
        vdur: list[int] = []
        vkey: list[int] = []
        apts: list[int] = []
        adur: list[int] = []
        vcorrupt: set[int] = set()
        no_ts = corrupt = 0
        streams = [s for s in (vs, as_) if s is not None]
        packets = container.demux(*streams)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as err:
                e = BadRecordError(self.path, f"demuxing stopped early, the file looks truncated or corrupt "
                                   f"({_ffmpeg_reason(err)}); indexed what was read", field="index")
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
                    vcorrupt.add(ts)
                vpts.append(ts)
                vdur.append(packet.duration or 0)
                if packet.is_keyframe:
                    vkey.append(ts)
            else:
                apts.append(ts)
                adur.append(packet.duration or 0)
        if no_ts:
            self.notes.append(f"{no_ts} packets without pts/dts were left out of the index")
            self.issues.add("no_timestamp", no_ts)
        if corrupt:
            self.notes.append(f"{corrupt} packets are flagged corrupt by the demuxer")
            self.issues.add("corrupt_packet", corrupt)
        if not vpts and not apts:
            raise LogFormatError(f"{self.path}: no readable audio or video packets (truncated or empty file?)")

        # Video index, presentation order.
        vp = np.asarray(vpts, dtype=np.int64)
        vd = np.asarray(vdur, dtype=np.int64)
        order = np.argsort(vp, kind="stable")
        vp, vd = vp[order], vd[order]
        if vp.size and np.any(np.diff(vp) == 0):
            keep = np.concatenate([[True], np.diff(vp) != 0])
            self.notes.append(f"{int((~keep).sum())} video packets repeat an earlier pts; only the first is indexed")
            self.issues.add("duplicate_pts", int((~keep).sum()))
            vp, vd = vp[keep], vd[keep]
        self._vpts_all = vp
        self._keyframes = sorted(set(vkey))
        self._corrupt_pts = vcorrupt

        if vs is not None:
            self._vtb = Fraction(vs.time_base)
            origin_tb = vs.start_time if vs.start_time is not None else (int(vp[0]) if vp.size else 0)
            if vp.size:
                origin_tb = min(origin_tb, int(vp[0]))
            self._origin_pts = int(origin_tb)
            self._origin_s = float(self._origin_pts * self._vtb)
        else:
            self._vtb = Fraction(1, 1)
            atb = Fraction(as_.time_base)
            first = as_.start_time if as_.start_time is not None else (apts[0] if apts else 0)
            self._origin_pts = 0
            self._origin_s = float(first * atb)

        # Frame times (µs) and the end of the video.
        self._t_all = _to_us(vp, self._origin_pts, self._vtb, self.start_us) if vp.size else np.zeros(0, np.int64)
        if vp.size:
            last_dur = int(vd[-1])
            if last_dur <= 0:
                last_dur = int(np.median(np.diff(vp))) if vp.size > 1 else 0
            if last_dur <= 0 and vs is not None and vs.average_rate:
                last_dur = round(1 / (float(vs.average_rate) * self._vtb))
            self._video_end_us = int(_to_us(np.array([vp[-1] + max(last_dur, 0)]), self._origin_pts,
                                            self._vtb, self.start_us)[0])
            self._video_end_us = max(self._video_end_us, int(self._t_all[-1]) + 1)
        else:
            self._video_end_us = self.start_us

        # Subsampling.
        if self.fps is not None and vp.size:
            t0 = int(self._t_all[0])
            n_targets = math.floor((int(self._t_all[-1]) - t0) * 1e-6 * self.fps + 1e-9) + 1
            targets = t0 + np.round(np.arange(n_targets) * (1e6 / self.fps)).astype(np.int64)
            pos = np.clip(np.searchsorted(self._t_all, targets), 1, vp.size - 1) if vp.size > 1 else np.zeros(
                n_targets, np.int64)
            if vp.size > 1:
                left = self._t_all[pos - 1]
                right = self._t_all[pos]
                pos = np.where(np.abs(targets - left) <= np.abs(right - targets), pos - 1, pos)
            sel = np.unique(pos)
            if sel.size < n_targets:
                self.notes.append(f"fps={self.fps} exceeds the video's rate: {sel.size} distinct frames for "
                                  f"{n_targets} time steps, each kept once")
            self._sel = sel.astype(np.int64)
        else:
            self._sel = np.arange(vp.size, dtype=np.int64)
        self._t = self._t_all[self._sel]
        self._ends = np.empty_like(self._t)
        if self._t.size:
            self._ends[:-1] = self._t[1:]
            self._ends[-1] = self._video_end_us

        # Stream descriptions.
        if vs is None:
            self.notes.append("no video stream: the log has 0 frames (audio_track() still reads the audio)")
            self._video_info = None
        else:
            cc = vs.codec_context
            span_s = (self._video_end_us - int(self._t_all[0])) * 1e-6 if vp.size else 0.0
            declared = int(vs.frames or 0)
            if declared and declared != vp.size:
                msg = (f"the container declares {declared} video frames but {vp.size} packets were indexed"
                       + (" (file truncated?)" if vp.size < declared else ""))
                self.notes.append(msg)
                if vp.size < declared:
                    self.issues.add("truncated", 1, f"{self.path}: {msg}")
            if not vp.size:
                self.notes.append("the video stream has no readable packets: the log has 0 frames")
            self._video_info = {
                "stream_index": vs.index,
                "codec": cc.name,
                "width": int(cc.width),
                "height": int(cc.height),
                "pix_fmt": cc.pix_fmt,
                "frames": int(vp.size),
                "declared_frames": declared,
                "frame_rate": (vp.size - 1) / ((int(self._t_all[-1]) - int(self._t_all[0])) * 1e-6)
                if vp.size > 1 and self._t_all[-1] > self._t_all[0] else 0.0,
                "declared_frame_rate": float(vs.average_rate) if vs.average_rate else 0.0,
                "duration_s": span_s,
                "time_base": str(self._vtb),
                "keyframes": len(self._keyframes),
            }
        if as_ is None:
            self.notes.append("no audio stream: frames carry no audio")
            self._audio_info = None
            self._out_rate = None
            self._apts_us = np.zeros(0, np.int64)
            self._aend_us = np.zeros(0, np.int64)
        else:
            acc = as_.codec_context
            atb = Fraction(as_.time_base)
            ap = np.asarray(apts, dtype=np.int64)
            ad = np.asarray(adur, dtype=np.int64)
            o = np.argsort(ap, kind="stable")
            ap, ad = ap[o], ad[o]
            # origin-relative µs: start_us + (pts * atb - origin_s) * 1e6 (float64: sub-µs exact for days)
            self._apts_us = self.start_us + np.round(ap * (float(atb) * 1e6) - self._origin_s * 1e6).astype(np.int64)
            self._aend_us = self._apts_us + np.round(ad * (float(atb) * 1e6)).astype(np.int64)
            src_rate = int(acc.sample_rate or 0)
            self._out_rate = self.audio_rate or (src_rate or None)
            if self._out_rate is None:
                self.notes.append("audio stream without a sample rate: audio is not decoded")
            channels = int(acc.layout.nb_channels) if acc.layout is not None else int(getattr(acc, "channels", 0))
            self._out_channels = self.audio_channels if self.audio_channels is not None else max(channels, 1)
            self._audio_info = {
                "stream_index": as_.index,
                "codec": acc.name,
                "sample_rate": src_rate,
                "channels": channels,
                "layout": acc.layout.name if acc.layout is not None else "",
                "packets": int(ap.size),
                "duration_s": float(as_.duration * atb) if as_.duration else (
                    (int(self._aend_us.max()) - int(self._apts_us[0])) * 1e-6 if ap.size else 0.0),
                "output_rate": self._out_rate,
                "output_channels": self._out_channels,
            }
            if not ap.size:
                self.notes.append("the audio stream has no readable packets")

        self._sensors = self._make_sensors()
        self.sync = self._make_sync()

    def _make_sensors(self) -> dict[str, SensorInfo]:
        out: dict[str, SensorInfo] = {}
        if self._video_info is not None:
            n = int(self._t.size)
            out[VIDEO] = SensorInfo(
                name=VIDEO, kind="camera", source=f"{self.path}#stream{self._video_index}", count=n,
                first_us=int(self._t[0]) if n else None, last_us=int(self._t[-1]) if n else None,
                msgtype=f"video/{self._video_info['codec']}")
        if self._audio_info is not None:
            n = int(self._apts_us.size)
            out[AUDIO] = SensorInfo(
                name=AUDIO, kind="audio", source=f"{self.path}#stream{self._audio_index}", count=n,
                first_us=int(self._apts_us[0]) if n else None, last_us=int(self._apts_us[-1]) if n else None,
                msgtype=f"audio/{self._audio_info['codec']}")
        return out

    def _make_sync(self) -> SyncReport:
        """Video is the reference; audio is 'matched' to a frame when packets overlap ``[t_i, t_{i+1})``.

        ``max_gap_us`` / ``mean_gap_us`` are the µs of matched frame intervals that audio does not
        cover (a track starting late or ending early); ``unused`` counts audio packets outside all
        frame intervals. Holes inside the track are not looked at (packet times are not decoded).
        """
        tol = int(np.median(np.diff(self._t))) if self._t.size > 1 else 0
        report = SyncReport(reference=VIDEO, tolerance_us=tol)
        if self._audio_info is None:
            return report
        if not self._apts_us.size or not self._t.size:
            report.streams[AUDIO] = StreamSync(matched=0, missing=int(self._t.size), unused=int(self._apts_us.size))
            return report
        a0, a1 = int(self._apts_us.min()), int(self._aend_us.max())
        covered = np.clip(np.minimum(self._ends, a1) - np.maximum(self._t, a0), 0, None)
        ok = covered > 0
        gaps = (self._ends - self._t - covered)[ok]
        lo, hi = int(self._t[0]), int(self._ends[-1])
        unused = int(np.sum((self._aend_us <= lo) | (self._apts_us >= hi)))
        report.streams[AUDIO] = StreamSync(
            matched=int(ok.sum()), missing=int((~ok).sum()), unused=unused,
            max_gap_us=int(gaps.max()) if gaps.size else 0, mean_gap_us=float(gaps.mean()) if gaps.size else 0.0)
        return report

    # -- SensorLog interface -----------------------------------------------------------------------
    @property
    def sensors(self) -> dict[str, SensorInfo]:
        """``{"video": camera stream, "audio": audio stream}`` (only those present); audio ``count`` is packets."""
        return dict(self._sensors)

    @property
    def video_info(self) -> dict | None:
        """Video stream facts: codec, width, height, pix_fmt, frames (exact), declared_frames,
        frame_rate (measured, Hz), declared_frame_rate, duration_s, time_base, keyframes. None without video."""
        return None if self._video_info is None else dict(self._video_info)

    @property
    def audio_info(self) -> dict | None:
        """Audio stream facts: codec, sample_rate (source, Hz), channels, layout, packets, duration_s
        (from packet times), output_rate, output_channels. None without audio."""
        return None if self._audio_info is None else dict(self._audio_info)

    def __len__(self) -> int:
        return int(self._t.size)

    def _frame_time_us(self, index: int) -> int:
        return int(self._t[index])

    def frame_timestamps_us(self) -> list[int]:
        """Timestamps of all frames (µs) from the index, no decoding."""
        return [int(t) for t in self._t]

    def _load_frame(self, index: int) -> Frame:
        t = int(self._t[index])
        pts = int(self._vpts_all[self._sel[index]])
        frame = Frame(timestamp_us=t, token=f"pts={pts}")
        try:
            image = self._decode_video(pts, index)
        except BadRecordError as err:
            self.issues.skip(err)  # raises in strict mode
            image = None
        if image is not None:
            frame.cameras[VIDEO] = CameraImage(
                image=image, K=self.intrinsics(image.shape[1], image.shape[0]), T_ego_from_sensor=np.eye(4),
                timestamp_us=t, frame_id=VIDEO)
        if self.load_audio and self._audio_info is not None and self._out_rate is not None and self._apts_us.size:
            try:
                chunk = self._audio_chunk(t, int(self._ends[index]), index)
            except BadRecordError as err:
                self.issues.skip(err)
                chunk = None
            if chunk is not None:
                frame.audio[AUDIO] = chunk
        return frame

    # -- video decoding ----------------------------------------------------------------------------
    def intrinsics(self, width: int, height: int) -> np.ndarray:
        """``(3, 3) float64`` pinhole K from ``hfov_deg``: ``fx = fy = W / (2 tan(hfov/2))``, ``c = (W/2, H/2)``."""
        f = width / (2.0 * math.tan(math.radians(self.hfov_deg) / 2.0))
        return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]], dtype=np.float64)

    def _open_video(self) -> _VideoCursor:
        if self._video is None:
            try:
                self._video = _VideoCursor(self.path, self._video_index)
            except av.FFmpegError as err:
                raise LogFormatError(f"{self.path}: cannot reopen with PyAV ({_ffmpeg_reason(err)})") from err
        return self._video

    def _can_continue(self, cur: _VideoCursor, pts: int) -> bool:
        if cur.frames is None or cur.last_pts is None:
            return False
        if cur.pending is not None and (cur.pending.pts if cur.pending.pts is not None else cur.pending.dts) > pts:
            return False
        if pts <= cur.last_pts:
            return False
        k = bisect.bisect_right(self._keyframes, pts) - 1
        return k < 0 or self._keyframes[k] <= cur.last_pts

    def _decode_video(self, pts: int, index: int) -> np.ndarray:
        """Decode the frame with presentation time ``pts``: ``(H, W, 3) uint8`` RGB.

        Reads forward from the current decoder position when no key frame lies in between,
        otherwise seeks to the key frame at or before ``pts``; if a seek lands past the target
        (imprecise container index) it retries 5 s earlier, then from the start of the stream.
        """
        cur = self._open_video()

        def bad(reason: str) -> BadRecordError:
            return BadRecordError(self.path, reason, index=index, field=VIDEO)

        first = int(self._vpts_all[0])
        k = bisect.bisect_right(self._keyframes, pts) - 1
        back = round(5 / self._vtb)  # 5 s, in time-base ticks
        attempts: list[int | None] = [None] if self._can_continue(cur, pts) else []
        attempts += [pts, max(first, (self._keyframes[k] if k >= 0 else pts) - back), first]
        reason = "no frame decoded"
        try:
            for seek_to in attempts:
                if seek_to is not None:
                    cur.seek(seek_to)
                while True:
                    item = cur.next_frame()
                    if item is None:
                        err = cur.errors.get(pts) or next(iter(cur.errors.values()), None)
                        if err is None and pts in self._corrupt_pts:
                            err = "the demuxer flagged this packet corrupt (truncated file?)"
                        reason = f"the decoder reached the end of the stream without a frame at pts={pts}" + (
                            f" ({err})" if err else "")
                        if pts in cur.errors:
                            raise bad(reason)
                        break
                    frame, fpts = item
                    if fpts is None:
                        raise bad("a decoded frame has no pts/dts, it cannot be placed")
                    if fpts < pts:
                        continue
                    if fpts == pts:
                        return frame.to_ndarray(format="rgb24")
                    # Past the target: the target failed to decode, or the seek landed too late.
                    cur.pending = frame
                    if pts in cur.errors:
                        raise bad(f"frame pts={pts} failed to decode: {cur.errors[pts]}")
                    reason = f"the decoder produced no frame at pts={pts} (next frame pts={fpts})" + (
                        "; the demuxer flagged this packet corrupt" if pts in self._corrupt_pts else "")
                    break
        except av.FFmpegError as err:
            self._drop_video()
            raise bad(f"decoding failed at pts={pts}: {_ffmpeg_reason(err)}") from err
        raise bad(reason)

    def _drop_video(self) -> None:
        if self._video is not None:
            try:
                self._video.close()
            finally:
                self._video = None

    # -- audio -------------------------------------------------------------------------------------
    def _samples_at(self, t_us: int) -> int:
        """Output-sample index of time ``t_us`` (0 at ``start_us``)."""
        return int((2 * (int(t_us) - self.start_us) * self._out_rate + 1_000_000) // 2_000_000)

    def _audio_chunk(self, t0_us: int, t1_us: int, index: int) -> AudioChunk | None:
        if self._audio is None:
            try:
                self._audio = _AudioCursor(self)
            except av.FFmpegError as err:
                raise LogFormatError(f"{self.path}: cannot reopen with PyAV ({_ffmpeg_reason(err)})") from err
        cur = self._audio
        a, b = self._samples_at(t0_us), self._samples_at(t1_us)
        forward = int(_AUDIO_MAX_FORWARD_S * self._out_rate)
        first_audio_s = (int(self._apts_us[0]) - self.start_us) * 1e-6
        at = a / self._out_rate - _AUDIO_SEEK_MARGIN_S
        seeks: list[float | None] = [at, at - 5.0, None]
        try:
            if cur.started and cur.buf_start <= a <= cur.buf_end + forward:
                seeks = []  # keep reading forward from the current position
                cur.fill(b)
            for at in seeks:
                cur.restart(None if at is None or at <= first_audio_s else at)
                cur.fill(b)
                # a seek that landed after the target (and not because the track starts late): go earlier
                if not (cur.started and cur.buf_start > a and a / self._out_rate > first_audio_s + 0.05):
                    break
        except av.FFmpegError as err:
            self._drop_audio()
            raise BadRecordError(self.path, f"audio decoding failed: {_ffmpeg_reason(err)}", index=index,
                                 field=AUDIO) from err
        if cur.errors:
            errs, cur.errors = cur.errors, []
            for e in errs:
                self.issues.skip(BadRecordError(self.path, e, index=index, field=AUDIO), kind="bad_audio_packet")
        lo, samples = cur.take(a, b)
        cur.drop_before(a)
        if samples.shape[1] == 0:
            return None
        ts = self.start_us + round(lo * 1e6 / self._out_rate)
        return AudioChunk(samples=np.clip(samples, -1.0, 1.0), sample_rate=int(self._out_rate), timestamp_us=ts,
                          frame_id=AUDIO)

    def audio_track(self) -> AudioChunk:
        """The whole audio track, decoded and resampled like the per-frame chunks.

        Returns:
            :class:`AudioChunk` with ``samples`` ``(C, S) float32`` in [-1, 1] at ``audio_rate``
            (source rate if None), ``timestamp_us`` the first sample's time. Holds the whole track in
            memory (1 h mono at 16 kHz is 230 MB).

        Raises:
            LogFormatError: the file has no audio stream.
        """
        if self._audio_info is None or self._out_rate is None:
            raise LogFormatError(f"{self.path}: no decodable audio stream ({'; '.join(self.notes)})")
        try:
            cur = _AudioCursor(self)
        except av.FFmpegError as err:
            raise LogFormatError(f"{self.path}: cannot reopen with PyAV ({_ffmpeg_reason(err)})") from err
        try:
            cur.restart(None)
            cur.fill(None)
            for e in cur.errors:
                self.issues.skip(BadRecordError(self.path, e, field=AUDIO), kind="bad_audio_packet")
            lo, samples = cur.take(cur.buf_start, cur.buf_end)
        finally:
            cur.close()
        return AudioChunk(samples=np.clip(samples, -1.0, 1.0), sample_rate=int(self._out_rate),
                          timestamp_us=self.start_us + round(lo * 1e6 / self._out_rate), frame_id=AUDIO)

    def _drop_audio(self) -> None:
        if self._audio is not None:
            try:
                self._audio.close()
            finally:
                self._audio = None

    # -- resources ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the decoding containers; a later access reopens them."""
        self._drop_video()
        self._drop_audio()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError, AttributeError):
            self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_video"] = None
        state["_audio"] = None
        return state
