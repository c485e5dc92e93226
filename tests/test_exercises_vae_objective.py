"""Chapter 5's exercise checks: reference answers pass, stubs are "not attempted", and
typical wrong answers are rejected with the message meant for them."""

from __future__ import annotations

import math
import re

import pytest
import torch
from exercise_mutants import generator_mutants, is_specific, output_mutants, rejections
from torch.distributions import Normal, kl_divergence

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


# --- correct answers written differently ---------------------------------------------------


def kl_distributions(mu, logvar):
    q = Normal(mu, torch.exp(0.5 * logvar))
    return kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(dim=1)


def kl_float64_loop(mu, logvar):
    """A loop over the dimensions, computed in float64 and returned in the inputs' dtype."""
    total = torch.zeros(mu.shape[0], dtype=torch.float64)
    for j in range(mu.shape[1]):
        m, lv = mu[:, j].double(), logvar[:, j].double()
        total = total + 0.5 * (m * m + torch.exp(lv) - 1 - lv)
    return total.to(mu.dtype)


def sample_normal_(mu, logvar, generator):
    eps = torch.empty(mu.shape, dtype=mu.dtype).normal_(generator=generator)
    return eps * (0.5 * logvar).exp() + mu


def sample_torch_normal_noise(mu, logvar, generator):
    eps = torch.normal(torch.zeros_like(mu), torch.ones_like(mu), generator=generator)
    return mu + logvar.mul(0.5).exp() * eps


def loss_distributions(x, x_rec, mu, logvar, sigma):
    nll = -Normal(x_rec, sigma).log_prob(x).flatten(1).sum(1)
    return nll + kl_distributions(mu, logvar)


def loss_float64_by_pixel_mean(x, x_rec, mu, logvar, sigma):
    """The squared error as d times its mean, in float64, cast back."""
    d = x[0].numel()
    se = d * (x.double() - x_rec.double()).pow(2).flatten(1).mean(1)
    nll = se / (2 * sigma**2) + d * math.log(sigma) + d / 2 * math.log(2 * math.pi)
    return (nll + kl_float64_loop(mu, logvar).double()).to(x.dtype)


RIGHT_VARIANTS = {
    "5.1 torch.distributions": (vae_objective.check_kl_closed_form, kl_distributions),
    "5.1 float64 loop": (vae_objective.check_kl_closed_form, kl_float64_loop),
    "5.2 Tensor.normal_": (vae_objective.check_reparameterized_sample, sample_normal_),
    "5.2 torch.normal noise": (vae_objective.check_reparameterized_sample, sample_torch_normal_noise),
    "5.3 torch.distributions": (vae_objective.check_gaussian_vae_loss, loss_distributions),
    "5.3 float64, d times the mean": (vae_objective.check_gaussian_vae_loss, loss_float64_by_pixel_mean),
}


@pytest.mark.parametrize(("check", "answer"), RIGHT_VARIANTS.values(), ids=RIGHT_VARIANTS.keys())
def test_right_answers_written_differently_pass(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


# --- wrong answers of the classes of issue 15 -----------------------------------------------


def _sample_uniform_noise(mu, logvar, generator):
    eps = (torch.rand(mu.shape, generator=generator, dtype=mu.dtype) - 0.5) * math.sqrt(12.0)
    return mu + torch.exp(0.5 * logvar) * eps


NEW_WRONG = {
    "5.1 detached": (vae_objective.check_kl_closed_form, lambda mu, lv: kl_right(mu, lv).detach(), "carries no gradient"),
    "5.1 a list of floats": (vae_objective.check_kl_closed_form, lambda mu, lv: kl_right(mu, lv).tolist(), "expected a torch.Tensor"),
    "5.1 NaN for one example": (
        vae_objective.check_kl_closed_form,
        lambda mu, lv: kl_right(mu, lv) * torch.where(torch.arange(len(mu)) == 0, float("nan"), 1.0),
        "NaN",
    ),
    "5.2 uniform noise of variance 1": (vae_objective.check_reparameterized_sample, _sample_uniform_noise,
                                        "deciles of N(0, 1)"),
    "5.2 a private generator": (
        vae_objective.check_reparameterized_sample,
        lambda mu, lv, g: sample_right(mu, lv, torch.Generator().manual_seed(0)),
        "ignores its `generator` argument",
    ),
    "5.2 global state reseeded": (
        vae_objective.check_reparameterized_sample,
        lambda mu, lv, g: (torch.manual_seed(0), mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, dtype=mu.dtype))[1],
        "ignores its `generator` argument (a fixed seed inside",
    ),
    "5.3 density, then its log": (
        vae_objective.check_gaussian_vae_loss,
        lambda x, r, mu, lv, s: -_sum(torch.log(torch.exp(-((x - r) ** 2) / (2 * s**2)) / (math.sqrt(2 * math.pi) * s)))
        + kl_right(mu, lv),
        "density and then its log",
    ),
    "5.3 a float per example": (
        vae_objective.check_gaussian_vae_loss,
        lambda *a: torch.tensor([float(v) for v in loss_right(*a).detach()], dtype=a[0].dtype),
        "carries no gradient",
    ),
    "5.3 mean over the batch": (vae_objective.check_gaussian_vae_loss, lambda *a: loss_right(*a).mean(), "wrong shape"),
}


@pytest.mark.parametrize(("check", "answer", "fragment"), NEW_WRONG.values(), ids=NEW_WRONG.keys())
def test_new_wrong_answers_get_a_specific_message(check, answer, fragment):
    with pytest.raises(ExerciseError) as err:
        check(answer)
    assert fragment in str(err.value)
    assert is_specific(str(err.value))


# --- mechanical mutants of the reference solutions ------------------------------------------


@pytest.mark.parametrize(
    ("check", "reference"),
    [(vae_objective.check_kl_closed_form, kl_right), (vae_objective.check_gaussian_vae_loss, loss_right)],
    ids=["5.1", "5.3"],
)
def test_output_mutants_are_rejected(check, reference):
    messages = rejections(check, output_mutants(reference))
    generic = [name for name, m in messages.items() if not is_specific(m)]
    assert len(generic) <= len(messages) // 5, generic


def test_sampler_mutants_are_rejected():
    mutants = {**output_mutants(sample_right), **generator_mutants(lambda mu, lv, generator=None: sample_right(mu, lv, generator))}
    messages = rejections(vae_objective.check_reparameterized_sample, mutants)
    generic = [name for name, m in messages.items() if not is_specific(m)]
    assert len(generic) <= len(messages) // 5, generic


def test_a_float32_computation_of_float64_inputs_passes(capsys):
    """Tolerances follow the dtype: float32 arithmetic cast back to float64 is not held to 1e-9."""
    vae_objective.check_kl_closed_form(lambda mu, lv: kl_right(mu.float(), lv.float()).to(mu.dtype))
    assert "correct" in capsys.readouterr().out
