"""Chapter 8 checks: independent right answers pass; typical wrong answers get their message.

The answers below are written independently of the checks' own ``Mistake`` tables (with
sigmoid probabilities, SciPy's ``sqrtm``, plain integer arithmetic), so a check that
recognises them recognises the mistake, not its own formula. (The notebook's reference
solutions are run by ``test_exercises.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from genmodels.exercises import ExerciseError, gan_practice
from genmodels.measure import sample_quality

# --- Exercise 8.1: discriminator_accuracy ------------------------------------------------


def _via_probabilities(r, f, *, real_rule=lambda d: d > 0.5, fake_rule=lambda d: d < 0.5,
                       reduce="mean", order=(0, 1)):
    """Accuracies from D = sigmoid(l), with switches for the typical mistakes."""
    pair = [real_rule(torch.sigmoid(r)).to(r.dtype), fake_rule(torch.sigmoid(f)).to(f.dtype)]
    pair = [getattr(t, reduce)() for t in pair]
    return torch.stack([pair[order[0]], pair[order[1]]])


ACCURACY_WRONG = {
    "threshold 0.5 on logits": (
        lambda r, f: torch.stack([(r > 0.5).to(r.dtype).mean(), (f < 0.5).to(f.dtype).mean()]),
        "the threshold on a logit is 0"),
    "fakes called real": (
        lambda r, f: _via_probabilities(r, f, fake_rule=lambda d: d > 0.5), "calls *real*"),
    "order swapped": (lambda r, f: _via_probabilities(r, f, order=(1, 0)), "wrong order"),
    "error rates": (
        lambda r, f: 1 - _via_probabilities(r, f), "error rates"),
    "ties counted as right": (
        lambda r, f: _via_probabilities(r, f, real_rule=lambda d: d >= 0.5,
                                        fake_rule=lambda d: d <= 0.5), "undecided"),
    "counts": (lambda r, f: _via_probabilities(r, f, reduce="sum"), "counted correct samples"),
    "pooled, one number": (
        lambda r, f: torch.cat([torch.sigmoid(r) > 0.5, torch.sigmoid(f) < 0.5]).to(r.dtype).mean(),
        "you returned one number"),
    "a tuple": (lambda r, f: tuple(_via_probabilities(r, f)), "not a tuple or list"),
    "always float32": (lambda r, f: _via_probabilities(r.float(), f.float()), "wrong dtype"),
}


def test_discriminator_accuracy_right_answer_passes(capsys):
    gan_practice.check_discriminator_accuracy(_via_probabilities)
    assert "✔ Exercise 8.1 (discriminator_accuracy): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", ACCURACY_WRONG.values(), ids=ACCURACY_WRONG.keys())
def test_discriminator_accuracy_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 8\.1 \(discriminator_accuracy\)") as err:
        gan_practice.check_discriminator_accuracy(wrong)
    assert fragment in str(err.value)


def test_discriminator_accuracy_stub_not_attempted(capsys):
    def stub(r, f):
        raise NotImplementedError("Exercise 8.1: not attempted yet")

    gan_practice.check_discriminator_accuracy(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- Exercise 8.2: frechet_distance_gaussians --------------------------------------------


def _scipy_frechet(mu_a, cov_a, mu_b, cov_b, *, cross_factor=2.0, cross="sqrtm",
                   mean_power=2, square=True):
    """An independent SciPy implementation (tr sqrtm(Σa Σb)), with switches for mistakes."""
    a, b = cov_a.numpy(), cov_b.numpy()
    if cross == "sqrtm":
        c = scipy.linalg.sqrtm(a @ b).real
    elif cross == "entrywise":
        with np.errstate(invalid="ignore"):
            c = np.sqrt(a @ b)
    elif cross == "product of roots":
        c = scipy.linalg.sqrtm(a).real @ scipy.linalg.sqrtm(b).real
    else:
        c = a @ b
    mean = float(np.sum((mu_a.numpy() - mu_b.numpy()) ** 2)) ** (mean_power / 2)
    d2 = mean + np.trace(a) + np.trace(b) - cross_factor * np.trace(c)
    return torch.tensor(d2 if square else np.sqrt(max(d2, 0.0)), dtype=torch.float64)


FRECHET_WRONG = {
    "no factor 2": (lambda *a: _scipy_frechet(*a, cross_factor=1.0), "factor 2"),
    "entry-wise sqrt": (lambda *a: _scipy_frechet(*a, cross="entrywise"), "*matrix* square root"),
    "no square root": (lambda *a: _scipy_frechet(*a, cross="none"), "without it"),
    "product of roots": (lambda *a: _scipy_frechet(*a, cross="product of roots"), "commute"),
    "mean distance not squared": (lambda *a: _scipy_frechet(*a, mean_power=1), "*squared* distance"),
    "no mean term": (lambda *a: _scipy_frechet(*a, mean_power=0) - 1.0, "mean term"),
    "distance, not squared": (lambda *a: _scipy_frechet(*a, square=False), "asks for its square"),
}


def test_frechet_right_answer_passes(capsys):
    gan_practice.check_frechet_distance_gaussians(_scipy_frechet)
    assert "✔ Exercise 8.2 (frechet_distance_gaussians): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", FRECHET_WRONG.values(), ids=FRECHET_WRONG.keys())
def test_frechet_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError,
                       match=r"^Exercise 8\.2 \(frechet_distance_gaussians\)") as err:
        gan_practice.check_frechet_distance_gaussians(wrong)
    assert fragment in str(err.value)


def test_frechet_reference_is_the_closed_form_in_one_dimension():
    # The check compares with sample_quality.gaussian_frechet_distance; in 1-D that must be
    # (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2.
    d2 = sample_quality.gaussian_frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]),
                                           torch.tensor([-0.5]), torch.tensor([[0.25]]))
    assert d2 == pytest.approx(1.5**2 + 1.5**2, rel=1e-12)


# --- Exercise 8.3: conv_transpose_output_size --------------------------------------------

CONV_WRONG = {
    "convolution's rule": (lambda n, k, s, p: (n + 2 * p - k) // s + 1, "ordinary convolution"),
    "padding added": (lambda n, k, s, p: (n - 1) * s + 2 * p + k, "padding is added"),
    "padding once": (lambda n, k, s, p: (n - 1) * s - p + k, "subtract 2p, not p"),
    "n·s": (lambda n, k, s, p: n * s, "n·s alone"),
    "float": (lambda n, k, s, p: (n - 1) * s - 2 * p + k + 0.0, "return an int"),
    "string": (lambda n, k, s, p: str((n - 1) * s - 2 * p + k), "return a Python int"),
    "off by one": (lambda n, k, s, p: (n - 1) * s - 2 * p + k + 1, "expected 14 pixels, got 15"),
}


def test_conv_transpose_right_answer_passes(capsys):
    gan_practice.check_conv_transpose_output_size(lambda n, k, s, p: s * (n - 1) + k - 2 * p)
    assert "✔ Exercise 8.3 (conv_transpose_output_size): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", CONV_WRONG.values(), ids=CONV_WRONG.keys())
def test_conv_transpose_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError,
                       match=r"^Exercise 8\.3 \(conv_transpose_output_size\)") as err:
        gan_practice.check_conv_transpose_output_size(wrong)
    assert fragment in str(err.value)


def test_conv_transpose_stub_not_attempted(capsys):
    def stub(n, k, s, p):
        raise NotImplementedError("Exercise 8.3: not attempted yet")

    gan_practice.check_conv_transpose_output_size(stub)
    assert "not attempted yet" in capsys.readouterr().out
