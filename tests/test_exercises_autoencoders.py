"""Chapter 4 checks: independent correct answers pass; typical wrong answers get their message.

(The notebook's own reference solutions are run by ``test_exercises.py``.)
"""

from __future__ import annotations

import math

import pytest
import torch
from exercise_mutants import generator_mutants, is_specific, output_mutants, rejections

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
        "draws from the global random state",
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


# --- correct variants, new wrong answers and mechanical mutants ---------------------------


def kl_cholesky(m, s):
    """log det S from the Cholesky factor, the trace by a sum of the diagonal."""
    chol = torch.linalg.cholesky(s)
    return 0.5 * (torch.diagonal(s).sum() + (m**2).sum() - m.shape[0] - 2 * torch.log(torch.diagonal(chol)).sum())


def kl_eigenvalues_float64(m, s):
    """Through the eigenvalues, in float64, cast back."""
    lam = torch.linalg.eigvalsh(s.double())
    return (0.5 * (lam.sum() + m.double().dot(m.double()) - m.shape[0] - lam.log().sum())).to(m.dtype)


def sample_columns(m, s, n, g):
    """Noise as columns: L @ eps.T, transposed back (another operation order)."""
    chol = torch.linalg.cholesky(s)
    eps = torch.randn(n, m.shape[0], generator=g, dtype=m.dtype).to(m.device)
    return (chol @ eps.T).T + m


def off_data_broadcast(samples, encodings, radius):
    nearest = (samples[:, None, :] - encodings[None, :, :]).norm(dim=-1).min(dim=1).values
    return (nearest > radius).to(samples.dtype).mean()


def off_data_squared(samples, encodings, radius):
    """Squared distances against the squared radius (no square root)."""
    squared = ((samples[:, None, :] - encodings[None, :, :]) ** 2).sum(-1)
    return (squared.min(dim=1).values > radius**2).double().mean()


RIGHT_VARIANTS = {
    "4.1 Cholesky": (autoencoders.check_gaussian_kl_to_standard_normal, kl_cholesky),
    "4.1 eigenvalues in float64": (autoencoders.check_gaussian_kl_to_standard_normal, kl_eigenvalues_float64),
    "4.2 noise as columns": (autoencoders.check_sample_moment_matched, sample_columns),
    "4.3 broadcasting": (autoencoders.check_off_data_share, off_data_broadcast),
    "4.3 squared distances": (autoencoders.check_off_data_share, off_data_squared),
}


@pytest.mark.parametrize(("check", "answer"), RIGHT_VARIANTS.values(), ids=RIGHT_VARIANTS.keys())
def test_right_answers_written_differently_pass(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


def _uniform_noise(m, s, n, g):
    eps = (torch.rand(n, m.shape[0], generator=g, dtype=m.dtype) - 0.5) * math.sqrt(12.0)
    return m + eps @ torch.linalg.cholesky(s).T


NEW_WRONG = {
    "4.1 log of the determinant": (
        autoencoders.check_gaussian_kl_to_standard_normal,
        lambda m, s: 0.5 * (torch.trace(s) + m @ m - m.shape[0] - torch.log(torch.det(s))),
        "log of the determinant",
    ),
    "4.1 detached": (
        autoencoders.check_gaussian_kl_to_standard_normal,
        lambda m, s: kl_closed_form(m, s).detach(),
        "carries no gradient",
    ),
    "4.1 a Python float": (
        autoencoders.check_gaussian_kl_to_standard_normal,
        lambda m, s: kl_closed_form(m, s).detach().item(),
        "not a tensor",
    ),
    "4.2 uniform noise of variance 1": (autoencoders.check_sample_moment_matched, _uniform_noise, "deciles of N(0, 1)"),
    "4.2 a private generator": (
        autoencoders.check_sample_moment_matched,
        lambda m, s, n, g: sample_cholesky(m, s, n, torch.Generator().manual_seed(0)),
        "ignores its `generator` argument",
    ),
    "4.3 at least the radius": (
        autoencoders.check_off_data_share,
        lambda s, e, r: (_d(s, e).min(1).values >= r).float().mean(),
        "strict inequality",
    ),
}


@pytest.mark.parametrize(("check", "answer", "fragment"), NEW_WRONG.values(), ids=NEW_WRONG.keys())
def test_new_wrong_answers_get_a_specific_message(check, answer, fragment):
    with pytest.raises(ExerciseError) as err:
        check(answer)
    assert fragment in str(err.value)
    assert is_specific(str(err.value))


@pytest.mark.parametrize(
    ("check", "reference"),
    [(autoencoders.check_gaussian_kl_to_standard_normal, kl_closed_form),
     (autoencoders.check_off_data_share, off_data_broadcast)],
    ids=["4.1", "4.3"],
)
def test_output_mutants_are_rejected(check, reference):
    mutants = output_mutants(reference)
    del mutants["transposed"]  # a 0-d answer: transposing changes nothing
    if check is autoencoders.check_off_data_share:
        del mutants["detached"]  # a share of samples is a count: it has no gradient to keep
        del mutants["a Python float"]  # a float is accepted for a one-number answer
    messages = rejections(check, mutants)
    generic = [name for name, m in messages.items() if not is_specific(m)]
    assert len(generic) <= len(messages) // 5, generic


def test_sampler_mutants_are_rejected():
    mutants = {**output_mutants(sample_cholesky, only=("scaled by 1.01", "shifted by 0.01", "negated", "transposed",
                                                       "first value perturbed", "one value NaN", "a Python float")),
               **generator_mutants(lambda m, s, n, generator=None: sample_cholesky(m, s, n, generator))}
    messages = rejections(autoencoders.check_sample_moment_matched, mutants)
    generic = [name for name, m in messages.items() if not is_specific(m)]
    assert len(generic) <= len(messages) // 5, generic
