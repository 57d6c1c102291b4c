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

import contextlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from ..base import SensorInfo, SensorLog
from ..errors import BadRecordError, IssueCounter, LogFormatError, MissingFileError
from ..frame import AudioChunk, CameraImage, Frame
from ..selection import SensorSelection, resolve_selection
from ..sync import StreamSync, SyncReport
from .audio import AudioCursor
from .common import AUDIO, VIDEO, channel_layout, ffmpeg_reason
from .probe import probe_media
from .video import VideoCursor

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

#: suffixes :meth:`AVClipLog.sniff` recognises
MEDIA_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ogv", ".mpg", ".mpeg", ".flv"}


class AVClipLog(SensorLog):
    """A media file read through PyAV: video frames with the audio that plays during each.

    Args:
        path: media file (anything FFmpeg demuxes: mp4, mov, webm, mkv, avi ...).
        fps: subsample the video to this rate (Hz): frame ``k`` is the video frame nearest to
            ``t_0 + k / fps``; None keeps every frame. Rates above the native one keep every frame once.
        audio_rate: output sample rate of ``audio["audio"]`` (Hz); None keeps the source rate.
        audio_channels: 1 -> mono (down-mix), 2 -> stereo, None -> the source layout.
        load_audio: False leaves audio out of frames (``audio_track()`` still works).
        sensors: which sensors frames carry: ``video`` / ``audio`` or the kinds ``camera`` / ``audio``;
            None for both. Frames stay the video frames; an unselected stream is not decoded.
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
    accepts = f"media files ({', '.join(sorted(MEDIA_SUFFIXES))})"

    @classmethod
    def sniff(cls, path: str | os.PathLike) -> bool:
        """A file whose suffix is one of ``MEDIA_SUFFIXES`` (FFmpeg opens more; force ``format="av"`` for those)."""
        p = Path(path)
        return not p.is_dir() and p.suffix.lower() in MEDIA_SUFFIXES

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        sensors: SensorSelection = None,
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
        self._out_layout = channel_layout(audio_channels)
        self.load_audio = bool(load_audio)
        self._selection = sensors
        self.hfov_deg = float(hfov_deg)
        self._video: VideoCursor | None = None
        self._resyncs: set[tuple[int, int]] = set()  # audio gaps/overlaps already counted
        self._audio: AudioCursor | None = None
        if not os.path.isfile(self.path):
            raise MissingFileError(self.path, "media file does not exist" if not os.path.exists(self.path)
                                   else "not a regular file")
        self._index()

    # -- indexing (demux only) ---------------------------------------------------------------------
    def _index(self) -> None:
        try:
            container = av.open(self.path)
        except av.FFmpegError as err:
            raise LogFormatError(f"{self.path}: PyAV cannot open it as a media file ({ffmpeg_reason(err)})") from err
        try:
            self._ix = probe_media(container, self.path, notes=self.notes, issues=self.issues, start_us=self.start_us,
                                   fps=self.fps, audio_rate=self.audio_rate, audio_channels=self.audio_channels)
        finally:
            container.close()
        self._sensors = self._make_sensors()
        self.sync = self._make_sync()
        self.frame_sensors = resolve_selection(self._selection, {n: s.kind for n, s in self._sensors.items()},
                                               self.path)

    def _make_sensors(self) -> dict[str, SensorInfo]:
        out: dict[str, SensorInfo] = {}
        if self._ix.video_info is not None:
            n = int(self._ix.t.size)
            out[VIDEO] = SensorInfo(
                name=VIDEO, kind="camera", source=f"{self.path}#stream{self._ix.video_index}", count=n,
                first_us=int(self._ix.t[0]) if n else None, last_us=int(self._ix.t[-1]) if n else None,
                msgtype=f"video/{self._ix.video_info['codec']}")
        if self._ix.audio_info is not None:
            n = int(self._ix.apts_us.size)
            out[AUDIO] = SensorInfo(
                name=AUDIO, kind="audio", source=f"{self.path}#stream{self._ix.audio_index}", count=n,
                first_us=int(self._ix.apts_us[0]) if n else None, last_us=int(self._ix.apts_us[-1]) if n else None,
                msgtype=f"audio/{self._ix.audio_info['codec']}")
        return out

    def _make_sync(self) -> SyncReport:
        """Video is the reference; audio is 'matched' to a frame when packets overlap ``[t_i, t_{i+1})``.

        ``max_gap_us`` / ``mean_gap_us`` are the µs of matched frame intervals that audio does not
        cover (a track starting late or ending early); ``unused`` counts audio packets outside all
        frame intervals. Holes inside the track are not looked at (packet times are not decoded).
        """
        tol = int(np.median(np.diff(self._ix.t))) if self._ix.t.size > 1 else 0
        report = SyncReport(reference=VIDEO, tolerance_us=tol)
        if self._ix.audio_info is None:
            return report
        if not self._ix.apts_us.size or not self._ix.t.size:
            report.streams[AUDIO] = StreamSync(matched=0, missing=int(self._ix.t.size), unused=int(self._ix.apts_us.size))
            return report
        a0, a1 = int(self._ix.apts_us.min()), int(self._ix.aend_us.max())
        covered = np.clip(np.minimum(self._ix.ends, a1) - np.maximum(self._ix.t, a0), 0, None)
        ok = covered > 0
        gaps = (self._ix.ends - self._ix.t - covered)[ok]
        lo, hi = int(self._ix.t[0]), int(self._ix.ends[-1])
        unused = int(np.sum((self._ix.aend_us <= lo) | (self._ix.apts_us >= hi)))
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
        return None if self._ix.video_info is None else dict(self._ix.video_info)

    @property
    def audio_info(self) -> dict | None:
        """Audio stream facts: codec, sample_rate (source, Hz), channels, layout, packets, duration_s
        (from packet times), output_rate, output_channels. None without audio."""
        return None if self._ix.audio_info is None else dict(self._ix.audio_info)

    def __len__(self) -> int:
        return int(self._ix.t.size)

    def _frame_time_us(self, index: int) -> int:
        return int(self._ix.t[index])

    def frame_timestamps_us(self) -> list[int]:
        """Timestamps of all frames (µs) from the index, no decoding."""
        return [int(t) for t in self._ix.t]

    def _load_frame(self, index: int) -> Frame:
        t = int(self._ix.t[index])
        pts = int(self._ix.vpts_all[self._ix.sel[index]])
        frame = Frame(timestamp_us=t, token=f"pts={pts}")
        image = None
        if VIDEO in self.frame_sensors:
            try:
                image = self._decode_video(pts, index)
            except BadRecordError as err:
                self.issues.skip(err)  # raises in strict mode
        if image is not None:
            frame.cameras[VIDEO] = CameraImage(
                image=image, K=self.intrinsics(image.shape[1], image.shape[0]), T_ego_from_sensor=np.eye(4),
                timestamp_us=t, frame_id=VIDEO)
        if (self.load_audio and AUDIO in self.frame_sensors and self._ix.out_rate is not None
                and self._ix.apts_us.size):
            try:
                chunk = self._audio_chunk(t, int(self._ix.ends[index]), index)
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

    def _open_video(self) -> VideoCursor:
        if self._video is None:
            try:
                self._video = VideoCursor(self.path, self._ix)
            except av.FFmpegError as err:
                raise LogFormatError(f"{self.path}: cannot reopen with PyAV ({ffmpeg_reason(err)})") from err
        return self._video

    def _decode_video(self, pts: int, index: int) -> np.ndarray:
        """Decode the frame with presentation time ``pts``: ``(H, W, 3) uint8`` RGB (see :meth:`VideoCursor.frame_at`)."""
        cur = self._open_video()
        try:
            return cur.frame_at(pts, index)
        except av.FFmpegError as err:
            self._drop_video()
            raise BadRecordError(self.path, f"decoding failed at pts={pts}: {ffmpeg_reason(err)}", index=index,
                                 field=VIDEO) from err

    def _drop_video(self) -> None:
        if self._video is not None:
            try:
                self._video.close()
            finally:
                self._video = None

    # -- audio -------------------------------------------------------------------------------------
    def _samples_at(self, t_us: int) -> int:
        """Output-sample index of time ``t_us`` (0 at ``start_us``)."""
        return int((2 * (int(t_us) - self.start_us) * self._ix.out_rate + 1_000_000) // 2_000_000)

    def _open_audio(self) -> AudioCursor:
        try:
            return AudioCursor(self.path, self._ix, self._out_layout, self.issues, self._resyncs)
        except av.FFmpegError as err:
            raise LogFormatError(f"{self.path}: cannot reopen with PyAV ({ffmpeg_reason(err)})") from err

    def _audio_chunk(self, t0_us: int, t1_us: int, index: int) -> AudioChunk | None:
        if self._audio is None:
            self._audio = self._open_audio()
        cur = self._audio
        a, b = self._samples_at(t0_us), self._samples_at(t1_us)
        try:
            cur.fill_range(a, b, first_audio_s=(int(self._ix.apts_us[0]) - self.start_us) * 1e-6)
        except av.FFmpegError as err:
            self._drop_audio()
            raise BadRecordError(self.path, f"audio decoding failed: {ffmpeg_reason(err)}", index=index,
                                 field=AUDIO) from err
        if cur.errors:
            errs, cur.errors = cur.errors, []
            for e in errs:
                self.issues.skip(BadRecordError(self.path, e, index=index, field=AUDIO), kind="bad_audio_packet")
        lo, samples = cur.take(a, b)
        cur.drop_before(a)
        if samples.shape[1] == 0:
            return None
        ts = self.start_us + round(lo * 1e6 / self._ix.out_rate)
        return AudioChunk(samples=np.clip(samples, -1.0, 1.0), sample_rate=int(self._ix.out_rate), timestamp_us=ts,
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
        if self._ix.audio_info is None or self._ix.out_rate is None:
            raise LogFormatError(f"{self.path}: no decodable audio stream ({'; '.join(self.notes)})")
        cur = self._open_audio()
        try:
            cur.restart(None)
            cur.fill(None)
            for e in cur.errors:
                self.issues.skip(BadRecordError(self.path, e, field=AUDIO), kind="bad_audio_packet")
            lo, samples = cur.take(cur.buf_start, cur.buf_end)
        finally:
            cur.close()
        return AudioChunk(samples=np.clip(samples, -1.0, 1.0), sample_rate=int(self._ix.out_rate),
                          timestamp_us=self.start_us + round(lo * 1e6 / self._ix.out_rate), frame_id=AUDIO)

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
