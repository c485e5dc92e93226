"""The chapters' headline numbers, measured by ``python -m genmodels.bench``.

One function per section of the benchmark; each runs the library functions of its
chapter with the chapter's settings, in the chapter's order (so that the same seed draws
the same random numbers), and returns a JSON-able dict with the settings, the seeds, the
wall and CPU times, the numbers, and the references they are compared with (closed forms
of the book, or reference points the chapter computes; no chapter of this edition compares
these sections with a published number). The results appendix renders the dicts with
:func:`section_html`.

========== ================================================ ==============================
section    what                                             chapter
========== ================================================ ==============================
gibbs      lag-1 autocorrelation, τ and ESS against ρ       3, "Mixing against correlation"
rbm        exact test log-likelihood of CD-1/CD-10/PCD-1    3, the RBM
vae        s/epoch, test ELBO, IWAE (k ≤ 100), FD, units    6
image_gan  FD of the MLP GAN and the DCGAN, training time   8
comparison VAE vs GAN vs RBM: FD, classes, likelihood, cost 10
========== ================================================ ==============================

Reproducing a chapter: a chapter seeds once (``seed_everything(0)``) and then draws from
one generator cell after cell. Where a chapter's number comes from models created by
dedicated generators or trained first after seeding (the RBMs of chapter 3, the models of
chapters 6, 8 and 10), the section repeats the same draws and reproduces the number on the
same kind of device with the same number of threads (verified at reduced budgets for
chapters 3, 6, 8 and 10: identical to every printed digit). Where a chapter draws from a
generator already used by earlier cells (the Gibbs table of chapter 3, the evaluation
draws of chapter 6), the bench uses a fresh generator: the numbers then agree within
Monte-Carlo error, not digit for digit; each section says which holds in ``reproduces``.
"""

from __future__ import annotations

import html
import itertools
import math
import re
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import torch
from torch import nn

from genmodels import compare, data, gan, gan_monitor, gibbs, metrics, rbm, train, vae
from genmodels import evaluation as ev
from genmodels.device import budget_for, describe_device, pick_device, seed_everything

Log = Callable[[str], None] | None


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """A training budget chosen by device, as a chapter's ``budget_for(device, cpu, gpu)``."""

    cpu: int
    gpu: int

    def on(self, device: torch.device) -> int:
        """The budget on ``device`` (``gpu`` on CUDA/MPS, ``cpu`` otherwise)."""
        return budget_for(device, cpu=self.cpu, gpu=self.gpu)


def _quick_budget(value: int) -> Budget:
    return Budget(cpu=value, gpu=value)


def _say(log: Log, message: str) -> None:
    if log is not None:
        log(message)


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def fixed_step_minibatches(
    x: torch.Tensor, n_steps: int, batch_size: int, generator: torch.Generator
) -> Callable[[], Iterator[torch.Tensor]]:
    """``make_batches`` for :func:`genmodels.train.fit` that yields exactly ``n_steps`` batches.

    Shuffled passes over ``x`` ``[N, ...]`` (full batches of ``batch_size`` only), as many
    as needed; the permutation of a pass is drawn from ``generator`` when the pass starts.
    Chapters 8 and 10 train their GANs (and chapter 10 every model) on these batches.
    """
    _check_positive("n_steps", n_steps)
    _check_positive("batch_size", batch_size)
    if x.shape[0] < batch_size:
        raise ValueError(f"x holds {x.shape[0]} rows, fewer than one batch of {batch_size}.")

    def make() -> Iterator[torch.Tensor]:
        passes = (train.minibatches(x, batch_size=batch_size, generator=generator, drop_last=True)
                  for _ in itertools.count())
        return (batch for (batch,) in itertools.islice(itertools.chain.from_iterable(passes),
                                                       n_steps))

    return make


def fashion_mnist_images(device: torch.device, binary: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor, data.ImageDataset, data.ImageDataset]:
    """Fashion-MNIST train and test images ``[N, 1, 28, 28]`` in [0, 1] on ``device``.

    ``binary``: pixels > ½ become 1 (chapter 10). Also returns the two splits (labels, classes).
    """
    train_set, test_set = data.load_fashion_mnist("train"), data.load_fashion_mnist("test")
    x_train = data.to_float_images(train_set)
    x_test = data.to_float_images(test_set)
    if binary:
        x_train, x_test = data.binarize(x_train), data.binarize(x_test)
    return x_train.to(device), x_test.to(device), train_set, test_set


def _classifier(device: torch.device) -> Any:
    """The course's Fashion-MNIST classifier (cached; trained once, about a minute)."""
    from genmodels.classifier import load_fashion_classifier

    return load_fashion_classifier(device)


def _stopwatch_dict(watch: compare.Stopwatch) -> dict[str, float]:
    return {"wall": watch.wall, "cpu": watch.cpu}


# ---------------------------------------------------------------------------
# Chapter 3: Gibbs sampling of the bivariate Gaussian
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GibbsSettings:
    """Chapter 3's table "Mixing against correlation": chains per ρ, sweeps, burn-in.

    The systematic scan runs ``n_sweeps`` sweeps and drops ``burn_in``; the random scan
    runs twice as many single-coordinate updates and drops twice the burn-in.
    """

    rhos: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
    n_sweeps: int = 3000
    n_chains: int = 8
    burn_in: int = 200

    def __post_init__(self) -> None:
        for name in ("n_sweeps", "n_chains", "burn_in"):
            _check_positive(name, getattr(self, name))
        if self.burn_in + 4 > self.n_sweeps:
            raise ValueError(f"burn_in ({self.burn_in}) must leave at least 4 of the "
                             f"{self.n_sweeps} sweeps.")


QUICK_GIBBS = GibbsSettings(rhos=(0.0, 0.5, 0.9), n_sweeps=600, n_chains=4, burn_in=50)


def gibbs_mixing_closed_form(rho: float) -> dict[str, float]:
    """The systematic-scan Gibbs sampler's mixing on N(0, [[1, ρ], [ρ, 1]]), in closed form.

    Each coordinate is AR(1) with coefficient φ = ρ², so the lag-1 autocorrelation is ρ²,
    τ = (1 + ρ²)/(1 − ρ²), and the ESS per coordinate update (two per sweep) is
    (1 − ρ²)/(2 (1 + ρ²)). Book: eq-gibbs-lag1-autocorrelation and eq-ess (chapter 3).
    """
    phi = rho * rho
    return {"lag1": phi, "tau": (1 + phi) / (1 - phi), "ess_per_update": (1 - phi) / (2 * (1 + phi))}


def _standard_error(values: torch.Tensor) -> float | None:
    """Standard error of the mean of independent values ``[n]`` (None for n = 1)."""
    if values.numel() < 2:
        return None
    return float(values.double().std() / math.sqrt(values.numel()))


def gibbs_mixing_measured(rho: float, settings: GibbsSettings, generator: torch.Generator
                          ) -> dict[str, float]:
    """Lag-1 autocorrelation, τ and ESS per coordinate update of x, measured on Gibbs chains.

    Runs chapter 3's systematic and random scans (``n_chains`` chains from the origin) and
    returns the lag-1 autocorrelation and τ of the systematic scan (means over the chains,
    with standard errors from their spread) and the ESS per coordinate update of both scans
    (τ and ESS by Geyer's initial monotone sequence).
    """
    s = settings
    start = torch.zeros(2)
    sys_chain = gibbs.gibbs_bivariate_gaussian(rho, s.n_sweeps, s.n_chains, start=start,
                                               generator=generator)[:, s.burn_in:, 0]
    rnd_chain = gibbs.gibbs_bivariate_gaussian(rho, 2 * s.n_sweeps, s.n_chains, scan="random",
                                               start=start, generator=generator)[:, 2 * s.burn_in:, 0]
    lag1 = gibbs.autocorrelation(sys_chain, max_lag=1)[:, 1]
    taus = torch.tensor([gibbs.integrated_autocorrelation_time(c) for c in sys_chain])
    return {
        "lag1": float(lag1.mean()),
        "lag1_se": _standard_error(lag1),
        "tau": float(taus.mean()),
        "tau_se": _standard_error(taus),
        "ess_per_update_systematic":
            sum(gibbs.effective_sample_size(c) for c in sys_chain) / (2 * sys_chain.numel()),
        "ess_per_update_random":
            sum(gibbs.effective_sample_size(c) for c in rnd_chain) / rnd_chain.numel(),
    }


def run_gibbs_bench(settings: GibbsSettings | None = None, *, quick: bool = False, seed: int = 0,
                    device: torch.device | None = None, log: Log = print) -> dict[str, Any]:
    """Chapter 3's mixing table: measured against the closed forms for every ρ.

    The chains run on the CPU, as in the chapter (``device`` is ignored). The chapter draws
    them after earlier cells used its generator, so its values agree with these within the
    Monte-Carlo error given by ``lag1_se``.
    """
    settings = settings or (QUICK_GIBBS if quick else GibbsSettings())
    generator = seed_everything(seed)
    rows = []
    with compare.Stopwatch() as watch:
        for rho in settings.rhos:
            measured = gibbs_mixing_measured(rho, settings, generator)
            rows.append({"rho": rho, "measured": measured,
                         "closed_form": gibbs_mixing_closed_form(rho)})
            _say(log, f"  gibbs ρ = {rho:4.2f}: lag-1 {measured['lag1']:.4f} "
                      f"(ρ² = {rho * rho:.4f}), ESS/update {measured['ess_per_update_systematic']:.4f}")
    return {
        "chapter": "ch03_gibbs_sampling",
        "settings": asdict(settings),
        "seeds": {"seed_everything": seed},
        "device": describe_device(torch.device("cpu")),
        "torch_threads": torch.get_num_threads(),
        "reproduces": "within Monte-Carlo error (the chapter's generator has drawn earlier cells)",
        "rows": rows,
        "references": [
            {"quantity": "lag-1 autocorrelation", "value": "ρ²",
             "source": "closed form, eq-gibbs-lag1-autocorrelation"},
            {"quantity": "integrated autocorrelation time τ", "value": "(1 + ρ²)/(1 − ρ²)",
             "source": "closed form, eq-ess"},
            {"quantity": "ESS per coordinate update, systematic scan", "value": "(1 − ρ²)/(2(1 + ρ²))",
             "source": "closed form, eq-ess"},
            {"quantity": "ESS estimator", "value": "initial monotone sequence",
             "source": "geyer1992practical"},
        ],
        "published": [],
        "wall_time": watch.wall,
        "cpu_time": watch.cpu,
    }


# ---------------------------------------------------------------------------
# Chapter 3: restricted Boltzmann machines on the digits
# ---------------------------------------------------------------------------

RBM_RULES: dict[str, dict[str, Any]] = {
    "CD-1": {"k": 1, "persistent": False},
    "CD-10": {"k": 10, "persistent": False},
    "PCD-1": {"k": 1, "persistent": True},
}


@dataclass(frozen=True)
class RBMSettings:
    """Chapter 3's RBMs: digits split 1500/297, SGD with momentum, CD-k and PCD.

    The small RBMs (``small_hidden`` units, exact likelihood) are trained with every rule
    of ``rules``; the large ones (``large_hidden`` units) with ``large_rules``, and sampled
    by ``chain_steps`` Gibbs steps from noise (``n_chain_samples`` chains).
    """

    epochs: Budget = Budget(cpu=20, gpu=60)
    n_train: int = 1500
    small_hidden: int = 16
    large_hidden: int = 100
    lr: float = 0.05
    momentum: float = 0.5
    batch_size: int = 32
    rules: tuple[str, ...] = ("CD-1", "CD-10", "PCD-1")
    large_rules: tuple[str, ...] = ("CD-1", "PCD-1")
    chain_steps: int = 500
    n_chain_samples: int = 200

    def __post_init__(self) -> None:
        for name in self.rules + self.large_rules:
            if name not in RBM_RULES:
                raise ValueError(f"unknown RBM training rule {name!r}; expected one of "
                                 f"{', '.join(RBM_RULES)}.")


QUICK_RBM = RBMSettings(epochs=_quick_budget(2), large_hidden=32, chain_steps=50,
                        n_chain_samples=50)


def rbm_with_data_log_odds(x_train: torch.Tensor, n_hidden: int, seed: int,
                           device: torch.device) -> rbm.BernoulliRBM:
    """A Bernoulli RBM for binary rows ``x_train`` ``[N, D]``, weights drawn with ``seed``.

    The visible biases start at the data's log-odds, log(p/(1 − p)) with p the mean of each
    pixel clamped to [0.01, 0.99] (Hinton's practical guide), as in chapters 3 and 10.
    """
    model = rbm.BernoulliRBM(x_train.shape[1], n_hidden,
                             generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        p = x_train.mean(0).clamp(0.01, 0.99)
        model.visible_bias.copy_(torch.log(p / (1 - p)))
    return model


def binarised_digits_split(n_train: int, seed: int, device: torch.device
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits binarised at ½, flattened ``[N, 64]``, split by a seeded permutation."""
    digits = data.load_digits()
    x_all = data.binarize(data.to_float_images(digits)).reshape(len(digits.images), -1).to(device)
    if not 0 < n_train < len(x_all):
        raise ValueError(f"n_train must lie between 1 and {len(x_all) - 1}, got {n_train}.")
    perm = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed)).to(device)
    return x_all[perm[:n_train]], x_all[perm[n_train:]]


def run_rbm_bench(settings: RBMSettings | None = None, *, quick: bool = False, seed: int = 0,
                  device: torch.device | None = None, log: Log = print) -> dict[str, Any]:
    """Chapter 3's RBMs: exact test log-likelihood of CD-1, CD-10 and PCD-1, then a larger RBM.

    Seeds as in the chapter for ``seed=0``: the split ``seed``, the small RBMs' weights
    ``seed + 1`` and training ``seed + 2``, the large ones' ``seed + 3`` and ``seed + 4``;
    the long chains of the large RBMs draw from ``seed_everything(seed)``. Every number of
    the small RBMs and the test pseudo-log-likelihood of the large ones reproduce the
    chapter's; the free energy of long-chain samples agrees within Monte-Carlo error.
    """
    settings = settings or (QUICK_RBM if quick else RBMSettings())
    device = device if device is not None else pick_device()
    epochs = settings.epochs.on(device)
    generator = seed_everything(seed)
    x_train, x_test = binarised_digits_split(settings.n_train, seed, device)
    common = {"epochs": epochs, "lr": settings.lr, "momentum": settings.momentum,
              "batch_size": settings.batch_size}
    small = []
    with compare.Stopwatch(device) as watch:
        for name in settings.rules:
            model = rbm_with_data_log_odds(x_train, settings.small_hidden, seed + 1, device)
            history = rbm.train_rbm(
                model, x_train, **common, **RBM_RULES[name],
                generator=torch.Generator().manual_seed(seed + 2),
                metrics={"test_log_likelihood":
                         lambda m: rbm.exact_log_likelihood(m, x_test).mean()})
            values = history.values
            small.append({
                "rule": name,
                "test_log_likelihood": values["test_log_likelihood"][-1],
                "test_log_likelihood_per_epoch": values["test_log_likelihood"],
                "pseudo_log_likelihood_train": values["pseudo_log_likelihood"][-1],
                "reconstruction_error_train": values["reconstruction_error"][-1],
                "wall_time": history.wall_time,
            })
            _say(log, f"  rbm {name:6s} H={settings.small_hidden}: exact test log-likelihood "
                      f"{small[-1]['test_log_likelihood']:.2f} nats ({history.wall_time:.1f} s)")
        large = []
        for name in settings.large_rules:
            model = rbm_with_data_log_odds(x_train, settings.large_hidden, seed + 3, device)
            history = rbm.train_rbm(model, x_train, **common, **RBM_RULES[name],
                                    generator=torch.Generator().manual_seed(seed + 4))
            large.append({"rule": name, "model": model, "wall_time": history.wall_time})
        with torch.no_grad():
            for row in large:
                model = row.pop("model")
                samples = model.sample(settings.n_chain_samples, settings.chain_steps, generator)
                row.update({
                    "free_energy_test": float(model.free_energy(x_test).mean()),
                    "free_energy_samples": float(model.free_energy(samples).mean()),
                    "test_pseudo_log_likelihood":
                        float(rbm.pseudo_log_likelihood(model, x_test).mean()),
                })
    return {
        "chapter": "ch03_gibbs_sampling",
        "settings": {**asdict(settings), "epochs": epochs, "n_test": int(x_test.shape[0])},
        "seeds": {"split": seed, "small_weights": seed + 1, "small_training": seed + 2,
                  "large_weights": seed + 3, "large_training": seed + 4, "seed_everything": seed},
        "device": describe_device(device),
        "torch_threads": torch.get_num_threads(),
        "reproduces": "exactly (dedicated generators), except the free energy of long-chain "
                      "samples (Monte-Carlo error)",
        "small": small,
        "large": large,
        "references": [
            {"quantity": "exact log-likelihood", "value": "−F(v) − log Z, Z by enumerating 2^H "
             "hidden states", "source": "eq-rbm-free-energy"},
            {"quantity": "CD-k", "value": "", "source": "hinton2002training"},
            {"quantity": "PCD", "value": "", "source": "tieleman2008training"},
        ],
        "published": [],
        "wall_time": watch.wall,
        "cpu_time": watch.cpu,
    }


# ---------------------------------------------------------------------------
# Chapter 6: the VAE on Fashion-MNIST
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VaeSettings:
    """Chapter 6's main VAE and its evaluation.

    ``MLPVAE(latent_dim, hidden)`` with a Bernoulli decoder, Adam, minibatches of
    ``batch_size``; the test ELBO on the whole test set, the train ELBO on the first
    ``n_train_elbo`` training images, IWAE with each of ``iwae_ks`` on the first ``n_iwae``
    test images, and the Fréchet distance of ``n_fd`` images decoded from the prior to the
    first ``n_fd`` test images (the floor: the first ``n_fd`` training images).
    """

    latent_dim: int = 16
    hidden: tuple[int, ...] = (256,)
    epochs: Budget = Budget(cpu=4, gpu=30)
    batch_size: int = 128
    lr: float = 1e-3
    n_train_elbo: int = 10_000
    n_iwae: int = 1000
    iwae_ks: tuple[int, ...] = (1, 10, 100)
    n_fd: int = 5000


QUICK_VAE = VaeSettings(epochs=_quick_budget(1), n_train_elbo=1000, n_iwae=200, n_fd=1000)


def train_vae_timed(model: vae.VAE, x_train: torch.Tensor, epochs: int, batch_size: int,
                    lr: float, generator: torch.Generator, log: Log = None
                    ) -> tuple[train.History, list[float]]:
    """Chapter 6's training: Adam on ``vae_step_loss`` over shuffled minibatches.

    Returns fit's History and the wall time of every epoch (seconds).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def update(x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = vae.vae_step_loss(model, x, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        return terms

    epoch_times: list[float] = []
    last = [time.perf_counter()]

    def on_epoch_end(epoch: int, history: train.History) -> None:
        now = time.perf_counter()
        epoch_times.append(now - last[0])
        last[0] = now
        _say(log, f"  vae epoch {epoch}: {epoch_times[-1]:.1f} s, loss {history.last('loss'):.1f}")

    history = train.fit(update, lambda: train.minibatches(x_train, batch_size=batch_size,
                                                          generator=generator),
                        epochs=epochs, progress=False, on_epoch_end=on_epoch_end)
    return history, epoch_times


def run_vae_bench(
    epochs: int | None = None,
    latent_dim: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    n_test: int | None = None,
    device: torch.device | None = None,
    log: Log = print,
    n_train: int | None = None,
    *,
    settings: VaeSettings | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Chapter 6's VAE: seconds per epoch, test ELBO, IWAE bounds, active units, Fréchet distance.

    With the defaults this is chapter 6's ``vae16``: ``seed_everything(seed)``, the model,
    then training, as in the chapter, so the trained weights reproduce the chapter's. The
    evaluation draws from the same generator right after training (the chapter draws after
    other models), so ELBO, IWAE and Fréchet distance agree within Monte-Carlo error.
    ``epochs``, ``latent_dim``, ``batch_size``, ``lr`` override the settings; ``n_train``
    and ``n_test`` keep only the first images (smoke tests).

    Returns ``{"model", "epochs", "seconds_per_epoch", "test_elbo", "iwae", "frechet",
    "active_units", ...}``; likelihoods in nats per image (Bernoulli score of grey levels).
    """
    base = settings or (QUICK_VAE if quick else VaeSettings())
    overrides = {k: v for k, v in (("latent_dim", latent_dim), ("batch_size", batch_size),
                                   ("lr", lr)) if v is not None}
    s = replace(base, **overrides)
    device = device if device is not None else pick_device()
    n_epochs = epochs if epochs is not None else s.epochs.on(device)
    _check_positive("epochs", n_epochs)
    generator = seed_everything(seed)
    x_train, x_test, _, _ = fashion_mnist_images(device)
    if n_train is not None:
        x_train = x_train[:n_train]
    if n_test is not None:
        x_test = x_test[:n_test]
    model = vae.MLPVAE(s.latent_dim, hidden=s.hidden).to(device)
    with compare.Stopwatch(device) as training:
        history, epoch_times = train_vae_timed(model, x_train, n_epochs, s.batch_size, s.lr,
                                               generator, log)
    model.eval()
    with compare.Stopwatch(device) as evaluation:
        test_terms = ev.elbo_in_batches(model, x_test, generator=generator)
        train_terms = ev.elbo_in_batches(model, x_train[:s.n_train_elbo], generator=generator)
        x_iwae = x_test[:s.n_iwae]
        iwae = {}
        for k in s.iwae_ks:
            bound = ev.iwae_in_batches(model, x_iwae, k=k, generator=generator)
            iwae[str(k)] = {"mean": float(bound.mean()),
                            "standard_error": float(bound.std() / math.sqrt(len(bound)))}
        mu, logvar = ev.encode_in_batches(model, x_test)
        kl_dims = ev.kl_per_dimension(mu, logvar)
        classifier = _classifier(device)
        n_fd = min(s.n_fd, len(x_test), len(x_train))
        with torch.no_grad():
            z_prior = torch.randn(n_fd, s.latent_dim, generator=generator).to(device)
            prior_images = model.decode_mean(z_prior)
        fd_samples = metrics.classifier_frechet_distance(prior_images, x_test[:n_fd], classifier)
        fd_real = metrics.classifier_frechet_distance(x_train[:n_fd], x_test[:n_fd], classifier)
    hidden = ", ".join(map(str, s.hidden))
    return {
        "chapter": "ch06_vae_practice",
        "model": f"MLPVAE(latent_dim={s.latent_dim}, hidden=({hidden},)), Bernoulli likelihood",
        "settings": {**asdict(s), "epochs": n_epochs},
        "seeds": {"seed_everything": seed},
        "device": describe_device(device),
        "torch_threads": torch.get_num_threads(),
        "reproduces": "trained weights exactly; evaluation within Monte-Carlo error",
        "epochs": n_epochs,
        "batch_size": s.batch_size,
        "lr": s.lr,
        "seconds_per_epoch": statistics.fmean(epoch_times),
        "train_time": _stopwatch_dict(training),
        "evaluation_time": _stopwatch_dict(evaluation),
        "train_loss_last": history.last("loss"),
        "test_elbo": float(test_terms.elbo.mean()),
        "test_reconstruction": float(test_terms.reconstruction.mean()),
        "test_kl": float(test_terms.kl.mean()),
        "train_elbo": float(train_terms.elbo.mean()),
        "n_train_elbo": int(min(s.n_train_elbo, len(x_train))),
        "iwae": iwae,
        "n_iwae": int(len(x_iwae)),
        "active_units": ev.active_units(mu),
        "kl_per_dimension": [float(v) for v in kl_dims],
        "frechet": {"prior_samples": fd_samples, "real_train_images": fd_real, "n": n_fd,
                    "classifier_test_accuracy": float(classifier.test_accuracy)},
        "n_train": int(x_train.shape[0]),
        "n_test": int(x_test.shape[0]),
        "references": [
            {"quantity": "IWAE bound", "value": "L_1 ≤ L_10 ≤ L_100 ≤ log p(x)",
             "source": "eq-iwae-bound, burda2016iwae"},
            {"quantity": "Fréchet distance", "value": "real training images: the floor",
             "source": "eq-frechet-distance, heusel2017gans"},
            {"quantity": "nats per image", "value": "Bernoulli score of grey levels, not "
             "comparable with published likelihoods", "source": "theis2016note"},
        ],
        "published": [],
        "wall_time": training.wall + evaluation.wall,
    }


def format_vae_table(section: Mapping[str, Any]) -> str:
    """The VAE section as a few lines of text."""
    lines = [f"{section['model']}, {section['epochs']} epochs of batch {section['batch_size']}:",
             f"  {section['seconds_per_epoch']:.1f} s/epoch, test ELBO "
             f"{section['test_elbo']:.1f} nats/image on {section['n_test']} test images"]
    if "iwae" in section:
        iwae = ", ".join(f"k={k}: {v['mean']:.1f}" for k, v in section["iwae"].items())
        fd = section["frechet"]
        lines.append(f"  IWAE ({section['n_iwae']} images) {iwae}; active units "
                     f"{section['active_units']}; FD of prior samples {fd['prior_samples']:.1f} "
                     f"(real images {fd['real_train_images']:.1f})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Chapter 8: an MLP GAN and a DCGAN on Fashion-MNIST
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageGanSettings:
    """Chapter 8's GANs: non-saturating loss, Adam(2e-4, β = (0.5, 0.999)), batches of 64.

    Fréchet distances use ``n_eval`` images against the whole test set; ``snapshots``
    recordings of a fixed z over training.
    """

    mlp_steps: Budget = Budget(cpu=1500, gpu=30_000)
    dcgan_steps: Budget = Budget(cpu=600, gpu=15_000)
    batch_size: int = 64
    latent_dim: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    channels: int = 32
    n_eval: int = 2000
    snapshots: int = 5
    summary_last: tuple[int, int] = (200, 100)


QUICK_IMAGE_GAN = ImageGanSettings(mlp_steps=_quick_budget(40), dcgan_steps=_quick_budget(20),
                                   n_eval=500, summary_last=(20, 10))


def mlp_gan_players(latent_dim: int, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """Chapters 8 and 10's MLP GAN: G 64–256–512–784 (sigmoid), D 784–512–256–1 (logit)."""
    G = gan.MLPGenerator(latent_dim, 784, hidden=(256, 512), out_shape=(1, 28, 28),
                         final=nn.Sigmoid()).to(device)
    D = gan.MLPDiscriminator(784, hidden=(512, 256)).to(device)
    return G, D


def train_gan_recording_samples(
    G: nn.Module, D: nn.Module, x_train: torch.Tensor, n_steps: int,
    settings: ImageGanSettings, generator: torch.Generator,
) -> tuple[train.History, gan_monitor.SampleRecorder]:
    """Chapter 8's training run: the non-saturating step with the discriminator's accuracies,
    and G(z) of ``n_eval`` fixed codes recorded ``snapshots`` times (plus the start)."""
    s = settings
    opt_g = torch.optim.Adam(G.parameters(), lr=s.lr, betas=s.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=s.lr, betas=s.betas)
    step = gan.make_gan_step(G, D, opt_g, opt_d, s.latent_dim, loss="non_saturating",
                             generator=generator)
    step = gan_monitor.with_discriminator_accuracy(step, G, D, s.latent_dim, generator=generator)
    device = x_train.device
    z_fixed = gan.sample_latent(s.n_eval, s.latent_dim, device, generator)
    recorder = gan_monitor.SampleRecorder(G, z_fixed, every=max(n_steps // s.snapshots, 1))
    history = train.fit(recorder.wrap(step),
                        fixed_step_minibatches(x_train, n_steps, s.batch_size, generator),
                        epochs=1, progress=False, log_every=100)
    recorder.record()
    return history, recorder


def _tail_means(history: train.History, last: int) -> dict[str, float]:
    return {name: statistics.fmean(history.values[name][-last:])
            for name in ("d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake")}


def run_image_gan_bench(settings: ImageGanSettings | None = None, *, quick: bool = False,
                        seed: int = 0, device: torch.device | None = None, log: Log = print
                        ) -> dict[str, Any]:
    """Chapter 8: Fréchet distances of the reference image sets, the MLP GAN and the DCGAN.

    Repeats the chapter's draws in its order (reference noise, then each GAN after
    ``torch.manual_seed(seed)``), so the distances over training reproduce the chapter's.
    """
    s = settings or (QUICK_IMAGE_GAN if quick else ImageGanSettings())
    device = device if device is not None else pick_device()
    steps = {"MLP GAN": s.mlp_steps.on(device), "DCGAN": s.dcgan_steps.on(device)}
    generator = seed_everything(seed)
    x_train, x_test, fashion_train, _ = fashion_mnist_images(device)
    classifier = _classifier(device)
    test_features = classifier.features(x_test)

    def fd_to_test(images: torch.Tensor) -> float:
        return metrics.frechet_distance(classifier.features(images), test_features)

    trousers = x_train[fashion_train.labels.to(device) == 1][:s.n_eval]
    noise = torch.rand(s.n_eval, 1, 28, 28, generator=generator).to(device)
    blurred = nn.functional.interpolate(nn.functional.avg_pool2d(x_train[:s.n_eval], 4),
                                        scale_factor=4)
    references = {
        "real training images": fd_to_test(x_train[:s.n_eval]),
        "blurred real images": fd_to_test(blurred),
        "one class only (trousers)": fd_to_test(trousers),
        "uniform noise": fd_to_test(noise),
    }
    runs = []
    with compare.Stopwatch(device) as total:
        for name, last in zip(steps, s.summary_last, strict=True):
            torch.manual_seed(seed)
            if name == "MLP GAN":
                G, D = mlp_gan_players(s.latent_dim, device)
            else:
                G = gan.DCGANGenerator(s.latent_dim, channels=s.channels).to(device)
                D = gan.DCGANDiscriminator(channels=s.channels).to(device)
            with compare.Stopwatch(device) as watch:
                history, recorder = train_gan_recording_samples(G, D, x_train, steps[name], s,
                                                                generator)
            fds = [fd_to_test(images.to(device)) for images in recorder.images()]
            runs.append({
                "model": name, "steps": history.n_steps, "train_time": _stopwatch_dict(watch),
                "cpu_ms_per_step": 1000 * watch.cpu / history.n_steps,
                "parameters": {"G": sum(p.numel() for p in G.parameters()),
                               "D": sum(p.numel() for p in D.parameters())},
                "frechet_over_training": {"step": list(recorder.steps), "fd": fds},
                "final_fd": fds[-1],
                "last_steps_mean": _tail_means(history, last),
                "last_steps": min(last, history.n_steps),
            })
            _say(log, f"  {name}: {history.n_steps} steps in {watch.wall:.1f} s, FD {fds[-1]:.1f}")
    return {
        "chapter": "ch08_gan_practice",
        "settings": {**asdict(s), "mlp_steps": steps["MLP GAN"], "dcgan_steps": steps["DCGAN"]},
        "seeds": {"seed_everything": seed, "torch.manual_seed before each GAN": seed},
        "device": describe_device(device),
        "torch_threads": torch.get_num_threads(),
        "reproduces": "exactly (the chapter's draws in the chapter's order)",
        "classifier_test_accuracy": float(classifier.test_accuracy),
        "reference_fd": references,
        "runs": runs,
        "references": [
            {"quantity": "Fréchet distance", "value": "reference image sets (this table)",
             "source": "eq-frechet-distance, heusel2017gans"},
            {"quantity": "DCGAN", "value": "", "source": "radford2016dcgan"},
        ],
        "published": [],
        "wall_time": total.wall,
        "cpu_time": total.cpu,
    }


# ---------------------------------------------------------------------------
# Chapter 10: the three families, one budget
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonSettings:
    """Chapter 10: the same binarised images and number of updates for every model."""

    steps: Budget = Budget(cpu=2000, gpu=20_000)
    batch_size: int = 64
    n_eval: int = 500
    latent_dim: int = 64
    vae_latent_dim: int = 16
    rbm_hidden: int = 200
    gibbs_steps: tuple[int, ...] = (1, 3, 10, 30, 100, 300)
    n_likelihood: int = 500
    n_pseudo_likelihood: int = 100
    iwae_ks: tuple[int, ...] = (1, 10, 100)
    cpu_threads: int = 1

    def __post_init__(self) -> None:
        if list(self.gibbs_steps) != sorted(set(self.gibbs_steps)) or self.gibbs_steps[0] < 1:
            raise ValueError(f"gibbs_steps must be increasing positive ints, got {self.gibbs_steps}.")


QUICK_COMPARISON = ComparisonSettings(steps=_quick_budget(60), n_eval=200, gibbs_steps=(1, 3, 10),
                                      n_likelihood=100, n_pseudo_likelihood=20, iwae_ks=(1, 10))


def _coverage_dict(coverage: compare.ClassCoverage) -> dict[str, Any]:
    return {"covered": coverage.covered, "kl_to_uniform": coverage.kl_to_uniform,
            "shares": [float(v) for v in coverage.shares]}


def run_comparison_bench(settings: ComparisonSettings | None = None, *, quick: bool = False,
                         seed: int = 0, device: torch.device | None = None, log: Log = print
                         ) -> dict[str, Any]:
    """Chapter 10's summary table: FD, class coverage, likelihood, cost to train and sample.

    Trains the VAE, the GAN and the PCD RBM with the chapter's settings and draws in the
    chapter's order (one CPU thread on a CPU, as the chapter), so every number reproduces
    the chapter's except the times.
    """
    s = settings or (QUICK_COMPARISON if quick else ComparisonSettings())
    device = device if device is not None else pick_device()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(s.cpu_threads)
    try:
        return _comparison(s, seed, device, log)
    finally:
        torch.set_num_threads(threads)


def _comparison(s: ComparisonSettings, seed: int, device: torch.device, log: Log
                ) -> dict[str, Any]:
    n_steps = s.steps.on(device)
    generator = seed_everything(seed)
    x_train, x_test, _, test_set = fashion_mnist_images(device, binary=True)
    grey_test = data.to_float_images(test_set).to(device)
    classifier = _classifier(device)
    test_features = classifier.features(x_test[:s.n_eval])

    def fd_to_test(images: torch.Tensor) -> float:
        return metrics.frechet_distance(classifier.features(images), test_features)

    def batches() -> Callable[[], Iterator[torch.Tensor]]:
        return fixed_step_minibatches(x_train, n_steps, s.batch_size, generator)

    cost: dict[str, compare.Stopwatch] = {}
    torch.manual_seed(seed)
    vae_model = vae.MLPVAE(latent_dim=s.vae_latent_dim, hidden=(256,)).to(device)
    vae_opt = torch.optim.Adam(vae_model.parameters(), lr=1e-3)

    def vae_update(x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = vae.vae_step_loss(vae_model, x, generator=generator)
        vae_opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        vae_opt.step()
        return terms

    with compare.Stopwatch(device) as cost["VAE"]:
        train.fit(vae_update, batches(), epochs=1, progress=False)
    vae_model.eval()
    _say(log, f"  comparison VAE: {n_steps} steps, {cost['VAE'].wall:.1f} s")

    torch.manual_seed(seed)
    G, D = mlp_gan_players(s.latent_dim, device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gan_step = gan.make_gan_step(G, D, opt_g, opt_d, s.latent_dim, loss="non_saturating",
                                 generator=generator)
    with compare.Stopwatch(device) as cost["GAN"]:
        gan_history = train.fit(gan_step, batches(), epochs=1, progress=False)
    G.eval()
    _say(log, f"  comparison GAN: {n_steps} steps, {cost['GAN'].wall:.1f} s")

    flat_train = x_train.reshape(len(x_train), -1)
    rbm_model = rbm_with_data_log_odds(flat_train, s.rbm_hidden, seed, device)
    n_images = n_steps * s.batch_size
    passes = [torch.randperm(len(flat_train), generator=generator)
              for _ in range(n_images // len(flat_train) + 1)]
    subset = flat_train[torch.cat(passes)[:n_images].to(device)]
    with compare.Stopwatch(device) as cost["RBM"]:
        rbm_history = rbm.train_rbm(rbm_model, subset, epochs=1, k=1, persistent=True, lr=0.05,
                                    momentum=0.5, batch_size=s.batch_size, generator=generator,
                                    monitor=x_test[:20].reshape(20, -1))
    _say(log, f"  comparison RBM: {rbm_history.steps[-1]} updates, {cost['RBM'].wall:.1f} s")

    chains = (torch.rand(s.n_eval, 784, generator=generator) < 0.5).float().to(device)
    gibbs_states, gibbs_means, done = {}, {}, 0
    with torch.no_grad():
        for t in s.gibbs_steps:
            for _ in range(t - done - 1):
                chains = rbm_model.gibbs_step(chains, generator)
            h, _ = rbm_model.sample_hidden(chains, generator)
            chains, probs = rbm_model.sample_visible(h, generator)
            done = t
            gibbs_states[t] = chains.reshape(-1, 1, 28, 28)
            gibbs_means[t] = probs.reshape(-1, 1, 28, 28)
    gibbs_rows = [{"steps": t, "fd": fd_to_test(gibbs_states[t]),
                   **_coverage_dict(compare.class_coverage(classifier.probs(gibbs_states[t])))}
                  for t in s.gibbs_steps]

    rbm_steps = s.gibbs_steps[-1]
    n = s.n_eval

    def binary_draw(probs: torch.Tensor) -> torch.Tensor:
        # the chapter's torch.bernoulli(probs, generator=generator), drawn where the (CPU)
        # generator lives so that it also runs on an accelerator; identical on a CPU
        return torch.bernoulli(probs.to(generator.device), generator=generator).to(probs.device)

    with torch.no_grad():
        samples = {
            "VAE": binary_draw(vae_model.sample(n, generator=generator)),
            "GAN": binary_draw(G(gan.sample_latent(n, s.latent_dim, device, generator))),
            "RBM": gibbs_states[rbm_steps],
        }
        means = {
            "VAE": vae_model.sample(n, generator=generator),
            "GAN": G(gan.sample_latent(n, s.latent_dim, device, generator)),
            "RBM": gibbs_means[rbm_steps],
        }
    sample_ms = {
        "VAE": compare.ms_per_1000_samples(lambda k: vae_model.sample(k, generator=generator),
                                           device=device),
        "GAN": compare.ms_per_1000_samples(
            lambda k: G(gan.sample_latent(k, s.latent_dim, device, generator)), device=device),
        "RBM": compare.ms_per_1000_samples(lambda k: rbm_model.sample(k, rbm_steps,
                                                                      generator=generator),
                                           n=100, repeats=1, device=device),
    }
    n_lik, n_pll = s.n_likelihood, s.n_pseudo_likelihood
    with torch.no_grad():
        test_elbo = ev.elbo_in_batches(vae_model, x_test[:n_lik], generator=generator).elbo.mean().item()
        test_iwae = {str(k): ev.iwae_in_batches(vae_model, x_test[:n_lik], k=k,
                                                generator=generator).mean().item()
                     for k in s.iwae_ks}
        test_pll = rbm.pseudo_log_likelihood(rbm_model, x_test[:n_pll].reshape(n_pll, -1)
                                             ).mean().item()
    k_max = str(max(s.iwae_ks))
    likelihood = {
        "VAE": {"kind": "lower bound", "elbo": test_elbo, "iwae": test_iwae,
                "bits_per_dim_upper_bound": -test_iwae[k_max] / (784 * math.log(2))},
        "GAN": {"kind": "none (implicit model)"},
        "RBM": {"kind": "pseudo-log-likelihood (not a bound, not comparable)",
                "pseudo_log_likelihood": test_pll},
    }
    models = {}
    for name in samples:
        models[name] = {
            "fd_binary": fd_to_test(samples[name]),
            "fd_mean": fd_to_test(means[name]),
            **_coverage_dict(compare.class_coverage(classifier.probs(samples[name]))),
            "likelihood": likelihood[name],
            "train_time": _stopwatch_dict(cost[name]),
            "ms_per_1000_samples": sample_ms[name],
        }
    real = compare.class_coverage(classifier.probs(x_train[:n]))
    return {
        "chapter": "ch10_comparison",
        "settings": {**asdict(s), "steps": n_steps},
        "seeds": {"seed_everything": seed, "torch.manual_seed before VAE and GAN": seed,
                  "RBM weights": seed},
        "device": describe_device(device),
        "torch_threads": torch.get_num_threads(),
        "reproduces": "exactly, except the times (the chapter's draws in the chapter's order)",
        "classifier_test_accuracy": float(classifier.test_accuracy),
        "models": models,
        "gan_last": {"d_real": gan_history.last("d_real"), "d_fake": gan_history.last("d_fake")},
        "real_binarised_train": {"fd_binary": fd_to_test(x_train[:n]), **_coverage_dict(real)},
        "grey_test_fd": fd_to_test(grey_test[n:2 * n]),
        "gibbs_steps": gibbs_rows,
        "references": [
            {"quantity": "Fréchet distance", "value": "real binarised training images: the floor",
             "source": "eq-frechet-distance"},
            {"quantity": "class coverage", "value": "KL(p ‖ uniform) = 0 balanced, log 10 ≈ 2.30 "
             "one class", "source": "eq-class-kl-to-uniform"},
            {"quantity": "RBM log-likelihood", "value": "needs log Z (annealed importance sampling)",
             "source": "salakhutdinov2008quantitative"},
            {"quantity": "pseudo-log-likelihood", "value": "", "source": "besag1975statistical"},
        ],
        "published": [],
        "wall_time": sum(c.wall for c in cost.values()),
        "cpu_time": sum(c.cpu for c in cost.values()),
    }


# ---------------------------------------------------------------------------
# The registry used by ``python -m genmodels.bench``
# ---------------------------------------------------------------------------


class Section(NamedTuple):
    """A chapter section of the benchmark: its runner and the chapter it reproduces."""

    run: Callable[..., dict[str, Any]]
    chapter: str
    title: str


SECTIONS: dict[str, Section] = {
    "gibbs": Section(run_gibbs_bench, "ch03_gibbs_sampling",
                     "Gibbs sampling: mixing against correlation"),
    "rbm": Section(run_rbm_bench, "ch03_gibbs_sampling",
                   "Restricted Boltzmann machines: CD-k against PCD"),
    "vae": Section(run_vae_bench, "ch06_vae_practice", "The VAE on Fashion-MNIST"),
    "image_gan": Section(run_image_gan_bench, "ch08_gan_practice",
                         "An MLP GAN and a DCGAN on Fashion-MNIST"),
    "comparison": Section(run_comparison_bench, "ch10_comparison",
                          "Comparing the families"),
}


def seeds_of(section: Mapping[str, Any]) -> list[int]:
    """The distinct seeds a section used (its ``seeds`` is a list or a role → seed dict)."""
    seeds = section.get("seeds", [])
    values = seeds.values() if isinstance(seeds, Mapping) else seeds
    return sorted({int(v) for v in values})


# ---------------------------------------------------------------------------
# Tables: plain text for the command line, HTML for the results appendix
# ---------------------------------------------------------------------------


class Table(NamedTuple):
    """A table of strings: a caption, the column names and the rows."""

    caption: str
    header: list[str]
    rows: list[list[str]]


def _pm(mean: float, se: float | None, digits: int = 2) -> str:
    return f"{mean:.{digits}f}" if se is None else f"{mean:.{digits}f} ± {se:.{digits}f}"


def gibbs_tables(section: Mapping[str, Any]) -> list[Table]:
    """Measured lag-1 autocorrelation, τ and ESS per update beside their closed forms."""
    rows = []
    for r in section["rows"]:
        m, c = r["measured"], r["closed_form"]
        rows.append([f"{r['rho']:.2f}", _pm(m["lag1"], m["lag1_se"], 4), f"{c['lag1']:.4f}",
                     _pm(m["tau"], m.get("tau_se")), f"{c['tau']:.2f}",
                     f"{m['ess_per_update_systematic']:.4f}", f"{c['ess_per_update']:.4f}",
                     f"{m['ess_per_update_random']:.4f}"])
    s = section["settings"]
    return [Table(f"{s['n_chains']} chains of {s['n_sweeps']} sweeps per ρ (burn-in "
                  f"{s['burn_in']}); measured beside the closed form",
                  ["ρ", "lag-1 autocorr. ± s.e.", "ρ² (closed form)", "τ ± s.e.", "(1+ρ²)/(1−ρ²)",
                   "ESS / update (systematic)", "(1−ρ²)/(2(1+ρ²))", "ESS / update (random scan)"],
                  rows)]


def rbm_tables(section: Mapping[str, Any]) -> list[Table]:
    """Small RBMs by training rule (exact likelihood), then the large RBMs."""
    s = section["settings"]
    small = [[r["rule"], f"{r['test_log_likelihood']:.2f}", f"{r['pseudo_log_likelihood_train']:.2f}",
              f"{r['reconstruction_error_train']:.4f}", f"{r['wall_time']:.1f}"]
             for r in section["small"]]
    large = [[r["rule"], f"{r['free_energy_test']:.2f}", f"{r['free_energy_samples']:.2f}",
              f"{r['test_pseudo_log_likelihood']:.2f}", f"{r['wall_time']:.1f}"]
             for r in section["large"]]
    return [
        Table(f"H = {s['small_hidden']} hidden units, {s['epochs']} epochs on {s['n_train']} "
              f"digits; exact log-likelihood of {s['n_test']} test digits",
              ["rule", "exact test log-likelihood (nats)", "pseudo-log-likelihood (train, nats)",
               "reconstruction error (train)", "train wall (s)"], small),
        Table(f"H = {s['large_hidden']} hidden units; {s['n_chain_samples']} chains of "
              f"{s['chain_steps']} Gibbs steps from noise",
              ["rule", "mean free energy, test digits", "mean free energy, long-chain samples",
               "test pseudo-log-likelihood (nats)", "train wall (s)"], large),
    ]


def vae_tables(section: Mapping[str, Any]) -> list[Table]:
    """The VAE's time, bounds, units and Fréchet distance, with what each compares with."""
    fd = section["frechet"]
    elbo = section["test_elbo"]
    rows = [
        ["seconds per epoch (wall)", f"{section['seconds_per_epoch']:.1f}",
         f"{section['epochs']} epochs of {section['n_train']} images, batch {section['batch_size']}"],
        ["test ELBO (nats / image)", f"{elbo:.2f}",
         f"{section['n_test']} test images; reconstruction {section['test_reconstruction']:.2f}, "
         f"KL {section['test_kl']:.2f}"],
        ["train ELBO (nats / image)", f"{section['train_elbo']:.2f}",
         f"first {section['n_train_elbo']} training images (over-fitting check)"],
    ]
    for k, bound in section["iwae"].items():
        rows.append([f"IWAE bound, k = {k} (nats / image)",
                     _pm(bound["mean"], bound["standard_error"]),
                     f"first {section['n_iwae']} test images; must not decrease with k"])
    n_latent = len(section["kl_per_dimension"])
    rows += [
        ["active units", f"{section['active_units']} / {n_latent}",
         f"KL per dimension {min(section['kl_per_dimension']):.2f}–"
         f"{max(section['kl_per_dimension']):.2f} nats"],
        ["Fréchet distance, prior samples to test", f"{fd['prior_samples']:.1f}",
         f"{fd['n']} decoded z ~ N(0, I) against {fd['n']} test images"],
        ["Fréchet distance, real training images to test", f"{fd['real_train_images']:.1f}",
         "the floor (reference point)"],
    ]
    return [Table(section["model"], ["quantity", "ours", "compared with / notes"], rows)]


def image_gan_tables(section: Mapping[str, Any]) -> list[Table]:
    """The GANs' final Fréchet distance among the reference image sets, and their cost."""
    n_eval = section["settings"]["n_eval"]
    rows = [[name, f"{value:.1f}", "reference point", "", "", ""]
            for name, value in section["reference_fd"].items()]
    over = []
    for run in section["runs"]:
        tail = run["last_steps_mean"]
        rows.append([f"{run['model']} ({run['steps']} steps)", f"{run['final_fd']:.1f}",
                     f"{tail['acc_real']:.2f} / {tail['acc_fake']:.2f}",
                     f"{run['train_time']['wall']:.1f}", f"{run['train_time']['cpu']:.1f}",
                     f"{run['cpu_ms_per_step']:.0f}"])
        trace = run["frechet_over_training"]
        over.append([run["model"], ", ".join(f"{s}: {v:.0f}" for s, v in
                                              zip(trace["step"], trace["fd"], strict=True))])
    rows.sort(key=lambda r: float(r[1]))
    return [
        Table(f"Fréchet distance of {n_eval} images to the {10_000} test images (lower is better); "
              "D accuracy: mean over the last steps",
              ["images", "FD to test", "D accuracy real / fake", "train wall (s)",
               "train CPU (s)", "CPU ms / step"], rows),
        Table("Fréchet distance of the same fixed z over training", ["model", "step: FD"], over),
    ]


def comparison_tables(section: Mapping[str, Any]) -> list[Table]:
    """Chapter 10's summary table and the RBM's sample quality against Gibbs steps."""
    rows = []
    for name, m in section["models"].items():
        lik = m["likelihood"]
        if "iwae" in lik:
            k = max(lik["iwae"], key=int)
            lik_text = f"≥ {lik['iwae'][k]:.1f} (IWAE, k = {k}); ELBO {lik['elbo']:.1f}"
        elif "pseudo_log_likelihood" in lik:
            lik_text = f"needs log Z (PLL {lik['pseudo_log_likelihood']:.1f}, not comparable)"
        else:
            lik_text = lik["kind"]
        rows.append([name, f"{m['fd_binary']:.2f}", f"{m['fd_mean']:.2f}", f"{m['covered']}/10",
                     f"{m['kl_to_uniform']:.2f}", lik_text, f"{m['train_time']['wall']:.1f}",
                     f"{m['train_time']['cpu']:.1f}", f"{m['ms_per_1000_samples']:.1f}"])
    real = section["real_binarised_train"]
    rows.append(["real (binarised train)", f"{real['fd_binary']:.2f}", "", f"{real['covered']}/10",
                 f"{real['kl_to_uniform']:.2f}", "", "", "", ""])
    s = section["settings"]
    gibbs_rows = [[str(r["steps"]), f"{r['fd']:.2f}", f"{r['covered']}/10",
                   f"{r['kl_to_uniform']:.2f}"] for r in section["gibbs_steps"]]
    return [
        Table(f"{s['steps']} updates of {s['batch_size']} binarised images per model; "
              f"{s['n_eval']} samples per model against {s['n_eval']} binarised test images",
              ["model", "FD (binary draws)", "FD (mean images)", "classes covered",
               "KL to uniform (nats)", "test log-likelihood (nats / image)", "train wall (s)",
               "train CPU (s)", "ms per 1000 samples"], rows),
        Table("RBM: binary states of the chains after t Gibbs steps from noise",
              ["Gibbs steps", "FD", "classes covered", "KL to uniform (nats)"], gibbs_rows),
    ]


def gan_tables(section: Mapping[str, Any]) -> list[Table]:
    """The mode-collapse section (chapter 9): mean ± std over seeds, then the published rows."""
    rows = []
    for r in section["results"]:
        m, s = r["mean"], r["std"]
        rkl = "∞" if m["reverse_kl"] is None else f"{m['reverse_kl']:.3f}"
        rows.append([r["dataset"], r["label"],
                     f"{m['modes_captured']:.1f} ± {s['modes_captured']:.1f} / {r['n_modes']}",
                     f"{100 * m['high_quality_share']:.1f} ± {100 * s['high_quality_share']:.1f}",
                     rkl, f"{m['wall_time']:.1f}", ""])
    for p in section["published"]:
        rows.append([p["dataset"], f"published: {p['method']}", f"{p['modes_captured']:.1f}",
                     f"{100 * p['high_quality_share']:.1f}", "", "", p.get("source", "")])
    return [Table(f"mean ± standard deviation over seeds {list(section['seeds'])}",
                  ["data", "variant", "modes captured", "high quality (%)", "reverse KL",
                   "s / run", "source"], rows)]


TABLES: dict[str, Callable[[Mapping[str, Any]], list[Table]]] = {
    "gibbs": gibbs_tables, "rbm": rbm_tables, "vae": vae_tables, "image_gan": image_gan_tables,
    "comparison": comparison_tables, "gan": gan_tables,
}


def _tables_of(name: str, doc: Mapping[str, Any]) -> list[Table]:
    if name not in TABLES:
        raise ValueError(f"unknown benchmark section {name!r}; expected one of: "
                         f"{', '.join(TABLES)}.")
    if name not in doc:
        raise KeyError(f"this benchmark file holds no {name!r} section (it has "
                       f"{sorted(k for k in doc if k in TABLES)}); rerun "
                       f"`python -m genmodels.bench --only {name}`.")
    return TABLES[name](doc[name])


def format_table_text(table: Table) -> str:
    """A :class:`Table` as aligned plain text."""
    widths = [max(len(row[i]) for row in [table.header, *table.rows]) for i in range(len(table.header))]
    lines = [table.caption, "  ".join(h.ljust(w) for h, w in zip(table.header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table.rows]
    return "\n".join(lines)


def format_section_text(name: str, doc: Mapping[str, Any]) -> str:
    """Every table of section ``name`` of a benchmark document, as plain text."""
    return "\n\n".join(format_table_text(t) for t in _tables_of(name, doc))


def table_html(table: Table) -> str:
    """A :class:`Table` as an HTML table (every cell escaped)."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                   for row in table.rows)
    return (f'<table class="table"><caption>{esc(table.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _seeds_text(seeds: Any) -> str:
    if isinstance(seeds, Mapping):
        return ", ".join(f"{role} {value}" for role, value in seeds.items())
    return str(list(seeds)) if seeds is not None else "not recorded"


def provenance_text(name: str, doc: Mapping[str, Any]) -> str:
    """Who produced a section: date, command, machine, versions, threads, load, seeds."""
    m = doc["machine"]
    section = doc[name]
    versions = f"Python {m['python']}, PyTorch {m['torch']}"
    if m.get("numpy"):
        versions += f", NumPy {m['numpy']}"
    if m.get("genmodels"):
        versions += f", genmodels {m['genmodels']}"
    if m.get("git_commit"):
        changed = ", with uncommitted changes" if m.get("git_modified") else ""
        versions += f" (commit {m['git_commit'][:10]}{changed})"
    device = section.get("device", m["device"])
    threads = section.get("torch_threads", m.get("torch_threads_gan"))
    if threads is not None:
        device = re.sub(r" \(\d+ threads?\)$", "", device)
        device += f", {threads} torch thread{'s' if threads != 1 else ''}"
    load = m.get("load_average_1min_at_start")
    load_text = "" if load is None else f"; load average {load}"
    if load is not None and doc.get("load_average_1min_at_end") is not None:
        load_text += f" at the start, {doc['load_average_1min_at_end']} at the end"
    wall = section.get("wall_time")
    wall_text = "" if wall is None else f" The section took {wall:.{1 if wall < 10 else 0}f} s."
    reproduces = section.get("reproduces")
    repro_text = "" if not reproduces else f" Reproduces the chapter: {reproduces}."
    return (f"Produced {doc['created']} by `{doc['command'].strip()}` on {m['cpu']} "
            f"({m['cpu_count']} cores), {device}; {versions}{load_text}. "
            f"Seeds: {_seeds_text(section.get('seeds', doc.get('seeds')))}.{wall_text}{repro_text}")


def section_html(name: str, doc: Mapping[str, Any]) -> str:
    """The results appendix's rendering of section ``name``: tables, provenance, references.

    A smoke run (``--quick``) is flagged in bold: its numbers do not reproduce the chapter.
    """
    parts = [table_html(t) for t in _tables_of(name, doc)]
    section = doc[name]
    refs = section.get("references", [])
    if refs:
        items = "".join(f"<li>{html.escape(r['quantity'])}: {html.escape(r['value'])}"
                        f"{' — ' if r['value'] else ''}<code>{html.escape(r['source'])}</code></li>"
                        for r in refs)
        parts.append(f"<p>Compared with (closed forms and equations of the book, reference "
                     f"points, and the works behind them):</p><ul>{items}</ul>")
    published = section.get("published")
    if published == []:
        parts.append("<p>The chapter compares these numbers with no published result.</p>")
    parts.append(f"<p><em>{html.escape(provenance_text(name, doc))}</em></p>")
    if doc.get("quick"):
        parts.insert(0, "<p><strong>Smoke run (<code>--quick</code>): tiny budgets; these numbers "
                        "do not reproduce the chapter. Run <code>make bench</code> for the real "
                        "ones.</strong></p>")
    return "\n".join(parts)
