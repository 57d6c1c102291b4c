"""SLidR (Sautier et al., CVPR 2022): superpixel-to-superpoint contrast. Camera features pooled over SLIC
superpixels and LiDAR features pooled over the points that project into them are contrasted. The samples
also carry PPKT's point-pixel pairs, so ``pixel_to_point`` works here too. Superpixels are cached under
the run folder, never in the data folder."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .ppkt import PPKT, PPKTParams


@dataclass
class SLidRParams(PPKTParams):
    superpixels: int = 150                  # SLIC segments per image


class SLidR(PPKT):
    Params = SLidRParams
    provides = ("pairs", "point_segment", "pixel_segment")
    default_objective = "superpixel_to_superpoint"

    def _superpixels(self, run_dir: Path):
        from ..data.superpixels import SuperpixelCache

        return SuperpixelCache(run_dir / "cache" / "superpixels", self.params.superpixels)
