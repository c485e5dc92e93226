"""The benchmark's sections: each measures one chapter's headline numbers.

Every section is a function with one signature (:class:`SectionRun`)::

    run(settings=None, *, quick=False, seed=0, device=None, log=print) -> dict

``settings`` is the section's own settings object (``None``: the chapter's, or a smoke
run's tiny budget if ``quick``); the function runs the library functions of its chapter
with those settings, in the chapter's order (so that the same seed draws the same random
numbers), and returns a JSON-able dict with the settings, the seeds, the device, the wall
and CPU times, the numbers, and the references they are compared with (closed forms of the
book, or reference points the chapter computes). :data:`SECTIONS` registers them for
``python -m genmodels.bench``; :mod:`genmodels.results.tables` formats the dicts.

========== ================================================ ==============================
section    what                                             chapter
========== ================================================ ==============================
gan        modes captured and high-quality samples of the   9, "Remedies, measured"
           GAN remedies on the ring and grid, over seeds    (:mod:`.gan_runs`)
gibbs      lag-1 autocorrelation, τ and ESS against ρ       3, "Mixing against correlation"
rbm        exact test log-likelihood of CD-1/CD-10/PCD-1    3, the RBM
vae        s/epoch, test ELBO, IWAE (k ≤ 100), FD, units    6
image_gan  FD of the MLP GAN and the DCGAN, training time   8
comparison VAE vs GAN vs RBM: FD, classes, likelihood, cost 11
========== ================================================ ==============================

One copy of each experiment: every section calls the very functions and settings its
chapter calls (:func:`genmodels.experiments.gibbs_mixing.measure_mixing` with
:class:`genmodels.experiments.gibbs_mixing.MixingSettings`, :func:`genmodels.experiments.rbm_digits.train_small_rbms` with
:class:`genmodels.experiments.rbm_digits.DigitsRBMSettings`, :func:`genmodels.vae.train_with_adam` with
:class:`genmodels.experiments.vae_fashion.FashionVAESettings`, the functions of :mod:`genmodels.experiments.image_gan` with
:class:`genmodels.experiments.image_gan.ImageGanSettings`, those of :mod:`genmodels.experiments.family_comparison` with
:class:`genmodels.experiments.family_comparison.ComparisonSettings`, and
:func:`genmodels.experiments.toy_gan.train_toy_gan` for the GANs), so they cannot drift apart.

Reproducing a chapter: a chapter seeds once (``seed_everything(0)``) and then draws from
one generator cell after cell. Where a chapter's number comes from models created by
dedicated generators or trained first after seeding (the RBMs of chapter 3, the models of
chapters 6, 8 and 11), the section repeats the same draws and reproduces the number on the
same kind of device with the same number of threads (verified: identical to every printed
digit). Where a chapter draws from a
generator already used by earlier cells (the Gibbs table of chapter 3, the evaluation
draws of chapter 6), the bench uses a fresh generator: the numbers then agree within
Monte-Carlo error, not digit for digit; each section says which holds in ``reproduces``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple, Protocol

import torch

from genmodels import gan, vae
from genmodels.bench.gan_runs import run_gan_section
from genmodels.core import data, timing, train
from genmodels.core.device import budget_for, describe_device, pick_device, seed_everything
from genmodels.core.validation import check_positive_int
from genmodels.experiments import (
    family_comparison,
    gibbs_mixing,
    image_gan,
    rbm_digits,
    vae_fashion,
)
from genmodels.measure import coverage, sample_quality
from genmodels.measure import vae_diagnostics as ev

Log = Callable[[str], None] | None


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


def _say(log: Log, message: str) -> None:
    if log is not None:
        log(message)


def fashion_mnist_images(device: torch.device, binary: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor, data.ImageDataset, data.ImageDataset]:
    """Fashion-MNIST train and test images ``[N, 1, 28, 28]`` in [0, 1] on ``device``.

    ``binary``: pixels > ½ become 1. Also returns the two splits (labels, classes).
    """
    train_set, test_set = data.load_fashion_mnist("train"), data.load_fashion_mnist("test")
    x_train = data.to_float_images(train_set)
    x_test = data.to_float_images(test_set)
    if binary:
        x_train, x_test = data.binarize(x_train), data.binarize(x_test)
    return x_train.to(device), x_test.to(device), train_set, test_set


def _classifier(device: torch.device) -> Any:
    """The course's Fashion-MNIST classifier (cached; trained once, about a minute)."""
    from genmodels.measure.classifier import load_fashion_classifier

    return load_fashion_classifier(device)


def _stopwatch_dict(watch: timing.Stopwatch) -> dict[str, float]:
    return {"wall": watch.wall, "cpu": watch.cpu}


# ---------------------------------------------------------------------------
# Chapter 3: Gibbs sampling of the bivariate Gaussian
# ---------------------------------------------------------------------------


QUICK_GIBBS = gibbs_mixing.MixingSettings(rhos=(0.0, 0.5, 0.9), n_sweeps=600, n_chains=4, burn_in=50)


def run_gibbs_bench(settings: gibbs_mixing.MixingSettings | None = None, *, quick: bool = False,
                    seed: int = 0, device: torch.device | None = None, log: Log = print
                    ) -> dict[str, Any]:
    """Chapter 3's mixing table: :func:`genmodels.experiments.gibbs_mixing.measure_mixing` for every ρ, beside
    :func:`genmodels.experiments.gibbs_mixing.mixing_closed_form`.

    The chains run on the CPU, as in the chapter (``device`` is ignored). The chapter draws
    them after earlier cells used its generator, so its values agree with these within the
    Monte-Carlo error given by ``lag1_se``.
    """
    settings = settings or (QUICK_GIBBS if quick else gibbs_mixing.MixingSettings())
    generator = seed_everything(seed)
    rows = []
    with timing.Stopwatch() as watch:
        for rho in settings.rhos:
            measured = gibbs_mixing.measure_mixing(rho, settings, generator)
            rows.append({"rho": rho, "measured": asdict(measured),
                         "closed_form": asdict(gibbs_mixing.mixing_closed_form(rho))})
            _say(log, f"  gibbs ρ = {rho:4.2f}: lag-1 {measured.lag1:.4f} "
                      f"(ρ² = {rho * rho:.4f}), ESS/update {measured.ess_per_update_systematic:.4f}")
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


QUICK_RBM = rbm_digits.DigitsRBMSettings(epochs_cpu=2, epochs_gpu=2, large_hidden=32, chain_steps=50,
                                  n_chain_samples=50)


def _rbm_settings_for_seed(settings: rbm_digits.DigitsRBMSettings, seed: int) -> rbm_digits.DigitsRBMSettings:
    """The chapter's seeds 0 (split), 1, 2 (small RBMs), 3, 4 (large RBMs), shifted by ``seed``."""
    return replace(settings, split_seed=seed, small_seeds=(seed + 1, seed + 2),
                   large_seeds=(seed + 3, seed + 4))


def run_rbm_bench(settings: rbm_digits.DigitsRBMSettings | None = None, *, quick: bool = False,
                  seed: int = 0, device: torch.device | None = None, log: Log = print
                  ) -> dict[str, Any]:
    """Chapter 3's RBMs: exact test log-likelihood of CD-1, CD-10 and PCD-1, then larger RBMs.

    Calls the chapter's functions (:func:`genmodels.experiments.rbm_digits.binarised_digits_split`,
    :func:`genmodels.experiments.rbm_digits.train_small_rbms`, :func:`genmodels.experiments.rbm_digits.train_large_rbms`,
    :func:`genmodels.experiments.rbm_digits.long_chain_free_energies`) with its settings; ``seed`` shifts the
    chapter's seeds (0 is the chapter's). The long chains of the large RBMs draw from
    ``seed_everything(seed)``. Every number of the small RBMs and the test
    pseudo-log-likelihood of the large ones reproduce the chapter's; the free energy of
    long-chain samples agrees within Monte-Carlo error.
    """
    s = _rbm_settings_for_seed(settings or (QUICK_RBM if quick else rbm_digits.DigitsRBMSettings()), seed)
    device = device if device is not None else pick_device()
    epochs = budget_for(device, cpu=s.epochs_cpu, gpu=s.epochs_gpu)
    generator = seed_everything(seed)
    x_train, x_test = rbm_digits.binarised_digits_split(s.n_train, s.split_seed, device)
    small = []
    with timing.Stopwatch(device) as watch:
        for name, (_, history) in rbm_digits.train_small_rbms(x_train, x_test, s, epochs).items():
            values = history.epoch_values
            small.append({
                "rule": name,
                "test_log_likelihood": values["test_log_likelihood"][-1],
                "test_log_likelihood_per_epoch": values["test_log_likelihood"],
                "pseudo_log_likelihood_train": values["pseudo_log_likelihood"][-1],
                "reconstruction_error_train": values["reconstruction_error"][-1],
                "wall_time": history.wall_time,
            })
            _say(log, f"  rbm {name:6s} H={s.small_hidden}: exact test log-likelihood "
                      f"{small[-1]['test_log_likelihood']:.2f} nats ({history.wall_time:.1f} s)")
        large = []
        for name, (model, history) in rbm_digits.train_large_rbms(x_train, s, epochs).items():
            check = rbm_digits.long_chain_free_energies(model, x_test, s.n_chain_samples, s.chain_steps,
                                                 generator)
            large.append({"rule": name, "wall_time": history.wall_time, **check._asdict()})
    return {
        "chapter": "ch03_gibbs_sampling",
        "settings": {**asdict(s), "epochs": epochs, "n_test": int(x_test.shape[0])},
        "seeds": {"split": s.split_seed, "small_weights": s.small_seeds[0],
                  "small_training": s.small_seeds[1], "large_weights": s.large_seeds[0],
                  "large_training": s.large_seeds[1], "seed_everything": seed},
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


QUICK_VAE = vae_fashion.FashionVAESettings(epochs_cpu=1, epochs_gpu=1, n_train_elbo=1000, n_iwae=200,
                                   n_fd=1000)


@dataclass(frozen=True)
class VaeBenchSettings:
    """The VAE section's settings: the model, training and evaluation (``vae``; ``None``:
    chapter 6's, or :data:`QUICK_VAE` in a quick run), the number of ``epochs`` (``None``:
    ``vae``'s budget for the device; ``--vae-epochs``) and, for smoke tests, only the first
    ``n_train`` training and ``n_test`` test images (``None``: all)."""

    vae: vae_fashion.FashionVAESettings | None = None
    epochs: int | None = None
    n_train: int | None = None
    n_test: int | None = None

    def __post_init__(self) -> None:
        if self.vae is not None and not isinstance(self.vae, vae_fashion.FashionVAESettings):
            raise TypeError(f"VaeBenchSettings.vae must be a FashionVAESettings or None, got "
                            f"{type(self.vae).__name__}; e.g. vae=FashionVAESettings(batch_size=64).")
        for name in ("epochs", "n_train", "n_test"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), f"VaeBenchSettings.{name} (or None)")


def run_vae_bench(settings: VaeBenchSettings | None = None, *, quick: bool = False,
                  seed: int = 0, device: torch.device | None = None, log: Log = print
                  ) -> dict[str, Any]:
    """Chapter 6's VAE: seconds per epoch, test ELBO, IWAE bounds, active units, Fréchet distance.

    With the defaults this is chapter 6's ``vae16``: ``seed_everything(seed)``, the model
    (``vae.MLPVAE`` with :class:`genmodels.experiments.vae_fashion.FashionVAESettings`), then
    :func:`genmodels.vae.train_with_adam`, as in the chapter, so the trained weights
    reproduce the chapter's. The evaluation (:func:`genmodels.measure.vae_diagnostics.elbo_in_batches`,
    :func:`genmodels.measure.vae_diagnostics.iwae_bounds_by_k`, the Fréchet distance of decoded prior
    codes) draws from the same generator right after training (the chapter draws after
    other models), so ELBO, IWAE and Fréchet distance agree within Monte-Carlo error.
    ``settings`` (:class:`VaeBenchSettings`) changes the model, the epochs or the number of
    images (smoke tests).

    Returns ``{"model", "epochs", "seconds_per_epoch", "test_elbo", "iwae", "frechet",
    "active_units", ...}``; likelihoods in nats per image (Bernoulli score of grey levels).
    """
    bench = settings if settings is not None else VaeBenchSettings()
    if not isinstance(bench, VaeBenchSettings):
        raise TypeError(f"settings must be a VaeBenchSettings, got {type(bench).__name__}; "
                        "e.g. VaeBenchSettings(FashionVAESettings(batch_size=64), epochs=2).")
    s = bench.vae or (QUICK_VAE if quick else vae_fashion.FashionVAESettings())
    device = device if device is not None else pick_device()
    n_epochs = bench.epochs if bench.epochs is not None else s.epochs(device)
    generator = seed_everything(seed)
    x_train, x_test, _, _ = fashion_mnist_images(device)
    x_train, x_test = x_train[:bench.n_train], x_test[:bench.n_test]
    model = vae.MLPVAE(s.latent_dim, hidden=s.hidden).to(device)
    epoch_times: list[float] = []
    clock = [time.perf_counter()]

    def time_epoch(epoch: int, history: train.History) -> None:
        now = time.perf_counter()
        epoch_times.append(now - clock[0])
        clock[0] = now
        _say(log, f"  vae epoch {epoch}: {epoch_times[-1]:.1f} s, loss {history.last('loss'):.1f}")

    with timing.Stopwatch(device) as training:
        clock[0] = time.perf_counter()
        history = vae.train_with_adam(model, x_train, n_epochs, s, generator,
                                      on_epoch_end=time_epoch)
    model.eval()
    with timing.Stopwatch(device) as evaluation:
        test_terms = ev.elbo_in_batches(model, x_test, generator=generator)
        train_terms = ev.elbo_in_batches(model, x_train[:s.n_train_elbo], generator=generator)
        x_iwae = x_test[:s.n_iwae]
        iwae = {str(k): {"mean": float(bound.mean()),
                         "standard_error": float(bound.std() / math.sqrt(len(bound)))}
                for k, bound in ev.iwae_bounds_by_k(model, x_iwae, s.iwae_ks, generator).items()}
        mu, logvar = ev.encode_in_batches(model, x_test)
        kl_dims = ev.kl_per_dimension(mu, logvar)
        classifier = _classifier(device)
        n_fd = min(s.n_fd, len(x_test), len(x_train))
        fd_to_test = sample_quality.FrechetReference(x_test[:n_fd], classifier)
        with torch.no_grad():  # the chapter's draw: z_prior = torch.randn(n_fd, d, generator)
            z_prior = torch.randn(n_fd, s.latent_dim, generator=generator).to(device)
            prior_images = model.decode_mean(z_prior)
        fd_samples = fd_to_test(prior_images)
        fd_real = fd_to_test(x_train[:n_fd])
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
        "train_reconstruction_last": history.last("reconstruction"),
        "train_kl_last": history.last("kl"),
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


# ---------------------------------------------------------------------------
# Chapter 8: an MLP GAN and a DCGAN on Fashion-MNIST
# ---------------------------------------------------------------------------


QUICK_IMAGE_GAN = image_gan.ImageGanSettings(
    mlp_steps_cpu=40, mlp_steps_gpu=40, dcgan_steps_cpu=20, dcgan_steps_gpu=20, n_eval=500,
    mlp_summary_last=20, dcgan_summary_last=10)


def run_image_gan_bench(settings: image_gan.ImageGanSettings | None = None, *, quick: bool = False,
                        seed: int = 0, device: torch.device | None = None, log: Log = print
                        ) -> dict[str, Any]:
    """Chapter 8: Fréchet distances of the reference image sets, the MLP GAN and the DCGAN.

    Calls the chapter's functions (:func:`genmodels.experiments.image_gan.reference_frechet_distances`,
    :func:`genmodels.gan.mlp_gan_players`, :func:`genmodels.gan.dcgan_players`,
    :func:`genmodels.experiments.image_gan.train_gan_recording_samples`,
    :func:`genmodels.experiments.image_gan.frechet_distances_over_training`,
    :func:`genmodels.experiments.image_gan.means_over_last_steps`) with its settings
    (:class:`genmodels.experiments.image_gan.ImageGanSettings`) in its order: the reference noise, then
    each GAN after ``torch.manual_seed(seed)``, so every number but the times reproduces the
    chapter's on the same kind of device with the same number of threads.
    """
    s = settings or (QUICK_IMAGE_GAN if quick else image_gan.ImageGanSettings())
    device = device if device is not None else pick_device()
    steps = {"MLP GAN": s.mlp_steps(device), "DCGAN": s.dcgan_steps(device)}
    summary_last = {"MLP GAN": s.mlp_summary_last, "DCGAN": s.dcgan_summary_last}
    players = {"MLP GAN": lambda: gan.mlp_gan_players(s.latent_dim, device, s.mlp_hidden),
               "DCGAN": lambda: gan.dcgan_players(s.latent_dim, device, s.channels)}
    generator = seed_everything(seed)
    x_train, x_test, fashion_train, _ = fashion_mnist_images(device)
    classifier = _classifier(device)
    fd_to_test = sample_quality.FrechetReference(x_test, classifier)
    references = image_gan.reference_frechet_distances(x_train, fashion_train.labels, fd_to_test,
                                                       s.n_eval, generator)
    runs = []
    with timing.Stopwatch(device) as total:
        for name, n_steps in steps.items():
            torch.manual_seed(seed)
            G, D = players[name]()
            with timing.Stopwatch(device) as watch:
                history, recorder = image_gan.train_gan_recording_samples(G, D, x_train, n_steps,
                                                                          s, generator)
            fds = image_gan.frechet_distances_over_training(recorder, fd_to_test)
            runs.append({
                "model": name, "steps": history.n_steps, "train_time": _stopwatch_dict(watch),
                "cpu_ms_per_step": 1000 * watch.cpu / history.n_steps,
                "parameters": {"G": sum(p.numel() for p in G.parameters()),
                               "D": sum(p.numel() for p in D.parameters())},
                "frechet_over_training": {"step": list(recorder.steps), "fd": fds},
                "final_fd": fds[-1],
                "last_steps_mean": image_gan.means_over_last_steps(history, summary_last[name]),
                "last_steps": min(summary_last[name], history.n_steps),
            })
            _say(log, f"  {name}: {history.n_steps} steps in {watch.wall:.1f} s, FD {fds[-1]:.1f}")
    return {
        "chapter": "ch08_gan_practice",
        "settings": {**asdict(s), "mlp_steps": steps["MLP GAN"], "dcgan_steps": steps["DCGAN"]},
        "seeds": {"seed_everything": seed, "torch.manual_seed before each GAN": seed},
        "device": describe_device(device),
        "torch_threads": torch.get_num_threads(),
        "reproduces": "exactly, except the times (the chapter's functions and draws in the "
                      "chapter's order)",
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
# Chapter 11: the three families, one budget
# ---------------------------------------------------------------------------


QUICK_COMPARISON = family_comparison.ComparisonSettings(
    steps_cpu=60, steps_gpu=60, n_eval=200, gibbs_steps=(1, 3, 10), n_likelihood=100,
    n_pseudo_likelihood=20, iwae_ks=(1, 10))


def _coverage_dict(coverage: coverage.ClassCoverage) -> dict[str, Any]:
    return {"covered": coverage.covered, "kl_to_uniform": coverage.kl_to_uniform,
            "shares": [float(v) for v in coverage.shares]}


def run_comparison_bench(settings: family_comparison.ComparisonSettings | None = None, *,
                         quick: bool = False, seed: int = 0, device: torch.device | None = None,
                         log: Log = print) -> dict[str, Any]:
    """Chapter 11's summary table: FD, class coverage, likelihood, cost to train and sample.

    Calls the functions of :mod:`genmodels.experiments.family_comparison` in the chapter's order with its
    settings (one CPU thread on a CPU, as the chapter), so every number reproduces the
    chapter's except the times.
    """
    s = settings or (QUICK_COMPARISON if quick else family_comparison.ComparisonSettings())
    device = device if device is not None else pick_device()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(s.cpu_threads)
    try:
        return _comparison(s, seed, device, log)
    finally:
        torch.set_num_threads(threads)


def _comparison(s: family_comparison.ComparisonSettings, seed: int, device: torch.device, log: Log
                ) -> dict[str, Any]:
    n_steps = budget_for(device, cpu=s.steps_cpu, gpu=s.steps_gpu)
    generator = seed_everything(seed)
    images = family_comparison.binarised_fashion_mnist(device)
    x_train, x_test = images.train, images.test
    classifier = _classifier(device)
    fd_to_test = sample_quality.FrechetReference(x_test[:s.n_eval], classifier)
    cost: dict[str, timing.Stopwatch] = {}

    vae_model = family_comparison.comparison_vae(s, seed).to(device)
    with timing.Stopwatch(device) as cost["VAE"]:
        family_comparison.train_vae_on_batches(vae_model, train.fixed_step_minibatches(
            x_train, n_steps, s.batch_size, generator), s, generator)
    _say(log, f"  comparison VAE: {n_steps} steps, {cost['VAE'].wall:.1f} s")

    G, D = family_comparison.comparison_gan(s, seed, device)
    with timing.Stopwatch(device) as cost["GAN"]:
        gan_history = family_comparison.train_gan_on_batches(G, D, train.fixed_step_minibatches(
            x_train, n_steps, s.batch_size, generator), s, generator)
    _say(log, f"  comparison GAN: {n_steps} steps, {cost['GAN'].wall:.1f} s")

    flat_train = x_train.reshape(len(x_train), -1)
    rbm_model = family_comparison.comparison_rbm(flat_train, s, seed)
    rows = family_comparison.rows_of_shuffled_passes(flat_train, n_steps * s.batch_size, generator)
    monitor = x_test[:s.n_rbm_monitor].reshape(s.n_rbm_monitor, -1)
    with timing.Stopwatch(device) as cost["RBM"]:
        rbm_history = family_comparison.train_pcd_rbm(rbm_model, rows, s, monitor, generator)
    _say(log, f"  comparison RBM: {rbm_history.n_steps} updates, {cost['RBM'].wall:.1f} s")

    gibbs_states, gibbs_means = family_comparison.rbm_chains_from_noise(rbm_model, s, generator)
    gibbs_rows = [{"steps": t, "fd": fd_to_test(gibbs_states[t]),
                   **_coverage_dict(coverage.class_coverage(classifier.probs(gibbs_states[t])))}
                  for t in s.gibbs_steps]
    samples, means = family_comparison.samples_and_means(vae_model, G, gibbs_states, gibbs_means, s,
                                                  generator)
    sample_ms = family_comparison.sampling_cost_ms(vae_model, G, rbm_model, s, generator)
    lik = family_comparison.likelihoods_on_test_images(vae_model, rbm_model, x_test, s, generator)
    k_max = max(s.iwae_ks)
    likelihood = {
        "VAE": {"kind": "lower bound", "elbo": lik.elbo,
                "iwae": {str(k): v for k, v in lik.iwae.items()},
                "bits_per_dim_upper_bound": -lik.iwae[k_max] / (784 * math.log(2))},
        "GAN": {"kind": "none (implicit model)"},
        "RBM": {"kind": "pseudo-log-likelihood (not a bound, not comparable)",
                "pseudo_log_likelihood": lik.rbm_pseudo_log_likelihood},
    }
    models = {}
    for name in samples:
        quality = family_comparison.sample_quality(samples[name], means[name], classifier, fd_to_test)
        models[name] = {
            "fd_binary": quality.fd_binary,
            "fd_mean": quality.fd_mean,
            **_coverage_dict(quality.coverage),
            "likelihood": likelihood[name],
            "train_time": _stopwatch_dict(cost[name]),
            "ms_per_1000_samples": sample_ms[name],
        }
    n = s.n_eval
    real = coverage.class_coverage(classifier.probs(x_train[:n]))
    return {
        "chapter": "ch11_comparison",
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
        "grey_test_fd": fd_to_test(images.grey_test[n:2 * n]),
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


class SectionRun(Protocol):
    """The signature every section shares: its own ``settings`` (``None``: the chapter's, or
    the smoke run's if ``quick``), the seed, the device and where progress lines go."""

    def __call__(self, settings: Any = None, *, quick: bool = False, seed: int = 0,
                 device: torch.device | None = None, log: Log = print) -> dict[str, Any]: ...


class Section(NamedTuple):
    """A section of the benchmark: its runner, the chapter whose numbers it measures, a title."""

    run: SectionRun
    chapter: str
    title: str


SECTIONS: dict[str, Section] = {
    "gan": Section(run_gan_section, "ch10_gan_remedies",
                   "Mode collapse on the 2-D mixtures: the remedies, measured"),
    "gibbs": Section(run_gibbs_bench, "ch03_gibbs_sampling",
                     "Gibbs sampling: mixing against correlation"),
    "rbm": Section(run_rbm_bench, "ch03_gibbs_sampling",
                   "Restricted Boltzmann machines: CD-k against PCD"),
    "vae": Section(run_vae_bench, "ch06_vae_practice", "The VAE on Fashion-MNIST"),
    "image_gan": Section(run_image_gan_bench, "ch08_gan_practice",
                         "An MLP GAN and a DCGAN on Fashion-MNIST"),
    "comparison": Section(run_comparison_bench, "ch11_comparison",
                          "Comparing the families"),
}


def seeds_of(section: Mapping[str, Any]) -> list[int]:
    """The distinct seeds a section used (its ``seeds`` is a list or a role → seed dict)."""
    seeds = section.get("seeds", [])
    values = seeds.values() if isinstance(seeds, Mapping) else seeds
    return sorted({int(v) for v in values})
