"""Write audio-video clips (mp4: H.264 video plus an AAC audio track) through PyAV: the inverse of ``AVClipLog``.

Video frames are RGB arrays at a constant frame rate; frame ``k`` is shown at ``k / fps`` seconds.
The audio track starts at the same instant as the first video frame. Images with odd width or
height (H.264's 4:2:0 chroma needs even sizes) are encoded as 4:4:4 instead of being cropped or
padded, so the clip's frames keep the images' exact size.

Output is byte-for-byte reproducible: one encoder thread (x264's output depends on its thread
count) and FFmpeg's ``bitexact`` flags (no library version strings in the file).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

AAC_FRAME = 1024
"""Samples per AAC frame."""


def write_av_clip(path: str | os.PathLike, images: Iterable[np.ndarray], fps: float | Fraction,
                  audio: np.ndarray | None = None, sample_rate: int = 16_000, *, crf: int = 20,
                  preset: str = "ultrafast", audio_bitrate: int = 64_000) -> Path:
    """Encode ``images`` (each ``(H, W, 3) uint8`` RGB, all the same size) and optional ``audio``.

    Args:
        path: output file (``.mp4``); its folder is created; written to a temporary name and renamed.
        fps: video frame rate (Hz).
        audio: ``(channels, S)`` or ``(S,)`` float32 samples in [-1, 1] (1 or 2 channels), starting with
            the first video frame; None for a silent clip.
        sample_rate: audio sample rate (Hz).
        crf / preset: x264 quality (lower = better) and speed preset.
        audio_bitrate: AAC bit rate (bits/s).

    Returns:
        The path written. Raises ``ValueError`` for no images, mixed sizes or bad audio shapes.
    """
    import av
    from av.codec.context import Flags

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    rate = Fraction(fps).limit_denominator(1001)
    samples = None
    if audio is not None:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[None, :]
        if samples.ndim != 2 or samples.shape[0] not in (1, 2):
            raise ValueError(f"{out}: audio must be (S,) or (channels<=2, S), got shape {samples.shape}")
    n_frames = 0
    try:
        with av.open(str(tmp), "w", format="mp4", options={"fflags": "+bitexact"}) as container:
            video = None
            size = None
            for img in images:
                img = np.ascontiguousarray(img, dtype=np.uint8)
                if img.ndim != 3 or img.shape[2] != 3:
                    raise ValueError(f"{out}: frame {n_frames} has shape {img.shape}, expected (H, W, 3) RGB")
                if video is None:
                    size = img.shape[:2]
                    video = container.add_stream("libx264", rate=rate)
                    video.width, video.height = size[1], size[0]
                    even = size[0] % 2 == 0 and size[1] % 2 == 0
                    video.pix_fmt = "yuv420p" if even else "yuv444p"
                    video.codec_context.thread_count = 1
                    video.codec_context.flags |= Flags.bitexact
                    video.options = {"crf": str(crf), "preset": preset}
                    if samples is not None:
                        astream = container.add_stream("aac", rate=int(sample_rate))
                        astream.layout = "mono" if samples.shape[0] == 1 else "stereo"
                        astream.bit_rate = int(audio_bitrate)
                        astream.codec_context.flags |= Flags.bitexact
                elif img.shape[:2] != size:
                    raise ValueError(f"{out}: frame {n_frames} is {img.shape[1]}x{img.shape[0]}, the first was "
                                     f"{size[1]}x{size[0]}")
                frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=video.pix_fmt)
                frame.pts = n_frames
                frame.time_base = 1 / rate
                for packet in video.encode(frame):
                    container.mux(packet)
                n_frames += 1
            if video is None:
                raise ValueError(f"{out}: no images to encode")
            for packet in video.encode():
                container.mux(packet)
            if samples is not None:
                astream = container.streams.audio[0]
                n = min(samples.shape[1], int(round(n_frames / rate * sample_rate)))
                layout = "mono" if samples.shape[0] == 1 else "stereo"
                for start in range(0, n, AAC_FRAME):
                    chunk = np.ascontiguousarray(samples[:, start:min(start + AAC_FRAME, n)])
                    aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                    aframe.sample_rate = int(sample_rate)
                    aframe.pts = start
                    aframe.time_base = Fraction(1, int(sample_rate))
                    for packet in astream.encode(aframe):
                        container.mux(packet)
                for packet in astream.encode():
                    container.mux(packet)
        os.replace(tmp, out)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return out
