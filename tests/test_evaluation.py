"""genmodels.measure.vae_diagnostics against independent references: torch.distributions, NumPy,
SciPy's k-d tree, the exact marginal likelihood of probabilistic PCA, binomial error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from torch.distributions import Normal, kl_divergence

from genmodels import vae
from genmodels.lvm import PPCA, PPCAPosteriorVAE
from genmodels.measure import vae_diagnostics as ev


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ppca_model() -> PPCAPosteriorVAE:
    g = gen(0)
    W = torch.randn(5, 2, generator=g, dtype=torch.float64)
    mu = torch.randn(5, generator=g, dtype=torch.float64)
    return PPCAPosteriorVAE(PPCA(W, mu, 0.3))


# --------------------------------------------------------------------------- KL per dimension


def test_kl_per_dimension_matches_torch_distributions():
    g = gen(1)
    mu = torch.randn(50, 4, generator=g, dtype=torch.float64) * 2
    logvar = torch.randn(50, 4, generator=g, dtype=torch.float64)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(dim=0)
    torch.testing.assert_close(ev.kl_per_dimension(mu, logvar), expected)


def test_kl_per_dimension_matches_a_monte_carlo_estimate():
    """E_q[log q(z) - log p(z)] with 400k samples; tolerance 5 standard errors."""
    mu = torch.tensor([[1.5, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[-1.0, 0.0]], dtype=torch.float64)
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((400_000,))  # [S, 1, 2]
    log_ratio = q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)
    mc = log_ratio.mean(dim=(0, 1))
    se = log_ratio.std(dim=(0, 1)) / math.sqrt(400_000)
    got = ev.kl_per_dimension(mu, logvar)
    assert torch.all((got - mc).abs() < 5 * se + 1e-12), (got, mc, se)
    assert got[1] == 0.0  # a posterior equal to the prior has no KL


def test_kl_per_dimension_sums_to_the_mean_total_kl():
    g = gen(2)
    mu, logvar = torch.randn(30, 6, generator=g), torch.randn(30, 6, generator=g)
    total = vae.kl_to_standard_normal(mu, logvar).mean()
    torch.testing.assert_close(ev.kl_per_dimension(mu, logvar).sum(), total)


# --------------------------------------------------------------------------- active units


def test_unit_activity_is_numpys_sample_variance():
    g = gen(3)
    mu = torch.randn(7, 3, generator=g) * torch.tensor([1.0, 0.1, 3.0])
    expected = np.var(mu.numpy(), axis=0, ddof=1)
    np.testing.assert_allclose(ev.unit_activity(mu).numpy(), expected, rtol=1e-5)


def test_active_units_counts_units_above_the_threshold():
    g = gen(4)
    scales = torch.tensor([1.0, 0.2, 0.05, 0.0, 0.3])  # variances 1, 0.04, 0.0025, 0, 0.09
    mu = torch.randn(20_000, 5, generator=g) * scales + 7.0  # a constant offset is not activity
    assert ev.active_units(mu) == 3
    assert ev.active_units(mu, threshold=0.05) == 2
    assert ev.active_units(mu, threshold=0.0) == 4


# --------------------------------------------------------------------------- bounds in batches


def test_iwae_in_batches_is_exact_at_the_exact_posterior_for_any_batching():
    """With q(z|x) = p(z|x), every importance weight is p(x): the bound is log p(x)."""
    model = _ppca_model()
    x = model.ppca.sample(23, generator=gen(5))
    log_px = model.ppca.marginal_log_prob(x)
    for batch_size, chunk, k in [(5, 3, 7), (23, 64, 1), (100, 2, 5)]:
        got = ev.iwae_in_batches(model, x, k=k, batch_size=batch_size, chunk=chunk, generator=gen(6))
        torch.testing.assert_close(got, log_px)


def test_iwae_bounds_by_k_are_exact_at_the_exact_posterior_and_grow_with_k_below_it():
    exact = _ppca_model()
    x = exact.ppca.sample(11, generator=gen(9))
    log_px = exact.ppca.marginal_log_prob(x)
    bounds = ev.iwae_bounds_by_k(exact, x, (1, 4, 16), gen(10))
    assert list(bounds) == [1, 4, 16]
    for k in bounds:  # q(z|x) = p(z|x): every importance weight is p(x)
        torch.testing.assert_close(bounds[k], log_px)
    # A wrong posterior: the bounds lie below log p(x) and rise with k (eq-iwae-bound).
    shifted = PPCAPosteriorVAE(exact.ppca, mean_shift=0.5, logvar_shift=0.7)
    means = [float(b.mean()) for b in ev.iwae_bounds_by_k(shifted, x, (1, 10, 300), gen(11)).values()]
    assert means[0] < means[1] < means[2] < float(log_px.mean())
    with pytest.raises(ValueError, match="at least one"):
        ev.iwae_bounds_by_k(exact, x, ())
    with pytest.raises(ValueError, match="every k of ks must be a positive int"):
        ev.iwae_bounds_by_k(exact, x, (1, 0))


def test_elbo_in_batches_matches_the_exact_log_likelihood_and_kl():
    model = _ppca_model()
    x = model.ppca.sample(13, generator=gen(7))
    terms = ev.elbo_in_batches(model, x, batch_size=4, n_samples=20_000, generator=gen(8))
    assert terms.elbo.shape == (13,)
    # the ELBO at the exact posterior is log p(x); MC error of 20k samples is < 0.02 nats
    assert torch.all((terms.elbo - model.ppca.marginal_log_prob(x)).abs() < 0.05)
    mean, cov = model.ppca.posterior(x)
    exact_kl = kl_divergence(Normal(mean, torch.diagonal(cov).sqrt()), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(terms.kl, exact_kl)
    torch.testing.assert_close(terms.elbo, terms.reconstruction - terms.kl)


def test_encode_in_batches_equals_one_big_batch():
    model = _ppca_model()
    x = model.ppca.sample(17, generator=gen(9))
    mu, logvar = ev.encode_in_batches(model, x, batch_size=4)
    mean, cov = model.ppca.posterior(x)
    torch.testing.assert_close(mu, mean)
    torch.testing.assert_close(logvar, torch.diagonal(cov).log().expand_as(mean))


# --------------------------------------------------------------------------- latent space


def test_latent_mean_and_covariance_match_numpy():
    g = gen(10)
    z = torch.randn(40, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 3, generator=g, dtype=torch.float64)
    mean, cov = ev.latent_mean_and_covariance(z)
    np.testing.assert_allclose(mean.numpy(), z.numpy().mean(axis=0))
    np.testing.assert_allclose(cov.numpy(), np.cov(z.numpy(), rowvar=False))


def test_moment_matched_kl_matches_torch_distributions():
    from torch.distributions import MultivariateNormal

    g = gen(13)
    z = torch.randn(500, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.0, -0.3, 0.2]], dtype=torch.float64) + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    m, s = torch.tensor(z.numpy().mean(axis=0)), torch.tensor(np.cov(z.numpy(), rowvar=False))
    expected = kl_divergence(MultivariateNormal(m, s), MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)))
    assert math.isclose(ev.moment_matched_kl_to_standard_normal(z), float(expected), rel_tol=1e-9)
    # samples of the prior itself: KL near 0 (it is O(D^2 / N) from the sampling error)
    assert ev.moment_matched_kl_to_standard_normal(torch.randn(20_000, 3, generator=g)) < 0.01


def test_moment_matched_samples_have_the_codes_moments():
    g = gen(14)
    z = torch.randn(400, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.5, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.4, 0.2, 0.3]], dtype=torch.float64) + torch.tensor([3.0, -1.0, 0.5], dtype=torch.float64)
    m, s = z.numpy().mean(axis=0), np.cov(z.numpy(), rowvar=False)
    n = 200_000
    samples = ev.moment_matched_samples(z, n, generator=gen(15))
    assert samples.shape == (n, 3) and samples.dtype == torch.float64
    # each sample moment within 6 standard errors (a correct sampler fails with p < 1e-7)
    mean_se = np.sqrt(np.diag(s) / n)
    cov_se = np.sqrt((s**2 + np.outer(np.diag(s), np.diag(s))) / n)
    assert np.all(np.abs(samples.numpy().mean(axis=0) - m) < 6 * mean_se)
    assert np.all(np.abs(np.cov(samples.numpy(), rowvar=False) - s) < 6 * cov_se)
    # the same seeded generator gives the same codes, another one others
    a, b = ev.moment_matched_samples(z, 5, gen(1)), ev.moment_matched_samples(z, 5, gen(1))
    assert torch.equal(a, b) and not torch.equal(a, ev.moment_matched_samples(z, 5, gen(2)))
    with pytest.raises(ValueError, match="more codes than dimensions"):
        ev.moment_matched_samples(z[:3], 5, gen(1))


def test_nearest_neighbour_distance_matches_a_kd_tree():
    g = gen(11)
    points = torch.randn(300, 2, generator=g, dtype=torch.float64)
    queries = torch.randn(77, 2, generator=g, dtype=torch.float64) * 3
    expected, _ = cKDTree(points.numpy()).query(queries.numpy())
    got = ev.nearest_neighbour_distance(queries, points, chunk=10)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("d, chunk", [(2, 256), (16, 7), (16, 5000)])
def test_nearest_neighbour_distance_in_float32_matches_a_kd_tree(d, chunk):
    # Off-centre codes on the scale of an autoencoder's, exact duplicates included.
    g = gen(20 + d)
    points = 10 * torch.randn(3000, d, generator=g) + 30
    queries = torch.cat([10 * torch.randn(500, d, generator=g) + 30, points[:3]])
    expected, _ = cKDTree(points.double().numpy()).query(queries.double().numpy())
    got = ev.nearest_neighbour_distance(queries, points, chunk=chunk)
    assert got.dtype == torch.float32 and got.shape == (503,)
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert (got[-3:] == 0).all()


def test_far_from_encodings_share_is_one_minus_the_quantile_for_data_like_samples():
    g = gen(12)
    encodings = torch.randn(2000, 2, generator=g)
    reference = torch.randn(2000, 2, generator=g)
    samples = torch.randn(4000, 2, generator=g)
    share = ev.far_from_encodings_share(samples, encodings, reference, quantile=0.9)
    # binomial standard error of a share of 0.1 over 4000 samples is 0.005; the radius is
    # itself estimated from 2000 points, so allow 0.03
    assert abs(share - 0.1) < 0.03, share
    far = torch.randn(500, 2, generator=g) + 20.0
    assert ev.far_from_encodings_share(far, encodings, reference) == 1.0
    assert ev.far_from_encodings_share(encodings[:100], encodings, reference) == 0.0


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"same shape"):
        ev.kl_per_dimension(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        ev.unit_activity(torch.zeros(5))
    with pytest.raises(ValueError, match="N >= 2"):
        ev.unit_activity(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="floating point"):
        ev.active_units(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="threshold"):
        ev.active_units(torch.zeros(4, 2), threshold=-1)
    with pytest.raises(ValueError, match="same dimension"):
        ev.nearest_neighbour_distance(torch.zeros(3, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="quantile"):
        ev.far_from_encodings_share(torch.zeros(3, 2), torch.zeros(4, 2), torch.zeros(4, 2), quantile=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        ev.encode_in_batches(_ppca_model(), torch.zeros(3, 5), batch_size=0)


def test_whitened_codes_have_identity_moments_and_ignore_the_codes_scale():
    g = torch.Generator().manual_seed(3)
    codes = torch.randn(5000, 3, generator=g, dtype=torch.float64) ** 3  # not Gaussian, not unit scale
    held_out = torch.randn(500, 3, generator=g, dtype=torch.float64) ** 3
    white = ev.whiten_codes(codes, codes)
    mean, cov = ev.latent_mean_and_covariance(white)
    assert torch.allclose(mean, torch.zeros(3, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(cov, torch.eye(3, dtype=torch.float64), atol=1e-10)
    samples = torch.randn(400, 3, generator=g, dtype=torch.float64)
    share = ev.far_from_encodings_share(samples, white, ev.whiten_codes(held_out, codes))
    a = torch.tensor([[50.0, 0, 0], [3, 0.2, 0], [1, -2, 7]], dtype=torch.float64)  # any invertible affine map
    moved, moved_held_out = codes @ a.T + 4.0, held_out @ a.T + 4.0
    white_moved = ev.whiten_codes(moved, moved)
    rotation = torch.linalg.lstsq(white, white_moved).solution  # the two whitenings differ by a rotation
    assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(white @ rotation, white_moved, atol=1e-6)
    moved_share = ev.far_from_encodings_share(samples @ rotation, white_moved, ev.whiten_codes(moved_held_out, moved))
    assert moved_share == share
    with pytest.raises(ValueError, match="N > D"):
        ev.whiten_codes(torch.zeros(3, 4), torch.randn(4, 4, generator=g))
