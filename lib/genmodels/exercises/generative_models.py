"""Checks for the exercises of chapter 1 (What is a generative model).

* Exercise 1.1 — :func:`check_mixture_log_density`: the log-density of an equal-weight
  isotropic 2-D Gaussian mixture (reference: ``toy.IsotropicMixture2D.log_prob``).
* Exercise 1.2 — :func:`check_sample_mixture`: ancestral sampling with a generator.
* Exercise 1.3 — :func:`check_average_log_likelihood`: held-out log-likelihood in nats
  per point.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from scipy.stats import chi2

from genmodels.exercises._core import Exercise, Mistake, devices_to_check, with_accelerator_copies
from genmodels.toy import IsotropicMixture2D, grid_mixture, ring_mixture

# --- Exercise 1.1 ----------------------------------------------------------------------


def _sq_dist(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared distances ``[n, K]`` between points ``[n, 2]`` and centres ``[K, 2]``."""
    return ((x[:, None, :] - centres[None].to(x)) ** 2).sum(-1)


def _log_components(x: torch.Tensor, centres: torch.Tensor, var: float, log_norm: float) -> torch.Tensor:
    return -_sq_dist(x, centres) / (2 * var) - log_norm


def _mixture_log_density_mistakes(std: float) -> list[Mistake]:
    """Typical wrong answers of Exercise 1.1, each as the formula that produces it."""
    var, two_pi = std**2, 2 * math.pi
    right_norm = math.log(two_pi * var)

    def lse(log_comp: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(log_comp, dim=1) - math.log(log_comp.shape[1])

    return [
        Mistake(
            "you returned p(x), but the function must return the log-density log p(x).",
            lambda x, c, s: lse(_log_components(x, c, var, right_norm)).exp(),
        ),
        Mistake(
            "log of a sum of exponentials underflows: far from every centre each "
            "exp(...) is 0 in float32 and log(0) = -inf. Compute log Σ_k exp(a_k) stably "
            "(subtract the largest a_k first — torch.logsumexp does this).",
            lambda x, c, s: torch.log(_log_components(x, c, var, right_norm).exp().mean(1)),
        ),
        Mistake(
            "the mixing weights 1/K are missing (a −log K term): with equal weights the "
            "mixture *averages* its K component densities; you summed them.",
            lambda x, c, s: torch.logsumexp(_log_components(x, c, var, right_norm), dim=1),
        ),
        Mistake(
            "you averaged the components' log-densities; a mixture averages the densities "
            "themselves: log p(x) = log( (1/K) Σ_k N(x; c_k, s² I) ), a log of a mean, not a "
            "mean of logs.",
            lambda x, c, s: _log_components(x, c, var, right_norm).mean(1),
        ),
        Mistake(
            "the standard deviation was used where the variance belongs: N(x; c, s² I) has "
            "s² (std squared) in the exponent's denominator and in the normalising constant.",
            lambda x, c, s: lse(_log_components(x, c, std, math.log(two_pi * std))),
        ),
        Mistake(
            "the factor 1/2 in the exponent is missing: log N(x; c, s² I) contains "
            "−‖x − c‖² / (2 s²).",
            lambda x, c, s: lse(_log_components(x, c, var / 2, right_norm)),
        ),
        Mistake(
            "that is the normalising constant of a 1-D Gaussian. In D = 2 dimensions it is "
            "(2π s²)^(−D/2) = 1/(2π s²), so the log-density has −log(2π s²), not −½ log(2π s²).",
            lambda x, c, s: lse(_log_components(x, c, var, 0.5 * right_norm)),
        ),
        Mistake(
            "the Gaussian's normalising constant 1/(2π s²) is missing (the −log(2π s²) term).",
            lambda x, c, s: lse(_log_components(x, c, var, 0.0)),
        ),
        Mistake(
            "the 2π of the normalising constant 1/(2π s²) is missing.",
            lambda x, c, s: lse(_log_components(x, c, var, math.log(var))),
        ),
    ]


def _log_density_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor, float]]:
    """(description, x, centres, std) triples: typical, single point, far away, many modes."""
    ring = ring_mixture(n_modes=8, radius=2.0, std=0.25)
    near = ring.sample(40, generator=generator)
    spread = torch.rand(10, 2, generator=generator) * 6 - 3
    single = torch.tensor([[0.5, -1.0]])
    far = torch.tensor([[30.0, 30.0], [-50.0, 2.0], [2.0, 0.0], [0.0, -80.0]])
    grid = grid_mixture(side=5, spacing=2.0, std=0.5)
    return [
        ("ring of 8, std 0.25, 50 points", torch.cat([near, spread]), ring.centres, 0.25),
        ("one component, std 0.7, one point", single, torch.tensor([[0.5, -1.0]]), 0.7),
        ("one component, std 0.7, 3 points", torch.randn(3, 2, generator=generator), torch.tensor([[0.5, -1.0]]), 0.7),
        ("ring of 8, points far from every centre", far, ring.centres, 0.25),
        ("grid of 25, std 0.5, 200 points", grid.sample(200, generator=generator) * 1.2, grid.centres, 0.5),
    ]


def check_mixture_log_density(mixture_log_density: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 1.1: ``mixture_log_density(x [n,2], centres [K,2], std) -> [n]``.

    Reference: :meth:`genmodels.toy.IsotropicMixture2D.log_prob` (Book: eq-ch1-mixture
    with equal weights and isotropic covariances s² I).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    with Exercise("1.1", "mixture_log_density") as ex:
        cases = _log_density_cases(generator)
        with_accelerator_copies(cases)
        for label, x, centres, std in cases:
            expected = IsotropicMixture2D(centres, std).log_prob(x)
            got = ex.call(mixture_log_density, x, centres, std)
            ex.compare(
                got,
                expected,
                case=label,
                args=(x, centres, std),
                mistakes=_mixture_log_density_mistakes(std),
                sizes={"the K components": centres.shape[0], "the 2 coordinates": 2},
                nonfinite_hint="Far from every centre, exp(...) underflows to 0 and log(0) = -inf.",
                atol=1e-4,
                rtol=1e-5,
            )


# --- Exercise 1.2 ----------------------------------------------------------------------


def _check_sample_shape(ex: Exercise, sample_mixture: Callable[..., torch.Tensor], centres: torch.Tensor, std: float) -> None:
    for n in (1, 5, 64):
        got = ex.call(sample_mixture, n, centres, std, torch.Generator().manual_seed(n))
        case = f"n = {n}"
        ex.require(isinstance(got, torch.Tensor), f"expected a torch.Tensor, got {type(got).__name__}.", case)
        if tuple(got.shape) != (n, 2):
            from genmodels.exercises._diagnose import shape_message

            ex.fail(shape_message((n, 2), tuple(got.shape), {"the n samples": n}), case)
        ex.require(
            got.dtype == centres.dtype,
            f"wrong dtype: expected {centres.dtype} (the dtype of the centres), got {got.dtype}.",
            case,
        )
        ex.require(bool(torch.isfinite(got).all()), "the samples contain NaN or inf.", case)


def _check_reproducible(ex: Exercise, sample_mixture: Callable[..., torch.Tensor], centres: torch.Tensor, std: float) -> None:
    global_state = torch.get_rng_state()
    try:
        torch.manual_seed(1)
        a = ex.call(sample_mixture, 100, centres, std, torch.Generator().manual_seed(123))
        torch.manual_seed(2)
        b = ex.call(sample_mixture, 100, centres, std, torch.Generator().manual_seed(123))
        c = ex.call(sample_mixture, 100, centres, std, torch.Generator().manual_seed(124))
    finally:
        torch.set_rng_state(global_state)
    ex.require(
        torch.equal(a, b),
        "two calls with generators seeded alike gave different samples: every random draw "
        "(the component index and the noise) must use the `generator` argument "
        "(generator=generator), not PyTorch's global random state.",
        "reproducibility",
    )
    ex.require(
        not torch.equal(a, c),
        "generators with different seeds gave the same samples: the samples must come from "
        "the generator's random draws.",
        "reproducibility",
    )


def _check_sample_distribution(ex: Exercise, x: torch.Tensor, centres: torch.Tensor, std: float) -> None:
    """Modes uniform (χ² test), samples centred on the modes, noise scale and independence."""
    n, k = x.shape[0], centres.shape[0]
    dist2, mode = _sq_dist(x.double(), centres.double()).min(dim=1)
    half_gap = 0.4 * float(torch.pdist(centres.double()).min())
    case = f"{n} samples, {k} components on a ring of radius 10, std {std}"
    ex.require(
        float((dist2.sqrt() > half_gap).double().mean()) < 0.05,
        "most samples lie far from every centre: a sample is its component's centre plus "
        "Gaussian noise, x = c_k + s·ε.",
        case,
    )
    counts = torch.bincount(mode, minlength=k)
    if int(counts.max()) == n:
        ex.fail(
            "all samples come from one component: draw a component index for every sample, "
            "not one for the whole batch.",
            case,
        )
    if int(counts[-1]) == 0 and bool((counts[:-1] > 0).all()):
        ex.fail(
            f"the last component (index {k - 1}) is never sampled: the upper bound of a "
            f"random integer draw is exclusive, so draw indices in {{0, …, {k - 1}}} with bound {k}.",
            case,
        )
    statistic = float((((counts - n / k) ** 2) / (n / k)).sum())
    p_value = float(chi2.sf(statistic, df=k - 1))
    ex.require(
        p_value > 1e-4,
        f"the components are not chosen uniformly (counts {counts.tolist()}, χ² = "
        f"{statistic:.1f}, p = {p_value:.1e}): each of the {k} components has probability 1/{k}.",
        case,
    )
    residual = x.double() - centres.double()[mode]
    scale = float(residual.pow(2).mean().sqrt())  # per-coordinate noise std
    if not abs(scale - std) <= 0.05 * std:
        for wrong, what in [
            (0.0, "there is no noise: every sample sits exactly on a centre"),
            (std**2, "the noise is scaled by the variance s²; scale ε ~ N(0, I) by the standard deviation s"),
            (math.sqrt(std), "the noise is scaled by √s; scale ε ~ N(0, I) by the standard deviation s"),
            (1.0, "the noise is not scaled: multiply ε ~ N(0, I) by the standard deviation s"),
        ]:
            if abs(scale - wrong) <= 0.1 * max(wrong, 1e-3 * std):
                ex.fail(f"{what} (measured noise std {scale:.3g}, expected {std}).", case)
        ex.fail(f"the noise has standard deviation {scale:.3g} per coordinate; expected {std}.", case)
    ex.n_checks += 3
    corr = float(torch.corrcoef(residual.T)[0, 1])
    ex.require(
        abs(corr) < 0.1,
        f"the two coordinates' noises are correlated (correlation {corr:.2f}): draw independent "
        "noise for each coordinate (one standard normal per sample and coordinate, shape [n, 2]).",
        case,
    )
    for j in range(k):
        r = residual[mode == j]
        s_j = float(r.pow(2).mean().sqrt())
        ex.require(
            abs(s_j - std) <= 0.15 * std,
            f"component {j} has noise std {s_j:.3g}; every component has std {std}.",
            case,
        )


def check_sample_mixture(sample_mixture: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 1.2: ``sample_mixture(n, centres [K,2], std, generator) -> [n, 2]``.

    Checks the shape and dtype, reproducibility with the generator, uniform component
    frequencies (χ² test, p > 1e-4), and the noise scale (within 5 %, per component
    within 15 %) and independence of the two coordinates, on 8000 samples.
    """
    __tracebackhide__ = True
    centres = ring_mixture(n_modes=8, radius=10.0).centres
    std = 0.3
    with Exercise("1.2", "sample_mixture") as ex:
        _check_sample_shape(ex, sample_mixture, centres, std)
        _check_reproducible(ex, sample_mixture, centres, std)
        x = ex.call(sample_mixture, 8000, centres, std, torch.Generator().manual_seed(7))
        _check_sample_distribution(ex, x, centres, std)


# --- Exercise 1.3 ----------------------------------------------------------------------


def _average_ll_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "you summed the log-likelihoods over the points; the question asks for the average "
            "(nats per point), which does not grow with the size of the test set.",
            lambda m, x: m.log_prob(x).sum(),
        ),
        Mistake(
            "sign error: that is the negative log-likelihood (a loss to minimise); the "
            "log-likelihood itself is asked.",
            lambda m, x: -m.log_prob(x).mean(),
        ),
        Mistake(
            "that is the log of the average density, log((1/n) Σ p(x_i)); the average "
            "log-likelihood is (1/n) Σ log p(x_i), a mean of logs.",
            lambda m, x: torch.log(m.log_prob(x).exp().mean()),
        ),
        Mistake(
            "your value is in bits (log base 2); the book reports nats (natural log).",
            lambda m, x: m.log_prob(x).mean() / math.log(2.0),
        ),
        Mistake(
            "you also divided by the dimension D = 2: the question asks for nats per point, "
            "not per coordinate.",
            lambda m, x: m.log_prob(x).mean() / 2,
        ),
    ]


def check_average_log_likelihood(average_log_likelihood: Callable[..., torch.Tensor | float]) -> None:
    """Check Exercise 1.3: ``average_log_likelihood(model, x [n, 2]) -> 0-d tensor`` (nats).

    ``model`` is anything with ``.log_prob(x) -> [n]`` (a ``toy`` mixture or an
    ``lvm.GaussianMixture``). Book: eq-max-likelihood (the average log-likelihood).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(3)
    ring = ring_mixture(n_modes=8, radius=2.0, std=0.25)
    grid = grid_mixture(side=5, spacing=2.0, std=0.5)
    cases = [
        ("ring of 8, 500 points", ring, ring.sample(500, generator=generator)),
        ("ring of 8, 3 points", ring, ring.sample(3, generator=generator) * 1.1),
        ("grid of 25, 100 points", grid, grid.sample(100, generator=generator)),
        ("ring of 8, 1 point", ring, torch.tensor([[0.3, 1.7]])),
    ]
    for device in devices_to_check()[1:]:
        cases.append((f"ring of 8, 500 points, on {device}", ring, cases[0][2].to(device)))
    with Exercise("1.3", "average_log_likelihood") as ex:
        for label, model, x in cases:
            expected = model.log_prob(x).mean()
            got = ex.call(average_log_likelihood, model, x)
            ex.compare(
                got,
                expected,
                case=label,
                args=(model, x),
                mistakes=_average_ll_mistakes(),
                sizes={"the n points": x.shape[0]},
                check_dtype=False,
                atol=1e-4,
                rtol=1e-5,
            )
