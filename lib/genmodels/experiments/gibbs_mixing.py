"""Chapter 3's experiment "Mixing against correlation": Gibbs chains of the bivariate Gaussian.

:func:`measure_mixing` runs the chains for each ρ of :class:`MixingSettings` and measures the
lag-1 autocorrelation, the integrated autocorrelation time and the effective sample size;
:func:`mixing_closed_form` gives the values they are compared with (Book:
eq-gibbs-lag1-autocorrelation). The sampler and the measures are :mod:`genmodels.gibbs`; the
chapter and the benchmark's ``gibbs`` section call these functions.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch

from genmodels.core.validation import check_positive_int_fields
from genmodels.gibbs import (
    _check_rho,
    autocorrelation,
    effective_sample_size,
    gibbs_bivariate_gaussian,
    integrated_autocorrelation_time,
)


@dataclass(frozen=True)
class MixingSettings:
    """The settings of chapter 3's table "Mixing against correlation".

    For each correlation of ``rhos``, ``n_chains`` chains from the origin: the systematic
    scan runs ``n_sweeps`` sweeps and drops the first ``burn_in``; the random scan runs
    ``2 * n_sweeps`` single-coordinate updates (the same number of coordinate updates) and
    drops ``2 * burn_in``. The defaults are the chapter's.
    """

    rhos: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
    n_sweeps: int = 3000
    n_chains: int = 8
    burn_in: int = 200

    def __post_init__(self) -> None:
        check_positive_int_fields(self, ("n_sweeps", "n_chains", "burn_in"))
        if self.burn_in + 4 > self.n_sweeps:
            raise ValueError(
                f"burn_in ({self.burn_in}) must leave at least 4 of the {self.n_sweeps} "
                "sweeps to measure mixing; lower burn_in or raise n_sweeps."
            )
        for rho in self.rhos:
            _check_rho(rho)


@dataclass(frozen=True)
class MixingClosedForm:
    """The systematic scan's mixing on N(0, [[1, ρ], [ρ, 1]]), see :func:`mixing_closed_form`.

    Attributes:
        lag1: lag-1 autocorrelation of a coordinate, ρ².
        tau: integrated autocorrelation time (1 + ρ²)/(1 − ρ²).
        ess_per_update: effective sample size per coordinate update, (1 − ρ²)/(2(1 + ρ²)).
    """

    lag1: float
    tau: float
    ess_per_update: float


def mixing_closed_form(rho: float) -> MixingClosedForm:
    """Lag-1 autocorrelation, τ and ESS per coordinate update of the systematic scan, exactly.

    Each coordinate is AR(1) with coefficient φ = ρ², so its lag-1 autocorrelation is φ,
    τ = (1 + φ)/(1 − φ), and a sweep (two coordinate updates) is worth 1/τ independent
    draws: the ESS per update is (1 − φ)/(2 (1 + φ)).
    Book: eq-gibbs-lag1-autocorrelation and eq-ess (chapter 3).
    """
    phi = _check_rho(rho) ** 2
    tau = (1 + phi) / (1 - phi)
    return MixingClosedForm(lag1=phi, tau=tau, ess_per_update=(1 - phi) / (2 * (1 + phi)))


@dataclass(frozen=True)
class MixingMeasurement:
    """The mixing of x measured on Gibbs chains, see :func:`measure_mixing`.

    Attributes:
        lag1, lag1_se: lag-1 autocorrelation of the systematic scan, mean over the chains
            and the standard error of that mean (None for one chain).
        tau, tau_se: its integrated autocorrelation time, likewise.
        ess_per_update_systematic: ESS of x per coordinate update (two per sweep).
        ess_per_update_random: the same for the random scan (one update per step).
    """

    lag1: float
    lag1_se: float | None
    tau: float
    tau_se: float | None
    ess_per_update_systematic: float
    ess_per_update_random: float


def _standard_error(values: torch.Tensor) -> float | None:
    """Standard error of the mean of independent values ``[n]`` (None for n = 1)."""
    if values.numel() < 2:
        return None
    return float(values.double().std() / math.sqrt(values.numel()))


def measure_mixing(
    rho: float, settings: MixingSettings | None = None, generator: torch.Generator | None = None
) -> MixingMeasurement:
    """Measure how fast Gibbs chains on N(0, [[1, ρ], [ρ, 1]]) mix, for one row of chapter 3's table.

    Draws ``settings.n_chains`` systematic-scan chains from the origin, then as many
    random-scan chains (in this order, from ``generator``; see :class:`MixingSettings`),
    and measures on the x coordinate after burn-in: the lag-1 autocorrelation (compare
    ρ², eq-gibbs-lag1-autocorrelation), τ by Geyer's initial monotone sequence and the ESS
    per coordinate update of both scans (compare eq-ess). Book: chapter 3, "Mixing
    against correlation"; :func:`mixing_closed_form` gives the exact values.
    """
    s = settings if settings is not None else MixingSettings()
    start = torch.zeros(2)
    systematic = gibbs_bivariate_gaussian(rho, s.n_sweeps, s.n_chains, start=start,
                                          generator=generator)[:, s.burn_in:, 0]
    random_scan = gibbs_bivariate_gaussian(rho, 2 * s.n_sweeps, s.n_chains, scan="random",
                                           start=start, generator=generator)[:, 2 * s.burn_in:, 0]
    lag1 = autocorrelation(systematic, max_lag=1)[:, 1]
    taus = [integrated_autocorrelation_time(chain) for chain in systematic]
    ess_systematic = sum(chain.shape[0] / tau for chain, tau in zip(systematic, taus, strict=True))
    ess_random = sum(effective_sample_size(chain) for chain in random_scan)
    return MixingMeasurement(
        lag1=float(lag1.mean()),
        lag1_se=_standard_error(lag1),
        tau=statistics.fmean(taus),
        tau_se=_standard_error(torch.tensor(taus, dtype=torch.float64)),
        ess_per_update_systematic=ess_systematic / (2 * systematic.numel()),
        ess_per_update_random=ess_random / random_scan.numel(),
    )
