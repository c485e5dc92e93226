"""Checks for the exercises of chapter 7 (The GAN objective).

* Exercise 7.1 — :func:`check_discriminator_bce`: the discriminator's loss (real → 1,
  fake → 0) from the logits of one batch mixing real and fake samples (a bool mask says
  which are real), numerically stable (reference: ``gan.discriminator_loss``).
* Exercise 7.2 — :func:`check_generator_loss_flip_labels`: the non-saturating generator
  loss, "flip the labels" (reference: ``gan.generator_loss_non_saturating``).
* Exercise 7.3 — :func:`check_jensen_shannon_divergence`: the Jensen–Shannon divergence
  of discrete distributions in nats (reference: ``gan.jensen_shannon``).

The checks are deterministic (no statistical test, so no false failures): every input is
drawn from a generator the check seeds itself, with edge cases at the boundaries (one
sample per batch, logits of exactly 0, of ±30 and of ±200 where a loss computed from
probabilities breaks down, disjoint supports, identical distributions).

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


def _jsd_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "that is KL(p ‖ q), not the Jensen–Shannon divergence: compare p and q each with "
            "the mixture m = (p + q)/2 and average, ½ KL(p ‖ m) + ½ KL(q ‖ m).",
            lambda p, q: _kl(p, q),
        ),
        Mistake(
            "that is only ½ KL(p ‖ m): the Jensen–Shannon divergence also has the term "
            "½ KL(q ‖ m), which makes it symmetric.",
            lambda p, q: 0.5 * _kl(p, 0.5 * (p + q)),
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


def _jsd_properties(fn: Callable[..., object], p: torch.Tensor, q: torch.Tensor,
                    ex: Exercise) -> list[Property]:
    def close(a: object, b: torch.Tensor) -> bool | None:
        t = _as_tensor(a, b)
        if t is None or t.shape != b.shape:
            return None
        rtol, atol = tolerance_for(t.dtype, b.dtype)
        return bool(torch.allclose(t.detach().to(b.dtype), b, rtol=10 * rtol, atol=10 * atol))

    def identical() -> str | None:
        got = ex.call(fn, p, p.clone())
        if close(got, torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)) is False:
            return (f"JSD(p ‖ p) must be 0 for identical distributions, but yours gives "
                    f"{_listing(torch.as_tensor(got).detach().cpu())}.")
        return None

    def symmetric() -> str | None:
        ab, ba = ex.call(fn, p, q), ex.call(fn, q, p)
        if isinstance(ba, torch.Tensor) and close(ab, ba.detach()) is False:
            return ("your divergence is not symmetric: swapping p and q changes it (from "
                    f"{_listing(torch.as_tensor(ab).detach().cpu())} to "
                    f"{_listing(ba.detach().cpu())}), but JSD(p ‖ q) = JSD(q ‖ p) because both "
                    "are compared with the same mixture m = (p + q)/2 and the two terms are "
                    "weighted equally.")
        return None

    def bounded() -> str | None:
        got = _as_tensor(ex.call(fn, p, q), p.sum(-1))
        if got is not None and bool(((got < -1e-6) | (got > math.log(2) + 1e-6)).any()):
            return (f"your values ({_listing(got.detach().cpu())}) leave the range "
                    f"[0, log 2] = [0, {math.log(2):.4f}] where every Jensen–Shannon divergence "
                    "in nats lies.")
        return None

    def disjoint() -> str | None:
        a = torch.tensor([0.6, 0.4, 0.0, 0.0], dtype=p.dtype, device=p.device)
        b = torch.tensor([0.0, 0.0, 0.1, 0.9], dtype=p.dtype, device=p.device)
        got = ex.call(fn, a, b)
        if close(got, torch.tensor(math.log(2), dtype=p.dtype, device=p.device)) is False:
            return ("distributions with disjoint supports must give the maximum, log 2 = "
                    f"{math.log(2):.5f}, but yours gives {_listing(torch.as_tensor(got).detach().cpu())}.")
        return None

    return [identical, symmetric, bounded, disjoint]


def _jsd_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    def dirichlet(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        g = -torch.log(torch.rand(*shape, generator=generator, dtype=dtype))
        return g / g.sum(-1, keepdim=True)

    disjoint_p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    disjoint_q = torch.tensor([0.0, 0.0, 0.3, 0.7], dtype=torch.float64)
    partial_p = torch.tensor([0.2, 0.8, 0.0], dtype=torch.float32)
    partial_q = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float32)
    one_hot = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    same = dirichlet(6)
    return [
        ("two random distributions over 5 outcomes", dirichlet(5), dirichlet(5)),
        ("a batch of 3 pairs over 4 outcomes, shape [3, 4]", dirichlet(3, 4), dirichlet(3, 4)),
        ("a batch of shape [2, 3, 6], float32", dirichlet(2, 3, 6, dtype=torch.float32),
         dirichlet(2, 3, 6, dtype=torch.float32)),
        ("supports that overlap partly (zeros in p), float32", partial_p, partial_q),
        ("disjoint supports (the answer is log 2)", disjoint_p, disjoint_q),
        ("identical distributions (the answer is 0)", same, same.clone()),
        ("one outcome certain in both (the answer is 0)", one_hot, one_hot.clone()),
        ("two outcomes only", torch.tensor([0.9, 0.1], dtype=torch.float64),
         torch.tensor([0.2, 0.8], dtype=torch.float64)),
    ]


def check_jensen_shannon_divergence(jensen_shannon_divergence: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 7.3: ``jensen_shannon_divergence(p [..., K], q [..., K]) -> [...]``.

    Reference: :func:`genmodels.gan.jensen_shannon` (Book: eq-gan-jsd), in nats, on random
    distributions (batches of any shape, float32 and float64) and the boundaries: zeros,
    disjoint supports (log 2), identical distributions (0), two outcomes. A wrong answer
    that no listed mistake explains is tested against the defining properties (0 for
    identical inputs, symmetry, range [0, log 2], log 2 for disjoint supports).
    Deterministic: no false failures.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(2)
    with Exercise("7.3", "jensen_shannon_divergence") as ex:
        for label, p, q in with_accelerator_copies(_jsd_cases(generator)):
            expected = gan.jensen_shannon(p, q)
            got = ex.call(jensen_shannon_divergence, p, q)
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
                args=(p, q),
                mistakes=_jsd_mistakes(),
                properties=_jsd_properties(jensen_shannon_divergence, p, q, ex),
                sizes={f"the {p.shape[-1]} outcomes": p.shape[-1]},
                nonfinite_hint=(
                    "Where p(x) = 0 the term p(x) log(p(x)/m(x)) is 0 (the limit of "
                    "t log t), but computed literally it is 0 · (−inf) = NaN: use "
                    "torch.xlogy, or mask the zero entries."
                ),
                atol=1e-6 if p.dtype == torch.float64 else 1e-5,
                rtol=1e-5,
            )
