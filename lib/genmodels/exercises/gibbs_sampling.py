"""Checks for the exercises of chapter 3 (Gibbs sampling).

* Exercise 3.1 — :func:`check_gibbs_sweep`: one systematic-scan sweep on the standard
  bivariate Gaussian (Book: eq-bivariate-conditional), checked statistically.
* Exercise 3.2 — :func:`check_lag1_autocorrelation`: the sample lag-1 autocorrelation
  (reference: ``gibbs.autocorrelation``; Book: eq-gibbs-lag1-autocorrelation).
* Exercise 3.3 — :func:`check_rbm_free_energy`: the free energy of a Bernoulli RBM
  (reference: ``rbm.BernoulliRBM.free_energy``; Book: eq-rbm-free-energy).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genmodels.exercises._core import Exercise, Mistake, devices_to_check, with_accelerator_copies
from genmodels.gibbs import autocorrelation
from genmodels.rbm import BernoulliRBM

# --- Exercise 3.1 ----------------------------------------------------------------------


def _sweep_statistics(x_new: torch.Tensor, y_new: torch.Tensor) -> dict[str, float]:
    x, y = x_new.double(), y_new.double()
    xc, yc = x - x.mean(), y - y.mean()
    slope = float((xc * yc).mean() / (xc * xc).mean())
    residual = y - slope * x
    return {
        "x_mean": float(x.mean()),
        "x_std": float(x.std()),
        "slope": slope,
        "intercept": float(residual.mean()),
        "y_res_std": float(residual.std()),
    }


def _check_sweep_case(
    ex: Exercise, gibbs_sweep: Callable[..., object], x0: float, y0: float, rho: float
) -> None:
    n = 20_000
    case = f"ρ = {rho}, every chain at (x, y) = ({x0}, {y0}), {n} chains"
    x = torch.full((n,), x0, dtype=torch.float64)
    y = torch.full((n,), y0, dtype=torch.float64)
    out = ex.call(gibbs_sweep, x, y, rho, torch.Generator().manual_seed(11))
    if not (isinstance(out, tuple | list) and len(out) == 2):
        ex.fail("return the new state as a pair (x_new, y_new) of tensors.", case)
    x_new, y_new = out
    for name, t in (("x_new", x_new), ("y_new", y_new)):
        if not isinstance(t, torch.Tensor):
            ex.fail(f"{name} must be a torch.Tensor, got {type(t).__name__}.", case)
        if tuple(t.shape) != (n,):
            ex.fail(f"{name} has shape {list(t.shape)}; expected [{n}], one value per chain.", case)
        ex.require(
            t.dtype == torch.float64,
            f"{name} has dtype {t.dtype}; keep the dtype of the inputs (float64 here).",
            case,
        )
    s = _sweep_statistics(x_new, y_new)
    cond_std = math.sqrt(1 - rho**2)
    # Monte-Carlo tolerances: SE(mean) ≈ 0.006, SE(std) ≈ 0.005, SE(slope) ≈ 0.006.
    tol = 0.03
    if abs(s["x_std"]) < 1e-9:
        ex.fail("x_new does not vary between chains: add Gaussian noise to the conditional mean.", case)
    if abs(s["x_mean"] - rho * y0) > tol:
        if abs(s["x_mean"] - rho * x0) <= tol:
            ex.fail("x is drawn around ρ·x: the conditional of x is given y, centred at ρ·y.", case)
        if abs(s["x_mean"] - y0) <= tol:
            ex.fail("x is drawn around y: the conditional mean is ρ·y (the factor ρ is missing).", case)
        ex.fail(
            f"x_new has mean {s['x_mean']:.3f} over the chains; from y = {y0} it should be "
            f"ρ·y = {rho * y0:.3f}.",
            case,
        )
    ex.n_checks += 1
    if abs(s["x_std"] - cond_std) > tol:
        if abs(s["x_std"] - (1 - rho**2)) <= tol:
            ex.fail(
                "the noise of x is scaled by the conditional variance 1 − ρ²; scale a standard "
                "normal by the standard deviation √(1 − ρ²).",
                case,
            )
        if abs(s["x_std"] - 1.0) <= tol:
            ex.fail(
                "x_new has standard deviation 1, the marginal one; the conditional given y has "
                "standard deviation √(1 − ρ²).",
                case,
            )
        ex.fail(f"x_new has standard deviation {s['x_std']:.3f}; expected √(1 − ρ²) = {cond_std:.3f}.", case)
    ex.n_checks += 1
    if abs(s["slope"] - rho) > tol:
        if abs(s["slope"]) <= tol:
            ex.fail(
                "y_new does not depend on x_new: draw y given the *new* x (systematic scan uses "
                "the freshest value of every other coordinate).",
                case,
            )
        ex.fail(f"y_new regressed on x_new has slope {s['slope']:.3f}; expected ρ = {rho}.", case)
    ex.n_checks += 1
    ex.require(
        abs(s["intercept"]) <= tol,
        f"y_new given x_new is centred at ρ·x_new + {s['intercept']:.3f}; expected no offset.",
        case,
    )
    if abs(s["y_res_std"] - cond_std) > tol:
        if abs(s["y_res_std"] - (1 - rho**2)) <= tol:
            ex.fail(
                "the noise of y is scaled by the conditional variance 1 − ρ²; use the standard "
                "deviation √(1 − ρ²).",
                case,
            )
        ex.fail(
            f"y_new around ρ·x_new has standard deviation {s['y_res_std']:.3f}; expected "
            f"√(1 − ρ²) = {cond_std:.3f}.",
            case,
        )
    ex.n_checks += 1


def check_gibbs_sweep(gibbs_sweep: Callable[..., object]) -> None:
    """Check Exercise 3.1: ``gibbs_sweep(x [n], y [n], rho, generator) -> (x_new, y_new)``.

    One systematic-scan sweep: x ~ N(ρ y, 1 − ρ²), then y ~ N(ρ x_new, 1 − ρ²)
    (Book: eq-bivariate-conditional). Checked on 20 000 chains started at one point: the
    mean and standard deviation of x_new, and the regression of y_new on x_new (slope ρ,
    residual standard deviation √(1 − ρ²)), each within 0.03 (≥ 5 standard errors);
    reproducibility with the generator.
    """
    __tracebackhide__ = True
    with Exercise("3.1", "gibbs_sweep") as ex:
        for x0, y0, rho in [(1.5, -2.0, 0.6), (-1.0, 3.0, -0.3), (0.5, 0.5, 0.95)]:
            _check_sweep_case(ex, gibbs_sweep, x0, y0, rho)
        x = torch.zeros(50, dtype=torch.float64)
        a = ex.call(gibbs_sweep, x, x, 0.5, torch.Generator().manual_seed(3))
        torch.manual_seed(1)
        b = ex.call(gibbs_sweep, x, x, 0.5, torch.Generator().manual_seed(3))
        ex.require(
            torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]),
            "two calls with generators seeded alike gave different results: pass "
            "generator=generator to every random draw.",
            "reproducibility",
        )


# --- Exercise 3.2 ----------------------------------------------------------------------


def _lag1_mistakes() -> list[Mistake]:
    def uncentred(x: torch.Tensor) -> torch.Tensor:
        return (x[1:] * x[:-1]).sum() / (x * x).sum()

    def pearson(x: torch.Tensor) -> torch.Tensor:
        return torch.corrcoef(torch.stack([x[:-1], x[1:]]))[0, 1]

    def covariance(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return (c[1:] * c[:-1]).sum() / len(x)

    def unbiased_numerator(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean()
        return ((c[1:] * c[:-1]).sum() / (len(x) - 1)) / ((c * c).sum() / len(x))

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
    ]


def check_lag1_autocorrelation(lag1_autocorrelation: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 3.2: ``lag1_autocorrelation(x [n]) -> 0-d tensor``.

    ρ̂_1 = Σ_{t<n−1} (x_t − x̄)(x_{t+1} − x̄) / Σ_t (x_t − x̄)², compared with
    ``gibbs.autocorrelation(x, 1)[1]`` on short and long series, an alternating series
    (ρ̂_1 < 0) and a Gibbs chain (Book: eq-gibbs-lag1-autocorrelation).
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(5)
    walk = torch.randn(200, generator=g, dtype=torch.float64).cumsum(0)
    cases = [
        ("random walk, n = 200", walk),
        ("white noise, n = 7", torch.randn(7, generator=g, dtype=torch.float64)),
        ("alternating series, n = 10", torch.tensor([1.0, -1.0] * 5, dtype=torch.float64) + 3.0),
        ("float32 series, n = 1000", torch.randn(1000, generator=g).cumsum(0) * 0.1 + 5.0),
    ]
    for device in devices_to_check()[1:]:
        cases.append((f"random walk, on {device}", walk.to(device)))
    with Exercise("3.2", "lag1_autocorrelation") as ex:
        for label, x in cases:
            expected = autocorrelation(x, max_lag=1)[1]
            got = ex.call(lag1_autocorrelation, x)
            ex.compare(
                got,
                expected,
                case=label,
                args=(x,),
                mistakes=_lag1_mistakes(),
                sizes={"the n steps": x.shape[0]},
                atol=1e-5,
                rtol=1e-4,
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


def check_rbm_free_energy(rbm_free_energy: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 3.3: ``rbm_free_energy(v [B, D], W [D, H], b [D], c [H]) -> [B]``.

    Reference: :meth:`genmodels.rbm.BernoulliRBM.free_energy` (Book: eq-rbm-free-energy),
    on random RBMs of several sizes, one example, and weights large enough that a naive
    ``log(1 + exp(a))`` overflows.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(7)
    specs = [
        ("D = 6, H = 4, 5 examples", 6, 4, 5, 1.0),
        ("D = 6, H = 4, 1 example", 6, 4, 1, 1.0),
        ("D = 64, H = 20, 32 examples", 64, 20, 32, 0.3),
        ("large weights (a_j ≈ ±100)", 6, 4, 8, 60.0),
    ]
    cases = []
    for label, d, h, n, scale in specs:
        v = (torch.rand(n, d, generator=g) < 0.5).float()
        W = torch.randn(d, h, generator=g) * scale
        b = torch.randn(d, generator=g)
        c = torch.randn(h, generator=g)
        cases.append((label, v, W, b, c))
    with_accelerator_copies(cases)
    with Exercise("3.3", "rbm_free_energy") as ex:
        for label, v, W, b, c in cases:
            rbm = BernoulliRBM(W.shape[0], W.shape[1]).to(v.device)
            with torch.no_grad():
                rbm.weight.copy_(W)
                rbm.visible_bias.copy_(b)
                rbm.hidden_bias.copy_(c)
                expected = rbm.free_energy(v)
            got = ex.call(rbm_free_energy, v, W, b, c)
            ex.compare(
                got,
                expected,
                case=label,
                args=(v, W, b, c),
                mistakes=_free_energy_mistakes(),
                sizes={"the H hidden units": W.shape[1], "the D visible units": W.shape[0]},
                nonfinite_hint="log(1 + exp(a)) overflows for large a: use a stable softplus.",
                atol=1e-3,
                rtol=1e-5,
            )
