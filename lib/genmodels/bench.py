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

# Chapter 6's VAE and the other chapter sections (Gibbs sampling and RBMs of chapter 3, the
# image GANs of chapter 8, the comparison of chapter 10) live in genmodels.bench_chapters.
from genmodels.bench_chapters import SECTIONS as CHAPTER_SECTIONS
from genmodels.bench_chapters import format_vae_table, run_vae_bench, seeds_of
from genmodels.device import describe_device, pick_device, seed_everything
from genmodels.metrics import ModeMetrics, mode_metrics
from genmodels.results_tables import format_section_text
from genmodels.toy import IsotropicMixture2D, grid_mixture, ring_mixture
from genmodels.train import fit
from genmodels.validation import check_positive_int_fields, is_positive_int

SCHEMA_VERSION = 1
DEFAULT_OUT = Path("book/data/bench_gan.json")
DEFAULT_VAE_OUT = Path("book/data/bench_vae.json")
DEFAULT_RUNS_FILE = Path("_build/bench/gan_runs.jsonl")

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

    Both players are MLPs with ``depth`` hidden layers: ``width`` units in the generator,
    ``d_width`` in the discriminator (``None``: the same as ``width``); Adam with
    β = ``betas`` and a learning rate decayed linearly from ``lr`` to 0 over ``steps``
    steps; ``batch`` real and ``batch`` fake samples per step; ``n_eval`` generated samples
    for the metrics (2,500 in the protocol).
    """

    width: int = 128
    depth: int = 3
    d_width: int | None = None
    latent_dim: int = 2
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    batch: int = 256
    steps: int = 2000
    n_eval: int = 2500

    def __post_init__(self) -> None:
        check_positive_int_fields(self, ("width", "depth", "latent_dim", "batch", "steps",
                                         "n_eval"))
        if self.d_width is not None and not is_positive_int(self.d_width):
            raise ValueError("ToyGanSettings.d_width must be a positive int or None (= width), "
                             f"got {self.d_width!r}.")
        if not self.lr > 0:
            raise ValueError(f"ToyGanSettings.lr must be positive, got {self.lr!r}.")


QUICK_SETTINGS = ToyGanSettings(steps=300)

# The tuned settings of each data set (tuned on a few seeds on the 2-core CPU; the
# published runs train for 400,000 steps, far beyond this budget). A discriminator twice as
# wide as the generator sharpens the samples (more high-quality ones); a 2-dimensional latent
# space serves both mixtures; the grid's 25 modes need more steps than the ring's 8. On the
# grid, about half of the imprecise samples lie on "bridges" between neighbouring modes (10
# to 20 std from the nearest centre): a continuous generator must stretch the latent
# Gaussian across the gaps, and a deeper, wider one makes the bridges steeper. With 4
# layers of 256 units in both players, minibatch std went from 69 % to 94 % high-quality
# samples on its worst seed (and from 88-89 % to 92-93 % on two others), all 25 modes kept.
DEFAULT_SETTINGS: dict[str, ToyGanSettings] = {
    "ring": ToyGanSettings(latent_dim=2, d_width=256, steps=6000),
    "grid": ToyGanSettings(latent_dim=2, width=256, depth=4, d_width=256, steps=10000),
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
        history: per-step ``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` and, except for
            WGAN-GP, ``acc_real``, ``acc_fake`` (a :class:`genmodels.train.History`).
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
    G = gan.MLPGenerator(settings.latent_dim, 2, (settings.width,) * settings.depth)
    D = gan.MLPDiscriminator(
        2,
        (settings.d_width or settings.width,) * settings.depth,
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
    runs_file: Path | str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train every ``config`` on every ``dataset`` once per seed; return a JSON-able dict.

    With ``jobs > 1`` the runs are spread over that many worker processes (one CPU thread
    each), which pays off on a multi-core CPU since each tiny 2-D GAN uses one core.

    With ``runs_file`` every finished run is appended to that file at once (one JSON line
    with its data set, variant, settings, seed and numbers), so that a stopped benchmark
    loses nothing. Without ``resume`` the file is started afresh; with ``resume`` the runs
    already in it whose data set, variant, settings and seed match a task are reused, not
    retrained (the count is returned as ``"reused_runs"``; each reused result carries
    ``"from_commit"``, the commit of the code that produced it).

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
    log_path = Path(runs_file) if runs_file is not None else None
    reused = 0
    git = git_commit() if log_path is not None else None
    commit = None if git is None else git["commit"]
    if log_path is not None:
        if resume:
            finished = read_finished_runs(log_path)
            # Rewrite the file without a cut-off last line, so that new runs append cleanly.
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text("".join(json.dumps({"key": k, "result": r}, allow_nan=False)
                                        + "\n" for k, r in finished.items()))
            # Reused results keep "from_commit": the code that produced them.
            for task in tasks:
                key = run_key(*task)
                if key in finished:
                    dataset, config, _, seed = task
                    outcomes[dataset, config.name, seed] = finished[key]
                    reused += 1
            tasks = [t for t in tasks if (t[0], t[1].name, t[3]) not in outcomes]
            if log is not None:
                log(f"  resuming from {log_path}: {reused} run(s) reused, {len(tasks)} to train")
        else:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text("")

    def record(task: tuple[str, GanConfig, ToyGanSettings, int], out: dict[str, Any]) -> None:
        dataset, config, _, seed = task
        outcomes[dataset, config.name, seed] = out
        if log_path is not None:
            with log_path.open("a") as f:
                saved = {**out, "from_commit": commit}
                f.write(json.dumps({"key": run_key(*task), "result": saved}, allow_nan=False)
                        + "\n")
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
        "reused_runs": reused,
        "wall_time": time.perf_counter() - start,
    }


def run_key(dataset: str, config: GanConfig, settings: ToyGanSettings, seed: int) -> str:
    """What identifies one run of the benchmark: a canonical JSON string of its data set,
    variant, settings and seed (two runs with the same key give the same numbers on the
    same machine and code)."""
    return json.dumps({"dataset": dataset, "config": asdict(config),
                       "settings": asdict(settings), "seed": seed}, sort_keys=True)


def read_finished_runs(path: Path | str) -> dict[str, dict[str, Any]]:
    """The runs recorded in a ``runs_file`` of :func:`run_gan_bench`, by :func:`run_key`.

    A missing file holds no runs. A line cut off by a stopped benchmark (the last one, not
    valid JSON) is skipped; any other malformed line raises ``ValueError`` naming it.
    """
    path = Path(path)
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    finished: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            finished[entry["key"]] = entry["result"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            if number == len(lines):
                continue  # the run that was being written when the benchmark stopped
            raise ValueError(f"{path}, line {number}: not a run of the benchmark ({error}); "
                             "delete the file or run without --resume.") from error
    return finished


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


def git_commit(root: Path | str | None = None) -> dict[str, Any] | None:
    """The repository's commit and whether tracked files other than the benchmark's results
    (``book/data/bench_*``) differ from it (None outside git)."""
    import subprocess

    root = Path(root) if root is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=30,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # The benchmark's own result files do not count: one section writes its JSON before the
    # next section records the commit.
    changed = [line for line in status.splitlines()
               if line.strip() and not line[3:].startswith("book/data/bench_")]
    return {"commit": head, "modified": bool(changed)}


def machine_info(device: torch.device) -> dict[str, Any]:
    """What the numbers ran on: CPU model and cores, versions, commit, device, threads, load."""
    import numpy

    import genmodels

    git = git_commit()
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "genmodels": genmodels.__version__,
        "git_commit": None if git is None else git["commit"],
        "git_modified": None if git is None else git["modified"],
        "platform": platform.platform(),
        "device": describe_device(device),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    return info


SECTION_NAMES = ("gan", *CHAPTER_SECTIONS)
DEFAULT_DATA_DIR = Path("book/data")


def _sections(value: str) -> list[str]:
    """``--only``: a comma-separated list of sections, or "chapters" or "all"."""
    names: list[str] = []
    for name in (v.strip() for v in value.split(",") if v.strip()):
        if name == "all":
            names += SECTION_NAMES
        elif name == "chapters":
            names += CHAPTER_SECTIONS
        elif name in SECTION_NAMES:
            names.append(name)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown section {name!r}; expected a comma-separated list of "
                f"{', '.join(SECTION_NAMES)}, or 'chapters' (all but gan) or 'all'.")
    return [n for n in SECTION_NAMES if n in names]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m genmodels.bench",
        description="Every headline number of the book: GAN mode metrics on the ring and grid "
        "(chapter 9), Gibbs mixing and RBM likelihoods (chapter 3), the VAE (chapter 6), the "
        "image GANs (chapter 8) and the comparison of the families (chapter 10). Each section "
        "writes book/data/bench_<section>.json, which the results appendix renders.",
    )
    parser.add_argument("--only", type=_sections, default=list(SECTION_NAMES),
                        help="comma-separated sections to run: " + ", ".join(SECTION_NAMES)
                        + "; 'chapters' = all but gan (default: all).")
    parser.add_argument("--seeds", type=int, default=5,
                        help="GAN section: number of seeds 0..N-1 (default 5).")
    parser.add_argument("--seed", type=int, default=0,
                        help="chapter sections: the chapters' seed (default 0, as the book).")
    parser.add_argument("--datasets", default="ring,grid", help="comma-separated: ring,grid.")
    parser.add_argument("--configs", default=",".join(c.name for c in GAN_CONFIGS),
                        help="comma-separated GAN variants (default: all).")
    parser.add_argument("--steps", type=int, default=None, help="training steps per GAN.")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_SETTINGS.steps} steps and 1 seed for the GANs, "
                        "tiny budgets for the chapter sections (numbers that do not reproduce "
                        "the book; the appendix flags them).")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes for the GAN runs (default 1; use the cores).")
    parser.add_argument("--vae-epochs", type=int, default=None,
                        help="VAE epochs (default: chapter 6's budget, 4 on a CPU, 30 on a GPU).")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best).")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default 1, as the book's build executes the "
                        "chapters; chapter 10 always uses 1 on a CPU).")
    parser.add_argument("--runs-file", type=Path, default=DEFAULT_RUNS_FILE,
                        help="GAN section: each finished run is appended here at once "
                        f"(default {DEFAULT_RUNS_FILE}); '-': none.")
    parser.add_argument("--resume", action="store_true",
                        help="GAN section: reuse the matching runs of --runs-file instead of "
                        "retraining them (to continue a stopped benchmark).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"JSON of the GAN section (default {DEFAULT_OUT}); '-': none.")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"where the chapter sections write bench_<section>.json "
                        f"(default {DEFAULT_DATA_DIR}); '-': none.")
    parser.add_argument("--vae-out", type=Path, default=None,
                        help="JSON of the VAE section (default DATA_DIR/bench_vae.json); '-': none.")
    return parser.parse_args(argv)


def _header(argv: Sequence[str] | None, device: torch.device, quick: bool) -> dict[str, Any]:
    """The fields every benchmark file starts with (the seeds are added per section)."""
    return {
        "schema": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m genmodels.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(device),
        "quick": quick,
    }


def _finish(header: dict[str, Any], name: str, section: dict[str, Any]) -> dict[str, Any]:
    seeds = list(section["seeds"]) if name == "gan" else seeds_of(section)
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return {**header, "section": name, "seeds": seeds, "load_average_1min_at_end": load,
            name: section}


def _out_path(name: str, args: argparse.Namespace) -> Path:
    if name == "gan":
        return args.out
    if name == "vae" and args.vae_out is not None:
        return args.vae_out
    if str(args.data_dir) == "-":
        return Path("-")
    return args.data_dir / f"bench_{name}.json"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print the tables; write one JSON file per section.

    Returns ``{section: doc}`` for the sections that ran, each document being
    ``{"schema", "created", "command", "machine", "quick", "section", "seeds",
    "load_average_1min_at_end", section: {...}}``.
    """
    args = _parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1.")
    device = pick_device(args.device)
    docs: dict[str, Any] = {}
    for name in args.only:
        header = _header(argv, device, args.quick)
        if name == "gan":
            # The 2-D networks are tiny: one thread avoids threading overhead (and contention
            # on a busy machine); pass --threads to change it.
            torch.set_num_threads(args.threads or 1)
            header["machine"]["torch_threads_gan"] = torch.get_num_threads()
            settings = {d: replace(s, steps=QUICK_SETTINGS.steps) if args.quick else s
                        for d, s in DEFAULT_SETTINGS.items()}
            if args.steps is not None:
                settings = {d: replace(s, steps=args.steps) for d, s in settings.items()}
            seeds = range(1 if args.quick else args.seeds)
            datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
            configs = [config_by_name(c.strip()) for c in args.configs.split(",") if c.strip()]
            print(f"GAN section on {describe_device(device)}: {len(datasets)} data sets × "
                  f"{len(configs)} variants × {len(seeds)} seeds, {args.jobs} job(s)")
            runs_file = None if str(args.runs_file) == "-" else args.runs_file
            section = run_gan_bench(seeds, datasets, configs, settings, device, jobs=args.jobs,
                                    runs_file=runs_file, resume=args.resume)
            print(format_gan_table(section))
            print(f"GAN section: {section['wall_time']:.0f} s")
        else:
            torch.set_num_threads(args.threads or 1)
            print(f"{name} section (chapter {CHAPTER_SECTIONS[name].chapter[2:4]}) on "
                  f"{describe_device(device)}")
            if name == "vae":
                section = run_vae_bench(epochs=args.vae_epochs, seed=args.seed, device=device,
                                        quick=args.quick)
                print(format_vae_table(section))
            else:
                section = CHAPTER_SECTIONS[name].run(quick=args.quick, seed=args.seed,
                                                     device=device)
                print(format_section_text(name, {name: section}))
            print(f"{name} section: {section['wall_time']:.0f} s")
        docs[name] = _finish(header, name, section)
        _write(docs[name], _out_path(name, args))
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
