"""Video decoding: an open container decoding forward, and the frame at a given ``pts``.

Iterating in order keeps the decoder position and only decodes forward; a seek (to the key frame at or
before the target) happens only when a key frame lies between the current position and the target.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from ..errors import BadRecordError
from .common import VIDEO, ffmpeg_reason
from .probe import MediaIndex


class VideoCursor:
    """An open container decoding the video stream forward, with the position of the last frame."""

    def __init__(self, path: str, ix: MediaIndex):
        self.path = path
        self.ix = ix
        self.container = av.open(path)
        self.stream = self.container.streams[ix.video_index]
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
                self.errors[None] = f"cannot read further packets: {ffmpeg_reason(err)}"
                return
            if packet.is_discard:
                continue
            try:
                decoded = packet.decode()
            except av.FFmpegError as err:
                self.errors[packet.pts if packet.pts is not None else packet.dts] = ffmpeg_reason(err)
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

    def can_continue(self, pts: int) -> bool:
        """Whether decoding forward from here reaches ``pts`` without passing a key frame (cheaper than a seek)."""
        if self.frames is None or self.last_pts is None:
            return False
        if self.pending is not None and (self.pending.pts if self.pending.pts is not None else self.pending.dts) > pts:
            return False
        if pts <= self.last_pts:
            return False
        keyframes = self.ix.keyframes
        k = bisect.bisect_right(keyframes, pts) - 1
        return k < 0 or keyframes[k] <= self.last_pts

    def frame_at(self, pts: int, index: int) -> np.ndarray:
        """Decode the frame with presentation time ``pts``: ``(H, W, 3) uint8`` RGB.

        Reads forward from the current decoder position when no key frame lies in between,
        otherwise seeks to the key frame at or before ``pts``; if a seek lands past the target
        (imprecise container index) it retries 5 s earlier, then from the start of the stream.

        Raises:
            BadRecordError: (``index``, field ``video``) the frame cannot be decoded.
            av.FFmpegError: the decoder failed; the caller drops this cursor.
        """
        keyframes = self.ix.keyframes
        first = int(self.ix.vpts_all[0])
        k = bisect.bisect_right(keyframes, pts) - 1
        back = round(5 / self.ix.vtb)  # 5 s, in time-base ticks
        attempts: list[int | None] = [None] if self.can_continue(pts) else []
        attempts += [pts, max(first, (keyframes[k] if k >= 0 else pts) - back), first]
        reason = "no frame decoded"
        for seek_to in attempts:
            if seek_to is not None:
                self.seek(seek_to)
            image, reason = self._read_to(pts, index)
            if image is not None:
                return image
        raise self._bad(reason, index)

    def _read_to(self, pts: int, index: int) -> tuple[np.ndarray | None, str]:
        """Decode forward to ``pts``: ``(RGB, "")``, or ``(None, why)`` when the stream passes or ends without it."""
        while True:
            item = self.next_frame()
            if item is None:
                err = self.errors.get(pts) or next(iter(self.errors.values()), None)
                if err is None and pts in self.ix.corrupt_pts:
                    err = "the demuxer flagged this packet corrupt (truncated file?)"
                reason = f"the decoder reached the end of the stream without a frame at pts={pts}" + (
                    f" ({err})" if err else "")
                if pts in self.errors:
                    raise self._bad(reason, index)
                return None, reason
            frame, fpts = item
            if fpts is None:
                raise self._bad("a decoded frame has no pts/dts, it cannot be placed", index)
            if fpts < pts:
                continue
            if fpts == pts:
                return frame.to_ndarray(format="rgb24"), ""
            # Past the target: the target failed to decode, or the seek landed too late.
            self.pending = frame
            if pts in self.errors:
                raise self._bad(f"frame pts={pts} failed to decode: {self.errors[pts]}", index)
            return None, f"the decoder produced no frame at pts={pts} (next frame pts={fpts})" + (
                "; the demuxer flagged this packet corrupt" if pts in self.ix.corrupt_pts else "")

    def _bad(self, reason: str, index: int) -> BadRecordError:
        return BadRecordError(self.path, reason, index=index, field=VIDEO)

    def close(self) -> None:
        self.frames = None
        self.pending = None
        self.container.close()
