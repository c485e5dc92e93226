"""Checks for the exercises of chapter 4 (Autoencoders, and why sampling from them fails).

* Exercise 4.1 — :func:`check_gaussian_kl_to_standard_normal`: KL(N(m, S) ‖ N(0, I)) for a
  full covariance S (reference: ``torch.distributions.kl_divergence``).
* Exercise 4.2 — :func:`check_sample_moment_matched`: samples of N(m, S) from standard
  normal noise through a Cholesky factor (checked by reproducibility and sample moments).
* Exercise 4.3 — :func:`check_off_data_share`: the share of latent samples farther than a
  radius from every encoding (reference: brute-force distances with ``torch.cdist``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import torch
from torch.distributions import MultivariateNormal, kl_divergence

from genmodels.exercises._core import (
    Exercise,
    ExerciseError,
    Mistake,
    devices_to_check,
    with_accelerator_copies,
)

# --- shared test inputs ------------------------------------------------------------------


def _random_covariance(d: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A random symmetric positive-definite ``[d, d]`` matrix with clear correlations."""
    a = torch.randn(d, d, generator=generator, dtype=torch.float64)
    cov = a @ a.T / d + 0.3 * torch.eye(d, dtype=torch.float64)
    return cov.to(dtype)


def _gaussian_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, mean [D], cov [D, D]) triples, including the prior itself (KL = 0)."""
    cases = [
        ("D = 2, off-centre, correlated", torch.tensor([2.1, -1.3]), torch.tensor([[4.0, 1.5], [1.5, 2.0]])),
        ("D = 1", torch.tensor([0.5]), torch.tensor([[0.25]])),
        ("D = 5, random", torch.randn(5, generator=generator), _random_covariance(5, generator)),
        ("D = 16, random", 3 * torch.randn(16, generator=generator), _random_covariance(16, generator)),
        ("the prior itself: m = 0, S = I (KL must be 0)", torch.zeros(3), torch.eye(3)),
    ]
    m, s = cases[2][1:]
    cases.append(("D = 5, float64", m.double(), s.double()))
    cases.append(("D = 60, small variances: det S ≈ e^−180 underflows to 0 in float32",
                  0.1 * torch.randn(60, generator=generator), 0.05 * _random_covariance(60, generator)))
    return cases


# --- Exercise 4.1 ------------------------------------------------------------------------


def reference_gaussian_kl(mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, cov) ‖ N(0, I)) by ``torch.distributions`` (an independent reference)."""
    d = mean.shape[-1]
    prior = MultivariateNormal(torch.zeros_like(mean), torch.eye(d, dtype=mean.dtype, device=mean.device))
    return kl_divergence(MultivariateNormal(mean, cov), prior)


def _kl_terms(mean: torch.Tensor, cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    return torch.trace(cov), mean @ mean, torch.logdet(cov), mean.shape[0]


def _kl_mistakes() -> list[Mistake]:
    def kl(f):
        return lambda m, s: f(*_kl_terms(m, s))

    return [
        Mistake(
            "the factor ½ in front of the bracket is missing: "
            "KL = ½ (tr S + mᵀm − D − log det S).",
            kl(lambda tr, mm, ld, d: tr + mm - d - ld),
        ),
        Mistake(
            "the constant −D is missing: without it the KL of N(0, I) to itself would be D/2, not 0.",
            kl(lambda tr, mm, ld, d: 0.5 * (tr + mm - ld)),
        ),
        Mistake(
            "sign of the log-determinant: the KL contains −log det S (a broad S is penalised by "
            "tr S, a narrow one by −log det S).",
            kl(lambda tr, mm, ld, d: 0.5 * (tr + mm - d + ld)),
        ),
        Mistake(
            "the mean term is missing: an off-centre Gaussian is further from N(0, I); add mᵀm.",
            kl(lambda tr, mm, ld, d: 0.5 * (tr - d - ld)),
        ),
        Mistake(
            "you used ‖m‖ where the squared norm mᵀm = Σ m_i² belongs.",
            kl(lambda tr, mm, ld, d: 0.5 * (tr + mm.sqrt() - d - ld)),
        ),
        Mistake(
            "you ignored the off-diagonal entries of S (a diagonal Gaussian's formula): the "
            "log-determinant of a correlated S is not the sum of the logs of its diagonal.",
            lambda m, s: 0.5 * (torch.trace(s) + m @ m - m.shape[0] - torch.log(torch.diagonal(s)).sum()),
        ),
        Mistake(
            "you took the log of the determinant: in D = 60 with small variances det S ≈ e^−180 "
            "underflows to 0 in float32 (and in many dimensions it can overflow), so its log is "
            "−∞. Compute log det S directly: torch.logdet, or 2 Σ log diag(L) from the Cholesky "
            "factor L.",
            lambda m, s: 0.5 * (torch.trace(s) + m @ m - m.shape[0] - torch.log(torch.det(s))),
        ),
        Mistake(
            "that is the reverse divergence KL(N(0, I) ‖ N(m, S)) = ½ (tr S⁻¹ + mᵀS⁻¹m − D + log det S); "
            "the question asks for KL(N(m, S) ‖ N(0, I)).",
            lambda m, s: 0.5 * (torch.trace(torch.linalg.inv(s)) + m @ torch.linalg.solve(s, m) - m.shape[0] + torch.logdet(s)),
        ),
    ]


def check_gaussian_kl_to_standard_normal(gaussian_kl_to_standard_normal: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 4.1: ``gaussian_kl_to_standard_normal(mean [D], cov [D, D]) -> 0-d tensor``.

    Reference: ``torch.distributions.kl_divergence`` between multivariate normals, on
    hidden inputs: D = 1, correlated, the prior itself (KL = 0), float64, and D = 60 with
    small variances (det S underflows in float32, so log(det S) is wrong); then gradients
    must reach the mean (∂KL/∂m = m) and the covariance.
    Book: eq-ae-moment-kl (chapter 4).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    cases = _gaussian_cases(generator)
    with_accelerator_copies(cases)
    with Exercise("4.1", "gaussian_kl_to_standard_normal") as ex:
        for label, mean, cov in cases:
            expected = reference_gaussian_kl(mean, cov)
            got = ex.call(gaussian_kl_to_standard_normal, mean, cov)
            with _located(functools.partial(_locate_kl_error, ex, gaussian_kl_to_standard_normal, mean, cov, label)):
                ex.compare(
                    got,
                    expected,
                    case=label,
                    args=(mean, cov),
                    mistakes=_kl_mistakes(),
                    sizes={"the D latent dimensions": mean.shape[0]},
                    atol=1e-4,
                    rtol=1e-4,
                )
        mean, cov = (t.clone().requires_grad_() for t in cases[0][1:])
        kl = ex.call(gaussian_kl_to_standard_normal, mean, cov)
        ex.require_gradients(kl, {"mean": mean, "cov": cov}, expected={"mean": mean.detach()},
                             case="gradients of the KL")


@contextlib.contextmanager
def _located(locate: Callable[[], None]) -> Iterator[None]:
    """Replace the framework's generic value message (a one-number answer has no shape of
    error to describe) by ``locate()``, which fails with the property that is violated."""
    __tracebackhide__ = True
    try:
        yield
    except ExerciseError as err:
        if "wrong values:" in str(err):
            locate()
        raise


def _locate_kl_error(ex: Exercise, fn: Callable[..., torch.Tensor], mean: torch.Tensor, cov: torch.Tensor,
                     case: str) -> None:
    """Which part of the KL is wrong: the one of the covariance (m = 0) or the one of the mean."""
    __tracebackhide__ = True
    zero = torch.zeros_like(mean)
    at_zero = float(ex.call(fn, zero, cov))
    cov_part = float(reference_gaussian_kl(zero, cov))
    if abs(at_zero - cov_part) > 1e-4 * max(1.0, abs(cov_part)):
        ex.fail(f"the part of your KL that depends on the covariance is wrong: with the mean set to 0 it gives "
                f"{at_zero:.6g}, but ½ (tr S − D − log det S) = {cov_part:.6g}.", case)
    mean_part = float(ex.call(fn, mean, cov)) - at_zero
    ex.fail(f"the part of your KL that depends on the mean is wrong: KL(N(m, S) ‖ N(0, I)) − KL(N(0, S) ‖ N(0, I)) "
            f"must be ½ mᵀm = {0.5 * float(mean.double() @ mean.double()):.6g}; yours is {mean_part:.6g}.", case)


# --- Exercise 4.2 ------------------------------------------------------------------------


def _call_sampler(ex: Exercise, fn: Callable[..., torch.Tensor], mean, cov, n: int, seed: int) -> torch.Tensor:
    return ex.call(fn, mean, cov, n, torch.Generator().manual_seed(seed))


def check_sample_moment_matched(sample_moment_matched: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 4.2: ``sample_moment_matched(mean [D], cov [D, D], n, generator) -> [n, D]``.

    Checks the shape, dtype and device (n = 1 and 7, D = 1 and 3), the generator (same seed
    same draws, another seed other draws, the global state unused), equivariance (with the
    same seed, a shifted mean shifts every sample, a 4 times larger covariance doubles every
    distance to the mean: exact up to rounding), the sample mean and
    covariance of 100 000 draws, each within 6 standard errors of ``mean`` and ``cov``
    (standard errors from the Gaussian's own moments: 12 tests at 2e-9 each), and the
    normality of the whitened draws (counts in the deciles of N(0, 1), a two-sided
    chi-square test at 2e-7). A correct sampler fails with probability below 1e-6.
    """
    __tracebackhide__ = True
    mean = torch.tensor([2.0, -1.0, 0.5])
    cov = torch.tensor([[2.0, 1.2, -0.4], [1.2, 1.5, 0.3], [-0.4, 0.3, 0.8]])
    with Exercise("4.2", "sample_moment_matched") as ex:
        cases = [("D = 3", mean, cov), ("D = 1", torch.tensor([1.0]), torch.tensor([[0.5]]))]
        cases += [(f"D = 3, on {d}", mean.to(d), cov.to(d)) for d in devices_to_check()[1:]]
        for label, m, s in cases:
            for n in (1, 7):
                got = _call_sampler(ex, sample_moment_matched, m, s, n, n)
                ex.require(isinstance(got, torch.Tensor), f"expected a torch.Tensor, got {type(got).__name__}.", label)
                ex.require(
                    tuple(got.shape) == (n, m.shape[0]),
                    f"wrong shape: expected [{n}, {m.shape[0]}] (n samples of dimension D), got {list(got.shape)}.",
                    f"{label}, n = {n}",
                )
                ex.require(got.dtype == m.dtype, f"wrong dtype: expected {m.dtype}, got {got.dtype}.", label)
                ex.require(
                    got.device == m.device,
                    f"the samples are on {got.device} but the mean is on {m.device}: create them on mean.device.",
                    label,
                )
        ex.require_generator_use(lambda m, s, n, generator: sample_moment_matched(m, s, n, generator),
                                 (mean, cov, 50))
        _check_moments(ex, _call_sampler(ex, sample_moment_matched, mean, cov, 100_000, 7).double(),
                       mean.double(), cov.double())
        _check_equivariance(ex, sample_moment_matched, mean, cov)


def _check_equivariance(ex: Exercise, fn: Callable[..., torch.Tensor], mean: torch.Tensor, cov: torch.Tensor) -> None:
    """With the same seed (the same noise), N(m + c, S) must give z + c, and N(m, 4S) must give
    m + 2 (z − m): the samples move with the mean and scale with a square root of S. Exact
    up to rounding, so it catches offsets far below what the moments can resolve."""
    __tracebackhide__ = True
    case = "the same seed with a shifted mean and a 4 times larger covariance"
    shift = torch.tensor([1.0, -2.0, 0.5])
    z = _call_sampler(ex, fn, mean, cov, 200, 5).detach()
    moved = _call_sampler(ex, fn, mean + shift, cov, 200, 5).detach()
    scaled = _call_sampler(ex, fn, mean, 4 * cov, 200, 5).detach()
    tol = 1e-4 * float(z.abs().max())
    gap = float((moved - shift - z).abs().max())
    ex.require(gap <= tol, f"with the same seed, moving the mean by c must move every sample by c; yours moved "
               f"by c plus up to {gap:.3g}: the mean enters your samples other than by adding m once.", case)
    gap = float((scaled - mean - 2 * (z - mean)).abs().max())
    ex.require(gap <= tol, "with the same seed, a 4 times larger covariance must double every sample's "
               f"distance to the mean (√(4S) = 2√S); yours differ from that by up to {gap:.3g}: "
               "something other than the mean and the transformed noise is added.", case)


def _check_moments(ex: Exercise, z: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> None:
    n = z.shape[0]
    case = f"{n} samples of a correlated 3-D Gaussian"
    ex.require(bool(torch.isfinite(z).all()), "the samples contain NaN or inf.", case)
    _check_moment_values(ex, z, mean, cov, case)
    # whitened, the samples must be independent standard normals: counts in the ten deciles
    # of N(0, 1), a two-sided chi-square test (false failure 2e-7)
    white = torch.linalg.solve_triangular(torch.linalg.cholesky(cov), (z - mean).T, upper=False).reshape(-1)
    deciles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.1, 0.9, 9, dtype=torch.float64))
    counts = torch.bincount(torch.bucketize(white, deciles), minlength=10)
    ex.require_counts(counts, torch.full((10,), 0.1), "the whitened samples L⁻¹(z − m), counted in the ten "
                      "deciles of N(0, 1) (is the noise drawn from a standard normal?),", case=case)


def _check_moment_values(ex: Exercise, z: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, case: str) -> None:
    n = z.shape[0]
    z_mean = z.mean(0)
    z_cov = torch.cov(z.T)
    mean_se = (torch.diagonal(cov) / n).sqrt()
    # standard error of a sample covariance entry: sqrt((S_ij² + S_ii S_jj) / n)
    cov_se = ((cov**2 + torch.outer(torch.diagonal(cov), torch.diagonal(cov))) / n).sqrt()
    mean_ok = bool(((z_mean - mean).abs() <= 6 * mean_se).all())
    cov_ok = bool(((z_cov - cov).abs() <= 6 * cov_se).all())
    if mean_ok and cov_ok:
        ex.n_checks += 2
        return
    if not mean_ok:
        if bool(((z_mean).abs() <= 6 * mean_se).all()):
            ex.fail("the samples are centred at 0: add the mean m to every sample.", case)
        ex.fail(f"the sample mean is {_fmt(z_mean)}; expected {_fmt(mean)}.", case)
    chol = torch.linalg.cholesky(cov)
    candidates = [
        (cov @ cov, "you multiplied the noise by S itself; the covariance of S ε is S², not S. "
                    "Multiply by a square root of S: its Cholesky factor L, with L Lᵀ = S."),
        (torch.eye(cov.shape[0], dtype=cov.dtype), "the samples have covariance I: the noise "
                                                   "was not transformed (multiply by the Cholesky factor L of S)."),
        (torch.diag(torch.diagonal(cov)), "the coordinates are uncorrelated: you scaled each coordinate by "
                                          "its standard deviation √S_ii and lost the correlations; "
                                          "use the full Cholesky factor L of S."),
        (chol.T @ chol, "the covariance is Lᵀ L instead of L Lᵀ = S: with row vectors ε of shape "
                        "[n, D] the transform is ε Lᵀ (ε @ L.T), not ε L."),
        (torch.diag(torch.diagonal(cov) ** 2), "each coordinate was scaled by its variance S_ii; "
                                               "scaling must use a square root of S (its Cholesky factor)."),
        (cov.diagonal().sqrt().diag(), "the coordinates have variance √S_ii: you took square roots twice "
                                        "(or elementwise); use the Cholesky factor L of S."),
    ]
    for wrong, message in candidates:
        if bool(((z_cov - wrong).abs() <= 6 * cov_se + 1e-9).all()):
            ex.fail(message, case)
    ex.fail(f"the sample covariance is {_fmt(z_cov)}; expected {_fmt(cov)}.", case)


def _fmt(t: torch.Tensor) -> str:
    return str([[round(float(v), 3) for v in row] for row in t]) if t.ndim == 2 else str([round(float(v), 3) for v in t])


# --- Exercise 4.3 ------------------------------------------------------------------------


def reference_off_data_share(samples: torch.Tensor, encodings: torch.Tensor, radius: float) -> torch.Tensor:
    """Brute force: the share of rows of ``samples`` whose nearest row of ``encodings`` is
    farther than ``radius``. Book: eq-ae-off-data-share (chapter 4)."""
    nearest = torch.cdist(samples.double(), encodings.double()).min(dim=1).values
    return (nearest > radius).to(samples.dtype).mean()


def _nearest(samples: torch.Tensor, encodings: torch.Tensor) -> torch.Tensor:
    return torch.cdist(samples.double(), encodings.double())


def _off_data_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "you returned the share of samples *near* the data (within the radius); the question "
            "asks for the share farther than the radius from every encoding.",
            lambda s, e, r: 1 - reference_off_data_share(s, e, r),
        ),
        Mistake(
            "you compared squared distances with the radius: compare the distance ‖z − e‖ itself "
            "(or its square with radius²).",
            lambda s, e, r: (_nearest(s, e).min(1).values ** 2 > r).to(s.dtype).mean(),
        ),
        Mistake(
            "a sample exactly at distance r from its nearest encoding is counted as off the data: "
            "'farther than the radius' is a strict inequality (>), and r itself is within reach.",
            lambda s, e, r: (_nearest(s, e).min(1).values >= r).to(s.dtype).mean(),
        ),
        Mistake(
            "you returned a count; return the share (divide by the number of samples).",
            lambda s, e, r: (_nearest(s, e).min(1).values > r).to(s.dtype).sum(),
        ),
        Mistake(
            "you used the distance to the *farthest* encoding; a sample is near the data when "
            "its *nearest* encoding is within the radius (a minimum over the encodings).",
            lambda s, e, r: (_nearest(s, e).max(1).values > r).to(s.dtype).mean(),
        ),
        Mistake(
            "you used the average distance to all encodings; the criterion is the distance to "
            "the *nearest* encoding (a minimum over the encodings).",
            lambda s, e, r: (_nearest(s, e).mean(1) > r).to(s.dtype).mean(),
        ),
        Mistake(
            "you took the minimum over the samples instead of over the encodings: for each "
            "sample (row of `samples`), find its nearest encoding.",
            lambda s, e, r: (_nearest(s, e).min(0).values > r).to(s.dtype).mean(),
        ),
    ]


def check_off_data_share(off_data_share: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 4.3: ``off_data_share(samples [m, D], encodings [n, D], radius) -> 0-d tensor``.

    Reference: brute-force pairwise distances (``torch.cdist``), on hidden inputs: 2-D and
    16-D, one sample, more samples than encodings, samples exactly at the radius (integer
    3-4-5 distances, exact in every float form), radius 0. Book: eq-ae-off-data-share.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(4)
    line = torch.tensor([[0.0], [1.0], [5.0]])
    samples_2d = torch.randn(300, 2, generator=g) * 2
    encodings_2d = torch.randn(500, 2, generator=g) + 1.5
    cases = [
        ("2-D, 300 samples, 500 encodings, radius 2.5", samples_2d, encodings_2d, 2.5),
        ("2-D, 300 samples, 500 encodings, radius 0.2", samples_2d, encodings_2d, 0.2),
        ("16-D, 200 samples, 400 encodings", torch.randn(200, 16, generator=g), torch.randn(400, 16, generator=g) * 0.5 + 0.5, 3.0),
        ("one sample", torch.tensor([[3.0, 4.0]]), torch.zeros(7, 2), 4.0),
        ("more samples than encodings", torch.randn(50, 2, generator=g), torch.randn(5, 2, generator=g), 0.8),
    ]
    cases.append(("1-D by hand: encodings at 0, 1, 5; radius 0.5", torch.tensor([[0.2], [3.0], [4.9], [-2.0], [1.4]]), line, 0.5))
    cases.append(("ties: a sample exactly at distance 5 = radius (a 3-4-5 triangle)",
                  torch.tensor([[3.0, 4.0], [6.0, 8.0], [0.0, 0.0], [2.0, 2.0], [1.0, 0.0]]), torch.zeros(1, 2), 5.0))
    cases.append(("radius 0: one sample on an encoding, one beside it", torch.tensor([[1.0, 2.0], [1.0, 2.5]]),
                  torch.tensor([[1.0, 2.0], [7.0, 7.0]]), 0.0))
    with_accelerator_copies(cases, index=1)
    with Exercise("4.3", "off_data_share") as ex:
        for label, samples, encodings, radius in cases:
            expected = reference_off_data_share(samples, encodings, radius)
            got = ex.call(off_data_share, samples, encodings, radius)
            with _located(functools.partial(_locate_share_error, ex, got, samples, encodings, radius, label)):
                _compare_share(ex, got, expected, label, samples, encodings, radius)


def _compare_share(ex: Exercise, got: object, expected: torch.Tensor, label: str, samples: torch.Tensor,
                   encodings: torch.Tensor, radius: float) -> None:
    __tracebackhide__ = True
    ex.compare(
                got,
                expected,
        case=label,
        args=(samples, encodings, radius),
        mistakes=_off_data_mistakes(),
        sizes={"the m samples": samples.shape[0], "the n encodings": encodings.shape[0]},
        check_dtype=False,
        atol=1e-6,
        rtol=1e-6,
    )


def _locate_share_error(ex: Exercise, got: object, samples: torch.Tensor, encodings: torch.Tensor,
                        radius: float, case: str) -> None:
    """Say which property of a share of samples the one-number answer violates."""
    __tracebackhide__ = True
    m = samples.shape[0]
    value = float(got)  # type: ignore[arg-type]
    k = int(round(float(reference_off_data_share(samples, encodings, radius)) * m))
    if not 0.0 <= value <= 1.0:
        ex.fail(f"your share is {value:.6g}, outside [0, 1]; it must be the fraction of the {m} samples whose "
                f"nearest encoding is farther than the radius (here {k} of {m}).", case)
    if abs(value * m - round(value * m)) > 1e-6 * m:
        ex.fail(f"your share {value:.6g} is not a whole number of samples out of {m} (a multiple of 1/{m}); "
                f"here {k} of the {m} samples are farther than the radius from every encoding.", case)
    ex.fail(f"your share counts {round(value * m)} of the {m} samples as off the data, but {k} are farther than "
            "the radius from their nearest encoding.", case)

