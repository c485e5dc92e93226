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
            "that is the standard deviation of all B·F values pooled together; compute one "
            "standard deviation per feature (over the batch), then average them.",
            lambda h: append(h, h.std(unbiased=False)),
        ),
        Mistake(
            "the new feature must be appended as the *last* column, after the F features.",
            lambda h: torch.cat([h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1), h],
                                dim=1),
        ),
    ]


def check_minibatch_std_feature(minibatch_std_feature: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check Exercise 10.1: ``minibatch_std_feature(h [B, F]) -> [B, F + 1]``.

    Reference: :class:`genmodels.gan.MinibatchStdDev` (Book: eq-minibatch-std).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(3)
    cases = [
        ("B = 8, F = 5", torch.randn(8, 5, generator=generator) * 2 + 1),
        ("B = 2, F = 3", torch.randn(2, 3, generator=generator)),
        ("B = 64, F = 16", torch.randn(64, 16, generator=generator) * torch.linspace(0.1, 3, 16)),
        ("a collapsed batch (all rows equal)", torch.ones(6, 4) * torch.tensor([1.0, -2.0, 0.5, 3.0])),
    ]
    for device in devices_to_check()[1:]:
        cases.append((f"B = 8, F = 5, on {device}", cases[0][1].to(device)))
    reference = MinibatchStdDev()
    with Exercise("10.1", "minibatch_std_feature") as ex:
        for label, h in cases:
            got = ex.call(minibatch_std_feature, h)
            b, f = h.shape
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (b, 1):
                ex.fail("return the features *with* the new column appended, shape [B, F + 1], "
                        "not the new column alone.", label)
            if isinstance(got, torch.Tensor) and tuple(got.shape) in {(), (1,)}:
                ex.fail(shape_message((b, f + 1), tuple(got.shape), {"the B samples": b}) +
                        " Repeat the statistic for every sample and append it as a column.", label)
            ex.compare(
                got,
                reference(h),
                case=label,
                args=(h,),
                mistakes=_minibatch_std_mistakes(),
                sizes={"the B samples": b, "the F features": f},
                atol=1e-5,
                rtol=1e-5,
            )
