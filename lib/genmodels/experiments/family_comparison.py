"""Chapter 11's experiment: a VAE, a GAN and an RBM on the same data with the same budget.

Every model is trained for the same number of parameter updates on minibatches of the
same binarised Fashion-MNIST images, then sampled and measured with the same metrics
(Fréchet distance, class coverage, likelihood where one is defined, cost). The chapter
calls these functions cell by cell, in this order, and the results appendix
(``genmodels.bench.sections``) calls the same ones, so the two draw the same random
numbers and print the same numbers:

1. :func:`binarised_fashion_mnist` — the images; :class:`ComparisonSettings` — the budget
   and the sizes.
2. :func:`comparison_vae` / :func:`train_vae_on_batches`, :func:`comparison_gan` /
   :func:`train_gan_on_batches`, :func:`comparison_rbm` / :func:`rows_of_shuffled_passes` /
   :func:`train_pcd_rbm` — three models, one budget.
3. :func:`rbm_chains_from_noise` — the RBM's sample quality against Gibbs steps;
   :func:`samples_and_means` — binary draws and mean images of every model;
   :func:`sampling_cost_ms` — the cost to sample.
4. :func:`likelihoods_on_test_images` — ELBO and IWAE bounds of the VAE, the RBM's
   pseudo-log-likelihood; :func:`sample_quality` — Fréchet distance and class coverage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from genmodels import gan, rbm, vae
from genmodels.core import data, timing, train
from genmodels.core.validation import (
    check_float_fields,
    check_positive_int,
    check_positive_int_fields,
    check_positive_ints,
)
from genmodels.experiments import rbm_digits
from genmodels.measure import coverage
from genmodels.measure import vae_diagnostics as ev

__all__ = [
    "BinarisedFashionMNIST",
    "ComparisonSettings",
    "SampleQuality",
    "LikelihoodsOnTest",
    "bernoulli_draw",
    "binarised_fashion_mnist",
    "comparison_gan",
    "comparison_rbm",
    "comparison_vae",
    "likelihoods_on_test_images",
    "rbm_chains_from_noise",
    "rows_of_shuffled_passes",
    "sample_quality",
    "samples_and_means",
    "sampling_cost_ms",
    "train_gan_on_batches",
    "train_pcd_rbm",
    "train_vae_on_batches",
]


@dataclass(frozen=True)
class ComparisonSettings:
    """Chapter 11's settings (the defaults are the chapter's).

    Budget: ``steps_cpu`` parameter updates per model on a CPU, ``steps_gpu`` on a GPU
    (``budget_for(device, cpu=steps_cpu, gpu=steps_gpu)``), each on a minibatch of
    ``batch_size`` images. Models: an
    ``MLPVAE(vae_latent_dim, vae_hidden)`` trained by Adam(``vae_lr``); an MLP GAN with
    ``latent_dim``-dimensional codes trained by Adam(``gan_lr``, ``gan_betas``) with the
    non-saturating loss (both Adams fused when ``fused_adam``: one kernel for all
    parameters, the same algorithm); a Bernoulli RBM with ``rbm_hidden`` hidden units trained by PCD-1
    (SGD ``rbm_lr``, ``rbm_momentum``), monitored on ``n_rbm_monitor`` test images.
    Evaluation: ``n_eval`` samples per model (and as many test images), the RBM's chains
    after each of ``gibbs_steps`` (the last gives its samples), the ELBO and IWAE bounds
    (``iwae_ks``) on ``n_likelihood`` test images, the RBM's pseudo-log-likelihood on
    ``n_pseudo_likelihood``. On a CPU the chapter runs with ``cpu_threads`` torch threads.
    """

    steps_cpu: int = 2_000
    steps_gpu: int = 20_000
    batch_size: int = 64
    n_eval: int = 500
    vae_latent_dim: int = 16
    vae_hidden: tuple[int, ...] = (256,)
    vae_lr: float = 1e-3
    latent_dim: int = 64
    gan_hidden: tuple[int, ...] = (256, 512)
    # Chapter 8's tuned learning rate. With 2e-4 (the DCGAN paper's) the GAN was still
    # collapsed after 2,000 steps (seed 0: 2 classes, FD 1,117; with 2e-3: 10 classes, FD 157).
    gan_lr: float = 2e-3
    gan_betas: tuple[float, float] = (0.5, 0.999)
    rbm_hidden: int = 200
    rbm_lr: float = 0.05
    rbm_momentum: float = 0.5
    n_rbm_monitor: int = 20
    gibbs_steps: tuple[int, ...] = (1, 3, 10, 30, 100, 300)
    n_likelihood: int = 500
    n_pseudo_likelihood: int = 100
    iwae_ks: tuple[int, ...] = (1, 10, 100)
    cpu_threads: int = 1
    fused_adam: bool = True

    def __post_init__(self) -> None:
        check_positive_int_fields(self, (
            "steps_cpu", "steps_gpu", "batch_size", "n_eval", "vae_latent_dim",
            "latent_dim", "rbm_hidden", "n_rbm_monitor", "n_likelihood",
            "n_pseudo_likelihood", "cpu_threads"))
        check_positive_ints(self.gibbs_steps, "gibbs_steps", increasing=True)
        check_positive_ints(self.iwae_ks, "iwae_ks")
        check_float_fields(self, ("vae_lr", "gan_lr", "rbm_lr"), minimum=0, open_below=True)
        check_float_fields(self, ("rbm_momentum",), minimum=0, maximum=1, open_above=True)
        if not isinstance(self.fused_adam, bool):
            raise TypeError(f"fused_adam must be True or False, got {self.fused_adam!r}.")


# ----------------------------------------------------------------------------- the data


class BinarisedFashionMNIST(NamedTuple):
    """Fashion-MNIST with pixels > ½ set to 1: ``train`` ``[60000, 1, 28, 28]`` and ``test``
    ``[10000, 1, 28, 28]`` in {0, 1}; ``grey_test``: the test images before binarising; the
    ``classes`` names."""

    train: torch.Tensor
    test: torch.Tensor
    grey_test: torch.Tensor
    classes: tuple[str, ...]


def binarised_fashion_mnist(device: torch.device | str | None = None) -> BinarisedFashionMNIST:
    """The images every model of chapter 11 is trained and measured on, on ``device``."""
    train_set, test_set = data.load_fashion_mnist("train"), data.load_fashion_mnist("test")
    grey_test = data.to_float_images(test_set)
    return BinarisedFashionMNIST(
        train=data.binarize(data.to_float_images(train_set)).to(device),
        test=data.binarize(grey_test).to(device),
        grey_test=grey_test.to(device),
        classes=tuple(test_set.classes),
    )


# --------------------------------------------------------------------------- the models


def comparison_vae(settings: ComparisonSettings, seed: int) -> vae.MLPVAE:
    """The VAE of chapter 11 (Bernoulli decoder), its weights drawn after ``torch.manual_seed(seed)``.

    Seeds torch's global generator, as the chapter does before building the model.
    Move it to the device with ``.to(device)``.
    """
    torch.manual_seed(seed)
    return vae.MLPVAE(latent_dim=settings.vae_latent_dim, hidden=settings.vae_hidden)


class _VAEAdam(NamedTuple):
    """:class:`genmodels.vae.AdamSettings` of chapter 11's VAE: Adam(``vae_lr``), fused or
    not as ``ComparisonSettings.fused_adam`` (the batches come from the caller)."""

    lr: float
    batch_size: int
    fused_adam: bool | None = None


def train_vae_on_batches(
    model: vae.VAE,
    make_batches: Callable[[], Iterable[torch.Tensor]],
    settings: ComparisonSettings,
    generator: torch.Generator | None = None,
) -> train.History:
    """One pass of :func:`genmodels.vae.train_with_adam` — Adam(``vae_lr``) on the negative
    ELBO — over ``make_batches()``.

    With :func:`genmodels.core.train.fixed_step_minibatches` the pass is exactly the budget of
    updates. Returns fit's History (``loss`` in nats per image). Book: eq-vae-loss.
    """
    adam = _VAEAdam(lr=settings.vae_lr, batch_size=settings.batch_size, fused_adam=settings.fused_adam)
    history = vae.train_with_adam(model, make_batches, 1, adam, generator)
    model.eval()
    return history


def comparison_gan(
    settings: ComparisonSettings, seed: int, device: torch.device | str | None = None
) -> tuple[nn.Module, nn.Module]:
    """Chapter 11's GAN: :func:`genmodels.gan.mlp_gan_players` (chapter 8's MLP GAN with
    ``gan_hidden`` layers) drawn after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return gan.mlp_gan_players(settings.latent_dim, device, settings.gan_hidden)


def train_gan_on_batches(
    G: nn.Module,
    D: nn.Module,
    make_batches: Callable[[], Iterable[torch.Tensor]],
    settings: ComparisonSettings,
    generator: torch.Generator | None = None,
) -> train.History:
    """One pass of :func:`genmodels.gan.train_gan` — the non-saturating GAN step with
    Adam(``gan_lr``, ``gan_betas``) for both players — over ``make_batches()``.

    Returns fit's History (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, ...).
    Book: eq-d-step, eq-g-step-non-saturating.
    """
    history = gan.train_gan(G, D, make_batches, settings.latent_dim, lr=settings.gan_lr,
                            betas=settings.gan_betas, fused_adam=settings.fused_adam,
                            loss="non_saturating", generator=generator)
    G.eval()
    return history


def comparison_rbm(x_flat: torch.Tensor, settings: ComparisonSettings, seed: int) -> rbm.BernoulliRBM:
    """Chapter 11's RBM for flattened binary images ``x_flat`` ``[N, 784]``.

    ``rbm_digits.rbm_with_data_log_odds``: weights seeded with ``seed``, visible biases at the
    data's log-odds.
    """
    return rbm_digits.rbm_with_data_log_odds(x_flat, settings.rbm_hidden, seed)


def rows_of_shuffled_passes(
    x: torch.Tensor, n_rows: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The first ``n_rows`` rows of consecutive shuffled passes over ``x`` ``[N, ...]``.

    Draws one permutation of ``range(N)`` per pass (CPU ``generator``, all passes first),
    as many passes as ``n_rows`` needs plus one; returns ``[n_rows, ...]`` on ``x``'s
    device. One epoch of :func:`genmodels.rbm.train_rbm` over them in minibatches of B
    is ``n_rows / B`` updates: the chapter's update budget for the RBM.
    """
    check_positive_int(n_rows, "n_rows")
    passes = [torch.randperm(len(x), generator=generator) for _ in range(n_rows // len(x) + 1)]
    return x[torch.cat(passes)[:n_rows].to(x.device)]


def train_pcd_rbm(
    model: rbm.BernoulliRBM,
    rows: torch.Tensor,
    settings: ComparisonSettings,
    monitor: torch.Tensor,
    generator: torch.Generator | None = None,
) -> train.History:
    """One epoch of PCD-1 (SGD ``rbm_lr``, ``rbm_momentum``) over ``rows`` ``[n, 784]`` in
    minibatches of ``batch_size``; the pseudo-log-likelihood is monitored on ``monitor``
    ``[m, 784]`` before and after (``history.epoch_values``, at ``history.epoch_steps``).
    Book: eq-cd-gradient (chapter 3)."""
    return rbm.train_rbm(model, rows, epochs=1, k=1, persistent=True, lr=settings.rbm_lr,
                         momentum=settings.rbm_momentum, batch_size=settings.batch_size,
                         generator=generator, monitor=monitor)


# ------------------------------------------------------------------------------ sampling


@torch.no_grad()
def rbm_chains_from_noise(
    model: rbm.BernoulliRBM, settings: ComparisonSettings, generator: torch.Generator | None = None
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """``n_eval`` block-Gibbs chains from Bernoulli(½) noise, kept after each of ``gibbs_steps``.

    The noise is drawn on the generator's device and moved to the model's. Returns
    ``(states, means)``: step count → binary states ``[n_eval, 1, 28, 28]``, and → the
    visible probabilities p(v | h) of the same step (see ``rbm_digits.gibbs_snapshots``).
    """
    device = model.weight.device
    noise_device = generator.device if generator is not None else device
    start = (torch.rand(settings.n_eval, model.n_visible, generator=generator,
                        device=noise_device) < 0.5).float().to(device)
    states, probs = rbm_digits.gibbs_snapshots(model, start, settings.gibbs_steps, generator)
    as_images = {t: v.reshape(-1, 1, 28, 28) for t, v in states.items()}
    return as_images, {t: p.reshape(-1, 1, 28, 28) for t, p in probs.items()}


def bernoulli_draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary draws with P(1) = ``probs`` (any shape), from ``generator``.

    The draw happens on the generator's device and is moved back to ``probs``' device, so
    a CPU generator gives the same numbers on every device (``torch.bernoulli`` itself
    refuses a CPU generator for a CUDA tensor).
    """
    if generator is None or generator.device == probs.device:
        return torch.bernoulli(probs, generator=generator)
    return torch.bernoulli(probs.to(generator.device), generator=generator).to(probs.device)


@torch.no_grad()
def samples_and_means(
    vae_model: vae.VAE,
    G: nn.Module,
    rbm_states: Mapping[int, torch.Tensor],
    rbm_means: Mapping[int, torch.Tensor],
    settings: ComparisonSettings,
    generator: torch.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``n_eval`` samples of each model: binary draws, and the mean images they are drawn from.

    Binary draws x ∈ {0,1}^784: Bernoulli draws of the VAE's decoder mean and of the
    GAN's output, the RBM's chain states after the last of ``gibbs_steps``. Mean images:
    fresh decoder means and generator outputs, the RBM's p(v | h). Returns
    ``(samples, means)``, model name → ``[n_eval, 1, 28, 28]``, drawn in that order.
    """
    n, device, last = settings.n_eval, next(G.parameters()).device, settings.gibbs_steps[-1]
    samples = {
        "VAE": bernoulli_draw(vae_model.sample(n, generator=generator), generator),
        "GAN": bernoulli_draw(G(gan.sample_latent(n, settings.latent_dim, device, generator)),
                              generator),
        "RBM": rbm_states[last],
    }
    means = {
        "VAE": vae_model.sample(n, generator=generator),
        "GAN": G(gan.sample_latent(n, settings.latent_dim, device, generator)),
        "RBM": rbm_means[last],
    }
    return samples, means


def sampling_cost_ms(
    vae_model: vae.VAE,
    G: nn.Module,
    rbm_model: rbm.BernoulliRBM,
    settings: ComparisonSettings,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Milliseconds per 1000 samples of each model (``timing.ms_per_1000_samples``).

    The VAE and the GAN: one network pass (median of 3 runs of 1000); the RBM: the last
    of ``gibbs_steps`` Gibbs steps from noise (one run of 100 chains, scaled).
    """
    device = next(G.parameters()).device
    steps, latent = settings.gibbs_steps[-1], settings.latent_dim
    return {
        "VAE": timing.ms_per_1000_samples(lambda k: vae_model.sample(k, generator=generator),
                                           device=device),
        "GAN": timing.ms_per_1000_samples(
            lambda k: G(gan.sample_latent(k, latent, device, generator)), device=device),
        "RBM": timing.ms_per_1000_samples(
            lambda k: rbm_model.sample(k, steps, generator=generator), n=100, repeats=1,
            device=device),
    }


# ---------------------------------------------------------------------------- measuring


class LikelihoodsOnTest(NamedTuple):
    """Test likelihoods in nats per image: the VAE's ELBO and IWAE bounds (k → bound), the
    RBM's pseudo-log-likelihood (not a bound, not comparable with the VAE's)."""

    elbo: float
    iwae: dict[int, float]
    rbm_pseudo_log_likelihood: float


@torch.no_grad()
def likelihoods_on_test_images(
    vae_model: vae.VAE,
    rbm_model: rbm.BernoulliRBM,
    x_test: torch.Tensor,
    settings: ComparisonSettings,
    generator: torch.Generator | None = None,
) -> LikelihoodsOnTest:
    """The VAE's ELBO and IWAE bounds (each of ``iwae_ks``, in order) on the first
    ``n_likelihood`` test images ``x_test`` ``[N, 1, 28, 28]``, then the RBM's
    pseudo-log-likelihood on the first ``n_pseudo_likelihood``.

    Book: eq-elbo-jensen, eq-iwae-bound, eq-pseudo-log-likelihood (chapter 11).
    """
    x, n_pll = x_test[:settings.n_likelihood], settings.n_pseudo_likelihood
    elbo = ev.elbo_in_batches(vae_model, x, generator=generator).elbo.mean().item()
    iwae = {k: ev.iwae_in_batches(vae_model, x, k=k, generator=generator).mean().item()
            for k in settings.iwae_ks}
    pll = rbm.pseudo_log_likelihood(rbm_model, x_test[:n_pll].reshape(n_pll, -1)).mean().item()
    return LikelihoodsOnTest(elbo, iwae, pll)


class SampleQuality(NamedTuple):
    """Fréchet distance to the test images (binary draws and mean images) and the class
    coverage of the binary draws."""

    fd_binary: float
    fd_mean: float
    coverage: coverage.ClassCoverage


def sample_quality(
    samples: torch.Tensor,
    means: torch.Tensor,
    classifier: object,
    frechet_to_test: Callable[[torch.Tensor], float],
) -> SampleQuality:
    """Measure one model: ``frechet_to_test`` of its binary draws and of its mean images
    (e.g. a ``metrics.FrechetReference`` of the test images), and ``coverage.class_coverage``
    of the classifier's probabilities of the binary draws. Book: eq-frechet-distance,
    eq-class-kl-to-uniform."""
    return SampleQuality(
        fd_binary=frechet_to_test(samples),
        fd_mean=frechet_to_test(means),
        coverage=coverage.class_coverage(classifier.probs(samples)),  # type: ignore[attr-defined]
    )
