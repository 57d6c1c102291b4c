"""Small pieces the media modules share: error text of FFmpeg, pts -> µs, channel layouts, tuning constants."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

VIDEO = "video"
AUDIO = "audio"

AUDIO_SEEK_MARGIN_S = 0.5  # decode this much audio before a random-access target (codec warm-up)
AUDIO_RESYNC_S = 0.05  # a timestamp jump larger than this is a real gap/overlap, not jitter
AUDIO_MAX_FORWARD_S = 2.0  # read forward instead of seeking when the target is at most this far ahead
AUDIO_ANCHOR_FRAMES = 8  # frames whose timestamps place the audio after a (re)start


def ffmpeg_reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def pts_to_us(pts: np.ndarray, origin: int, tb: Fraction, start_us: int) -> np.ndarray:
    """``start_us + round((pts - origin) * tb * 1e6)``, exact integer arithmetic, ``int64``."""
    num = (np.asarray(pts, dtype=np.int64) - origin) * (tb.numerator * 1_000_000)
    den = tb.denominator
    return start_us + (2 * num + den) // (2 * den)


def channel_layout(channels: int | None) -> str | None:
    """FFmpeg layout name for an output channel count (None: keep the source layout)."""
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
