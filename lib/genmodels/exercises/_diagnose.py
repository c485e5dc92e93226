"""Generic diagnosers: say *what* is wrong with an answer, given the reference answer.

Each diagnoser compares the student's tensor with transformations of the reference
(negation, a factor 2 or ½, a factor equal to a named size such as the number of points,
an additive constant, an extra or missing dimension) and returns a one-sentence
explanation, or ``None`` when the transformation does not explain the difference.
Per-exercise mistakes (see :class:`genmodels.exercises.Mistake`) are tried first; these
generic ones are the fallback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

Sizes = Mapping[str, int]


def shape_message(expected: tuple[int, ...], got: tuple[int, ...], sizes: Sizes) -> str:
    """Explain a shape mismatch, naming the dimension that was (not) reduced when possible.

    ``sizes`` maps a human name (``"the K components"``) to its size so that an extra
    trailing dimension of that size can be named.
    """
    base = f"wrong shape: expected {list(expected)}, got {list(got)}"
    names = {size: name for name, size in sizes.items()}
    if len(expected) == 0 and len(got) >= 1:
        what = names.get(got[0], f"the {got[0]} rows")
        return base + f" — return a single number (a 0-d tensor): reduce over {what}."
    if len(got) == len(expected) + 1 and got[: len(expected)] == expected:
        extra = got[-1]
        if extra == 1:
            return base + " — drop the trailing dimension of size 1 (keepdim=True, or a [n, 1] tensor?)."
        what = names.get(extra, f"the last dimension (size {extra})")
        return base + f" — one dimension too many: you did not reduce over {what}."
    if len(got) == 0 and len(expected) >= 1:
        return base + " — you reduced everything to one number; return one value per row."
    if len(got) + 1 == len(expected) and expected[: len(got)] == got:
        what = names.get(expected[-1], f"the last dimension (size {expected[-1]})")
        return base + f" — one dimension too few: you reduced over {what}, which must be kept."
    if len(got) == len(expected) == 2 and got == expected[::-1]:
        return base + " — the result is transposed."
    return base + "."


def _constant(values: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-5) -> float | None:
    """The common value of ``values`` if they are (nearly) all equal, else ``None``."""
    if values.numel() == 0:
        return None
    centre = values.median()
    if torch.all((values - centre).abs() <= atol + rtol * centre.abs()):
        return float(centre)
    return None


def _near(value: float, target: float, rtol: float = 1e-3) -> bool:
    return abs(value - target) <= rtol * abs(target)


def ratio_message(got: torch.Tensor, expected: torch.Tensor, sizes: Sizes) -> str | None:
    """Explain ``got ≈ r · expected`` for a constant ratio r (sign, ½, 2, a size, log 2)."""
    mask = expected.abs() > 1e-6
    if not bool(mask.any()):
        return None
    r = _constant((got[mask] / expected[mask]).double())
    if r is None or _near(r, 1.0):
        return None
    if _near(r, -1.0):
        return "sign error: your values are the negatives of the expected ones."
    for name, size in sizes.items():
        if size > 2 and _near(r, float(size)):
            return (
                f"your values are {size} times too large: a sum over {name} where a mean "
                f"(divide by {size}) was expected."
            )
        if size > 2 and _near(r, 1.0 / size):
            return (
                f"your values are {size} times too small: a mean over {name} where a sum "
                "was expected (or an extra division by its size)."
            )
    if _near(r, 2.0):
        return "your values are twice the expected ones: is a factor 1/2 missing?"
    if _near(r, 0.5):
        return "your values are half the expected ones: an extra factor 1/2, or a missing 2?"
    if _near(r, 1.0 / math.log(2.0)):
        return "your values are in bits (log base 2); use the natural log (nats): torch.log."
    if _near(r, 1.0 / math.log(10.0)):
        return "your values use log base 10; use the natural log: torch.log."
    if int(mask.sum()) < 2:
        return None  # one number: any value is a "constant multiple" of another
    return f"your values are a constant multiple ({r:.4g}×) of the expected ones."


def offset_message(got: torch.Tensor, expected: torch.Tensor) -> str | None:
    """Explain ``got ≈ expected + c`` for a constant c (a forgotten normalising constant)."""
    if got.numel() < 2:
        return None  # one number: any difference is a "constant"
    c = _constant((got - expected).double(), rtol=1e-3, atol=1e-4)
    if c is None or abs(c) < 1e-4:
        return None
    return (
        f"off by a constant: every value is {c:+.4g} from the expected one. "
        "A normalising constant (or a log of one) is missing or wrong."
    )


def _follows(err: torch.Tensor, wrong: torch.Tensor, name: str, feature: torch.Tensor) -> str | None:
    """How the error follows one named input property, or ``None`` if it does not."""
    f = feature.detach().double().cpu().expand_as(err).reshape(-1)
    e, w = err.reshape(-1), wrong.reshape(-1)
    if bool(w.any()) and not bool(w.all()):
        lo_w, hi_w = float(f[w].min()), float(f[w].max())
        lo_r, hi_r = float(f[~w].min()), float(f[~w].max())
        if lo_w > hi_r:
            return (f"the wrong values are exactly those where {name} is large (≥ {lo_w:.4g}); "
                    f"where it is at most {hi_r:.4g} your values are right")
        if hi_w < lo_r:
            return (f"the wrong values are exactly those where {name} is small (≤ {hi_w:.4g}); "
                    f"where it is at least {lo_r:.4g} your values are right")
        return None
    if f.numel() < 4 or float(f.std()) == 0.0:
        return None
    rank_f = f.argsort().argsort().double()
    rank_e = e.argsort().argsort().double()
    rho = float(torch.corrcoef(torch.stack([rank_f, rank_e]))[0, 1])
    if rho > 0.9:
        return f"the error grows with {name} (largest where {name} = {float(f[e.argmax()]):.4g})"
    if rho < -0.9:
        return f"the error shrinks as {name} grows (largest where {name} = {float(f[e.argmax()]):.4g})"
    return None


def _confined(wrong: torch.Tensor) -> str | None:
    """Whether the wrong entries all share one index along one dimension."""
    if wrong.ndim < 1 or bool(wrong.all()) or not bool(wrong.any()):
        return None
    if wrong.ndim == 1:
        idx = [int(i) for i in wrong.nonzero()[:, 0]]
        if len(idx) > 3:
            return None
        names = {0: " (the first)", wrong.numel() - 1: " (the last)"}
        return ("only the value(s) at index "
                + ", ".join(f"{i}{names.get(i, '')}" for i in idx) + " are wrong")
    for dim in range(wrong.ndim):
        other = tuple(d for d in range(wrong.ndim) if d != dim)
        hit = wrong.any(dim=other)
        if int(hit.sum()) == 1 and wrong.shape[dim] > 1:
            k = int(hit.nonzero()[0, 0])
            edge = {0: " (the first)", wrong.shape[dim] - 1: " (the last)"}.get(k, "")
            return f"only the entries with index {k}{edge} along dimension {dim} are wrong"
    return None


def value_message(got: torch.Tensor, expected: torch.Tensor, sizes: Sizes,
                  where: Mapping[str, torch.Tensor] | None = None,
                  rtol: float = 1e-4, atol: float = 1e-5) -> str:
    """The best generic explanation of a value mismatch between same-shape tensors.

    A constant ratio or offset is named first; otherwise the message says what differs:
    how many values, whether they share one position, and which named input property in
    ``where`` the error follows. Only when none of these holds is it generic.
    """
    got_d, exp_d = got.detach().double().cpu(), expected.detach().double().cpu()
    for diagnose in (ratio_message(got_d, exp_d, sizes), offset_message(got_d, exp_d)):
        if diagnose is not None:
            return diagnose
    err = (got_d - exp_d).abs()
    wrong = err > atol + rtol * exp_d.abs()
    n_wrong, n = int(wrong.sum()), wrong.numel()
    flat = err.reshape(-1)
    i = int(flat.argmax())
    largest = (f"the largest error is {float(flat[i]):.4g} (got {float(got_d.reshape(-1)[i]):.6g}, "
               f"expected {float(exp_d.reshape(-1)[i]):.6g})")
    count = f"{n_wrong} of {n} values are wrong" if n_wrong < n else f"all {n} values are wrong"
    details = [d for d in (*(_follows(err, wrong, k, v) for k, v in (where or {}).items()),
                           _confined(wrong))
               if d is not None]
    if details:
        return f"wrong values: {count}; {details[0]}; {largest}."
    if n > 1 and n_wrong < n:
        return f"wrong values: {count} (the rest are right); {largest}."
    return (f"wrong values: {count}, with no constant factor or offset; {largest} at flat "
            f"index {i}.")


def nonfinite_message(got: torch.Tensor, expected: torch.Tensor) -> str | None:
    """Explain NaN/inf values where the reference is finite, or ``None`` if there are none."""
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if not bool(bad.any()):
        return None
    idx = int(bad.reshape(-1).nonzero()[0, 0])
    value = float(got.reshape(-1)[idx])
    kind = "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
    return (
        f"your result contains {kind} ({int(bad.sum())} of {got.numel()} values, first at "
        f"flat index {idx}, where the expected value is {float(expected.reshape(-1)[idx]):.6g})."
    )
