"""Chapter 7 checks: right answers written differently pass; wrong ones get their message.

The wrong answers below are written independently of the checks' own ``Mistake`` tables
(with ``binary_cross_entropy`` on probabilities, masks as weights, NumPy), so a check that
recognises them recognises the mistake, not its own formula. Mechanical mutants of a right
answer (``tests/exercise_mutants.py``) must all be rejected, and at least 8 in 10 of all
rejections must be specific. (The notebook's reference solutions are run by
``test_exercises.py``.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from exercise_mutants import (
    accepts,
    is_specific,
    output_mutants,
    rejected_with,
    rejection,
    rejections,
)
from scipy.spatial.distance import jensenshannon

from genmodels import gan
from genmodels.exercises import gan_objective

bce = F.binary_cross_entropy
bcewl = F.binary_cross_entropy_with_logits
sig = torch.sigmoid
sp = F.softplus


_passes, _rejected = accepts, rejected_with


# --- Exercise 7.1: discriminator_bce(logits, is_real) ----------------------------------

D_TITLE = "Exercise 7.1 (discriminator_bce)"


def _d_reference(logits, is_real):
    return sp(-logits[is_real]).mean() + sp(logits[~is_real]).mean()


def _d_weights(logits, is_real):
    w = is_real.to(logits.dtype)
    return (w * sp(-logits)).sum() / w.sum() + ((1 - w) * sp(logits)).sum() / (1 - w).sum()


def _d_loop(logits, is_real):
    real, fake = [], []
    for value, flag in zip(logits, is_real, strict=True):
        (real if flag else fake).append(-F.logsigmoid(value) if flag else -F.logsigmoid(-value))
    return torch.stack(real).mean() + torch.stack(fake).mean()


def _d_bernoulli(logits, is_real):
    log_p = torch.distributions.Bernoulli(logits=logits).log_prob(is_real.to(logits.dtype))
    return -log_p[is_real].mean() - log_p[~is_real].mean()


def _d_logaddexp(logits, is_real):
    zero = torch.zeros_like(logits)
    losses = torch.where(is_real, torch.logaddexp(zero, -logits), torch.logaddexp(zero, logits))
    return losses[is_real].mean() + losses[~is_real].mean()


def _d_bcewl(logits, is_real):
    real, fake = logits[is_real], logits[~is_real]
    return bcewl(real, torch.ones_like(real)) + bcewl(fake, torch.zeros_like(fake))


DISCRIMINATOR_RIGHT = {
    "softplus with the mask": _d_reference,
    "binary_cross_entropy_with_logits per kind": _d_bcewl,
    "mask as weights": _d_weights,
    "a loop over the samples, logsigmoid": _d_loop,
    "torch.distributions.Bernoulli": _d_bernoulli,
    "logaddexp": _d_logaddexp,
}


def _stable_where(t):
    """softplus(t) with a torch.where: the value is stable, the gradient is NaN at large |t|."""
    return torch.where(t > 0, t + torch.log1p(torch.exp(-t)), torch.log1p(torch.exp(t)))


DISCRIMINATOR_WRONG = {
    "value instead of loss": (
        lambda x, m: torch.log(sig(x[m])).mean() + torch.log1p(-sig(x[~m])).mean(), "sign error"),
    "labels swapped": (
        lambda x, m: bcewl(x[m], torch.zeros_like(x[m])) + bcewl(x[~m], torch.ones_like(x[~m])),
        "labels are swapped"),
    "real term only": (lambda x, m: bcewl(x[m], torch.ones_like(x[m])), "only the real-image term"),
    "pooled mean": (lambda x, m: bcewl(x, m.to(x.dtype)), "averaged over the whole batch"),
    "twice the pooled mean": (lambda x, m: 2 * bcewl(x, m.to(x.dtype)), "half real, half fake"),
    "reals assumed first": (
        lambda x, m: sp(-x[: int(m.sum())]).mean() + sp(x[int(m.sum()):]).mean(),
        "first n samples"),
    "sum over samples": (
        lambda x, m: bcewl(x[m], torch.ones_like(x[m]), reduction="sum")
        + bcewl(x[~m], torch.zeros_like(x[~m]), reduction="sum"), "summed over the samples"),
    "mask turned into indices": (
        lambda x, m: sp(-x[m.long()]).mean() + sp(x[(~m).long()]).mean(), "batch is reversed"),
    "divided by the batch size": (
        lambda x, m: (m * sp(-x)).sum() / len(x) + (~m * sp(x)).sum() / (~m).sum(),
        "every real sample is repeated twice"),
    "one-sided smoothing 0.9": (
        lambda x, m: bcewl(x[m], torch.full_like(x[m], 0.9)) + sp(x[~m]).mean(),
        "one-sided label smoothing"),
    "smoothing 0.8": (
        lambda x, m: bcewl(x[m], torch.full_like(x[m], 0.8)) + sp(x[~m]).mean(),
        "Check the targets"),
    # numerically unstable forms, right at moderate logits
    "binary_cross_entropy on sigmoid": (
        lambda x, m: bce(sig(x[m]), torch.ones_like(x[m])) + bce(sig(x[~m]), torch.zeros_like(x[~m])),
        "not computed stably"),
    "log of sigmoid": (
        lambda x, m: -torch.log(sig(x[m])).mean() - torch.log(1 - sig(x[~m])).mean(),
        "not computed stably"),
    "epsilon inside the log": (
        lambda x, m: -torch.log(sig(x[m]) + 1e-7).mean() - torch.log(1 - sig(x[~m]) + 1e-7).mean(),
        "not computed stably"),
    "log1p of exp": (
        lambda x, m: torch.log1p(torch.exp(-x[m])).mean() + torch.log1p(torch.exp(x[~m])).mean(),
        "not computed stably"),
    "logits clamped to ±50": (
        lambda x, m: sp(-x[m].clamp(-50, 50)).mean() + sp(x[~m].clamp(-50, 50)).mean(),
        "not computed stably"),
    "torch.where softplus (NaN gradient)": (
        lambda x, m: _stable_where(-x[m]).mean() + _stable_where(x[~m]).mean(),
        "gradient with respect to logits is NaN"),
    # losses that cannot be trained
    "a Python float": (lambda x, m: _d_reference(x, m).item(), "not a tensor"),
    "a constant": (lambda x, m: 0.7, "raising every real sample's logit by 1"),
    "detached": (lambda x, m: _d_reference(x, m).detach(), "carries no gradient"),
    "torch.tensor of the value": (
        lambda x, m: torch.tensor(float(_d_reference(x, m).detach()), requires_grad=True),
        "carries no gradient"),
    "fake part detached": (
        lambda x, m: sp(-x[m]).mean() + sp(x[~m].detach()).mean(),
        "sends no gradient to the logits of the fake samples"),
    # types and shapes
    "per-sample losses": (
        lambda x, m: torch.where(m, sp(-x), sp(x)), "return a single number"),
    "float64 result": (lambda x, m: _d_reference(x, m).double(), "wrong dtype"),
    "NaN in the result": (
        lambda x, m: _d_reference(x, m) + (x[m] == 0).any() * float("nan"), "NaN"),
}


@pytest.mark.parametrize("answer", DISCRIMINATOR_RIGHT.values(), ids=DISCRIMINATOR_RIGHT.keys())
def test_discriminator_bce_right_answers_pass(answer, capsys):
    _passes(gan_objective.check_discriminator_bce, answer, capsys, D_TITLE)


@pytest.mark.parametrize("wrong, fragment", DISCRIMINATOR_WRONG.values(),
                         ids=DISCRIMINATOR_WRONG.keys())
def test_discriminator_bce_wrong_answers(wrong, fragment):
    _rejected(gan_objective.check_discriminator_bce, wrong, D_TITLE, fragment)


def test_discriminator_bce_stub_not_attempted(capsys):
    def stub(logits, is_real):
        raise NotImplementedError("Exercise 7.1: not attempted yet")

    gan_objective.check_discriminator_bce(stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_discriminator_bce_unstable_message_locates_the_logits():
    message = rejection(gan_objective.check_discriminator_bce,
                        DISCRIMINATOR_WRONG["binary_cross_entropy on sigmoid"][0])
    assert "one real logit at a time" in message and "-200" in message


# --- Exercise 7.2: generator_loss_flip_labels ------------------------------------------

G_TITLE = "Exercise 7.2 (generator_loss_flip_labels)"

GENERATOR_RIGHT = {
    "binary_cross_entropy_with_logits, target 1": lambda f: bcewl(f, torch.ones_like(f)),
    "minus logsigmoid": lambda f: -F.logsigmoid(f).mean(),
    "Bernoulli log-probability of 1":
        lambda f: -torch.distributions.Bernoulli(logits=f).log_prob(torch.ones_like(f)).mean(),
    "logaddexp, summed then divided":
        lambda f: torch.logaddexp(torch.zeros_like(f), -f).sum() / f.numel(),
}

GENERATOR_WRONG = {
    "saturating loss": (lambda f: torch.log1p(-sig(f)).mean(), "saturating loss"),
    "log D without minus": (lambda f: F.logsigmoid(f).mean(), "sign error"),
    "target 0": (lambda f: bcewl(f, torch.zeros_like(f)), "labels are not flipped"),
    "sum": (lambda f: bcewl(f, torch.ones_like(f), reduction="sum"), "summed over the batch"),
    "smoothed target 0.9": (lambda f: bcewl(f, torch.full_like(f, 0.9)), "smoothed target"),
    "smoothed target 0.8": (lambda f: bcewl(f, torch.full_like(f, 0.8)), "Check the target"),
    "logits as probabilities": (lambda f: -torch.log(f).mean(), "NaN"),
    "log of sigmoid": (lambda f: -torch.log(sig(f)).mean(), "not computed stably"),
    "binary_cross_entropy on sigmoid": (lambda f: bce(sig(f), torch.ones_like(f)), "not computed stably"),
    "clamped probability": (lambda f: -torch.log(sig(f).clamp_min(1e-7)).mean(), "not computed stably"),
    "torch.where softplus (NaN gradient)": (
        lambda f: _stable_where(-f).mean(), "gradient with respect to fake_logits is NaN"),
    "detached": (lambda f: F.softplus(-f).mean().detach(), "carries no gradient"),
    "a Python float": (lambda f: F.softplus(-f).mean().item(), "not a tensor"),
    "mean of the first half twice": (
        lambda f: F.softplus(-f).mean() * (1 + 0 * f.numel()) if f.numel() < 2
        else F.softplus(-f[: f.numel() // 2 + 1]).mean(), "repeated twice"),
}


@pytest.mark.parametrize("answer", GENERATOR_RIGHT.values(), ids=GENERATOR_RIGHT.keys())
def test_generator_loss_right_answers_pass(answer, capsys):
    _passes(gan_objective.check_generator_loss_flip_labels, answer, capsys, G_TITLE)


@pytest.mark.parametrize("wrong, fragment", GENERATOR_WRONG.values(), ids=GENERATOR_WRONG.keys())
def test_generator_loss_wrong_answers(wrong, fragment):
    _rejected(gan_objective.check_generator_loss_flip_labels, wrong, G_TITLE, fragment)


# --- Exercise 7.3: jensen_shannon_divergence ------------------------------------------

J_TITLE = "Exercise 7.3 (jensen_shannon_divergence)"


def _numpy_jsd(p, q, w=0.5, *, weights=None, mix=None, base=math.e, nan_at_zero=False):
    """An independent NumPy implementation, with switches for the typical mistakes:
    ``weights`` of the two divergences (default (w, 1 − w)), ``mix`` the weights of the
    mixture (default (w, 1 − w))."""
    pn, qn = p.detach().cpu().numpy(), q.detach().cpu().numpy()
    a, b = mix or (w, 1 - w)
    m = a * pn + b * qn
    with np.errstate(divide="ignore", invalid="ignore"):
        if nan_at_zero:
            kp = (pn * np.log(pn / m)).sum(-1)
            kq = (qn * np.log(qn / m)).sum(-1)
        else:
            kp = np.where(pn > 0, pn * np.log(np.where(pn > 0, pn, 1) / m), 0).sum(-1)
            kq = np.where(qn > 0, qn * np.log(np.where(qn > 0, qn, 1) / m), 0).sum(-1)
    c, d = weights or (w, 1 - w)
    out = (c * kp + d * kq) / math.log(base)
    return torch.as_tensor(out, dtype=p.dtype, device=p.device)


def _numpy_kl(p, q, w=0.5):
    pn, qn = p.cpu().numpy(), q.cpu().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(pn > 0, pn * np.log(np.where(pn > 0, pn, 1) / qn), 0).sum(-1)
    return torch.as_tensor(out, dtype=p.dtype, device=p.device)


def _entropy_form(p, q, weight=0.5):
    """JSD_w = H(m) − w H(p) − (1 − w) H(q)."""
    def entropy(x):
        return -torch.xlogy(x, x).sum(-1)
    return entropy(weight * p + (1 - weight) * q) - weight * entropy(p) - (1 - weight) * entropy(q)


def _categorical_kl(p, q, weight=0.5):
    from torch.distributions import Categorical, kl_divergence

    m = Categorical(probs=weight * p + (1 - weight) * q)
    return (weight * kl_divergence(Categorical(probs=p), m)
            + (1 - weight) * kl_divergence(Categorical(probs=q), m))


def _loop_jsd(p, q, weight=0.5):
    """Over the outcomes one at a time, skipping zeros."""
    total = torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)
    for k in range(p.shape[-1]):
        pk, qk = p[..., k], q[..., k]
        mk = weight * pk + (1 - weight) * qk
        safe = torch.where(mk > 0, mk, torch.ones_like(mk))
        total = total + weight * torch.where(pk > 0, pk * torch.log(pk / safe), 0.0)
        total = total + (1 - weight) * torch.where(qk > 0, qk * torch.log(qk / safe), 0.0)
    return total


JSD_RIGHT = {
    "NumPy with masks": _numpy_jsd,
    "entropy form": _entropy_form,
    "torch.distributions.kl_divergence": _categorical_kl,
    "a loop over the outcomes": _loop_jsd,
}

JSD_WRONG = {
    "KL(p||q)": (_numpy_kl, "that is KL(p ‖ q)"),
    "no weights": (lambda p, q, w: _numpy_jsd(p, q, w, weights=(1, 1)), "weights π and 1 − π of the two"),
    "m = p + q": (lambda p, q, w: _numpy_jsd(p, q, w, mix=(1, 1)), "you used p + q"),
    "bits": (lambda p, q, w: _numpy_jsd(p, q, w, base=2), "bits"),
    "scipy distance": (lambda p, q, w: _numpy_jsd(p, q, w).sqrt(), "Jensen–Shannon *distance*"),
    "0 log 0 = NaN": (lambda p, q, w: _numpy_jsd(p, q, w, nan_at_zero=True), "torch.xlogy"),
    "reduced over the batch too": (lambda p, q, w: _numpy_jsd(p, q, w).sum(), "wrong shape"),
    "weight ignored": (lambda p, q, w: _numpy_jsd(p, q), "does not depend on `weight`"),
    "divergence weights swapped": (
        lambda p, q, w: _numpy_jsd(p, q, w, weights=(1 - w, w)), "weights of the two divergences are swapped"),
    "mixture weights swapped": (
        lambda p, q, w: _numpy_jsd(p, q, w, mix=(1 - w, w)), "mixture's weights are swapped"),
    "unweighted mixture": (lambda p, q, w: _numpy_jsd(p, q, w, mix=(0.5, 0.5)), "not (p + q)/2"),
    "halves for the divergences": (
        lambda p, q, w: _numpy_jsd(p, q, w, weights=(0.5, 0.5)), "weighted ½ and ½"),
    "one KL to the mixture": (
        lambda p, q, w: (torch.xlogy(p, p) - torch.xlogy(p, w * p + (1 - w) * q)).sum(-1), "not symmetric"),
    "mixture weighted 1/3, 2/3": (
        lambda p, q, w: _numpy_jsd(p, q, w, mix=(1 / 3, 2 / 3)), "not symmetric"),
    "divergence weights √π and 1 − √π": (
        lambda p, q, w: _numpy_jsd(p, q, w, weights=(w ** 0.5, 1 - w ** 0.5)), "not symmetric"),
    "divergence weights π and 1 − π only from the third case on": (
        lambda p, q, w: _numpy_jsd(p, q, w, weights=(w, 1 - w) if w == 0.5 else (w, w)),
        "JSD_π(p ‖ q) = JSD_(1−π)(q ‖ p)"),
    "epsilon added to every log": (
        lambda p, q, w: (w * p * (torch.log(p + 1e-3) - torch.log(w * p + (1 - w) * q + 1e-3))).sum(-1)
        + ((1 - w) * q * (torch.log(q + 1e-3) - torch.log(w * p + (1 - w) * q + 1e-3))).sum(-1),
        "disjoint supports must give the maximum"),
    "summed over the first dimension": (
        lambda p, q, w: _entropy_form(p, q, w) if p.ndim < 3 else _entropy_form(p, q, w).sum(0),
        "wrong shape"),
    "float64 result": (lambda p, q, w: _entropy_form(p.double(), q.double(), w), "wrong dtype"),
    "F.kl_div with batchmean": (
        lambda p, q, w: 0.5 * F.kl_div((0.5 * (p + q)).log(), p, reduction="batchmean")
        + 0.5 * F.kl_div((0.5 * (p + q)).log(), q, reduction="batchmean"), "times too small"),
    "scipy's jensenshannon along axis 0": (
        lambda p, q, w: torch.as_tensor(jensenshannon(p.cpu().numpy(), q.cpu().numpy()) ** 2,
                                        dtype=p.dtype, device=p.device), "you reduced over dimension 0"),
}


@pytest.mark.parametrize("answer", JSD_RIGHT.values(), ids=JSD_RIGHT.keys())
def test_jsd_right_answers_pass(answer, capsys):
    _passes(gan_objective.check_jensen_shannon_divergence, answer, capsys, J_TITLE)


@pytest.mark.parametrize("wrong, fragment", JSD_WRONG.values(), ids=JSD_WRONG.keys())
def test_jsd_wrong_answers(wrong, fragment):
    _rejected(gan_objective.check_jensen_shannon_divergence, wrong, J_TITLE, fragment)


def test_references_are_the_library():
    # The weighted reference is the library's JSD for the weight ½, and both agree with scipy.
    generator = torch.Generator().manual_seed(9)
    a = torch.rand(3, 5, generator=generator, dtype=torch.float64)
    b = torch.rand(3, 5, generator=generator, dtype=torch.float64)
    a, b = a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)
    assert torch.allclose(gan_objective.weighted_jensen_shannon(a, b, 0.5), gan.jensen_shannon(a, b))
    assert torch.allclose(gan_objective.weighted_jensen_shannon(a, b, 0.3), _numpy_jsd(a, b, 0.3))
    # V(D*, G) = -H(w) + JSD_w for a discriminator that sees p and q in proportions w, 1 - w
    w = 0.3
    d_star = w * a / (w * a + (1 - w) * b)
    value = (w * a * d_star.log() + (1 - w) * b * (1 - d_star).log()).sum(-1)
    entropy = -(w * math.log(w) + (1 - w) * math.log(1 - w))
    assert torch.allclose(value, -entropy + gan_objective.weighted_jensen_shannon(a, b, w))
    p = torch.tensor([0.1, 0.2, 0.7], dtype=torch.float64)
    q = torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64)
    assert gan.jensen_shannon(p, q).item() == pytest.approx(
        jensenshannon(p.numpy(), q.numpy()) ** 2, rel=1e-10)
    # and the discriminator's loss with the Bernoulli log-likelihood at large logits
    logits = torch.tensor([-200.0, -30.0, 0.0, 30.0, 200.0], dtype=torch.float64)
    assert gan.discriminator_loss(logits[:2], logits[2:]).item() == pytest.approx(
        (200 + 30) / 2 + (math.log(2) + 30 + 200) / 3, rel=1e-12)


# --- mechanical mutants and the share of specific messages --------------------------------

CHECKS = {
    "7.1": (gan_objective.check_discriminator_bce, _d_reference, DISCRIMINATOR_WRONG),
    "7.2": (gan_objective.check_generator_loss_flip_labels,
            GENERATOR_RIGHT["minus logsigmoid"], GENERATOR_WRONG),
    "7.3": (gan_objective.check_jensen_shannon_divergence, _loop_jsd, JSD_WRONG),
}
NOT_WRONG = {  # mutants that do not change the answer
    "7.1": ("transposed",),  # a 0-d loss
    "7.2": ("transposed",),
    "7.3": ("detached",),  # the divergence is not a loss: a detached answer is right
}


@pytest.mark.parametrize("number", CHECKS)
def test_every_mutant_is_rejected_and_most_messages_are_specific(number):
    check, reference, wrong = CHECKS[number]
    names = tuple(n for n in output_mutants(reference) if n not in NOT_WRONG.get(number, ()))
    messages = list(rejections(check, output_mutants(reference, only=names)).values())
    messages += [rejection(check, answer) for answer, _ in wrong.values()]
    specific = sum(is_specific(m) for m in messages)
    assert specific >= 0.8 * len(messages), [m for m in messages if not is_specific(m)]
