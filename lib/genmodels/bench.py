"""The course's benchmark: ``python -m genmodels.bench``.

Two sections, each optional (``--only gan`` / ``--only vae``):

* **gan** — mode collapse on the 2-D toy mixtures, with the protocol of VEEGAN
  (Srivastava et al., 2017) and PacGAN (Lin et al., 2018): the ring of 8 Gaussians
  (radius 1, std 0.01) and the grid of 25 ({−4, −2, 0, 2, 4}², std 0.05); 2,500 samples
  per trained generator; a sample is *high quality* within 3 std of its nearest centre; a
  mode is *captured* when it is the nearest centre of at least one high-quality sample
  (:func:`genmodels.metrics.mode_metrics`). The vanilla GAN (the minimax game with the
  saturating generator loss) and each remedy of chapter 9 are trained over several seeds;
  the table reports mean ± standard deviation beside the published numbers.
* **vae** — the seconds per epoch and the test ELBO (nats per image) of an MLP VAE on
  Fashion-MNIST (:mod:`genmodels.vae`, :mod:`genmodels.data`, :mod:`genmodels.train`).

The results are printed as a table and written to a JSON file (default
``book/data/bench_gan.json``) with the machine they ran on; the book's results appendix
and chapter 9 read that file. Book: chapter 9 (section "Remedies, measured").
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from genmodels import gan
from genmodels.device import describe_device, pick_device, seed_everything
from genmodels.metrics import ModeMetrics, mode_metrics
from genmodels.toy import IsotropicMixture2D, grid_mixture, ring_mixture
from genmodels.train import fit

SCHEMA_VERSION = 1
DEFAULT_OUT = Path("book/data/bench_gan.json")
DEFAULT_VAE_OUT = Path("book/data/bench_vae.json")

# ---------------------------------------------------------------------------
# What is trained
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GanConfig:
    """One GAN variant: the loss and the remedies switched on.

    Every remedy except WGAN-GP is added to the *non-saturating* GAN (the usual practice);
    the vanilla GAN is the minimax game of Goodfellow et al. (2014) with the saturating
    generator loss. ``pack`` may depend on the data set (PacGAN2 on the ring, PacGAN4 on
    the grid, as published): ``pack_by_dataset`` overrides ``pack`` for those names.
    """

    name: str
    label: str
    loss: str = "non_saturating"
    label_smoothing: float = 0.0
    minibatch_std: bool = False
    pack: int = 1
    spectral_norm: bool = False
    k_critic: int = 1
    pack_by_dataset: tuple[tuple[str, int], ...] = ()

    def pack_for(self, dataset: str) -> int:
        """The packing degree used on ``dataset`` ("ring" or "grid")."""
        return dict(self.pack_by_dataset).get(dataset, self.pack)


GAN_CONFIGS: tuple[GanConfig, ...] = (
    GanConfig("vanilla", "vanilla GAN (saturating loss)", loss="saturating"),
    GanConfig("non_saturating", "non-saturating loss"),
    GanConfig("label_smoothing", "+ one-sided label smoothing 0.1", label_smoothing=0.1),
    GanConfig("minibatch_std", "+ minibatch std", minibatch_std=True),
    GanConfig("pacgan", "+ packing (PacGAN2 ring, PacGAN4 grid)", pack=2,
              pack_by_dataset=(("ring", 2), ("grid", 4))),
    GanConfig("wgan_gp", "WGAN-GP (λ = 10, 2 critic steps)", loss="wgan-gp", k_critic=2),
    GanConfig("spectral_norm", "+ spectral normalisation", spectral_norm=True),
)


def config_by_name(name: str) -> GanConfig:
    """Look up one of :data:`GAN_CONFIGS` by its ``name``."""
    for config in GAN_CONFIGS:
        if config.name == name:
            return config
    names = ", ".join(c.name for c in GAN_CONFIGS)
    raise ValueError(f"unknown GAN configuration {name!r}; expected one of: {names}.")


@dataclass(frozen=True)
class ToyGanSettings:
    """Architecture and optimisation of the 2-D GANs (the same for every variant).

    Both players are MLPs with ``depth`` hidden layers of ``width`` units; Adam with
    β = ``betas`` and a learning rate decayed linearly from ``lr`` to 0 over ``steps``
    steps; ``batch`` real and ``batch`` fake samples per step; ``n_eval`` generated samples
    for the metrics (2,500 in the protocol).
    """

    width: int = 128
    depth: int = 3
    latent_dim: int = 2
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    batch: int = 256
    steps: int = 2000
    n_eval: int = 2500

    def __post_init__(self) -> None:
        for name in ("width", "depth", "latent_dim", "batch", "steps", "n_eval"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ToyGanSettings.{name} must be a positive int, got {value!r}.")
        if not self.lr > 0:
            raise ValueError(f"ToyGanSettings.lr must be positive, got {self.lr!r}.")


QUICK_SETTINGS = ToyGanSettings(steps=300)

# The tuned settings of each data set: the grid's 25 modes are easier to reach from an
# 8-dimensional latent space than from a 2-dimensional one.
DEFAULT_SETTINGS: dict[str, ToyGanSettings] = {
    "ring": ToyGanSettings(latent_dim=2),
    "grid": ToyGanSettings(latent_dim=8),
}


def settings_for(dataset: str, settings: ToyGanSettings | Mapping[str, ToyGanSettings] | None
                 = None) -> ToyGanSettings:
    """The settings used on ``dataset``: ``settings`` itself, its entry for ``dataset``,
    or :data:`DEFAULT_SETTINGS`."""
    if settings is None:
        settings = DEFAULT_SETTINGS
    if isinstance(settings, ToyGanSettings):
        return settings
    if dataset not in settings:
        raise ValueError(f"no settings for dataset {dataset!r}; got {sorted(settings)}.")
    return settings[dataset]

MIXTURES: dict[str, Callable[[], IsotropicMixture2D]] = {
    "ring": ring_mixture,  # 8 modes, radius 1, std 0.01
    "grid": grid_mixture,  # 25 modes on {-4,...,4}^2, std 0.05
}

# The best published results under the same protocol (mean over runs).
PUBLISHED: tuple[dict[str, Any], ...] = (
    {"dataset": "ring", "method": "VEEGAN", "modes_captured": 8.0, "high_quality_share": 0.529,
     "source": "srivastava2017veegan (as reported by lin2018pacgan)"},
    {"dataset": "ring", "method": "PacGAN2", "modes_captured": 7.9, "high_quality_share": 0.956,
     "source": "lin2018pacgan, table 2"},
    {"dataset": "grid", "method": "PacGAN4", "modes_captured": 24.8, "high_quality_share": 0.936,
     "source": "lin2018pacgan, table 2"},
)

# ---------------------------------------------------------------------------
# Training one toy GAN
# ---------------------------------------------------------------------------


@dataclass
class ToyGanRun:
    """The outcome of :func:`train_toy_gan`.

    Attributes:
        samples: ``n_eval`` generated points ``[n_eval, 2]`` (CPU).
        metrics: their :class:`~genmodels.metrics.ModeMetrics`.
        wall_time: seconds of training (excluding the final evaluation).
        history: per-step ``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` (a
            :class:`genmodels.train.History`).
        trajectory: when ``record_every`` was given, the metrics during training:
            ``{"step": [...], "modes_captured": [...], "high_quality_share": [...]}``.
        snapshots: the ``n_eval`` samples ``[n_eval, 2]`` behind each entry of
            ``trajectory`` (empty without ``record_every``).
        generator: the trained generator network G.
        discriminator: the trained discriminator (critic) D.
    """

    samples: torch.Tensor
    metrics: ModeMetrics
    wall_time: float
    history: Any
    trajectory: dict[str, list[float]]
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    snapshots: list[torch.Tensor] = field(default_factory=list)


def sample_mixture_on(
    mixture: IsotropicMixture2D, n: int, device: torch.device, generator: torch.Generator
) -> torch.Tensor:
    """``n`` points ``[n, 2]`` of ``mixture`` drawn with the CPU ``generator``, on ``device``."""
    return mixture.sample(n, generator=generator).to(device)


def build_toy_gan(
    config: GanConfig, settings: ToyGanSettings, dataset: str = "ring"
) -> tuple[gan.MLPGenerator, gan.MLPDiscriminator]:
    """The two players of the 2-D benchmark for ``config`` on ``dataset``."""
    hidden = (settings.width,) * settings.depth
    G = gan.MLPGenerator(settings.latent_dim, 2, hidden)
    D = gan.MLPDiscriminator(
        2,
        hidden,
        minibatch_std=config.minibatch_std,
        pack=config.pack_for(dataset),
        spectral_norm=config.spectral_norm,
    )
    return G, D


def generate(G: torch.nn.Module, n: int, latent_dim: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` samples ``[n, 2]`` (CPU) of the generator G, with z drawn from ``generator``."""
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = G(gan.sample_latent(n, latent_dim, device, generator)).cpu()
    G.train(was_training)
    return x


def train_toy_gan(
    dataset: str,
    config: GanConfig,
    settings: ToyGanSettings | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    record_every: int | None = None,
    progress: bool = False,
) -> ToyGanRun:
    """Train one GAN variant on the ring or the grid and measure its mode metrics.

    Real batches are fresh samples of the mixture at every step (the data set is the
    distribution itself). Training goes through :func:`genmodels.train.fit` and
    :func:`genmodels.gan.make_gan_step`; the learning rates decay linearly to 0. With
    ``record_every`` the mode metrics of ``n_eval`` samples are recorded every that many
    steps (one host synchronisation each time, none in between).

    Args:
        dataset: ``"ring"`` or ``"grid"``.
        config: the GAN variant, e.g. ``config_by_name("pacgan")``.
        settings: architecture, optimiser and budget (default: the data set's entry of
            :data:`DEFAULT_SETTINGS`).
        seed: seeds the networks' initialisation, the data and the latent draws.
        device: where to train (default :func:`genmodels.device.pick_device`).
        record_every: record the metrics over training every this many steps.
        progress: show a progress bar.
    """
    if dataset not in MIXTURES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MIXTURES)}.")
    if record_every is not None and (not isinstance(record_every, int) or record_every < 1):
        raise ValueError(f"record_every must be a positive int or None, got {record_every!r}.")
    device = device if device is not None else pick_device()
    settings = settings_for(dataset, settings)
    mixture = MIXTURES[dataset]()
    generator = seed_everything(seed)
    G, D = build_toy_gan(config, settings, dataset)
    G, D = G.to(device), D.to(device)
    betas = (0.5, 0.9) if config.loss == "wgan-gp" else settings.betas
    opt_g = torch.optim.Adam(G.parameters(), lr=settings.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=settings.lr, betas=betas)
    schedules = [
        torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / settings.steps))
        for opt in (opt_g, opt_d)
    ]
    gan_step = gan.make_gan_step(
        G, D, opt_g, opt_d, settings.latent_dim, loss=config.loss, k_critic=config.k_critic,
        label_smoothing=config.label_smoothing, generator=generator,
    )

    def step(real: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = gan_step(real)
        for schedule in schedules:
            schedule.step()
        return terms

    chunk = record_every or settings.steps
    n_chunks = math.ceil(settings.steps / chunk)
    trajectory: dict[str, list[float]] = {"step": [], "modes_captured": [], "high_quality_share": []}
    snapshots: list[torch.Tensor] = []

    def batches_of_chunk(index: int) -> Any:
        n = min(chunk, settings.steps - index * chunk)
        return (sample_mixture_on(mixture, settings.batch, device, generator) for _ in range(n))

    chunk_index = [0]

    def make_batches() -> Any:
        batches = batches_of_chunk(chunk_index[0])
        chunk_index[0] += 1
        return batches

    def on_epoch_end(epoch: int, history: Any) -> dict[str, float] | None:
        if record_every is None:
            return None
        snapshot = generate(G, settings.n_eval, settings.latent_dim, generator)
        snapshots.append(snapshot)
        m = mode_metrics(snapshot, mixture)
        trajectory["step"].append(float(history.n_steps))
        trajectory["modes_captured"].append(float(m.modes_captured))
        trajectory["high_quality_share"].append(m.high_quality_share)
        return None

    history = fit(step, make_batches, epochs=n_chunks, log_every=max(50, chunk // 4),
                  progress=progress, desc=f"{config.name} on {dataset}",
                  on_epoch_end=on_epoch_end)
    samples = generate(G, settings.n_eval, settings.latent_dim, generator)
    return ToyGanRun(
        samples=samples,
        metrics=mode_metrics(samples, mixture),
        wall_time=history.wall_time,
        history=history,
        trajectory=trajectory if record_every is not None else {},
        generator=G,
        discriminator=D,
        snapshots=snapshots,
    )


# ---------------------------------------------------------------------------
# The GAN section: several seeds per (dataset, variant)
# ---------------------------------------------------------------------------


def _mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation; ``None`` if any value is ``None`` (infinite)."""
    if any(v is None for v in values):
        return None, None
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def _one_run(dataset: str, config: GanConfig, settings: ToyGanSettings, seed: int,
             device: str, threads: int | None) -> dict[str, Any]:
    """Train one GAN and return its numbers (a top-level function, for worker processes)."""
    if threads is not None:
        torch.set_num_threads(threads)
    run = train_toy_gan(dataset, config, settings, seed=seed, device=torch.device(device))
    rkl = run.metrics.reverse_kl
    return {
        "seed": seed,
        "modes_captured": run.metrics.modes_captured,
        "high_quality_share": run.metrics.high_quality_share,
        # inf (no high-quality sample at all) is stored as None: JSON has no inf.
        "reverse_kl": rkl if math.isfinite(rkl) else None,
        "wall_time": run.wall_time,
    }


def run_gan_bench(
    seeds: Sequence[int] = range(5),
    datasets: Sequence[str] = ("ring", "grid"),
    configs: Sequence[GanConfig] = GAN_CONFIGS,
    settings: ToyGanSettings | Mapping[str, ToyGanSettings] | None = None,
    device: torch.device | None = None,
    log: Callable[[str], None] | None = print,
    jobs: int = 1,
) -> dict[str, Any]:
    """Train every ``config`` on every ``dataset`` once per seed; return a JSON-able dict.

    With ``jobs > 1`` the runs are spread over that many worker processes (one CPU thread
    each), which pays off on a multi-core CPU since each tiny 2-D GAN uses one core.

    Returns ``{"settings", "configs", "protocol", "seeds", "published", "results",
    "wall_time"}`` where each entry of ``results`` is ``{"dataset", "config", "label",
    "pack", "n_modes", "per_seed": [{"seed", "modes_captured", "high_quality_share",
    "reverse_kl", "wall_time"}], "mean": {...}, "std": {...}}`` (means and sample standard
    deviations over the seeds; a reverse KL is ``None`` when it is infinite).
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed, e.g. --seeds 5.")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}.")
    device = device if device is not None else pick_device()
    start = time.perf_counter()
    tasks = [(dataset, config, settings_for(dataset, settings), seed)
             for dataset in datasets for config in configs for seed in seeds]
    outcomes: dict[tuple[str, str, int], dict[str, Any]] = {}

    def record(task: tuple[str, GanConfig, ToyGanSettings, int], out: dict[str, Any]) -> None:
        dataset, config, _, seed = task
        outcomes[dataset, config.name, seed] = out
        if log is not None:
            log(f"  {dataset:4s} {config.name:16s} seed {seed}: {out['modes_captured']} modes, "
                f"{100 * out['high_quality_share']:.1f}% high quality ({out['wall_time']:.1f} s)")

    if jobs == 1:
        for task in tasks:
            record(task, _one_run(*task, str(device), None))
    else:
        import concurrent.futures as cf
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = {pool.submit(_one_run, *task, str(device), 1): task for task in tasks}
            for future in cf.as_completed(futures):
                record(futures[future], future.result())
    results = []
    for dataset in datasets:
        for config in configs:
            per_seed = [outcomes[dataset, config.name, seed] for seed in seeds]
            summary_mean, summary_std = {}, {}
            for key in ("modes_captured", "high_quality_share", "reverse_kl", "wall_time"):
                summary_mean[key], summary_std[key] = _mean_std([r[key] for r in per_seed])
            results.append({
                "dataset": dataset,
                "config": config.name,
                "label": config.label,
                "pack": config.pack_for(dataset),
                "n_modes": MIXTURES[dataset]().n_modes,
                "per_seed": per_seed,
                "mean": summary_mean,
                "std": summary_std,
            })
    return {
        "settings": {d: asdict(settings_for(d, settings)) for d in datasets},
        "configs": [asdict(c) for c in configs],
        "protocol": {
            "ring": "8 Gaussians on a circle of radius 1, std 0.01",
            "grid": "25 Gaussians centred on {-4,-2,0,2,4}^2, std 0.05",
            "n_samples": settings_for(datasets[0], settings).n_eval,
            "high_quality": "within 3 std of the nearest centre",
            "mode_captured": "nearest centre of >= 1 high-quality sample",
        },
        "seeds": seeds,
        "jobs": jobs,
        "published": list(PUBLISHED),
        "results": results,
        "wall_time": time.perf_counter() - start,
    }


def format_gan_table(section: dict[str, Any]) -> str:
    """The GAN section as a plain-text table (one row per data set and variant)."""
    lines = [
        f"{'data':5s} {'variant':42s} {'modes':>13s} {'high quality %':>15s} "
        f"{'reverse KL':>11s} {'s/run':>6s}",
    ]
    for r in section["results"]:
        m, s = r["mean"], r["std"]
        modes = f"{m['modes_captured']:.1f}±{s['modes_captured']:.1f}/{r['n_modes']}"
        hq = f"{100 * m['high_quality_share']:.1f}±{100 * s['high_quality_share']:.1f}"
        rkl = "inf" if m["reverse_kl"] is None else f"{m['reverse_kl']:.3f}"
        lines.append(f"{r['dataset']:5s} {r['label']:42s} {modes:>13s} {hq:>15s} "
                     f"{rkl:>11s} {m['wall_time']:6.1f}")
    for p in section["published"]:
        lines.append(f"{p['dataset']:5s} {'published: ' + p['method']:42s} "
                     f"{p['modes_captured']:>13.1f} {100 * p['high_quality_share']:>15.1f} "
                     f"{'':>11s} {'':>6s}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The VAE section
# ---------------------------------------------------------------------------


def run_vae_bench(
    epochs: int = 2,
    latent_dim: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    n_test: int | None = None,
    device: torch.device | None = None,
    log: Callable[[str], None] | None = print,
    n_train: int | None = None,
) -> dict[str, Any]:
    """Seconds per epoch and test ELBO of an MLP VAE (Bernoulli likelihood) on Fashion-MNIST.

    Trains :class:`genmodels.vae.MLPVAE` with a Bernoulli likelihood on the grey levels in
    [0, 1] (the usual practice), with Adam, for ``epochs`` epochs; the test ELBO is the
    mean over the test split (or its first ``n_test`` images) of a one-sample ELBO.
    ``n_train`` keeps only the first training images (for smoke tests).
    Returns ``{"epochs", "seconds_per_epoch", "test_elbo", "train_loss_last", ...}``.
    """
    from genmodels import data, vae
    from genmodels.train import minibatches

    device = device if device is not None else pick_device()
    generator = seed_everything(seed)
    train = data.to_float_images(data.load_fashion_mnist("train").images).to(device)
    test = data.to_float_images(data.load_fashion_mnist("test").images).to(device)
    if n_test is not None:
        test = test[:n_test]
    if n_train is not None:
        train = train[:n_train]
    model = vae.MLPVAE(latent_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = vae.vae_step_loss(model, x, generator=generator)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        return {k: v.detach() for k, v in terms.items()}

    epoch_times: list[float] = []
    last = [time.perf_counter()]

    def on_epoch_end(epoch: int, history: Any) -> None:
        now = time.perf_counter()
        epoch_times.append(now - last[0])
        last[0] = now
        if log is not None:
            log(f"  vae epoch {epoch}: {epoch_times[-1]:.1f} s, loss {history.last('loss'):.1f}")

    history = fit(step, lambda: minibatches(train, batch_size=batch_size, generator=generator),
                  epochs=epochs, progress=False, on_epoch_end=on_epoch_end)
    model.eval()
    with torch.no_grad():
        elbos = [vae.elbo_terms(model, x, generator=generator).elbo
                 for (x,) in minibatches(test, batch_size=1000, shuffle=False)]
    return {
        "model": f"MLPVAE(latent_dim={latent_dim}, hidden=(512, 256)), Bernoulli likelihood",
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seconds_per_epoch": statistics.fmean(epoch_times),
        "train_loss_last": history.last("loss"),
        "test_elbo": torch.cat(elbos).mean().item(),
        "n_train": int(train.shape[0]),
        "n_test": int(test.shape[0]),
    }


def format_vae_table(section: dict[str, Any]) -> str:
    """The VAE section as two lines of text."""
    return (f"{section['model']}, {section['epochs']} epochs of batch {section['batch_size']}:\n"
            f"  {section['seconds_per_epoch']:.1f} s/epoch, test ELBO "
            f"{section['test_elbo']:.1f} nats/image on {section['n_test']} test images")


# ---------------------------------------------------------------------------
# The machine, the command line
# ---------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(device: torch.device) -> dict[str, Any]:
    """What the numbers ran on: CPU model and cores, torch version, device, load."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": describe_device(device),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    return info


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m genmodels.bench",
        description="GAN mode metrics on the ring and grid (vanilla GAN and remedies, "
        "several seeds) and VAE epoch time / test ELBO on Fashion-MNIST.",
    )
    parser.add_argument("--only", choices=("gan", "vae", "all"), default="all",
                        help="which section to run (default: all).")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds 0..N-1 (default 5).")
    parser.add_argument("--datasets", default="ring,grid", help="comma-separated: ring,grid.")
    parser.add_argument("--configs", default=",".join(c.name for c in GAN_CONFIGS),
                        help="comma-separated GAN variants (default: all).")
    parser.add_argument("--steps", type=int, default=None, help="training steps per GAN.")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_SETTINGS.steps} steps, 1 seed, 1 VAE epoch "
                        "on 1000 test images.")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes for the GAN runs (default 1; use the cores).")
    parser.add_argument("--vae-epochs", type=int, default=2, help="VAE epochs (default 2).")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best).")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1 for the tiny 2-D GANs).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"JSON of the GAN section (default {DEFAULT_OUT}); '-': none.")
    parser.add_argument("--vae-out", type=Path, default=DEFAULT_VAE_OUT,
                        help=f"JSON of the VAE section (default {DEFAULT_VAE_OUT}); '-': none.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print the tables; write the JSON files.

    Returns ``{"gan": doc, "vae": doc}`` (the sections that ran), each document being
    ``{"schema", "created", "command", "machine", "gan" | "vae": section}``.
    """
    args = _parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1.")
    device = pick_device(args.device)
    default_threads = torch.get_num_threads()
    settings = {d: replace(QUICK_SETTINGS, latent_dim=s.latent_dim) if args.quick else s
                for d, s in DEFAULT_SETTINGS.items()}
    if args.steps is not None:
        settings = {d: replace(s, steps=args.steps) for d, s in settings.items()}
    seeds = range(1 if args.quick else args.seeds)
    header: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m genmodels.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(device),
    }
    docs: dict[str, Any] = {}
    if args.only in ("gan", "all"):
        # The 2-D networks are tiny: one thread avoids threading overhead (and contention
        # on a busy machine); pass --threads to change it.
        torch.set_num_threads(args.threads or 1)
        header["machine"]["torch_threads_gan"] = torch.get_num_threads()
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
        configs = [config_by_name(c.strip()) for c in args.configs.split(",") if c.strip()]
        print(f"GAN section on {describe_device(device)}: {len(datasets)} data sets × "
              f"{len(configs)} variants × {len(seeds)} seeds, {args.jobs} job(s)")
        docs["gan"] = {**header, "gan": run_gan_bench(seeds, datasets, configs, settings, device,
                                                      jobs=args.jobs)}
        print(format_gan_table(docs["gan"]["gan"]))
        print(f"GAN section: {docs['gan']['gan']['wall_time']:.0f} s")
        _write(docs["gan"], args.out)
    if args.only in ("vae", "all"):
        torch.set_num_threads(args.threads or default_threads)
        vae_section = run_vae_bench(epochs=1 if args.quick else args.vae_epochs,
                                    n_test=1000 if args.quick else None, device=device)
        docs["vae"] = {**header, "vae": vae_section}
        print(format_vae_table(vae_section))
        _write(docs["vae"], args.vae_out)
    return docs


def _write(doc: dict[str, Any], path: Path) -> None:
    if str(path) == "-":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}")


def load_results(path: Path | str = DEFAULT_OUT) -> dict[str, Any]:
    """Read a JSON file written by the benchmark, with a clear error if it is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no benchmark results at {path}; run `python -m genmodels.bench` from the "
            "repository root to create them."
        )
    doc = json.loads(path.read_text())
    if doc.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"{path} has schema {doc.get('schema')!r}, expected {SCHEMA_VERSION}; "
                         "rerun the benchmark.")
    return doc


if __name__ == "__main__":
    main()
