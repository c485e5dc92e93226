"""The checks of chapter 11 accept right answers, see stubs, and name typical mistakes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

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
    return -(v * rbm.visible_bias).sum(1) - torch.log1p(torch.exp(pre)).sum(1)


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
