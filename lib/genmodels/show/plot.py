"""Figures of the course, with matplotlib.

Every function draws on an ``ax`` you pass (or on a new figure) and returns the Axes; it
never calls ``plt.show()`` — the notebook does. Tensors may live on any device; they are
copied to the host here, once, for drawing.

Decoders are passed as functions ``decode_fn(z [n, D]) -> images [n, C, H, W]`` with
values in ``[0, 1]`` (e.g. ``lambda z: torch.sigmoid(model.decode(z))``); they are
called under ``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from genmodels.core.validation import check_int, check_positive_int, check_tensor

__all__ = [
    "decode_codes",
    "decode_latent_grid",
    "exponential_moving_average",
    "image_grid",
    "images_to_grid",
    "interpolation_grid",
    "latent_grid_points",
    "latent_scatter",
    "linear_interpolation",
    "loss_curves",
    "metrics_against_steps",
    "mode_benchmark",
    "spherical_interpolation",
]

DecodeFn = Callable[[torch.Tensor], torch.Tensor]


def _new_ax(ax: Axes | None, figsize: tuple[float, float] = (4, 4)) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _as_points_2d(x: Any, name: str) -> np.ndarray:
    arr = _to_numpy(x)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape [n, 2], got {tuple(arr.shape)}.")
    return arr


# --- image grids -------------------------------------------------------------------------


def images_to_grid(images: Any, nrow: int, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images ``[N, C, H, W]`` or ``[N, H, W]`` into one array ``[rows*H', nrow*W', C]``.

    uint8 images are scaled by 1/255; float images must already lie in ``[0, 1]``.
    ``nrow`` is the number of images per row.
    """
    arr = _to_numpy(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have shape [N, H, W] or [N, C, H, W] with C in (1, 3), got {tuple(arr.shape)}."
        )
    if arr.shape[0] == 0:
        raise ValueError("images is empty: nothing to draw.")
    check_positive_int(nrow, "nrow", hint="images per row")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    n, c, h, w = arr.shape
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = np.full((rows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value, np.float32)
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[top : top + h, left : left + w] = arr[i].transpose(1, 2, 0)
    return grid


def image_grid(
    images: Any,
    nrow: int = 8,
    ax: Axes | None = None,
    title: str | None = None,
    padding: int = 2,
) -> Axes:
    """Show images ``[N, C, H, W]`` (or ``[N, H, W]``) as one grid with ``nrow`` per row.

    Values are drawn on a fixed scale (0 = black, 1 = white), so grids are comparable.
    """
    grid = images_to_grid(images, nrow, padding=padding)
    if ax is None:  # about 40 pixels of the grid per inch, between 1.5 and 12 inches
        ax = _new_ax(None, figsize=tuple(float(np.clip(s / 40, 1.5, 12)) for s in grid.shape[1::-1]))
    if grid.shape[2] == 1:
        ax.imshow(grid[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(grid, 0.0, 1.0), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


# --- 2-D latent codes ------------------------------------------------------------------


def latent_scatter(
    z: Any,
    labels: Any,
    class_names: Sequence[str],
    ax: Axes | None = None,
    title: str | None = None,
    s: float = 3.0,
    legend: bool = True,
) -> Axes:
    """Scatter 2-D latent codes ``z [n, 2]`` coloured by integer ``labels [n]``, one colour
    and legend entry per class (named by ``class_names``)."""
    pts = _as_points_2d(z, "z")
    lab = _to_numpy(labels).astype(np.int64)
    if lab.shape != (pts.shape[0],):
        raise ValueError(f"labels must have shape [{pts.shape[0]}] like z, got {tuple(lab.shape)}.")
    if lab.size and (lab.min() < 0 or lab.max() >= len(class_names)):
        raise ValueError(
            f"labels must lie in 0..{len(class_names) - 1} (one per class name), got "
            f"{lab.min()}..{lab.max()}."
        )
    ax = _new_ax(ax, figsize=(5.5, 5))
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for k, name in enumerate(class_names):
        sel = lab == k
        if sel.any():
            ax.scatter(pts[sel, 0], pts[sel, 1], s=s, color=cmap(k % cmap.N), label=name,
                       alpha=0.6, linewidths=0)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if legend:
        ax.legend(markerscale=4, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        ax.set_title(title)
    return ax


# --- interpolations ---------------------------------------------------------------------


def linear_interpolation(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Points ``(1 - t) z0 + t z1`` for ``t`` in ``linspace(0, 1, steps)``.

    Shapes: ``z0, z1`` ``[D]`` or ``[B, D]`` → ``[steps, D]`` or ``[B, steps, D]``.
    """
    _check_pair(z0, z1, steps)
    t = torch.linspace(0.0, 1.0, steps, device=z0.device, dtype=z0.dtype)
    t = t.reshape(*([1] * (z0.ndim - 1)), steps, 1)
    return (1 - t) * z0.unsqueeze(-2) + t * z1.unsqueeze(-2)


def spherical_interpolation(z0: torch.Tensor, z1: torch.Tensor, steps: int, eps: float = 1e-7) -> torch.Tensor:
    """Spherical linear interpolation (slerp) from ``z0`` to ``z1``.

    With ``Ω`` the angle between ``z0`` and ``z1``,
    ``slerp(t) = sin((1 - t) Ω) / sin Ω · z0 + sin(t Ω) / sin Ω · z1``. Under a Gaussian
    prior in many dimensions most mass lies near a sphere; slerp stays near it while the
    straight line cuts through the low-probability centre. Nearly parallel vectors fall
    back to the linear path. Shapes as :func:`linear_interpolation`.
    """
    _check_pair(z0, z1, steps)
    a, b = z0.unsqueeze(-2), z1.unsqueeze(-2)
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True)).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    t = torch.linspace(0.0, 1.0, steps, device=z0.device, dtype=z0.dtype)
    t = t.reshape(*([1] * (z0.ndim - 1)), steps, 1)
    sin_omega = torch.sin(omega)
    small = sin_omega.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(sin_omega), sin_omega)
    w0 = torch.where(small, 1 - t, torch.sin((1 - t) * omega) / safe)
    w1 = torch.where(small, t, torch.sin(t * omega) / safe)
    return w0 * a + w1 * b


def _check_pair(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> None:
    if not isinstance(z0, torch.Tensor) or not isinstance(z1, torch.Tensor):
        raise TypeError("z0 and z1 must be torch tensors of shape [D] or [B, D].")
    if z0.shape != z1.shape or z0.ndim not in (1, 2):
        raise ValueError(f"z0 and z1 must share a shape [D] or [B, D], got {tuple(z0.shape)} and {tuple(z1.shape)}.")
    check_tensor(z0, "z0", hint="latent codes")
    check_tensor(z1, "z1", hint="latent codes")
    check_int(steps, "steps", minimum=2)


def decode_codes(decode_fn: DecodeFn, z: torch.Tensor) -> torch.Tensor:
    """``decode_fn(z)`` under ``torch.no_grad()``: codes ``z [n, D]`` → images ``[n, C, H, W]``,
    or a ``ValueError`` that says what the decoder returned instead."""
    with torch.no_grad():
        images = decode_fn(z)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] != z.shape[0]:
        raise ValueError(
            f"decode_fn must map latent codes [n, {z.shape[-1]}] to images [n, C, H, W] in [0, 1]; "
            f"got {type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))} for n={z.shape[0]}."
        )
    return images


def interpolation_grid(
    decode_fn: DecodeFn,
    z_start: torch.Tensor,
    z_end: torch.Tensor,
    steps: int = 8,
    method: str = "linear",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Decode interpolations between pairs of codes: one row per pair ``z_start[i] → z_end[i]``
    (shapes ``[B, D]``), ``steps`` images per row; ``method`` is ``"linear"`` or ``"spherical"``."""
    if z_start.ndim == 1:
        z_start, z_end = z_start[None], z_end[None]
    if method == "linear":
        path = linear_interpolation(z_start, z_end, steps)
    elif method == "spherical":
        path = spherical_interpolation(z_start, z_end, steps)
    else:
        raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}.")
    images = decode_codes(decode_fn, path.reshape(-1, path.shape[-1]))
    return image_grid(images, nrow=steps, ax=ax, title=title)


def latent_grid_points(
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    n: int = 15,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A regular ``n × n`` grid of 2-D codes ``[n*n, 2]``, row-major from the top-left
    (largest ``z_2``) so that decoded images tile like the plane."""
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), n, device=device)
    ys = torch.linspace(float(ylim[1]), float(ylim[0]), n, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def decode_latent_grid(
    decode_fn: DecodeFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    n: int = 15,
    ax: Axes | None = None,
    title: str | None = None,
    device: torch.device | str | None = None,
) -> Axes:
    """The decoded 2-D latent plane: images decoded from an ``n × n`` grid over xlim × ylim,
    tiled where their codes lie (``z_1`` to the right, ``z_2`` up)."""
    images = decode_codes(decode_fn, latent_grid_points(xlim, ylim, n, device))
    return image_grid(images, nrow=n, ax=ax, title=title, padding=0)


# --- training curves ---------------------------------------------------------------------


def exponential_moving_average(values: Sequence[float], smooth: float) -> np.ndarray:
    """Bias-corrected exponential moving average: ``m_t = smooth·m_{t-1} + (1 - smooth)·v_t``,
    divided by ``1 - smooth^t`` (as in TensorBoard); ``smooth = 0`` returns the values."""
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must lie in [0, 1), got {smooth}.")
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    m = 0.0
    for t, x in enumerate(v, start=1):
        m = smooth * m + (1 - smooth) * x
        out[t - 1] = m / (1 - smooth**t)
    return out


def loss_curves(
    history: Any,
    keys: Sequence[str] | None = None,
    ax: Axes | None = None,
    smooth: float = 0.0,
    title: str | None = None,
    logy: bool = False,
) -> Axes:
    """Plot recorded terms against the step: one line per key of ``history.values`` (a
    :class:`genmodels.core.train.History`, or a dict name -> list of floats). With ``smooth > 0``
    the raw values are drawn faintly and their moving average on top."""
    if isinstance(history, Mapping):
        values, steps = dict(history), None
    else:
        values, steps = history.values, list(history.steps)
    keys = list(values) if keys is None else list(keys)
    missing = [k for k in keys if k not in values]
    if missing:
        raise KeyError(f"no recorded values for {missing}; available: {list(values)}.")
    ax = _new_ax(ax, figsize=(6, 3.5))
    for i, k in enumerate(keys):
        y = np.asarray(values[k], dtype=np.float64)
        x = np.arange(len(y)) if steps is None or len(steps) != len(y) else np.asarray(steps)
        if smooth > 0:
            ax.plot(x, y, color=f"C{i}", alpha=0.25, linewidth=0.8)
            ax.plot(x, exponential_moving_average(y, smooth), color=f"C{i}", label=k)
        else:
            ax.plot(x, y, color=f"C{i}", label=k)
    ax.set_xlabel("step")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def metrics_against_steps(long_run: Mapping[str, Any], published: Sequence[Mapping[str, Any]] = (),
                          axes: Sequence[Axes] | None = None) -> Sequence[Axes]:
    """A long GAN run's metrics against its training steps: the modes captured (left) and
    the share of high-quality samples (right), with the published rows of the same variant
    and mixture as dashed lines, so that "more steps would close the gap" can be read off.

    ``long_run`` is a row of the search's ``long_runs`` (:func:`genmodels.bench.gan_search.summary`):
    ``dataset``, ``variant``, ``name``, ``n_modes`` and ``trajectory`` (``step``,
    ``modes_captured``, ``high_quality_share``); ``published`` rows carry ``dataset``,
    ``variant``, ``method``, ``modes_captured`` and ``high_quality_share``.
    """
    trajectory = long_run["trajectory"]
    steps = np.asarray(trajectory.get("step", []), dtype=np.float64)
    if steps.size == 0:
        raise ValueError(f"the long run {long_run.get('name')!r} has no trajectory to draw; "
                         "it was trained without record_every.")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    mine = [p for p in published
            if p["dataset"] == long_run["dataset"] and p.get("variant") == long_run["variant"]]
    n_modes = long_run["n_modes"]
    panels = ((axes[0], "modes_captured", 1, n_modes, f"modes captured (of {n_modes})"),
              (axes[1], "high_quality_share", 100, 100, "high-quality samples (%)"))
    for ax, key, scale, top, label in panels:
        ax.plot(steps, scale * np.asarray(trajectory[key], dtype=np.float64), "o-",
                label=f"{long_run['variant']}, {long_run['name']}")
        for p in mine:
            ax.axhline(scale * p[key], color="black", ls="--", lw=1, label=f"published {p['method']}")
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.set_ylim(-0.03 * top, 1.05 * top)
        ax.legend(fontsize=8)
    axes[0].set_title(f"{long_run['dataset']}: {long_run['variant']} against steps", fontsize=9)
    return axes


def mode_benchmark(section: Mapping[str, Any], dataset: str, ax: Axes | None = None) -> Axes:
    """The GAN benchmark on one mixture: each variant's runs as points (modes captured
    against the share of high-quality samples, one point per seed, the mean as a ringed
    marker) and each published row as a black star, so that distance to a paper reads as
    distance on the plot.

    ``section`` is the benchmark's GAN section (:func:`genmodels.results.load_results`
    ``("gan")["gan"]``): its ``results`` (``per_seed``, ``mean``, ``label``, ``n_modes``) and
    ``published`` rows for ``dataset`` ("ring" or "grid"). Seeds with the same mode count
    are spread a little sideways so that none hides another.
    """
    rows = [r for r in section["results"] if r["dataset"] == dataset]
    if not rows:
        known = sorted({r["dataset"] for r in section["results"]})
        raise ValueError(f"no results for dataset {dataset!r}; the section has {known}.")
    ax = _new_ax(ax, figsize=(6, 4.5))
    markers = "osD^vPXh<>"
    for i, r in enumerate(rows):
        modes = np.array([s["modes_captured"] for s in r["per_seed"]], dtype=np.float64)
        hq = 100 * np.array([s["high_quality_share"] for s in r["per_seed"]], dtype=np.float64)
        offset = (i - (len(rows) - 1) / 2) * 0.04 * r["n_modes"] / 8
        ax.scatter(modes + offset, hq, s=18, color=f"C{i}", marker=markers[i % len(markers)],
                   alpha=0.7, label=r["label"])
        ax.scatter([r["mean"]["modes_captured"] + offset], [100 * r["mean"]["high_quality_share"]],
                   s=90, facecolors="none", edgecolors=f"C{i}", linewidths=1.5)
    for p in section.get("published", []):
        if p["dataset"] != dataset:
            continue
        x, y = p["modes_captured"], 100 * p["high_quality_share"]
        ax.scatter([x], [y], s=140, marker="*", color="black", zorder=3)
        ax.annotate(f"published {p['method']}", (x, y), textcoords="offset points",
                    xytext=(-6, 6), ha="right", fontsize=8)
    n_modes = rows[0]["n_modes"]
    ax.set_xlim(-0.5, n_modes + 0.8)
    ax.set_ylim(-3, 103)
    ax.set_xlabel(f"modes captured (of {n_modes})")
    ax.set_ylabel("high-quality samples (%)")
    ax.set_title(f"{dataset}: one point per seed, rings are means, stars published rows",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return ax
