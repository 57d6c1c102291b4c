"""Exported encoders: safetensors + JSON round trip, no pickle, clear errors for wrong folders/architectures."""
from __future__ import annotations

import json

import pytest
import torch

from multimodal.export import EncoderFormatError, export_encoder, load_encoder
from multimodal.models.registry import build_encoder


def test_round_trip_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    enc = build_encoder("point_mlp", in_channels=4, hidden=16, out_channels=8).train()
    x = torch.randn(50, 4)
    enc(x)  # move batch-norm statistics off their defaults
    enc.eval()
    out = export_encoder(enc, "point_mlp", {"in_channels": 4, "hidden": 16, "out_channels": 8}, tmp_path / "e",
                         meta={"steps": 3})
    assert sorted(p.name for p in out.iterdir()) == ["encoder.json", "encoder.safetensors"]
    cfg = json.loads((out / "encoder.json").read_text())
    assert cfg["encoder"] == "point_mlp" and "output" in cfg["contract"] and cfg["meta"] == {"steps": 3}
    back = load_encoder(out)
    assert not back.training
    torch.testing.assert_close(back(x), enc(x), rtol=0, atol=0)


def test_camera_encoder_exports_too(tmp_path):
    enc = build_encoder("camera_resnet", depth=18, out_channels=8).eval()
    export_encoder(enc, "camera_resnet", {"depth": 18, "out_channels": 8}, tmp_path)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(load_encoder(tmp_path)(x), enc(x))


def test_wrong_architecture_and_missing_files_are_clear(tmp_path):
    enc = build_encoder("point_mlp", hidden=16)
    export_encoder(enc, "point_mlp", {"hidden": 16}, tmp_path / "e")
    cfg_path = tmp_path / "e" / "encoder.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["params"] = {"hidden": 32}
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(EncoderFormatError, match=r"encoder.safetensors: weights are for a different architecture.*shapes"):
        load_encoder(tmp_path / "e")
    with pytest.raises(EncoderFormatError, match="no exported encoder here"):
        load_encoder(tmp_path / "nothing")
    cfg["encoder"] = "no_such_encoder"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(EncoderFormatError, match="no_such_encoder"):
        load_encoder(tmp_path / "e")


def test_export_contains_no_pickle(tmp_path):
    export_encoder(build_encoder("point_mlp"), "point_mlp", {}, tmp_path)
    data = (tmp_path / "encoder.safetensors").read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_len])  # safetensors: a JSON header then raw tensor bytes
    assert all(v["dtype"] in ("F32", "I64") for k, v in header.items() if k != "__metadata__")
