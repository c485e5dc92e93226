"""Checks for the exercises of chapter 3 (Gibbs sampling).

* Exercise 3.1 — :func:`check_gibbs_sweep`: one systematic-scan sweep on the standard
  bivariate Gaussian (Book: eq-bivariate-conditional), checked statistically.
* Exercise 3.2 — :func:`check_lag1_autocorrelation`: the sample lag-1 autocorrelation
  (reference: ``gibbs.autocorrelation``; Book: eq-gibbs-lag1-autocorrelation).
* Exercise 3.3 — :func:`check_rbm_free_energy`: the free energy of a Bernoulli RBM
  (reference: ``rbm.BernoulliRBM.free_energy``; Book: eq-rbm-free-energy).
* Exercise 3.6 — :func:`check_gibbs_general_bivariate`: build it yourself, the end of
  Part I: a Gibbs sampler for any bivariate Gaussian (Book:
  eq-bivariate-conditional-general), graded on its behaviour.

No check draws from the global random state: every hidden input comes from a generator
the check seeds itself, and the framework restores the global state on exit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genmodels.exercises._core import Exercise, Mistake, devices_to_check, with_accelerator_copies
from genmodels.exercises._part_one import (
    Z_BOUND,
    compare_scalars,
    ks_normal,
    near,
    positional_generator,
    regress,
    std_interval,
)
from genmodels.gibbs import autocorrelation, gibbs_bivariate_gaussian
from genmodels.rbm import BernoulliRBM

# --- Exercise 3.1 ----------------------------------------------------------------------

_SWEEP_N = 50_000


def _sweep_pair(ex: Exercise, out: object, n: int, dtype: torch.dtype, case: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair (x_new, y_new) of a sweep, after its type, shape, dtype and NaN checks."""
    __tracebackhide__ = True
    if not (isinstance(out, tuple | list) and len(out) == 2):
        what = f"a {type(out).__name__}" if not isinstance(out, torch.Tensor) else f"one tensor {list(out.shape)}"
        ex.fail(f"return the new state as a pair (x_new, y_new) of tensors; you returned {what}.", case)
    for name, t in zip(("x_new", "y_new"), out, strict=True):
        if not isinstance(t, torch.Tensor):
            ex.fail(f"{name} must be a torch.Tensor, got {type(t).__name__}.", case)
        if tuple(t.shape) != (n,):
            ex.fail(f"{name} has shape {list(t.shape)}; expected [{n}], one value per chain.", case)
        ex.require(t.dtype == dtype, f"{name} has dtype {t.dtype}; keep the dtype of the inputs ({dtype}).", case)
        ex.require(bool(torch.isfinite(t).all()), f"{name} contains NaN or inf.", case)
    return out[0], out[1]


def _check_sweep_case(ex: Exercise, gibbs_sweep: Callable[..., object], rho: float,
                      dtype: torch.dtype, g: torch.Generator) -> None:
    """One ρ: 50 000 chains at hidden random states; the two conditional draws are checked
    by least squares with the known noise (exact Gaussian tests at 6 standard errors)."""
    __tracebackhide__ = True
    n = _SWEEP_N
    case = f"ρ = {rho}, {n} chains at random states, {str(dtype).replace('torch.', '')}"
    # States spread far and wide (a conditional draw must be right from any state): the
    # coefficients are then measured to about 1e-4.
    x = 2.0 + 100 * torch.randn(n, generator=g, dtype=torch.float64)
    y = -1.0 + 100 * torch.randn(n, generator=g, dtype=torch.float64)
    x[0], y[0], x[-1], y[-1] = 300.0, -400.0, -500.0, 250.0  # far in the tails
    x, y = x.to(dtype), y.to(dtype)
    out = ex.call(gibbs_sweep, x, y, rho, torch.Generator().manual_seed(int(1000 * rho) + 11))
    x_new, y_new = _sweep_pair(ex, out, n, dtype, case)
    s = math.sqrt(1 - rho**2)
    for name, noise in (("x_new", x_new.double() - rho * y.double()), ("y_new", y_new.double() - rho * x_new.double())):
        ex.require(float(noise.abs().max()) > 0, f"{name} has no noise: it is its conditional "
                   "mean exactly; add √(1 − ρ²) times a standard normal, one per chain.", case)
        ex.require(float(noise.std()) > 1e-6 * s,
                   f"{name} has the same noise in every chain: draw one standard normal per chain "
                   "(shape [n]) at each update.", case)
    ex.require(float(x_new.double().std()) > 0, "x_new does not vary between chains: add Gaussian "
               "noise to the conditional mean, one draw per chain.", case)
    ex.require(float(y_new.double().std()) > 0, "y_new does not vary between chains: add Gaussian "
               "noise to its conditional mean, one draw per chain.", case)
    # x_new given (x, y): mean ρ y, so coefficients (0, 0, ρ); noise √(1 − ρ²).
    coef, se, r, dof = regress(x_new, [x, y], s)
    c0, cx, cy = coef.tolist()
    ok = [abs(float(c) - e) <= Z_BOUND * float(e_se) for c, e, e_se in zip(coef, (0.0, 0.0, rho), se, strict=True)]
    if not all(ok):
        if near(cx, rho, se[1]) and near(cy, 0.0, se[2]) and abs(rho) > 0.1:
            ex.fail("x is drawn around ρ·x: the conditional of x is given y, centred at ρ·y.", case)
        if near(cy, 1.0, se[2]) and near(cx, 0.0, se[1]):
            ex.fail("x is drawn around y: the conditional mean is ρ·y (the factor ρ is missing).", case)
        ex.fail(f"x_new is not centred at ρ·y: over the chains its mean given the old state is "
                f"{c0:+.3f} {cx:+.3f}·x {cy:+.3f}·y; expected ρ·y = {rho:+.3f}·y.", case)
    ex.n_checks += 1
    lo, hi = std_interval(s, dof)
    if not lo <= r <= hi:
        se_r = s / math.sqrt(2 * dof)
        if near(r, 1 - rho**2, se_r):
            ex.fail("the noise of x is scaled by the conditional variance 1 − ρ²; scale a standard "
                    "normal by the standard deviation √(1 − ρ²).", case)
        if near(r, 1.0, se_r):
            ex.fail("x_new has standard deviation 1 around ρ·y, the marginal one; the conditional "
                    "given y has standard deviation √(1 − ρ²).", case)
        ex.fail(f"x_new around ρ·y has standard deviation {r:.4f}; expected √(1 − ρ²) = {s:.4f}.", case)
    ex.n_checks += 1
    # y_new given (x_new, x, y): mean ρ x_new, so coefficients (0, ρ, 0, 0); noise √(1 − ρ²).
    coef, se, r, dof = regress(y_new, [x_new, x, y], s)
    d0, dxn, dx, dy = coef.tolist()
    ok = [abs(float(c) - e) <= Z_BOUND * float(e_se)
          for c, e, e_se in zip(coef, (0.0, rho, 0.0, 0.0), se, strict=True)]
    if not all(ok):
        if near(dxn, 0.0, se[1]) and near(dx, rho, se[2]) and abs(rho) > 0.1:
            ex.fail("y_new does not depend on x_new but on the old x: draw y given the *new* x "
                    "(systematic scan uses the freshest value of every other coordinate; with "
                    "the old x it is a Jacobi update, which does not leave the target invariant).",
                    case)
        ex.fail(f"y_new is not centred at ρ·x_new: its mean given the new and old state is "
                f"{d0:+.3f} {dxn:+.3f}·x_new {dx:+.3f}·x {dy:+.3f}·y; expected {rho:+.3f}·x_new.", case)
    ex.n_checks += 1
    lo, hi = std_interval(s, dof)
    if not lo <= r <= hi:
        se_r = s / math.sqrt(2 * dof)
        if near(r, 1 - rho**2, se_r):
            ex.fail("the noise of y is scaled by the conditional variance 1 − ρ²; use the standard "
                    "deviation √(1 − ρ²).", case)
        if near(r, 1.0, se_r):
            ex.fail("y_new has standard deviation 1 around ρ·x_new, the marginal one; the "
                    "conditional has standard deviation √(1 − ρ²).", case)
        ex.fail(f"y_new around ρ·x_new has standard deviation {r:.4f}; expected √(1 − ρ²) = {s:.4f}.",
                case)
    ex.n_checks += 1
    z = torch.cat([(x_new.double() - rho * y.double()) / s, (y_new.double() - rho * x_new.double()) / s])
    p = ks_normal(z)
    ex.require(p > 1e-9, f"the noise is not Gaussian: the standardised draws fail a "
               f"Kolmogorov–Smirnov test against N(0, 1) (p = {p:.1e}). Draw it with torch.randn.", case)
    _require_no_outlier(ex, z, n, case)


def _require_no_outlier(ex: Exercise, z: torch.Tensor, n: int, case: str) -> None:
    """Every standardised draw within 7.5 standard deviations (P(|N(0, 1)| > 7.5) = 6.4e-14,
    so below 1e-7 for up to a million draws)."""
    __tracebackhide__ = True
    worst = int(z.abs().argmax())
    ex.require(float(z.abs().max()) <= 7.5,
               f"draw {worst % n} of {n} lies {float(z[worst]):+.1f} standard deviations from its "
               "conditional mean, which Gaussian noise essentially never does (probability below "
               "1e-7): a value is changed after it was drawn.", case)


def check_gibbs_sweep(gibbs_sweep: Callable[..., object]) -> None:
    """Check Exercise 3.1: ``gibbs_sweep(x [n], y [n], rho, generator) -> (x_new, y_new)``.

    One systematic-scan sweep: x ~ N(ρ y, 1 − ρ²), then y ~ N(ρ x_new, 1 − ρ²)
    (Book: eq-bivariate-conditional). On 50 000 chains at hidden random states (drawn from
    a generator seeded here), for ρ = 0.6, −0.3 (float32), 0.95 and the boundary ρ = 0:
    least squares of x_new on (1, x, y) and of y_new on (1, x_new, x, y) with the known
    noise, each coefficient within 6 standard errors of (0, 0, ρ) and (0, ρ, 0, 0) (exact
    Gaussian tests, 2e-9 each), the residual standard deviations within χ² bounds
    (1e-9 per side) and a Kolmogorov–Smirnov test of the standardised noise (p > 1e-9):
    about 40 tests, so a right answer fails with probability below 1e-7. Then the
    generator: same seed, same draws; another seed, other draws; global state untouched.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(31)
    with Exercise("3.1", "gibbs_sweep") as ex:
        one = torch.tensor([0.5], dtype=torch.float64)
        _sweep_pair(ex, ex.call(gibbs_sweep, one, -one, 0.5, torch.Generator().manual_seed(1)),
                    1, torch.float64, "one chain")
        for rho, dtype in [(0.6, torch.float64), (-0.3, torch.float32), (0.95, torch.float64),
                           (0.0, torch.float64)]:
            _check_sweep_case(ex, gibbs_sweep, rho, dtype, g)
        x = torch.randn(50, generator=g, dtype=torch.float64)
        ex.require_generator_use(positional_generator(gibbs_sweep), (x, x.flip(0), 0.5),
                                 draws=lambda out: torch.stack(list(out)))


# --- Exercise 3.2 ----------------------------------------------------------------------


def _lag1_mistakes() -> list[Mistake]:
    def uncentred(x: torch.Tensor) -> torch.Tensor:
        return (x[1:] * x[:-1]).sum() / (x * x).sum()

    def pearson(x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():  # n = 2: one pair, no variance
            warnings.simplefilter("ignore")
            return torch.corrcoef(torch.stack([x[:-1], x[1:]]))[0, 1]

    def covariance(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return (c[1:] * c[:-1]).sum() / len(x)

    def unbiased_numerator(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return ((c[1:] * c[:-1]).sum() / (len(x) - 1)) / ((c * c).sum() / len(x))

    def circular(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return (c * torch.roll(c, 1)).sum() / (c * c).sum()

    def lag2(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return (c[2:] * c[:-2]).sum() / (c * c).sum()

    def short_denominator(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return (c[1:] * c[:-1]).sum() / (c[:-1] * c[:-1]).sum()

    return [
        Mistake(
            "the series is not centred: subtract the mean x̄ before multiplying x_t by x_{t+1}.",
            uncentred,
        ),
        Mistake(
            "that is the Pearson correlation of the pairs (x_t, x_{t+1}), which centres and "
            "scales each half by its own mean and variance; the autocorrelation uses the one "
            "mean x̄ and the variance of the whole series.",
            pearson,
        ),
        Mistake(
            "that is the lag-1 autocovariance ĉ_1; divide it by the variance ĉ_0 to get a "
            "correlation (1 at lag 0).",
            covariance,
        ),
        Mistake(
            "the numerator was divided by n − 1 (the number of pairs) and the denominator by n; "
            "use the same 1/n in both, or simply the ratio of the two sums.",
            unbiased_numerator,
        ),
        Mistake(
            "the products wrap around: the last value was paired with the first (a circular "
            "shift, torch.roll). There are only n − 1 pairs (x_t, x_{t+1}), t = 0 … n − 2.",
            circular,
        ),
        Mistake(
            "that is the lag-2 autocorrelation: pair each x_t with its direct successor x_{t+1}.",
            lag2,
        ),
        Mistake(
            "the denominator sums only n − 1 squares; it is the sum over the whole series, "
            "t = 0 … n − 1.",
            short_denominator,
        ),
    ]


def _lag1_properties(labels: list[str], args: list[tuple], got: torch.Tensor,
                     expected: torch.Tensor) -> str | None:
    """A violated known fact about ρ̂_1, or None."""
    for label, value in zip(labels, got.tolist(), strict=True):
        if abs(value) > 1 + 1e-6:
            return (f"an autocorrelation lies in [−1, 1], but on the case '{label}' you returned "
                    f"{value:.4g}: the numerator and the denominator do not match (the "
                    "denominator is the sum of all n squared deviations from the mean).")
    for label, (x,), value, exp in zip(labels, args, got.tolist(), expected.tolist(), strict=True):
        if abs(value - exp) <= 1e-4 + 1e-4 * abs(exp):
            continue
        if x.numel() == 2:
            return ("for a series of n = 2 values, ρ̂_1 = −1/2 whatever the values (one product "
                    f"−d², two squares d²); you returned {value:.4g}.")
        if label.startswith("alternating"):
            n = x.numel()
            return (f"for the alternating series (n = {n}) every product (x_t − x̄)(x_{{t+1}} − x̄) "
                    f"is −1 and every square 1, so ρ̂_1 = −(n − 1)/n = {exp:.4g}; you returned "
                    f"{value:.4g}.")
    return None


def check_lag1_autocorrelation(lag1_autocorrelation: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 3.2: ``lag1_autocorrelation(x [n]) -> 0-d tensor``.

    ρ̂_1 = Σ_{t<n−1} (x_t − x̄)(x_{t+1} − x̄) / Σ_t (x_t − x̄)², compared with
    ``gibbs.autocorrelation(x, 1)[1]`` on hidden series (drawn from a generator seeded
    here): short and long, the boundary n = 2 (ρ̂_1 = −1/2), an alternating series
    (−(n−1)/n), a series far from 0, float32, and a Gibbs chain
    (Book: eq-gibbs-lag1-autocorrelation). Deterministic: no false failures.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(5)
    walk = torch.randn(200, generator=g, dtype=torch.float64).cumsum(0)
    chain = gibbs_bivariate_gaussian(0.9, 300, generator=g, dtype=torch.float64)[0, :, 0]
    cases = [
        ("random walk, n = 200", (walk,)),
        ("white noise, n = 7", (torch.randn(7, generator=g, dtype=torch.float64),)),
        ("alternating series, n = 10", (torch.tensor([1.0, -1.0] * 5, dtype=torch.float64) + 3.0,)),
        ("two values, n = 2", (torch.tensor([0.3, 2.0], dtype=torch.float64),)),
        ("float32 series far from 0, n = 1000", (torch.randn(1000, generator=g).cumsum(0) * 0.1 + 50.0,)),
        ("Gibbs chain with ρ = 0.9, n = 300", (chain,)),
    ]
    for device in devices_to_check()[1:]:
        cases.append((f"random walk, on {device}", (walk.to(device),)))
    with Exercise("3.2", "lag1_autocorrelation") as ex:
        compare_scalars(
            ex, lag1_autocorrelation, cases, lambda x: autocorrelation(x, max_lag=1)[1],
            mistakes=_lag1_mistakes(),
            where={"1/n (n the series length)": lambda x: 1.0 / x.numel(),
                   "the series' |mean| / std": lambda x: float(x.double().mean().abs() / x.double().std())},
            properties=_lag1_properties, atol=1e-5, rtol=1e-4,
        )


# --- Exercise 3.3 ----------------------------------------------------------------------


def _free_energy_mistakes() -> list[Mistake]:
    def pre(v: torch.Tensor, W: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return v @ W + c

    return [
        Mistake(
            "the softplus is missing: summing out a binary h_j gives log(1 + e^{a_j}), not a_j.",
            lambda v, W, b, c: -(v @ b) - pre(v, W, c).sum(1),
        ),
        Mistake(
            "the visible-bias term −bᵀv is missing.",
            lambda v, W, b, c: -F.softplus(pre(v, W, c)).sum(1),
        ),
        Mistake(
            "you averaged over the hidden units; the free energy sums log(1 + e^{a_j}) over them.",
            lambda v, W, b, c: -(v @ b) - F.softplus(pre(v, W, c)).mean(1),
        ),
        Mistake(
            "the softplus terms were summed over the whole batch as well; sum over the hidden "
            "units only (dim=1), which leaves one free energy per example.",
            lambda v, W, b, c: -(v @ b) - F.softplus(pre(v, W, c)).sum(),
        ),
        Mistake(
            "the hidden bias c is missing inside the softplus: a_j = c_j + Σ_i v_i W_ij.",
            lambda v, W, b, c: -(v @ b) - F.softplus(v @ W).sum(1),
        ),
        Mistake(
            "log(1 + e^a) was written as log(e^a) − 1 or similar; summing out h_j ∈ {0, 1} gives "
            "e^0 + e^{a_j} = 1 + e^{a_j} inside the log.",
            lambda v, W, b, c: -(v @ b) - (pre(v, W, c) - 1).sum(1),
        ),
    ]


def _reference_free_energy(v, W, b, c):
    # Its initial weights come from a generator of its own: a check never draws from the
    # global random state.
    rbm = BernoulliRBM(W.shape[0], W.shape[1], generator=torch.Generator().manual_seed(0))
    rbm = rbm.to(device=v.device, dtype=W.dtype)
    with torch.no_grad():
        rbm.weight.copy_(W)
        rbm.visible_bias.copy_(b)
        rbm.hidden_bias.copy_(c)
        return rbm.free_energy(v)


def check_rbm_free_energy(rbm_free_energy: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 3.3: ``rbm_free_energy(v [B, D], W [D, H], b [D], c [H]) -> [B]``.

    Reference: :meth:`genmodels.rbm.BernoulliRBM.free_energy` (Book: eq-rbm-free-energy),
    on hidden random RBMs of several sizes (drawn from a generator seeded here), one
    example, one visible and one hidden unit, hidden inputs a_j = ±30, 100 and −200 (where
    log(1 + exp(a)) overflows in float32 and a + log(1 + exp(−a)) overflows for a = −200),
    float64; then the gradients with respect to W, b and c (the free energy is the loss of
    contrastive divergence, so it must stay differentiable). Deterministic.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(7)
    specs = [
        ("D = 6, H = 4, 5 examples", 6, 4, 5, 1.0, torch.float32),
        ("D = 6, H = 4, 1 example", 6, 4, 1, 1.0, torch.float32),
        ("D = 1, H = 1, 3 examples", 1, 1, 3, 1.0, torch.float32),
        ("D = 64, H = 20, 32 examples", 64, 20, 32, 0.3, torch.float32),
        ("large weights (a_j ≈ ±100)", 6, 4, 8, 60.0, torch.float32),
        ("D = 10, H = 7, float64", 10, 7, 6, 1.0, torch.float64),
    ]
    cases = []
    for label, d, h, n, scale, dtype in specs:
        v = (torch.rand(n, d, generator=g) < 0.5).to(dtype)
        W = (torch.randn(d, h, generator=g) * scale).to(dtype)
        b = torch.randn(d, generator=g).to(dtype)
        c = torch.randn(h, generator=g).to(dtype)
        cases.append((label, v, W, b, c))
    cases.append((
        "hidden inputs a_j = 30, −200, −30, 100",
        torch.tensor([[1.0], [0.0]]), torch.tensor([[30.0, -200.0, -30.0, 100.0]]),
        torch.tensor([0.5]), torch.zeros(4),
    ))
    with_accelerator_copies(cases)
    with Exercise("3.3", "rbm_free_energy") as ex:
        for label, v, W, b, c in cases:
            expected = _reference_free_energy(v, W, b, c)
            got = ex.call(rbm_free_energy, v, W, b, c)
            ex.compare(
                got,
                expected,
                case=label,
                args=(v, W, b, c),
                mistakes=_free_energy_mistakes(),
                sizes={"the H hidden units": W.shape[1], "the D visible units": W.shape[0]},
                nonfinite_hint="log(1 + exp(a)) overflows for large a (and a + log(1 + exp(−a)) "
                "for very negative a): use a stable softplus.",
                atol=1e-3 if v.dtype == torch.float32 else 1e-8,
                rtol=1e-5,
                where={"the largest |a_j| of the example": (v @ W + c).abs().amax(1)},
            )
        label, v, W, b, c = cases[0]
        params = {"W": W.clone().requires_grad_(), "b": b.clone().requires_grad_(),
                  "c": c.clone().requires_grad_()}
        loss = ex.call(rbm_free_energy, v, params["W"], params["b"], params["c"])
        ref = {k: t.clone().requires_grad_() for k, t in params.items()}
        expected_grads = torch.autograd.grad(
            (-(v @ ref["b"]) - F.softplus(v @ ref["W"] + ref["c"]).sum(1)).sum(),
            [ref["W"], ref["b"], ref["c"]])
        ex.require_gradients(loss, params, expected=dict(zip(params, expected_grads, strict=True)),
                             case=f"{label}, gradients")


# --- Exercise 3.6 (build it yourself) ----------------------------------------------------

_GENERAL_CHAINS, _GENERAL_STEPS = 10_000, 25


def _general_cases(g: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor, float]]:
    """Two hidden targets: σ₁ ≫ σ₂ with ρ > 0, σ₁ ≪ σ₂ with ρ < 0, means far from 0 (ranges
    chosen so that every named mistake gives values far from the right ones, and a 1 %
    change of the chains, or a shift by 0.01, is many standard errors)."""
    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))

    out = []
    for label, mx, my, sx, sy, r in [
        ("σ₁ > σ₂, ρ > 0", (20.0, 40.0), (-40.0, -20.0), (1.8, 2.4), (0.04, 0.07), (0.55, 0.75)),
        ("σ₁ < σ₂, ρ < 0", (-40.0, -20.0), (20.0, 40.0), (0.04, 0.07), (1.5, 2.5), (-0.8, -0.6)),
    ]:
        mu = torch.tensor([u(*mx), u(*my)], dtype=torch.float64)
        sigma = torch.tensor([u(*sx), u(*sy)], dtype=torch.float64)
        rho = round(u(*r), 3)
        out.append((f"{label}: μ = ({float(mu[0]):.2f}, {float(mu[1]):.2f}), σ = "
                    f"({float(sigma[0]):.2f}, {float(sigma[1]):.2f}), ρ = {rho}", mu, sigma, rho))
    return out


def _name(value: float, se: float, truth: float, alternatives: list[tuple[float, str]]) -> str | None:
    """The message of the one alternative that ``value`` matches and the truth does not."""
    hits = [msg for alt, msg in alternatives if near(value, alt, se) and not near(truth, alt, se)]
    return hits[0] if len(hits) == 1 else None


def _fisher_ok(r: float, target: float, n: int) -> bool:
    """Whether a sample correlation ``r`` of ``n`` pairs is within 6.5 standard errors of
    ``target`` on Fisher's scale (false-failure probability about 1e-10)."""
    r = max(min(r, 1 - 1e-12), -1 + 1e-12)
    return abs(math.atanh(r) - math.atanh(target)) * math.sqrt(n - 3) <= 6.5


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.double(), b.double()]))[0, 1])


def _check_general_update(
    ex: Exercise, case: str, new: str, given: str, target: torch.Tensor, on: torch.Tensor,
    others: list[tuple[str, torch.Tensor]], m_new: float, m_given: float, s_new: float,
    s_given: float, rho: float, found: list[tuple[str | None, str]],
) -> None:
    """One conditional draw ``new | given`` of a sweep: least squares of ``target`` on
    ``on − m_given`` and the other (centred) regressors, with the known noise. Each failure
    is appended to ``found`` as (the named mistake or None, what is violated): the caller
    reports a named one of either update first, since a chain's own spread may leave one
    update too poorly resolved to tell two mistakes apart."""
    __tracebackhide__ = True
    slope = rho * s_new / s_given
    noise = math.sqrt(1 - rho**2) * s_new
    regressors = [on - m_given] + [t for _, t in others]
    coef, se, r, dof = regress(target, regressors, noise)
    coef_l, se_l = coef.tolist(), se.tolist()
    # The other regressors first: the new value depends only on the one it is drawn given.
    for (name, _), c, e in zip(others, coef_l[2:], se_l[2:], strict=True):
        if abs(c) > Z_BOUND * e:
            found.append((None, f"the new {new} depends on {name} (coefficient {c:+.3f} once "
                          f"{given} is fixed): a Gibbs step draws {new} from p({new} | {given}) alone."))
    ex.n_checks += 1
    # Slope, intercept and noise from the given value alone (the others add nothing once
    # tested, and would only widen the intercept's error when the chain sits far from μ).
    coef, se, r, dof = regress(target, [on - m_given], noise)
    coef_l, se_l = coef.tolist(), se.tolist()
    if abs(coef_l[1] - slope) > Z_BOUND * se_l[1]:
        named = _name(coef_l[1], se_l[1], slope, [
            (rho, f"the conditional mean of {new} moves by ρ per unit of {given}: that is the "
                  f"standard case (σ₁ = σ₂ = 1); with other standard deviations it is "
                  f"ρ·(σ_{new}/σ_{given})·({given} − μ_{given}) — the σ_{new}/σ_{given} scaling is "
                  "missing."),
            (rho * s_given / s_new, f"the ratio of standard deviations is upside down: the "
                                    f"conditional mean of {new} is μ_{new} + ρ·(σ_{new}/σ_{given})·"
                                    f"({given} − μ_{given}), not ρ·(σ_{given}/σ_{new})."),
        ])
        found.append((named, f"the conditional mean of {new} changes by {coef_l[1]:+.4f} per unit of "
                f"{given}; expected ρ·σ_{new}/σ_{given} = {slope:+.4f}."))
    ex.n_checks += 1
    if abs(coef_l[0] - m_new) > Z_BOUND * se_l[0]:
        named = _name(coef_l[0], se_l[0], m_new, [
            (slope * m_given, f"the means are ignored: {new} is drawn around ρ·(σ_{new}/σ_{given})·"
                              f"{given}, as if μ = 0; the conditional mean is μ_{new} + ρ·(σ_{new}/"
                              f"σ_{given})·({given} − μ_{given})."),
            (m_new + slope * m_given, f"μ_{given} is not subtracted: the conditional mean is μ_{new} "
                                      f"+ ρ·(σ_{new}/σ_{given})·({given} − μ_{given})."),
            (0.0, f"μ_{new} is missing from the conditional mean of {new}: it is μ_{new} + "
                  f"ρ·(σ_{new}/σ_{given})·({given} − μ_{given})."),
        ])
        found.append((named, f"when {given} = μ_{given} the new {new} has mean {coef_l[0]:.4f}; "
                f"expected μ_{new} = {m_new:.4f}."))
    ex.n_checks += 1
    lo, hi = std_interval(noise, dof)
    if not lo <= r <= hi:
        se_r = noise / math.sqrt(2 * dof)
        named = _name(r, se_r, noise, [
            ((1 - rho**2) * s_new**2, f"the noise of {new} is scaled by the conditional variance "
                                      f"(1 − ρ²)σ_{new}²; scale a standard normal by the standard "
                                      f"deviation √(1 − ρ²)·σ_{new}."),
            (math.sqrt(1 - rho**2), f"the noise of {new} has the standard case's standard "
                                    f"deviation √(1 − ρ²): multiply it by σ_{new}."),
            (1 - rho**2, f"the noise of {new} is scaled by 1 − ρ², the standard case's variance; "
                         f"the standard deviation is √(1 − ρ²)·σ_{new}."),
            (s_new, f"the noise of {new} has the marginal standard deviation σ_{new}; given "
                    f"{given} it is √(1 − ρ²)·σ_{new}."),
            (math.sqrt(1 - rho**2) * s_given, f"the noise of {new} is scaled with σ_{given}, the "
                                              f"other coordinate's; use √(1 − ρ²)·σ_{new}."),
            ((1 - rho**2) * s_new, f"the square root is missing: the standard deviation of {new} "
                                   f"given {given} is √(1 − ρ²)·σ_{new}, not (1 − ρ²)·σ_{new}."),
        ])
        found.append((named, f"around its conditional mean, {new} has standard deviation {r:.4f}; "
                f"expected √(1 − ρ²)·σ_{new} = {noise:.4f}."))
    ex.n_checks += 1
    z = (target.double() - m_new - slope * (on.double() - m_given)) / noise
    p = ks_normal(z)
    ex.n_checks += 1
    if p <= 1e-9:
        found.append((None, f"the noise of {new} is not Gaussian: standardised, it fails a "
                      f"Kolmogorov–Smirnov test against N(0, 1) (p = {p:.1e}). Draw it with "
                      "torch.randn."))


def _check_general_chain(ex: Exercise, fn: Callable[..., object], label: str, mu: torch.Tensor,
                         sigma: torch.Tensor, rho: float, seed: int) -> None:
    __tracebackhide__ = True
    n, t = _GENERAL_CHAINS, _GENERAL_STEPS
    case = f"{label}, {n} chains, {t} sweeps"
    out = ex.call(fn, mu, sigma, rho, t, n, torch.Generator().manual_seed(seed))
    _general_structure(ex, out, n, t, mu.dtype, case)
    if bool((out[:, 0] == mu).all()):
        ex.fail("the first recorded state is the start μ: record the state after each of the "
                "n_steps sweeps (the start is not part of the returned chain).", case)
    last = out[:, -1].double()
    ex.require(bool((last.std(0) > 0).all()), "every chain is in the same state: draw "
               "independent noise for each chain (shape [n_chains]) at every update.", case)
    x_prev, y_prev = out[:, -2, 0].double(), out[:, -2, 1].double()
    x_new, y_new = last[:, 0], last[:, 1]
    mx, my = float(mu[0]), float(mu[1])
    sx, sy = float(sigma[0]), float(sigma[1])
    # Which coordinate is drawn first? x first: both new values depend on the old y only.
    # y first (also a valid systematic scan): both depend on the old x only.
    y_first = True
    for target in (x_new, y_new):
        c, se, r, _ = regress(target, [x_prev - mx, y_prev - my], 1.0)
        z_old_x, z_old_y = abs(float(c[1] / se[1])) / r, abs(float(c[2] / se[2])) / r
        y_first = y_first and z_old_y < Z_BOUND < z_old_x
    if y_first:  # check it as an x-first sweep of the swapped pair
        x_prev, y_prev, x_new, y_new = y_prev, x_prev, y_new, x_new
        mx, my, sx, sy = my, mx, sy, sx
    first, second = ("y", "x") if y_first else ("x", "y")
    # Jacobi: the second coordinate drawn from the *old* value of the first.
    cj, se_j, _, _ = regress(y_new, [x_new - mx, x_prev - mx, y_prev - my], math.sqrt(1 - rho**2) * sy)
    if abs(float(cj[1])) < Z_BOUND * float(se_j[1]) and abs(float(cj[2]) - rho * sy / sx) < Z_BOUND * float(se_j[2]):
        ex.fail(
            f"{second} is drawn given the old {first}, not the new one: that is a Jacobi update, "
            "not Gibbs, and it does not leave the target invariant. Its chains end with "
            f"uncorrelated coordinates (measured correlation {_corr(x_new, y_new):+.3f}, target "
            f"ρ = {rho:+.3f}), and the lag-1 autocorrelation of {first} is about 0 (measured "
            f"{_corr(x_prev, x_new):+.3f}) instead of ρ² = {rho**2:.3f}. Draw {second} given the "
            f"{first} you have just drawn.", case)
    found: list[tuple[str | None, str]] = []
    _check_general_update(ex, case, first, second, x_new, y_prev, [(f"the previous {first}", x_prev - mx)],
                          mx, my, sx, sy, rho, found)
    _check_general_update(ex, case, second, first, y_new, x_new,
                          [(f"the previous {first}", x_prev - mx), (f"the previous {second}", y_prev - my)],
                          my, mx, sy, sx, rho, found)
    if found:
        ex.fail(next((named for named, _ in found if named), found[0][1]), case)
    # Every recorded state, from the start μ on: each draw within 7.5 standard deviations
    # of its conditional mean (2 n t draws).
    states = out.double()
    if y_first:
        states = states.flip(-1)
    xs, ys = states[..., 0], states[..., 1]
    y_before = torch.cat([torch.full((n, 1), my, dtype=torch.float64), ys[:, :-1]], 1)
    zx = (xs - mx - rho * sx / sy * (y_before - my)) / (math.sqrt(1 - rho**2) * sx)
    zy = (ys - my - rho * sy / sx * (xs - mx)) / (math.sqrt(1 - rho**2) * sy)
    _require_no_outlier(ex, torch.cat([zx.reshape(-1), zy.reshape(-1)]), 2 * n * t, case)
    # Stationary moments of the last states and lag-1 autocorrelations (independent chains).
    mean_x, mean_y = float(last[:, 0].mean()), float(last[:, 1].mean())
    for name, m, s_, target in (("x", mean_x, float(sigma[0]), float(mu[0])),
                                ("y", mean_y, float(sigma[1]), float(mu[1]))):
        ex.require(abs(m - target) <= Z_BOUND * s_ / math.sqrt(n),
                   f"the chains' mean of {name} is {m:.4f}; the target's is μ = {target:.4f}.", case)
    for i, name in enumerate(("x", "y")):
        stat = float(((last[:, i] - float(mu[i])) ** 2).sum()) / float(sigma[i]) ** 2
        lo, hi = std_interval(1.0, n)
        var = stat / n * float(sigma[i]) ** 2
        ex.require(lo**2 * n <= stat <= hi**2 * n,
                   f"the chains' variance of {name} is {var:.4f}; the target's is σ² = "
                   f"{float(sigma[i]) ** 2:.4f}.", case)
    r_xy = _corr(last[:, 0], last[:, 1])
    ex.require(_fisher_ok(r_xy, rho, n), f"the chains' correlation of x and y is {r_xy:+.4f}; the "
               f"target's is ρ = {rho:+.4f}.", case)
    for i, name in enumerate(("x", "y")):
        lag1 = _corr(out[:, -2, i], out[:, -1, i])
        ex.require(_fisher_ok(lag1, rho**2, n),
                   f"the lag-1 autocorrelation of {name} is {lag1:+.4f}; a systematic-scan Gibbs "
                   f"sampler gives ρ² = {rho**2:.4f} (eq-gibbs-lag1-autocorrelation).", case)


def _general_structure(ex: Exercise, out: object, n: int, t: int, dtype: torch.dtype, case: str) -> None:
    __tracebackhide__ = True
    if not isinstance(out, torch.Tensor):
        ex.fail(f"return one tensor [n_chains, n_steps, 2]; you returned a {type(out).__name__}.", case)
    shape = tuple(out.shape)
    if shape != (n, t, 2):
        hint = ""
        if shape == (n, t + 1, 2):
            hint = " — one state too many: the start is not recorded, only the n_steps states after each sweep"
        elif shape == (n, t - 1, 2) and t > 1:
            hint = " — one state too few: record the state after every sweep"
        elif len(shape) == 3 and sorted(shape) == sorted((n, t, 2)):
            hint = " — the dimensions are in the wrong order: chains first, then steps, then (x, y)"
        ex.fail(f"wrong shape: expected [n_chains, n_steps, 2] = [{n}, {t}, 2], got {list(shape)}{hint}.", case)
    ex.require(out.dtype == dtype, f"wrong dtype: expected {dtype} (the dtype of mu), got {out.dtype}.", case)
    ex.require(bool(torch.isfinite(out).all()), "the chains contain NaN or inf: is 1 − ρ² or a "
               "standard deviation negative inside a square root?", case)


def check_gibbs_general_bivariate(gibbs_general_bivariate: Callable[..., object]) -> None:
    """Check Exercise 3.6: ``gibbs_general_bivariate(mu [2], sigma [2], rho, n_steps, n_chains,
    generator) -> [n_chains, n_steps, 2]``, a systematic-scan Gibbs sampler for N(μ, Σ) with
    standard deviations σ and correlation ρ, every chain started at μ
    (Book: eq-bivariate-conditional-general).

    Graded on behaviour, on two hidden targets (drawn from a generator seeded here),
    10 000 chains of 25 sweeps: the two conditional draws of the last sweep, by least
    squares with the known noise (coefficients within 6 standard errors: exact Gaussian
    tests, 2e-9 each; residual standard deviations within χ² bounds, 1e-9 per side;
    Kolmogorov–Smirnov tests of the noise, p > 1e-9); then the stationary means (6
    standard errors), variances (χ², 1e-9 per side), correlation and the lag-1
    autocorrelations ρ² of both coordinates (Fisher's z, 6.5 standard errors) of the last
    states, whose distance from stationarity after 24 sweeps from μ (ρ^96 < 1e-9) is
    negligible. About 50 tests: a right sampler fails with probability below 1e-7.
    Either order of the two updates in a sweep is accepted. Then the generator: same seed,
    same chains; another seed, other chains; the global random state untouched.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(34)
    with Exercise("3.6", "gibbs_general_bivariate") as ex:
        for n, t, dtype in [(1, 1, torch.float64), (5, 3, torch.float32)]:
            mu = torch.tensor([1.0, -2.0], dtype=dtype)
            sigma = torch.tensor([2.0, 0.5], dtype=dtype)
            out = ex.call(gibbs_general_bivariate, mu, sigma, 0.5, t, n, torch.Generator().manual_seed(n))
            _general_structure(ex, out, n, t, dtype, f"{n} chain(s), {t} sweep(s), {str(dtype)[6:]}")
        cases = _general_cases(g)
        for i, (label, mu, sigma, rho) in enumerate(cases):
            _check_general_chain(ex, gibbs_general_bivariate, label, mu, sigma, rho, seed=100 + i)
        _, mu, sigma, rho = cases[0]
        ex.require_generator_use(positional_generator(gibbs_general_bivariate), (mu, sigma, rho, 4, 20))
