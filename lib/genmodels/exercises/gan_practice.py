"""Checks for the exercises of chapter 8 (GANs in practice).

* Exercise 8.1 — :func:`check_discriminator_accuracy`: the discriminator's accuracy on
  real and on fake samples from logits (reference: ``gan_monitor.discriminator_accuracy``).
* Exercise 8.2 — :func:`check_frechet_distance_gaussians`: the squared Fréchet distance
  between two Gaussians (reference: ``sample_quality.gaussian_frechet_distance``).
* Exercise 8.3 — :func:`check_conv_transpose_output_size`: the side of a transposed
  convolution's output (reference: the shape PyTorch's ``nn.ConvTranspose2d`` produces).

The checks are deterministic (no statistical test, so no false failures). Inputs are drawn
from generators the checks seed themselves, with the boundaries: logits of exactly 0 on
either side, one sample, all right or all wrong; identical, one-dimensional, commuting,
non-commuting and singular covariances, float32 and float64; stride 1, padding 0, kernel 1,
output padding. A wrong answer that no listed mistake explains is tested against the
properties that define the answer (:func:`genmodels.exercises.gan_objective.compare_or_diagnose`),
so the message names the property it violates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral

import torch
from torch import nn

from genmodels.exercises._core import Exercise, Mistake, devices_to_check
from genmodels.exercises.gan_objective import Property, compare_or_diagnose
from genmodels.measure import gan_monitor, sample_quality

# --- Exercise 8.1 ----------------------------------------------------------------------


def _accuracy_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, real_logits, fake_logits): typical, unequal sizes, the boundaries."""
    cases = [
        ("64 real and 64 fake logits", 2 * torch.randn(64, generator=generator) + 0.5,
         2 * torch.randn(64, generator=generator) - 0.8),
        ("50 real and 20 fake logits", torch.randn(50, generator=generator) + 1.0,
         torch.randn(20, generator=generator) - 0.2),
        ("logits near the decision boundary (between 0 and 0.5)",
         torch.tensor([0.2, 0.4, 0.7, -0.3, 1.5]), torch.tensor([-0.2, 0.3, -0.45, -2.0])),
        ("real logits of exactly 0 (D = 1/2, undecided)",
         torch.tensor([0.0, 1.0, -1.0, 2.0, 0.0]), torch.tensor([-0.5, -3.0, 1.0])),
        ("fake logits of exactly 0 (D = 1/2, undecided)",
         torch.tensor([1.5, -2.0, 0.3]), torch.tensor([0.0, -1.0, 0.0, -3.0])),
        ("one real and one fake logit", torch.tensor([0.7]), torch.tensor([0.4])),
        ("every sample classified correctly", torch.tensor([3.0, 0.1, 5.0]),
         torch.tensor([-0.2, -4.0])),
        ("every sample classified wrongly", torch.tensor([-3.0, -0.1]),
         torch.tensor([2.0, 0.3, 7.0])),
        ("a confident discriminator, logits up to ±200, float64",
         torch.tensor([30.0, 200.0, 8.0, -200.0], dtype=torch.float64),
         torch.tensor([-25.0, -200.0, 4.0, -0.5, 30.0], dtype=torch.float64)),
    ]
    for device in devices_to_check()[1:]:
        label, real, fake = cases[0]
        cases.append((f"{label}, on {device}", real.to(device), fake.to(device)))
    return cases


def _accuracy(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return torch.stack(gan_monitor.discriminator_accuracy(real, fake))


def _pair(a: torch.Tensor, b: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.stack([a.to(like.dtype), b.to(like.dtype)])


def _accuracy_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "the inputs are logits, not probabilities: D = σ(l) > ½ means l > 0, so the "
            "threshold on a logit is 0, not 0.5.",
            lambda r, f: _pair((r > 0.5).float().mean(), (f < 0.5).float().mean(), r),
        ),
        Mistake(
            "the second entry is the share of fakes the discriminator calls *real*; a fake "
            "is classified correctly when D(G(z)) < ½ (logit < 0).",
            lambda r, f: _pair((r > 0).float().mean(), (f > 0).float().mean(), r),
        ),
        Mistake(
            "the two entries are in the wrong order: return [accuracy on real, accuracy on fake].",
            lambda r, f: _pair((f < 0).float().mean(), (r > 0).float().mean(), r),
        ),
        Mistake(
            "you returned error rates (the share of mistakes); return accuracies, the share of "
            "samples classified correctly.",
            lambda r, f: _pair((r <= 0).float().mean(), (f >= 0).float().mean(), r),
        ),
        Mistake(
            "a logit of exactly 0 means D = ½: the discriminator is undecided, which counts as "
            "wrong for both kinds (use strict inequalities).",
            lambda r, f: _pair((r >= 0).float().mean(), (f <= 0).float().mean(), r),
        ),
        Mistake(
            "you counted correct samples instead of taking the fraction: divide each count by "
            "the size of its own batch.",
            lambda r, f: _pair((r > 0).float().sum(), (f < 0).float().sum(), r),
        ),
        Mistake(
            "your values are percentages; return fractions in [0, 1].",
            lambda r, f: 100 * _pair((r > 0).float().mean(), (f < 0).float().mean(), r),
        ),
        Mistake(
            "both entries hold the pooled accuracy over all n + m samples; compute one "
            "accuracy per kind, each over its own batch.",
            lambda r, f: _pair(*(2 * [torch.cat([r > 0, f < 0]).float().mean()]), r),
        ),
    ]


def _entries(got: object) -> tuple[float, float] | None:
    if isinstance(got, torch.Tensor) and got.shape == (2,):
        a, b = got.detach().double().cpu().tolist()
        return a, b
    return None


def _accuracy_properties(fn: Callable[..., object], real: torch.Tensor, fake: torch.Tensor,
                         ex: Exercise) -> list[Property]:
    def t(*values: float) -> torch.Tensor:
        return torch.tensor(values, dtype=real.dtype, device=real.device)

    def fraction() -> str | None:
        for args in ((real, fake), (t(3.0, 1.0, 2.0), t(-2.0, -1.5))):
            got = _entries(ex.call(fn, *args))
            if got is not None and not all(0.0 <= v <= 1.0 for v in got):
                return (f"your accuracies {got[0]:.4g}, {got[1]:.4g} are not fractions in [0, 1]: "
                        "each is the share of its batch classified correctly.")
        return None

    def extremes() -> str | None:
        for args, want, what in (((t(3.0, 1.0, 2.0), t(-2.0, -1.5)), (1.0, 1.0), "right"),
                                 ((t(-3.0, -1.0), t(2.0, 1.5, 4.0)), (0.0, 0.0), "wrong")):
            got = _entries(ex.call(fn, *args))
            if got is not None and any(abs(g - w) > 1e-6 for g, w in zip(got, want, strict=True)):
                return (f"when every sample is classified {what} (no logit is 0) the accuracies "
                        f"are [{want[0]:g}, {want[1]:g}], but yours are [{got[0]:.4g}, "
                        f"{got[1]:.4g}].")
        return None

    def ties(side: int) -> str | None:
        zeros, clear = t(0.0, 0.0, 0.0), t(-2.0) if side == 0 else t(2.0)
        args = (zeros, clear) if side == 0 else (clear, zeros)
        got = _entries(ex.call(fn, *args))
        kind = ("real", "fake")[side]
        if got is not None and abs(got[side]) > 1e-6:
            return (f"three {kind} logits of exactly 0 (D = ½, undecided) must give accuracy 0 "
                    f"on {kind} (the statement's convention: undecided counts as wrong), but "
                    f"yours gives {got[side]:.4g}.")
        return None

    def separate(side: int) -> str | None:
        base = _entries(ex.call(fn, real, fake))
        changed = (real, -fake) if side == 0 else (-real, fake)
        other = _entries(ex.call(fn, *changed))
        kind, other_kind = ("real", "fake")[side], ("fake", "real")[side]
        if base is not None and other is not None and abs(base[side] - other[side]) > 1e-6:
            return (f"your accuracy on {kind} changes (from {base[side]:.4g} to "
                    f"{other[side]:.4g}) when only the {other_kind} logits change: each "
                    "accuracy must be computed from its own batch alone.")
        return None

    def threshold() -> str | None:
        got = _entries(ex.call(fn, t(0.25, 0.25), t(-0.25)))
        if got is not None and (abs(got[0] - 1) > 1e-6 or abs(got[1] - 1) > 1e-6):
            return ("two real logits of 0.25 and a fake logit of −0.25 (D = σ(±0.25) = 0.56 and "
                    "0.44) are all classified correctly, accuracies [1, 1], but yours gives "
                    f"[{got[0]:.4g}, {got[1]:.4g}]: the inputs are logits, and D > ½ means a "
                    "logit > 0.")
        return None

    return [fraction, extremes, lambda: ties(0), lambda: ties(1), lambda: separate(0),
            lambda: separate(1), threshold]


def check_discriminator_accuracy(discriminator_accuracy: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 8.1: ``discriminator_accuracy(real_logits [n], fake_logits [m]) -> [2]``.

    Reference: :func:`genmodels.measure.gan_monitor.discriminator_accuracy`
    (Book: eq-discriminator-accuracy), on random batches and the boundaries (logits of
    exactly 0 on either side, logits just above and below 0, one sample each, all right,
    all wrong, ±200 in float64). Deterministic: no false failures.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    with Exercise("8.1", "discriminator_accuracy") as ex:
        for label, real, fake in _accuracy_cases(generator):
            expected = _accuracy(real, fake)
            got = ex.call(discriminator_accuracy, real, fake)
            if isinstance(got, tuple | list) and len(got) == 2:
                ex.fail("return one tensor of shape [2] (torch.stack the two accuracies), "
                        "not a tuple or list.", label)
            if isinstance(got, torch.Tensor) and got.ndim == 0:
                ex.fail("you returned one number; return a tensor of shape [2] with one "
                        "accuracy per kind, [accuracy on real, accuracy on fake], each over "
                        "its own batch.", label)
            compare_or_diagnose(
                ex, got, expected, case=label, args=(real, fake), mistakes=_accuracy_mistakes(),
                properties=_accuracy_properties(discriminator_accuracy, real, fake, ex),
                atol=1e-6, rtol=1e-6)


# --- Exercise 8.2 ----------------------------------------------------------------------


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    eigenvalues, eigenvectors = torch.linalg.eigh(m)
    return (eigenvectors * eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T


def _frechet(mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor,
             cov_b: torch.Tensor) -> torch.Tensor:
    """The library's reference, in the dtype of the inputs."""
    d2 = sample_quality.gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b)
    return torch.tensor(d2, dtype=mu_a.dtype)


def _frechet_mistakes() -> list[Mistake]:
    def mean_term(mu_a: torch.Tensor, mu_b: torch.Tensor) -> torch.Tensor:
        return (mu_a - mu_b).square().sum()

    def cross(cov_a: torch.Tensor, cov_b: torch.Tensor) -> torch.Tensor:
        root = _sqrt_psd(cov_a)
        return torch.trace(_sqrt_psd(root @ cov_b @ root))

    def right(mu_a, cov_a, mu_b, cov_b):  # noqa: ANN001, ANN202 - local helper
        return mean_term(mu_a, mu_b) + torch.trace(cov_a + cov_b) - 2 * cross(cov_a, cov_b)

    return [
        Mistake(
            "the factor 2 in front of the cross term tr((Σ_a^½ Σ_b Σ_a^½)^½) is missing.",
            lambda ma, ca, mb, cb: mean_term(ma, mb) + torch.trace(ca + cb) - cross(ca, cb),
        ),
        Mistake(
            "the cross term needs a *matrix* square root; torch.sqrt takes the square root of "
            "each entry (NaN for negative entries), which is a different matrix.",
            lambda ma, ca, mb, cb: mean_term(ma, mb)
            + torch.trace(ca + cb - 2 * torch.sqrt(ca @ cb)),
        ),
        Mistake(
            "the cross term is tr((Σ_a^½ Σ_b Σ_a^½)^½), with a square root; you used "
            "tr(Σ_a Σ_b) without it.",
            lambda ma, ca, mb, cb: mean_term(ma, mb) + torch.trace(ca + cb - 2 * ca @ cb),
        ),
        Mistake(
            "tr(Σ_a^½ Σ_b^½) equals the cross term only when the two covariances commute; take "
            "the square root of Σ_a^½ Σ_b Σ_a^½ instead.",
            lambda ma, ca, mb, cb: mean_term(ma, mb)
            + torch.trace(ca + cb - 2 * _sqrt_psd(ca) @ _sqrt_psd(cb)),
        ),
        Mistake(
            "the mean term is the *squared* distance ‖μ_a − μ_b‖², not the distance.",
            lambda ma, ca, mb, cb: right(ma, ca, mb, cb) - mean_term(ma, mb)
            + (ma - mb).square().sum().sqrt(),
        ),
        Mistake(
            "the mean term ‖μ_a − μ_b‖² is missing: two Gaussians with equal covariances and "
            "different means must be at a positive distance.",
            lambda ma, ca, mb, cb: right(ma, ca, mb, cb) - mean_term(ma, mb),
        ),
        Mistake(
            "you returned the distance d_F; the exercise (like the FID) asks for its square d_F².",
            lambda ma, ca, mb, cb: right(ma, ca, mb, cb).clamp_min(0).sqrt(),
        ),
    ]


def _random_covariance(f: int, generator: torch.Generator, rank: int | None = None,
                       dtype: torch.dtype = torch.float64) -> torch.Tensor:
    a = torch.randn(f, rank or f + 2, generator=generator, dtype=torch.float64)
    return (a @ a.T / a.shape[1]).to(dtype)


def _frechet_tolerance(args: tuple[torch.Tensor, ...]) -> tuple[float, float]:
    """(atol, rtol): the error of d² is relative to its terms (‖Δμ‖², tr Σ_a, tr Σ_b), not to
    d² itself (which cancels them); float32 also loses about √ε·tr of the square root of a
    covariance's eigenvalues near 0, so it gets 1e-4 of the terms' size, float64 1e-9."""
    mu_a, cov_a, mu_b, cov_b = (a.double() for a in args)
    scale = float((mu_a - mu_b).square().sum() + torch.trace(cov_a) + torch.trace(cov_b)) + 1.0
    if args[0].dtype == torch.float64:
        return 1e-9 * scale, 1e-6
    return 1e-4 * scale, 1e-4


def _frechet_cases(generator: torch.Generator) -> list[tuple]:
    def mean(f: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.randn(f, generator=generator, dtype=torch.float64).to(dtype)

    def d(*values: float) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64)

    same_mu, same_cov = mean(4), _random_covariance(4, generator)
    rotation = d(math.cos(0.6), -math.sin(0.6), math.sin(0.6), math.cos(0.6)).reshape(2, 2)
    stretched = rotation @ torch.diag(d(3.0, 0.2)) @ rotation.T
    f32 = torch.float32
    return [
        ("two random Gaussians in 3 dimensions", mean(3), _random_covariance(3, generator),
         mean(3), _random_covariance(3, generator)),
        ("two random Gaussians in 8 dimensions", mean(8), _random_covariance(8, generator),
         mean(8), _random_covariance(8, generator)),
        ("one dimension: the answer is (μ_a − μ_b)² + (σ_a − σ_b)²",
         d(1.0), d(4.0).reshape(1, 1), d(-0.5), d(0.25).reshape(1, 1)),
        ("diagonal (commuting) covariances", mean(3), torch.diag(d(1.0, 4.0, 0.25)), mean(3),
         torch.diag(d(2.0, 1.0, 0.5))),
        ("non-commuting covariances in 2 dimensions (a diagonal and a rotated one)", d(0.0, 0.0),
         torch.diag(d(1.0, 2.0)), d(0.5, -0.5), stretched),
        ("identical Gaussians (the answer is 0)", same_mu, same_cov, same_mu.clone(),
         same_cov.clone()),
        ("equal covariances, different means", mean(5), (c := _random_covariance(5, generator)),
         mean(5), c.clone()),
        ("singular covariances (rank 2 in 5 dimensions)", mean(5),
         _random_covariance(5, generator, rank=2), mean(5),
         _random_covariance(5, generator, rank=2)),
        ("two random Gaussians in 6 dimensions, float32", mean(6, f32),
         _random_covariance(6, generator, dtype=f32), mean(6, f32),
         _random_covariance(6, generator, dtype=f32)),
    ]


def _frechet_properties(fn: Callable[..., object], args: tuple[torch.Tensor, ...],
                        label: str, ex: Exercise) -> list[Property]:
    mu_a, cov_a, mu_b, cov_b = args

    def value(*inputs: torch.Tensor) -> float | None:
        got = ex.call(fn, *inputs)
        try:
            v = float(got)
        except (TypeError, ValueError, RuntimeError):
            return None
        return v if math.isfinite(v) else None

    def right(*inputs: torch.Tensor) -> bool | None:
        v = value(*inputs)
        if v is None:
            return None
        atol, rtol = _frechet_tolerance(inputs)
        return math.isclose(v, float(_frechet(*inputs)), rel_tol=rtol, abs_tol=atol)

    def identical() -> str | None:
        v = value(mu_a, cov_a, mu_a.clone(), cov_a.clone())
        if v is not None and not math.isclose(v, 0.0, abs_tol=_frechet_tolerance(args)[0]):
            return (f"the distance between a Gaussian and itself must be 0, but yours gives "
                    f"{v:.6g} for N(μ_a, Σ_a) and an identical copy.")
        return None

    def symmetric() -> str | None:
        ab, ba = value(*args), value(mu_b, cov_b, mu_a, cov_a)
        atol = _frechet_tolerance(args)[0]
        if ab is not None and ba is not None and not math.isclose(ab, ba, rel_tol=1e-6, abs_tol=atol):
            return (f"your distance is not symmetric: swapping the two Gaussians changes it "
                    f"(from {ab:.6g} to {ba:.6g}); tr((Σ_a^½ Σ_b Σ_a^½)^½) = "
                    "tr((Σ_b^½ Σ_a Σ_b^½)^½), so the squared Fréchet distance is symmetric.")
        return None

    def means_only() -> str | None:
        expected = float((mu_a - mu_b).double().square().sum())
        v = value(mu_a, cov_a, mu_b, cov_a.clone())
        if v is not None and not math.isclose(v, expected, rel_tol=1e-5,
                                              abs_tol=_frechet_tolerance(args)[0]):
            return (f"with equal covariances the answer is ‖μ_a − μ_b‖² = {expected:.6g} (the "
                    f"covariance terms cancel), but yours gives {v:.6g}.")
        return None

    def one_dimension() -> str | None:
        t = [torch.tensor(x, dtype=mu_a.dtype, device=mu_a.device) for x in
             ([1.0], [[4.0]], [-0.5], [[0.25]])]
        v = value(*t)
        if v is not None and not math.isclose(v, 4.5, rel_tol=1e-5):
            return ("in one dimension the answer is (μ_a − μ_b)² + (σ_a − σ_b)² = 1.5² + 1.5² = "
                    f"4.5 for N(1, 4) and N(−0.5, 0.25), but yours gives {v:.6g}.")
        return None

    def commuting_only() -> str | None:
        diag = (mu_a, torch.diag(torch.diagonal(cov_a)), mu_b, torch.diag(torch.diagonal(cov_b)))
        commute = torch.allclose(cov_a @ cov_b, cov_b @ cov_a, atol=1e-8)
        if not commute and right(*diag):
            return ("your answer is right for commuting (e.g. diagonal) covariances but wrong "
                    "for these, which do not commute (Σ_a Σ_b ≠ Σ_b Σ_a): a matrix identity "
                    "that only holds for commuting matrices, such as (Σ_a Σ_b)^½ = Σ_a^½ Σ_b^½ "
                    "or an entry-wise square root, does not give tr((Σ_a^½ Σ_b Σ_a^½)^½).")
        return None

    def singular_only() -> str | None:
        if "singular" not in label:
            return None
        g = torch.Generator().manual_seed(11)
        full = (mu_a, _random_covariance(mu_a.shape[0], g), mu_b, _random_covariance(mu_a.shape[0], g))
        if right(*full):
            return ("your answer is right for full-rank covariances but wrong for these singular "
                    "ones (eigenvalues 0): the square root of a positive semi-definite matrix "
                    "must accept eigenvalues that are 0, or come out slightly negative through "
                    "round-off (clamp them to 0), without losing precision.")
        return None

    def precision() -> str | None:
        v = value(*args)
        if v is None or mu_a.dtype != torch.float64:
            return None
        error = abs(v - float(_frechet(*args)))
        if error <= 1e-4 * _frechet_tolerance(args)[0] / 1e-9:
            return (f"your value {v:.10g} is off by {error:.2g}, about the rounding error of "
                    "float32 arithmetic: the inputs are float64, so compute in float64 (a "
                    ".float(), a float32 tensor or torch.tensor(...) without dtype loses the "
                    "precision).")
        return None

    return [precision, commuting_only, singular_only, identical, symmetric, one_dimension,
            means_only]


def check_frechet_distance_gaussians(frechet_distance_gaussians: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 8.2: ``frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b) -> 0-d``.

    Reference: :func:`genmodels.measure.sample_quality.gaussian_frechet_distance`
    (Book: eq-frechet-distance), on random, one-dimensional, commuting, non-commuting,
    identical, equal and singular covariances, float64 and float32. The tolerance follows
    the dtype and the size of the terms that d² cancels (:func:`_frechet_tolerance`); the
    answer may be a 0-d tensor of any float dtype or a Python float. Deterministic: no
    false failures.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(3)
    with Exercise("8.2", "frechet_distance_gaussians") as ex:
        for label, *args in _frechet_cases(generator):
            args = tuple(args)
            expected = _frechet(*args)
            got = ex.call(frechet_distance_gaussians, *args)
            if isinstance(got, torch.Tensor) and got.is_complex():
                ex.fail(f"your result is complex ({got.dtype}): the squared Fréchet distance is "
                        "real. torch.linalg.eig/eigvals return complex numbers even when the "
                        "eigenvalues are real (those of Σ_a Σ_b are real and ≥ 0): take their "
                        "real part, or use eigh/eigvalsh on a symmetric matrix.", label)
            atol, rtol = _frechet_tolerance(args)
            compare_or_diagnose(
                ex, got, expected, case=label, args=args, mistakes=_frechet_mistakes(),
                properties=_frechet_properties(frechet_distance_gaussians, args, label, ex),
                nonfinite_hint=(
                    "A covariance's eigenvalues can come out slightly negative through round-off "
                    "(a singular covariance has eigenvalues 0): clamp them to 0 before the "
                    "square root."
                ),
                check_dtype=False, atol=atol, rtol=rtol,
            )


# --- Exercise 8.3 ----------------------------------------------------------------------

_CONV_CASES = [  # (size, kernel, stride, padding, output_padding)
    (7, 4, 2, 1, 0),
    (14, 4, 2, 1, 0),
    (1, 4, 1, 0, 0),
    (5, 3, 1, 1, 0),
    (4, 5, 3, 2, 0),
    (3, 2, 2, 0, 0),
    (6, 3, 2, 1, 1),
    (5, 1, 1, 0, 0),
    (4, 4, 4, 0, 3),
    (8, 5, 2, 2, 1),
    (2, 3, 1, 0, 0),
    (3, 3, 3, 1, 2),
    (3, 2, 3, 0, 0),
    (4, 1, 2, 0, 1),
]

_CONV_MISTAKES = [
    ("that is the size rule of an ordinary convolution ⌊(n + 2p − k)/s⌋ + 1, which "
     "shrinks the map; a transposed convolution runs it backwards and enlarges it.",
     lambda n, k, s, p, o: (n + 2 * p - k) // s + 1),
    ("the padding is added; in a transposed convolution the padding p is removed from "
     "both sides of the output: subtract 2p.",
     lambda n, k, s, p, o: (n - 1) * s + 2 * p + k + o),
    ("the padding is removed from both sides of the output: subtract 2p, not p.",
     lambda n, k, s, p, o: (n - 1) * s - p + k + o),
    ("the n input pixels are s apart, so they span (n − 1)·s + 1 positions, not n·s: use "
     "(n − 1)·s.",
     lambda n, k, s, p, o: n * s - 2 * p + k + o),
    ("the stride scales the size but the kernel adds k − 1 pixels (and the padding removes 2p); "
     "n·s alone ignores both.",
     lambda n, k, s, p, o: n * s),
    ("the output padding is missing: output_padding adds that many pixels to one side of the "
     "output (it is what tells apart input sizes that a stride-s convolution maps to the same size).",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k),
    ("the output padding is added on one side only (once), not on both sides like the padding.",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k + 2 * o),
    ("the output padding enlarges the output (it adds pixels on one side); you subtracted it.",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k - o),
    ("the kernel covers k pixels around the last input position, so it adds k − 1 pixels to the "
     "(n − 1)·s + 1 positions the inputs span: the total has + k, not + k − 1.",
     lambda n, k, s, p, o: (n - 1) * s - 2 * p + k - 1 + o),
]

_CONV_PROPERTIES = [  # (description of the cases, test on (n, k, s, p, o))
    ("the stride is 1", lambda n, k, s, p, o: s == 1),
    ("the stride is greater than 1", lambda n, k, s, p, o: s > 1),
    ("the padding is 0", lambda n, k, s, p, o: p == 0),
    ("the padding is positive", lambda n, k, s, p, o: p > 0),
    ("the output padding is positive", lambda n, k, s, p, o: o > 0),
    ("the input has size 1", lambda n, k, s, p, o: n == 1),
    ("the kernel has size 1", lambda n, k, s, p, o: k == 1),
    ("the kernel is smaller than the stride", lambda n, k, s, p, o: k < s),
    ("the kernel is at least as large as the stride", lambda n, k, s, p, o: k >= s),
]


def _reference_size(size: int, kernel: int, stride: int, padding: int, output_padding: int) -> int:
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding,
                               output_padding=output_padding)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, size, size)).shape[-1])


def _conv_diagnosis(answers: list[tuple[str, int, int]]) -> str:
    """Say where the sizes are wrong: a constant offset, or exactly the cases with a property."""
    wrong = [got != expected for _, got, expected in answers]
    case, got, expected = next(a for a, w in zip(answers, wrong, strict=True) if w)
    first = f"e.g. size {case}: expected {expected} pixels, got {got}"
    offsets = {g - e for _, g, e in answers}
    if len(offsets) == 1:
        (delta,) = offsets
        return (f"every size is off by {delta:+d} pixel{'s' if abs(delta) != 1 else ''} ({first}): "
                "a constant term of the rule is wrong.")
    ratios = {g / e for _, g, e in answers}
    if len(ratios) == 1:
        (ratio,) = ratios
        return (f"every size is {ratio:g} times the right one ({first}): a factor of the rule "
                "is wrong.")
    for description, holds in _CONV_PROPERTIES:
        marks = [holds(*args) for args in _CONV_CASES]
        if marks == wrong and not all(marks):
            return (f"your sizes are wrong exactly in the cases where {description} and right in "
                    f"all the others ({first}): look at how that argument enters your rule.")
    n_wrong = sum(wrong)
    return (f"{n_wrong} of {len(answers)} sizes are wrong, with no constant offset and no single "
            f"argument explaining which ({first}). Place the n inputs s pixels apart, add what the "
            "kernel covers, remove the padding on both sides and add the output padding.")


def check_conv_transpose_output_size(conv_transpose_output_size: Callable[..., int]) -> None:
    """Check Exercise 8.3: ``conv_transpose_output_size(size, kernel, stride, padding,
    output_padding=0) -> int``.

    Reference: the side of the output of ``nn.ConvTranspose2d`` itself
    (Book: eq-conv-transpose-size), on 14 settings including the boundaries (size 1,
    kernel 1, stride 1, padding 0, kernel smaller than the stride, output padding up to
    stride − 1). Deterministic: no false failures.
    """
    __tracebackhide__ = True
    with Exercise("8.3", "conv_transpose_output_size") as ex:
        answers = []
        for n, k, s, p, o in _CONV_CASES:
            case = f"{n}, kernel {k}, stride {s}, padding {p}, output padding {o}"
            got = ex.call(conv_transpose_output_size, n, k, s, p, o)
            if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
                got = got.item()
            if isinstance(got, Integral) and not isinstance(got, bool):
                got = int(got)
            elif isinstance(got, float | torch.Tensor) and float(got) == round(float(got)):
                ex.fail(f"return an int (a number of pixels), got the float {float(got)}; use "
                        "integer arithmetic (// rather than /).", "size " + case)
            else:
                ex.fail(f"return a Python int, got {type(got).__name__} {got!r}.", "size " + case)
            answers.append((case, got, _reference_size(n, k, s, p, o)))
        if any(got != expected for _, got, expected in answers):
            case = next(c for c, got, expected in answers if got != expected)
            for message, mistake in _CONV_MISTAKES:  # a mistake explains *every* answer
                if all(answer == mistake(*args)
                       for (_, answer, _), args in zip(answers, _CONV_CASES, strict=True)):
                    ex.fail(message, "size " + case)
            ex.fail(_conv_diagnosis(answers), "size " + case)
        for case, _, _ in answers:
            ex.require(True, "", "size " + case)
