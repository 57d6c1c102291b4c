"""Audio encoder: a small VGG-style 2D CNN over the log-mel spectrogram, pooled to one clip embedding.

Input ``waveform (B, channels, samples)`` (or ``(B, samples)``) float32 in [-1, 1] at ``sample_rate`` Hz;
output ``(B, out_channels)``: one embedding per clip. The log-mel image is computed inside the model
(``torchaudio.transforms.MelSpectrogram``, then ``log(mel + 1e-6)``), so callers pass raw PCM scaled to
[-1, 1] (int16 PCM: divide by 32768). The CNN ends in a global average over time and frequency, so any
clip of at least ``n_fft`` samples works; clips in one batch share one length (pad or crop first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torchaudio
from torch import nn

LOG_EPS = 1e-6  # added to the mel power before the log: silence gives log(1e-6) ~ -13.8, not -inf


class AudioCNN(nn.Module):
    """Log-mel front end + conv stages (two 3x3 conv-BN-ReLU each, 2x2 max pool between) + mean pool + linear.

    Arguments: :class:`Params`. ``in_channels``: 1 (default): any number of input channels is averaged
    to mono first. More than 1: the input must have exactly that many channels, and each channel's
    log-mel image is a separate input plane (keeps inter-channel level differences).
    """

    @dataclass
    class Params:
        """The constructor's keyword arguments, typed and documented (configs are validated against it)."""

        sample_rate: int = 16000                     # Hz of the input waveform (mel filterbank spans 0 .. sample_rate / 2)
        n_mels: int = 64                             # mel bins of the log-mel image
        n_fft: int = 1024                            # FFT window, samples (1024 = 64 ms at 16 kHz); also the shortest clip
        hop_length: int = 160                        # samples between frames (160 = 10 ms at 16 kHz)
        out_channels: int = 128                      # size of the clip embedding
        widths: tuple[int, ...] = (32, 64, 128, 256)  # channels per conv stage; each after the first halves time and freq
        in_channels: int = 1                         # audio channels the CNN sees (1: the input is averaged to mono)

    # Which sensor the encoder reads; serving picks the ROS node by it.
    modality = "audio"

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, n_fft: int = 1024, hop_length: int = 160,
                 out_channels: int = 128, widths: Sequence[int] = (32, 64, 128, 256), in_channels: int = 1):
        super().__init__()
        widths = [int(w) for w in widths]
        if not widths:
            raise ValueError("widths must name at least one conv stage")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.sample_rate, self.n_mels, self.n_fft, self.hop_length = sample_rate, n_mels, n_fft, hop_length
        self.out_channels, self.widths, self.in_channels = out_channels, widths, in_channels
        self.melspec = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, n_fft=n_fft,
                                                            hop_length=hop_length, n_mels=n_mels, power=2.0)
        # Per-mel-bin normalization of the log-mel image (as PANNs do): bins differ in level by tens of dB.
        self.input_norm = nn.BatchNorm2d(n_mels)
        stages: list[nn.Module] = []
        prev = in_channels
        for i, w in enumerate(widths):
            # ceil_mode: a short clip's time axis shrinks to 1 frame, never to 0
            pool = [nn.MaxPool2d(2, ceil_mode=True)] if i > 0 else []
            stages.append(nn.Sequential(*pool, _conv_bn_relu(prev, w), _conv_bn_relu(w, w)))
            prev = w
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(prev, out_channels)

    def contract(self) -> dict[str, Any]:
        """This encoder's input and output (an export records it)."""
        channels = "any number, averaged to mono" if self.in_channels == 1 else f"exactly {self.in_channels}"
        return {"input": f"waveform (B, channels, samples) or (B, samples) float32 in [-1, 1] at {self.sample_rate} Hz, "
                         f"samples >= {self.n_fft}; channels: {channels}",
                "output": f"embedding (B, {self.out_channels}) float32, one per clip",
                "sample_rate_hz": self.sample_rate, "min_samples": self.n_fft, "in_channels": self.in_channels,
                "out_channels": self.out_channels}

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, C, S)`` waveform -> ``(B, C', n_mels, frames)`` log mel power, ``C' = in_channels``."""
        if self.in_channels == 1:
            waveform = waveform.mean(dim=1, keepdim=True)
        return torch.log(self.melspec(waveform) + LOG_EPS)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, channels, samples)`` or ``(B, samples)`` float waveform -> ``(B, out_channels)`` embedding."""
        if waveform.ndim == 2:
            waveform = waveform.unsqueeze(1)
        if waveform.ndim != 3:
            raise ValueError(f"expected waveform (B, channels, samples) or (B, samples), got {tuple(waveform.shape)}")
        if not waveform.is_floating_point():
            raise ValueError(f"expected a float waveform in [-1, 1], got {waveform.dtype} "
                             "(int16 PCM: divide by 32768)")
        B, C, S = waveform.shape
        if self.in_channels > 1 and C != self.in_channels:
            raise ValueError(f"expected {self.in_channels} audio channels, got waveform {tuple(waveform.shape)}")
        if C < 1 or B < 1:
            raise ValueError(f"empty waveform {tuple(waveform.shape)}")
        if S < self.n_fft:
            raise ValueError(f"clip of {S} samples is shorter than one FFT window (n_fft={self.n_fft}, "
                             f"{self.n_fft / self.sample_rate * 1000:.0f} ms); waveform {tuple(waveform.shape)}")
        x = self.log_mel(waveform.float())                                     # (B, C', M, T)
        x = self.input_norm(x.transpose(1, 2)).transpose(1, 2)                 # normalize per mel bin
        x = self.stages(x)                                                     # (B, widths[-1], M', T')
        return self.head(x.mean(dim=(2, 3)))


def _conv_bn_relu(a: int, b: int) -> nn.Sequential:
    # no bias before batch norm: BN removes it
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True))
