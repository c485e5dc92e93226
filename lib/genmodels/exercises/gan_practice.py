"""Checks for the exercises of chapter 8 (GANs in practice).

* Exercise 8.1 — :func:`check_discriminator_accuracy`: the discriminator's accuracy on
  real and on fake samples from logits (reference: ``gan_monitor.discriminator_accuracy``).
* Exercise 8.2 — :func:`check_frechet_distance_gaussians`: the squared Fréchet distance
  between two Gaussians (reference: ``sample_quality.gaussian_frechet_distance``).
* Exercise 8.3 — :func:`check_conv_transpose_output_size`: the side of a transposed
  convolution's output (reference: the shape PyTorch's ``nn.ConvTranspose2d`` produces).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from genmodels.exercises._core import Exercise, Mistake, devices_to_check
from genmodels.measure import gan_monitor, sample_quality

# --- Exercise 8.1 ----------------------------------------------------------------------


def _accuracy_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, real_logits, fake_logits): typical, unequal sizes, ties, float64."""
    cases = [
        ("64 real and 64 fake logits", 2 * torch.randn(64, generator=generator) + 0.5,
         2 * torch.randn(64, generator=generator) - 0.8),
        ("50 real and 20 fake logits", torch.randn(50, generator=generator) + 1.0,
         torch.randn(20, generator=generator) - 0.2),
        ("logits near the decision boundary (between 0 and 0.5)",
         torch.tensor([0.2, 0.4, 0.7, -0.3, 1.5]), torch.tensor([-0.2, 0.3, -0.45, -2.0])),
        ("undecided logits of exactly 0 (D = 1/2)",
         torch.tensor([0.0, 1.0, -1.0, 2.0]), torch.tensor([0.0, 0.0, -3.0])),
        ("a confident discriminator, float64",
         torch.tensor([30.0, 12.0, 8.0], dtype=torch.float64),
         torch.tensor([-25.0, -9.0, 4.0, -0.5, -7.0], dtype=torch.float64)),
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
            "both entries hold the pooled accuracy over all n + m samples; compute one "
            "accuracy per kind, each over its own batch.",
            lambda r, f: _pair(*(2 * [torch.cat([r > 0, f < 0]).float().mean()]), r),
        ),
    ]


def check_discriminator_accuracy(discriminator_accuracy: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 8.1: ``discriminator_accuracy(real_logits [n], fake_logits [m]) -> [2]``.

    Reference: :func:`genmodels.measure.gan_monitor.discriminator_accuracy`
    (Book: eq-discriminator-accuracy).
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
            ex.compare(got, expected, case=label, args=(real, fake),
                       mistakes=_accuracy_mistakes(), atol=1e-6, rtol=1e-6)


# --- Exercise 8.2 ----------------------------------------------------------------------


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    eigenvalues, eigenvectors = torch.linalg.eigh(m)
    return (eigenvectors * eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T


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


def _random_covariance(f: int, generator: torch.Generator, rank: int | None = None) -> torch.Tensor:
    a = torch.randn(f, rank or f + 2, generator=generator, dtype=torch.float64)
    return a @ a.T / a.shape[1]


def _frechet_cases(generator: torch.Generator) -> list[tuple]:
    def mean(f: int) -> torch.Tensor:
        return torch.randn(f, generator=generator, dtype=torch.float64)

    same_mu, same_cov = mean(4), _random_covariance(4, generator)
    diag_a = torch.diag(torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64))
    diag_b = torch.diag(torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64))
    return [
        ("two random Gaussians in 3 dimensions", mean(3), _random_covariance(3, generator),
         mean(3), _random_covariance(3, generator)),
        ("two random Gaussians in 8 dimensions", mean(8), _random_covariance(8, generator),
         mean(8), _random_covariance(8, generator)),
        ("one dimension: the answer is (μ_a − μ_b)² + (σ_a − σ_b)²",
         torch.tensor([1.0], dtype=torch.float64), torch.tensor([[4.0]], dtype=torch.float64),
         torch.tensor([-0.5], dtype=torch.float64), torch.tensor([[0.25]], dtype=torch.float64)),
        ("diagonal (commuting) covariances", mean(3), diag_a, mean(3), diag_b),
        ("identical Gaussians (the answer is 0)", same_mu, same_cov, same_mu.clone(),
         same_cov.clone()),
        ("equal covariances, different means", mean(5), (c := _random_covariance(5, generator)),
         mean(5), c.clone()),
        ("singular covariances (rank 2 in 5 dimensions)", mean(5),
         _random_covariance(5, generator, rank=2), mean(5),
         _random_covariance(5, generator, rank=2)),
    ]


def check_frechet_distance_gaussians(frechet_distance_gaussians: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 8.2: ``frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b) -> 0-d``.

    Reference: :func:`genmodels.measure.sample_quality.gaussian_frechet_distance`
    (Book: eq-frechet-distance); float64 inputs.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(3)
    with Exercise("8.2", "frechet_distance_gaussians") as ex:
        for label, *args in _frechet_cases(generator):
            expected = torch.tensor(sample_quality.gaussian_frechet_distance(*args), dtype=torch.float64)
            got = ex.call(frechet_distance_gaussians, *args)
            ex.compare(
                got, expected, case=label, args=tuple(args), mistakes=_frechet_mistakes(),
                nonfinite_hint=(
                    "A covariance's eigenvalues can come out slightly negative through round-off "
                    "(a singular covariance has eigenvalues 0): clamp them to 0 before the "
                    "square root."
                ),
                atol=1e-6, rtol=1e-6,
            )


# --- Exercise 8.3 ----------------------------------------------------------------------

_CONV_CASES = [  # (size, kernel, stride, padding)
    (7, 4, 2, 1),
    (14, 4, 2, 1),
    (1, 4, 1, 0),
    (5, 3, 1, 1),
    (4, 5, 3, 2),
    (3, 2, 2, 0),
    (6, 3, 2, 1),
]

_CONV_MISTAKES = [
    ("that is the size rule of an ordinary convolution ⌊(n + 2p − k)/s⌋ + 1, which "
     "shrinks the map; a transposed convolution runs it backwards and enlarges it.",
     lambda n, k, s, p: (n + 2 * p - k) // s + 1),
    ("the padding is added; in a transposed convolution the padding p is removed from "
     "both sides of the output: subtract 2p.",
     lambda n, k, s, p: (n - 1) * s + 2 * p + k),
    ("the padding is removed from both sides of the output: subtract 2p, not p.",
     lambda n, k, s, p: (n - 1) * s - p + k),
    ("the n input pixels are s apart, so they span (n − 1)·s + 1 positions, not n·s: use "
     "(n − 1)·s.",
     lambda n, k, s, p: n * s - 2 * p + k),
    ("the stride scales the size but the kernel adds k − 1 pixels (and the padding removes 2p); "
     "n·s alone ignores both.",
     lambda n, k, s, p: n * s),
]


def _reference_size(size: int, kernel: int, stride: int, padding: int) -> int:
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, size, size)).shape[-1])


def check_conv_transpose_output_size(conv_transpose_output_size: Callable[..., int]) -> None:
    """Check Exercise 8.3: ``conv_transpose_output_size(size, kernel, stride, padding) -> int``.

    Reference: the side of the output of ``nn.ConvTranspose2d`` itself
    (Book: eq-conv-transpose-size).
    """
    __tracebackhide__ = True
    with Exercise("8.3", "conv_transpose_output_size") as ex:
        answers = []
        for n, k, s, p in _CONV_CASES:
            case = f"size {n}, kernel {k}, stride {s}, padding {p}"
            got = ex.call(conv_transpose_output_size, n, k, s, p)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, float) and got.is_integer():
                ex.fail(f"return an int (a number of pixels), got the float {got}; use integer "
                        "arithmetic (// rather than /).", case)
            if isinstance(got, bool) or not isinstance(got, int):
                ex.fail(f"return a Python int, got {type(got).__name__} {got!r}.", case)
            answers.append((case, got, _reference_size(n, k, s, p)))
        wrong = [(case, got, expected) for case, got, expected in answers if got != expected]
        if wrong:
            case, got, expected = wrong[0]
            for message, mistake in _CONV_MISTAKES:  # a mistake explains *every* answer
                if all(answer == mistake(*args)
                       for (_, answer, _), args in zip(answers, _CONV_CASES, strict=True)):
                    ex.fail(message, case)
            ex.fail(f"expected {expected} pixels, got {got}. Place the n inputs s pixels apart, "
                    "add what the kernel covers, and remove the padding on both sides.", case)
        for case, _, _ in answers:
            ex.require(True, "", case)
