"""Image-to-LiDAR samples: pairs land on the right feature cells, superpixels are cached in the run folder."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from multimodal.data.image_lidar_pairs import ImageLidarDataset, collate_image_lidar
from multimodal.data.log_source import LogSource
from multimodal.data.superpixels import SuperpixelCache
from multimodal.sensors.nuscenes_tables import write_frames_as_nuscenes
from multimodal.sensors.synthetic import NUSCENES_CATEGORIES, demo_scene, make_demo_drive, render_camera


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    frames = make_demo_drive(n_frames=2, seed=4, image_wh=(320, 180), lidar_azimuth_steps=512)
    out = tmp_path_factory.mktemp("il")
    write_frames_as_nuscenes(frames, out, "v1.0-il", class_names=NUSCENES_CATEGORIES)
    return out


def test_pairs_point_at_pixels_of_the_same_class(root):
    ds = ImageLidarDataset(LogSource(root), cameras=["CAM_FRONT", "CAM_BACK"], image_wh=(320, 192), stride=4,
                           max_points=None)
    item = ds[0]
    assert item["images"].shape == (2, 192, 320, 3)
    pairs = item["pairs"]
    assert len(pairs) > 1000 and set(np.unique(pairs[:, 1])) == {0, 1}
    assert pairs[:, 2].max() < 192 // 4 and pairs[:, 3].max() < 320 // 4
    # Ground truth: render the class image of CAM_FRONT at its pose and the resized intrinsics.
    frame = LogSource(root).log[0]
    cam = frame.cameras["CAM_FRONT"]
    K = cam.K.copy()
    K[0] *= 320 / cam.image.shape[1]
    K[1] *= 192 / cam.image.shape[0]
    _, cls, _ = render_camera(demo_scene(2, 4), cam.T_world_from_ego @ cam.T_ego_from_sensor, K, (320, 192))
    front = pairs[pairs[:, 1] == 0]
    pixel_cls = cls[front[:, 2] * 4 + 2, front[:, 3] * 4 + 2]
    assert (pixel_cls == item["labels"][front[:, 0]]).mean() > 0.85  # cell centres, occlusion edges aside


def test_superpixels_are_cached_and_consistent(root, tmp_path):
    cache = SuperpixelCache(tmp_path / "cache", n_segments=60)
    ds = ImageLidarDataset(LogSource(root), cameras=["CAM_FRONT", "CAM_FRONT_LEFT"], image_wh=(320, 192),
                           superpixels=cache, max_points=5000)
    item = ds[1]
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2
    pix, pts = item["pixel_segment"], item["point_segment"]
    seen = pts >= 0
    assert seen.sum() > 100
    # a point's superpixel is the one of a cell it projects to
    p = item["pairs"]
    assert set(pts[seen]) <= set(pix[p[:, 1], p[:, 2], p[:, 3]])
    again = ImageLidarDataset(LogSource(root), cameras=["CAM_FRONT", "CAM_FRONT_LEFT"], image_wh=(320, 192),
                              superpixels=cache, max_points=5000)[1]
    np.testing.assert_array_equal(again["pixel_segment"], pix)
    batch = collate_image_lidar([item, again])
    assert batch["images"].shape[0] == 4
    assert batch["pixel_segment"][2:].min() > batch["pixel_segment"][:2].max()  # ids unique across samples
    n = len(item["points"])
    assert torch.equal(batch["pairs"][len(p):, 0], torch.from_numpy(again["pairs"][:, 0]) + n)


def test_image_size_must_fit_the_encoder(root):
    with pytest.raises(ValueError, match="multiples of 32"):
        ImageLidarDataset(LogSource(root), image_wh=(320, 180))
