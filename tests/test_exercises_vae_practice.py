"""Chapter 6 checks: a right answer passes; typical wrong answers get their message.

The tables list typical wrong answers of each code exercise and a fragment of the message
each must produce. (The notebook's own reference solutions and the student edition's
stubs are run by ``test_exercises.py``.)
"""

from __future__ import annotations

import math

import pytest
import torch
from exercise_mutants import is_specific, output_mutants, rejections
from torch.distributions import Bernoulli, Normal, kl_divergence

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
    "naive log-mean-exp": (lambda lw: lw.exp().mean(0).log(), "you exponentiated the log-weights"),
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


# --- Exercise 6.6: vae_training_step (build it yourself) -------------------------------


def make_step(zero_grad="start", scale="sigma", sample="reparam", kl_sign=1.0, rec="bce_logits",
              batch="mean", step=True, generator_use="given", kl_form="closed", backwards=1,
              loss_kind="neg_elbo", eps_shape="full", add_mean=True, own_optimizer=False):
    """A VAE training step, right with the defaults; each option makes one classic mistake."""
    import torch.nn.functional as F

    def vae_training_step(model, optimizer, x, generator):
        if own_optimizer:
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        if zero_grad == "start":
            optimizer.zero_grad()
        mu, logvar = model.encode(x)
        shape = {"full": mu.shape, "per_unit": (1, mu.shape[1]), "per_image": (mu.shape[0], 1)}[eps_shape]
        g = {"given": generator, "global": None, "private": torch.Generator().manual_seed(0)}[generator_use]
        eps = torch.randn(shape, generator=g, dtype=mu.dtype).to(mu.device)
        s = {"sigma": torch.exp(0.5 * logvar), "logvar": logvar, "var": logvar.exp(),
             "one": torch.ones_like(logvar)}[scale]
        centre = mu if add_mean else 0
        if sample == "reparam":
            z = centre + s * eps
        elif sample == "detach":
            z = (centre + s * eps).detach()
        elif sample == "no_grad":
            with torch.no_grad():
                z = centre + s * eps
        elif sample == "torch.normal":
            z = torch.normal(mu, s, generator=g)
        else:  # "mu": no noise at all
            z = mu
        logits = model.decode(z)
        if rec == "bce_logits":
            per = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        elif rec == "sigmoid_bce":
            per = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
        elif rec == "mse_sum":
            per = (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1)
        elif rec == "mse_mean":
            per = F.mse_loss(torch.sigmoid(logits), x).expand(x.shape[0])
        elif rec == "default_mean":
            per = F.binary_cross_entropy_with_logits(logits, x).expand(x.shape[0])
        else:  # "log_sigmoid_by_hand"
            p = torch.sigmoid(logits)
            per = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
        if kl_form == "closed":
            kl_per = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        elif kl_form == "std":
            kl_per = -0.5 * (1 + logvar - mu.pow(2) - torch.exp(0.5 * logvar)).sum(1)
        else:  # "monte carlo"
            sd = torch.exp(0.5 * logvar)
            kl_per = (Normal(mu, sd).log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(1)
        reconstruction, kl = (per.mean(), kl_per.mean()) if batch == "mean" else (per.sum(), kl_per.sum())
        loss = reconstruction + kl_sign * kl
        if loss_kind == "elbo":
            loss = -loss
        for _ in range(backwards):
            loss.backward(retain_graph=True)
        if step:
            optimizer.step()
        if zero_grad == "end":
            optimizer.zero_grad()
        return {"loss": loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}

    return vae_training_step


def step_with_distributions(model, optimizer, x, generator):
    """torch.distributions, ε from Tensor.normal_, zero_grad after the step, floats returned."""
    mu, logvar = model.encode(x)
    std = torch.exp(logvar / 2)
    eps = torch.empty(mu.shape, dtype=mu.dtype).normal_(generator=generator).to(mu.device)
    z = mu + std * eps
    likelihood = Bernoulli(logits=model.decode(z), validate_args=False)
    reconstruction = -likelihood.log_prob(x).sum(dim=(1, 2, 3)).mean()
    kl = kl_divergence(Normal(mu, std), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1).mean()
    loss = reconstruction + kl
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {"loss": loss.item(), "reconstruction": reconstruction.item(), "kl": kl.item()}


def step_logsigmoid_sum_then_divide(model, optimizer, x, generator):
    """The log-sigmoid form, sums divided by B, ε from torch.normal, tensors with graphs returned."""
    import torch.nn.functional as F

    optimizer.zero_grad(set_to_none=False)
    b = x.shape[0]
    mu, logvar = model.encode(x)
    eps = torch.normal(0.0, 1.0, size=tuple(mu.shape), generator=generator).to(mu)
    z = eps * (0.5 * logvar).exp() + mu
    logits = model.decode(z)
    log_px = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)
    rec_sum = -log_px.sum()
    kl_sum = 0.5 * (mu * mu + torch.exp(logvar) - logvar - 1).sum()
    loss = (rec_sum + kl_sum) / b
    loss.backward()
    optimizer.step()
    return {"loss": loss, "reconstruction": rec_sum / b, "kl": kl_sum / b}


STEP_RIGHT = {"torch.distributions, zero_grad at the end": step_with_distributions,
              "log-sigmoid by hand, sums over the batch divided by B": step_logsigmoid_sum_then_divide}


@pytest.mark.parametrize("answer", STEP_RIGHT.values(), ids=STEP_RIGHT.keys())
def test_vae_training_step_right_answers_pass(answer, capsys):
    vae_practice.check_vae_training_step(answer)
    assert "✔ Exercise 6.6 (vae_training_step): correct" in capsys.readouterr().out


STEP_WRONG = {
    "zero_grad missing": (make_step(zero_grad=None), "gradients accumulate"),
    "logvar as the standard deviation": (make_step(scale="logvar"), "log-variance used as a standard deviation"),
    "variance as the standard deviation": (make_step(scale="var"), "scaled ε by the variance"),
    "noise not scaled": (make_step(scale="one"), "the noise ε is not scaled"),
    "z detached": (make_step(sample="detach"), "no gradient reaches the encoder through z"),
    "z under no_grad": (make_step(sample="no_grad"), "no gradient reaches the encoder through z"),
    "z from torch.normal(mu, std)": (make_step(sample="torch.normal"), "no gradient reaches the encoder through z"),
    "no noise (an autoencoder)": (make_step(sample="mu"), "you decoded μ itself"),
    "mean not added": (make_step(add_mean=False), "not centred at μ"),
    "one eps for every image": (make_step(eps_shape="per_unit"), "every image got the same ε"),
    "one eps for every unit": (make_step(eps_shape="per_image"), "every latent unit got the same ε"),
    "KL sign flipped": (make_step(kl_sign=-1.0), "the loss subtracts the KL term"),
    "KL missing": (make_step(kl_sign=0.0), "the KL term is missing"),
    "KL with the standard deviation": (make_step(kl_form="std"), "standard deviation σ = exp(log σ² / 2) where the variance"),
    "KL by Monte Carlo": (make_step(kl_form="monte carlo"), "one-sample estimate"),
    "summed over the batch": (make_step(batch="sum"), "summed over the 128 images"),
    "squared error": (make_step(rec="mse_sum"), "squared error"),
    "mean squared error": (make_step(rec="mse_mean"), "mean squared error"),
    "default reduction (mean over pixels)": (make_step(rec="default_mean"), "784 times too small"),
    "sigmoid then BCE": (make_step(rec="sigmoid_bce"), "clamps its log(0) at −100"),
    "log of sigmoid by hand": (make_step(rec="log_sigmoid_by_hand"), "out['reconstruction'] is inf"),
    "optimizer not stepped": (make_step(step=False), "the optimizer was not stepped"),
    "ELBO maximised the wrong way": (make_step(loss_kind="elbo"), "the loss is the ELBO"),
    "backward twice": (make_step(backwards=2), "twice as far"),
    "an optimizer of its own": (make_step(own_optimizer=True), "did not move by one step of the given optimizer"),
    "global random state": (make_step(generator_use="global"), "draws from the global random state"),
    "a private generator": (make_step(generator_use="private"), "ignores its `generator` argument"),
}


@pytest.mark.parametrize("wrong, fragment", STEP_WRONG.values(), ids=STEP_WRONG.keys())
def test_vae_training_step_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 6\.6 \(vae_training_step\)") as err:
        vae_practice.check_vae_training_step(wrong)
    assert fragment in str(err.value)
    assert is_specific(str(err.value))


def _step_output_mutant(change):
    reference = make_step()

    def mutant(model, optimizer, x, generator):
        out = reference(model, optimizer, x, generator)
        return {k: change(k, v) for k, v in out.items()}

    return mutant


STEP_MUTANTS = {
    "every value scaled by 1.01": _step_output_mutant(lambda k, v: v * 1.01),
    "every value negated": _step_output_mutant(lambda k, v: -v),
    "loss shifted by 0.01": _step_output_mutant(lambda k, v: v + 0.01 if k == "loss" else v),
    "kl shifted by 0.01": _step_output_mutant(lambda k, v: v + 0.01 if k == "kl" else v),
    "reconstruction doubled": _step_output_mutant(lambda k, v: 2 * v if k == "reconstruction" else v),
    "kl NaN": _step_output_mutant(lambda k, v: v * float("nan") if k == "kl" else v),
    "a key missing": _step_output_mutant(lambda k, v: v),
    "values as lists": _step_output_mutant(lambda k, v: [float(v)]),
    "values per image": _step_output_mutant(lambda k, v: v.expand(4)),
}


def _drop_kl(model, optimizer, x, generator):
    out = make_step()(model, optimizer, x, generator)
    del out["kl"]
    return out


STEP_MUTANTS["a key missing"] = _drop_kl


def _ignore_generator(model, optimizer, x, generator):
    return make_step()(model, optimizer, x, None)


def _reseeded(model, optimizer, x, generator):
    torch.manual_seed(0)
    return make_step(generator_use="global")(model, optimizer, x, generator)


STEP_MUTANTS["generator ignored"] = _ignore_generator
STEP_MUTANTS["the global state reseeded"] = _reseeded


def test_vae_training_step_mutants_are_rejected_specifically():
    messages = rejections(vae_practice.check_vae_training_step, STEP_MUTANTS)
    assert len(messages) == len(STEP_MUTANTS)
    generic = {k: m for k, m in messages.items() if not is_specific(m)}
    assert not generic, generic


# --- correct variants, new wrong answers and mechanical mutants of 6.1-6.3 ----------------


def _kl_distributions(mu, lv):
    q = Normal(mu, torch.exp(0.5 * lv))
    return kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).mean(dim=0)


def _kl_loop(mu, lv):
    """One image at a time, summed and divided by N."""
    total = torch.zeros_like(mu[0])
    for m, v in zip(mu, lv, strict=True):
        total = total + 0.5 * (m * m + v.exp() - v - 1)
    return total / mu.shape[0]


def _activity_loop(mu):
    """Two passes by hand, accumulated in float64, returned in the dtype of mu."""
    m = mu.double()
    mean = m.sum(0) / m.shape[0]
    return ((m - mean) ** 2).sum(0).div(m.shape[0] - 1).to(mu.dtype)


def _iwae_loop(lw):
    """One image at a time with torch.logsumexp."""
    return torch.stack([torch.logsumexp(lw[:, b], 0) for b in range(lw.shape[1])]) - math.log(lw.shape[0])


def _iwae_float64(lw):
    return (torch.logsumexp(lw.double(), 0) - math.log(lw.shape[0])).to(lw.dtype)


RIGHT_61_63 = {
    "6.1 torch.distributions": (vae_practice.check_kl_per_latent_dimension, _kl_distributions),
    "6.1 a loop over images": (vae_practice.check_kl_per_latent_dimension, _kl_loop),
    "6.2 torch.var": (vae_practice.check_activity_per_unit, lambda mu: torch.var(mu, dim=0, correction=1)),
    "6.2 two passes in float64": (vae_practice.check_activity_per_unit, _activity_loop),
    "6.3 a loop over images": (vae_practice.check_iwae_from_log_weights, _iwae_loop),
    "6.3 float64 then cast": (vae_practice.check_iwae_from_log_weights, _iwae_float64),
}


@pytest.mark.parametrize(("check", "answer"), RIGHT_61_63.values(), ids=RIGHT_61_63.keys())
def test_right_answers_written_differently_pass(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


NEW_WRONG_61_63 = {
    "6.2 one-pass variance": (
        vae_practice.check_activity_per_unit,
        lambda mu: (mu.pow(2).mean(0) - mu.mean(0).pow(2)) * mu.shape[0] / (mu.shape[0] - 1),
        "a variance does not change under a shift",
    ),
    "6.3 exp overflows": (
        vae_practice.check_iwae_from_log_weights,
        lambda lw: torch.log(lw.exp().sum(0)) - math.log(lw.shape[0]),
        "you exponentiated the log-weights",
    ),
    "6.3 NaN for k = 1": (
        vae_practice.check_iwae_from_log_weights,
        lambda lw: _iwae_right(lw) * (float("nan") if lw.shape[0] == 1 else 1.0),
        "NaN",
    ),
}


@pytest.mark.parametrize(("check", "answer", "fragment"), NEW_WRONG_61_63.values(), ids=NEW_WRONG_61_63.keys())
def test_new_wrong_answers_get_a_specific_message(check, answer, fragment):
    with pytest.raises(ExerciseError) as err:
        check(answer)
    assert fragment in str(err.value)
    assert is_specific(str(err.value))


@pytest.mark.parametrize(
    ("check", "reference"),
    [(vae_practice.check_kl_per_latent_dimension, _kl_right),
     (vae_practice.check_activity_per_unit, _activity_right),
     (vae_practice.check_iwae_from_log_weights, _iwae_right)],
    ids=["6.1", "6.2", "6.3"],
)
def test_output_mutants_are_rejected(check, reference):
    mutants = output_mutants(reference)
    if check is not vae_practice.check_iwae_from_log_weights:
        del mutants["detached"]  # 6.1 and 6.2 are diagnostics of a trained model, not losses
    messages = rejections(check, mutants)
    generic = [name for name, m in messages.items() if not is_specific(m)]
    assert len(generic) <= len(messages) // 5, generic


def test_vae_training_step_that_converts_the_dtype_is_told_so():
    reference = make_step()

    def converts(model, optimizer, x, generator):
        return reference(model, optimizer, x.float(), generator)

    with pytest.raises(ExerciseError, match="do not convert x to another dtype"):
        vae_practice.check_vae_training_step(converts)
