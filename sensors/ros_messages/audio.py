"""Audio messages of ``audio_common`` <-> ``(channels, S) float32`` samples in [-1, 1].

ROS 2 has no standard audio message; we read the layout of ``audio_common`` (ROS 2 humble):

- the audio topic has type ``audio_common_msgs/msg/AudioDataStamped``::

      std_msgs/Header header              # stamp = time of the first sample
      audio_common_msgs/AudioData audio   # uint8[] data

- an optional (latched, transient-local) topic of type ``audio_common_msgs/msg/AudioInfo``::

      uint8 channels
      uint32 sample_rate      # Hz
      string sample_format    # e.g. "S16LE", "S32LE", "F32LE"
      uint32 bitrate
      string coding_format    # "wave" = interleaved raw PCM

``data`` holds interleaved PCM frames (``c0 c1 ... c0 c1 ...``), each sample in
``sample_format`` (GStreamer naming: ``S``/``U`` integer, ``F`` float, bits, ``LE``/``BE``).
When a bag has no ``AudioInfo``, the reader must be told an :class:`AudioFormat`.
The ``.msg`` texts are in :data:`AUDIO_MSG_DEFINITIONS`; :func:`register_audio_types` adds them
to a rosbags typestore.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadRecordError
from .common import as_uint8, make_header

AUDIO_MSG_DEFINITIONS: dict[str, str] = {
    "audio_common_msgs/msg/AudioData": "uint8[] data\n",
    "audio_common_msgs/msg/AudioDataStamped": "std_msgs/Header header\naudio_common_msgs/AudioData audio\n",
    "audio_common_msgs/msg/AudioInfo": (
        "# This message contains the audio meta data\n"
        "\n"
        "# Number of channels\n"
        "uint8 channels\n"
        "# Sampling rate [Hz]\n"
        "uint32 sample_rate\n"
        "# Audio format (e.g. S16LE)\n"
        "string sample_format\n"
        "# Amount of audio data per second [bits/s]\n"
        "uint32 bitrate\n"
        "# Audio coding format (e.g. WAVE, MP3)\n"
        "string coding_format\n"
    ),
}


def register_audio_types(typestore: Any) -> None:
    """Register the ``audio_common_msgs`` types of :data:`AUDIO_MSG_DEFINITIONS` in a rosbags typestore.

    Idempotent: registering again with the same definitions is a no-op.
    """
    from rosbags.typesys import get_types_from_msg

    types: dict = {}
    for name, text in AUDIO_MSG_DEFINITIONS.items():
        types.update(get_types_from_msg(text, name))
    typestore.register(types)


#: sample_format -> (numpy dtype, scale to [-1, 1], offset subtracted first); S24 is packed 3-byte
SAMPLE_FORMATS: dict[str, tuple[str, float, float]] = {
    "U8": ("u1", 128.0, 128.0),
    "S8": ("i1", 128.0, 0.0),
    "S16LE": ("<i2", 32768.0, 0.0),
    "S16BE": (">i2", 32768.0, 0.0),
    "U16LE": ("<u2", 32768.0, 32768.0),
    "U16BE": (">u2", 32768.0, 32768.0),
    "S24LE": ("<i3", 8388608.0, 0.0),
    "S24BE": (">i3", 8388608.0, 0.0),
    "S32LE": ("<i4", 2147483648.0, 0.0),
    "S32BE": (">i4", 2147483648.0, 0.0),
    "F32LE": ("<f4", 1.0, 0.0),
    "F32BE": (">f4", 1.0, 0.0),
    "F64LE": ("<f8", 1.0, 0.0),
    "F64BE": (">f8", 1.0, 0.0),
}
_RAW_CODINGS = ("", "wave", "wav", "raw", "pcm")


def _sample_spec(sample_format: str) -> tuple[str, float, float] | None:
    return SAMPLE_FORMATS.get(str(sample_format).strip().upper())


def _sample_size(spec: tuple[str, float, float]) -> int:
    return 3 if spec[0][1:] == "i3" else np.dtype(spec[0]).itemsize


@dataclass
class AudioFormat:
    """How the bytes of an audio message are laid out.

    Attributes:
        channels: interleaved channels per frame.
        sample_rate: Hz.
        sample_format: GStreamer-style name, one of :data:`SAMPLE_FORMATS` (``S16LE``, ``F32LE`` ...).
    """

    channels: int
    sample_rate: int
    sample_format: str = "S16LE"

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one frame (one sample of every channel); raises KeyError for unknown formats."""
        spec = _sample_spec(self.sample_format)
        if spec is None:
            raise KeyError(self.sample_format)
        return _sample_size(spec) * int(self.channels)

    @classmethod
    def from_info_msg(cls, msg: Any, source: str = "AudioInfo", index: int | None = None) -> AudioFormat:
        """From an ``audio_common_msgs/AudioInfo``; empty ``sample_format`` means ``S16LE``.

        Raises:
            BadRecordError: ``channels`` < 1, ``sample_rate`` 0, or ``coding_format`` not raw PCM
                (``wave``) e.g. ``mp3``.
        """
        coding = str(getattr(msg, "coding_format", "") or "").strip().lower()
        if coding not in _RAW_CODINGS:
            raise BadRecordError(
                source, f"coding_format '{msg.coding_format}' is not raw PCM (expected 'wave')", index, "coding_format"
            )
        channels, rate = int(msg.channels), int(msg.sample_rate)
        if channels < 1:
            raise BadRecordError(source, f"channels is {channels}, must be >= 1", index, "channels")
        if rate <= 0:
            raise BadRecordError(source, f"sample_rate is {rate}, must be > 0", index, "sample_rate")
        return cls(channels, rate, str(msg.sample_format or "S16LE").strip().upper())

    def to_info_msg(self, msg_types: Mapping[str, Any], coding_format: str = "wave") -> Any:
        """Build the matching ``audio_common_msgs/msg/AudioInfo`` (types from :func:`register_audio_types`)."""
        spec = _sample_spec(self.sample_format)
        bits = 8 * _sample_size(spec) if spec else 0
        return msg_types["audio_common_msgs/msg/AudioInfo"](
            channels=int(self.channels),
            sample_rate=int(self.sample_rate),
            sample_format=str(self.sample_format),
            bitrate=int(bits * self.channels * self.sample_rate),
            coding_format=coding_format,
        )


def audio_to_array(msg: Any, fmt: AudioFormat, source: str = "audio", index: int | None = None) -> np.ndarray:
    """Decode interleaved PCM of an ``AudioDataStamped`` (or bare ``AudioData``) message.

    Returns:
        ``(channels, S) float32`` in [-1, 1] (integers divided by 2**(bits-1); float samples
        clipped). Empty data gives ``(channels, 0)``.

    Raises:
        BadRecordError: unknown ``sample_format``, byte length not a multiple of the frame size,
            non-finite float samples (field ``data``).
    """
    spec = _sample_spec(fmt.sample_format)
    if spec is None:
        raise BadRecordError(
            source,
            f"unknown sample_format '{fmt.sample_format}' (supported: {', '.join(SAMPLE_FORMATS)})",
            index,
            "sample_format",
        )
    channels = int(fmt.channels)
    if channels < 1:
        raise BadRecordError(source, f"channels is {channels}, must be >= 1", index, "channels")
    holder = getattr(msg, "audio", msg)
    data = as_uint8(holder.data)
    size = _sample_size(spec)
    frame = size * channels
    if data.size % frame:
        raise BadRecordError(
            source,
            f"{data.size} bytes is not a multiple of the frame size {frame} "
            f"({channels} channel(s) x {size} bytes, {fmt.sample_format})",
            index,
            "data",
        )
    code, scale, offset = spec
    if size == 3:
        b = data.reshape(-1, 3).astype(np.int32)
        if code[0] == ">":
            b = b[:, ::-1]
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        values = ints.astype(np.float64)
    else:
        values = np.frombuffer(data, dtype=np.dtype(code))
        if values.dtype.kind == "f":
            if not np.isfinite(values).all():
                raise BadRecordError(source, "non-finite float samples", index, "data")
            return np.ascontiguousarray(np.clip(values.reshape(-1, channels).T, -1.0, 1.0), dtype=np.float32)
        values = values.astype(np.float64)
    out = (values - offset) / scale
    return np.ascontiguousarray(out.reshape(-1, channels).T, dtype=np.float32)


def array_to_audio(
    samples: np.ndarray,
    stamp_ns: int,
    frame_id: str,
    msg_types: Mapping[str, Any],
    sample_format: str = "S16LE",
) -> Any:
    """Build an ``audio_common_msgs/msg/AudioDataStamped`` from ``(channels, S)`` floats in [-1, 1].

    A 1-D array is mono. Values are clipped to [-1, 1] and, for integer formats, scaled by
    2**(bits-1) and rounded (saturating at the positive end). ``msg_types`` must hold the audio
    types (:func:`register_audio_types`).
    """
    spec = _sample_spec(sample_format)
    if spec is None:
        raise ValueError(f"unknown sample_format '{sample_format}' (supported: {', '.join(SAMPLE_FORMATS)})")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected (channels, S) samples, got shape {x.shape}")
    inter = np.clip(x, -1.0, 1.0).T.reshape(-1)  # interleave: frame by frame
    code, scale, offset = spec
    if code[1] == "f":
        raw = inter.astype(code).tobytes()
    else:
        ints = np.rint(inter * scale + offset)
        hi = offset + scale - 1
        ints = np.clip(ints, offset - scale, hi).astype(np.int64)
        if code[1:] == "i3":
            u = (ints & 0xFFFFFF).astype(np.uint32)
            b = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8)
            if code[0] == ">":
                b = b[:, ::-1]
            raw = b.tobytes()
        else:
            raw = ints.astype(code).tobytes()
    data = np.frombuffer(raw, dtype=np.uint8).copy()
    return msg_types["audio_common_msgs/msg/AudioDataStamped"](
        header=make_header(stamp_ns, frame_id, msg_types),
        audio=msg_types["audio_common_msgs/msg/AudioData"](data=data),
    )
