"""Evaluation pictures: robust feature colours, segmentation / confusion / probe-curve figures, camera views."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from multimodal.sensors.geometry import transform_points
from multimodal.sensors.synthetic.classes import CAR, CLASS_COLORS, CLASS_NAMES, PEDESTRIAN, ROAD
from multimodal.viz.eval_figures import (
    CameraView,
    FixedPCA,
    camera_view,
    confusion_figure,
    frame_camera_view,
    probe_curves_figure,
    robust_pca_rgb,
    segmentation_figure,
)
from multimodal.viz.features import pca_rgb

# The synthetic palette without its one red class, so red pixels in a figure can only be errors.
PALETTE = CLASS_COLORS.copy()
PALETTE[PEDESTRIAN] = (200, 120, 220)


def dominant_plus_weak(seed: int, n: int = 6000, c: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, c)`` with one heavy-tailed uninformative direction (std ~10), three clusters 1 apart on a
    weaker direction, isotropic noise and 2% far outliers; returns the features and the cluster ids."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(c, c)))
    clusters = rng.integers(0, 3, n)
    x = (np.outer(6.0 * rng.standard_t(3, n), q[:, 0])
         + np.outer(clusters - 1.0 + 0.15 * rng.normal(size=n), q[:, 1])
         + 0.15 * rng.normal(size=(n, c)))
    far = rng.random(n) < 0.02
    x[far] += 12.0 * rng.normal(size=(int(far.sum()), c))
    return x.astype(np.float32), clusters


def min_mean_colour_gap(rgb: np.ndarray, clusters: np.ndarray) -> float:
    means = [rgb[clusters == k].mean(0) for k in np.unique(clusters)]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(means, 2))


def minmax_pca_rgb(x: np.ndarray) -> np.ndarray:
    """The naive colouring: plain PCA, each component scaled by its min and max."""
    x = x.astype(np.float64) - x.mean(0)
    p = x @ np.linalg.svd(x, full_matrices=False)[2][:3].T
    return (p - p.min(0)) / (p.max(0) - p.min(0))


def red_pixels(png: Path, rows: slice = slice(None)) -> int:
    a = np.asarray(Image.open(png).convert("RGB")).astype(int)[rows]
    return int(((a[..., 0] > 180) & (a[..., 1] < 70) & (a[..., 2] < 70)).sum())


def assert_png(path: Path, min_wh: tuple[int, int] = (200, 200)) -> tuple[int, int]:
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        w, h = im.size
    assert w >= min_wh[0] and h >= min_wh[1]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temporary file left behind"
    return w, h


# ---------------------------------------------------------------------------------------------------------
# Colours


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weak_clusters_get_distinct_colours_despite_a_dominant_direction(seed):
    x, clusters = dominant_plus_weak(seed)
    rgb = robust_pca_rgb(x)
    assert rgb.shape == (len(x), 3) and rgb.dtype == np.float32
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0
    # The same data under min/max scaling: the clusters share one colour (what the demo's teal picture showed).
    assert min_mean_colour_gap(minmax_pca_rgb(x), clusters) < 0.05
    assert min_mean_colour_gap(rgb, clusters) > 0.25


def test_fixed_pca_colours_other_features_the_same_way_and_is_seeded():
    a, _ = dominant_plus_weak(0, n=30000)  # more rows than max_samples: fitted on a subsample
    b, _ = dominant_plus_weak(0, n=500)
    pca = FixedPCA.fit(a, max_samples=5000, seed=3)
    assert pca.components.shape == (3, 32) and np.all(pca.explained[:-1] >= pca.explained[1:])
    np.testing.assert_array_equal(pca.rgb(a), robust_pca_rgb(a, pca))
    again = FixedPCA.fit(a, max_samples=5000, seed=3)
    np.testing.assert_array_equal(pca.rgb(b), again.rgb(b))
    colours, basis = pca_rgb(b, pca)  # the demo's entry point takes the same basis
    np.testing.assert_array_equal(colours, pca.rgb(b))
    assert basis is pca
    with pytest.raises(ValueError, match="fitted on 32 channels, got 8"):
        pca.rgb(b[:, :8])


def test_degenerate_features_give_mid_grey_not_nan():
    two = np.random.default_rng(0).normal(size=(100, 2))
    rgb = robust_pca_rgb(two)
    assert np.isfinite(rgb).all() and np.all(rgb[:, 2] == 0.5)
    assert np.all(robust_pca_rgb(np.ones((50, 4))) == 0.5)
    bad = np.zeros((5, 3))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        robust_pca_rgb(bad)


def test_pca_rgb_keeps_its_signature_and_legacy_basis():
    x, _ = dominant_plus_weak(1, n=800)
    rgb, basis = pca_rgb(x)
    assert rgb.shape == (800, 3) and 0.0 <= rgb.min() and rgb.max() <= 1.0
    np.testing.assert_array_equal(pca_rgb(x, basis)[0], rgb)
    mu = x.mean(0)
    comp = np.eye(32)[:3]
    legacy = (mu, comp, np.stack([-np.ones(3), np.ones(3)]))
    out, back = pca_rgb(x, legacy)
    assert back is legacy and out.shape == (800, 3)


# ---------------------------------------------------------------------------------------------------------
# Camera views of a synthetic world


@pytest.fixture(scope="module")
def world_frame(tmp_path_factory):
    from multimodal import sensors
    from multimodal.sensors.synthetic.export import WorldSpec, write_world

    out = tmp_path_factory.mktemp("eval_figures_world")
    write_world(out, WorldSpec(scenes=1, sweeps_per_scene=2, formats=("nuscenes",), image_wh=(160, 96)), workers=1)
    return sensors.open_log(out / "nuscenes")[0]


def test_camera_view_projects_world_points_inside_the_image(world_frame):
    view = frame_camera_view(world_frame)
    sweep = world_frame.lidars["LIDAR_TOP"]
    assert view.name == "CAM_FRONT" and view.image.shape == (96, 160, 3)
    assert len(view.index) > 200
    assert (view.uv[:, 0] >= 0).all() and (view.uv[:, 0] < 160).all()
    assert (view.uv[:, 1] >= 0).all() and (view.uv[:, 1] < 96).all()
    assert (view.depth > 1.0).all() and view.index.max() < len(sweep)
    # The front camera sees points ahead of the ego, and the road below the horizon.
    ego = transform_points(sweep.T_ego_from_sensor, sweep.xyz[view.index])
    assert np.median(ego[:, 0]) > 0
    road = sweep.labels[view.index] == ROAD
    assert road.sum() > 20 and np.median(view.uv[road, 1]) > 96 / 2

    # A subsample of the sweep: indexes refer to the subsample, pixels to the same points.
    keep = np.arange(0, len(sweep), 3)
    sub = camera_view(sweep, world_frame.cameras["CAM_FRONT"], point_index=keep)
    full_pos = {int(r): i for i, r in enumerate(view.index)}
    rows = keep[sub.index]
    assert len(sub.index) > 50 and all(int(r) in full_pos for r in rows)
    np.testing.assert_allclose(sub.uv, view.uv[[full_pos[int(r)] for r in rows]])

    with pytest.raises(ValueError, match="no camera 'CAM_NOPE'"):
        frame_camera_view(world_frame, camera="CAM_NOPE")


def test_segmentation_figure_error_map_is_red_only_where_wrong(world_frame, tmp_path):
    sweep = world_frame.lidars["LIDAR_TOP"]
    xyz = transform_points(sweep.T_ego_from_sensor, sweep.xyz)
    gt = sweep.labels.astype(np.int64)
    view = frame_camera_view(world_frame)
    feats = np.random.default_rng(0).normal(size=(len(gt), 8)).astype(np.float32)

    right = segmentation_figure(tmp_path / "right.png", xyz, gt, gt.copy(), None, CLASS_NAMES, PALETTE, camera=view)
    assert red_pixels(right) == 0

    pred = gt.copy()
    wrong = (np.random.default_rng(1).random(len(gt)) < 0.2) & (gt != 0)
    pred[wrong] = np.where(gt[wrong] == CAR, ROAD, CAR)
    bev = segmentation_figure(tmp_path / "bev.png", xyz, gt, pred, None, CLASS_NAMES, PALETTE, title="bev only")
    w, h = assert_png(bev)
    assert red_pixels(bev) > 100

    both = segmentation_figure(tmp_path / "both.png", xyz, gt, pred, None, CLASS_NAMES, PALETTE, camera=view)
    w2, h2 = assert_png(both)
    assert h2 > h * 1.3  # a second row for the camera
    assert red_pixels(both, rows=slice(int(0.62 * h2), None)) > 20  # errors drawn in the camera row too

    with_feats = segmentation_figure(tmp_path / "feats.png", xyz, gt, pred, feats, CLASS_NAMES, PALETTE,
                                     camera=view)
    w3, _ = assert_png(with_feats)
    assert w3 > w2 * 1.2  # a fourth column for the features

    with pytest.raises(ValueError, match="pred: expected"):
        segmentation_figure(tmp_path / "bad.png", xyz, gt, pred[:-1], None, CLASS_NAMES, PALETTE)
    with pytest.raises(ValueError, match="class ids must be in"):
        segmentation_figure(tmp_path / "bad.png", xyz, gt, pred + 100, None, CLASS_NAMES, PALETTE)


def test_camera_view_checks_its_arrays():
    with pytest.raises(ValueError, match="uv must be"):
        CameraView(image=np.zeros((4, 4, 3), np.uint8), uv=np.zeros((3, 2)), index=np.arange(2))


# ---------------------------------------------------------------------------------------------------------
# Confusion matrix and probe curves


def test_confusion_figure_writes_a_png_that_grows_with_classes(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 500, (4, 4))
    small[2] = 0  # a class absent from the ground truth
    w4, h4 = assert_png(confusion_figure(tmp_path / "c4.png", small, ["a", "b", "c", "d"], title="four"))
    names = [f"class {i}" for i in range(16)]
    w16, h16 = assert_png(confusion_figure(tmp_path / "c16.png", rng.integers(0, 10**5, (16, 16)), names))
    assert w16 > w4 and h16 > h4
    with pytest.raises(ValueError, match="3 names for a 4 x 4"):
        confusion_figure(tmp_path / "bad.png", small, ["a", "b", "c"])


def test_probe_curves_figure_with_and_without_error_bars(tmp_path):
    curves = {
        "pretrained": [(0.01, 0.30, 0.03), (0.1, 0.41, 0.02), (1.0, 0.50, 0.01)],
        "random init": [(0.1, 0.16), (0.01, 0.10), (1.0, 0.20)],
        "supervised": [(0.01, 0.20, 0.0), (0.1, 0.45), (1.0, 0.70)],
    }
    out = probe_curves_figure(tmp_path / "curves.png", curves, "fraction of labels", "mIoU", "fine-tuning")
    assert out == tmp_path / "curves.png"
    assert_png(out)
    shots = probe_curves_figure(tmp_path / "shots.png", {"pretrained": [(1, 0.2), (5, 0.3), (10, 0.4)]},
                                "shots per class", "accuracy", logx=False)
    assert_png(shots)
    with pytest.raises(ValueError, match="nothing to draw"):
        probe_curves_figure(tmp_path / "bad.png", {}, "x", "y", "t")
    with pytest.raises(ValueError, match="curves\\['a'\\]"):
        probe_curves_figure(tmp_path / "bad.png", {"a": [(1.0,)]}, "x", "y", "t")
