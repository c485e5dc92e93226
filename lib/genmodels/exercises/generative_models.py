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

from genmodels.exercises._core import Exercise, Mistake, devices_to_check, with_accelerator_copies
from genmodels.exercises._part_one import (
    Z_BOUND,
    compare_scalars,
    ks_normal,
    positional_generator,
    std_interval,
)
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
        ("3 components, std 1.5, float64", torch.randn(30, 2, generator=generator, dtype=torch.float64) * 4,
         torch.randn(3, 2, generator=generator, dtype=torch.float64), 1.5),
        ("two equal centres (a tie), std 0.3", torch.randn(6, 2, generator=generator),
         torch.tensor([[1.0, 1.0], [1.0, 1.0]]), 0.3),
    ]


def check_mixture_log_density(mixture_log_density: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 1.1: ``mixture_log_density(x [n,2], centres [K,2], std) -> [n]``.

    Reference: :meth:`genmodels.toy.IsotropicMixture2D.log_prob` (Book: eq-ch1-mixture
    with equal weights and isotropic covariances s² I), on hidden points drawn from a
    generator seeded here: near and far from every centre (where exp underflows), one
    point, one component, two equal centres, float64. Deterministic: no false failures.
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
                where={"the distance to the nearest centre": _sq_dist(x, centres).min(1).values.sqrt()},
            )


# --- Exercise 1.2 ----------------------------------------------------------------------


def _sample_cases(g: torch.Generator) -> list[tuple[str, int, torch.Tensor, float]]:
    """Hidden targets: a ring of 8 with a narrow std (float32), 3 irregular well-separated
    centres with std 2 (float64), and the boundary of one component."""
    ring = ring_mixture(n_modes=8, radius=10.0).centres
    angle = torch.rand((), generator=g) * 2 * math.pi
    rot = torch.tensor([[torch.cos(angle), -torch.sin(angle)], [torch.sin(angle), torch.cos(angle)]])
    three = torch.tensor([[0.0, 0.0], [40.0, 5.0], [-10.0, 45.0]], dtype=torch.float64)
    three = three + torch.randn(2, generator=g, dtype=torch.float64) * 5
    return [
        ("8 components on a ring of radius 10, std 0.05, float32", 20_000, ring @ rot.T, 0.05),
        ("3 components far apart, std 2.0, float64", 20_000, three, 2.0),
        ("one component far from the origin, at (300, -100), std 0.05", 5_000,
         torch.tensor([[300.0, -100.0]]), 0.05),
    ]


def _check_sample_shape(ex: Exercise, sample_mixture: Callable[..., torch.Tensor], centres: torch.Tensor,
                        std: float, n: int, case: str) -> torch.Tensor:
    __tracebackhide__ = True
    got = ex.call(sample_mixture, n, centres, std, torch.Generator().manual_seed(n))
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
    return got


def _check_sample_distribution(ex: Exercise, x: torch.Tensor, centres: torch.Tensor, std: float, case: str) -> None:
    """Components uniform (two-sided χ²), noise N(0, s² I): mean, scale (χ²), independence of
    the coordinates, Gaussian shape (Kolmogorov–Smirnov), fresh noise for every sample."""
    __tracebackhide__ = True
    n, k = x.shape[0], centres.shape[0]
    x, c = x.double(), centres.double()
    dist2, mode = _sq_dist(x, c).min(dim=1)
    half_gap = 0.4 * float(torch.pdist(c).min()) if k > 1 else 10 * std
    ex.require(
        float((dist2.sqrt() > max(half_gap, 6 * std)).double().mean()) < 0.05,
        "most samples lie far from every centre: a sample is its component's centre plus "
        "Gaussian noise, x = c_k + s·ε.",
        case,
    )
    if k > 1:
        counts = torch.bincount(mode, minlength=k)
        if int(counts.max()) == n:
            ex.fail("all samples come from one component: draw a component index for every "
                    "sample, not one for the whole batch.", case)
        if int(counts[-1]) == 0 and bool((counts[:-1] > 0).all()):
            ex.fail(f"the last component (index {k - 1}) is never sampled: the upper bound of a "
                    f"random integer draw is exclusive, so draw indices in {{0, …, {k - 1}}} with "
                    f"bound {k}.", case)
        ex.require_counts(counts, torch.full((k,), 1.0 / k), "the components of the samples",
                          alpha=1e-8, case=case)
    residual = x - c[mode]
    if float(residual.abs().max()) == 0.0:
        ex.fail("there is no noise: every sample sits exactly on a centre (x = c_k + s·ε with "
                "ε ~ N(0, I)).", case)
    distinct = torch.unique(residual[:, 0]).numel()
    ex.require(distinct > n // 2, f"the noise repeats: only {distinct} different noise values for "
               f"{n} samples. Draw a fresh noise vector ε for every sample (shape [n, 2]).", case)
    se = max(std, float(residual.pow(2).mean().sqrt())) / math.sqrt(n)  # a wrong scale is named next
    for i, name in enumerate(("first", "second")):
        m = float(residual[:, i].mean())
        ex.require(abs(m) <= Z_BOUND * se, f"the noise is not centred: on the {name} coordinate the "
                   f"samples lie {m:+.4g} on average from their centre (expected 0 ± {se:.2g}).", case)
    scale = float(residual.pow(2).mean().sqrt())  # per-coordinate noise std, known mean 0
    lo, hi = std_interval(std, 2 * n)
    if not lo <= scale <= hi:
        for wrong, what in [
            (0.0, "there is no noise: every sample sits exactly on a centre"),
            (std**2, "the noise is scaled by the variance s²; scale ε ~ N(0, I) by the standard deviation s"),
            (math.sqrt(std), "the noise is scaled by √s; scale ε ~ N(0, I) by the standard deviation s"),
            (1.0, "the noise is not scaled: multiply ε ~ N(0, I) by the standard deviation s"),
        ]:
            if abs(scale - wrong) <= 0.03 * max(wrong, 1e-3 * std) and abs(std - wrong) > 0.1 * std:
                ex.fail(f"{what} (measured noise std {scale:.3g}, expected {std}).", case)
        ex.fail(f"the noise has standard deviation {scale:.4g} per coordinate; expected s = {std}.", case)
    ex.n_checks += 1
    corr = float((residual[:, 0] * residual[:, 1]).mean()) / std**2
    ex.require(
        abs(corr) * math.sqrt(n) <= Z_BOUND,
        f"the two coordinates' noises are correlated (correlation {corr:.3f}): draw independent "
        "noise for each coordinate (one standard normal per sample and coordinate, shape [n, 2]).",
        case,
    )
    p = ks_normal(residual.reshape(-1) / std)
    ex.require(p > 1e-9, f"the noise is not Gaussian: divided by s it fails a Kolmogorov–Smirnov "
               f"test against N(0, 1) (p = {p:.1e}). Draw ε with torch.randn.", case)
    z = residual.reshape(-1) / std
    worst = int(z.abs().argmax())
    ex.require(float(z.abs().max()) <= 7.5,
               f"sample {worst // 2} lies {float(z[worst]):+.1f} standard deviations from its nearest "
               "centre, which Gaussian noise essentially never does (probability below 1e-7): a "
               "value is changed after it was drawn.", case)


def check_sample_mixture(sample_mixture: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 1.2: ``sample_mixture(n, centres [K,2], std, generator) -> [n, 2]``.

    Shape and dtype (n = 1, 5, 64); the generator (same seed, same samples; another seed,
    other samples; the global random state untouched); then on hidden targets (a rotated
    ring of 8 with std 0.05, 3 components far apart with std 2 in float64, one component
    far from the origin;
    20 000 or 5 000 samples): the components' counts (two-sided χ² test: neither too uneven
    nor too regular, 1e-8 per side), and the noise around the nearest centre: its scale
    (χ² bounds, 1e-9 per side), mean and the correlation of the coordinates (6 standard
    errors, 2e-9 each), its Gaussian shape (Kolmogorov–Smirnov, p > 1e-9) and that it is
    fresh for every sample. About 25 tests: a right answer fails with probability below
    1e-7 (the centres are at least 25 standard deviations apart, so the nearest centre is
    the sampled one).
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(12)
    cases = _sample_cases(g)
    with Exercise("1.2", "sample_mixture") as ex:
        _, _, centres, std = cases[0]
        for n in (1, 5, 64):
            _check_sample_shape(ex, sample_mixture, centres, std, n, f"n = {n}")
        ex.require_generator_use(positional_generator(sample_mixture), (100, centres, std))
        for i, (label, n, centres, std) in enumerate(cases):
            x = ex.call(sample_mixture, n, centres, std, torch.Generator().manual_seed(7 + i))
            x = _check_sample_shape_of(ex, x, n, centres, label)
            _check_sample_distribution(ex, x, centres, std, label)


def _check_sample_shape_of(ex: Exercise, got: object, n: int, centres: torch.Tensor, case: str) -> torch.Tensor:
    __tracebackhide__ = True
    if not isinstance(got, torch.Tensor):
        ex.fail(f"expected a torch.Tensor, got {type(got).__name__}.", case)
    if tuple(got.shape) != (n, 2):
        from genmodels.exercises._diagnose import shape_message

        ex.fail(shape_message((n, 2), tuple(got.shape), {"the n samples": n}), case)
    ex.require(got.dtype == centres.dtype, f"wrong dtype: expected {centres.dtype} (the dtype of "
               f"the centres), got {got.dtype}.", case)
    ex.require(bool(torch.isfinite(got).all()), "the samples contain NaN or inf.", case)
    return got


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
        Mistake(
            "that is the log-likelihood of the mean point, log p(x̄); the question asks for the "
            "mean of the log-likelihoods of the points, (1/n) Σ log p(x_i).",
            lambda m, x: m.log_prob(x.mean(0, keepdim=True))[0],
        ),
        Mistake(
            "you divided the sum by n − 1; the average over n points divides by n.",
            lambda m, x: m.log_prob(x).sum() / max(x.shape[0] - 1, 1),
        ),
    ]


def _average_ll_properties(labels: list[str], args: list[tuple], got: torch.Tensor,
                           expected: torch.Tensor) -> str | None:
    """The violated property of an average, or None."""
    for label, (model, x), value in zip(labels, args, got.tolist(), strict=True):
        values = model.log_prob(x).double()
        lo, hi = float(values.min()), float(values.max())
        if not lo - 1e-4 <= value <= hi + 1e-4:
            return (f"an average of the points' log-likelihoods lies between the smallest and the "
                    f"largest of them, here [{lo:.4g}, {hi:.4g}], but on the case '{label}' you "
                    f"returned {value:.6g}.")
    return ("your values lie within the range of the points' log-likelihoods but are not their "
            "mean: wrong on " + ", ".join(
                f"'{label}' (got {g:.6g}, mean {e:.6g})"
                for label, g, e in zip(labels, got.tolist(), expected.tolist(), strict=True)
                if abs(g - e) > 1e-4 + 1e-5 * abs(e)) + ".")


def check_average_log_likelihood(average_log_likelihood: Callable[..., torch.Tensor | float]) -> None:
    """Check Exercise 1.3: ``average_log_likelihood(model, x [n, 2]) -> 0-d tensor`` (nats).

    ``model`` is anything with ``.log_prob(x) -> [n]`` (a ``toy`` mixture or an
    ``lvm.GaussianMixture``). Book: eq-max-likelihood (the average log-likelihood).
    Hidden points drawn from a generator seeded here; the boundary of one point; a fitted
    ``lvm.GaussianMixture`` in float64. Deterministic: no false failures.
    """
    __tracebackhide__ = True
    from genmodels.lvm import GaussianMixture

    generator = torch.Generator().manual_seed(3)
    ring = ring_mixture(n_modes=8, radius=2.0, std=0.25)
    grid = grid_mixture(side=5, spacing=2.0, std=0.5)
    gmm = GaussianMixture(torch.tensor([0.3, 0.7], dtype=torch.float64),
                          torch.tensor([[0.0, 0.0], [3.0, 1.0]], dtype=torch.float64),
                          torch.eye(2, dtype=torch.float64).expand(2, 2, 2) * torch.tensor([0.5, 2.0],
                          dtype=torch.float64)[:, None, None])
    cases = [
        ("ring of 8, 500 points", (ring, ring.sample(500, generator=generator))),
        ("ring of 8, 3 points", (ring, ring.sample(3, generator=generator) * 1.1)),
        ("grid of 25, 100 points", (grid, grid.sample(100, generator=generator))),
        ("ring of 8, 1 point", (ring, torch.tensor([[0.3, 1.7]]))),
        ("Gaussian mixture in float64, 40 points", (gmm, torch.randn(40, 2, generator=generator,
                                                                     dtype=torch.float64) * 2)),
    ]
    for device in devices_to_check()[1:]:
        cases.append((f"ring of 8, 500 points, on {device}", (ring, cases[0][1][1].to(device))))
    with Exercise("1.3", "average_log_likelihood") as ex:
        compare_scalars(
            ex, average_log_likelihood, cases, lambda m, x: m.log_prob(x).mean(),
            mistakes=_average_ll_mistakes(),
            where={"the number of points n": lambda m, x: x.shape[0]},
            properties=_average_ll_properties, check_dtype=False, atol=1e-4, rtol=1e-5,
        )
