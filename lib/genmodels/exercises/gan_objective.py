"""Checks for the exercises of chapter 7 (The GAN objective).

* Exercise 7.1 — :func:`check_discriminator_bce`: the discriminator's loss (real → 1,
  fake → 0) from logits, numerically stable (reference: ``gan.discriminator_loss``).
* Exercise 7.2 — :func:`check_generator_loss_flip_labels`: the non-saturating generator
  loss, "flip the labels" (reference: ``gan.generator_loss_non_saturating``).
* Exercise 7.3 — :func:`check_jensen_shannon_divergence`: the Jensen–Shannon divergence
  of discrete distributions in nats (reference: ``gan.jensen_shannon``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genmodels import gan
from genmodels.exercises._core import Exercise, Mistake, with_accelerator_copies

_UNSTABLE = (
    "log(sigmoid(l)) is not stable: for a large |l| sigmoid rounds to exactly 0 or 1 and "
    "the log gives -inf. Work with the logits directly: −log σ(l) = softplus(−l) and "
    "−log(1 − σ(l)) = softplus(l)."
)


def _logit_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, real_logits, fake_logits): typical, unequal sizes, extreme, tiny."""
    return [
        ("64 real and 64 fake logits", 2 * torch.randn(64, generator=generator),
         2 * torch.randn(64, generator=generator) - 1),
        ("50 real and 20 fake logits", torch.randn(50, generator=generator) + 1,
         3 * torch.randn(20, generator=generator)),
        ("extreme logits ±100 (a very confident discriminator)",
         torch.tensor([100.0, -100.0, 30.0]), torch.tensor([-100.0, 100.0, -40.0, 0.0])),
        ("one real and one fake logit", torch.tensor([0.3]), torch.tensor([-1.2])),
    ]


# --- Exercise 7.1 ----------------------------------------------------------------------


def _discriminator_mistakes() -> list[Mistake]:
    sp = F.softplus
    return [
        Mistake(
            "sign error: that is the value V(D, G) = mean log D(x) + mean log(1 − D(G(z))), "
            "which the discriminator *ascends*; the loss to minimise is −V.",
            lambda r, f: -(sp(-r).mean() + sp(f).mean()),
        ),
        Mistake(
            "the labels are swapped: real images must have target 1 (loss −log D(x)) and "
            "fake images target 0 (loss −log(1 − D(G(z)))).",
            lambda r, f: sp(r).mean() + sp(-f).mean(),
        ),
        Mistake(
            "only the real-image term is there: add the fake-image term "
            "−mean log(1 − D(G(z))).",
            lambda r, f: sp(-r).mean(),
        ),
        Mistake(
            "only the fake-image term is there: add the real-image term −mean log D(x).",
            lambda r, f: sp(f).mean(),
        ),
        Mistake(
            "you summed over the samples; each expectation is a mean over its own batch.",
            lambda r, f: sp(-r).sum() + sp(f).sum(),
        ),
        Mistake(
            "you averaged the real and fake samples pooled together (one mean over n + m "
            "terms); the objective has one expectation per distribution, each a mean over "
            "its own batch, and the two are added.",
            lambda r, f: torch.cat([sp(-r), sp(f)]).mean(),
        ),
        Mistake(
            "you averaged the two terms (a factor ½); the objective adds the two "
            "expectations.",
            lambda r, f: 0.5 * (sp(-r).mean() + sp(f).mean()),
        ),
        Mistake(
            "the logits were used as probabilities: apply the sigmoid D = σ(l) first (or, "
            "better, use the stable softplus forms).",
            lambda r, f: -(torch.log(r) + 0).mean() - torch.log(1 - f).mean(),
        ),
        Mistake(
            _UNSTABLE,
            lambda r, f: -torch.log(torch.sigmoid(r)).mean()
            - torch.log(1 - torch.sigmoid(f)).mean(),
        ),
    ]


def check_discriminator_bce(discriminator_bce: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.1: ``discriminator_bce(real_logits [n], fake_logits [m]) -> 0-d``.

    Reference: :func:`genmodels.gan.discriminator_loss` without smoothing
    (Book: eq-d-step).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    with Exercise("7.1", "discriminator_bce") as ex:
        for label, real, fake in with_accelerator_copies(_logit_cases(generator)):
            expected = gan.discriminator_loss(real, fake)
            got = ex.call(discriminator_bce, real, fake)
            ex.compare(
                got,
                expected,
                case=label,
                args=(real, fake),
                mistakes=_discriminator_mistakes(),
                sizes={"the real samples": real.shape[0]},
                nonfinite_hint=_UNSTABLE,
                atol=1e-5,
                rtol=1e-5,
            )


# --- Exercise 7.2 ----------------------------------------------------------------------


def _generator_mistakes() -> list[Mistake]:
    sp = F.softplus
    return [
        Mistake(
            "that is the saturating loss mean log(1 − D(G(z))) of the minimax game; flipping "
            "the labels means treating the fakes as real: minimise −mean log D(G(z)).",
            lambda f: -sp(f).mean(),
        ),
        Mistake(
            "sign error: mean log D(G(z)) is what the generator *ascends*; the loss to "
            "minimise is its negative.",
            lambda f: -sp(-f).mean(),
        ),
        Mistake(
            "the labels are not flipped: that is the cross-entropy with target 0 (the "
            "discriminator's view of fakes); in the generator step the fakes get target 1.",
            lambda f: sp(f).mean(),
        ),
        Mistake(
            "you summed over the batch; the loss is a mean over the fake samples.",
            lambda f: sp(-f).sum(),
        ),
        Mistake(_UNSTABLE, lambda f: -torch.log(torch.sigmoid(f)).mean()),
    ]


def check_generator_loss_flip_labels(generator_loss_flip_labels: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.2: ``generator_loss_flip_labels(fake_logits [m]) -> 0-d``.

    Reference: :func:`genmodels.gan.generator_loss_non_saturating`
    (Book: eq-g-step-non-saturating).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(1)
    cases = [(label, fake) for label, _, fake in with_accelerator_copies(_logit_cases(generator))]
    with Exercise("7.2", "generator_loss_flip_labels") as ex:
        for label, fake in cases:
            expected = gan.generator_loss_non_saturating(fake)
            got = ex.call(generator_loss_flip_labels, fake)
            ex.compare(
                got,
                expected,
                case=label,
                args=(fake,),
                mistakes=_generator_mistakes(),
                sizes={"the fake samples": fake.shape[0]},
                nonfinite_hint=_UNSTABLE,
                atol=1e-5,
                rtol=1e-5,
            )
        # The point of the exercise: the gradient with respect to the logit.
        logits = torch.tensor([-15.0, -5.0, 0.0], requires_grad=True)
        loss = ex.call(generator_loss_flip_labels, logits)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            (grad,) = torch.autograd.grad(loss, logits)
            expected_grad = -(1 - torch.sigmoid(logits.detach())) / 3
            ex.require(
                torch.allclose(grad, expected_grad, atol=1e-6),
                "the gradient with respect to the logits is wrong (expected −(1 − D)/m per "
                f"sample, got {grad.tolist()}); do not detach or round the logits.",
                "gradient",
            )
        else:
            ex.fail(
                "the loss does not depend on the logits through autograd (it has no "
                "gradient): compute it with torch operations, without .item() or .detach().",
                "gradient",
            )


# --- Exercise 7.3 ----------------------------------------------------------------------


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(-1)


def _jsd_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "that is KL(p ‖ q), not the Jensen–Shannon divergence: compare p and q each with "
            "the mixture m = (p + q)/2 and average, ½ KL(p ‖ m) + ½ KL(q ‖ m).",
            lambda p, q: _kl(p, q),
        ),
        Mistake(
            "the factors ½ are missing: JSD = ½ KL(p ‖ m) + ½ KL(q ‖ m).",
            lambda p, q: _kl(p, 0.5 * (p + q)) + _kl(q, 0.5 * (p + q)),
        ),
        Mistake(
            "the mixture is m = (p + q)/2, an average; you used p + q, which is not a "
            "distribution (it sums to 2), and every value is off by −log 2.",
            lambda p, q: 0.5 * (_kl(p, p + q) + _kl(q, p + q)),
        ),
        Mistake(
            "that is the Jensen–Shannon *distance*, the square root of the divergence (what "
            "scipy.spatial.distance.jensenshannon returns); return the divergence itself.",
            lambda p, q: torch.sqrt(0.5 * (_kl(p, 0.5 * (p + q)) + _kl(q, 0.5 * (p + q)))),
        ),
        Mistake(
            "your value is in bits (log base 2); use the natural log so the result is in nats.",
            lambda p, q: gan.jensen_shannon(p, q) / math.log(2.0),
        ),
    ]


def _jsd_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    def dirichlet(*shape: int) -> torch.Tensor:
        g = -torch.log(torch.rand(*shape, generator=generator, dtype=torch.float64))
        return g / g.sum(-1, keepdim=True)

    disjoint_p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    disjoint_q = torch.tensor([0.0, 0.0, 0.3, 0.7], dtype=torch.float64)
    partial_p = torch.tensor([0.2, 0.8, 0.0], dtype=torch.float32)
    partial_q = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float32)
    same = dirichlet(6)
    return [
        ("two random distributions over 5 outcomes", dirichlet(5), dirichlet(5)),
        ("a batch of 3 pairs over 4 outcomes, shape [3, 4]", dirichlet(3, 4), dirichlet(3, 4)),
        ("supports that overlap partly (zeros in p), float32", partial_p, partial_q),
        ("disjoint supports (the answer is log 2)", disjoint_p, disjoint_q),
        ("identical distributions (the answer is 0)", same, same.clone()),
    ]


def check_jensen_shannon_divergence(jensen_shannon_divergence: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.3: ``jensen_shannon_divergence(p [..., K], q [..., K]) -> [...]``.

    Reference: :func:`genmodels.gan.jensen_shannon` (Book: eq-gan-jsd), in nats.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(2)
    with Exercise("7.3", "jensen_shannon_divergence") as ex:
        for label, p, q in with_accelerator_copies(_jsd_cases(generator)):
            expected = gan.jensen_shannon(p, q)
            got = ex.call(jensen_shannon_divergence, p, q)
            ex.compare(
                got,
                expected,
                case=label,
                args=(p, q),
                mistakes=_jsd_mistakes(),
                sizes={f"the {p.shape[-1]} outcomes": p.shape[-1]},
                nonfinite_hint=(
                    "Where p(x) = 0 the term p(x) log(p(x)/m(x)) is 0 (the limit of "
                    "t log t), but computed literally it is 0 · (−inf) = NaN: use "
                    "torch.xlogy, or mask the zero entries."
                ),
                atol=1e-6,
                rtol=1e-5,
            )
