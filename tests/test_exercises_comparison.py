"""The checks of chapter 11 accept right answers, see stubs, and name typical mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from exercise_mutants import (
    OUTPUT_CHANGES,
    generator_mutants,
    is_specific,
    output_mutants,
    rejection,
    rejections,
)

from genmodels.exercises import ExerciseError, comparison

# --- reference answers, written independently of the check module ---------------------


def kl_right(predicted, n_classes):
    n = predicted.numel()
    total = 0.0
    for k in range(n_classes):
        p = int((predicted == k).sum()) / n
        if p > 0:
            total += p * math.log(p * n_classes)
    return total


def bpd_right(ll, n_pixels):
    return -ll / n_pixels / math.log(2)


def free_energy_by_hand(rbm, v):
    pre = v @ rbm.weight + rbm.hidden_bias
    return -(v * rbm.visible_bias).sum(1) - F.softplus(pre).sum(1)  # log1p(exp) overflows


def pll_right(rbm, v):
    out = torch.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        out += F.logsigmoid(free_energy_by_hand(rbm, flipped) - free_energy_by_hand(rbm, v))
    return out


# --- wrong answers and the message each must produce ----------------------------------


def kl_reversed(predicted, n_classes):
    p = torch.bincount(predicted, minlength=n_classes).double() / predicted.numel()
    return float((-(math.log(n_classes) + torch.log(p)) / n_classes).sum())


def kl_entropy(predicted, n_classes):
    p = torch.bincount(predicted, minlength=n_classes).double() / predicted.numel()
    return float(-torch.xlogy(p, p).sum())


def kl_bits(predicted, n_classes):
    return kl_right(predicted, n_classes) / math.log(2)


def kl_counts(predicted, n_classes):
    c = torch.bincount(predicted, minlength=n_classes).double()
    return float((torch.xlogy(c, c) + c * math.log(n_classes)).sum())


def kl_nan_on_empty(predicted, n_classes):
    p = torch.bincount(predicted, minlength=n_classes).double() / predicted.numel()
    return float((p * torch.log(p * n_classes)).sum())


def kl_present_only(predicted, n_classes):
    k = int(torch.unique(predicted).numel())
    p = torch.bincount(predicted).double() / predicted.numel()
    return float(torch.xlogy(p, p).sum() + math.log(k))


def bpd_sign(ll, n):
    return ll / (n * math.log(2))


def bpd_nats(ll, n):
    return -ll / n


def bpd_per_image(ll, n):
    return -ll / math.log(2)


def bpd_log10(ll, n):
    return -ll / (n * math.log(10))


def pll_swapped_terms(rbm, v):
    out = torch.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        out += F.logsigmoid(free_energy_by_hand(rbm, v) - free_energy_by_hand(rbm, flipped))
    return out


def pll_mean(rbm, v):
    return pll_right(rbm, v) / v.shape[1]


def pll_no_log(rbm, v):
    out = torch.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        out += torch.sigmoid(free_energy_by_hand(rbm, flipped) - free_energy_by_hand(rbm, v))
    return out


def pll_batch_mean(rbm, v):
    return pll_right(rbm, v).mean().expand(v.shape[0])


def pll_stub(rbm, v):
    raise NotImplementedError("Exercise 11.3: not attempted yet")


RIGHT = [
    (comparison.check_class_kl_to_uniform, kl_right),
    (comparison.check_bits_per_dimension, bpd_right),
    (comparison.check_rbm_pseudo_log_likelihood, pll_right),
]


@pytest.mark.parametrize(("check", "answer"), RIGHT, ids=[r[1].__name__ for r in RIGHT])
def test_right_answer_passes(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


def test_stub_is_not_attempted(capsys):
    comparison.check_rbm_pseudo_log_likelihood(pll_stub)
    assert "not attempted yet" in capsys.readouterr().out


WRONG = [
    (comparison.check_class_kl_to_uniform, kl_reversed, "KL(uniform ‖ p)"),
    (comparison.check_class_kl_to_uniform, kl_entropy, "entropy H(p)"),
    (comparison.check_class_kl_to_uniform, kl_bits, "in bits"),
    (comparison.check_class_kl_to_uniform, kl_counts, "class *counts*"),
    (comparison.check_class_kl_to_uniform, kl_nan_on_empty, "0 · log 0 = 0"),
    (comparison.check_class_kl_to_uniform, kl_present_only, "also those no sample falls in"),
    (comparison.check_bits_per_dimension, bpd_sign, "flip the sign"),
    (comparison.check_bits_per_dimension, bpd_nats, "nats per dimension"),
    (comparison.check_bits_per_dimension, bpd_per_image, "bits per image"),
    (comparison.check_bits_per_dimension, bpd_log10, "log₁₀"),
    (comparison.check_rbm_pseudo_log_likelihood, pll_swapped_terms, "sign inside the sigmoid"),
    (comparison.check_rbm_pseudo_log_likelihood, pll_mean, "averaged over the D bits"),
    (comparison.check_rbm_pseudo_log_likelihood, pll_no_log, "*logarithms*"),
    (comparison.check_rbm_pseudo_log_likelihood, pll_batch_mean, "one value per row"),
]


@pytest.mark.parametrize(("check", "answer", "message"), WRONG, ids=[w[1].__name__ for w in WRONG])
def test_wrong_answer_is_named(check, answer, message):
    with pytest.raises(ExerciseError) as info:
        check(answer)
    assert message in str(info.value)


# --- Exercises 11.1-11.3: correct variants, more wrong answers, mutants -----------------


def kl_float32_tensor(predicted, n_classes):
    """float32, empty classes left out, a 0-d tensor as the answer."""
    p = torch.bincount(predicted, minlength=n_classes).float() / predicted.numel()
    p = p[p > 0]
    return (p * torch.log(p * n_classes)).sum()


def kl_entropy_form(predicted, n_classes):
    """log K − H(p) with torch.distributions; a NumPy float."""
    probs = torch.bincount(predicted, minlength=n_classes).double() / len(predicted)
    return np.float64(math.log(n_classes) - torch.distributions.Categorical(probs=probs).entropy().item())


def bpd_log2(ll, n_pixels):
    return -(ll / math.log(2)) / n_pixels


def bpd_torch_log(ll, n_pixels):
    return ll.neg().div(n_pixels).div(torch.log(torch.tensor(2.0, dtype=ll.dtype)))


def pll_library_free_energy_loop(rbm, v):
    """A loop over bits with the library's free energy and log(1 − σ(−x)) written as logsigmoid."""
    f_v = rbm.free_energy(v)
    total = torch.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.clone()
        flipped[:, i] = 1 - v[:, i]
        total = total - F.softplus(f_v - rbm.free_energy(flipped))
    return total


def pll_bernoulli(rbm, v):
    """The conditionals as Bernoulli distributions (logits = free-energy gaps)."""
    out = 0
    for i in range(v.shape[1]):
        other = v.clone()
        other[:, i] = 1 - v[:, i]
        # logit of v_i = 1 given the rest: F(v with v_i = 0) − F(v with v_i = 1)
        zero, one = v.clone(), v.clone()
        zero[:, i], one[:, i] = 0, 1
        logits = rbm.free_energy(zero) - rbm.free_energy(one)
        out = out + torch.distributions.Bernoulli(logits=logits).log_prob(v[:, i])
    return out


@pytest.mark.parametrize(("check", "answer"), [
    (comparison.check_class_kl_to_uniform, kl_float32_tensor),
    (comparison.check_class_kl_to_uniform, kl_entropy_form),
    (comparison.check_bits_per_dimension, bpd_log2),
    (comparison.check_bits_per_dimension, bpd_torch_log),
    (comparison.check_rbm_pseudo_log_likelihood, pll_library_free_energy_loop),
    (comparison.check_rbm_pseudo_log_likelihood, pll_bernoulli),
], ids=lambda a: getattr(a, "__name__", ""))
def test_correct_variants_pass(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


def kl_minlength_missing(predicted, n_classes):
    p = torch.bincount(predicted).double() / predicted.numel()
    return float(torch.xlogy(p, p).sum() + math.log(len(p)))


def kl_mean_over_classes(predicted, n_classes):
    return kl_right(predicted, n_classes) / n_classes


def bpd_detached(ll, n):
    return torch.tensor((-ll / (n * math.log(2))).tolist(), dtype=ll.dtype)


def bpd_sqrt_pixels(ll, n):
    return -ll / (math.sqrt(n) * math.log(2))


def bpd_float64_always(ll, n):
    return (-ll / (n * math.log(2))).double()


def bpd_batch_mean(ll, n):
    return (-ll / (n * math.log(2))).mean().expand(ll.shape[0])


def pll_log_sigmoid(rbm, v):
    out = torch.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        out += torch.log(torch.sigmoid(rbm.free_energy(flipped) - rbm.free_energy(v)))
    return out


def pll_raw_difference(rbm, v):
    out = torch.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        out += rbm.free_energy(flipped) - rbm.free_energy(v)
    return out


MORE_WRONG = [
    (comparison.check_class_kl_to_uniform, kl_minlength_missing, "without minlength"),
    (comparison.check_class_kl_to_uniform, kl_mean_over_classes, "averaged over the K classes"),
    (comparison.check_bits_per_dimension, bpd_detached, "carries no gradient"),
    (comparison.check_bits_per_dimension, bpd_sqrt_pixels, "side of the image"),
    (comparison.check_bits_per_dimension, bpd_float64_always, "wrong dtype"),
    (comparison.check_bits_per_dimension, bpd_batch_mean, "averaged over the batch"),
    (comparison.check_rbm_pseudo_log_likelihood, pll_log_sigmoid, "log(sigmoid(·)) underflows"),
    (comparison.check_rbm_pseudo_log_likelihood, pll_raw_difference, "free-energy differences"),
]


@pytest.mark.parametrize(("check", "answer", "message"), MORE_WRONG, ids=[w[1].__name__ for w in MORE_WRONG])
def test_more_wrong_answers_are_named(check, answer, message):
    text = rejection(check, answer)
    assert message in text
    assert is_specific(text), text


# A float is the answer of 11.1 (no tensor to detach); 11.3 is a metric computed under
# no_grad (detaching is fine). Every other mechanical mutant applies.
MUTANTS = [
    (comparison.check_class_kl_to_uniform, kl_right,
     ("scaled by 1.01", "negated", "doubled", "shifted by 0.01")),
    (comparison.check_bits_per_dimension, bpd_right, tuple(OUTPUT_CHANGES)),
    (comparison.check_rbm_pseudo_log_likelihood, pll_right,
     tuple(n for n in OUTPUT_CHANGES if n != "detached")),
]


@pytest.mark.parametrize(("check", "reference", "changes"), MUTANTS, ids=["11.1", "11.2", "11.3"])
def test_mutants_are_rejected(check, reference, changes):
    def as_tensor(fn):
        # 11.1 returns a float; the output changes act on tensors.
        return (lambda *a: torch.tensor(fn(*a), dtype=torch.float64)) if fn is kl_right else fn

    messages = rejections(check, output_mutants(as_tensor(reference), only=changes))
    specific = [m for m in messages.values() if is_specific(m)]
    assert len(specific) == len(messages), messages


# --- Exercise 11.5: the GAN training loop ------------------------------------------------
# Written independently of the check module: a reference, two correct variants written
# differently, and the classic mistakes, each with the message it must produce.


def loop_right(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size, generator):
    rows = []
    for _ in range(n_steps):
        x = sample_real(batch_size, generator)
        fake = G(torch.randn(batch_size, latent_dim, generator=generator))
        real_logits, fake_logits = D(x), D(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_logits = D(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        rows.append([d_loss.item(), g_loss.item()])
    return torch.tensor(rows)


def loop_fresh_fakes_frozen_d(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size,
                              generator):
    """z drawn before the real batch, fakes made under no_grad, one BCE over the concatenated
    batch (half the statement's loss: same direction), fresh fakes for G with D frozen."""
    losses = torch.zeros(n_steps, 2)
    for t in range(n_steps):
        z = torch.randn(batch_size, latent_dim, generator=generator)
        real = sample_real(batch_size, generator)
        with torch.no_grad():
            fake = G(z)
        logits = D(torch.cat([real, fake]))
        labels = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)])
        d_loss = F.binary_cross_entropy_with_logits(logits, labels)
        D.zero_grad()
        d_loss.backward()
        opt_d.step()
        D.requires_grad_(False)
        g_loss = -F.logsigmoid(D(G(torch.randn(batch_size, latent_dim, generator=generator)))).mean()
        opt_g.zero_grad(set_to_none=False)
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        losses[t] = torch.stack([d_loss.detach(), g_loss.detach()])
    return losses


def loop_distributions_list(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size,
                            generator):
    """torch.distributions, losses as a list of pairs of floats, sum-then-divide means."""
    out = []
    for _ in range(n_steps):
        real = sample_real(batch_size, generator)
        z = torch.randn(batch_size, latent_dim, generator=generator)
        fake = G(z)
        d_real = torch.distributions.Bernoulli(logits=D(real))
        d_fake = torch.distributions.Bernoulli(logits=D(fake.detach()))
        d_loss = -(d_real.log_prob(torch.ones(batch_size)).sum()
                   + d_fake.log_prob(torch.zeros(batch_size)).sum()) / batch_size
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = -torch.distributions.Bernoulli(logits=D(fake)).log_prob(torch.ones(batch_size)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        out.append((float(d_loss.detach()), float(g_loss.detach())))
    return out


def _loop(*, zero_d=True, zero_g=True, detach=True, g_detach=False, g_loss="ns", d_swapped=False,
          g_opt="g", g_first=False, unstable=False, clear_after_backward=False, uniform_z=False):
    """A loop with one classic mistake switched on."""

    def loop(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size, generator):
        rows = []
        for _ in range(n_steps):
            real = sample_real(batch_size, generator)
            draw = torch.rand if uniform_z else torch.randn
            fake = G(draw(batch_size, latent_dim, generator=generator))

            def g_step(fake):
                logits = D(fake.detach() if g_detach else fake)
                if unstable:
                    loss = -torch.log(torch.sigmoid(logits)).mean()
                elif g_loss == "saturating":
                    loss = torch.log(1 - torch.sigmoid(logits)).mean()
                elif g_loss == "fake labelled 0":
                    loss = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
                else:
                    loss = F.softplus(-logits).mean()
                if zero_g:
                    opt_g.zero_grad()
                loss.backward()
                (opt_g if g_opt == "g" else opt_d).step()
                return loss

            if g_first:
                loss_g = g_step(fake)
            f = fake.detach() if detach else fake
            if unstable:
                bce = torch.nn.BCELoss()
                loss_d = (bce(torch.sigmoid(D(real)), torch.ones(batch_size))
                          + bce(torch.sigmoid(D(f)), torch.zeros(batch_size)))
            elif d_swapped:
                loss_d = F.softplus(D(real)).mean() + F.softplus(-D(f)).mean()
            else:
                loss_d = F.softplus(-D(real)).mean() + F.softplus(D(f)).mean()
            if zero_d and not clear_after_backward:
                opt_d.zero_grad()
            loss_d.backward(retain_graph=not detach)
            if clear_after_backward:
                opt_d.zero_grad()
            opt_d.step()
            if not g_first:
                loss_g = g_step(fake)
            rows.append([loss_d.item(), loss_g.item()])
        return torch.tensor(rows)

    return loop


def loop_swapped_optimizers(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size,
                            generator):
    rows = []
    for _ in range(n_steps):
        real = sample_real(batch_size, generator)
        fake = G(torch.randn(batch_size, latent_dim, generator=generator))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_g.step()
        loss_g = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_d.step()
        rows.append([loss_d.item(), loss_g.item()])
    return torch.tensor(rows)


def loop_no_detach_crashes(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size,
                           generator):
    rows = []
    for _ in range(n_steps):
        real = sample_real(batch_size, generator)
        fake = G(torch.randn(batch_size, latent_dim, generator=generator))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        rows.append([loss_d.item(), loss_g.item()])
    return torch.tensor(rows)


def loop_sums(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size, generator):
    rows = []
    for _ in range(n_steps):
        real = sample_real(batch_size, generator)
        fake = G(torch.randn(batch_size, latent_dim, generator=generator))
        loss_d = F.softplus(-D(real)).sum() + F.softplus(D(fake.detach())).sum()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(fake)).sum()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        rows.append([loss_d.item(), loss_g.item()])
    return torch.tensor(rows)


def loop_two_phases(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size, generator):
    """All the discriminator's updates first, then all the generator's."""
    rows = []
    for _ in range(n_steps):
        real = sample_real(batch_size, generator)
        fake = G(torch.randn(batch_size, latent_dim, generator=generator)).detach()
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        rows.append([loss_d.item(), 0.0])
    for t in range(n_steps):
        loss_g = F.softplus(-D(G(torch.randn(batch_size, latent_dim, generator=generator)))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        rows[t][1] = loss_g.item()
    return torch.tensor(rows)


def loop_both_backward_first(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size,
                             generator):
    """Both losses backpropagated before either step (D frozen for G's loss): G's update uses
    the discriminator from before its update."""
    rows = []
    for _ in range(n_steps):
        real = sample_real(batch_size, generator)
        fake = G(torch.randn(batch_size, latent_dim, generator=generator))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        opt_g.zero_grad()
        loss_d.backward()
        D.requires_grad_(False)
        loss_g = F.softplus(-D(fake)).mean()
        loss_g.backward()
        D.requires_grad_(True)
        opt_d.step()
        opt_g.step()
        rows.append([loss_d.item(), loss_g.item()])
    return torch.tensor(rows)


def loop_own_optimizers(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size, generator):
    own_g, own_d = torch.optim.SGD(G.parameters(), lr=0.01), torch.optim.SGD(D.parameters(), lr=0.01)
    return loop_right(G, D, own_g, own_d, sample_real, n_steps, latent_dim, batch_size, generator)


LOOP_WRONG = [
    ("optimizers of its own", loop_own_optimizers, "optimizers of your own"),
    ("generator's loss backpropagated before D's update", loop_both_backward_first,
     "the generator's loss was backpropagated before opt_d.step()"),
    ("all D updates, then all G updates", loop_two_phases, "the updates do not alternate"),
    ("sums instead of means", loop_sums, "a sum over the batch where the losses are means"),
    ("missing zero_grad", _loop(zero_d=False, zero_g=False), "gradients accumulate across steps"),
    ("missing zero_grad (generator)", _loop(zero_g=False), "gradients accumulate across steps: the generator"),
    ("missing detach", _loop(detach=False), "the fakes were not detached in the discriminator's step"),
    ("missing detach, graph reused", loop_no_detach_crashes, "Detach the fakes in the discriminator's loss"),
    ("detach misplaced in the generator's loss", _loop(g_detach=True), "no gradient reached G from its loss"),
    ("saturating loss", _loop(g_loss="saturating"), "saturating generator loss"),
    ("labels swapped (discriminator)", _loop(d_swapped=True), "labels are swapped in the discriminator's loss"),
    ("labels swapped (generator)", _loop(g_loss="fake labelled 0"), "labels are swapped in the generator's loss"),
    ("wrong player's optimizer", _loop(g_opt="d"), "the wrong player's optimizer is stepped"),
    ("generator before discriminator", _loop(g_first=True), "the generator is updated before the discriminator"),
    ("optimizers swapped", loop_swapped_optimizers, "the players' optimizers are swapped"),
    ("sigmoid then BCELoss / log", _loop(unstable=True), "sigmoid followed by a log"),
    ("zero_grad between backward and step", _loop(clear_after_backward=True), "cleared (zero_grad) between backward() and step()"),
    ("uniform latent codes", _loop(uniform_z=True), "z must be standard normal"),
]


@pytest.mark.parametrize(("answer", "message"), [w[1:] for w in LOOP_WRONG], ids=[w[0] for w in LOOP_WRONG])
def test_gan_loop_mistake_is_named(answer, message):
    assert message in rejection(comparison.check_train_gan_loop, answer)


@pytest.mark.parametrize("answer", [loop_right, loop_fresh_fakes_frozen_d, loop_distributions_list])
def test_gan_loop_correct_variants_pass(answer, capsys):
    comparison.check_train_gan_loop(answer)
    assert "correct" in capsys.readouterr().out


def test_gan_loop_mutants_are_rejected():
    # Detached losses and a list of pairs are valid answers (the statement asks for detached
    # values), so the "detached" and "a Python float" mutants do not apply.
    changes = tuple(n for n in OUTPUT_CHANGES if n not in ("detached", "a Python float"))
    mutants = {**output_mutants(loop_right, only=changes), **generator_mutants(loop_right)}
    messages = rejections(comparison.check_train_gan_loop, mutants)
    assert all(is_specific(m) for m in messages.values()), messages


def test_gan_loop_probe_separates_the_candidate_losses():
    """The traced steps only mean something if the named mistakes have gradients clearly
    different from the right ones on the probe's players (an independent recomputation)."""
    G, D = comparison._loop_players(5, head_scale=100.0, spread=4.0)
    g = torch.Generator().manual_seed(11)
    real = torch.randn(64, 2, generator=g)
    z = torch.randn(64, 2, generator=g)
    fake = G(z)

    def grad(loss, module):
        return torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, list(module.parameters()),
                                                                     retain_graph=True)])

    def cos(a, b):
        return float(a @ b / (a.norm() * b.norm()))

    right_d = grad(F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean(), D)
    swapped_d = grad(F.softplus(D(real)).mean() + F.softplus(-D(fake.detach())).mean(), D)
    ns = grad(F.softplus(-D(fake)).mean(), G)
    sat = grad(-F.softplus(D(fake)).mean(), G)
    assert cos(right_d, swapped_d) < 0.9
    assert cos(ns, sat) < 0.95


def loop_generator_fakes_first(G, D, opt_g, opt_d, sample_real, n_steps, latent_dim, batch_size,
                               generator):
    """Correct, in an unusual order: the generator's fresh fakes are computed before the
    discriminator's (and evaluated by D only after its update)."""
    losses = torch.zeros(n_steps, 2)
    for t in range(n_steps):
        real = sample_real(batch_size, generator)
        z_d = torch.randn(batch_size, latent_dim, generator=generator)
        z_g = torch.randn(batch_size, latent_dim, generator=generator)
        fake_g = G(z_g)
        fake_d = G(z_d).detach()
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake_d)).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(fake_g)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        losses[t] = torch.stack([d_loss, g_loss]).detach()
    return losses


def test_gan_loop_traced_steps_accept_another_order_of_the_calls(monkeypatch, capsys):
    # Only the traced steps and the randomness: the training is the same as loop_right's
    # up to the order of the draws, which the correct variants above already cover.
    monkeypatch.setattr(comparison, "GAN_LOOP_STEPS", (2,))
    monkeypatch.setattr(comparison, "GAN_LOOP_MIN_MODES", 0)
    comparison.check_train_gan_loop(loop_generator_fakes_first)
    assert "correct" in capsys.readouterr().out
