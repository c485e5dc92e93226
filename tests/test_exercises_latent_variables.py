"""Chapter 2's exercise checks: reference answers pass, stubs are "not attempted", and
typical wrong answers are rejected with the message meant for them."""

from __future__ import annotations

import re

import pytest
import torch
from exercise_mutants import is_specific, output_mutants, rejection, rejections

from genmodels.exercises import ExerciseError, latent_variables

# --- reference answers (written independently of the library) -------------------------


def _log_joint(x, weights, means, covariances):
    d = x.shape[1]
    diff = x[:, None, :] - means[None]  # [N, K, D]
    sol = torch.linalg.solve(covariances[None], diff.unsqueeze(-1)).squeeze(-1)
    quad = (diff * sol).sum(-1)
    logdet = torch.logdet(covariances)
    log_norm = -0.5 * (d * torch.log(torch.tensor(2 * torch.pi, dtype=x.dtype)) + logdet)
    return weights.log() + log_norm - 0.5 * quad


def responsibilities_right(x, weights, means, covariances):
    return torch.softmax(_log_joint(x, weights, means, covariances), dim=1)


def posterior_right(x, W, mu, sigma2):
    # Gaussian conditioning in the joint of (z, x): D x D inverse, not the library's L x L one.
    C = W @ W.T + sigma2 * torch.eye(W.shape[0], dtype=W.dtype)
    gain = W.T @ torch.linalg.inv(C)  # [L, D]
    return (x - mu) @ gain.T, torch.eye(W.shape[1], dtype=W.dtype) - gain @ W


def stub(*args):
    raise NotImplementedError("Exercise 2.k: not attempted yet")


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (latent_variables.check_gmm_responsibilities, responsibilities_right),
        (latent_variables.check_ppca_posterior, posterior_right),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out
    check(stub)
    assert "not attempted yet" in capsys.readouterr().out


RESP_WRONG = [
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c) - w.log(), 1), r"mixing weights"),
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c), 0), r"over the points"),
    (lambda x, w, m, c: _log_joint(x, w, m, c).exp(), r"unnormalised joint"),
    (lambda x, w, m, c: torch.log_softmax(_log_joint(x, w, m, c), 1), r"log-responsibilities"),
    (
        lambda x, w, m, c: (e := _log_joint(x, w, m, c).exp()) / e.sum(1, keepdim=True),
        r"NaN|inf|underflow",
    ),
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c), 1).T, r"transposed|shape"),
]


@pytest.mark.parametrize(("answer", "message"), RESP_WRONG)
def test_wrong_responsibilities_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        latent_variables.check_gmm_responsibilities(answer)


def _m(W, s2):
    return W.T @ W + s2 * torch.eye(W.shape[1], dtype=W.dtype)


POSTERIOR_WRONG = [
    (
        lambda x, W, mu, s2: (
            x @ W @ torch.linalg.inv(_m(W, s2)),
            s2 * torch.linalg.inv(_m(W, s2)),
        ),
        r"not centred",
    ),
    (
        lambda x, W, mu, s2: (
            (x - mu) @ W @ torch.linalg.inv(W.T @ W),
            s2 * torch.linalg.inv(_m(W, s2)),
        ),
        r"σ² I term is missing",
    ),
    (
        lambda x, W, mu, s2: (
            (x - mu) @ W @ torch.linalg.inv(_m(W, s2)),
            torch.linalg.inv(_m(W, s2)),
        ),
        r"left out the factor σ²",
    ),
    (
        lambda x, W, mu, s2: ((x - mu) @ W @ torch.linalg.inv(_m(W, s2)), s2 * _m(W, s2)),
        r"not inverted",
    ),
    (lambda x, W, mu, s2: (x - mu) @ W @ torch.linalg.inv(_m(W, s2)), r"pair"),
]


@pytest.mark.parametrize(("answer", "message"), POSTERIOR_WRONG)
def test_wrong_posteriors_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        latent_variables.check_ppca_posterior(answer)


# --- more wrong answers, correct variants, mutants, share of specific messages -----------


def _require_messages(check, table):
    messages = []
    for answer, pattern in table:
        message = rejection(check, answer)
        assert re.search(pattern, message), message
        messages.append(message)
    generic = [m for m in messages if not is_specific(m)]
    assert len(generic) <= 0.2 * len(messages), generic


RESP_MORE_WRONG = [
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c), 1).float(), r"wrong dtype"),
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c), 1) * torch.nan, r"contains NaN"),
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c) + w.log(), 1), r"wrong values|responsibilit"),
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c) / 2, 1), r"wrong values|distance"),
    (lambda x, w, m, c: torch.softmax(_log_joint(x, w, m, c), 1).tolist(), r"expected a torch.Tensor"),
]


def test_more_wrong_responsibilities_are_explained():
    _require_messages(latent_variables.check_gmm_responsibilities, RESP_WRONG + RESP_MORE_WRONG)


POSTERIOR_MORE_WRONG = [
    (lambda x, W, mu, s2: ((x - mu) @ W @ torch.linalg.inv(_m(W, s2)), s2 * torch.linalg.inv(_m(W, s2)).T[:, :1]),
     r"wrong shape"),
    (lambda x, W, mu, s2: ((x - mu) @ W @ torch.linalg.inv(_m(W, s2)) * torch.nan, s2 * torch.linalg.inv(_m(W, s2))),
     r"contains NaN"),
    (lambda x, W, mu, s2: ((x - mu) @ W @ torch.linalg.inv(_m(W, s2)), torch.linalg.inv(_m(W, s2)) / s2),
     r"wrong values|constant multiple|times"),
]


def test_more_wrong_posteriors_are_explained():
    _require_messages(latent_variables.check_ppca_posterior, POSTERIOR_WRONG + POSTERIOR_MORE_WRONG)


def responsibilities_distributions(x, weights, means, covariances):
    log_joint = torch.distributions.MultivariateNormal(means, covariances).log_prob(x[:, None]) + weights.log()
    return (log_joint - torch.logsumexp(log_joint, 1, keepdim=True)).exp()


def responsibilities_loop(x, weights, means, covariances):
    cols = [torch.distributions.MultivariateNormal(means[k], covariances[k]).log_prob(x) + weights[k].log()
            for k in range(weights.shape[0])]
    return torch.softmax(torch.stack(cols, 1), 1)


def posterior_solve(x, W, mu, sigma2):
    M = W.T @ W + sigma2 * torch.eye(W.shape[1], dtype=W.dtype)
    return torch.linalg.solve(M, W.T @ (x - mu).T).T, sigma2 * torch.linalg.inv(M)


def posterior_cholesky(x, W, mu, sigma2):
    L = W.shape[1]
    chol = torch.linalg.cholesky(W.T @ W + sigma2 * torch.eye(L, dtype=W.dtype))
    mean = torch.cholesky_solve(W.T @ (x - mu).T, chol).T
    return mean, sigma2 * torch.cholesky_inverse(chol)


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (latent_variables.check_ppca_posterior, posterior_cholesky),
        (latent_variables.check_gmm_responsibilities, responsibilities_distributions),
        (latent_variables.check_gmm_responsibilities, responsibilities_loop),
        (latent_variables.check_ppca_posterior, posterior_solve),
    ],
)
def test_correct_variants_pass(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


VALUES = ("scaled by 1.01", "negated", "doubled", "shifted by 0.01", "first value perturbed",
          "last value perturbed", "one value NaN", "transposed", "a Python float")


@pytest.mark.parametrize(
    ("check", "reference"),
    [(latent_variables.check_gmm_responsibilities, responsibilities_right),
     (latent_variables.check_ppca_posterior, posterior_right)],
    ids=["2.1", "2.2"],
)
def test_mechanical_mutants_are_rejected(check, reference):
    messages = rejections(check, output_mutants(reference, only=VALUES))
    generic = [m for m in messages.values() if not is_specific(m)]
    assert len(generic) <= 0.2 * len(messages), messages
