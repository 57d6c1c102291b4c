"""Semantic classes of the synthetic world, their nuScenes lidarseg names and drawing colours.

Class ids are small integers shared by every sensor's ground truth: per-point LiDAR labels,
per-pixel camera labels and the world's instance table. ``noise`` (0) is the ignore class;
``sky`` only occurs in camera ground truth (the LiDAR never returns from it).
"""
from __future__ import annotations

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "noise", "road", "sidewalk", "terrain", "building", "vegetation", "pole", "car", "truck", "pedestrian",
    "cyclist", "sky",
)
"""Class id -> name."""

(NOISE, ROAD, SIDEWALK, TERRAIN, BUILDING, VEGETATION, POLE, CAR, TRUCK, PEDESTRIAN, CYCLIST,
 SKY) = range(len(CLASS_NAMES))

NUSCENES_CATEGORIES: dict[int, str] = {
    NOISE: "noise", ROAD: "flat.driveable_surface", SIDEWALK: "flat.sidewalk", TERRAIN: "flat.terrain",
    BUILDING: "static.manmade", VEGETATION: "static.vegetation", POLE: "static.other", CAR: "vehicle.car",
    TRUCK: "vehicle.truck", PEDESTRIAN: "human.pedestrian.adult", CYCLIST: "vehicle.bicycle",
}
"""Class id -> nuScenes lidarseg category name (what the nuScenes writer stores; devkit only knows
these names). Poles and signs become ``static.other`` so they stay apart from buildings
(``static.manmade``); a cyclist and its bicycle are one ``vehicle.bicycle`` as in nuScenes."""

DYNAMIC_CLASSES = frozenset({CAR, TRUCK, PEDESTRIAN, CYCLIST})
"""Classes whose objects may move (parked cars and trucks are in these classes but static)."""

STATIC_CLASSES = frozenset({ROAD, SIDEWALK, TERRAIN, BUILDING, VEGETATION, POLE})
"""Classes that never move: what registration checks may use."""

CLASS_COLORS = np.array([
    [0, 0, 0],        # noise
    [128, 64, 128],   # road
    [244, 35, 232],   # sidewalk
    [152, 251, 152],  # terrain
    [150, 150, 150],  # building (lighter than Cityscapes' so it shows on dark views)
    [107, 142, 35],   # vegetation
    [250, 170, 30],   # pole / sign
    [0, 0, 142],      # car
    [0, 60, 100],     # truck
    [220, 20, 60],    # pedestrian
    [119, 11, 32],    # cyclist
    [70, 130, 180],   # sky
], dtype=np.uint8)
"""``(len(CLASS_NAMES), 3) uint8`` RGB drawing colour per class (Cityscapes palette)."""
