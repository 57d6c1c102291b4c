"""Scene lighting: sun, sky and haze, drawn per scene (a nuisance the camera must cope with)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lighting:
    """Light of one scene (RGB values are linear irradiance / radiance, arbitrary units).

    Attributes:
        sun_direction: ``(3,)`` unit vector towards the sun, world frame.
        sun_rgb: ``(3,)`` direct sun irradiance on a surface facing the sun.
        sky_rgb: ``(3,)`` ambient sky irradiance on an upward-facing surface.
        horizon_rgb / zenith_rgb: ``(3,)`` sky radiance the camera sees at the horizon / overhead.
        haze_m: distance (metres) at which haze hides 63% of a surface.
        exposure: camera gain applied before the tone curve.
        overcast: cloudy day (weak sun, bright even sky, soft or no shadows).
    """

    sun_direction: np.ndarray
    sun_rgb: np.ndarray
    sky_rgb: np.ndarray
    horizon_rgb: np.ndarray
    zenith_rgb: np.ndarray
    haze_m: float
    exposure: float
    overcast: bool


def make_lighting(rng: np.random.Generator) -> Lighting:
    """Sunny (low to high sun, warm when low) or overcast light."""
    elevation = np.radians(rng.uniform(12.0, 65.0))
    azimuth = rng.uniform(-np.pi, np.pi)
    sun = np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    overcast = bool(rng.random() < 0.3)
    warm = np.clip(1.0 - (np.degrees(elevation) - 12.0) / 30.0, 0.0, 1.0)
    sun_rgb = np.array([1.0, 0.95 - 0.12 * warm, 0.88 - 0.3 * warm]) * rng.uniform(1.0, 1.3)
    if overcast:
        sun_rgb *= rng.uniform(0.05, 0.2)
        sky = np.array([0.78, 0.80, 0.82]) * rng.uniform(0.8, 1.0)
        horizon, zenith = np.array([0.78, 0.79, 0.80]), np.array([0.62, 0.64, 0.68])
    else:
        sky = np.array([0.30, 0.36, 0.46]) * rng.uniform(0.8, 1.2)
        horizon = np.array([0.75, 0.82, 0.92]) * rng.uniform(0.9, 1.05)
        zenith = np.array([0.22, 0.40, 0.78]) * rng.uniform(0.85, 1.1)
    return Lighting(sun_direction=sun, sun_rgb=sun_rgb, sky_rgb=sky, horizon_rgb=horizon, zenith_rgb=zenith,
                    haze_m=float(rng.uniform(250.0, 1200.0)), exposure=float(rng.uniform(0.85, 1.2)),
                    overcast=overcast)
