"""Evaluation that tells the truth (issue 11), the library core: fixed class lists, scene splits, the mIoU
convention against torchmetrics and a hand computation, and protocols that can succeed (a planted oracle
reaches ~100%) and can fail (noise stays at chance), reproducibly for a seed.

Seeded, CPU, one torch thread (tiny tensors: more threads only contend on a shared machine).
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from multimodal.evaluation.classes import (
    NoLabelsError,
    class_list_for_log,
    nuscenes_lidarseg_classes,
    synthetic_classes,
)
from multimodal.evaluation.features import extract_point_features, extract_point_frames
from multimodal.evaluation.metrics import SegmentationMeter, segmentation_scores
from multimodal.evaluation.protocols import PROTOCOLS
from multimodal.evaluation.protocols.finetune import choose_frames
from multimodal.evaluation.scenes import SceneRef, list_scenes, split_scenes

SYN = synthetic_classes()
BENCHMARK_16 = ("barrier", "bicycle", "bus", "car", "construction_vehicle", "motorcycle", "pedestrian",
                "traffic_cone", "trailer", "truck", "driveable_surface", "other_flat", "sidewalk", "terrain",
                "manmade", "vegetation")
LIDAR_CLASSES = list(range(1, 11))  # synthetic classes a LiDAR sees (not noise, not sky)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Three small synthetic scenes (2 keyframes each, about 30k points a sweep) in nuScenes format."""
    from multimodal.sensors.synthetic.export import WorldSpec, write_world

    out = tmp_path_factory.mktemp("eval_world")
    write_world(out, WorldSpec(scenes=3, sweeps_per_scene=2, keyframe_every=1, image_wh=(64, 36), seed=3,
                               formats=("nuscenes",)), workers=1)
    return out


def _frames(rng: np.random.Generator, kind: str, n_frames: int = 3, n: int = 1500, dim: int = 16):
    """Per-frame (features, labels) over the synthetic LiDAR classes: ``oracle`` features encode the label
    (a one-hot plus a little noise), ``noise`` features are independent of it."""
    out = []
    for _ in range(n_frames):
        y = rng.choice(LIDAR_CLASSES, n)
        x = rng.normal(size=(n, dim)).astype(np.float32)
        if kind == "oracle":
            x = 3 * np.eye(dim, dtype=np.float32)[y] + 0.3 * x
        out.append((x, y.astype(np.int64)))
    return out


class PointsAsFeatures(torch.nn.Module):
    """An "encoder" whose per-point features are the point's own (x, y, z, intensity)."""

    def forward(self, points: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return points


# --- class lists --------------------------------------------------------------------------------------
def test_fixed_class_lists():
    nus = nuscenes_lidarseg_classes()
    assert nus.names[0] == "ignore" and nus.ignore_index == 0 and nus.names[1:] == BENCHMARK_16
    assert nus.colors.shape == (17, 3) and nus.colors.dtype == np.uint8
    from multimodal.sensors.synthetic.classes import CLASS_NAMES

    assert SYN.names == CLASS_NAMES and SYN.ignore_index == 0 and len(SYN.scored_ids) == len(CLASS_NAMES) - 1
    json.dumps(nus.to_json())


def _fake_nuscenes_log(path: Path, idx2name: dict[int, str]):
    nusc = SimpleNamespace(lidarseg=[{}], lidarseg_idx2name_mapping=idx2name)
    return SimpleNamespace(format="nuscenes", nusc=nusc, path=str(path), version="v-test")


def test_nuscenes_labels_map_by_category_name_not_index(tmp_path):
    from nuscenes.eval.lidarseg.utils import LidarsegClassMapper

    fine = list(LidarsegClassMapper.get_fine2coarse(SimpleNamespace(ignore_class={"name": "ignore"})))
    assert len(fine) == 32
    idx2name = dict(enumerate(reversed(fine)))  # indexes another dataset might use
    idx2name[40] = "vehicle.hovercraft"          # a name the benchmark does not know
    classes, lm = class_list_for_log(_fake_nuscenes_log(tmp_path, idx2name))
    assert classes.dataset == "nuscenes-lidarseg-16"
    by_name = {n: i for i, n in idx2name.items()}
    raw = np.array([by_name["vehicle.car"], by_name["human.pedestrian.police_officer"], by_name["flat.other"],
                    by_name["noise"], by_name["static.other"], 40, 200])
    names = [classes.names[c] for c in lm(raw)]
    assert names == ["car", "pedestrian", "other_flat", "ignore", "ignore", "ignore", "ignore"]
    assert lm.unmapped == ("vehicle.hovercraft",)


def test_synthetic_category_table_is_recognised_without_world_json(tmp_path):
    from multimodal.sensors.synthetic.classes import NUSCENES_CATEGORIES

    classes, lm = class_list_for_log(_fake_nuscenes_log(tmp_path, dict(NUSCENES_CATEGORIES)))
    assert classes.dataset == "synthetic"
    assert lm(np.arange(11)).tolist() == list(range(11))


def test_synthetic_world_labels_map_back_to_its_classes(world):
    from multimodal.sensors import open_log

    log = open_log(world / "nuscenes", sensors=["lidar"])
    classes, lm = class_list_for_log(log)
    assert classes.dataset == "synthetic" and classes.names == SYN.names
    raw = log[0].lidars["LIDAR_TOP"].labels
    assert np.array_equal(lm(raw), raw.astype(np.int64))  # the writer stores class ids as category indexes
    feats = extract_point_features(PointsAsFeatures(), log, [0], max_points=500, label_map=lm)
    (x, y), = feats
    assert x.shape == (len(y), 4) and len(y) <= 500 and (y != classes.ignore_index).all()
    (pts, lab), = extract_point_frames(log, [0], label_map=lm, max_points=500)
    assert pts.shape == (500, 4) and pts.dtype == np.float32 and lab.shape == (500,)


def test_real_nuscenes_sample_has_no_labels_to_probe(nuscenes_sample_root):
    from multimodal.sensors import open_log

    log = open_log(nuscenes_sample_root, sensors=["lidar"])
    with pytest.raises(NoLabelsError, match="no labels to probe") as e:
        class_list_for_log(log)
    assert str(nuscenes_sample_root) in str(e.value)


# --- scenes and splits --------------------------------------------------------------------------------
def test_scenes_of_a_world_and_of_its_nuscenes_root(world):
    scenes = list_scenes(world)
    assert [s.name for s in scenes] == ["scene-0001", "scene-0002", "scene-0003"]
    assert list_scenes(world / "nuscenes") == scenes
    log = scenes[1].open(sensors=["lidar"])
    assert len(log) == 2 and log.scene_tokens and log.nusc.get("scene", log.scene_tokens[0])["name"] == "scene-0002"


def test_a_bag_is_one_scene_and_a_folder_of_bags_one_each(nuscenes_sample_bag, tmp_path):
    one = list_scenes(nuscenes_sample_bag)
    assert [(s.name, s.format) for s in one] == [(nuscenes_sample_bag.name, "rosbag")]
    for name in ("b", "a"):
        (tmp_path / name).symlink_to(nuscenes_sample_bag, target_is_directory=True)
    assert [s.name for s in list_scenes(tmp_path)] == ["a", "b"]


def _refs(n: int) -> list[SceneRef]:
    return [SceneRef(f"scene-{i:04d}", i, "/data", "nuscenes") for i in range(n)]


@pytest.mark.parametrize("n", range(2, 11))
def test_default_split_is_the_last_third_and_never_shares_a_scene(n):
    scenes = _refs(n)
    split = split_scenes(scenes)
    n_test = max(1, round(n / 3))
    assert [s.name for s in split.test] == [s.name for s in scenes[n - n_test:]]
    assert not {s.name for s in split.probe} & {s.name for s in split.test}
    assert len(split.probe) + len(split.test) == n and split.probe
    assert json.loads(json.dumps(split.to_json()))["test_names"] == [s.name for s in split.test]


def test_split_by_names_or_indexes_and_its_errors():
    scenes = _refs(5)
    split = split_scenes(scenes, test=["scene-0001", "4"])
    assert [s.index for s in split.test] == [1, 4] and [s.index for s in split.probe] == [0, 2, 3]
    split = split_scenes(scenes, probe=[0], test=[-1])
    assert [s.index for s in split.unused] == [1, 2, 3] and split.rule == "given"
    with pytest.raises(ValueError, match="both probe and test"):
        split_scenes(scenes, probe=["scene-0002"], test=[2])
    with pytest.raises(ValueError, match="did you mean scene-0003"):
        split_scenes(scenes, test=["scene-003"])
    with pytest.raises(ValueError, match="out of range"):
        split_scenes(scenes, test=[7])
    with pytest.raises(ValueError, match="no probe scenes"):
        split_scenes(scenes, test=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least two scenes"):
        split_scenes(_refs(1))


# --- the mIoU convention ------------------------------------------------------------------------------
def test_miou_convention_by_hand():
    # ids: 0 noise (ignore), 1 road, 2 sidewalk, 3 terrain, 4 building; the rest never occur (absent).
    target = np.array([1, 1, 1, 2, 2, 3, 0, 0])
    pred = np.array([1, 1, 2, 2, 0, 4, 4, 1])
    s = segmentation_scores(pred, target, SYN)
    # road: TP 2, FN 1 -> 2/3; sidewalk: TP 1, FP 1, FN 1 (predicted ignore) -> 1/3; terrain: FN 1 -> 0;
    # building: FP 1 (on a scored point; the one on an ignored point does not count) -> 0.
    iou = s["per_class_iou"]
    assert iou["road"] == pytest.approx(2 / 3) and iou["sidewalk"] == pytest.approx(1 / 3)
    assert iou["terrain"] == 0 and iou["building"] == 0
    assert iou["vegetation"] is None and "vegetation" in s["absent"] and "noise" not in iou
    assert s["miou"] == pytest.approx((2 / 3 + 1 / 3 + 0 + 0) / 4)
    assert s["accuracy"] == pytest.approx(3 / 6) and s["points"] == 6
    tm = MulticlassJaccardIndex(SYN.num_classes, ignore_index=0, average="macro")
    assert s["miou"] == pytest.approx(float(tm(torch.from_numpy(pred), torch.from_numpy(target))))


def test_miou_matches_torchmetrics_accumulated_over_frames():
    rng = np.random.default_rng(0)
    meter = SegmentationMeter(SYN)
    tm_macro = MulticlassJaccardIndex(SYN.num_classes, ignore_index=0, average="macro")
    tm_each = MulticlassJaccardIndex(SYN.num_classes, ignore_index=0, average="none")
    for _ in range(4):
        t = rng.integers(0, 8, 3000)           # classes 8.. never in the target
        p = np.where(rng.random(3000) < 0.6, t, rng.integers(0, 9, 3000))  # 8 predicted but absent
        meter.update(p, t)
        tm_macro.update(torch.from_numpy(p), torch.from_numpy(t))
        tm_each.update(torch.from_numpy(p), torch.from_numpy(t))
    s = meter.compute()
    assert s["miou"] == pytest.approx(float(tm_macro.compute()), abs=1e-6)
    each = tm_each.compute().numpy()
    for c in range(1, 9):
        assert s["per_class_iou"][SYN.names[c]] == pytest.approx(float(each[c]), abs=1e-6)
    assert s["per_class_iou"][SYN.names[8]] == 0
    assert s["absent"] == list(SYN.names[9:])


# --- frozen-feature protocols -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear", "knn"])
def test_segmentation_protocols_succeed_on_an_oracle_and_fail_on_noise(name):
    rng = np.random.default_rng(1)
    fn = PROTOCOLS[name].fn
    good = fn(_frames(rng, "oracle"), _frames(rng, "oracle"), SYN)
    bad = fn(_frames(rng, "noise"), _frames(rng, "noise"), SYN)
    assert good["miou"] > 0.98 and good["accuracy"] > 0.99
    assert bad["accuracy"] < 0.16 and bad["miou"] < 0.1  # 10 balanced classes: chance accuracy 0.1
    assert good["per_class_iou"]["sky"] is None and good["protocol"] == name
    json.dumps(good, allow_nan=False)


@pytest.mark.parametrize("classifier", ["prototype", "linear"])
def test_fewshot_succeeds_on_an_oracle_and_stays_at_chance_on_noise(classifier):
    rng = np.random.default_rng(2)
    kw = {"classifier": classifier, "episodes": 1000 if classifier == "prototype" else 300}
    good = PROTOCOLS["fewshot"].fn(_frames(rng, "oracle"), _frames(rng, "oracle"), SYN, **kw)
    bad = PROTOCOLS["fewshot"].fn(_frames(rng, "noise"), _frames(rng, "noise"), SYN, **kw)
    assert good["accuracy_mean"] > 0.98 and good["ways"] == 5 and good["chance"] == 0.2
    assert abs(bad["accuracy_mean"] - 0.2) < 0.03
    lo, hi = bad["accuracy_interval"]
    assert lo < bad["accuracy_mean"] < hi and hi - lo == pytest.approx(2 * bad["accuracy_ci95"])
    json.dumps(good, allow_nan=False)


def test_fewshot_interval_shrinks_with_more_episodes():
    rng = np.random.default_rng(3)
    probe, test = _frames(rng, "noise"), _frames(rng, "noise")
    few = PROTOCOLS["fewshot"].fn(probe, test, SYN, episodes=100, shots=1)
    many = PROTOCOLS["fewshot"].fn(probe, test, SYN, episodes=1600, shots=1)
    assert many["accuracy_ci95"] < few["accuracy_ci95"] / 2  # ~ 1 / sqrt(episodes): a quarter


def test_results_are_reproducible_for_a_seed():
    rng = np.random.default_rng(4)
    probe, test = _frames(rng, "noise"), _frames(rng, "noise")
    for name, kw in (("fewshot", {"episodes": 200}), ("knn", {"max_bank": 1000}), ("linear", {"max_train_points": 1000})):
        fn = PROTOCOLS[name].fn
        a, b, c = fn(probe, test, SYN, seed=0, **kw), fn(probe, test, SYN, seed=0, **kw), fn(probe, test, SYN, seed=1, **kw)
        assert a == b, name
        drop = {"seed"}
        assert {k: v for k, v in a.items() if k not in drop} != {k: v for k, v in c.items() if k not in drop}, name


# --- fine-tuning --------------------------------------------------------------------------------------
def test_finetune_frames_are_chosen_by_seed_nested_and_at_least_one():
    labelled = list(range(0, 300, 3))
    a = choose_frames(labelled, (0.01, 0.1), seed=0)
    assert len(a[0.01]) == 1 and len(a[0.1]) == 10 and set(a[0.01]) <= set(a[0.1]) <= set(labelled)
    assert a == choose_frames(labelled, (0.01, 0.1), seed=0) != choose_frames(labelled, (0.01, 0.1), seed=1)
    assert len(choose_frames([5, 7], (0.01,), seed=0)[0.01]) == 1


def test_finetune_on_a_synthetic_world_learns_and_leaves_the_encoder_alone(world):
    from multimodal.models.registry import build_encoder

    torch.manual_seed(0)
    encoder = build_encoder("minkunet14", in_channels=4, out_channels=16, voxel_size=0.2, init_dim=8,
                            planes=[8, 16, 16, 16, 16, 16, 8, 8])
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    split = split_scenes(list_scenes(world))
    data = {}
    for side, refs in (("probe", split.probe), ("test", split.test)):
        data[side], ids = [], []
        for ref in refs:
            log = ref.open(sensors=["lidar"])
            classes, lm = class_list_for_log(log)
            data[side] += extract_point_frames(log, range(len(log)), label_map=lm, max_points=3000, seed=0)
            ids += [f"{ref.name}:{i}" for i in range(len(log))]
        if side == "probe":
            frame_ids = ids
    assert len(data["probe"]) == 4 and len(data["test"]) == 2
    fn = PROTOCOLS["finetune"].fn
    kw = {"fractions": (0.25, 1.0), "lr": 3e-3, "seed": 0, "frame_ids": frame_ids}
    start = fn(encoder, data["probe"], data["test"], classes, steps=0, **kw)
    tuned = fn(encoder, data["probe"], data["test"], classes, steps=30, **kw)
    for key in ("0.25", "1"):
        s, t = start["fractions"][key], tuned["fractions"][key]
        assert s["frames"] == t["frames"] and t["frame_ids"] == [frame_ids[i] for i in t["frames"]]
        # 30 steps from random init: road and buildings first (measured: mIoU 0.003 -> 0.06-0.07,
        # accuracy 0.01 -> 0.35-0.53, loss 2.0 -> 1.2-1.3)
        assert t["miou"] > s["miou"] + 0.03 and t["accuracy"] > s["accuracy"] + 0.2
        assert t["loss_last"] < t["loss_first"] - 0.3
    assert tuned["fractions"]["0.25"]["num_frames"] == 1 and tuned["fractions"]["1"]["num_frames"] == 4
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())
    json.dumps(tuned, allow_nan=False)
