"""Sample-quality metrics: mode coverage on 2-D mixtures and the Fréchet distance.

* :func:`mode_metrics` follows the protocol of VEEGAN (Srivastava et al., 2017) and
  PacGAN (Lin et al., 2018) for the ring and grid of Gaussians.
* :func:`frechet_distance` is the distance between Gaussian fits of two feature sets
  (the FID of Heusel et al., 2017, when the features come from Inception); the course
  uses the features of its own Fashion-MNIST classifier (:mod:`genmodels.measure.classifier`).

Every function accepts plain tensors of features, so it can be tested
without a trained classifier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from genmodels.core.data import check_float_images
from genmodels.core.validation import check_float, check_positive_int, check_tensor
from genmodels.toy import IsotropicMixture2D


@dataclass(frozen=True)
class ModeMetrics:
    """The mode-collapse metrics of one set of 2-D samples against a mixture.

    Attributes:
        modes_captured: number of modes that are the nearest centre of at least one
            high-quality sample.
        high_quality_share: fraction of all samples within ``n_std`` standard deviations
            of their nearest centre (in [0, 1]).
        reverse_kl: KL(p̂ ‖ uniform) in nats, p̂ the distribution of the high-quality
            samples over modes (see :func:`mode_metrics`).
        counts: number of high-quality samples assigned to each mode, int64 ``[K]``.
        n_modes: K, the number of modes of the mixture.
    """

    modes_captured: int
    high_quality_share: float
    reverse_kl: float
    counts: torch.Tensor
    n_modes: int

    def __str__(self) -> str:
        return (
            f"{self.modes_captured}/{self.n_modes} modes, "
            f"{100 * self.high_quality_share:.1f}% high quality, "
            f"reverse KL {self.reverse_kl:.3f}"
        )


def _check_mode_metrics_inputs(samples: torch.Tensor, mixture: IsotropicMixture2D,
                               n_std: float, smoothing: float) -> None:
    check_tensor(samples, "samples", ("n", 2), finite=False)
    if not isinstance(mixture, IsotropicMixture2D):
        raise TypeError(f"mixture must be a genmodels.toy.IsotropicMixture2D, got "
                        f"{type(mixture).__name__}; e.g. genmodels.toy.ring_mixture().")
    check_float(n_std, "n_std", minimum=0, open_below=True, hint="the high-quality radius in std")
    check_float(smoothing, "smoothing", minimum=0, hint="a pseudo-count")
    if samples.shape[0] == 0:
        raise ValueError("samples is empty: pass at least one point (the protocol uses 2,500).")
    if not torch.isfinite(samples).all():
        raise ValueError(
            "samples contain NaN or inf: the generator diverged; check its training losses."
        )


def mode_metrics(
    samples: torch.Tensor,
    mixture: IsotropicMixture2D,
    n_std: float = 3.0,
    smoothing: float = 0.0,
) -> ModeMetrics:
    """Modes captured, share of high-quality samples and reverse KL (VEEGAN/PacGAN).

    Exact definitions, for samples x_1..x_n and centres c_1..c_K of common std σ:

    * nearest centre k(i) = argmin_k ‖x_i − c_k‖₂, distance d_i = min_k ‖x_i − c_k‖₂;
    * x_i is *high quality* when d_i ≤ n_std·σ (3 standard deviations);
      ``high_quality_share`` = #{i high quality} / n;
    * counts_k = #{i high quality : k(i) = k}; mode k is *captured* when counts_k ≥ 1
      (PacGAN's protocol);
    * p̂_k = (counts_k + α) / (Σ_j counts_j + Kα), α = ``smoothing`` (0 by default, as in
      PacGAN: the reverse KL is taken over the high-quality samples only), and
      ``reverse_kl`` = KL(p̂ ‖ u) = Σ_k p̂_k log(K p̂_k) with u uniform over the K modes
      and 0·log 0 = 0. It lies in [0, log K]: 0 for perfectly balanced modes, log K when
      all high-quality samples fall on one mode. With no high-quality sample and α = 0,
      p̂ is undefined and ``reverse_kl`` is ``inf``.

    For exact samples of an isotropic 2-D Gaussian, d/σ follows a chi distribution with
    2 degrees of freedom, so the expected high-quality share is 1 − exp(−4.5) ≈ 0.9889
    (when the modes are well separated).

    Args:
        samples: points ``[n, 2]``.
        mixture: the target mixture (its ``centres [K, 2]`` and ``std``).
        n_std: the high-quality radius in standard deviations.
        smoothing: additive pseudo-count α ≥ 0 for p̂.

    Book: eq-high-quality, eq-mode-captured (chapter 9).
    """
    _check_mode_metrics_inputs(samples, mixture, n_std, smoothing)
    x = samples.detach().to("cpu", torch.float64)
    centres = mixture.centres.to(torch.float64)
    dist = torch.cdist(x, centres)  # [n, K]
    d_min, nearest = dist.min(dim=1)
    high_quality = d_min <= n_std * mixture.std
    k = mixture.n_modes
    counts = torch.bincount(nearest[high_quality], minlength=k)
    total = counts.sum().item()
    if total == 0 and smoothing == 0:
        reverse_kl = math.inf
    else:
        p = (counts.double() + smoothing) / (total + k * smoothing)
        reverse_kl = torch.xlogy(p, p * k).sum().item()
    return ModeMetrics(
        modes_captured=int((counts >= 1).sum().item()),
        high_quality_share=total / x.shape[0],
        reverse_kl=float(reverse_kl),
        counts=counts,
        n_modes=k,
    )


def _check_features(name: str, feats: torch.Tensor) -> None:
    check_tensor(feats, name, ("n", "F"), finite=False)
    if feats.shape[0] < 2:
        raise ValueError(
            f"{name} has {feats.shape[0]} rows; a covariance needs at least 2 (use thousands)."
        )
    if not torch.isfinite(feats).all():
        raise ValueError(f"{name} contains NaN or inf values.")


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix via ``eigh``.

    Eigenvalues that round-off made slightly negative are clamped to 0.
    """
    eigvals, eigvecs = torch.linalg.eigh(matrix)
    return (eigvecs * eigvals.clamp_min(0).sqrt()) @ eigvecs.T


def _float64_gaussians(
    mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor, cov_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two Gaussians in float64, after checking that each mean is ``[F]`` and each
    covariance ``[F, F]``, finite, symmetric and positive semi-definite (up to round-off)."""
    check_tensor(mu_a, "mu_a", ("F",), hint="a mean vector, e.g. feats.mean(0)")
    f = mu_a.shape[0]
    check_tensor(mu_b, "mu_b", (f"F={f}",), hint="a mean vector of the same features as mu_a")
    mu_a, mu_b = mu_a.to(torch.float64), mu_b.to(torch.float64)
    for name, m in (("cov_a", cov_a), ("cov_b", cov_b)):
        check_tensor(m, name, (f"F={f}", f"F={f}"), hint="a covariance, e.g. torch.cov(feats.T)")
    cov_a, cov_b = cov_a.to(torch.float64), cov_b.to(torch.float64)
    for name, m in (("cov_a", cov_a), ("cov_b", cov_b)):
        _check_covariance(m, name)
    return mu_a, cov_a, mu_b, cov_b


def _check_covariance(m: torch.Tensor, name: str) -> None:
    """A covariance is symmetric and positive semi-definite, up to float64 round-off."""
    scale = max(float(m.abs().max()), torch.finfo(torch.float64).tiny)
    asymmetry = float((m - m.T).abs().max())
    if asymmetry > 1e-8 * scale:
        raise ValueError(f"{name} must be symmetric, but |{name} - {name}.T| reaches "
                         f"{asymmetry:.3g}; symmetrise it with 0.5 * (c + c.T) if that is "
                         "round-off, or pass a covariance.")
    lowest = float(torch.linalg.eigvalsh(m)[0])
    if lowest < -1e-6 * scale:
        raise ValueError(f"{name} must be positive semi-definite, but its smallest eigenvalue "
                         f"is {lowest:.3g}; pass a covariance (e.g. torch.cov(feats.T)).")


def gaussian_frechet_distance(
    mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor, cov_b: torch.Tensor
) -> float:
    """Squared 2-Wasserstein (Fréchet) distance between N(μ_a, Σ_a) and N(μ_b, Σ_b):

        d² = ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^{½} Σ_b Σ_a^{½})^{½}).

    Numerically stable form: Σ_a^{½} by ``eigh``, then the trace term as the sum of the
    square roots of the (clamped, non-negative) eigenvalues of the *symmetric* PSD matrix
    Σ_a^{½} Σ_b Σ_a^{½}; this equals tr((Σ_a Σ_b)^{½}) without a non-symmetric ``sqrtm``.
    Computed in float64. Shapes: ``mu [F]``, ``cov [F, F]``. Book: eq-frechet-distance (chapter 8).
    """
    mu_a, cov_a, mu_b, cov_b = _float64_gaussians(mu_a, cov_a, mu_b, cov_b)
    sqrt_a = _sqrt_psd(cov_a)
    middle = sqrt_a @ cov_b @ sqrt_a
    middle = 0.5 * (middle + middle.T)
    trace_sqrt = torch.linalg.eigvalsh(middle).clamp_min(0).sqrt().sum()
    d2 = (mu_a - mu_b).square().sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * trace_sqrt
    return max(float(d2), 0.0)


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussian fits of two feature sets ``[n, F]`` and ``[m, F]``.

    Fits the mean and the unbiased covariance of each set and returns
    :func:`gaussian_frechet_distance` (a *squared* distance, as FID reports it). It is
    0 for identical sets and symmetric in its arguments.
    """
    _check_features("feats_a", feats_a)
    _check_features("feats_b", feats_b)
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(
            f"feature dimensions differ: {feats_a.shape[1]} vs {feats_b.shape[1]}; use the "
            "same feature extractor for both sets."
        )
    return gaussian_frechet_distance(*gaussian_fit(feats_a), *gaussian_fit(feats_b))


def gaussian_fit(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[F]`` and unbiased covariance ``[F, F]`` of features ``[n, F]``, float64 on the CPU.

    The Gaussian that :func:`frechet_distance` fits to each feature set (n >= 2 rows).
    """
    _check_features("feats", feats)
    x = feats.detach().to("cpu", torch.float64)
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], -1)


class FeatureClassifier(Protocol):
    """What the image metrics need from a classifier (see :mod:`genmodels.measure.classifier`)."""

    def features(self, x: torch.Tensor) -> torch.Tensor: ...


def _batched(fn, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    outputs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            outputs.append(fn(images[start:start + batch_size].to(device)).to("cpu"))
    return torch.cat(outputs)


def _classifier_device(classifier: object) -> torch.device:
    params = getattr(classifier, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    return torch.device("cpu")


def classifier_frechet_distance(
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    classifier: FeatureClassifier,
    batch_size: int = 1000,
) -> float:
    """Fréchet distance between a classifier's features of two image sets.

    ``images_a``, ``images_b``: float ``[N, 1, 28, 28]`` in [0, 1]; ``classifier`` has a
    ``.features(x) -> [N, F]`` method (e.g. ``genmodels.measure.classifier.load_fashion_classifier()``).
    Features are computed in batches without gradients on the classifier's device.
    """
    check_tensor(check_float_images(images_a, "images_a"), "images_a")
    check_tensor(check_float_images(images_b, "images_b"), "images_b")
    device = _classifier_device(classifier)
    fa = _batched(classifier.features, images_a, batch_size, device)
    fb = _batched(classifier.features, images_b, batch_size, device)
    return frechet_distance(fa, fb)


class FrechetReference:
    """A reference image set for the classifier-based Fréchet distance, embedded once.

    ``fd_to_test = FrechetReference(x_test[:5000], classifier)`` computes the classifier's
    features of the reference images and their Gaussian fit once and keeps them in
    memory; ``fd_to_test(images)`` then embeds only ``images``. It returns exactly
    ``classifier_frechet_distance(images, reference_images, classifier)`` — same batches,
    same float64 fit, same argument order — so it changes no number, only the cost of
    scoring many image sets against the same test images (a training curve, a table of
    models).

    Args:
        images: float reference images ``[N, 1, 28, 28]`` in [0, 1] (N >= 2).
        classifier: an object with ``.features(x) -> [N, F]``, e.g.
            ``genmodels.measure.classifier.load_fashion_classifier()``.
        batch_size: images embedded at a time.

    Attributes:
        n: the number of reference images.
        mean, cov: the Gaussian fit of their features, ``[F]`` and ``[F, F]`` (float64, CPU).

    Book: eq-frechet-distance (chapter 8).
    """

    def __init__(
        self, images: torch.Tensor, classifier: FeatureClassifier, batch_size: int = 1000
    ) -> None:
        check_tensor(check_float_images(images, "images"), "images")
        check_positive_int(batch_size, "batch_size")
        self.classifier = classifier
        self.batch_size = batch_size
        self.n = int(images.shape[0])
        self._device = _classifier_device(classifier)
        self.mean, self.cov = gaussian_fit(self.features_of(images))

    def features_of(self, images: torch.Tensor) -> torch.Tensor:
        """The classifier's features ``[N, F]`` (CPU) of float images ``[N, 1, 28, 28]``."""
        check_tensor(check_float_images(images, "images"), "images")
        return _batched(self.classifier.features, images, self.batch_size, self._device)

    def __call__(self, images: torch.Tensor) -> float:
        """Fréchet distance (eq-frechet-distance) of ``images [M, 1, 28, 28]`` to the reference."""
        feats = self.features_of(images)
        if feats.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"feature dimensions differ: {feats.shape[1]} vs {self.mean.shape[0]} of the "
                "reference; score with the classifier the reference was built with."
            )
        return gaussian_frechet_distance(*gaussian_fit(feats), self.mean, self.cov)
