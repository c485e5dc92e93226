"""Tests of genmodels.measure.sample_quality against closed forms and Monte-Carlo references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genmodels.measure import sample_quality
from genmodels.toy import grid_mixture, ring_mixture

# ---------------------------------------------------------------------------
# Mode metrics
# ---------------------------------------------------------------------------

HQ_EXACT = 1 - math.exp(-4.5)  # P(chi_2 ≤ 3) = 0.98889


def test_ring_exact_samples_capture_all_modes_with_chi_high_quality_share() -> None:
    ring = ring_mixture()
    n = 20_000
    x = ring.sample(n, generator=torch.Generator().manual_seed(0))
    m = sample_quality.mode_metrics(x, ring)
    assert m.modes_captured == 8 and m.n_modes == 8
    # Binomial standard error sqrt(p(1-p)/n) ≈ 7.4e-4; allow 4 standard errors.
    se = math.sqrt(HQ_EXACT * (1 - HQ_EXACT) / n)
    assert abs(m.high_quality_share - HQ_EXACT) < 4 * se
    assert m.counts.sum().item() == round(m.high_quality_share * n)
    # Balanced multinomial over 8 modes: KL(p̂ ‖ u) ≈ (K − 1)/(2 N_hq) ≈ 1.8e-4.
    assert 0 <= m.reverse_kl < 2e-3


def test_ring_protocol_size_2500() -> None:
    ring = ring_mixture()
    x = ring.sample(2500, generator=torch.Generator().manual_seed(1))
    m = sample_quality.mode_metrics(x, ring)
    se = math.sqrt(HQ_EXACT * (1 - HQ_EXACT) / 2500)
    assert m.modes_captured == 8
    assert abs(m.high_quality_share - HQ_EXACT) < 4 * se


def test_grid_exact_samples_capture_25_modes() -> None:
    grid = grid_mixture()
    x = grid.sample(2500, generator=torch.Generator().manual_seed(2))
    m = sample_quality.mode_metrics(x, grid)
    assert m.modes_captured == 25
    assert abs(m.high_quality_share - HQ_EXACT) < 4 * math.sqrt(HQ_EXACT * (1 - HQ_EXACT) / 2500)


def test_single_centre_gives_one_mode_and_log_k_reverse_kl() -> None:
    ring = ring_mixture()
    g = torch.Generator().manual_seed(3)
    x = ring.centres[2] + ring.std * torch.randn(2500, 2, generator=g)
    m = sample_quality.mode_metrics(x, ring)
    assert m.modes_captured == 1
    assert m.counts[2].item() == m.counts.sum().item()
    assert m.reverse_kl == pytest.approx(math.log(8))


def test_reverse_kl_matches_hand_computation() -> None:
    ring = ring_mixture()
    # 3 samples exactly on mode 0, 1 on mode 1, one far away (low quality).
    x = torch.cat([ring.centres[[0, 0, 0, 1]], torch.tensor([[5.0, 5.0]])])
    m = sample_quality.mode_metrics(x, ring)
    p = np.array([0.75, 0.25])
    assert m.reverse_kl == pytest.approx(float(np.sum(p * np.log(8 * p))))
    assert m.high_quality_share == pytest.approx(0.8)
    assert m.modes_captured == 2
    # Additive smoothing α = 1: p̂ = (counts + 1) / (4 + 8).
    q = (np.array([3, 1, 0, 0, 0, 0, 0, 0]) + 1) / 12
    sm = sample_quality.mode_metrics(x, ring, smoothing=1.0)
    assert sm.reverse_kl == pytest.approx(float(np.sum(q * np.log(8 * q))))


def test_boundary_of_high_quality_is_three_std() -> None:
    ring = ring_mixture()
    inside = ring.centres[0] + torch.tensor([2.99 * ring.std, 0.0])
    outside = ring.centres[0] + torch.tensor([3.01 * ring.std, 0.0])
    assert sample_quality.mode_metrics(inside[None], ring).high_quality_share == 1.0
    m = sample_quality.mode_metrics(outside[None], ring)
    assert m.high_quality_share == 0.0 and m.modes_captured == 0
    assert m.reverse_kl == math.inf


def test_mode_metrics_rejects_bad_input() -> None:
    ring = ring_mixture()
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        sample_quality.mode_metrics(torch.zeros(10, 3), ring)
    with pytest.raises(ValueError, match="NaN"):
        sample_quality.mode_metrics(torch.full((4, 2), float("nan")), ring)
    with pytest.raises(ValueError, match="empty"):
        sample_quality.mode_metrics(torch.zeros(0, 2), ring)


# ---------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------


def _random_cov(rng: np.random.Generator, f: int) -> np.ndarray:
    a = rng.normal(size=(f, f))
    return a @ a.T / f + 0.1 * np.eye(f)


def _frechet_scipy(mu1, s1, mu2, s2) -> float:
    """Reference: the FID formula with scipy.linalg.sqrtm of the non-symmetric product."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_gaussian_frechet_distance_matches_scipy_sqrtm() -> None:
    rng = np.random.default_rng(0)
    f = 6
    mu1, mu2 = rng.normal(size=f), rng.normal(size=f)
    s1, s2 = _random_cov(rng, f), _random_cov(rng, f)
    got = sample_quality.gaussian_frechet_distance(*(torch.tensor(a) for a in (mu1, s1, mu2, s2)))
    assert got == pytest.approx(_frechet_scipy(mu1, s1, mu2, s2), rel=1e-8)


def test_gaussian_frechet_distance_one_dimensional_closed_form() -> None:
    # In 1-D: (μ1 − μ2)² + (σ1 − σ2)².
    got = sample_quality.gaussian_frechet_distance(
        torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-2.0]), torch.tensor([[9.0]])
    )
    assert got == pytest.approx(9.0 + 1.0)


def test_frechet_distance_of_samples_matches_closed_form() -> None:
    rng = np.random.default_rng(1)
    f, n = 4, 50_000
    mu1, mu2 = rng.normal(size=f), rng.normal(size=f)
    s1, s2 = _random_cov(rng, f), _random_cov(rng, f)
    a = rng.multivariate_normal(mu1, s1, size=n)
    b = rng.multivariate_normal(mu2, s2, size=n)
    exact = _frechet_scipy(mu1, s1, mu2, s2)
    got = sample_quality.frechet_distance(torch.tensor(a), torch.tensor(b))
    # Estimation error of means and covariances is O(1/sqrt(n)) ≈ 0.5 %; allow 3 %.
    assert got == pytest.approx(exact, rel=0.03)


def test_frechet_distance_zero_for_identical_sets_and_symmetric() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 8, generator=g)
    b = torch.randn(400, 8, generator=g) * 1.5 + 0.3
    assert sample_quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert sample_quality.frechet_distance(a, b) == pytest.approx(sample_quality.frechet_distance(b, a),
                                                            rel=1e-8)
    assert sample_quality.frechet_distance(a, b) > 0.1


def test_frechet_distance_handles_singular_covariances() -> None:
    # Fewer samples than features: rank-deficient covariances, still finite and ≥ 0.
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(10, 32, generator=g), torch.randn(10, 32, generator=g)
    d = sample_quality.frechet_distance(a, b)
    assert math.isfinite(d) and d >= 0


def test_frechet_distance_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="feature dimensions differ"):
        sample_quality.frechet_distance(torch.randn(5, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"\[n, F\]"):
        sample_quality.frechet_distance(torch.randn(5), torch.randn(5, 4))
    with pytest.raises(ValueError, match="at least 2"):
        sample_quality.frechet_distance(torch.randn(1, 3), torch.randn(5, 3))


# ---------------------------------------------------------------------------
# Classifier-based convenience functions (with a stand-in classifier)
# ---------------------------------------------------------------------------


class _PixelStats(torch.nn.Module):
    """A stand-in classifier: features are pixel means per row."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Linear(28, 3)  # a parameter: the metrics read the device from it

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 3))  # [N, 28]


def test_classifier_frechet_distance_equals_feature_distance() -> None:
    torch.manual_seed(0)
    clf = _PixelStats()
    a = torch.rand(300, 1, 28, 28)
    b = torch.rand(200, 1, 28, 28) ** 2
    expected = sample_quality.frechet_distance(a.mean(dim=(1, 3)), b.mean(dim=(1, 3)))
    got = sample_quality.classifier_frechet_distance(a, b, clf, batch_size=64)
    assert got == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="to_float_images"):
        sample_quality.classifier_frechet_distance(torch.zeros(3, 28, 28, dtype=torch.uint8), b, clf)


class _CountingPixelStats(_PixelStats):
    """The stand-in classifier, counting how many images it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.embedded += x.shape[0]
        return super().features(x)


def test_gaussian_fit_matches_numpy_mean_and_covariance() -> None:
    g = torch.Generator().manual_seed(4)
    feats = torch.randn(300, 5, generator=g, dtype=torch.float32) * torch.arange(1, 6) + 2
    mean, cov = sample_quality.gaussian_fit(feats)
    x = feats.double().numpy()
    assert mean.dtype == cov.dtype == torch.float64 and cov.shape == (5, 5)
    np.testing.assert_allclose(mean.numpy(), x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov.numpy(), np.cov(x, rowvar=False, ddof=1), rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2"):
        sample_quality.gaussian_fit(torch.randn(1, 5))


def test_frechet_reference_embeds_the_reference_once_and_matches_scipy() -> None:
    torch.manual_seed(0)
    clf = _CountingPixelStats()
    reference = torch.rand(400, 1, 28, 28)
    fd_to_reference = sample_quality.FrechetReference(reference, clf, batch_size=128)
    assert clf.embedded == 400 and fd_to_reference.n == 400
    sets = [torch.rand(300, 1, 28, 28) ** p for p in (1.0, 2.0, 0.5)]
    got = [fd_to_reference(images) for images in sets]
    assert clf.embedded == 400 + 3 * 300  # the reference is not embedded again
    for images, value in zip(sets, got, strict=True):
        # Independent reference: numpy fits and the FID formula with scipy's sqrtm.
        fa = images.mean(dim=(1, 3)).double().numpy()
        fb = reference.mean(dim=(1, 3)).double().numpy()
        expected = _frechet_scipy(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
        assert value == pytest.approx(expected, rel=1e-6, abs=1e-9)
        # And the same number, bit for bit, as the one-off function it replaces.
        assert value == sample_quality.classifier_frechet_distance(images, reference, clf, batch_size=128)
    assert got[0] < got[1] and got[0] < got[2]  # same distribution as the reference: closest


def test_frechet_reference_rejects_bad_input() -> None:
    clf = _PixelStats()
    with pytest.raises(ValueError, match="to_float_images"):
        sample_quality.FrechetReference(torch.zeros(3, 28, 28, dtype=torch.uint8), clf)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        sample_quality.FrechetReference(torch.rand(4, 1, 28, 28), clf, batch_size=0)
    fd = sample_quality.FrechetReference(torch.rand(10, 1, 28, 28), clf)
    with pytest.raises(ValueError, match=r"images must be float images \[N, 1, 28, 28\]"):
        fd(torch.rand(10, 784))
    with pytest.raises(ValueError, match="at least 2"):
        fd(torch.rand(1, 1, 28, 28))


def test_gaussian_frechet_distance_refuses_what_is_not_a_gaussian() -> None:
    """Issue 18: a mean [F, 1] broadcast (two identical Gaussians gave 0.065), −I as a
    covariance gave 0.0, and a non-symmetric covariance was read by its lower triangle."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    cov, mu = a @ a.T + torch.eye(3, dtype=torch.float64), torch.randn(3, generator=g)
    assert sample_quality.gaussian_frechet_distance(mu, cov, mu, cov) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match=r"mu_b must have shape \[F=3\], got \(3, 1\)"):
        sample_quality.gaussian_frechet_distance(mu, cov, mu[:, None], cov)
    with pytest.raises(ValueError, match="cov_b must be positive semi-definite.*-1"):
        sample_quality.gaussian_frechet_distance(mu, cov, mu, -torch.eye(3))
    skew = cov.clone()
    skew[0, 2] += 1.0
    with pytest.raises(ValueError, match="cov_a must be symmetric"):
        sample_quality.gaussian_frechet_distance(mu, skew, mu, cov)
    with pytest.raises(ValueError, match="cov_a contains NaN"):
        sample_quality.gaussian_frechet_distance(mu, torch.full((3, 3), float("nan")), mu, cov)


def test_mode_metrics_refuses_a_nan_smoothing() -> None:
    """Issue 18: smoothing = NaN passed the `< 0` check and gave a NaN KL."""
    samples = torch.zeros(10, 2)
    with pytest.raises(ValueError, match=r"smoothing must be a finite number >= 0 \(a pseudo-count\), got nan"):
        sample_quality.mode_metrics(samples, ring_mixture(), smoothing=float("nan"))
    with pytest.raises(ValueError, match="n_std must be a finite number > 0"):
        sample_quality.mode_metrics(samples, ring_mixture(), n_std=float("nan"))
    assert sample_quality.mode_metrics(samples, ring_mixture(), smoothing=np.float32(1.0)).n_modes == 8
