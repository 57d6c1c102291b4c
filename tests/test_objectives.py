"""Objectives against hand-computed values on tiny inputs; gradients reach both encoders."""
from __future__ import annotations

import math

import pytest
import torch

from multimodal.objectives import OBJECTIVES, build_objective

TWO = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
# InfoNCE of two orthonormal matched pairs at temperature 1: -log(e / (e + 1)).
NCE_2 = math.log(1 + math.exp(-1))


def test_point_info_nce_hand_value():
    loss, logs = build_objective("point_info_nce", temperature=1.0)(TWO, TWO, {"matches": torch.tensor([[0, 0], [1, 1]])})
    assert loss.item() == pytest.approx(NCE_2, abs=1e-6)
    assert logs["top1"].item() == 1.0
    # Swapped matches: every retrieval is wrong and the loss is -log(1 / (e + 1)).
    loss, logs = build_objective("point_info_nce", temperature=1.0)(TWO, TWO, {"matches": torch.tensor([[0, 1], [1, 0]])})
    assert loss.item() == pytest.approx(math.log(1 + math.e), abs=1e-6) and logs["top1"].item() == 0.0


def test_point_info_nce_temperature_scales_logits():
    loss = build_objective("point_info_nce", temperature=0.5)(TWO, TWO, {"matches": torch.tensor([[0, 0], [1, 1]])})[0]
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)


def test_hardest_contrastive_hand_value():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    loss, logs = build_objective("hardest_contrastive", pos_margin=0.1, neg_margin=1.4)(a, b, {"matches": torch.tensor([[0, 0], [1, 1]])})
    # pos: d(a0,b0)=sqrt(0.4), d(a1,b1)=0 -> mean([sqrt(.4)-.1]^2, 0)
    pos = (math.sqrt(0.4) - 0.1) ** 2 / 2
    # hardest negatives (true matches excluded): a1<->b0 at sqrt(0.8) in both directions, a0<->b1 at sqrt(2) > margin
    neg = 0.5 * ((1.4 - math.sqrt(0.8)) ** 2 / 2 + (1.4 - math.sqrt(0.8)) ** 2 / 2)
    assert logs["pos_loss"].item() == pytest.approx(pos, abs=1e-5)
    assert logs["neg_loss"].item() == pytest.approx(neg, abs=1e-5)
    assert loss.item() == pytest.approx(pos + neg, abs=1e-5)


def test_hardest_contrastive_never_takes_a_true_match_as_negative():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # a0 and a1 both match b0 (a duplicate point): b0 must not be a negative for either.
    loss, logs = build_objective("hardest_contrastive")(a, b, {"matches": torch.tensor([[0, 0], [1, 0], [2, 1]])})
    assert logs["pos_loss"].item() == pytest.approx(0.0, abs=1e-9)
    # the only negatives are orthogonal (distance sqrt 2 > 1.4), so nothing is penalised
    assert logs["neg_loss"].item() == pytest.approx(0.0, abs=1e-9)


def test_pixel_to_point_hand_value():
    pix = TWO.t().reshape(1, 2, 1, 2)  # one image, 1x2 feature map: pixel (0,0) = e0, pixel (0,1) = e1
    pairs = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 1]])
    loss, logs = build_objective("pixel_to_point", temperature=1.0)(TWO, pix, {"pairs": pairs})
    assert loss.item() == pytest.approx(NCE_2, abs=1e-6) and logs["top1"].item() == 1.0
    with pytest.raises(ValueError, match="outside the feature maps"):
        build_objective("pixel_to_point")(TWO, pix, {"pairs": torch.tensor([[0, 0, 0, 5], [1, 0, 0, 1]])})


def test_superpixel_to_superpoint_hand_value():
    points = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [5.0, 5.0]])
    point_seg = torch.tensor([0, 0, 1, 1, -1])  # the last point projects nowhere: ignored
    pix = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.3, 0.3]]).t().reshape(1, 2, 1, 3)
    pix_seg = torch.tensor([[[0, 1, 2]]])  # superpixel 2 holds no point: not used
    loss, logs = build_objective("superpixel_to_superpoint", temperature=1.0)(points, pix, {"point_segment": point_seg,
                                                                                  "pixel_segment": pix_seg})
    assert loss.item() == pytest.approx(NCE_2, abs=1e-6)
    assert logs["superpixels"].item() == 2


def test_pair_sampling_caps_the_logits():
    torch.manual_seed(0)
    f = torch.randn(500, 8)
    m = torch.stack([torch.arange(500), torch.arange(500)], 1)
    _, logs = build_objective("point_info_nce", num_pairs=64)(f, f, {"matches": m})
    assert logs["pairs"].item() == 64 and logs["top1"].item() == 1.0  # identical views retrieve perfectly


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_gradients_reach_both_encoders(name):
    torch.manual_seed(0)
    enc_a, enc_b = torch.nn.Linear(3, 8), torch.nn.Linear(3, 8)
    xa, xb = torch.randn(40, 3), torch.randn(40, 3)
    fa, fb = enc_a(xa), enc_b(xb)
    matches = torch.stack([torch.arange(40), torch.randperm(40)], 1)
    obj = build_objective(name)
    if name in ("point_info_nce", "hardest_contrastive"):
        loss, _ = obj(fa, fb, {"matches": matches})
    else:
        pix = fb.t().reshape(1, 8, 5, 8)  # the "camera" features: 40 cells of a 5x8 map
        if name == "pixel_to_point":
            pairs = torch.stack([torch.arange(40), torch.zeros(40, dtype=torch.long), matches[:, 1] // 8,
                                 matches[:, 1] % 8], 1)
            loss, _ = obj(fa, pix, {"pairs": pairs})
        else:
            seg = torch.arange(40) // 4  # 10 superpixels of 4 cells, points assigned to them
            loss, _ = obj(fa, pix, {"point_segment": seg[matches[:, 1]], "pixel_segment": seg.reshape(1, 5, 8)})
    loss.backward()
    for enc in (enc_a, enc_b):
        assert enc.weight.grad is not None and enc.weight.grad.abs().sum() > 0


def test_unknown_objective_is_a_clear_error():
    with pytest.raises(KeyError, match="point_info_nse"):
        build_objective("point_info_nse")


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_params_document_the_constructor(name):
    """Each objective's ``Params`` dataclass is its constructor's keyword arguments: same names, same defaults."""
    import dataclasses
    import inspect

    cls = OBJECTIVES[name]
    sig = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    fields = {f.name: f.default for f in dataclasses.fields(cls.Params)}
    assert fields == sig
    assert cls.inputs, "an objective names the correspondence keys it reads"


def test_objective_params_are_checked_with_a_suggestion():
    from multimodal.typed_config import ConfigError

    with pytest.raises(ConfigError, match="objective.params.temprature: unknown key; did you mean 'temperature'"):
        build_objective("point_info_nce", temprature=0.1)
    with pytest.raises(ConfigError, match="num_pairs: expected an integer"):
        build_objective("point_info_nce", num_pairs="many")
