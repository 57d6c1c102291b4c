"""The training engine: DDP equals one process, SIGKILL + resume equals an uninterrupted run, atomic
checkpoints, config and architecture errors. Runs the real CLI in subprocesses (CPU, gloo on loopback)."""
from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from .conftest import REPO

EXE = str(Path(sys.executable).with_name("multimodal"))
CONFIG = REPO / "configs" / "test_pointcontrast_mlp.yaml"


def _env(**extra):
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", MASTER_ADDR="127.0.0.1", OMP_NUM_THREADS="1", **extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(run_dir, *overrides, resume=False, env=None, wait=True):
    cmd = [EXE, "train", str(CONFIG), "--run-dir", str(run_dir), "--no-progress", *overrides]
    if resume:
        cmd.append("--resume")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env or _env())
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory):
    """The demo drive written once and shared by the runs (each run would otherwise write its own)."""
    from multimodal.demo_log import write_demo_log

    return write_demo_log(tmp_path_factory.mktemp("log") / "demo", n_frames=14, seed=0)


def _weights(run_dir):
    return load_file(str(Path(run_dir) / "encoders" / "lidar" / "encoder.safetensors"))


def test_two_process_ddp_equals_one_process(tmp_path, demo_log):
    """Same global batch (2): two gloo processes with one sample each vs one process with both. Batch norm
    statistics are all-reduced (DistributedBatchNorm1d), losses are per sample, pair sampling is seeded
    by the global sample number; what remains is float rounding of the reductions."""
    one = tmp_path / "one"
    two = tmp_path / "two"
    _train(one, f"data.log={demo_log}")
    _train(two, f"data.log={demo_log}", "trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu",
           env=_env(MASTER_PORT=str(_free_port())))
    a, b = _weights(one), _weights(two)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)
    # and training moved the weights (the comparison is not between two untouched initializations)
    from multimodal.models.registry import build_encoder

    torch.manual_seed(0)
    init = build_encoder("point_mlp", in_channels=4, hidden=32, out_channels=16).state_dict()
    assert (a["net.0.weight"] - init["net.0.weight"]).abs().max() > 1e-3


def test_sigkill_and_resume_equal_an_uninterrupted_run(tmp_path, demo_log):
    full = tmp_path / "full"
    _train(full, f"data.log={demo_log}", "trainer.max_steps=12")
    cut = tmp_path / "cut"
    proc = _train(cut, f"data.log={demo_log}", "trainer.max_steps=12", wait=False)
    ckpt = cut / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (cut / "encoders").exists()
    step = torch.load(ckpt, weights_only=True)["global_step"]
    assert 2 <= step < 12
    out = _train(cut, f"data.log={demo_log}", "trainer.max_steps=12", resume=True)
    assert "exported lidar encoder" in out
    a, b = _weights(full), _weights(cut)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume from step {step}"
    # The loss curve survives the kill and the resume: every step once, the same values as the uninterrupted run.
    def losses(run):
        with open(run / "logs" / "csv" / "metrics.csv", newline="") as f:
            return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f) if r.get("loss")]

    assert [s for s, _ in losses(cut)] == list(range(12))
    np.testing.assert_allclose([v for _, v in losses(cut)], [v for _, v in losses(full)], rtol=1e-6)


def test_interrupted_checkpoint_write_keeps_the_last_good_one(tmp_path):
    from multimodal.training.checkpoint_io import AtomicCheckpointIO

    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(3)}, path)

    class Dies:
        def __reduce__(self):  # pickling fails half way through the checkpoint
            raise KeyboardInterrupt("killed while writing")

    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2, "w": torch.zeros(3), "x": Dies()}, path)
    assert io.load_checkpoint(path)["global_step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left behind


def test_config_typo_and_foreign_checkpoint_are_clear_errors(tmp_path, demo_log):
    r = subprocess.run([EXE, "train", str(CONFIG), "--run-dir", str(tmp_path / "x"), "optim.lerning_rate=1"],
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 2 and "optim.lerning_rate: unknown key" in r.stderr and "did you mean 'lr'" not in r.stderr
    run = tmp_path / "run"
    _train(run, f"data.log={demo_log}", "trainer.max_steps=2")
    # `multimodal export` rebuilds the encoder from the checkpoint alone: same weights as the run's export.
    r = subprocess.run([EXE, "export", str(run), "--out", str(tmp_path / "exp")], capture_output=True, text=True,
                       env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    import multimodal

    exported = load_file(str(tmp_path / "exp" / "lidar" / "encoder.safetensors"))
    ref = _weights(run)
    assert exported.keys() == ref.keys() and all(torch.equal(exported[k], ref[k]) for k in ref)
    assert multimodal.load_encoder(tmp_path / "exp" / "lidar").out_channels == 16
    # Same run folder, other architecture: refused with the checkpoint named.
    r = subprocess.run([EXE, "train", str(CONFIG), "--run-dir", str(run), "--resume", f"data.log={demo_log}",
                        "model.lidar.params.hidden=48"], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 2 and "different model section" in r.stderr
    from multimodal.export import EncoderFormatError
    from multimodal.training.artifacts import load_weights
    from multimodal.training.config import ExperimentConfig
    from multimodal.training.module import SSLModule
    from multimodal.typed_config import load_config, to_dict

    other = SSLModule(to_dict(load_config(ExperimentConfig, CONFIG, ["model.lidar.params.hidden=48"])))
    with pytest.raises(EncoderFormatError, match=r"last.ckpt: weights are for a different architecture"):
        load_weights(other, run / "checkpoints" / "last.ckpt")


PPKT_OVERRIDES = [
    "method.name=ppkt", "method.params={cameras: [CAM_FRONT], image_wh: [128, 64], max_points: 3000}",
    "objective.name=pixel_to_point", "objective.params.num_pairs=256",
    "model.lidar.name=minkunet14", "model.lidar.params={in_channels: 4, out_channels: 8, voxel_size: 0.2, "
    "init_dim: 8, planes: [8, 8, 16, 16, 16, 8, 8, 8]}",
    "model.camera={name: camera_resnet, params: {depth: 18, out_channels: 8, stride: 4, freeze_trunk: true}}",
    "model.head_dim=8", "trainer.max_steps=2",
    # SGD, not Adam: Adam's first steps move every weight by +-lr whatever its gradient's size, so rounding-level
    # gradients (a bias right before a batch norm) would flip signs between the runs; SGD keeps them rounding-level.
    "optim.optimizer=sgd", "optim.lr=0.05",
]


@pytest.mark.slow
def test_torchrun_ddp_with_sparse_and_camera_encoders_equals_one_process(tmp_path, demo_log):
    """PPKT (MinkUNet-14 + ResNet-18 camera encoder with a frozen trunk, its decoder trained, as SLidR/PPKT use a
    teacher) launched by a real ``torchrun`` with two gloo processes, one sample each, against one process with
    both samples: every weight of both exported encoders agrees within float rounding (batch norm of both
    encoders synchronized, losses per sample)."""
    one, two = tmp_path / "one", tmp_path / "two"
    _train(one, f"data.log={demo_log}", *PPKT_OVERRIDES, "trainer.accelerator=cpu")
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    cmd = [torchrun, "--nnodes", "1", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "multimodal.cli", "train", str(CONFIG), "--run-dir", str(two),
           "--no-progress", f"data.log={demo_log}", *PPKT_OVERRIDES, "trainer.accelerator=cpu",
           "trainer.strategy=ddp", "trainer.devices=2"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    for modality in ("lidar", "camera"):
        a = load_file(str(one / "encoders" / modality / "encoder.safetensors"))
        b = load_file(str(two / "encoders" / modality / "encoder.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=1e-4, msg=f"{modality}: {k}")
    # and training moved both encoders (the comparison is not between two untouched initializations)
    import lightning as L

    from multimodal.training.config import ExperimentConfig
    from multimodal.training.module import SSLModule
    from multimodal.typed_config import load_config, to_dict

    L.seed_everything(0, verbose=False)  # as `train` does before building its module
    init = SSLModule(to_dict(load_config(ExperimentConfig, CONFIG, [f"data.log={demo_log}", *PPKT_OVERRIDES])))
    for modality in ("lidar", "camera"):
        a = load_file(str(one / "encoders" / modality / "encoder.safetensors"))
        start = init.encoders[modality].state_dict()
        assert max(float((a[k] - start[k]).abs().max()) for k in a if a[k].is_floating_point()) > 1e-4, modality
