"""Checks for the exercises of chapter 7 (The GAN objective).

* Exercise 7.1 — :func:`check_discriminator_bce`: the discriminator's loss (real → 1,
  fake → 0) from the logits of one batch mixing real and fake samples (a bool mask says
  which are real), numerically stable (reference: ``gan.discriminator_loss``).
* Exercise 7.2 — :func:`check_generator_loss_flip_labels`: the non-saturating generator
  loss, "flip the labels" (reference: ``gan.generator_loss_non_saturating``).
* Exercise 7.3 — :func:`check_jensen_shannon_divergence`: the weighted Jensen–Shannon
  divergence of discrete distributions in nats (reference: :func:`weighted_jensen_shannon`,
  which is ``gan.jensen_shannon`` for the weight ½).

The checks are deterministic (no statistical test, so no false failures): every input is
drawn from a generator the check seeds itself, with edge cases at the boundaries (one
sample per batch, logits of exactly 0, of ±30 and of ±200 where a loss computed from
probabilities breaks down, disjoint supports, identical distributions, weights near 0).

Two helpers here are shared with chapter 8 (:mod:`genmodels.exercises.gan_practice`):
:func:`compare_or_diagnose` (``ex.compare``, but a wrong answer that no listed mistake
explains is first tested against the properties that define the answer, so the message
names the property it violates) and :func:`require_loss_gradients` (``ex.require_gradients``
plus the *values* of the gradients, with NaN gradients and gradients wrong only at large
logits named as such).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from genmodels import gan
from genmodels.exercises import _diagnose
from genmodels.exercises._core import (
    Exercise,
    Mistake,
    _RandomState,
    tolerance_for,
    with_accelerator_copies,
)

Property = Callable[[], "str | None"]

# --- shared helpers (also used by chapter 8) ----------------------------------------------


def _as_tensor(got: object, expected: torch.Tensor) -> torch.Tensor | None:
    """``got`` as a tensor comparable with ``expected`` (a number for a 0-d answer), or None."""
    if isinstance(got, float | int) and not isinstance(got, bool) and expected.ndim == 0:
        return torch.tensor(float(got), dtype=expected.dtype, device=expected.device)
    return got if isinstance(got, torch.Tensor) else None


def compare_or_diagnose(
    ex: Exercise,
    got: object,
    expected: torch.Tensor,
    *,
    case: str = "",
    args: Sequence[object] = (),
    mistakes: Sequence[Mistake] = (),
    properties: Sequence[Property] = (),
    check_dtype: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
    **compare_kwargs: object,
) -> None:
    """:meth:`Exercise.compare`, with a defining property named before the generic fallback.

    When ``got`` has the right type, shape, device and dtype, is finite, is wrong, and no
    listed ``mistakes`` explains it, each of ``properties`` (a function returning a message
    when the student's function violates the property, else ``None``; it may call the
    student's function again) is tried in order and the first message is the diagnosis.
    Otherwise ``ex.compare`` reports as usual (type, shape, NaN, mistakes, generic).
    """
    __tracebackhide__ = True
    g = _as_tensor(got, expected)
    if (
        properties
        and g is not None
        and tuple(g.shape) == tuple(expected.shape)
        and g.device == expected.device
        and (not check_dtype or g.dtype == expected.dtype)
    ):
        d_rtol, d_atol = tolerance_for(g.dtype, expected.dtype)
        r = d_rtol if rtol is None else rtol
        a = d_atol if atol is None else atol
        g_c, e_c = g.detach().to(expected.dtype), expected.detach()
        finite = bool(torch.isfinite(g_c[torch.isfinite(e_c)]).all())
        if finite and not torch.allclose(g_c, e_c, atol=a, rtol=r, equal_nan=True):
            explained = False
            for mistake in mistakes:
                with _RandomState():
                    wrong = torch.as_tensor(mistake.answer(*args)).to(e_c)
                if wrong.shape == g_c.shape and torch.allclose(g_c, wrong, atol=a, rtol=r):
                    explained = True
                    break
            ratio = _diagnose.ratio_message(g_c.double().cpu(), e_c.double().cpu(),
                                            compare_kwargs.get("sizes") or {})
            if ratio is not None and "constant multiple" not in ratio:
                explained = True  # a named factor (sign, ½, 2, a batch size, bits) says more
            if not explained:
                for prop in properties:
                    message = prop()
                    if message is not None:
                        ex.fail(message, case)
    ex.compare(got, expected, case=case, args=args, mistakes=mistakes, check_dtype=check_dtype,
               atol=atol, rtol=rtol, **compare_kwargs)


def _listing(values: torch.Tensor, limit: int = 4) -> str:
    items = [f"{float(v):.4g}" for v in values.reshape(-1)[:limit]]
    return ", ".join(items) + (" …" if values.numel() > limit else "")


def require_loss_gradients(
    ex: Exercise,
    loss: object,
    inputs: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    case: str = "",
    groups: dict[str, torch.Tensor] | None = None,
) -> None:
    """The loss is a tensor with a graph reaching every input, and its gradients are right.

    ``inputs`` are the (``requires_grad``) leaves the student's function was called with,
    ``expected`` the right gradient of each. Float, detached or input-independent losses
    get :meth:`Exercise.require_gradients`' messages; a NaN or infinite gradient is named
    as such with the logits where it occurs, and a wrong gradient says where it is wrong
    (which logits, following |logit|). ``groups`` names bool masks of the inputs' entries
    (e.g. ``{"the fake samples": ~is_real}``): a group that gets no gradient at all, or
    exactly the group where the gradient is wrong, is named.
    """
    __tracebackhide__ = True
    if not (isinstance(loss, torch.Tensor) and loss.requires_grad and loss.grad_fn is not None):
        ex.require_gradients(loss, inputs, case=case)  # fails with the framework's message
    names = list(inputs)
    grads = torch.autograd.grad(loss.sum(), [inputs[n] for n in names], allow_unused=True)
    for name, grad in zip(names, grads, strict=True):
        ex.require(grad is not None, f"your loss does not depend on {name}: no gradient "
                   "reaches it, so training could not change what produced them.", case)
        ref = expected[name]
        x = inputs[name].detach()
        g = grad.detach().to(ref.dtype)
        bad = ~torch.isfinite(g)
        ex.require(
            not bool(bad.any()),
            f"your loss has the right value, but its gradient with respect to {name} is "
            f"{'NaN' if bool(g[bad].isnan().any()) else 'infinite'} where the logit is "
            f"{_listing(x[bad])}: an intermediate result overflows there even though the value "
            "does not show it (for example an exp of a large logit, also in the unused branch "
            "of a torch.where, whose gradient is still computed). Keep every intermediate "
            "finite: softplus and logsigmoid have stable gradients.",
            case,
        )
        rtol, atol = tolerance_for(g.dtype, ref.dtype)
        if not torch.allclose(g, ref, rtol=10 * rtol, atol=10 * atol):
            wrong = ~torch.isclose(g, ref, rtol=10 * rtol, atol=10 * atol)
            for group, members in (groups or {}).items():
                if bool((g[members] == 0).all()) and bool((ref[members] != 0).any()):
                    ex.fail(f"your loss sends no gradient to the logits of {group} (it is 0 "
                            "there): that part of the loss is detached or computed outside "
                            "autograd, so training could not change them.", case)
                if torch.equal(wrong, members):
                    ex.fail(f"your loss has the right value, but its gradient with respect to "
                            f"the logits of {group} is wrong (and right for the others): "
                            "that part of the loss is computed outside autograd, partly "
                            "detached, or only approximates the loss.", case)
            detail = _diagnose.value_message(
                g, ref, {}, where={"|logit|": x.abs().to(ref.dtype)}, rtol=10 * rtol,
                atol=10 * atol)
            ex.fail(f"your loss has the right value (within the tolerance) but the wrong "
                    f"gradient with respect to {name}: {detail} A gradient can be wrong where "
                    "the value is right when a part of the loss is detached or computed outside "
                    "autograd, or when the formula only approximates the loss.", case)
        ex.n_checks += 1


_UNSTABLE = (
    "a loss computed from probabilities D = σ(l) (a log of a sigmoid, binary_cross_entropy "
    "on σ(l), which clamps its log at −100, or an ε added inside the log) or from exp(±l) "
    "breaks down for large |l|: in float32, σ(l) rounds to exactly 0 or 1 from |l| ≈ 17 "
    "(88 for 0) and exp overflows from l ≈ 89. Work with the logits directly: "
    "−log σ(l) = softplus(−l) and −log(1 − σ(l)) = softplus(l)."
)

_NONFINITE = (
    "Look for a log of 0 or of a negative number (a logit is any real number, not a "
    "probability), an exp that overflows, or a division by 0."
)


def _hint(logits: torch.Tensor) -> str:
    """The hint for a NaN/inf answer: instability only where the logits are large."""
    return _UNSTABLE if float(logits.detach().abs().max()) > 15 else _NONFINITE


GRID = (-200.0, -100.0, -30.0, -10.0, -2.0, -0.5, 0.0, 0.5, 2.0, 10.0, 30.0, 100.0, 200.0)
"""Single logits at which a loss is evaluated one sample at a time (the stability profile)."""


def _profile(
    ex: Exercise,
    fn: Callable[..., object],
    arguments: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
    reference: Callable[..., torch.Tensor],
    what: str,
) -> None:
    """Evaluate ``fn(*arguments(x))`` for one logit ``x`` at a time, from −200 to 200
    (float32), against ``reference(*arguments(x))``, and locate errors.

    A loss right for moderate logits (|l| ≤ 2) but wrong or not finite for large ones
    is computed in an unstable way; otherwise the error is located by |logit|.
    """
    __tracebackhide__ = True
    case = f"one {what} at a time, from −200 to 200 (float32)"
    grid = torch.tensor(GRID)
    expected = torch.stack([reference(*arguments(x.reshape(1))) for x in grid])
    values = []
    for x in grid:
        got = ex.call(fn, *arguments(x.reshape(1)))
        g = _as_tensor(got, expected[0])
        if g is None or g.numel() != 1:
            ex.compare(got, expected[0], case=f"one {what} of {float(x):g}")
        values.append(g.detach().reshape(()).to(torch.float32).cpu())
    got = torch.stack(values)
    rtol, atol = 1e-5, 1e-5
    wrong = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
    if not bool(wrong.any()):
        ex.require(True, "", case)
        return
    moderate = grid.abs() <= 2
    if not bool(wrong[moderate].any()):
        at = grid[wrong]
        ex.fail(
            f"your loss is right for moderate logits (|l| ≤ 2) but wrong for a single {what} of "
            f"{_listing(at, 6)} (got {_listing(got[wrong])}, expected "
            f"{_listing(expected[wrong])}): the error appears only where |logit| is large, "
            f"so the loss is not computed stably from the logits. {_UNSTABLE[0].upper()}{_UNSTABLE[1:]}",
            case,
        )
    ex.compare(got, expected, case=case, where={"|logit|": grid.abs(), "the loss": expected},
               atol=atol, rtol=rtol, nonfinite_hint=_NONFINITE)


def _duplication(fn: Callable[..., object], args: tuple[torch.Tensor, ...], index: int,
                 what: str, ex: Exercise) -> str | None:
    """Message if repeating every sample of batch ``index`` changes the loss (a mean would not)."""
    base = ex.call(fn, *args)
    doubled = list(args)
    doubled[index] = torch.cat([args[index], args[index]])
    again = ex.call(fn, *doubled)
    try:
        b, a = float(base), float(again)
    except (TypeError, ValueError, RuntimeError):
        return None
    if math.isfinite(b) and math.isfinite(a) and not math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5):
        return (f"your loss changes (from {b:.5g} to {a:.5g}) when every {what} is repeated "
                "twice, which leaves a mean unchanged: the terms of the "
                f"{what}s must be an average over their own batch.")
    return None


def _direction(fn: Callable[..., object], args: tuple[torch.Tensor, ...], index: int,
               should: str, what: str, meaning: str, ex: Exercise) -> str | None:
    """Message if raising every logit of batch ``index`` moves the loss the wrong way."""
    base = ex.call(fn, *args)
    raised = list(args)
    raised[index] = args[index] + 1.0
    after = ex.call(fn, *raised)
    try:
        b, a = float(base), float(after)
    except (TypeError, ValueError, RuntimeError):
        return None
    wrong_way = a >= b - 1e-6 if should == "lower" else a <= b + 1e-6
    if math.isfinite(b) and math.isfinite(a) and wrong_way:
        return (f"raising every {what} by 1 ({meaning}) must {should} the loss, but yours goes "
                f"from {b:.5g} to {a:.5g}: the sign or the target of the {what}s' term is wrong.")
    return None


def _confident(fn: Callable[..., object], args: tuple[torch.Tensor, ...], ex: Exercise) -> str | None:
    """Message if the generator's loss is far from 0 where every fake fools the
    discriminator completely (logit +20: the loss is at most 2e-9)."""
    got = ex.call(fn, *args)
    try:
        v = float(got)
    except (TypeError, ValueError, RuntimeError):
        return None
    if math.isfinite(v) and abs(v) > 1e-4:
        return (f"where every fake fools the discriminator completely (fake logits +20, D ≈ 1) "
                f"the cross-entropy with target 1 is ≈ 0 (below 1e-8), but yours is {v:.5g}. "
                "Check the target and any term that does not vanish there.")
    return None


def _undecided(fn: Callable[..., object], args: tuple[torch.Tensor, ...], value: float,
               formula: str, ex: Exercise) -> str | None:
    """Message if the loss at logits of exactly 0 (D = ½) is not its known value."""
    got = ex.call(fn, *args)
    try:
        v = float(got)
    except (TypeError, ValueError, RuntimeError):
        return None
    if math.isfinite(v) and not math.isclose(v, value, rel_tol=1e-5, abs_tol=1e-6):
        return (f"at logits of exactly 0 (an undecided discriminator, D = ½) the loss must be "
                f"{formula} = {value:.5g}, but yours is {v:.5g}.")
    return None


def _fake_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    """(description, fake_logits): typical, one logit, float64 (the batch at the extremes,
    ±30 and ±200, comes after the stability profile)."""

    def randn(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(n, generator=generator, dtype=dtype)

    return [
        ("64 fake logits", 2 * randn(64) - 1),
        ("20 fake logits", 3 * randn(20)),
        ("one fake logit", randn(1)),
        ("7 fake logits, float64", 2 * randn(7, torch.float64) - 0.5),
    ]


_EXTREME = (
    "logits of ±30 and ±200 among ordinary ones (a very confident discriminator)",
    torch.tensor([30.0, -30.0, 200.0, -200.0, 0.0, 1.5]),
    torch.tensor([-30.0, 30.0, -200.0, 200.0, 0.0, -0.7, 2.0]),
)


def _leaves(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.detach().clone().requires_grad_(True) for t in tensors]


# --- Exercise 7.1 ----------------------------------------------------------------------


def _split(logits: torch.Tensor, is_real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return logits[is_real], logits[~is_real]


def _mixed(real: torch.Tensor, fake: torch.Tensor,
           generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch holding ``real`` and ``fake`` (shuffled with ``generator``; reals first
    without it) and its bool mask ``is_real``."""
    logits = torch.cat([real, fake])
    is_real = torch.cat([torch.ones(len(real), dtype=torch.bool),
                         torch.zeros(len(fake), dtype=torch.bool)]).to(logits.device)
    if generator is None:
        return logits, is_real
    order = torch.randperm(len(logits), generator=generator).to(logits.device)
    return logits[order], is_real[order]


def _discriminator_reference(logits: torch.Tensor, is_real: torch.Tensor) -> torch.Tensor:
    return gan.discriminator_loss(*_split(logits, is_real))


def _discriminator_mistakes() -> list[Mistake]:
    sp = F.softplus

    def split(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
        return lambda logits, is_real: f(*_split(logits, is_real))

    def reals_first(logits: torch.Tensor, is_real: torch.Tensor) -> torch.Tensor:
        n = int(is_real.sum())
        return sp(-logits[:n]).mean() + sp(logits[n:]).mean()

    def pooled(logits: torch.Tensor, is_real: torch.Tensor) -> torch.Tensor:
        return torch.where(is_real, sp(-logits), sp(logits)).mean()

    return [
        Mistake(
            "you averaged over the whole batch at once (one mean over all n + m samples, as "
            "binary_cross_entropy_with_logits with is_real as the targets gives): the "
            "objective has one expectation per kind, the real samples averaged over the n "
            "real ones and the fakes over the m fakes, and the two means are added.",
            pooled,
        ),
        Mistake(
            "twice the mean over the whole batch equals the sum of the two means only when "
            "the batch is half real, half fake: average the real samples over the n real ones "
            "and the fakes over the m fakes, then add the two means.",
            lambda logits, is_real: 2 * pooled(logits, is_real),
        ),
        Mistake(
            "you took the first n samples of the batch as the real ones: the real samples are "
            "wherever is_real is True, in any order; select them with the mask.",
            reals_first,
        ),
        Mistake(
            "sign error: that is the value V(D, G) = mean log D(x) + mean log(1 − D(G(z))), "
            "which the discriminator *ascends*; the loss to minimise is −V.",
            split(lambda r, f: -(sp(-r).mean() + sp(f).mean())),
        ),
        Mistake(
            "the labels are swapped: real images must have target 1 (loss −log D(x)) and "
            "fake images target 0 (loss −log(1 − D(G(z)))).",
            split(lambda r, f: sp(r).mean() + sp(-f).mean()),
        ),
        Mistake(
            "only the real-image term is there: add the fake-image term "
            "−mean log(1 − D(G(z))).",
            split(lambda r, f: sp(-r).mean()),
        ),
        Mistake(
            "only the fake-image term is there: add the real-image term −mean log D(x).",
            split(lambda r, f: sp(f).mean()),
        ),
        Mistake(
            "you summed over the samples; each expectation is a mean over its own samples.",
            split(lambda r, f: sp(-r).sum() + sp(f).sum()),
        ),
        Mistake(
            "you averaged the two terms (a factor ½); the objective adds the two "
            "expectations.",
            split(lambda r, f: 0.5 * (sp(-r).mean() + sp(f).mean())),
        ),
        Mistake(
            "that is one-sided label smoothing (real target 0.9): this exercise asks for the "
            "plain targets, 1 for real and 0 for fake.",
            split(lambda r, f: (0.9 * sp(-r) + 0.1 * sp(r)).mean() + sp(f).mean()),
        ),
        Mistake(
            "that is two-sided label smoothing (targets 0.9 and 0.1): this exercise asks for "
            "the plain targets, 1 for real and 0 for fake.",
            split(lambda r, f: (0.9 * sp(-r) + 0.1 * sp(r)).mean()
                  + (0.9 * sp(f) + 0.1 * sp(-f)).mean()),
        ),
        Mistake(
            "the logits were used as probabilities: apply the sigmoid D = σ(l) first (or, "
            "better, use the stable softplus forms).",
            split(lambda r, f: -torch.log(r).mean() - torch.log(1 - f).mean()),
        ),
        Mistake(
            _UNSTABLE,
            split(lambda r, f: F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
                  + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))),
        ),
    ]


def _discriminator_properties(fn: Callable[..., object], logits: torch.Tensor,
                              is_real: torch.Tensor, ex: Exercise) -> list[Property]:
    def value(*args: torch.Tensor) -> float | None:
        try:
            v = float(ex.call(fn, *args))
        except (TypeError, ValueError, RuntimeError):
            return None
        return v if math.isfinite(v) else None

    def differ(a: float | None, b: float | None) -> bool:
        return a is not None and b is not None and not math.isclose(a, b, rel_tol=1e-4,
                                                                     abs_tol=1e-5)

    base = lambda: value(logits, is_real)  # noqa: E731

    def shuffled() -> str | None:
        order = torch.arange(len(logits) - 1, -1, -1, device=logits.device)
        b, a = base(), value(logits[order], is_real[order])
        if differ(b, a):
            return (f"your loss changes (from {b:.5g} to {a:.5g}) when the batch is reversed, "
                    "each sample keeping its is_real mark: the loss must not depend on where "
                    "the real samples sit in the batch; select them with the mask.")
        return None

    def duplicated(kind: str) -> str | None:
        mask = is_real if kind == "real" else ~is_real
        b = base()
        a = value(torch.cat([logits, logits[mask]]), torch.cat([is_real, is_real[mask]]))
        if differ(b, a):
            return (f"your loss changes (from {b:.5g} to {a:.5g}) when every {kind} sample is "
                    "repeated twice, which leaves a mean unchanged: the term of the "
                    f"{kind} samples must be an average over the {kind} samples alone.")
        return None

    def direction(kind: str) -> str | None:
        mask = is_real if kind == "real" else ~is_real
        b, a = base(), value(logits + mask.to(logits.dtype), is_real)
        if b is None or a is None:
            return None
        if (kind == "real" and a >= b - 1e-6) or (kind == "fake" and a <= b + 1e-6):
            meaning = ("the discriminator more sure the real images are real" if kind == "real"
                       else "the discriminator more fooled by the fakes")
            should = "lower" if kind == "real" else "raise"
            return (f"raising every {kind} sample's logit by 1 ({meaning}) must {should} the "
                    f"loss, but yours goes from {b:.5g} to {a:.5g}: the sign or the target of "
                    f"the {kind} samples' term is wrong.")
        return None

    mask = torch.tensor([True, False, True, False, False], device=logits.device)

    def confident() -> str | None:
        v = value(torch.where(mask, 20.0, -20.0).to(logits.dtype), mask)
        if v is not None and abs(v) > 1e-4:
            return (f"where the discriminator is right and sure everywhere (real logits +20, fake "
                    f"logits −20: D ≈ 1 on real, ≈ 0 on fake) the cross-entropy with targets 1 "
                    f"and 0 is ≈ 0 (below 1e-8), but yours is {v:.5g}. Check the targets and "
                    "any term that does not vanish there.")
        return None

    def undecided() -> str | None:
        v = value(torch.zeros(5, dtype=logits.dtype, device=logits.device), mask)
        if v is not None and not math.isclose(v, 2 * math.log(2), rel_tol=1e-5):
            return (f"at logits of exactly 0 (an undecided discriminator, D = ½) the loss must be "
                    f"log 2 + log 2 = {2 * math.log(2):.5g}, but yours is {v:.5g}.")
        return None

    return [shuffled, lambda: duplicated("real"), lambda: duplicated("fake"),
            lambda: direction("real"), lambda: direction("fake"), confident, undecided]


def _discriminator_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, logits, is_real): shuffled batches of unequal and equal halves, reals
    first, one of each, float64."""

    def randn(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(n, generator=generator, dtype=dtype)

    return [
        ("48 real and 80 fake samples, shuffled",
         *_mixed(2 * randn(48) + 0.5, 2 * randn(80) - 1, generator)),
        ("50 real and 20 fake samples, shuffled", *_mixed(randn(50) + 1, 3 * randn(20), generator)),
        ("64 real then 64 fake samples (the order of torch.cat([x, G(z)]))",
         *_mixed(2 * randn(64), 2 * randn(64) - 0.5, None)),
        ("one fake then one real sample", randn(2), torch.tensor([False, True])),
        ("30 real and 7 fake samples, shuffled, float64",
         *_mixed(2 * randn(30, torch.float64), 2 * randn(7, torch.float64) - 0.5, generator)),
    ]


def check_discriminator_bce(discriminator_bce: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.1: ``discriminator_bce(logits [B], is_real [B] bool) -> 0-d``.

    Reference: :func:`genmodels.gan.discriminator_loss` of the real and the fake logits,
    without smoothing (Book: eq-d-step). Values and gradients (−σ(−l)/n per real logit,
    σ(l)/m per fake logit) on shuffled and ordered batches (float32 and float64, one
    sample of each kind), one logit at a time from −200 to 200, and a batch at the
    extremes (±30, ±200). Deterministic: no false failures.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    cases = with_accelerator_copies(_discriminator_cases(generator))
    extreme = ("logits of ±30 and ±200 among ordinary ones (a very confident discriminator)",
               *_mixed(_EXTREME[1], _EXTREME[2], torch.Generator().manual_seed(5)))
    with Exercise("7.1", "discriminator_bce") as ex:

        def run(label: str, logits: torch.Tensor, is_real: torch.Tensor) -> None:
            __tracebackhide__ = True
            (leaf,) = _leaves(logits)
            expected = _discriminator_reference(logits, is_real)
            got = ex.call(discriminator_bce, leaf, is_real)
            compare_or_diagnose(
                ex, got, expected, case=label, args=(logits, is_real),
                mistakes=_discriminator_mistakes(),
                properties=_discriminator_properties(discriminator_bce, logits, is_real, ex),
                sizes={"the real samples": int(is_real.sum())}, nonfinite_hint=_hint(logits),
                atol=1e-5, rtol=1e-5)
            n, m = int(is_real.sum()), int((~is_real).sum())
            gradient = torch.where(is_real, -torch.sigmoid(-logits) / n, torch.sigmoid(logits) / m)
            require_loss_gradients(ex, got, {"logits": leaf}, {"logits": gradient}, label,
                                   groups={"the real samples": is_real,
                                           "the fake samples": ~is_real})

        for label, logits, is_real in cases[:4]:
            run(label, logits, is_real)
        fixed, mask = torch.tensor([0.5]), torch.tensor([True, False])
        _profile(ex, discriminator_bce, lambda x: (torch.cat([x, fixed]), mask),
                 _discriminator_reference, "real logit")
        _profile(ex, discriminator_bce, lambda x: (torch.cat([fixed, x]), mask),
                 _discriminator_reference, "fake logit")
        for label, logits, is_real in [*cases[4:], extreme]:
            run(label, logits, is_real)


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
        Mistake(
            "that is a smoothed target (0.9): the generator's loss uses the plain real label 1 "
            "for its fakes.",
            lambda f: (0.9 * sp(-f) + 0.1 * sp(f)).mean(),
        ),
        Mistake(
            "the logits were used as probabilities: apply the sigmoid D = σ(l) first (or, "
            "better, the stable softplus form).",
            lambda f: -torch.log(f).mean(),
        ),
        Mistake(_UNSTABLE, lambda f: F.binary_cross_entropy(torch.sigmoid(f), torch.ones_like(f))),
    ]


def _generator_properties(fn: Callable[..., object], fake: torch.Tensor,
                          ex: Exercise) -> list[Property]:
    zero = torch.zeros(4, dtype=fake.dtype, device=fake.device)
    return [
        lambda: _duplication(fn, (fake,), 0, "fake sample", ex),
        lambda: _direction(fn, (fake,), 0, "lower", "fake logit",
                           "the discriminator more fooled by the fakes", ex),
        lambda: _confident(fn, (zero + 20,), ex),
        lambda: _undecided(fn, (zero,), math.log(2), "log 2", ex),
    ]


def check_generator_loss_flip_labels(generator_loss_flip_labels: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.2: ``generator_loss_flip_labels(fake_logits [m]) -> 0-d``.

    Reference: :func:`genmodels.gan.generator_loss_non_saturating`
    (Book: eq-g-step-non-saturating). Values and gradients (−(1 − σ(l))/m per logit: close
    to −1/m where the discriminator rejects the fake, the point of the exercise) on random
    batches, one logit at a time from −200 to 200, and a batch at the extremes.
    Deterministic: no false failures.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(1)
    cases = with_accelerator_copies(_fake_cases(generator))
    with Exercise("7.2", "generator_loss_flip_labels") as ex:

        def run(label: str, fake: torch.Tensor) -> None:
            __tracebackhide__ = True
            (f,) = _leaves(fake)
            expected = gan.generator_loss_non_saturating(fake)
            got = ex.call(generator_loss_flip_labels, f)
            compare_or_diagnose(
                ex, got, expected, case=label, args=(fake,), mistakes=_generator_mistakes(),
                properties=_generator_properties(generator_loss_flip_labels, fake, ex),
                sizes={"the fake samples": fake.shape[0]}, nonfinite_hint=_hint(fake),
                atol=1e-5, rtol=1e-5)
            require_loss_gradients(ex, got, {"fake_logits": f},
                                   {"fake_logits": -torch.sigmoid(-fake) / fake.shape[0]}, label)

        for label, fake in cases[:3]:
            run(label, fake)
        _profile(ex, generator_loss_flip_labels, lambda x: (x,), gan.generator_loss_non_saturating,
                 "fake logit")
        for label, fake in [*cases[3:], (_EXTREME[0], _EXTREME[2])]:
            run(label, fake)


# --- Exercise 7.3 ----------------------------------------------------------------------


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(-1)


def weighted_jensen_shannon(p: torch.Tensor, q: torch.Tensor, weight: float = 0.5) -> torch.Tensor:
    """JSD_π(p ‖ q) = π KL(p ‖ m) + (1 − π) KL(q ‖ m), m = π p + (1 − π) q, in nats.

    The reference of Exercise 7.3; for π = ½ it is :func:`genmodels.gan.jensen_shannon`
    (which the tests check), and V(D*, G) = −H(π) + JSD_π when the discriminator sees real
    and fake samples in proportions π and 1 − π.
    """
    m = weight * p + (1 - weight) * q
    return weight * _kl(p, m) + (1 - weight) * _kl(q, m)


def _entropy2(w: float) -> float:
    """H(π) = −π log π − (1 − π) log(1 − π), the largest JSD_π."""
    return -(w * math.log(w) + (1 - w) * math.log(1 - w))


def _jsd_mistakes() -> list[Mistake]:
    def mix(p: torch.Tensor, q: torch.Tensor, w: float) -> torch.Tensor:
        return w * p + (1 - w) * q

    return [
        Mistake(
            "that is KL(p ‖ q), not the Jensen–Shannon divergence: compare p and q each with "
            "the mixture m = π p + (1 − π) q and weight the two divergences by π and 1 − π.",
            lambda p, q, w: _kl(p, q),
        ),
        Mistake(
            "that is only the first term π KL(p ‖ m): the divergence also has the term "
            "(1 − π) KL(q ‖ m).",
            lambda p, q, w: w * _kl(p, mix(p, q, w)),
        ),
        Mistake(
            "the weights π and 1 − π of the two divergences are missing: "
            "JSD_π = π KL(p ‖ m) + (1 − π) KL(q ‖ m).",
            lambda p, q, w: _kl(p, mix(p, q, w)) + _kl(q, mix(p, q, w)),
        ),
        Mistake(
            "the mixture is an average, m = π p + (1 − π) q; you used p + q, which is not a "
            "distribution (it sums to 2).",
            lambda p, q, w: w * _kl(p, p + q) + (1 - w) * _kl(q, p + q),
        ),
        Mistake(
            "your result does not depend on `weight`: that is the chapter's JSD with π = ½; "
            "use π and 1 − π both in the mixture and as the weights of the two divergences.",
            lambda p, q, w: weighted_jensen_shannon(p, q, 0.5),
        ),
        Mistake(
            "the weights of the two divergences are swapped: π multiplies KL(p ‖ m) and "
            "1 − π multiplies KL(q ‖ m).",
            lambda p, q, w: (1 - w) * _kl(p, mix(p, q, w)) + w * _kl(q, mix(p, q, w)),
        ),
        Mistake(
            "the mixture's weights are swapped: m = π p + (1 − π) q (p gets the weight π).",
            lambda p, q, w: w * _kl(p, mix(p, q, 1 - w)) + (1 - w) * _kl(q, mix(p, q, 1 - w)),
        ),
        Mistake(
            "the mixture must use the weights too: m = π p + (1 − π) q, not (p + q)/2.",
            lambda p, q, w: w * _kl(p, mix(p, q, 0.5)) + (1 - w) * _kl(q, mix(p, q, 0.5)),
        ),
        Mistake(
            "the two divergences are weighted ½ and ½; they take the weights π and 1 − π.",
            lambda p, q, w: 0.5 * _kl(p, mix(p, q, w)) + 0.5 * _kl(q, mix(p, q, w)),
        ),
        Mistake(
            "that is the Jensen–Shannon *distance*, the square root of the divergence (what "
            "scipy.spatial.distance.jensenshannon returns); return the divergence itself.",
            lambda p, q, w: torch.sqrt(weighted_jensen_shannon(p, q, w)),
        ),
        Mistake(
            "your value is in bits (log base 2); use the natural log so the result is in nats.",
            lambda p, q, w: weighted_jensen_shannon(p, q, w) / math.log(2.0),
        ),
    ]


def _jsd_properties(fn: Callable[..., object], p: torch.Tensor, q: torch.Tensor, w: float,
                    ex: Exercise) -> list[Property]:
    def close(a: object, b: torch.Tensor) -> bool | None:
        t = _as_tensor(a, b)
        if t is None or t.shape != b.shape:
            return None
        rtol, atol = tolerance_for(t.dtype, b.dtype)
        return bool(torch.allclose(t.detach().to(b.dtype), b, rtol=10 * rtol, atol=10 * atol))

    def shown(value: object) -> str:
        return _listing(torch.as_tensor(value).detach().cpu())

    def identical() -> str | None:
        got = ex.call(fn, p, p.clone(), w)
        if close(got, torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)) is False:
            return (f"JSD_π(p ‖ p) must be 0 for identical distributions, but yours gives "
                    f"{shown(got)} (weight {w:g}).")
        return None

    def swapped() -> str | None:
        ab, ba = ex.call(fn, p, q, w), ex.call(fn, q, p, 1 - w)
        if isinstance(ba, torch.Tensor) and close(ab, ba.detach()) is False:
            if w == 0.5:
                return ("your divergence is not symmetric: swapping p and q changes it (from "
                        f"{shown(ab)} to {shown(ba)}), but with weight ½ JSD(p ‖ q) = "
                        "JSD(q ‖ p): both are compared with the same mixture and the two terms "
                        "are weighted equally.")
            return ("swapping p and q together with the weights (π → 1 − π) must give the same "
                    f"value, JSD_π(p ‖ q) = JSD_(1−π)(q ‖ p), but yours goes from {shown(ab)} to "
                    f"{shown(ba)} (weight {w:g}): p and its weight π must enter exactly as q "
                    "and 1 − π do.")
        return None

    def bounded() -> str | None:
        got = _as_tensor(ex.call(fn, p, q, w), p.sum(-1))
        top = _entropy2(w)
        if got is not None and bool(((got < -1e-6) | (got > top + 1e-6)).any()):
            return (f"your values ({_listing(got.detach().cpu())}) leave the range "
                    f"[0, H(π)] = [0, {top:.4f}] (weight {w:g}) where every weighted "
                    "Jensen–Shannon divergence in nats lies.")
        return None

    def disjoint() -> str | None:
        a = torch.tensor([0.6, 0.4, 0.0, 0.0], dtype=p.dtype, device=p.device)
        b = torch.tensor([0.0, 0.0, 0.1, 0.9], dtype=p.dtype, device=p.device)
        got = ex.call(fn, a, b, w)
        top = _entropy2(w)
        if close(got, torch.tensor(top, dtype=p.dtype, device=p.device)) is False:
            return ("distributions with disjoint supports must give the maximum, H(π) = "
                    f"−π log π − (1 − π) log(1 − π) = {top:.5f} for weight {w:g}, but yours gives "
                    f"{shown(got)}.")
        return None

    return [identical, swapped, bounded, disjoint]


def _jsd_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor, float]]:
    def dirichlet(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        g = -torch.log(torch.rand(*shape, generator=generator, dtype=dtype))
        return g / g.sum(-1, keepdim=True)

    def d(*values: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.tensor(values, dtype=dtype)

    same = dirichlet(6)
    one_hot = d(0.0, 1.0, 0.0)
    return [
        ("two random distributions over 5 outcomes, weight ½", dirichlet(5), dirichlet(5), 0.5),
        ("a batch of 3 pairs over 4 outcomes, shape [3, 4], weight ½", dirichlet(3, 4),
         dirichlet(3, 4), 0.5),
        ("two random distributions over 5 outcomes, weight 0.3", dirichlet(5), dirichlet(5), 0.3),
        ("a batch of shape [2, 3, 6], float32, weight 0.8",
         dirichlet(2, 3, 6, dtype=torch.float32), dirichlet(2, 3, 6, dtype=torch.float32), 0.8),
        ("supports that overlap partly (zeros in p), float32, weight 0.25",
         d(0.2, 0.8, 0.0, dtype=torch.float32), d(0.1, 0.6, 0.3, dtype=torch.float32), 0.25),
        ("disjoint supports, weight ½ (the answer is log 2)", d(0.5, 0.5, 0.0, 0.0),
         d(0.0, 0.0, 0.3, 0.7), 0.5),
        ("disjoint supports, weight 0.2 (the answer is H(0.2))", d(0.5, 0.5, 0.0, 0.0),
         d(0.0, 0.0, 0.3, 0.7), 0.2),
        ("identical distributions, weight 0.7 (the answer is 0)", same, same.clone(), 0.7),
        ("one outcome certain in both, weight ½ (the answer is 0)", one_hot, one_hot.clone(), 0.5),
        ("two outcomes only, weight 0.9", d(0.9, 0.1), d(0.2, 0.8), 0.9),
        ("a weight close to 0 (0.01)", dirichlet(4), dirichlet(4), 0.01),
    ]


def check_jensen_shannon_divergence(jensen_shannon_divergence: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.3: ``jensen_shannon_divergence(p [..., K], q [..., K], weight=0.5)
    -> [...]``, the weighted Jensen–Shannon divergence in nats.

    Reference: :func:`weighted_jensen_shannon` (for weight ½ the library's
    :func:`genmodels.gan.jensen_shannon`, Book: eq-gan-jsd), on random distributions
    (batches of any shape, float32 and float64, weights from 0.01 to 0.9) and the
    boundaries: zeros, disjoint supports (H(π)), identical distributions (0), two
    outcomes. A wrong answer that no listed mistake explains is tested against the
    defining properties (0 for identical inputs, JSD_π(p ‖ q) = JSD_(1−π)(q ‖ p), range
    [0, H(π)], H(π) for disjoint supports). Deterministic: no false failures.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(2)
    with Exercise("7.3", "jensen_shannon_divergence") as ex:
        for label, p, q, w in with_accelerator_copies(_jsd_cases(generator)):
            expected = weighted_jensen_shannon(p, q, w)
            got = ex.call(jensen_shannon_divergence, p, q, w)
            if isinstance(got, torch.Tensor) and p.ndim > 1 and got.shape != expected.shape:
                for dim in range(p.ndim - 1):
                    if tuple(got.shape) == tuple(p.shape[:dim] + p.shape[dim + 1:]):
                        ex.fail(f"wrong shape: expected {list(expected.shape)}, got "
                                f"{list(got.shape)} — you reduced over dimension {dim}, but the "
                                f"outcomes are along the last dimension (dim=-1); the leading "
                                "dimensions index the pairs of distributions.", label)
            compare_or_diagnose(
                ex,
                got,
                expected,
                case=label,
                args=(p, q, w),
                mistakes=_jsd_mistakes(),
                properties=_jsd_properties(jensen_shannon_divergence, p, q, w, ex),
                sizes={f"the {p.shape[-1]} outcomes": p.shape[-1]},
                nonfinite_hint=(
                    "Where p(x) = 0 the term p(x) log(p(x)/m(x)) is 0 (the limit of "
                    "t log t), but computed literally it is 0 · (−inf) = NaN: use "
                    "torch.xlogy, or mask the zero entries."
                ),
                atol=1e-6 if p.dtype == torch.float64 else 1e-5,
                rtol=1e-5,
            )
