"""Audio (log-mel CNN) encoder: shapes, determinism, the input matters, gradients, export round trip, errors."""
from __future__ import annotations

import json
import math

import pytest
import torch

import multimodal
from multimodal.export import export_encoder
from multimodal.models.audio_cnn import AudioCNN
from multimodal.models.registry import build_encoder

SR = 16000
SMALL = {"sample_rate": SR, "n_mels": 32, "n_fft": 512, "hop_length": 160, "out_channels": 16, "widths": [8, 16, 32]}


def small(**over) -> AudioCNN:
    return AudioCNN(**{**SMALL, **over})


def sine(freq: float, samples: int, batch: int = 1) -> torch.Tensor:
    t = torch.arange(samples, dtype=torch.float32) / SR
    return (0.5 * torch.sin(2 * math.pi * freq * t)).expand(batch, samples).clone()


@pytest.mark.parametrize("shape", [(2, 1, 4000), (3, 2, 8000), (2, 4000), (1, 512), (2, 1, 513)])
def test_output_shape_for_channels_and_lengths(shape):
    torch.manual_seed(0)
    enc = small().eval()
    out = enc(torch.rand(shape) * 2 - 1)
    assert out.shape == (shape[0], 16) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_default_config_from_registry_short_and_long_clips():
    enc = build_encoder("audio_cnn").eval()
    assert isinstance(enc, AudioCNN) and "output" in enc.contract()
    assert enc.contract()["sample_rate_hz"] == SR and enc.contract()["min_samples"] == 1024
    with torch.no_grad():
        for samples in (1024, SR):  # one FFT window (7 frames through 3 poolings) and one second
            assert enc(torch.zeros(2, 1, samples)).shape == (2, 128)


def test_multichannel_in_channels_sees_each_channel():
    torch.manual_seed(0)
    enc = small(in_channels=2).eval()
    x = torch.rand(2, 2, 4000) * 2 - 1
    assert enc(x).shape == (2, 16)
    swapped = x.flip(1)  # mono would not notice a channel swap; separate planes do
    assert not torch.allclose(enc(x), enc(swapped))
    with pytest.raises(ValueError, match=r"expected 2 audio channels.*\(2, 1, 4000\)"):
        enc(x[:, :1])


def test_deterministic_with_a_seed():
    x = torch.rand(2, 1, 4000) * 2 - 1
    torch.manual_seed(1)
    a = small().eval()
    torch.manual_seed(1)
    b = small().eval()
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    torch.testing.assert_close(a(x), a(x), rtol=0, atol=0)


def test_sine_and_noise_give_different_embeddings():
    torch.manual_seed(0)
    enc = small().eval()
    tone = sine(440.0, 8000)
    noise = torch.rand(1, 8000) - 0.5
    e_tone, e_noise = enc(tone), enc(noise)
    assert (e_tone - e_noise).norm() > 1e-3 * (e_tone.norm() + e_noise.norm())
    assert not torch.allclose(enc(sine(440.0, 8000)), enc(sine(3000.0, 8000)))


def test_gradients_reach_every_parameter_and_the_waveform():
    torch.manual_seed(0)
    enc = small().train()
    x = (torch.rand(2, 1, 4000) * 2 - 1).requires_grad_(True)
    enc(x).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_export_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    params = dict(SMALL)
    enc = build_encoder("audio_cnn", **params).train()
    x = torch.rand(3, 1, 4000) * 2 - 1
    enc(x)  # move batch-norm statistics off their defaults
    enc.eval()
    out = export_encoder(enc, "audio_cnn", params, tmp_path / "audio")
    cfg = json.loads((out / "encoder.json").read_text())
    # every constructor argument is recorded, the defaults filled in (Params)
    assert cfg["encoder"] == "audio_cnn" and cfg["params"] == {**params, "in_channels": 1}
    assert cfg["contract"] == json.loads(json.dumps(enc.contract())) and "input" in cfg["contract"]
    back = multimodal.load_encoder(out)
    assert isinstance(back, AudioCNN) and not back.training
    torch.testing.assert_close(back(x), enc(x), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(4000,), (1, 1, 1, 4000)])
def test_bad_rank_names_the_shape(shape):
    with pytest.raises(ValueError, match=r"\(B, channels, samples\).*" + r"\(" + ", ".join(map(str, shape))):
        small()(torch.zeros(shape))


def test_too_short_clip_and_integer_pcm_are_clear():
    enc = small()
    with pytest.raises(ValueError, match=r"511 samples is shorter than one FFT window \(n_fft=512.*\(2, 1, 511\)"):
        enc(torch.zeros(2, 1, 511))
    with pytest.raises(ValueError, match="int16 PCM: divide by 32768"):
        enc(torch.zeros(2, 1, 4000, dtype=torch.int16))
