"""Tests of genmodels.gibbs against closed forms and brute force.

Monte-Carlo tolerances are stated next to each assertion; they are ≥ 5 standard errors
so the tests are not flaky, and tight enough that a wrong conditional variance or mean
(e.g. 1 instead of 1 − ρ², or ρ² instead of ρ) fails.
"""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.experiments.gibbs_mixing import MixingSettings, measure_mixing, mixing_closed_form
from genmodels.gibbs import (
    autocorrelation,
    effective_sample_size,
    gibbs_bivariate_gaussian,
    gibbs_discrete_pair,
    integrated_autocorrelation_time,
)


def _exact_bivariate(n: int, rho: float, generator: torch.Generator) -> torch.Tensor:
    """Independent draws from N(0, [[1, ρ], [ρ, 1]]) via the Cholesky factor."""
    z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return torch.stack([z[:, 0], rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1]], dim=1)


def _ar1(n: int, phi: float, generator: torch.Generator) -> torch.Tensor:
    """A stationary AR(1) series x_t = φ x_{t−1} + ε_t, built with a plain loop."""
    eps = torch.randn(n, generator=generator, dtype=torch.float64)
    x = torch.empty(n, dtype=torch.float64)
    x[0] = eps[0] / math.sqrt(1 - phi**2)
    prev = float(x[0])
    values = eps.tolist()
    out = [prev]
    for t in range(1, n):
        prev = phi * prev + values[t]
        out.append(prev)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("rho", [0.8, -0.6])
def test_systematic_chain_has_target_moments_and_lag1_rho_squared(rho: float) -> None:
    g = torch.Generator().manual_seed(0)
    n_chains, n_steps = 200, 2000
    start = _exact_bivariate(n_chains, rho, g)  # start in the target: no burn-in needed
    chains = gibbs_bivariate_gaussian(rho, n_steps, n_chains, start=start, generator=g)
    assert chains.shape == (n_chains, n_steps, 2)
    assert chains.dtype == torch.float64
    flat = chains.reshape(-1, 2)
    # Each coordinate is AR(1) with φ = ρ², so Var(mean) ≈ τ/N, τ = (1+ρ²)/(1−ρ²) ≤ 4.6,
    # N = 4e5 → SE ≤ 0.0034; tolerance 0.02 (≈ 6 SE).
    assert flat.mean(0).abs().max() < 0.02
    cov = torch.cov(flat.T)
    # SE of the sample (co)variances is ≤ ~0.006 here; tolerance 0.03.
    target = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
    assert (cov - target).abs().max() < 0.03
    # Lag-1 autocorrelation ρ² per coordinate (eq-gibbs-lag1-autocorrelation), pooled
    # over chains: SE ≈ sqrt((1 − φ²)/N) ≤ 0.0016; tolerance 0.01.
    for c in range(2):
        x = chains[:, :, c]
        lag1 = (x[:, 1:] * x[:, :-1]).mean() / (x * x).mean()
        assert float(lag1) == pytest.approx(rho**2, abs=0.01)
        # and the library's estimator agrees on the chains
        acf = autocorrelation(x, max_lag=1)[:, 1].mean()
        assert float(acf) == pytest.approx(rho**2, abs=0.02)


def test_random_scan_leaves_target_invariant() -> None:
    rho = 0.8
    g = torch.Generator().manual_seed(1)
    n_chains = 40_000
    start = _exact_bivariate(n_chains, rho, g)
    chains = gibbs_bivariate_gaussian(rho, 30, n_chains, scan="random", start=start, generator=g)
    final = chains[:, -1]  # independent across chains, exactly from the target if invariant
    # SE of each (co)variance entry ≤ sqrt(2/N) ≈ 0.007; tolerance 0.035 (5 SE).
    target = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
    assert (torch.cov(final.T) - target).abs().max() < 0.035
    assert final.mean(0).abs().max() < 0.035
    # Random scan moves one coordinate per step: about half the steps change x.
    moved_x = (chains[:, 1:, 0] != chains[:, :-1, 0]).double().mean()
    assert float(moved_x) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("scan", ["systematic", "random"])
def test_chains_from_far_away_converge_to_target(scan: str) -> None:
    rho = 0.5
    g = torch.Generator().manual_seed(2)
    chains = gibbs_bivariate_gaussian(
        rho, 80, 20_000, scan=scan, start=torch.tensor([6.0, -6.0]), generator=g
    )
    final = chains[:, -1]
    target = torch.tensor([[1.0, rho], [rho, 1.0]])
    # SE ≈ 0.01 for 20 000 independent chains; tolerance 0.05.
    assert (torch.cov(final.T) - target).abs().max() < 0.05
    assert final.mean(0).abs().max() < 0.05


def test_autocorrelation_matches_brute_force_loop() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(257, generator=g, dtype=torch.float64).cumsum(0)
    n, m = len(x), x.mean()
    c0 = float(((x - m) ** 2).sum()) / n
    brute = []
    for k in range(21):
        ck = sum(float((x[t] - m) * (x[t + k] - m)) for t in range(n - k)) / n
        brute.append(ck / c0)
    acf = autocorrelation(x, max_lag=20)
    assert acf.shape == (21,)
    assert torch.allclose(acf, torch.tensor(brute, dtype=torch.float64), atol=1e-10)
    # batched along leading dimensions
    both = autocorrelation(torch.stack([x, -x]), max_lag=20)
    assert torch.allclose(both[1], acf, atol=1e-10)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9, -0.5])
def test_effective_sample_size_of_ar1_matches_closed_form(phi: float) -> None:
    g = torch.Generator().manual_seed(4)
    n = 100_000
    x = _ar1(n, phi, g)
    expected = n * (1 - phi) / (1 + phi)
    # The relative SE of Geyer's τ̂ is ≈ sqrt(2(2M+1)/n) · (1+φ)/(1−φ)-ish; for these φ it is
    # below 4 %, so a 12 % tolerance is ≥ 3 SE.
    assert effective_sample_size(x) == pytest.approx(expected, rel=0.12)
    assert integrated_autocorrelation_time(x) == pytest.approx((1 + phi) / (1 - phi), rel=0.12)


def test_ess_falls_with_correlation_as_derived() -> None:
    # Systematic-scan x-chain is AR(1) with φ = ρ², so ESS/n = (1 − ρ²)/(1 + ρ²).
    g = torch.Generator().manual_seed(5)
    n = 50_000
    for rho in (0.3, 0.9):
        start = _exact_bivariate(1, rho, g)
        x = gibbs_bivariate_gaussian(rho, n, start=start, generator=g)[0, :, 0]
        ratio = effective_sample_size(x) / n
        assert ratio == pytest.approx((1 - rho**2) / (1 + rho**2), rel=0.15)


def test_same_seed_same_chain() -> None:
    a = gibbs_bivariate_gaussian(
        0.7, 50, 3, scan="random", generator=torch.Generator().manual_seed(9)
    )
    b = gibbs_bivariate_gaussian(
        0.7, 50, 3, scan="random", generator=torch.Generator().manual_seed(9)
    )
    c = gibbs_bivariate_gaussian(
        0.7, 50, 3, scan="random", generator=torch.Generator().manual_seed(8)
    )
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"rho": 1.0}, ValueError, "strictly between"),
        ({"rho": float("nan")}, ValueError, "strictly between"),
        ({"scan": "diagonal"}, ValueError, "scan must be"),
        ({"n_steps": 0}, ValueError, "n_steps"),
        ({"n_chains": 0}, ValueError, "n_chains"),
        ({"start": torch.zeros(3, 2)}, ValueError, r"\[n_chains, 2\]"),
        ({"start": torch.zeros(2, dtype=torch.long)}, TypeError, "floating-point"),
    ],
)
def test_bad_input_gives_clear_error(kwargs: dict, error: type, match: str) -> None:
    args = {"rho": 0.5, "n_steps": 10, "n_chains": 2} | kwargs
    with pytest.raises(error, match=match):
        gibbs_bivariate_gaussian(**args)


def test_mixing_diagnostics_reject_bad_input() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        autocorrelation(torch.arange(10))
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(torch.randn(10), max_lag=10)
    with pytest.raises(ValueError, match="constant"):
        autocorrelation(torch.ones(10))
    with pytest.raises(ValueError, match="1-D"):
        effective_sample_size(torch.randn(2, 10))


def test_discrete_pair_gibbs_reaches_the_joint_table() -> None:
    # The tutorial's example: after 20 steps (X_20, Y_20) is distributed as P(X, Y).
    joint = torch.tensor([[0.30, 0.05, 0.05], [0.05, 0.20, 0.05], [0.02, 0.08, 0.20]])
    g = torch.Generator().manual_seed(6)
    n = 50_000
    chains = gibbs_discrete_pair(joint, 20, n, start=0, generator=g)
    assert chains.shape == (n, 20, 2) and chains.dtype == torch.long
    x, y = chains[:, -1, 0], chains[:, -1, 1]
    empirical = torch.bincount(x * 3 + y, minlength=9).double().reshape(3, 3) / n
    # SE per cell ≤ sqrt(0.25/5e4) ≈ 0.0022; tolerance 0.012 (> 5 SE).
    assert (empirical - joint.double()).abs().max() < 0.012
    # At step 1 the chain started at X=0 is still far from the target: Y_1 ~ P(Y | X=0).
    y1 = torch.bincount(chains[:, 0, 1], minlength=3).double() / n
    assert torch.allclose(y1, (joint[0] / joint[0].sum()).double(), atol=0.012)
    with pytest.raises(ValueError, match="positive mass"):
        gibbs_discrete_pair(torch.tensor([[0.5, 0.0], [0.5, 0.0]]), 3)



# --- chapter 3's mixing table ----------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, -0.7])
def test_mixing_closed_form_sums_the_ar1_autocorrelations(rho: float) -> None:
    # Independent reference: an AR(1) process with φ = ρ² has ρ_k = φ^k, so
    # τ = 1 + 2 Σ_k φ^k, summed numerically here (φ^2000 is negligible for these ρ).
    phi = rho**2
    tau = 1 + 2 * sum(phi**k for k in range(1, 2000))
    closed = mixing_closed_form(rho)
    assert closed.lag1 == pytest.approx(phi)
    assert closed.tau == pytest.approx(tau, rel=1e-9)
    assert closed.ess_per_update == pytest.approx(1 / (2 * tau), rel=1e-9)  # two updates per sweep
    with pytest.raises(ValueError, match="strictly between"):
        mixing_closed_form(1.0)


def _tau_relative_error(tau: float, n_per_chain: int, n_chains: int) -> float:
    """Standard deviation of τ̂/τ averaged over chains: Sokal's sqrt(2(2M + 1)/n) for a
    summation window M, here M ≈ 5τ (where Geyer's sequence typically stops)."""
    return math.sqrt(2 * (2 * 5 * tau + 1) / n_per_chain) / math.sqrt(n_chains)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_measured_mixing_agrees_with_the_closed_form_within_monte_carlo_error(rho: float) -> None:
    settings = MixingSettings(rhos=(rho,), n_sweeps=2000, n_chains=8, burn_in=100)
    m = measure_mixing(rho, settings, torch.Generator().manual_seed(1))
    closed = mixing_closed_form(rho)
    per_chain = settings.n_sweeps - settings.burn_in
    n = settings.n_chains * per_chain
    # The lag-1 estimator of an AR(1) process has standard deviation sqrt((1 − φ²)/n);
    # 5 of them, plus its O(1/n_per_chain) bias.
    assert abs(m.lag1 - closed.lag1) < 5 * math.sqrt((1 - closed.lag1**2) / n) + 0.005
    assert m.lag1_se == pytest.approx(math.sqrt((1 - closed.lag1**2) / n), rel=0.6)
    tolerance = 4 * _tau_relative_error(closed.tau, per_chain, settings.n_chains)
    assert m.tau == pytest.approx(closed.tau, rel=tolerance)
    assert m.ess_per_update_systematic == pytest.approx(closed.ess_per_update, rel=tolerance)
    if rho == 0.0:
        # The random scan keeps a coordinate with probability ½: AR(1) with φ = ½, τ = 3,
        # so 1/3 of an independent draw per update (chapter 3).
        tolerance = 4 * _tau_relative_error(3, 2 * per_chain, settings.n_chains)
        assert m.ess_per_update_random == pytest.approx(1 / 3, rel=tolerance)


def test_measure_mixing_draws_the_systematic_then_the_random_chains() -> None:
    """The chapter's draw order, so that the results appendix repeats the chapter's draws."""
    settings = MixingSettings(n_sweeps=30, n_chains=2, burn_in=5)
    g = torch.Generator().manual_seed(3)
    measure_mixing(0.5, settings, g)
    reference = torch.Generator().manual_seed(3)
    gibbs_bivariate_gaussian(0.5, 30, 2, generator=reference)
    gibbs_bivariate_gaussian(0.5, 60, 2, scan="random", generator=reference)
    assert torch.equal(g.get_state(), reference.get_state())
    single = measure_mixing(0.5, MixingSettings(n_sweeps=30, n_chains=1, burn_in=5),
                            torch.Generator().manual_seed(3))
    assert single.lag1_se is None and single.tau_se is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_sweeps": 100, "burn_in": 99}, "burn_in"),
        ({"n_chains": 0}, "n_chains must be a positive int"),
        ({"rhos": (0.5, 1.0)}, "strictly between"),
    ],
)
def test_mixing_settings_are_checked(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MixingSettings(**kwargs)
