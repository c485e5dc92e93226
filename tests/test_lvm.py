"""Tests of genmodels.lvm against scipy, scikit-learn, torch.distributions and
linear-Gaussian formulas computed independently."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.decomposition import PCA
from torch.distributions import MultivariateNormal

from genmodels.lvm import PPCA, GaussianMixture, em_step, fit_gaussian_mixture, fit_ppca

DT = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mixture() -> GaussianMixture:
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=DT)
    means = torch.tensor([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]], dtype=DT)
    covs = torch.stack(
        [
            torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=DT),
            torch.tensor([[0.4, 0.0], [0.0, 1.5]], dtype=DT),
            torch.tensor([[0.8, -0.2], [-0.2, 0.3]], dtype=DT),
        ]
    )
    return GaussianMixture(weights, means, covs)


# ----------------------------------------------------------------- Gaussian mixtures


def test_gmm_log_prob_matches_brute_force_sum_of_scipy_densities():
    gmm = _mixture()
    x = torch.randn(7, 2, generator=gen(1), dtype=DT) * 4
    brute = sum(
        float(w) * scipy.stats.multivariate_normal(m.numpy(), c.numpy()).pdf(x.numpy())
        for w, m, c in zip(gmm.weights, gmm.means, gmm.covariances, strict=True)
    )
    np.testing.assert_allclose(gmm.log_prob(x).numpy(), np.log(brute), rtol=1e-10)


def test_gmm_responsibilities_follow_bayes_rule():
    gmm = _mixture()
    x = torch.tensor([[4.0, 0.0], [0.0, 4.0], [1.0, 1.0]], dtype=DT)
    joint = np.stack(
        [
            float(w) * scipy.stats.multivariate_normal(m.numpy(), c.numpy()).pdf(x.numpy())
            for w, m, c in zip(gmm.weights, gmm.means, gmm.covariances, strict=True)
        ],
        axis=1,
    )
    np.testing.assert_allclose(
        gmm.responsibilities(x).numpy(), joint / joint.sum(1, keepdims=True), rtol=1e-8
    )


def test_gmm_samples_have_the_mixture_mean_and_covariance():
    gmm = _mixture()
    x, comps = gmm.sample(100_000, generator=gen(2), return_components=True)
    mean = (gmm.weights[:, None] * gmm.means).sum(0)
    second = (gmm.weights[:, None, None] * (gmm.covariances + gmm.means[:, :, None] * gmm.means[:, None, :])).sum(0)
    cov = second - mean[:, None] * mean[None, :]
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.0, rtol=0.03)
    freq = torch.bincount(comps, minlength=3).to(DT) / len(comps)
    torch.testing.assert_close(freq, gmm.weights, atol=0.01, rtol=0)


def test_em_recovers_well_separated_components():
    truth = _mixture()
    x = truth.sample(3000, generator=gen(3))
    fit = fit_gaussian_mixture(x, 3, n_iter=200, generator=gen(4))
    # match fitted components to true ones by trying every permutation
    best = min(
        itertools.permutations(range(3)),
        key=lambda p: float((fit.means[list(p)] - truth.means).norm()),
    )
    perm = list(best)
    torch.testing.assert_close(fit.means[perm], truth.means, atol=0.1, rtol=0)
    torch.testing.assert_close(fit.weights[perm], truth.weights, atol=0.03, rtol=0)
    torch.testing.assert_close(fit.covariances[perm], truth.covariances, atol=0.15, rtol=0)


def test_em_steps_never_decrease_the_log_likelihood():
    x = _mixture().sample(500, generator=gen(5))
    start = GaussianMixture(
        torch.full((3,), 1 / 3, dtype=DT),
        torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], dtype=DT),
        torch.eye(2, dtype=DT).expand(3, 2, 2).clone(),
    )
    lls = []
    m = start
    for _ in range(25):
        lls.append(float(m.log_prob(x).mean()))
        m = em_step(m, x, reg=0.0)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(lls))
    assert lls[-1] > lls[0] + 1


def test_gmm_fit_is_reproducible():
    x = _mixture().sample(300, generator=gen(6))
    a = fit_gaussian_mixture(x, 3, n_iter=20, generator=gen(7))
    b = fit_gaussian_mixture(x, 3, n_iter=20, generator=gen(7))
    assert torch.equal(a.means, b.means)


def test_gmm_bad_input():
    gmm = _mixture()
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        gmm.log_prob(torch.zeros(5, 3, dtype=DT))
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(torch.tensor([0.5, 0.6]), torch.zeros(2, 1), torch.ones(2, 1, 1))
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture(torch.tensor([1.0]), torch.zeros(1, 2), -torch.eye(2)[None])
    with pytest.raises(ValueError, match=r"\[K=2, D=1, D=1\]"):
        GaussianMixture(torch.tensor([0.5, 0.5]), torch.zeros(2, 1), torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match="at least n_components"):
        fit_gaussian_mixture(torch.zeros(2, 2), 3)


# ----------------------------------------------------------------- PPCA


def _ppca(seed: int = 8, d: int = 6, latent: int = 2) -> PPCA:
    g = gen(seed)
    return PPCA(
        torch.randn(d, latent, generator=g, dtype=DT), torch.randn(d, generator=g, dtype=DT), 0.3
    )


def test_ppca_marginal_matches_multivariate_normal():
    model = _ppca()
    x = torch.randn(10, 6, generator=gen(9), dtype=DT) * 2
    C = model.W @ model.W.T + 0.3 * torch.eye(6, dtype=DT)
    ref = MultivariateNormal(model.mu, covariance_matrix=C).log_prob(x)
    torch.testing.assert_close(model.marginal_log_prob(x), ref)
    torch.testing.assert_close(model.marginal_covariance(), C)


def test_ppca_posterior_matches_linear_gaussian_conditioning():
    """(z, x) is jointly Gaussian with Cov(z, x) = W^T and Cov(x) = C, so
    p(z|x) = N(W^T C^-1 (x - mu), I - W^T C^-1 W)."""
    model = _ppca()
    x = torch.randn(4, 6, generator=gen(10), dtype=DT)
    C = model.W @ model.W.T + 0.3 * torch.eye(6, dtype=DT)
    gain = model.W.T @ torch.linalg.inv(C)  # [L, D]
    mean, cov = model.posterior(x)
    torch.testing.assert_close(mean, (x - model.mu) @ gain.T)
    torch.testing.assert_close(cov, torch.eye(2, dtype=DT) - gain @ model.W)


def test_ppca_samples_have_the_marginal_covariance():
    model = _ppca()
    x, z = model.sample(200_000, generator=gen(11), return_latents=True)
    torch.testing.assert_close(x.mean(0), model.mu, atol=0.03, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), model.marginal_covariance(), atol=0.05, rtol=0.03)
    assert z.shape == (200_000, 2)


def test_fit_ppca_matches_scikit_learn_likelihood_and_is_a_maximum():
    truth = _ppca(12, d=8, latent=3)
    x = truth.sample(2000, generator=gen(13))
    fit = fit_ppca(x, 3)
    mean_ll = float(fit.marginal_log_prob(x).mean())
    # scikit-learn's PCA.score is the average PPCA log-likelihood (Tipping & Bishop) of its
    # fit; it estimates the covariance with 1/(N - 1) instead of the ML 1/N, hence the
    # factor below and the 1e-5 tolerance (the difference is ~5e-7 nats here).
    n = x.shape[0]
    sk = PCA(n_components=3).fit(x.numpy())
    assert mean_ll == pytest.approx(sk.score(x.numpy()), abs=1e-5)
    assert mean_ll >= sk.score(x.numpy())  # ours is the exact maximum
    assert fit.sigma2 == pytest.approx(sk.noise_variance_ * (n - 1) / n, rel=1e-8)
    # every perturbation of the parameters lowers the likelihood
    g = gen(14)
    for _ in range(20):
        perturbed = PPCA(
            fit.W + 0.05 * torch.randn(8, 3, generator=g, dtype=DT),
            fit.mu + 0.05 * torch.randn(8, generator=g, dtype=DT),
            fit.sigma2 * float(torch.exp(0.1 * torch.randn(1, generator=g, dtype=DT))),
        )
        assert float(perturbed.marginal_log_prob(x).mean()) < mean_ll


def test_orthogonalized_ppca_has_the_same_marginal_and_a_diagonal_posterior():
    model = _ppca()
    ortho = model.orthogonalized()
    torch.testing.assert_close(ortho.marginal_covariance(), model.marginal_covariance())
    gram = ortho.W.T @ ortho.W
    torch.testing.assert_close(gram, torch.diag(torch.diagonal(gram)))
    _, cov = ortho.posterior(torch.zeros(1, 6, dtype=DT))
    torch.testing.assert_close(cov, torch.diag(torch.diagonal(cov)))


def test_ppca_bad_input():
    model = _ppca()
    with pytest.raises(ValueError, match=r"\[N, 6\]"):
        model.marginal_log_prob(torch.zeros(3, 5, dtype=DT))
    with pytest.raises(TypeError, match="floating"):
        model.marginal_log_prob(torch.zeros(3, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="sigma2 must be a finite number > 0"):
        PPCA(torch.zeros(3, 1), torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="smaller than the data dimension"):
        fit_ppca(torch.randn(10, 3, dtype=DT), 3)


def test_nan_weights_and_nan_data_are_named() -> None:
    """Issue 18: NaN weights built a mixture (NaN < 0 and |NaN − 1| > 1e-4 are false); NaN
    data in the PPCA and mixture fits ended in linear-algebra errors."""
    with pytest.raises(ValueError, match="weights contains NaN"):
        GaussianMixture(torch.tensor([float("nan"), 0.5]), torch.zeros(2, 1), torch.ones(2, 1, 1))
    x = torch.randn(50, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    x[7, 1] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN.*drop or impute"):
        fit_ppca(x, 1)
    with pytest.raises(ValueError, match="x contains NaN"):
        fit_gaussian_mixture(x, 2)
    assert PPCA(torch.ones(3, 1), torch.zeros(3), np.float32(0.5)).sigma2 == 0.5  # NumPy scalar
