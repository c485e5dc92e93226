"""Chapter 3's exercise checks: reference answers pass, stubs are "not attempted", and
typical wrong answers are rejected with the message meant for them."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genmodels.exercises import ExerciseError, gibbs_sampling

# --- reference answers (written independently of the library) -------------------------


def sweep_right(x, y, rho, generator):
    s = math.sqrt(1 - rho**2)
    x_new = rho * y + s * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    y_new = rho * x_new + s * torch.randn(y.shape, generator=generator, dtype=y.dtype)
    return x_new, y_new


def lag1_right(x):
    c = x - x.mean()
    return (c[1:] * c[:-1]).sum() / (c * c).sum()


def free_energy_right(v, W, b, c):
    return -(v @ b) - F.softplus(v @ W + c).sum(1)


def stub(*args):
    raise NotImplementedError("Exercise 3.k: not attempted yet")


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (gibbs_sampling.check_gibbs_sweep, sweep_right),
        (gibbs_sampling.check_lag1_autocorrelation, lag1_right),
        (gibbs_sampling.check_rbm_free_energy, free_energy_right),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out
    check(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- wrong answers -----------------------------------------------------------------------


def _sweep(x_mean, x_scale, y_given="new", y_scale=None, use_global=False):
    def sweep(x, y, rho, generator):
        g = None if use_global else generator
        s = x_scale(rho)
        x_new = x_mean(x, y, rho) + s * torch.randn(x.shape, generator=g, dtype=x.dtype)
        cond = x_new if y_given == "new" else x
        s_y = (y_scale or x_scale)(rho)
        y_new = rho * cond + s_y * torch.randn(y.shape, generator=g, dtype=y.dtype)
        return x_new, y_new

    return sweep


def _std(rho):
    return math.sqrt(1 - rho**2)


SWEEP_WRONG = [
    (_sweep(lambda x, y, r: r * x, _std), r"centred at ρ·y"),
    (_sweep(lambda x, y, r: y, _std), r"factor ρ is missing"),
    (_sweep(lambda x, y, r: r * y, lambda r: 1 - r**2), r"conditional variance 1 − ρ²"),
    (_sweep(lambda x, y, r: r * y, lambda r: 1.0), r"marginal one"),
    (_sweep(lambda x, y, r: r * y, _std, y_given="old"), r"\*new\* x"),
    (_sweep(lambda x, y, r: r * y, _std, y_scale=lambda r: 1 - r**2), r"noise of y"),
    (_sweep(lambda x, y, r: r * y, _std, use_global=True), r"generator=generator"),
    (lambda x, y, rho, g: rho * y, r"pair"),
]


@pytest.mark.parametrize(("answer", "message"), SWEEP_WRONG)
def test_wrong_sweeps_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        gibbs_sampling.check_gibbs_sweep(answer)


LAG1_WRONG = [
    (lambda x: (x[1:] * x[:-1]).sum() / (x * x).sum(), r"not centred"),
    (lambda x: torch.corrcoef(torch.stack([x[:-1], x[1:]]))[0, 1], r"\[two values, n = 2\]: your result contains NaN"),
    (lambda x: ((x - x.mean())[1:] * (x - x.mean())[:-1]).sum() / len(x), r"autocovariance"),
    (
        lambda x: ((x - x.mean())[1:] * (x - x.mean())[:-1]).mean() / (x - x.mean()).pow(2).mean(),
        r"n − 1",
    ),
    (lambda x: ((x - x.mean())[1:] * (x - x.mean())[:-1]) / (x - x.mean()).pow(2).sum(), r"wrong shape"),
]


@pytest.mark.parametrize(("answer", "message"), LAG1_WRONG)
def test_wrong_autocorrelations_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        gibbs_sampling.check_lag1_autocorrelation(answer)


FREE_ENERGY_WRONG = [
    (lambda v, W, b, c: -(v @ b) - (v @ W + c).sum(1), r"softplus is missing"),
    (lambda v, W, b, c: -F.softplus(v @ W + c).sum(1), r"visible-bias"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W + c).mean(1), r"averaged over the hidden"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W).sum(1), r"hidden bias c is missing"),
    (lambda v, W, b, c: (v @ b) + F.softplus(v @ W + c).sum(1), r"sign error"),
    (lambda v, W, b, c: -(v @ b) - torch.log(1 + torch.exp(v @ W + c)).sum(1), r"overflows"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W + c).sum(), r"whole batch"),
    (lambda v, W, b, c: -(v @ b)[:, None] - F.softplus(v @ W + c), r"wrong shape"),
]


@pytest.mark.parametrize(("answer", "message"), FREE_ENERGY_WRONG)
def test_wrong_free_energies_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        gibbs_sampling.check_rbm_free_energy(answer)
