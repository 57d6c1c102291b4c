"""Camera encoder: output shape and stride, frozen-teacher mode, local weights only, input in [0, 1]
normalized inside (an exported encoder needs no preprocessing of the caller but the uint8 -> float cast)."""
from __future__ import annotations

import pytest
import torch

from multimodal.models.camera_resnet import IMAGENET_MEAN, IMAGENET_STD, CameraResNet, images_to_float, pad_images


@pytest.mark.parametrize("depth, stride", [(18, 4), (18, 8), (50, 4)])
def test_dense_output_at_the_stride(depth, stride):
    torch.manual_seed(0)
    enc = CameraResNet(depth=depth, out_channels=32, stride=stride).eval()
    with torch.no_grad():
        out = enc(torch.randn(2, 3, 96, 160))
    assert out.shape == (2, 32, 96 // stride, 160 // stride)


def test_features_are_local():
    """A change in one image corner changes the features near it far more than in the far corner."""
    torch.manual_seed(0)
    enc = CameraResNet(depth=18, out_channels=16).eval()
    x = torch.randn(1, 3, 128, 128)
    y = x.clone()
    y[:, :, :16, :16] += 3.0
    with torch.no_grad():
        d = (enc(x) - enc(y)).abs().sum(1)[0]
    assert d[:4, :4].mean() > 10 * d[-4:, -4:].mean()


def test_frozen_trunk_gets_no_gradient_and_keeps_bn_statistics():
    torch.manual_seed(0)
    enc = CameraResNet(depth=18, out_channels=16, freeze_trunk=True).train()
    before = enc.stem[1].running_mean.clone()
    enc(torch.randn(2, 3, 64, 64)).sum().backward()
    assert all(p.grad is None for p in enc.layers.parameters())
    assert enc.head[0].weight.grad is not None
    assert torch.equal(enc.stem[1].running_mean, before)


def test_local_weights_load_and_missing_file_is_clear(tmp_path):
    import torchvision

    src = torchvision.models.resnet18(weights=None)
    torch.save(src.state_dict(), tmp_path / "r18.pth")
    enc = CameraResNet(depth=18, weights_path=str(tmp_path / "r18.pth"))
    assert torch.equal(enc.stem[0].weight, src.conv1.weight)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        CameraResNet(weights_path=str(tmp_path / "none.pth"))


def test_bad_sizes_are_clear_errors():
    enc = CameraResNet(depth=18)
    with pytest.raises(ValueError, match="multiple of 32"):
        enc(torch.randn(1, 3, 90, 160))
    with pytest.raises(ValueError, match="images_to_float"):
        enc(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    x = images_to_float(torch.full((1, 4, 4, 3), 255, dtype=torch.uint8))
    assert x.shape == (1, 3, 4, 4) and x.dtype == torch.float32 and torch.equal(x, torch.ones(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\) uint8"):
        images_to_float(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))


def test_normalization_is_inside_and_not_in_the_state_dict():
    """The encoder on [0, 1] input equals the trunk and decoder on the ImageNet-normalized image (the old
    contract), and its state dict keys are the same as without the normalization (exports keep loading)."""
    torch.manual_seed(0)
    enc = CameraResNet(depth=18, out_channels=8).eval()
    rgb = torch.randint(0, 256, (2, 64, 96, 3), dtype=torch.uint8)
    x = images_to_float(rgb)
    mean = torch.tensor(IMAGENET_MEAN)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD)[None, :, None, None]
    with torch.no_grad():
        out = enc(x)
        enc.input_mean.zero_()
        enc.input_std.fill_(1.0)
        ref = enc((x - mean) / std)  # normalized outside, identity inside
    assert torch.equal(out, ref)
    keys = set(enc.state_dict())
    assert not {"input_mean", "input_std"} & keys
    assert all(k.split(".")[0] in ("stem", "layers", "lateral", "head") for k in keys)


def test_padding_is_the_mean_colour():
    x = images_to_float(torch.randint(0, 256, (1, 40, 50, 3), dtype=torch.uint8))
    p = pad_images(x)
    assert p.shape == (1, 3, 64, 64) and torch.equal(p[:, :, :40, :50], x)
    normalized = (p - torch.tensor(IMAGENET_MEAN)[None, :, None, None]) / torch.tensor(IMAGENET_STD)[None, :, None, None]
    assert torch.equal(normalized[:, :, 40:], torch.zeros(1, 3, 24, 64))
    assert torch.equal(normalized[:, :, :, 50:], torch.zeros(1, 3, 64, 14))
    assert pad_images(p) is p


def test_contract_states_the_instance_values():
    c = CameraResNet(depth=18, out_channels=8, stride=8).contract()
    assert c["stride_px"] == 8 and c["out_channels"] == 8 and c["input_range"] == [0.0, 1.0]
    assert "[0, 1]" in c["input"] and "H/8" in c["output"]
