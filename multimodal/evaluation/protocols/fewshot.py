"""Few-shot episodes on frozen per-point features: many small N-way K-shot tasks, mean with a 95% interval.

Each episode draws ``ways`` classes, ``shots`` labelled support points per class from the probe scenes and
``queries`` query points per class from the test scenes (so support and queries never share a scene), and
classifies the queries with the support alone: by cosine similarity to the class prototypes (the mean of the
L2-normalized support features; Snell et al. 2017) or by a softmax classifier trained on the support
(initialized at the prototypes; Gidaris & Komodakis' cosine classifier, Tian et al. 2020's linear baseline).
Score: query accuracy per episode, averaged over episodes, with a normal-approximation 95% interval
(``1.96 * std / sqrt(episodes)``; Chen et al. 2019 report it so). All episodes are drawn at once and scored
in vectorized chunks; 1000 episodes take a second or so on a CPU.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..classes import ClassList
from .common import FeatureFrames, stack_frames

CLASSIFIERS = ("prototype", "linear")


def _draw(pools: list[np.ndarray], chosen: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(E, ways, n)`` row indices: for every (episode, way) ``n`` distinct rows of the chosen class's pool."""
    out = np.empty(chosen.shape + (n,), dtype=np.int64)
    for j, pool in enumerate(pools):
        mask = chosen == j
        m = int(mask.sum())
        if m:
            pick = np.argpartition(rng.random((m, len(pool))), n - 1, axis=1)[:, :n]
            out[mask] = pool[pick]
    return out


def _pools(y: np.ndarray, classes: np.ndarray, cap: int, rng: np.random.Generator) -> list[np.ndarray]:
    pools = []
    for c in classes:
        idx = np.nonzero(y == c)[0]
        pools.append(np.sort(rng.choice(idx, cap, replace=False)) if len(idx) > cap else idx)
    return pools


def _linear_logits(sup: torch.Tensor, qry: torch.Tensor, protos: torch.Tensor, steps: int, lr: float,
                   weight_decay: float, scale: float) -> torch.Tensor:
    """Per-episode softmax classifiers (``W (e, ways, C)``, from the prototypes) fit on the support by Adam."""
    e, w, s, c = sup.shape
    W = (protos * scale).clone().requires_grad_(True)
    b = torch.zeros(e, w, requires_grad=True)
    target = torch.arange(w).repeat_interleave(s).repeat(e)
    xs = sup.reshape(e, w * s, c)
    opt = torch.optim.Adam([W, b], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            logits = torch.einsum("enc,evc->env", xs, W) + b[:, None, :]
            loss = F.cross_entropy(logits.reshape(-1, w), target) + weight_decay * (W * W).sum() / e
            loss.backward()
            opt.step()
    return torch.einsum("ewqc,evc->ewqv", qry, W.detach()) + b.detach()[:, None, None, :]


@torch.no_grad()
def evaluate(probe: FeatureFrames, test: FeatureFrames, classes: ClassList, *, ways: int = 5, shots: int = 5,
             queries: int = 15, episodes: int = 1000, classifier: str = "prototype", seed: int = 0,
             pool_cap: int = 2000, chunk: int = 250, linear_steps: int = 50, linear_lr: float = 0.01,
             linear_weight_decay: float = 1e-3, temperature: float = 0.1) -> dict:
    """N-way (``ways``) K-shot (``shots``) episodes: support from ``probe``, queries from ``test``.

    Args:
        probe / test: per-frame ``(features (n, C), class ids (n,))`` of the probe and test scenes.
        classes: the fixed class list; the episodes draw from its classes with at least ``shots`` probe
            points and ``queries`` test points (``ways`` shrinks to their number; at least 2 are needed).
        classifier: ``prototype`` (cosine to the mean support feature) or ``linear`` (softmax on the
            support, ``linear_steps`` Adam steps, initialized at prototypes / ``temperature``).
        pool_cap: each class's points are first capped at this many per side (drawn by seed).
        seed: all draws (classes, support, queries) come from ``numpy.random.default_rng(seed)``.

    Returns:
        ``protocol``, ``classifier``, ``ways``, ``shots``, ``queries``, ``episodes``, ``accuracy_mean``,
        ``accuracy_std`` (across episodes), ``accuracy_ci95`` (half-width), ``accuracy_interval``
        ``[low, high]``, ``chance`` (1 / ways), ``classes`` (names drawn from), ``seed``.
    """
    if classifier not in CLASSIFIERS:
        raise ValueError(f"few-shot classifier {classifier!r}: choose among {', '.join(CLASSIFIERS)}")
    if shots < 1 or queries < 1 or episodes < 1:
        raise ValueError(f"few-shot needs shots, queries, episodes >= 1, got {shots}, {queries}, {episodes}")
    xp, yp = stack_frames(probe, "few-shot: probe frames")
    xt, yt = stack_frames(test, "few-shot: test frames")
    cp, ct = np.bincount(yp, minlength=classes.num_classes), np.bincount(yt, minlength=classes.num_classes)
    eligible = np.array([c for c in classes.scored_ids if cp[c] >= shots and ct[c] >= queries], dtype=np.int64)
    if len(eligible) < 2:
        raise ValueError(f"few-shot: need 2 classes with >= {shots} probe points and >= {queries} test points; "
                         f"found {[classes.names[c] for c in eligible]}")
    ways = min(ways, len(eligible))
    rng = np.random.default_rng(seed)
    pool_cap = max(pool_cap, shots, queries)
    sup_pools, qry_pools = _pools(yp, eligible, pool_cap, rng), _pools(yt, eligible, pool_cap, rng)
    chosen = np.argsort(rng.random((episodes, len(eligible))), axis=1)[:, :ways]
    sup_idx, qry_idx = _draw(sup_pools, chosen, shots, rng), _draw(qry_pools, chosen, queries, rng)
    fp, ft = F.normalize(torch.from_numpy(xp), dim=1), F.normalize(torch.from_numpy(xt), dim=1)
    acc = []
    for i in range(0, episodes, chunk):
        sup = fp[torch.from_numpy(sup_idx[i:i + chunk])]                  # (e, ways, shots, C)
        qry = ft[torch.from_numpy(qry_idx[i:i + chunk])]                  # (e, ways, queries, C)
        protos = F.normalize(sup.mean(2), dim=-1)                         # (e, ways, C)
        if classifier == "prototype":
            logits = torch.einsum("ewqc,evc->ewqv", qry, protos)
        else:
            logits = _linear_logits(sup, qry, protos, linear_steps, linear_lr, linear_weight_decay, 1 / temperature)
        right = logits.argmax(-1) == torch.arange(ways)[None, :, None]
        acc.append(right.float().mean((1, 2)).double())
    a = torch.cat(acc).numpy()
    std = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    half = 1.96 * std / math.sqrt(len(a))
    mean = float(a.mean())
    return {"protocol": "fewshot", "classifier": classifier, "ways": ways, "shots": shots, "queries": queries,
            "episodes": episodes, "accuracy_mean": mean, "accuracy_std": std, "accuracy_ci95": half,
            "accuracy_interval": [mean - half, mean + half], "chance": 1.0 / ways,
            "classes": [classes.names[c] for c in eligible], "seed": seed}
