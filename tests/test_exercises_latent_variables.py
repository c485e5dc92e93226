"""Chapter 2's exercise checks: reference answers pass, stubs are "not attempted", and
typical wrong answers are rejected with the message meant for them."""

from __future__ import annotations

import pytest
import torch

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
