"""A method that lives outside the package, as a user's own would: one file, no edit to multimodal's core.

Toy: each sample is the first ``points`` points of a sweep and a jittered copy (matches: identity); the
objective is any that reads ``matches``. An EMA copy of the LiDAR head (an extra module, updated by the
after-optimizer-step hook) exercises the hooks a BYOL-style method needs.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from multimodal.methods.base import Method, per_sample


@dataclass
class ToyParams:
    points: int = 256           # points taken from the start of each sweep
    jitter_m: float = 0.02      # Gaussian jitter of the second view (metres)
    ema: float = 0.9            # EMA factor of the target head


class ToyDataset(Dataset):
    def __init__(self, source, p: ToyParams, seed: int):
        self.source, self.p, self.seed = source, p, seed

    def __len__(self) -> int:
        return len(self.source.log)

    def __getitem__(self, k: int):
        rng = np.random.default_rng(self.seed + int(k))
        sweep = next(iter(self.source.log[k].lidars.values()))
        a = np.ascontiguousarray(sweep.points[: self.p.points, :4], np.float32)
        b = a.copy()
        b[:, :3] += rng.normal(0, self.p.jitter_m, (len(b), 3)).astype(np.float32)
        return {"a": a, "b": b}


def collate(items):
    n = len(items[0]["a"])
    return {"a": torch.from_numpy(np.concatenate([it["a"] for it in items])),
            "b": torch.from_numpy(np.concatenate([it["b"] for it in items])),
            "batch": torch.arange(len(items)).repeat_interleave(n), "n": torch.tensor(n)}


class ToyJitter(Method):
    Params = ToyParams
    encoders = {"lidar": "rows"}
    provides = ("matches",)
    default_objective = "point_info_nce"

    def build_dataset(self, source, run_dir):
        return ToyDataset(source, self.params, self.cfg.trainer.seed), collate

    def extra_modules(self, module):
        target = copy.deepcopy(module.heads["lidar"])
        for p in target.parameters():
            p.requires_grad_(False)
        return {"target_head": target}

    def training_step(self, module, batch):
        fa = module.features("lidar", batch["a"], batch["batch"])
        with torch.no_grad():
            fb = module.extra["target_head"](module.encoders["lidar"](batch["b"], batch["batch"]))
        n = int(batch["n"])

        def loss_of(s, sid):
            rows = slice(s * n, (s + 1) * n)
            matches = torch.arange(n).repeat(2, 1).t()
            return module.objective(fa[rows], fb[rows], {"matches": matches}, generator=module.generator(sid))

        return per_sample(batch["sample_ids"].tolist(), loss_of)

    def on_after_optimizer_step(self, module):
        with torch.no_grad():
            for t, o in zip(module.extra["target_head"].parameters(), module.heads["lidar"].parameters()):
                t.mul_(self.params.ema).add_(o, alpha=1 - self.params.ema)
