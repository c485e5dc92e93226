"""Chapter 5's exercise checks: reference answers pass, stubs are "not attempted", and
typical wrong answers are rejected with the message meant for them."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genmodels.exercises import ExerciseError, vae_objective


def _sum(t):
    return t.reshape(t.shape[0], -1).sum(1)


# --- reference answers (written independently of the library) -------------------------


def kl_right(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)


def sample_right(mu, logvar, generator):
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def loss_right(x, x_rec, mu, logvar, sigma):
    d = x[0].numel()
    nll = _sum((x - x_rec) ** 2) / (2 * sigma**2) + d * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    return nll + kl_right(mu, logvar)


def stub(*args):
    raise NotImplementedError("Exercise 5.k: not attempted yet")


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (vae_objective.check_kl_closed_form, kl_right),
        (vae_objective.check_reparameterized_sample, sample_right),
        (vae_objective.check_gaussian_vae_loss, loss_right),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out
    check(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- wrong answers -----------------------------------------------------------------------

KL_WRONG = [
    (lambda mu, lv: -(1 + lv - mu**2 - lv.exp()).sum(1), r"factor −½"),
    (lambda mu, lv: -0.5 * (1 + lv - mu**2 - (0.5 * lv).exp()).sum(1), r"standard deviation σ"),
    (lambda mu, lv: -0.5 * (1 + torch.log(lv) - mu**2 - lv).sum(1), r"log-variance"),
    (lambda mu, lv: -0.5 * (1 + lv - mu**2 - lv.exp()).mean(1), r"averaged over the latent"),
    (lambda mu, lv: -0.5 * (lv - mu**2 - lv.exp()).sum(1), r"constant 1"),
    (lambda mu, lv: 0.5 * (1 + lv - mu**2 - lv.exp()).sum(1), r"never negative"),
    (lambda mu, lv: -0.5 * (1 + lv - mu**2 - lv.exp()).sum(), r"wrong shape"),
]


@pytest.mark.parametrize(("answer", "message"), KL_WRONG)
def test_wrong_kl_answers_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        vae_objective.check_kl_closed_form(answer)


def _sample_with(scale_fn, detach=False, use_global=False, no_mean=False):
    def sample(mu, logvar, generator):
        if use_global:
            eps = torch.randn(mu.shape, dtype=mu.dtype)
        else:
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = (0 if no_mean else mu) + scale_fn(logvar) * eps
        return z.detach() if detach else z

    return sample


SAMPLE_WRONG = [
    (_sample_with(lambda lv: lv.exp()), r"variance σ²"),
    (_sample_with(lambda lv: lv), r"by log σ² itself"),
    (_sample_with(lambda lv: lv.exp() / 2), r"½ goes inside"),
    (_sample_with(lambda lv: torch.ones_like(lv)), r"not scaled"),
    (_sample_with(lambda lv: (0.5 * lv).exp(), detach=True), r"no gradient flows"),
    (_sample_with(lambda lv: (0.5 * lv).exp(), use_global=True), r"generator"),
    (_sample_with(lambda lv: (0.5 * lv).exp(), no_mean=True), r"add the mean"),
    (lambda mu, lv, g: mu.clone(), r"noise ε is missing"),
    (lambda mu, lv, g: torch.normal(mu, (0.5 * lv).exp(), generator=g), r"no gradient flows|∂z/∂"),
]


@pytest.mark.parametrize(("answer", "message"), SAMPLE_WRONG)
def test_wrong_samplers_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        vae_objective.check_reparameterized_sample(answer)


def _loss_variant(alpha_fn, const_fn, kl_sign=1.0, mean_pixels=False):
    def loss(x, x_rec, mu, logvar, sigma):
        sq = (x - x_rec) ** 2
        se = sq.reshape(len(x), -1).mean(1) if mean_pixels else _sum(sq)
        return alpha_fn(sigma) * se + const_fn(sigma) + kl_sign * kl_right(mu, logvar)

    return loss


HALF_LOG = 0.5 * math.log(2 * math.pi)
LOSS_WRONG = [
    (_loss_variant(lambda s: 1 / (2 * s**2), lambda s: 0.0), r"tutorial's α·L1 \+ L2"),
    (_loss_variant(lambda s: 1 / s**2, lambda s: 64 * (math.log(s) + HALF_LOG)), r"½ of α"),
    (_loss_variant(lambda s: 1 / (2 * s), lambda s: 64 * (math.log(s) + HALF_LOG)), r"2σ"),
    (_loss_variant(lambda s: 1 / (2 * s**2), lambda s: 64 * (math.log(s) + HALF_LOG), kl_sign=0.0), r"KL term is missing"),
    (_loss_variant(lambda s: 1 / (2 * s**2), lambda s: 64 * (math.log(s) + HALF_LOG), kl_sign=-1.0), r"KL term has the wrong sign"),
    (_loss_variant(lambda s: 1 / (2 * s**2), lambda s: 64 * (math.log(s) + HALF_LOG), mean_pixels=True), r"averaged the squared error"),
    (lambda *a: -loss_right(*a), r"returned the ELBO"),
]


@pytest.mark.parametrize(("answer", "message"), LOSS_WRONG)
def test_wrong_losses_are_explained(answer, message):
    with pytest.raises(ExerciseError, match=message):
        vae_objective.check_gaussian_vae_loss(answer)


def test_messages_never_contain_solution_code():
    for answer, _ in LOSS_WRONG:
        with pytest.raises(ExerciseError) as info:
            vae_objective.check_gaussian_vae_loss(answer)
        assert not re.search(r"torch\.|def |return ", str(info.value))
