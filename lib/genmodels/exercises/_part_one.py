"""Helpers shared by the checks of Part I (chapters 1–3), on top of :mod:`._core`.

* :func:`positional_generator`: :meth:`Exercise.require_generator_use` passes
  ``generator=`` by keyword; the book's signatures take it positionally, so a student may
  name the parameter ``g`` or ``gen``.
* :func:`compare_scalars`: a scalar answer checked on several cases at once, so that the
  diagnosis can say *which* cases are wrong and what they have in common (the generic
  diagnosis of a single number can only say "wrong value"), with a property message of
  the exercise when no named mistake fits.
* :func:`regress`: least squares with known noise, for exact tests of a conditional draw
  (:data:`Z_BOUND` standard errors, false-failure probability 2e-9 per test).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from genmodels.exercises._core import Exercise, ExerciseError, Mistake, tolerance_for

Z_BOUND = 6.0
"""|z| above which a standard-normal statistic is rejected: P(|N(0,1)| > 6) = 1.97e-9."""


def positional_generator(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` called with the generator as its last positional argument."""

    def call(*args: Any, generator: torch.Generator) -> Any:
        return fn(*args, generator)

    return call


_GENERIC = ("with no constant factor or offset", "(the rest are right); the largest")


def compare_scalars(
    ex: Exercise,
    fn: Callable[..., Any],
    cases: Sequence[tuple[str, tuple]],
    reference: Callable[..., torch.Tensor],
    *,
    mistakes: Sequence[Mistake] = (),
    where: dict[str, Callable[..., float]] | None = None,
    properties: Callable[[list[str], list[tuple], torch.Tensor, torch.Tensor], str | None] | None = None,
    check_dtype: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
) -> None:
    """Check a function that returns one number per call, on every case at once.

    Each answer is first checked alone for its type, shape, device, dtype and NaN; then the
    answers of all cases are compared as one vector, so that a named mistake, a constant
    factor or offset common to all cases, or an input property (``where``: a function of
    a case's arguments, e.g. the series length) that the error follows can be named. When
    none fits, ``properties(labels, args, got, expected)`` may name a violated property of
    the exercise (a bound, a known value); otherwise the message lists the wrong cases.
    """
    __tracebackhide__ = True
    got_values, expected_values, dtypes = [], [], []
    for label, args in cases:
        expected = reference(*args)
        got = ex.call(fn, *args)
        ex.compare(got, expected, case=label, args=args, atol=math.inf, rtol=0.0,
                   check_dtype=check_dtype)  # type, shape, device, dtype, NaN only
        value = got.detach() if isinstance(got, torch.Tensor) else torch.tensor(float(got))
        got_values.append(float(value))
        expected_values.append(float(expected))
        dtypes.append(value.dtype if check_dtype else expected.dtype)
    default_rtol, default_atol = tolerance_for(*dtypes)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    got_t = torch.tensor(got_values, dtype=torch.float64)
    exp_t = torch.tensor(expected_values, dtype=torch.float64)
    all_args = [args for _, args in cases]
    labels = [label for label, _ in cases]
    stacked = [
        Mistake(m.message, lambda *_, m=m: torch.tensor(
            [float(m.answer(*args)) for args in all_args], dtype=torch.float64))
        for m in mistakes
    ]
    features = {name: torch.tensor([float(f(*args)) for args in all_args], dtype=torch.float64)
                for name, f in (where or {}).items()}
    wrong = ~torch.isclose(got_t, exp_t, rtol=rtol, atol=atol)
    detail = "; ".join(f"{labels[i]}: got {got_values[i]:.6g}, expected {expected_values[i]:.6g}"
                       for i in wrong.nonzero()[:, 0].tolist()[:3])
    try:
        ex.compare(got_t, exp_t, case="all cases", args=(), mistakes=stacked, where=features,
                   atol=atol, rtol=rtol, check_dtype=False)
    except ExerciseError as err:
        message = str(err)
        if any(g in message for g in _GENERIC) and properties is not None:
            named = properties(labels, all_args, got_t, exp_t)
            if named is not None:
                raise ExerciseError(f"{ex.title}: {named}") from None
        if any(g in message for g in _GENERIC):
            right = [labels[i] for i in (~wrong).nonzero()[:, 0].tolist()]
            ok = f" Right on: {', '.join(right)}." if right else " No case is right."
            raise ExerciseError(
                f"{ex.title}: wrong on {int(wrong.sum())} of {len(labels)} cases ({detail})."
                f"{ok}") from None
        raise ExerciseError(f"{message} (Wrong cases — {detail}.)") from None


def regress(target: torch.Tensor, regressors: Sequence[torch.Tensor], noise_std: float
            ) -> tuple[torch.Tensor, torch.Tensor, float, int]:
    """Least squares of ``target`` on ``[1, *regressors]`` (all ``[n]``), in float64.

    Returns the coefficients (intercept first), their standard errors when the noise has
    standard deviation ``noise_std`` (exact: given the regressors the estimate is Gaussian
    with covariance ``noise_std² (XᵀX)⁻¹``), the residual standard deviation and the
    residual degrees of freedom (``RSS / noise_std²`` is χ² with that many).
    """
    t = target.detach().double().cpu().reshape(-1)
    cols = [torch.ones_like(t)] + [r.detach().double().cpu().reshape(-1) for r in regressors]
    X = torch.stack(cols, 1)
    gram_inv = torch.linalg.inv(X.T @ X)
    coef = gram_inv @ (X.T @ t)
    dof = t.numel() - X.shape[1]
    residual_std = float(((t - X @ coef) ** 2).sum() / dof) ** 0.5
    return coef, noise_std * gram_inv.diagonal().sqrt(), residual_std, dof


def std_interval(noise_std: float, dof: int, alpha: float = 1e-9) -> tuple[float, float]:
    """The range of the residual standard deviation of :func:`regress` that a right answer
    leaves with probability ``1 − 2 alpha`` (χ² quantiles with ``dof`` degrees of freedom)."""
    from scipy.stats import chi2

    return (noise_std * (chi2.ppf(alpha, dof) / dof) ** 0.5,
            noise_std * (chi2.isf(alpha, dof) / dof) ** 0.5)


def near(value: float, target: float, se: float) -> bool:
    """Whether a measured ``value`` is compatible with ``target``, for naming a mistake:
    within 4 standard errors plus 1 % (tighter than the tests' 6, so that two mistakes
    are rarely both compatible; when they are, none is named)."""
    return abs(value - target) <= 4 * se + 0.01 * abs(target) + 1e-12


def ks_normal(z: torch.Tensor, at_most: int = 20_000) -> float:
    """p-value of the Kolmogorov–Smirnov test against N(0, 1) of ``z`` (its first
    ``at_most`` values, evenly spread: enough to see a non-Gaussian shape, and fast)."""
    from scipy.stats import kstest

    z = z.detach().double().cpu().reshape(-1)
    if z.numel() > at_most:
        z = z[:: -(-z.numel() // at_most)]
    return float(kstest(z.numpy(), "norm").pvalue)
