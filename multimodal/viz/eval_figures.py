"""Pictures of an evaluation that a person learns from.

- :func:`robust_pca_rgb` / :class:`FixedPCA`: features to colours with an outlier-trimmed PCA on standardized
  channels, each component scaled by its own percentiles, so one dominant direction cannot wash the picture out.
- :func:`segmentation_figure`: ground truth, predicted classes, error map and feature colours side by side, in
  bird's-eye view and (with a :class:`CameraView`) projected into a camera image.
- :func:`confusion_figure`: a row-normalized confusion matrix with counts.
- :func:`probe_curves_figure`: a metric against the label budget (fraction of labels, shots), one line per encoder.

Figures are drawn on matplotlib's Agg canvas without pyplot (no global state, no window) and written atomically.
The bird's-eye view follows :mod:`multimodal.viz.log_render`: the ego frame seen from above, x (forward) up and
y (left) to the left, so the horizontal axis is ``-y``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multimodal.sensors.atomic import atomic_write

from .camera_view import CameraView, camera_view, frame_camera_view  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # only for annotations: the figures need no sensors at run time
    from matplotlib.figure import Figure


_GREY_CORRECT = np.array([0.62, 0.62, 0.62])
_RED_WRONG = np.array([0.86, 0.05, 0.05])
_FAINT_IGNORED = np.array([0.88, 0.88, 0.88])


# --------------------------------------------------------------------------------------------------------------
# Features to colours


@dataclass(frozen=True)
class FixedPCA:
    """A fitted features-to-RGB map; apply it to other features (another frame, another encoder with the same
    channel count) to colour them in the same frame of reference.

    Attributes:
        mean / scale: ``(C,) float64`` channel mean and standard deviation of the fit sample (standardization).
        components: ``(3, C) float64`` principal directions in standardized units, one per colour channel
            (R, G, B); zero rows where the features have fewer than 3 directions.
        lo / hi: ``(3,) float64`` the fit sample's lower / upper percentile of each component: they map to 0 / 1.
        explained: ``(3,) float64`` share of the (trimmed) fit sample's variance along each component.
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    explained: np.ndarray

    @classmethod
    def fit(cls, feats: np.ndarray, *, max_samples: int = 20000, seed: int = 0, trim: float = 0.1,
            percentiles: tuple[float, float] = (2.0, 98.0)) -> FixedPCA:
        """Fit on ``feats (N, C)``.

        Args:
            max_samples: fit on at most this many rows, drawn without replacement with ``seed``.
            trim: share of the sample farthest from the channel means (in standardized units) left out of the
                PCA fit and of the percentiles. A few extreme points (dense returns next to the ego, a saturated
                channel) otherwise own the first direction and squeeze everything else into one colour.
            percentiles: the percentiles of each component mapped to 0 and 1 (values beyond are clipped).
        """
        x = _check_feats(feats, "feats")
        if not 0.0 <= trim < 1.0:
            raise ValueError(f"trim must be in [0, 1), got {trim}")
        lo_pct, hi_pct = percentiles
        if not 0.0 <= lo_pct < hi_pct <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got {percentiles}")
        if len(x) > max_samples:
            x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_samples, replace=False))]
        mean = x.mean(0)
        std = x.std(0)
        scale = np.where(std > 1e-12 * max(1.0, float(std.max(initial=0.0))), std, 1.0)
        z = (x - mean) / scale
        if trim > 0 and len(z) >= 10:
            dist = np.linalg.norm(z, axis=1)
            z = z[dist <= np.quantile(dist, 1.0 - trim)]
        zc = z - z.mean(0)
        _, s, vt = np.linalg.svd(zc, full_matrices=False)
        k = min(3, vt.shape[0])
        comp = np.zeros((3, x.shape[1]))
        comp[:k] = vt[:k]
        # SVD signs are arbitrary: make each direction's largest loading positive so refits look alike.
        big = np.abs(comp).argmax(1)
        comp *= np.where(comp[np.arange(3), big] < 0, -1.0, 1.0)[:, None]
        var = s ** 2
        explained = np.zeros(3)
        explained[:k] = var[:k] / max(float(var.sum()), 1e-300)
        proj = z @ comp.T
        lo, hi = np.percentile(proj, lo_pct, axis=0), np.percentile(proj, hi_pct, axis=0)
        flat = hi - lo <= 1e-12
        lo, hi = np.where(flat, lo - 1.0, lo), np.where(flat, hi + 1.0, hi)  # a flat component: mid-grey
        return cls(mean=mean, scale=scale, components=comp, lo=lo, hi=hi, explained=explained)

    def project(self, feats: np.ndarray) -> np.ndarray:
        """``(N, 3) float64`` coordinates of ``feats (N, C)`` along the three directions (standardized units)."""
        x = _check_feats(feats, "feats", channels=self.mean.shape[0])
        return ((x - self.mean) / self.scale) @ self.components.T

    def rgb(self, feats: np.ndarray) -> np.ndarray:
        """``(N, 3) float32`` colours in [0, 1] of ``feats (N, C)``."""
        p = self.project(feats)
        return np.clip((p - self.lo) / (self.hi - self.lo), 0.0, 1.0).astype(np.float32)


def robust_pca_rgb(feats: np.ndarray, pca: FixedPCA | None = None, *, max_samples: int = 20000,
                   seed: int = 0) -> np.ndarray:
    """Colours ``(N, 3) float32`` in [0, 1] for ``feats (N, C)``: the first three principal components of the
    standardized channels (fitted on a seeded subsample with outliers trimmed), each scaled by its own 2nd and
    98th percentiles and clipped. See :meth:`FixedPCA.fit`.

    Pass ``pca`` (``FixedPCA.fit(reference_feats)``) to colour several feature sets the same way.
    """
    if pca is None:
        pca = FixedPCA.fit(feats, max_samples=max_samples, seed=seed)
    return pca.rgb(feats)


def _check_feats(feats: np.ndarray, name: str, channels: int | None = None) -> np.ndarray:
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: expected (N, C) features with N, C >= 1, got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: this PCA was fitted on {channels} channels, got {x.shape[1]}")
    if not np.isfinite(x).all():
        bad = np.unique(np.nonzero(~np.isfinite(x))[0])
        raise ValueError(f"{name}: {bad.size} rows hold NaN/inf (first: row {int(bad[0])})")
    return x


# --------------------------------------------------------------------------------------------------------------
# Figures


def segmentation_figure(path: str | os.PathLike, xyz: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                        feats: np.ndarray | None, class_names: Sequence[str], class_colors: np.ndarray,
                        ignore_index: int | None = 0, camera: CameraView | None = None, title: str = "",
                        range_m: float | None = None, pca: FixedPCA | None = None,
                        point_size: float | None = None) -> Path:
    """One PNG comparing a segmentation with its ground truth; returns the path written.

    First row, bird's-eye view of the ego frame: ground-truth classes, predicted classes, an error map (correct
    points grey, wrong ones red, points labelled ``ignore_index`` faint) and, when ``feats`` is given, the
    features' robust PCA colours. With ``camera``, a second row shows the same colourings on the camera image.
    A legend gives the colour of every class that occurs in ``gt`` or ``pred``.

    Args:
        xyz: ``(N, 3)`` metres, ego frame (x forward, y left, z up); for a sweep,
            ``transform_points(sweep.T_ego_from_sensor, sweep.xyz)``.
        gt / pred: ``(N,) int`` class ids, indexes into ``class_names`` / ``class_colors``.
        feats: ``(N, C)`` per-point features, or None (no feature panels).
        class_colors: ``(K, 3) uint8`` RGB per class id.
        ignore_index: ground-truth id that is not scored (drawn faint, neither right nor wrong); None: none.
        camera: the points one camera sees (:func:`camera_view`), indexes into these arrays.
        range_m: half-width of the bird's-eye view, metres around the ego; None: what holds 98% of the points.
        pca: colour ``feats`` with this fitted map (to match another figure); default: fitted on ``feats``.
        point_size: marker area in the bird's-eye view (points^2); None: smaller for denser sweeps.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    n = xyz.shape[0]
    if xyz.ndim != 2 or xyz.shape[1] < 3:
        raise ValueError(f"xyz: expected (N, 3) metres, got shape {xyz.shape}")
    gt = _check_labels(gt, "gt", n)
    pred = _check_labels(pred, "pred", n)
    palette = np.asarray(class_colors)
    if palette.ndim != 2 or palette.shape[1] != 3:
        raise ValueError(f"class_colors: expected (K, 3) uint8, got shape {palette.shape}")
    k = palette.shape[0]
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names but class_colors {k} colours")
    for name, lab in (("gt", gt), ("pred", pred)):
        if lab.size and (lab.min() < 0 or lab.max() >= k):
            raise ValueError(f"{name}: class ids must be in [0, {k}) (class_colors rows), got {lab.min()}..{lab.max()}")
    palette = palette.astype(np.float64) / (255.0 if palette.dtype == np.uint8 or palette.max() > 1 else 1.0)
    ignored = gt == ignore_index if ignore_index is not None else np.zeros(n, dtype=bool)
    wrong = (gt != pred) & ~ignored

    gt_rgb = palette[gt]
    gt_rgb[ignored] = _FAINT_IGNORED
    pred_rgb = palette[pred]
    err_rgb = np.where(wrong[:, None], _RED_WRONG, _GREY_CORRECT)
    err_rgb[ignored] = _FAINT_IGNORED
    scored = int((~ignored).sum())
    rate = f"{wrong.sum() / scored:.1%}" if scored else "n/a"
    panels: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("ground truth", gt_rgb, np.where(ignored, 0, 1)),
        ("prediction", pred_rgb, np.ones(n)),
        (f"errors: red wrong, grey right ({int(wrong.sum())} of {scored} scored, {rate})", err_rgb,
         np.where(ignored, 0, np.where(wrong, 2, 1))),
    ]
    if feats is not None:
        f = np.asarray(feats)
        if f.ndim != 2 or f.shape[0] != n:
            raise ValueError(f"feats: expected (N, C) with N = {n} (as xyz), got shape {f.shape}")
        pca = pca or FixedPCA.fit(f)
        ev = ", ".join(f"{e:.0%}" for e in pca.explained)
        panels.append((f"features: PCA to RGB ({ev} of variance)", pca.rgb(f).astype(np.float64), np.ones(n)))

    if range_m is None:
        reach = np.abs(xyz[:, :2]).max(1) if n else np.zeros(1)
        range_m = float(np.clip(5.0 * np.ceil(1.05 * np.percentile(reach, 98) / 5.0), 10.0, 100.0))
    if point_size is None:
        point_size = float(np.clip(20000.0 / max(n, 1), 0.3, 4.0))
    fig = _figure()
    ncols = len(panels)
    nrows = 2 if camera is not None else 1
    cam_aspect = 1.0
    if camera is not None:
        h, w = camera.image.shape[:2]
        cam_aspect = h / max(w, 1)
    panel_w = 4.3
    heights = [panel_w] + ([panel_w * cam_aspect] if camera is not None else [])
    fig.set_size_inches(panel_w * ncols, sum(heights) + 1.3)
    gs = fig.add_gridspec(nrows, ncols, height_ratios=heights, left=0.04, right=0.99, bottom=0.11,
                          top=0.90 if title else 0.94, wspace=0.12, hspace=0.22)
    for j, (name, rgb, layer) in enumerate(panels):
        ax = fig.add_subplot(gs[0, j])
        near = (np.abs(xyz[:, 0]) < range_m) & (np.abs(xyz[:, 1]) < range_m)
        order = _draw_order(near, layer, xyz[:, 2])
        ax.scatter(-xyz[order, 1], xyz[order, 0], c=rgb[order], s=point_size, linewidths=0, rasterized=True)
        ax.add_patch(_ego_box())
        ax.set_xlim(-range_m, range_m)
        ax.set_ylim(-range_m, range_m)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("-y (m, right of ego)", fontsize=7)
        if j == 0:
            ax.set_ylabel("x (m, forward)", fontsize=7)
        if camera is not None:
            cax = fig.add_subplot(gs[1, j])
            img = np.asarray(camera.image, dtype=np.float64) / 255.0
            cax.imshow(0.45 * img + 0.55 * img.mean(2, keepdims=True) * 0.6)  # dimmed, desaturated backdrop
            idx = camera.index
            depth = camera.depth if camera.depth is not None else np.zeros(len(idx))
            o = np.lexsort((-depth, layer[idx]))  # faint layers first, then far to near
            size = float(np.clip(8000.0 / max(len(idx), 1), 1.5, 6.0))
            cax.scatter(camera.uv[o, 0], camera.uv[o, 1], c=rgb[idx[o]], s=size, linewidths=0, rasterized=True)
            cax.set_xlim(0, camera.image.shape[1])
            cax.set_ylim(camera.image.shape[0], 0)
            cax.set_xticks([])
            cax.set_yticks([])
            if j == 0:
                cax.set_title(f"projected into {camera.name or 'the camera'} ({len(idx)} points)", fontsize=8,
                              loc="left")

    present = np.union1d(np.unique(gt), np.unique(pred))
    handles = []
    from matplotlib.patches import Patch

    for c in present:
        label = str(class_names[int(c)]) + (" (ignored)" if ignore_index is not None and c == ignore_index else "")
        color = _FAINT_IGNORED if ignore_index is not None and c == ignore_index else palette[int(c)]
        handles.append(Patch(facecolor=color, edgecolor="0.3", linewidth=0.5, label=label))
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 12), fontsize=8, frameon=False,
                   title="classes", title_fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_png(fig, path)


def confusion_figure(path: str | os.PathLike, confusion: np.ndarray, class_names: Sequence[str],
                     title: str = "") -> Path:
    """A row-normalized confusion matrix as PNG; returns the path written.

    Args:
        confusion: ``(K, K)`` counts, ``confusion[t, p]`` = points of true class ``t`` predicted as ``p``.
        class_names: ``K`` names, in class-id order.

    Each cell shows the share of its row (the true class) in percent and its count; the colour is the share. Rows
    of classes that never occur are marked "absent". Row labels carry each class's point count and IoU
    (``tp / (tp + fp + fn)``).
    """
    cm = np.asarray(confusion, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"confusion: expected (K, K) counts, got shape {cm.shape}")
    k = cm.shape[0]
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names for a {k} x {k} confusion matrix")
    if (cm < 0).any() or not np.isfinite(cm).all():
        raise ValueError("confusion: counts must be finite and >= 0")
    rows = cm.sum(1)
    share = np.divide(cm, rows[:, None], out=np.full_like(cm, np.nan), where=rows[:, None] > 0)
    tp = np.diag(cm)
    union = rows + cm.sum(0) - tp
    iou = np.divide(tp, union, out=np.full(k, np.nan), where=union > 0)

    fig = _figure()
    side = 1.6 + 0.62 * k
    fig.set_size_inches(side + 3.2, side + 0.9)
    ax = fig.add_subplot(1, 1, 1)
    import matplotlib

    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="0.93")
    im = ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0.0, vmax=1.0, aspect="equal")
    font = 7 if k <= 12 else 6
    for t in range(k):
        if rows[t] == 0:
            ax.text(k / 2 - 0.5, t, "absent from the ground truth", ha="center", va="center", fontsize=font,
                    color="0.45")
            continue
        for p in range(k):
            if cm[t, p] == 0:
                continue
            s = share[t, p]
            pct = f"{100 * s:.0f}%" if s >= 0.005 else "<1%"
            ax.text(p, t, f"{pct}\n{_count(cm[t, p])}", ha="center", va="center", fontsize=font,
                    color="white" if s > 0.55 else "black", linespacing=0.95)
    ax.set_xticks(range(k))
    ax.set_xticklabels([str(c) for c in class_names], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k))
    ax.set_yticklabels([f"{c}  (n={_count(rows[i])}, IoU {'-' if np.isnan(iou[i]) else f'{iou[i]:.2f}'})"
                        for i, c in enumerate(class_names)], fontsize=8)
    ax.set_xlabel("predicted class", fontsize=9)
    ax.set_ylabel("true class", fontsize=9)
    ax.set_xticks(np.arange(k + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(k + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("share of the true class's points", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    total = cm.sum()
    acc = f"accuracy {tp.sum() / total:.1%} of {_count(total)} points" if total else "no points"
    ax.set_title((f"{title}\n" if title else "") + f"confusion, rows normalized ({acc})", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def probe_curves_figure(path: str | os.PathLike, curves: Mapping[str, Sequence[tuple[float, ...]]],
                        xlabel: str, ylabel: str, title: str = "", logx: bool | None = None) -> Path:
    """A metric against a budget, one line per encoder, as PNG; returns the path written.

    Args:
        curves: name -> points ``(x, y)`` or ``(x, y, half_width)``; a half-width draws an error bar (a 95%
            interval, the spread across seeds ...). E.g. ``{"pretrained": [(0.01, 0.30, 0.02), (0.1, 0.41, 0.01)],
            "random init": [...], "supervised": [...]}`` for mIoU against the fraction of labels.
        logx: logarithmic x axis; None: when every x is positive and they span at least a factor 10.
    Lines whose name says "random" or "supervised" (the references) are dashed.
    """
    if not curves:
        raise ValueError("curves: nothing to draw (expected name -> [(x, y), ...])")
    parsed: dict[str, np.ndarray] = {}
    for name, pts in curves.items():
        rows = [tuple(float(v) for v in p) for p in pts]
        bad = [p for p in rows if len(p) not in (2, 3)]
        if not rows or bad:
            raise ValueError(f"curves[{name!r}]: expected a non-empty list of (x, y) or (x, y, half_width), "
                             f"got {bad[:1] or 'nothing'}")
        arr = np.array([(*p, np.nan) if len(p) == 2 else p for p in rows])
        parsed[str(name)] = arr[np.argsort(arr[:, 0], kind="stable")]
    xs = np.concatenate([a[:, 0] for a in parsed.values()])
    ys = np.concatenate([a[:, 1] for a in parsed.values()])
    if logx is None:
        logx = bool((xs > 0).all() and xs.max() >= 10 * xs.min())

    fig = _figure()
    fig.set_size_inches(6.4, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    for name, a in parsed.items():
        ref = any(w in name.lower() for w in ("random", "supervised"))
        err = a[:, 2] if np.isfinite(a[:, 2]).any() else None
        ax.errorbar(a[:, 0], a[:, 1], yerr=None if err is None else np.nan_to_num(err), marker="o", ms=4,
                    lw=1.6, capsize=3, linestyle="--" if ref else "-", label=name)
    if logx:
        ax.set_xscale("log")
        ticks = np.unique(xs)
        if len(ticks) <= 8:
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks])
    if (ys >= 0).all():
        ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def save_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG through a temporary file in the same folder and ``os.replace``; returns the path."""
    return atomic_write(path, lambda f: fig.savefig(f, format="png"))


# --------------------------------------------------------------------------------------------------------------
# Helpers


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _check_labels(labels: np.ndarray, name: str, n: int) -> np.ndarray:
    a = np.asarray(labels)
    if a.shape != (n,):
        raise ValueError(f"{name}: expected ({n},) class ids (one per point of xyz), got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class ids, got dtype {a.dtype}")
    return a.astype(np.int64)


def _draw_order(visible: np.ndarray, layer: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Indexes of the visible points, lower layers first (faint under grey under red), low points first."""
    idx = np.nonzero(visible)[0]
    return idx[np.lexsort((z[idx], layer[idx]))]


def _ego_box():
    from matplotlib.patches import Rectangle

    # 2 m wide, 4.6 m long, drawn in (-y, x) like the points.
    return Rectangle((-1.0, -2.3), 2.0, 4.6, fill=False, edgecolor="k", linewidth=0.8)


def _count(v: float) -> str:
    v = float(v)
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"
