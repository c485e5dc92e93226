"""Chapter 4 checks: independent correct answers pass; typical wrong answers get their message.

(The notebook's own reference solutions are run by ``test_exercises.py``.)
"""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.exercises import ExerciseError, autoencoders

# --- Exercise 4.1: gaussian_kl_to_standard_normal ----------------------------------------


def kl_closed_form(m, s):
    d = m.shape[0]
    return 0.5 * (torch.trace(s) + m @ m - d - torch.logdet(s))


def kl_monte_carlo(m, s, n=100_000, seed=0):
    """KL = E_q[log q(z) − log p(z)], estimated with n draws (independent of the formula)."""
    g = torch.Generator().manual_seed(seed)
    m, s = m.double(), s.double()
    chol = torch.linalg.cholesky(s)
    eps = torch.randn(n, m.shape[0], generator=g, dtype=torch.float64)
    z = m + eps @ chol.T
    d = m.shape[0]
    log_q = -0.5 * (eps**2).sum(1) - torch.log(torch.diagonal(chol)).sum() - 0.5 * d * math.log(2 * math.pi)
    log_p = -0.5 * (z**2).sum(1) - 0.5 * d * math.log(2 * math.pi)
    diff = log_q - log_p
    return diff.mean(), diff.std() / math.sqrt(n)


def test_reference_kl_agrees_with_monte_carlo():
    """The check's reference (torch.distributions) against a Monte-Carlo estimate."""
    m = torch.tensor([2.1, -1.3])
    s = torch.tensor([[4.0, 1.5], [1.5, 2.0]])
    est, se = kl_monte_carlo(m, s)
    ref = autoencoders.reference_gaussian_kl(m, s)
    assert abs(float(ref) - float(est)) < 5 * float(se)


def test_kl_closed_form_passes(capsys):
    autoencoders.check_gaussian_kl_to_standard_normal(kl_closed_form)
    assert "✔ Exercise 4.1 (gaussian_kl_to_standard_normal): correct" in capsys.readouterr().out


def test_kl_stub_is_not_attempted(capsys):
    def stub(m, s):
        raise NotImplementedError

    autoencoders.check_gaussian_kl_to_standard_normal(stub)
    assert "not attempted yet" in capsys.readouterr().out


def _kl(fn):
    return lambda m, s: fn(torch.trace(s), m @ m, torch.logdet(s), m.shape[0], m, s)


KL_WRONG = {
    "no 1/2": (_kl(lambda tr, mm, ld, d, m, s: tr + mm - d - ld), "factor ½"),
    "no -D": (_kl(lambda tr, mm, ld, d, m, s: 0.5 * (tr + mm - ld)), "constant −D is missing"),
    "+log det": (_kl(lambda tr, mm, ld, d, m, s: 0.5 * (tr + mm - d + ld)), "sign of the log-determinant"),
    "no mean term": (_kl(lambda tr, mm, ld, d, m, s: 0.5 * (tr - d - ld)), "mean term is missing"),
    "norm not squared": (_kl(lambda tr, mm, ld, d, m, s: 0.5 * (tr + mm.sqrt() - d - ld)), "squared norm"),
    "diagonal only": (
        _kl(lambda tr, mm, ld, d, m, s: 0.5 * (tr + mm - d - torch.log(torch.diagonal(s)).sum())),
        "off-diagonal",
    ),
    "reverse KL": (
        lambda m, s: 0.5 * (torch.trace(torch.linalg.inv(s)) + m @ torch.linalg.solve(s, m) - m.shape[0] + torch.logdet(s)),
        "reverse divergence",
    ),
    "per-dimension vector": (
        lambda m, s: 0.5 * (torch.diagonal(s) + m**2 - 1 - torch.log(torch.diagonal(s))),
        "wrong shape",
    ),
    "float64 always": (lambda m, s: kl_closed_form(m.double(), s.double()), "wrong dtype"),
}


@pytest.mark.parametrize("wrong, fragment", KL_WRONG.values(), ids=KL_WRONG.keys())
def test_kl_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 4\.1 \(gaussian_kl_to_standard_normal\)") as err:
        autoencoders.check_gaussian_kl_to_standard_normal(wrong)
    assert fragment in str(err.value)


# --- Exercise 4.2: sample_moment_matched --------------------------------------------------


def sample_cholesky(m, s, n, g):
    eps = torch.randn(n, m.shape[0], generator=g, dtype=m.dtype).to(m.device)
    return m + eps @ torch.linalg.cholesky(s).T


def sample_torch_distributions(m, s, n, g):
    """A second, independent correct answer: an eigen-decomposition square root."""
    vals, vecs = torch.linalg.eigh(s)
    root = vecs @ torch.diag(vals.sqrt()) @ vecs.T
    eps = torch.randn(n, m.shape[0], generator=g, dtype=m.dtype).to(m.device)
    return m + eps @ root


@pytest.mark.parametrize("answer", [sample_cholesky, sample_torch_distributions])
def test_sampler_correct_answers_pass(answer, capsys):
    autoencoders.check_sample_moment_matched(answer)
    assert "✔ Exercise 4.2 (sample_moment_matched): correct" in capsys.readouterr().out


def _eps(m, n, g):
    return torch.randn(n, m.shape[0], generator=g, dtype=m.dtype)


SAMPLER_WRONG = {
    "global random state": (
        lambda m, s, n, g: m + torch.randn(n, m.shape[0]) @ torch.linalg.cholesky(s).T,
        "seeded alike gave different samples",
    ),
    "forgot the mean": (lambda m, s, n, g: _eps(m, n, g) @ torch.linalg.cholesky(s).T, "add the mean"),
    "times S": (lambda m, s, n, g: m + _eps(m, n, g) @ s, "S²"),
    "no transform": (lambda m, s, n, g: m + _eps(m, n, g), "covariance I"),
    "diagonal std only": (lambda m, s, n, g: m + _eps(m, n, g) * torch.diagonal(s).sqrt(), "uncorrelated"),
    "L instead of L^T": (lambda m, s, n, g: m + _eps(m, n, g) @ torch.linalg.cholesky(s), "Lᵀ L"),
    "wrong shape": (lambda m, s, n, g: sample_cholesky(m, s, n, g).T, "wrong shape"),
    "float64": (lambda m, s, n, g: sample_cholesky(m.double(), s.double(), n, g), "wrong dtype"),
}


@pytest.mark.parametrize("wrong, fragment", SAMPLER_WRONG.values(), ids=SAMPLER_WRONG.keys())
def test_sampler_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 4\.2 \(sample_moment_matched\)") as err:
        autoencoders.check_sample_moment_matched(wrong)
    assert fragment in str(err.value)


# --- Exercise 4.3: off_data_share ---------------------------------------------------------


def off_data_loop(samples, encodings, radius):
    """An independent correct answer: explicit loops over samples and encodings."""
    off = 0
    for z in samples.tolist():
        nearest = min(math.dist(z, e) for e in encodings.tolist())
        off += nearest > radius
    return torch.tensor(off / len(samples))


def test_reference_off_data_share_by_hand():
    samples = torch.tensor([[0.2], [3.0], [4.9], [-2.0], [1.4]])
    encodings = torch.tensor([[0.0], [1.0], [5.0]])
    # nearest distances 0.2, 2.0, 0.1, 2.0, 0.4 -> two of five exceed 0.5
    assert float(autoencoders.reference_off_data_share(samples, encodings, 0.5)) == pytest.approx(0.4)


def test_off_data_loop_passes(capsys):
    autoencoders.check_off_data_share(off_data_loop)
    assert "✔ Exercise 4.3 (off_data_share): correct" in capsys.readouterr().out


def _d(s, e):
    return torch.cdist(s, e)


OFF_WRONG = {
    "near share": (lambda s, e, r: (_d(s, e).min(1).values <= r).float().mean(), "*near* the data"),
    "squared distance": (lambda s, e, r: ((_d(s, e) ** 2).min(1).values > r).float().mean(), "squared distances"),
    "count": (lambda s, e, r: (_d(s, e).min(1).values > r).float().sum(), "returned a count"),
    "farthest": (lambda s, e, r: (_d(s, e).max(1).values > r).float().mean(), "*farthest*"),
    "mean distance": (lambda s, e, r: (_d(s, e).mean(1) > r).float().mean(), "average distance"),
    "min over samples": (lambda s, e, r: (_d(s, e).min(0).values > r).float().mean(), "minimum over the samples"),
    "per-sample flags": (lambda s, e, r: (_d(s, e).min(1).values > r).float(), "wrong shape"),
}


@pytest.mark.parametrize("wrong, fragment", OFF_WRONG.values(), ids=OFF_WRONG.keys())
def test_off_data_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 4\.3 \(off_data_share\)") as err:
        autoencoders.check_off_data_share(wrong)
    assert fragment in str(err.value)
