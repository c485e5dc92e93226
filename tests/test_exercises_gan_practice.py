"""Chapter 8 checks: right answers written differently pass; wrong ones get their message.

The answers below are written independently of the checks' own ``Mistake`` tables (with
sigmoid probabilities, SciPy's ``sqrtm``, loops, plain integer arithmetic), so a check that
recognises them recognises the mistake, not its own formula. Mechanical mutants of a right
answer (``tests/exercise_mutants.py``) must all be rejected, and at least 8 in 10 of all
rejections must be specific. (The notebook's reference solutions are run by
``test_exercises.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from exercise_mutants import (
    accepts,
    is_specific,
    output_mutants,
    rejected_with,
    rejection,
    rejections,
)
from torch import nn

from genmodels.exercises import gan_practice
from genmodels.measure import sample_quality

_passes, _rejected = accepts, rejected_with


# --- Exercise 8.1: discriminator_accuracy ------------------------------------------------

A_TITLE = "Exercise 8.1 (discriminator_accuracy)"


def _via_probabilities(r, f, *, real_rule=lambda d: d > 0.5, fake_rule=lambda d: d < 0.5,
                       reduce="mean", order=(0, 1)):
    """Accuracies from D = sigmoid(l), with switches for the typical mistakes."""
    pair = [real_rule(torch.sigmoid(r)).to(r.dtype), fake_rule(torch.sigmoid(f)).to(f.dtype)]
    pair = [getattr(t, reduce)() for t in pair]
    return torch.stack([pair[order[0]], pair[order[1]]])


def _accuracy_loop(r, f):
    right_real = sum(1 for value in r.tolist() if value > 0) / len(r)
    right_fake = sum(1 for value in f.tolist() if value < 0) / len(f)
    return torch.tensor([right_real, right_fake], dtype=r.dtype, device=r.device)


def _accuracy_sign(r, f):
    return torch.stack([(torch.sign(r) == 1).to(r.dtype).mean(),
                        (torch.sign(f) == -1).to(f.dtype).mean()])


ACCURACY_RIGHT = {
    "sigmoid probabilities": _via_probabilities,
    "a Python loop": _accuracy_loop,
    "torch.sign": _accuracy_sign,
    "count_nonzero over numel": lambda r, f: torch.stack(
        [torch.count_nonzero(r > 0) / r.numel(), torch.count_nonzero(f < 0) / f.numel()]).to(r.dtype),
}

ACCURACY_WRONG = {
    "threshold 0.5 on logits": (
        lambda r, f: torch.stack([(r > 0.5).to(r.dtype).mean(), (f < 0.5).to(f.dtype).mean()]),
        "the threshold on a logit is 0"),
    "threshold 0.5 on real logits only": (
        lambda r, f: torch.stack([(r > 0.5).to(r.dtype).mean(), (f < 0).to(f.dtype).mean()]),
        "D > ½ means a logit > 0"),
    "fakes called real": (
        lambda r, f: _via_probabilities(r, f, fake_rule=lambda d: d > 0.5), "calls *real*"),
    "order swapped": (lambda r, f: _via_probabilities(r, f, order=(1, 0)), "wrong order"),
    "error rates": (lambda r, f: 1 - _via_probabilities(r, f), "error rates"),
    "ties counted as right": (
        lambda r, f: _via_probabilities(r, f, real_rule=lambda d: d >= 0.5,
                                        fake_rule=lambda d: d <= 0.5), "undecided"),
    "ties right for real only": (
        lambda r, f: torch.stack([(r >= 0).to(r.dtype).mean(), (f < 0).to(f.dtype).mean()]),
        "undecided"),
    "rounded probabilities (a tie goes to fake)": (
        lambda r, f: torch.stack([torch.sigmoid(r).round().eq(1).to(r.dtype).mean(),
                                  torch.sigmoid(f).round().eq(0).to(f.dtype).mean()]),
        "undecided"),
    "counts": (lambda r, f: _via_probabilities(r, f, reduce="sum"), "counted correct samples"),
    "percentages": (lambda r, f: 100 * _via_probabilities(r, f), "percentages"),
    "divided by the other batch's size": (
        lambda r, f: torch.stack([(r > 0).to(r.dtype).sum() / len(f), (f < 0).to(f.dtype).sum() / len(r)]),
        "not fractions in [0, 1]"),
    "pooled, one number": (
        lambda r, f: torch.cat([torch.sigmoid(r) > 0.5, torch.sigmoid(f) < 0.5]).to(r.dtype).mean(),
        "you returned one number"),
    "pooled, twice": (
        lambda r, f: torch.cat([r > 0, f < 0]).to(r.dtype).mean().repeat(2), "pooled accuracy"),
    "a tuple": (lambda r, f: tuple(_via_probabilities(r, f)), "not a tuple or list"),
    "always float32": (lambda r, f: _via_probabilities(r.float(), f.float()), "wrong dtype"),
    "NaN for an empty side": (
        lambda r, f: _via_probabilities(r, f) * (r > 0).any().to(r.dtype) / (r > 0).any().to(r.dtype),
        "NaN"),
}


@pytest.mark.parametrize("answer", ACCURACY_RIGHT.values(), ids=ACCURACY_RIGHT.keys())
def test_discriminator_accuracy_right_answers_pass(answer, capsys):
    _passes(gan_practice.check_discriminator_accuracy, answer, capsys, A_TITLE)


@pytest.mark.parametrize("wrong, fragment", ACCURACY_WRONG.values(), ids=ACCURACY_WRONG.keys())
def test_discriminator_accuracy_wrong_answers(wrong, fragment):
    _rejected(gan_practice.check_discriminator_accuracy, wrong, A_TITLE, fragment)


def test_discriminator_accuracy_stub_not_attempted(capsys):
    def stub(r, f):
        raise NotImplementedError("Exercise 8.1: not attempted yet")

    gan_practice.check_discriminator_accuracy(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- Exercise 8.2: frechet_distance_gaussians --------------------------------------------

F_TITLE = "Exercise 8.2 (frechet_distance_gaussians)"


def _scipy_frechet(mu_a, cov_a, mu_b, cov_b, *, cross_factor=2.0, cross="sqrtm",
                   mean_power=2, square=True):
    """An independent SciPy implementation (tr sqrtm(Σa Σb)), with switches for mistakes."""
    a, b = cov_a.double().numpy(), cov_b.double().numpy()
    if cross == "sqrtm":
        c = scipy.linalg.sqrtm(a @ b).real
    elif cross == "entrywise":
        with np.errstate(invalid="ignore"):
            c = np.sqrt(a @ b)
    elif cross == "product of roots":
        c = scipy.linalg.sqrtm(a).real @ scipy.linalg.sqrtm(b).real
    else:
        c = a @ b
    mean = float(np.sum((mu_a.double().numpy() - mu_b.double().numpy()) ** 2)) ** (mean_power / 2)
    d2 = mean + np.trace(a) + np.trace(b) - cross_factor * np.trace(c)
    return torch.tensor(d2 if square else np.sqrt(max(d2, 0.0)), dtype=mu_a.dtype)


def _sqrt_psd(m, clamp=True):
    eigenvalues, eigenvectors = torch.linalg.eigh(m)
    eigenvalues = eigenvalues.clamp_min(0) if clamp else eigenvalues
    return (eigenvectors * eigenvalues.sqrt()) @ eigenvectors.T


def _eigh_frechet(mu_a, cov_a, mu_b, cov_b):
    root = _sqrt_psd(cov_a)
    return (mu_a - mu_b).square().sum() + torch.trace(cov_a + cov_b - 2 * _sqrt_psd(root @ cov_b @ root))


def _eigvals_frechet(mu_a, cov_a, mu_b, cov_b):
    """Through the (real, non-negative) eigenvalues of the non-symmetric product Σa Σb."""
    eigenvalues = torch.linalg.eigvals(cov_a @ cov_b).real.clamp_min(0)
    return torch.dot(mu_a - mu_b, mu_a - mu_b) + cov_a.trace() + cov_b.trace() - 2 * eigenvalues.sqrt().sum()


def _abs_frechet(mu_a, cov_a, mu_b, cov_b):
    """|λ| instead of clamping: the round-off negatives are tiny either way."""
    def root(m):
        eigenvalues, eigenvectors = torch.linalg.eigh(m)
        return eigenvectors @ torch.diag(eigenvalues.abs().sqrt()) @ eigenvectors.T
    ra = root(cov_a)
    return float(((mu_a - mu_b) ** 2).sum() + torch.trace(cov_a) + torch.trace(cov_b)
                 - 2 * torch.trace(root(ra @ cov_b @ ra)))


FRECHET_RIGHT = {
    "SciPy sqrtm of the product": _scipy_frechet,
    "eigh twice": _eigh_frechet,
    "eigenvalues of the product": _eigvals_frechet,
    "absolute eigenvalues, a Python float": _abs_frechet,
}

FRECHET_WRONG = {
    "no factor 2": (lambda *a: _scipy_frechet(*a, cross_factor=1.0), "factor 2"),
    "entry-wise sqrt": (lambda *a: _scipy_frechet(*a, cross="entrywise"), "*matrix* square root"),
    "no square root": (lambda *a: _scipy_frechet(*a, cross="none"), "without it"),
    "product of roots": (lambda *a: _scipy_frechet(*a, cross="product of roots"), "commute"),
    "entry-wise roots of each covariance": (
        lambda ma, ca, mb, cb: (ma - mb).square().sum()
        + torch.trace(ca + cb - 2 * ca.clamp_min(0).sqrt() @ cb.clamp_min(0).sqrt()),
        "right for commuting"),
    "mean distance not squared": (lambda *a: _scipy_frechet(*a, mean_power=1), "*squared* distance"),
    "no mean term": (lambda *a: _scipy_frechet(*a, mean_power=0) - 1.0, "mean term"),
    "distance, not squared": (lambda *a: _scipy_frechet(*a, square=False), "asks for its square"),
    "eigh of a non-symmetric product": (
        lambda ma, ca, mb, cb: (ma - mb).square().sum()
        + torch.trace(ca + cb - 2 * _sqrt_psd(_sqrt_psd(ca) @ cb)), "itself must be 0"),
    "computed in float32": (
        lambda *a: _eigh_frechet(*(t.float() for t in a)).to(a[0].dtype), "float32"),
    "no clamp (NaN)": (
        lambda ma, ca, mb, cb: (ma - mb).square().sum()
        + torch.trace(ca + cb - 2 * _sqrt_psd(_sqrt_psd(ca, clamp=False) @ cb @ _sqrt_psd(ca, clamp=False),
                                              clamp=False)),
        "raised"),
    "Cholesky factors": (
        lambda ma, ca, mb, cb: (ma - mb).square().sum()
        + torch.trace(ca + cb - 2 * torch.linalg.cholesky(ca) @ torch.linalg.cholesky(cb).T),
        "right for commuting"),
    "complex eigenvalues kept": (
        lambda ma, ca, mb, cb: (ma - mb).square().sum() + ca.trace() + cb.trace()
        - 2 * torch.linalg.eigvals(ca @ cb).sqrt().sum(), "your result is complex"),
    "a vector of terms": (
        lambda ma, ca, mb, cb: torch.stack([(ma - mb).square().sum(), _eigh_frechet(ma, ca, mb, cb)]),
        "wrong shape"),
}


@pytest.mark.parametrize("answer", FRECHET_RIGHT.values(), ids=FRECHET_RIGHT.keys())
def test_frechet_right_answers_pass(answer, capsys):
    _passes(gan_practice.check_frechet_distance_gaussians, answer, capsys, F_TITLE)


@pytest.mark.parametrize("wrong, fragment", FRECHET_WRONG.values(), ids=FRECHET_WRONG.keys())
def test_frechet_wrong_answers(wrong, fragment):
    _rejected(gan_practice.check_frechet_distance_gaussians, wrong, F_TITLE, fragment)


def test_frechet_reference_is_the_closed_form_in_one_dimension():
    # The check compares with sample_quality.gaussian_frechet_distance; in 1-D that must be
    # (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2.
    d2 = sample_quality.gaussian_frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]),
                                                  torch.tensor([-0.5]), torch.tensor([[0.25]]))
    assert d2 == pytest.approx(1.5**2 + 1.5**2, rel=1e-12)


# --- Exercise 8.3: conv_transpose_output_size --------------------------------------------

C_TITLE = "Exercise 8.3 (conv_transpose_output_size)"


def _conv_by_layer(n, k, s, p, o=0):
    layer = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=o)
    return layer(torch.zeros(1, 1, n, n)).shape[-1]


def _conv_by_adjoint(n, k, s, p, o=0):
    """The largest input size the ordinary convolution maps to n, minus what o leaves out."""
    size = (n - 1) * s + k - 2 * p  # the smallest m with floor((m + 2p - k)/s) + 1 = n
    return size + o


CONV_RIGHT = {
    "the formula": lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k + o,
    "another order": lambda n, k, s, p, output_padding=0: k + output_padding + s * (n - 1) - p - p,
    "via the layer itself": _conv_by_layer,
    "via the adjoint": _conv_by_adjoint,
}

CONV_WRONG = {
    "convolution's rule": (lambda n, k, s, p, o=0: (n + 2 * p - k) // s + 1, "ordinary convolution"),
    "padding added": (lambda n, k, s, p, o=0: (n - 1) * s + 2 * p + k + o, "padding is added"),
    "padding once": (lambda n, k, s, p, o=0: (n - 1) * s - p + k + o, "subtract 2p, not p"),
    "n·s": (lambda n, k, s, p, o=0: n * s, "n·s alone"),
    "output padding ignored": (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k, "output padding is missing"),
    "output padding twice": (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k + 2 * o, "one side only"),
    "output padding subtracted": (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k - o, "you subtracted it"),
    "k - 1": (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k - 1 + o, "not + k − 1"),
    "off by two": (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k + o + 2, "off by +2 pixels"),
    "stride 1 special-cased": (
        lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k + o if s > 1 else n + k - 2 * p,
        "exactly in the cases where the stride is 1"),
    "at least the kernel plus one": (
        lambda n, k, s, p, o=0: max((n - 1) * s - 2 * p + k + o, k + 1), "the input has size 1"),
    "float": (lambda n, k, s, p, o=0: (n - 1) * s - 2 * p + k + o + 0.0, "return an int"),
    "string": (lambda n, k, s, p, o=0: str((n - 1) * s - 2 * p + k + o), "return a Python int"),
    "the old signature": (lambda n, k, s, p: (n - 1) * s - 2 * p + k, "raised TypeError"),
}


@pytest.mark.parametrize("answer", CONV_RIGHT.values(), ids=CONV_RIGHT.keys())
def test_conv_transpose_right_answers_pass(answer, capsys):
    _passes(gan_practice.check_conv_transpose_output_size, answer, capsys, C_TITLE)


@pytest.mark.parametrize("wrong, fragment", CONV_WRONG.values(), ids=CONV_WRONG.keys())
def test_conv_transpose_wrong_answers(wrong, fragment):
    _rejected(gan_practice.check_conv_transpose_output_size, wrong, C_TITLE, fragment)


def test_conv_transpose_stub_not_attempted(capsys):
    def stub(n, k, s, p, o=0):
        raise NotImplementedError("Exercise 8.3: not attempted yet")

    gan_practice.check_conv_transpose_output_size(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- mechanical mutants and the share of specific messages --------------------------------


def _int_mutants(reference):
    def make(change):
        return lambda *args: change(reference(*args), *args)
    return {
        "plus one": make(lambda out, *a: out + 1),
        "minus one": make(lambda out, *a: out - 1),
        "doubled": make(lambda out, *a: 2 * out),
        "a float": make(lambda out, *a: float(out)),
        "a tensor of floats": make(lambda out, *a: torch.tensor(float(out))),
        "stride and padding swapped": lambda n, k, s, p, o=0: reference(n, k, p + 1, s - 1, o)
        if s > 1 else reference(n, k, s, p, o) + p,
        "one case wrong": make(lambda out, *a: out + (a[0] == 14)),
    }


CHECKS = {
    "8.1": (gan_practice.check_discriminator_accuracy, _accuracy_loop, ACCURACY_WRONG,
            ("detached",)),  # the accuracy has no gradient: detaching it changes nothing
    "8.2": (gan_practice.check_frechet_distance_gaussians, _eigh_frechet, FRECHET_WRONG,
            ("detached", "a Python float", "transposed")),  # a 0-d value; floats are accepted
}


@pytest.mark.parametrize("number", [*CHECKS, "8.3"])
def test_every_mutant_is_rejected_and_most_messages_are_specific(number):
    if number == "8.3":
        check, wrong = gan_practice.check_conv_transpose_output_size, CONV_WRONG
        mutants = _int_mutants(CONV_RIGHT["the formula"])
    else:
        check, reference, wrong, not_wrong = CHECKS[number]
        mutants = output_mutants(reference, only=tuple(n for n in output_mutants(reference)
                                                       if n not in not_wrong))
    messages = list(rejections(check, mutants).values())
    messages += [rejection(check, answer) for answer, _ in wrong.values()]
    specific = sum(is_specific(m) for m in messages)
    assert specific >= 0.8 * len(messages), [m for m in messages if not is_specific(m)]
