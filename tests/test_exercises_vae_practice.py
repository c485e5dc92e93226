"""Chapter 6 checks: a right answer passes; typical wrong answers get their message.

The tables list typical wrong answers of each code exercise and a fragment of the message
each must produce. (The notebook's own reference solutions and the student edition's
stubs are run by ``test_exercises.py``.)
"""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.exercises import ExerciseError, vae_practice

# --- Exercise 6.1: kl_per_latent_dimension ---------------------------------------------


def _kl(mu, lv, var=None, one=1.0):
    var = lv.exp() if var is None else var
    return 0.5 * (mu**2 + var - one - lv)


def _kl_right(mu, lv):
    """Written from the per-dimension closed form, independently of the library."""
    return _kl(mu, lv).mean(dim=0)


KL_WRONG = {
    "sum over images": (lambda mu, lv: _kl(mu, lv).sum(0), "you summed over the images"),
    "logvar as variance": (lambda mu, lv: _kl(mu, lv, var=lv).mean(0), "log-variance was used as the variance"),
    "std as variance": (lambda mu, lv: _kl(mu, lv, var=(0.5 * lv).exp()).mean(0), "standard deviation σ = exp(logvar / 2)"),
    "missing -1": (lambda mu, lv: _kl(mu, lv, one=0.0).mean(0), "the −1 is missing"),
    "missing 1/2": (lambda mu, lv: 2 * _kl(mu, lv).mean(0), "the factor ½ is missing"),
    "sign flipped": (lambda mu, lv: -_kl(mu, lv).mean(0), "sign error"),
    "wrong sign of log sigma^2": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 + lv).mean(0), "log σ² term has the wrong sign"),
    "reduced over dimensions": (lambda mu, lv: _kl(mu, lv).mean(1), "you reduced over the 16 latent dimensions"),
    "per image and dimension": (lambda mu, lv: _kl(mu, lv), "wrong shape: expected [16], got [50, 16]"),
    "float32 for float64 inputs": (lambda mu, lv: _kl_right(mu.float(), lv.float()), "wrong dtype"),
}


def test_kl_per_latent_dimension_right_answer_passes(capsys):
    vae_practice.check_kl_per_latent_dimension(_kl_right)
    assert "✔ Exercise 6.1 (kl_per_latent_dimension): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", KL_WRONG.values(), ids=KL_WRONG.keys())
def test_kl_per_latent_dimension_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 6\.1 \(kl_per_latent_dimension\)") as err:
        vae_practice.check_kl_per_latent_dimension(wrong)
    assert fragment in str(err.value)


# --- Exercise 6.2: activity_per_unit ---------------------------------------------------


def _activity_right(mu):
    return mu.var(dim=0)  # torch.var divides by N - 1 by default


ACTIVITY_WRONG = {
    "divide by N": (lambda mu: mu.var(dim=0, correction=0), "you divided by N"),
    "standard deviation": (lambda mu: mu.std(dim=0), "that is the standard deviation"),
    "not centred (N - 1)": (lambda mu: mu.pow(2).sum(0) / (mu.shape[0] - 1), "you did not subtract the mean"),
    "not centred (N)": (lambda mu: mu.pow(2).mean(0), "you did not subtract the mean"),
    "mean instead of variance": (lambda mu: mu.mean(0), "the mean of each unit"),
    "variance over dimensions": (lambda mu: mu.var(dim=1), "you reduced over the 16 latent dimensions"),
    "variance of everything": (lambda mu: mu.var(), "wrong shape: expected [16], got []"),
}


def test_activity_per_unit_right_answer_passes(capsys):
    vae_practice.check_activity_per_unit(_activity_right)
    assert "✔ Exercise 6.2 (activity_per_unit): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", ACTIVITY_WRONG.values(), ids=ACTIVITY_WRONG.keys())
def test_activity_per_unit_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 6\.2 \(activity_per_unit\)") as err:
        vae_practice.check_activity_per_unit(wrong)
    assert fragment in str(err.value)


# --- Exercise 6.3: iwae_from_log_weights -----------------------------------------------


def _iwae_right(lw):
    """log-mean-exp written by hand with the max trick, independently of logsumexp."""
    m = lw.max(dim=0).values
    return m + torch.log(torch.exp(lw - m).mean(dim=0))


IWAE_WRONG = {
    "no -log k": (lambda lw: torch.logsumexp(lw, 0), "the 1/k is missing"),
    "mean of log-weights": (lambda lw: lw.mean(0), "mean of the log-weights"),
    "naive log-mean-exp": (lambda lw: lw.exp().mean(0).log(), "underflows to 0 in float32"),
    "max only": (lambda lw: lw.max(0).values, "that is the largest log-weight"),
    "max minus log k": (lambda lw: lw.max(0).values - math.log(lw.shape[0]), "adds back"),
    "reduced over images": (
        lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1]),
        "you reduced over the 4 images",
    ),
    "kept the sample dimension": (lambda lw: lw - math.log(lw.shape[0]), "wrong shape: expected [4], got [10, 4]"),
}


def test_iwae_from_log_weights_right_answer_passes(capsys):
    vae_practice.check_iwae_from_log_weights(_iwae_right)
    assert "✔ Exercise 6.3 (iwae_from_log_weights): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", IWAE_WRONG.values(), ids=IWAE_WRONG.keys())
def test_iwae_from_log_weights_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 6\.3 \(iwae_from_log_weights\)") as err:
        vae_practice.check_iwae_from_log_weights(wrong)
    assert fragment in str(err.value)


def test_reference_iwae_is_the_exact_log_mean_exp_on_small_numbers():
    """On moderate log-weights the bound can be computed naively in float64."""
    lw = torch.tensor([[0.0, -1.0], [math.log(3.0), -2.0]], dtype=torch.float64)
    expected = torch.tensor([math.log(2.0), math.log((math.exp(-1) + math.exp(-2)) / 2)], dtype=torch.float64)
    torch.testing.assert_close(vae_practice.reference_iwae_from_log_weights(lw), expected)


@pytest.mark.parametrize(
    "check, stub",
    [
        (vae_practice.check_kl_per_latent_dimension, lambda mu, lv: ...),
        (vae_practice.check_activity_per_unit, lambda mu: None),
        (vae_practice.check_iwae_from_log_weights, lambda lw: (_ for _ in ()).throw(NotImplementedError())),
    ],
    ids=["6.1", "6.2", "6.3"],
)
def test_stubs_are_not_attempted(capsys, check, stub):
    check(stub)
    assert "not attempted yet." in capsys.readouterr().out
