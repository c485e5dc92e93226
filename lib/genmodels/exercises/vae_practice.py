"""Checks for the exercises of chapter 6 (VAEs in practice).

* Exercise 6.1 — :func:`check_kl_per_latent_dimension`: the average KL of each latent
  dimension (reference: ``genmodels.measure.vae_diagnostics.kl_per_dimension``).
* Exercise 6.2 — :func:`check_activity_per_unit`: the activity A_d = Cov_x(E_q[z_d|x])
  of each latent unit (reference: ``genmodels.measure.vae_diagnostics.unit_activity``).
* Exercise 6.3 — :func:`check_iwae_from_log_weights`: the IWAE bound from a table of
  log importance weights (reference: ``torch.logsumexp`` minus log k).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genmodels.exercises._core import Exercise, Mistake, with_accelerator_copies
from genmodels.measure.vae_diagnostics import kl_per_dimension, unit_activity


def _require_per_dimension(ex: Exercise, got: object, n: int, d: int, case: str) -> None:
    """Name the common wrong reduction of ``[N, D] -> [D]``: over D instead of over N."""
    __tracebackhide__ = True
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (n,) and n != d:
        ex.fail(
            f"wrong shape: expected [{d}] (one value per latent dimension), got [{n}] (one value "
            f"per image): you reduced over the {d} latent dimensions; reduce over the {n} images "
            "(dimension 0) instead.",
            case,
        )


def _latent_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, mu [N, D], logvar [N, D]) with N != D, a collapsed case and float64."""
    cases = [
        ("N = 50 images, D = 16", 2 * torch.randn(50, 16, generator=generator), torch.randn(50, 16, generator=generator)),
        ("N = 7 images, D = 3", torch.randn(7, 3, generator=generator) + 1.0, torch.randn(7, 3, generator=generator) - 2.0),
        ("N = 2 images, D = 1", torch.tensor([[0.3], [-1.2]]), torch.tensor([[-0.5], [0.4]])),
        ("a collapsed posterior: mu = 0, logvar = 0 for N = 5, D = 4 (KL must be 0)", torch.zeros(5, 4), torch.zeros(5, 4)),
    ]
    mu, logvar = cases[1][1:]
    cases.append(("N = 7 images, D = 3, float64", mu.double(), logvar.double()))
    with_accelerator_copies(cases)
    return cases


# --- Exercise 6.1 ----------------------------------------------------------------------


def _kl_terms(mu: torch.Tensor, logvar: torch.Tensor, var: torch.Tensor, log_var: torch.Tensor, one: float = 1.0) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + var - one - log_var)


def _kl_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "you summed over the images; the KL per dimension is an *average* over the N images "
            "(it must not grow with the number of images).",
            lambda mu, lv: _kl_terms(mu, lv, lv.exp(), lv).sum(0),
        ),
        Mistake(
            "the log-variance was used as the variance: the network outputs log σ², so σ² = exp(logvar).",
            lambda mu, lv: _kl_terms(mu, lv, lv, lv).mean(0),
        ),
        Mistake(
            "the standard deviation σ = exp(logvar / 2) was used where the variance σ² = exp(logvar) belongs.",
            lambda mu, lv: _kl_terms(mu, lv, (0.5 * lv).exp(), lv).mean(0),
        ),
        Mistake(
            "the −1 is missing: KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²), which is 0 when the "
            "posterior equals the prior.",
            lambda mu, lv: _kl_terms(mu, lv, lv.exp(), lv, one=0.0).mean(0),
        ),
        Mistake(
            "the factor ½ is missing: KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²).",
            lambda mu, lv: 2 * _kl_terms(mu, lv, lv.exp(), lv).mean(0),
        ),
        Mistake(
            "sign error: that is −KL. The closed form is −½ Σ (1 + log σ² − μ² − σ²): mind the "
            "leading minus.",
            lambda mu, lv: -_kl_terms(mu, lv, lv.exp(), lv).mean(0),
        ),
        Mistake(
            "the log σ² term has the wrong sign: KL = ½(μ² + σ² − 1 − log σ²).",
            lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 + lv).mean(0),
        ),
    ]


def check_kl_per_latent_dimension(kl_per_latent_dimension: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 6.1: ``kl_per_latent_dimension(mu [N, D], logvar [N, D]) -> [D]`` nats.

    Reference: :func:`genmodels.measure.vae_diagnostics.kl_per_dimension`. Book: eq-kl-per-dimension.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(6)
    with Exercise("6.1", "kl_per_latent_dimension") as ex:
        for label, mu, logvar in _latent_cases(generator):
            expected = kl_per_dimension(mu, logvar)
            got = ex.call(kl_per_latent_dimension, mu, logvar)
            _require_per_dimension(ex, got, mu.shape[0], mu.shape[1], label)
            ex.compare(
                got,
                expected,
                case=label,
                args=(mu, logvar),
                mistakes=_kl_mistakes(),
                sizes={"the N images": mu.shape[0], "the D latent dimensions": mu.shape[1]},
                nonfinite_hint="Use exp(logvar) for σ², never log of a variance computed by hand.",
                atol=1e-5,
                rtol=1e-5,
            )


# --- Exercise 6.2 ----------------------------------------------------------------------


def _activity_mistakes() -> list[Mistake]:
    def centred(mu: torch.Tensor) -> torch.Tensor:
        return mu - mu.mean(0, keepdim=True)

    return [
        Mistake(
            "you divided by N; the activity is the *sample* variance over the images, divided by "
            "N − 1 (as torch.var does by default).",
            lambda mu: centred(mu).pow(2).mean(0),
        ),
        Mistake(
            "that is the standard deviation; the activity A_d is a variance (the threshold 0.01 is "
            "compared with a variance).",
            lambda mu: centred(mu).pow(2).sum(0).div(mu.shape[0] - 1).sqrt(),
        ),
        Mistake(
            "you did not subtract the mean over the images: that is the second moment E[μ_d²], not "
            "the variance. A unit whose mean is the same non-zero value for every image is inactive.",
            lambda mu: mu.pow(2).sum(0) / (mu.shape[0] - 1),
        ),
        Mistake(
            "you did not subtract the mean over the images: that is the second moment E[μ_d²], not "
            "the variance. A unit whose mean is the same non-zero value for every image is inactive.",
            lambda mu: mu.pow(2).mean(0),
        ),
        Mistake(
            "you returned the mean of each unit over the images; the activity is its variance.",
            lambda mu: mu.mean(0),
        ),
    ]


def _activity_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    cases = [(label, mu) for label, mu, _ in _latent_cases(generator) if "collapsed" not in label]
    offset = torch.randn(40, 5, generator=generator) * torch.tensor([1.0, 0.1, 0.0, 2.0, 0.05]) + 3.0
    cases.append(("N = 40, D = 5, every unit offset by 3 and one constant unit", offset))
    return cases


def check_activity_per_unit(activity_per_unit: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 6.2: ``activity_per_unit(mu [N, D]) -> [D]``, the sample variance
    (N − 1) over the images of each unit's posterior mean.

    Reference: :func:`genmodels.measure.vae_diagnostics.unit_activity`. Book: eq-active-units.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(16)
    with Exercise("6.2", "activity_per_unit") as ex:
        for label, mu in _activity_cases(generator):
            expected = unit_activity(mu)
            got = ex.call(activity_per_unit, mu)
            _require_per_dimension(ex, got, mu.shape[0], mu.shape[1], label)
            ex.compare(
                got,
                expected,
                case=label,
                args=(mu,),
                mistakes=_activity_mistakes(),
                sizes={"the N images": mu.shape[0], "the D latent dimensions": mu.shape[1]},
                atol=1e-5,
                rtol=1e-4,
            )


# --- Exercise 6.3 ----------------------------------------------------------------------


def reference_iwae_from_log_weights(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/k) Σ_i exp(log_weights[i]) per column, computed in float64: ``[k, B] -> [B]``.

    Book: eq-iwae-bound (chapter 5).
    """
    k = log_weights.shape[0]
    return (torch.logsumexp(log_weights.double(), dim=0) - math.log(k)).to(log_weights.dtype)


def _iwae_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "the 1/k is missing (a −log k term): the bound is the log of the *mean* of the k weights; "
            "a log of their sum grows with k and is not a lower bound on log p(x).",
            lambda lw: torch.logsumexp(lw, dim=0),
        ),
        Mistake(
            "that is the mean of the log-weights, the one-sample ELBO averaged over k draws; the IWAE "
            "bound is the log of the mean of the weights, log (1/k) Σ_i w_i, which is larger.",
            lambda lw: lw.mean(0),
        ),
        Mistake(
            "exp of log-weights around −250 underflows to 0 in float32 and log(0) = −inf. Compute "
            "log Σ_i exp(a_i) stably: subtract the largest a_i first (torch.logsumexp does this).",
            lambda lw: torch.log(lw.exp().mean(0)),
        ),
        Mistake(
            "that is the largest log-weight, max_i log w_i; it approximates the log-sum, but the bound "
            "is the log of the mean of all k weights.",
            lambda lw: lw.max(0).values,
        ),
        Mistake(
            "you took the largest log-weight minus log k; the log-sum-exp trick adds back "
            "log Σ_i exp(a_i − max) after subtracting the maximum.",
            lambda lw: lw.max(0).values - math.log(lw.shape[0]),
        ),
    ]


def _iwae_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    cases = [
        ("k = 10 samples, B = 4 images, log-weights near -250", -250 + 5 * torch.randn(10, 4, generator=generator)),
        ("k = 1 sample (the bound is the log-weight)", -230 + torch.randn(1, 6, generator=generator)),
        ("k = 100, B = 1, log-weights near -2000", -2000 + 20 * torch.randn(100, 1, generator=generator)),
        ("k = 5, B = 3, moderate log-weights", torch.randn(5, 3, generator=generator)),
    ]
    cases.append(("k = 10, B = 4, float64", cases[0][1].double()))
    with_accelerator_copies(cases)
    return cases


def check_iwae_from_log_weights(iwae_from_log_weights: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 6.3: ``iwae_from_log_weights(log_weights [k, B]) -> [B]`` nats.

    Reference: :func:`reference_iwae_from_log_weights` (float64 log-sum-exp). Book:
    eq-iwae-bound (chapter 5).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(26)
    with Exercise("6.3", "iwae_from_log_weights") as ex:
        for label, log_weights in _iwae_cases(generator):
            k, b = log_weights.shape
            expected = reference_iwae_from_log_weights(log_weights)
            got = ex.call(iwae_from_log_weights, log_weights)
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (k,) and k != b:
                ex.fail(
                    f"wrong shape: expected [{b}] (one bound per image), got [{k}]: you reduced over the "
                    f"{b} images; the k = {k} samples of one image are a column (dimension 0).",
                    label,
                )
            ex.compare(
                got,
                expected,
                case=label,
                args=(log_weights,),
                mistakes=_iwae_mistakes(),
                sizes={"the k samples": k, "the B images": b},
                nonfinite_hint="Log-weights of images are far below the smallest float32 exponent.",
                atol=1e-4,
                rtol=1e-5,
            )
