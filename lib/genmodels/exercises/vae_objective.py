"""Checks for the exercises of chapter 5 (The VAE objective).

* Exercise 5.1 — :func:`check_kl_closed_form`: KL(N(μ, diag σ²) || N(0, I)) from the
  mean and the log-variance (reference: ``vae.kl_to_standard_normal``).
* Exercise 5.2 — :func:`check_reparameterized_sample`: z = μ + exp(log σ² / 2)·ε with a
  generator, differentiable in μ and log σ² (reference: ``vae.reparameterize``).
* Exercise 5.3 — :func:`check_gaussian_vae_loss`: the negative ELBO per example with a
  Gaussian decoder of fixed σ (reference: ``vae.gaussian_log_likelihood`` and
  ``vae.kl_to_standard_normal``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genmodels import vae
from genmodels.core.constants import LOG_2PI
from genmodels.exercises._core import Exercise, Mistake, with_accelerator_copies
from genmodels.exercises._diagnose import shape_message


def require_order(ex: Exercise, got: object, expected: torch.Tensor, what: str, case: str) -> None:
    """Name an answer whose values are the right ones in another order along the last
    dimension (e.g. reversed): a local helper, the framework's diagnoses do not test it."""
    __tracebackhide__ = True
    if not (isinstance(got, torch.Tensor) and got.shape == expected.shape and expected.ndim >= 1
            and expected.shape[-1] > 1 and got.is_floating_point()):
        return
    g, e = got.detach().to(expected), expected.detach()
    rtol, atol = 1e-4, 1e-5
    if torch.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True) or not bool(torch.isfinite(g).all()):
        return
    if torch.allclose(g.sort(dim=-1).values, e.sort(dim=-1).values, rtol=rtol, atol=atol):
        ex.fail(f"your values are the right ones in the wrong order: value i must belong to {what} i "
                "(did you reverse, sort or permute them?).", case)


def _sum(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).sum(1)


def _mean(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).mean(1)


# --- Exercise 5.1 ----------------------------------------------------------------------


def _kl_mistakes() -> list[Mistake]:
    """Typical wrong answers of Exercise 5.1, each as the formula that produces it."""
    return [
        Mistake(
            "the factor −½ in front of the sum is missing (you have −Σ(…) or Σ(…)): "
            "KL = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²).",
            lambda mu, lv: -_sum(1 + lv - mu**2 - lv.exp()),
        ),
        Mistake(
            "you used the standard deviation σ = exp(log σ² / 2) where the variance "
            "σ² = exp(log σ²) belongs (the last term of the sum is σ², not σ).",
            lambda mu, lv: -0.5 * _sum(1 + lv - mu**2 - (0.5 * lv).exp()),
        ),
        Mistake(
            "you treated the input as a variance, but it is the log-variance log σ²: it is "
            "already the log term, and σ² = exp(logvar) (it may be negative, so log(logvar) "
            "gives NaN).",
            lambda mu, lv: -0.5 * _sum(1 + torch.log(lv) - mu**2 - lv),
        ),
        Mistake(
            "you used log σ = log σ² / 2 where log σ² belongs: the input logvar is already "
            "log σ².",
            lambda mu, lv: -0.5 * _sum(1 + 0.5 * lv - mu**2 - lv.exp()),
        ),
        Mistake(
            "the constant 1 inside the sum is missing: each dimension contributes "
            "−½ (1 + log σ_j² − μ_j² − σ_j²), which is 0 at the prior (μ = 0, σ = 1).",
            lambda mu, lv: -0.5 * _sum(lv - mu**2 - lv.exp()),
        ),
        Mistake(
            "you averaged over the latent dimensions; the KL of a diagonal Gaussian is a "
            "*sum* over its independent dimensions.",
            lambda mu, lv: -0.5 * _mean(1 + lv - mu**2 - lv.exp()),
        ),
        Mistake(
            "sign error: the KL divergence is never negative, and −½ Σ(1 + log σ² − μ² − σ²) "
            "is ≥ 0 because log σ² ≤ σ² − 1.",
            lambda mu, lv: 0.5 * _sum(1 + lv - mu**2 - lv.exp()),
        ),
    ]


def _kl_cases(g: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    extreme = torch.tensor([[-30.0, 15.0, 0.0], [-20.0, -0.5, 12.0], [-30.0, -30.0, -30.0], [15.0, 15.0, 15.0]])
    return [
        ("a batch of 16, D = 4", torch.randn(16, 4, generator=g), torch.randn(16, 4, generator=g)),
        ("very narrow and very broad posteriors: log σ² from −30 to 15",
         torch.randn(4, 3, generator=g), extreme),
        ("one example, D = 1", torch.tensor([[0.7]]), torch.tensor([[-1.3]])),
        ("the prior itself (μ = 0, log σ² = 0): KL = 0", torch.zeros(3, 5), torch.zeros(3, 5)),
        (
            "a batch of 5, D = 32, float64",
            torch.randn(5, 32, generator=g, dtype=torch.float64) * 2,
            torch.randn(5, 32, generator=g, dtype=torch.float64) * 2,
        ),
    ]


def check_kl_closed_form(kl_closed_form: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 5.1: ``kl_closed_form(mu [B, D], logvar [B, D]) -> [B]`` (nats).

    Reference: :func:`genmodels.vae.kl_to_standard_normal` (Book: eq-kl-closed-form), on
    hidden inputs including log-variances from −30 to 15, one example of one dimension, the
    prior itself and float64; then
    the gradients ∂KL/∂μ = μ and ∂KL/∂log σ² = ½(σ² − 1) (a detached or float loss fails).
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(5)
    cases = _kl_cases(g)
    with_accelerator_copies(cases)
    with Exercise("5.1", "kl_closed_form") as ex:
        for label, mu, logvar in cases:
            expected = vae.kl_to_standard_normal(mu, logvar)
            got = ex.call(kl_closed_form, mu, logvar)
            require_order(ex, got, expected, "example", label)
            ex.compare(
                got,
                expected,
                case=label,
                args=(mu, logvar),
                mistakes=_kl_mistakes(),
                sizes={f"the D = {mu.shape[1]} latent dimensions": mu.shape[1],
                       f"the B = {mu.shape[0]} examples": mu.shape[0]},
                nonfinite_hint="Is the log-variance used as a variance somewhere (a log of a negative number)?",
                atol=1e-5,
                rtol=1e-5,
                where={"Σ μ²": mu.pow(2).sum(1), "the smallest log σ²": logvar.min(1).values,
                       "the largest log σ²": logvar.max(1).values},
            )
        mu, logvar = cases[0][1].clone().requires_grad_(), cases[0][2].clone().requires_grad_()
        loss = ex.call(kl_closed_form, mu, logvar)
        ex.require_gradients(loss, {"mu": mu, "logvar": logvar},
                             expected={"mu": mu.detach(), "logvar": 0.5 * (logvar.detach().exp() - 1)},
                             case="gradients of the KL summed over the batch")


# --- Exercise 5.2 ----------------------------------------------------------------------


def _check_sample_basics(ex: Exercise, fn: Callable[..., torch.Tensor]) -> None:
    mu, logvar = torch.zeros(4, 3), torch.full((4, 3), 0.5)
    got = ex.call(fn, mu, logvar, torch.Generator().manual_seed(0))
    case = "mu, logvar of shape [4, 3]"
    ex.require(isinstance(got, torch.Tensor), f"expected a torch.Tensor, got {type(got).__name__}.", case)
    if tuple(got.shape) != (4, 3):
        ex.fail(shape_message((4, 3), tuple(got.shape), {"the D = 3 latent dimensions": 3}), case)
    ex.require(got.dtype == mu.dtype, f"wrong dtype: expected {mu.dtype}, got {got.dtype}.", case)
    ex.require(bool(torch.isfinite(got).all()), "the sample contains NaN or inf.", case)
    ex.require(
        not torch.equal(got.detach(), mu),
        "the sample equals μ: the noise ε is missing (z = μ + σ·ε).",
        case,
    )
    ex.require_generator_use(lambda mu, logvar, generator: fn(mu, logvar, generator), (mu, logvar))


def _check_sample_scale(ex: Exercise, fn: Callable[..., torch.Tensor]) -> None:
    n = 20_000
    mu = torch.full((n, 2), 3.0, dtype=torch.float64)
    mu[:, 1] = -1.0
    logvar = torch.full((n, 2), math.log(9.0), dtype=torch.float64)  # σ = 3, σ² = 9
    z = ex.call(fn, mu, logvar, torch.Generator().manual_seed(3))
    case = f"{n} samples with μ = (3, −1), log σ² = log 9 (σ = 3)"
    if tuple(z.shape) != (n, 2):
        ex.fail(shape_message((n, 2), tuple(z.shape), {}), case)
    z = z.detach().double()
    mean, scale = z.mean(0), z.std(0)
    if not bool(torch.all((mean - mu[0]).abs() < 0.15)):
        if bool(torch.all(mean.abs() < 0.15)):
            ex.fail(f"the samples are centred at 0 (mean {mean.tolist()}): add the mean μ.", case)
        ex.fail(f"the sample mean is {[round(v, 3) for v in mean.tolist()]}, expected (3, −1).", case)
    s = float(scale.mean())
    for wrong, what in [
        (9.0, "you scaled ε by the variance σ² = exp(log σ²); scale it by the standard deviation σ = exp(log σ² / 2)"),
        (math.log(9.0), "you scaled ε by log σ² itself; the standard deviation is σ = exp(log σ² / 2)"),
        (4.5, "you scaled ε by exp(log σ²) / 2; the standard deviation is exp(log σ² / 2) (the ½ goes inside the exponential)"),
        (math.sqrt(3.0), "you scaled ε by exp(log σ² / 4) = √σ; the standard deviation is σ = exp(log σ² / 2)"),
        (1.0, "the noise ε is not scaled: multiply it by σ = exp(log σ² / 2)"),
    ]:
        if abs(s - wrong) < 0.05 * wrong:
            ex.fail(f"{what} (measured standard deviation {s:.3g}, expected 3).", case)
    ex.require(abs(s - 3.0) < 0.05 * 3.0, f"the samples have standard deviation {s:.3g}; expected σ = 3.", case)
    # the standardised draws must be normal: counts in the ten deciles of N(0, 1), a two-sided
    # chi-square test (too uneven or too regular) that a correct sampler fails with p = 2e-7
    u = ((z - mu) / 3.0).reshape(-1)
    deciles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.1, 0.9, 9, dtype=torch.float64))
    counts = torch.bincount(torch.bucketize(u, deciles), minlength=10)
    ex.require_counts(counts, torch.full((10,), 0.1), "the standardised samples (z − μ)/σ, counted in the "
                      "ten deciles of N(0, 1) (is ε drawn from a standard normal?),", case=case)
    corr = float(torch.corrcoef((z - mu).T)[0, 1])
    ex.require(
        abs(corr) < 0.05,
        f"the two dimensions are correlated ({corr:.2f}): draw one independent ε per "
        "example and dimension (the shape of μ).",
        case,
    )


def _check_sample_gradient(ex: Exercise, fn: Callable[..., torch.Tensor]) -> None:
    mu = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    logvar = torch.tensor([[0.3, -0.7, 1.1]], requires_grad=True)
    case = "gradients of z.sum() with respect to μ and log σ²"
    z = ex.call(fn, mu, logvar, torch.Generator().manual_seed(4))
    if not z.requires_grad:
        ex.fail(
            "no gradient flows from z to μ and log σ²: compute z from μ and log σ² with "
            "differentiable operations, with the randomness only in ε ~ N(0, I) "
            "(do not detach, and do not sample z with torch.normal(μ, σ)).",
            case,
        )
    z.sum().backward()
    ex.require(
        mu.grad is not None and bool(torch.allclose(mu.grad, torch.ones_like(mu))),
        f"∂z/∂μ should be 1 for every entry (z = μ + σ·ε); got {None if mu.grad is None else mu.grad.tolist()}.",
        case,
    )
    expected = 0.5 * (z.detach() - mu.detach())  # ∂z/∂logvar = ½ σ ε
    ex.require(
        logvar.grad is not None and bool(torch.allclose(logvar.grad, expected, atol=1e-5)),
        "∂z/∂(log σ²) should be ½·σ·ε = ½ (z − μ): the noise must be scaled by "
        "σ = exp(log σ² / 2), computed from logvar inside the graph.",
        case,
    )


def check_reparameterized_sample(reparameterized_sample: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 5.2: ``reparameterized_sample(mu [B, D], logvar [B, D], generator) -> [B, D]``.

    Checks the shape and dtype, the generator (same seed same draws, another seed other
    draws, the global state unused), the mean and the standard deviation of 20 000 samples
    (within 0.15 and 5 %: 7 and 14 standard errors), their normality (counts in the deciles
    of N(0, 1), a two-sided chi-square test with false-failure probability 2e-7),
    independence of the dimensions (|correlation| < 0.05, 7 standard errors), and the
    gradients ∂z/∂μ = 1 and ∂z/∂log σ² = ½ (z − μ). A correct sampler fails with
    probability below 1e-6.
    Reference: :func:`genmodels.vae.reparameterize` (Book: eq-reparameterization).
    """
    __tracebackhide__ = True
    with Exercise("5.2", "reparameterized_sample") as ex:
        _check_sample_basics(ex, reparameterized_sample)
        _check_sample_scale(ex, reparameterized_sample)
        _check_sample_gradient(ex, reparameterized_sample)


# --- Exercise 5.3 ----------------------------------------------------------------------


def _reference_gaussian_vae_loss(x, x_rec, mu, logvar, sigma):
    return -vae.gaussian_log_likelihood(x, x_rec, sigma) + vae.kl_to_standard_normal(mu, logvar)


def _gaussian_loss_mistakes(d: int) -> list[Mistake]:
    kl = vae.kl_to_standard_normal

    def se(x, r):
        return _sum((x - r) ** 2)

    def const(s):
        return d * (math.log(s) + 0.5 * LOG_2PI)

    return [
        Mistake(
            "that is the tutorial's α·L1 + L2 without the normalising constant of the "
            "Gaussian, d·(log σ + ½ log 2π); the negative log-likelihood asked here keeps it "
            "(it does not change the gradients, but it makes the loss a number of nats).",
            lambda x, r, mu, lv, s: se(x, r) / (2 * s**2) + kl(mu, lv),
        ),
        Mistake(
            "the ½ of α = 1/(2σ²) is missing: −log N(x; x', σ² I) = ‖x − x'‖² / (2σ²) + …",
            lambda x, r, mu, lv, s: se(x, r) / s**2 + const(s) + kl(mu, lv),
        ),
        Mistake(
            "you divided the squared error by 2σ; the weight is α = 1/(2σ²), with the variance σ².",
            lambda x, r, mu, lv, s: se(x, r) / (2 * s) + const(s) + kl(mu, lv),
        ),
        Mistake(
            "the normalising constant uses log σ² where log σ belongs: log of (2πσ²)^(−d/2) "
            "is −d·(log σ + ½ log 2π).",
            lambda x, r, mu, lv, s: se(x, r) / (2 * s**2) + d * (2 * math.log(s) + 0.5 * LOG_2PI) + kl(mu, lv),
        ),
        Mistake(
            "you averaged the squared error over the pixels; the log-likelihood of d "
            "independent pixels is a sum over them.",
            lambda x, r, mu, lv, s: _mean((x - r) ** 2) / (2 * s**2) + const(s) + kl(mu, lv),
        ),
        Mistake(
            "the KL term is missing: the loss is the expected negative log-likelihood *plus* "
            "KL(q(z|x) || p(z)).",
            lambda x, r, mu, lv, s: se(x, r) / (2 * s**2) + const(s),
        ),
        Mistake(
            "the KL term has the wrong sign: the negative ELBO *adds* KL(q(z|x) || p(z)) ≥ 0.",
            lambda x, r, mu, lv, s: se(x, r) / (2 * s**2) + const(s) - kl(mu, lv),
        ),
        Mistake(
            "sign error: you returned the ELBO; the loss is the negative ELBO.",
            lambda x, r, mu, lv, s: -_reference_gaussian_vae_loss(x, r, mu, lv, s),
        ),
        Mistake(
            "you computed the Gaussian density and then its log: for σ = 0.01 the density "
            "exp(−(x − x')²/(2σ²)) underflows to 0 and its log is −∞. Work with the log-density "
            "itself: −(x − x')²/(2σ²) − log σ − ½ log 2π per pixel.",
            lambda x, r, mu, lv, s: -_sum(torch.log(torch.exp(-((x - r) ** 2) / (2 * s**2))
                                                    / (math.sqrt(2 * math.pi) * s))) + kl(mu, lv),
        ),
    ]


def check_gaussian_vae_loss(gaussian_vae_loss: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 5.3: ``gaussian_vae_loss(x, x_rec, mu, logvar, sigma) -> [B]`` (nats).

    ``x``, ``x_rec``: ``[B, 1, 8, 8]``; ``mu``, ``logvar``: ``[B, D]``; ``sigma`` a float.
    The negative ELBO −log N(x; x_rec, σ² I) + KL(N(μ, σ_q²) || N(0, I)) per example, on
    hidden inputs: one example, σ from 0.01 (where a density computed before its log
    underflows) to 2; then its gradients with respect to x_rec, μ and log σ² (those of the
    reference, by autograd): a detached or float loss cannot be trained.
    Book: eq-gaussian-likelihood-squared-error, eq-vae-loss.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(53)
    cases = []
    for b, dlat, sigma in [(8, 2, 0.1), (1, 3, 0.3), (5, 4, 2.0), (3, 2, 0.01)]:
        x = torch.rand(b, 1, 8, 8, generator=g)
        x_rec = torch.rand(b, 1, 8, 8, generator=g)
        mu = torch.randn(b, dlat, generator=g)
        logvar = torch.randn(b, dlat, generator=g)
        cases.append((f"B = {b}, D = {dlat}, sigma = {sigma}", x, x_rec, mu, logvar, sigma))
    with_accelerator_copies(cases)
    label, *tensors, sigma = cases[0]
    cases.insert(0, (f"{label}, float64", *(t.double() for t in tensors), sigma))
    with Exercise("5.3", "gaussian_vae_loss") as ex:
        for label, x, x_rec, mu, logvar, sigma in cases:
            args = (x, x_rec, mu, logvar, sigma)
            expected = _reference_gaussian_vae_loss(*args)
            got = ex.call(gaussian_vae_loss, *args)
            require_order(ex, got, expected, "example", label)
            ex.compare(
                got,
                expected,
                case=label,
                args=args,
                mistakes=_gaussian_loss_mistakes(64),
                sizes={"the d = 64 pixels": 64},
                atol=1e-3,
                rtol=1e-5,
            )
        x, x_rec, mu, logvar, sigma = cases[1][1:]
        inputs = {"x_rec": x_rec.clone().requires_grad_(), "mu": mu.clone().requires_grad_(),
                  "logvar": logvar.clone().requires_grad_()}
        reference = _reference_gaussian_vae_loss(x, inputs["x_rec"], inputs["mu"], inputs["logvar"], sigma)
        expected = dict(zip(inputs, torch.autograd.grad(reference.sum(), list(inputs.values())), strict=True))
        loss = ex.call(gaussian_vae_loss, x, inputs["x_rec"], inputs["mu"], inputs["logvar"], sigma)
        ex.require_gradients(loss, inputs, expected=expected, case="gradients of the loss summed over the batch")
