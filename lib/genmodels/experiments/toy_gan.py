"""Chapters 9 and 10's experiment: GANs on the ring of 8 and the grid of 25 Gaussians.

:data:`GAN_CONFIGS` lists the variants (the vanilla minimax GAN and each remedy of chapter 10),
:class:`ToyGanSettings` the players and the budget (:data:`DEFAULT_SETTINGS` per data set),
:func:`build_toy_gan` makes the players and :func:`train_toy_gan` trains one variant with one
seed and measures its samples (:func:`genmodels.measure.sample_quality.mode_metrics`).
:data:`PUBLISHED` holds the published rows the benchmark's table is compared with. The
chapters and the benchmark's ``gan`` section (:mod:`genmodels.bench.gan_runs`) share this code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from genmodels import gan
from genmodels.core.device import pick_device, seed_everything
from genmodels.core.validation import (
    check_float_fields,
    check_positive_int,
    check_positive_int_fields,
    is_positive_int,
)
from genmodels.measure.sample_quality import ModeMetrics, mode_metrics
from genmodels.toy import IsotropicMixture2D, grid_mixture, ring_mixture

ADDED_LATER = {"key": "omitted at its default"}


def check_betas(betas: Any, name: str) -> None:
    """Adam's β: two numbers in [0, 1)."""
    if (not isinstance(betas, tuple) or len(betas) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
        raise ValueError(f"{name} must be a tuple of two numbers in [0, 1), e.g. (0.5, 0.999); "
                         f"got {betas!r}.")


def key_fields(obj: Any) -> dict[str, Any]:
    """The fields of a settings dataclass that identify a run: all of them, except those
    marked :data:`ADDED_LATER` while they hold their default."""
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if dict(f.metadata) == ADDED_LATER:
            if value == f.default:
                continue
        out[f.name] = value
    return out


@dataclass(frozen=True)
class GanConfig:
    """One GAN variant: the loss and the remedies switched on.

    Every remedy except WGAN-GP is added to the *non-saturating* GAN (the usual practice);
    the vanilla GAN is the minimax game of Goodfellow et al. (2014) with the saturating
    generator loss. ``pack`` may depend on the data set (PacGAN2 on the ring, PacGAN4 on
    the grid, as published): ``pack_by_dataset`` overrides ``pack`` for those names.

    ``batch_counts_packs``: the batch counts discriminator inputs, as PacGAN's paper and code
    count it (Lin et al., 2018): a step then draws ``batch × pack`` real and as many fake
    samples, ``batch`` packed inputs of each kind; otherwise ``batch`` samples make
    ``batch / pack`` inputs. ``betas``: Adam's β for this variant (``None``: the settings'
    β, or (0.5, 0.9) for WGAN-GP).
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
    # Fields added after runs were recorded: left out of a run's key at their default
    # (ADDED_LATER), so that the runs recorded before them are still found.
    betas: tuple[float, float] | None = field(default=None, metadata=ADDED_LATER)
    batch_counts_packs: bool = field(default=False, metadata=ADDED_LATER)

    def __post_init__(self) -> None:
        check_float_fields(self, ("label_smoothing",), minimum=0, maximum=1, open_above=True)
        if self.betas is not None:
            check_betas(self.betas, "GanConfig.betas")

    def pack_for(self, dataset: str) -> int:
        """The packing degree used on ``dataset`` ("ring" or "grid")."""
        return dict(self.pack_by_dataset).get(dataset, self.pack)

    def real_batch(self, dataset: str, batch: int) -> int:
        """Real samples per step on ``dataset`` for a batch of ``batch`` (see
        ``batch_counts_packs``)."""
        return batch * self.pack_for(dataset) if self.batch_counts_packs else batch

    def adam_betas(self, settings: ToyGanSettings) -> tuple[float, float]:
        """Adam's β for this variant under ``settings``."""
        if self.betas is not None:
            return self.betas
        return (0.5, 0.9) if self.loss == "wgan-gp" else settings.betas


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
    lr_decay: bool = field(default=True, metadata=ADDED_LATER)

    def __post_init__(self) -> None:
        check_positive_int_fields(self, ("width", "depth", "latent_dim", "batch", "steps",
                                         "n_eval"))
        check_betas(self.betas, "ToyGanSettings.betas")
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


# Published results under the same protocol (2,500 samples, 3 std, the same mixtures), means
# over the papers' runs: the best of each paper for our variants and VEEGAN's. "citation" is
# what the tables print, "bibkey" the entry of the book's references.bib.
PUBLISHED: tuple[dict[str, Any], ...] = (
    {"dataset": "ring", "method": "VEEGAN", "variant": None, "modes_captured": 8.0,
     "high_quality_share": 0.529, "bibkey": "srivastava2017veegan",
     "citation": "Srivastava et al. (2017), as reported by Lin et al. (2018), table 2",
     "source": "srivastava2017veegan (as reported by lin2018pacgan)"},
    {"dataset": "ring", "method": "PacGAN2", "variant": "pacgan", "modes_captured": 7.9,
     "high_quality_share": 0.956, "bibkey": "lin2018pacgan",
     "citation": "Lin et al. (2018), table 2", "source": "lin2018pacgan, table 2"},
    {"dataset": "ring", "method": "WGAN-GP", "variant": "wgan_gp", "modes_captured": 6.8,
     "high_quality_share": 0.596, "bibkey": "elfeki2019gdpp",
     "citation": "Elfeki et al. (2019), table 1", "source": "elfeki2019gdpp, table 1"},
    {"dataset": "grid", "method": "PacGAN4", "variant": "pacgan", "modes_captured": 24.8,
     "high_quality_share": 0.936, "bibkey": "lin2018pacgan",
     "citation": "Lin et al. (2018), table 2", "source": "lin2018pacgan, table 2"},
    {"dataset": "grid", "method": "WGAN-GP", "variant": "wgan_gp", "modes_captured": 24.2,
     "high_quality_share": 0.287, "bibkey": "elfeki2019gdpp",
     "citation": "Elfeki et al. (2019), table 1", "source": "elfeki2019gdpp, table 1"},
)


@dataclass
class ToyGanRun:
    """The outcome of :func:`train_toy_gan`.

    Attributes:
        samples: ``n_eval`` generated points ``[n_eval, 2]`` (CPU).
        metrics: their :class:`~genmodels.measure.sample_quality.ModeMetrics`.
        wall_time: seconds of training (excluding the final evaluation).
        history: per-step ``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` and, except for
            WGAN-GP, ``acc_real``, ``acc_fake`` (a :class:`genmodels.core.train.History`).
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


def _check_run_choices(dataset: str, record_every: int | None) -> None:
    """Check :func:`train_toy_gan`'s data set name and recording interval."""
    if dataset not in MIXTURES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MIXTURES)}.")
    if record_every is not None:
        check_positive_int(record_every, "record_every", hint="steps between snapshots, or None")


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
    distribution itself). Training is :func:`genmodels.gan.train_gan` (Adam with
    :meth:`GanConfig.adam_betas`); the learning rates decay linearly to 0 unless
    ``settings.lr_decay`` is false. With
    ``record_every`` the mode metrics of ``n_eval`` samples are recorded every that many
    steps (one host synchronisation each time, none in between).

    Args:
        dataset: ``"ring"`` or ``"grid"``.
        config: the GAN variant, e.g. ``config_by_name("pacgan")``.
        settings: architecture, optimiser and budget (default: the data set's entry of
            :data:`DEFAULT_SETTINGS`).
        seed: seeds the networks' initialisation, the data and the latent draws.
        device: where to train (default :func:`genmodels.core.device.pick_device`).
        record_every: record the metrics over training every this many steps.
        progress: show a progress bar.
    """
    _check_run_choices(dataset, record_every)
    device = device if device is not None else pick_device()
    settings = settings_for(dataset, settings)
    mixture = MIXTURES[dataset]()
    generator = seed_everything(seed)
    G, D = build_toy_gan(config, settings, dataset)
    G, D = G.to(device), D.to(device)
    chunk = record_every or settings.steps
    n_chunks = math.ceil(settings.steps / chunk)
    trajectory: dict[str, list[float]] = {"step": [], "modes_captured": [], "high_quality_share": []}
    snapshots: list[torch.Tensor] = []

    real_batch = config.real_batch(dataset, settings.batch)

    def batches_of_chunk(index: int) -> Any:
        n = min(chunk, settings.steps - index * chunk)
        return (sample_mixture_on(mixture, real_batch, device, generator) for _ in range(n))

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

    history = gan.train_gan(
        G, D, make_batches, settings.latent_dim, lr=settings.lr,
        betas=config.adam_betas(settings),
        loss=config.loss, k_critic=config.k_critic, label_smoothing=config.label_smoothing,
        decay_steps=settings.steps if settings.lr_decay else None, epochs=n_chunks, generator=generator,
        log_every=max(50, chunk // 4), progress=progress, desc=f"{config.name} on {dataset}",
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
