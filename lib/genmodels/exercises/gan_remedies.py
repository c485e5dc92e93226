"""Checks for the exercises of chapter 10 (GAN remedies, measured).

* Exercise 10.1 — :func:`check_minibatch_std_feature`: the minibatch standard-deviation
  feature (reference: :class:`genmodels.gan.MinibatchStdDev`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genmodels.exercises._core import Exercise, Mistake, devices_to_check
from genmodels.exercises._diagnose import shape_message
from genmodels.gan import MinibatchStdDev

# --- Exercise 10.1 --------------------------------------------------------------------


def _minibatch_std_mistakes() -> list[Mistake]:
    def append(h: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return torch.cat([h, value.reshape(-1, 1).expand(h.shape[0], 1)], dim=1)

    return [
        Mistake(
            "you used the unbiased standard deviation (divides by B − 1); the feature uses "
            "the population standard deviation over the batch (divides by B).",
            lambda h: append(h, h.std(dim=0, unbiased=True).mean()),
        ),
        Mistake(
            "you took the standard deviation across the features of each sample; it must be "
            "across the *batch* (dim 0) for each feature, then averaged over the features.",
            lambda h: torch.cat([h, h.std(dim=1, unbiased=False, keepdim=True)], dim=1),
        ),
        Mistake(
            "you averaged the variances, not the standard deviations: take the square root "
            "per feature before averaging.",
            lambda h: append(h, h.var(dim=0, unbiased=False).mean()),
        ),
        Mistake(
            "you took the square root of the average variance; the feature averages the "
            "per-feature standard deviations (square root first, then the mean).",
            lambda h: append(h, h.var(dim=0, unbiased=False).mean().sqrt()),
        ),
        Mistake(
            "that is the standard deviation of all B·F values pooled together; compute one "
            "standard deviation per feature (over the batch), then average them.",
            lambda h: append(h, h.std(unbiased=False)),
        ),
        Mistake(
            "that is the standard deviation over the batch of each sample's mean feature; "
            "compute one standard deviation per feature (over the batch), then average them.",
            lambda h: append(h, h.mean(dim=1).std(unbiased=False)),
        ),
        Mistake(
            "the new feature must be appended as the *last* column, after the F features.",
            lambda h: torch.cat([h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1), h],
                                dim=1),
        ),
        Mistake(
            "you appended the mean absolute deviation from the batch mean, not the standard "
            "deviation (the root of the mean *squared* deviation).",
            lambda h: append(h, (h - h.mean(0)).abs().mean()),
        ),
    ]


def _minibatch_std_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    """Hidden inputs from ``generator``: several batch sizes (2 included, where B and B − 1
    differ most), one feature, features of different scales, float64, a batch of equal
    rows (the statistic is 0) and a feature constant over the batch."""
    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    cases = [
        ("B = 8, F = 5", randn(8, 5) * 2 + 1),
        ("B = 2, F = 3", randn(2, 3)),
        ("B = 64, F = 16, features of different scales", randn(64, 16) * torch.linspace(0.1, 3, 16)),
        ("B = 5, F = 1", randn(5, 1) * 4 - 2),
        ("B = 7, F = 6, float64", randn(7, 6).double() * 3),
        ("one feature constant over the batch", torch.cat([randn(10, 3), torch.full((10, 1), 2.5)], 1)),
    ]
    for device in devices_to_check()[1:]:
        cases.append((f"B = 8, F = 5, on {device}", cases[0][1].to(device)))
    return cases


def check_minibatch_std_feature(minibatch_std_feature: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check Exercise 10.1: ``minibatch_std_feature(h [B, F]) -> [B, F + 1]``.

    Reference: :class:`genmodels.gan.MinibatchStdDev` (Book: eq-minibatch-std), on hidden
    inputs drawn from a generator seeded here (:func:`_minibatch_std_cases`); the gradient
    of the new column with respect to ``h`` must be the reference's (the discriminator is
    trained through it). A batch of equal rows (statistic 0) is compared with atol 1e-3,
    so that a square root stabilised by a small ε (ProGAN's sqrt(var + 1e-8)) passes.
    Deterministic: no statistical test.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(3)
    reference = MinibatchStdDev()
    collapsed = torch.ones(6, 4) * torch.tensor([1.0, -2.0, 0.5, 3.0])
    with Exercise("10.1", "minibatch_std_feature") as ex:
        for label, h in [*_minibatch_std_cases(generator), ("a collapsed batch (all rows equal)", collapsed)]:
            got = ex.call(minibatch_std_feature, h)
            b, f = h.shape
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (b, 1):
                ex.fail("return the features *with* the new column appended, shape [B, F + 1], "
                        "not the new column alone.", label)
            if isinstance(got, torch.Tensor) and tuple(got.shape) in {(), (1,)}:
                ex.fail(shape_message((b, f + 1), tuple(got.shape), {"the B samples": b}) +
                        " Repeat the statistic for every sample and append it as a column.", label)
            collapsed_case = label.startswith("a collapsed")
            expected = reference(h)
            ex.compare(
                got,
                expected,
                case=label,
                args=(h,),
                mistakes=_minibatch_std_mistakes(),
                sizes={"the B samples": b, "the F features": f},
                where={"the column": torch.arange(f + 1, device=h.device)[None, :]},
                atol=1e-3 if collapsed_case else None,
            )
            if bool((h.std(dim=0) == 0).any()):
                continue  # the standard deviation has no derivative at 0
            leaf = h.clone().requires_grad_(True)
            out = ex.call(minibatch_std_feature, leaf)
            ex.require(isinstance(out, torch.Tensor) and out.grad_fn is not None,
                       "the output carries no gradient: the new column (or the whole result) was "
                       "detached from h (.item(), float(), torch.tensor(...) or .detach()). The "
                       "discriminator is trained through this feature: keep it a function of h.",
                       label)
            weights = torch.linspace(0.5, 1.5, b, dtype=h.dtype, device=h.device)
            (got_grad,) = torch.autograd.grad((weights * out[:, -1]).sum(), leaf, allow_unused=True)
            ex.require(got_grad is not None and bool(got_grad.abs().max() > 0),
                       "the new column carries no gradient: the statistic was computed outside "
                       "autograd (.item(), float(), torch.tensor(...), torch.full(...) or "
                       ".detach()). The discriminator is trained through it: keep it a function "
                       "of h.", label)
            ref_leaf = h.clone().requires_grad_(True)
            (ref_grad,) = torch.autograd.grad((weights * reference(ref_leaf)[:, -1]).sum(), ref_leaf)
            ex.require(got_grad is not None and torch.allclose(got_grad, ref_grad, rtol=1e-3, atol=1e-4),
                       "the values are right but the gradient of the new column with respect to h "
                       "is not: part of the statistic is computed outside autograd (detached).",
                       label)
