"""Camera encoder: output shape and stride, frozen-teacher mode, local weights only."""
from __future__ import annotations

import pytest
import torch

from multimodal.models.camera_resnet import CameraResNet, normalize_images


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
    x = normalize_images(torch.full((1, 4, 4, 3), 255, dtype=torch.uint8))
    assert x.shape == (1, 3, 4, 4) and torch.allclose(x[0, 0], torch.full((4, 4), (1 - 0.485) / 0.229))
