"""The checks of chapter 10 (remedies) accept right answers, see stubs, and name typical mistakes."""

from __future__ import annotations

import pytest
import torch
from exercise_mutants import is_specific, output_mutants, rejection, rejections

from genmodels.exercises import ExerciseError, gan_remedies

# --- reference answers, written independently of the check module ---------------------


def mbstd_right(h):
    s = ((h - h.mean(0)) ** 2).mean(0).sqrt().mean()
    return torch.cat([h, s * torch.ones(h.shape[0], 1, device=h.device, dtype=h.dtype)], 1)


# --- wrong answers and the message each must produce ----------------------------------


def mbstd_unbiased(h):
    return torch.cat([h, h.std(0).mean().expand(h.shape[0], 1)], 1)


def mbstd_over_features(h):
    return torch.cat([h, h.std(1, unbiased=False, keepdim=True)], 1)


def mbstd_variance(h):
    return torch.cat([h, h.var(0, unbiased=False).mean().expand(h.shape[0], 1)], 1)


def mbstd_column_only(h):
    return h.std(0, unbiased=False).mean().expand(h.shape[0], 1)


def mbstd_first(h):
    return torch.cat([h.std(0, unbiased=False).mean().expand(h.shape[0], 1), h], 1)


WRONG = [
    (gan_remedies.check_minibatch_std_feature, mbstd_unbiased, "unbiased standard deviation"),
    (gan_remedies.check_minibatch_std_feature, mbstd_over_features, "across the features of each sample"),
    (gan_remedies.check_minibatch_std_feature, mbstd_variance, "averaged the variances"),
    (gan_remedies.check_minibatch_std_feature, mbstd_column_only, "not the new column alone"),
    (gan_remedies.check_minibatch_std_feature, mbstd_first, "appended as the *last* column"),
]


@pytest.mark.parametrize(
    ("check", "answer", "message"), WRONG, ids=[w[1].__name__ for w in WRONG]
)
def test_wrong_answer_is_named(check, answer, message):
    with pytest.raises(ExerciseError) as info:
        check(answer)
    assert message in str(info.value)


def test_right_answer_passes(capsys):
    gan_remedies.check_minibatch_std_feature(mbstd_right)
    assert "correct" in capsys.readouterr().out


def test_stub_is_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError("Exercise 10.1: not attempted yet")

    gan_remedies.check_minibatch_std_feature(stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_crash_is_reported_with_the_call():
    def crashes(h):
        return h @ h  # wrong shapes

    with pytest.raises(ExerciseError, match="raised RuntimeError"):
        gan_remedies.check_minibatch_std_feature(crashes)


# --- correct answers written differently ------------------------------------------------


def mbstd_progan_eps(h):
    """ProGAN's form: the square root of the variance plus a small ε, stacked with a loop."""
    var = ((h - h.mean(dim=0, keepdim=True)) ** 2).mean(dim=0)
    sigma = torch.sqrt(var + 1e-8).mean()
    return torch.cat([h, torch.stack([sigma for _ in range(h.shape[0])])[:, None]], dim=1)


def mbstd_column_loop(h):
    """One feature at a time with torch.std(correction=0), then F.pad-free concatenation."""
    sds = [torch.std(h[:, j], correction=0) for j in range(h.shape[1])]
    sigma = sum(sds) / len(sds)
    return torch.hstack([h, sigma * torch.ones_like(h[:, :1])])


@pytest.mark.parametrize("answer", [mbstd_progan_eps, mbstd_column_loop])
def test_correct_variants_pass(answer, capsys):
    gan_remedies.check_minibatch_std_feature(answer)
    assert "correct" in capsys.readouterr().out


# --- more wrong answers -----------------------------------------------------------------


def mbstd_sqrt_of_mean_var(h):
    return torch.cat([h, h.var(0, unbiased=False).mean().sqrt().expand(h.shape[0], 1)], 1)


def mbstd_pooled(h):
    return torch.cat([h, h.std(unbiased=False).expand(h.shape[0], 1)], 1)


def mbstd_detached(h):
    return torch.cat([h, torch.full((h.shape[0], 1), h.std(0, unbiased=False).mean().item(),
                                    dtype=h.dtype)], 1)


def mbstd_mean_abs(h):
    return torch.cat([h, (h - h.mean(0)).abs().mean().expand(h.shape[0], 1)], 1)


def mbstd_float32_always(h):
    return mbstd_right(h).float()


def mbstd_nan_when_constant(h):
    sd = h.std(0, unbiased=False)
    return torch.cat([h, (sd * sd / sd).mean().expand(h.shape[0], 1)], 1)


MORE_WRONG = [
    (mbstd_sqrt_of_mean_var, "square root of the average variance"),
    (mbstd_pooled, "pooled together"),
    (mbstd_detached, "carries no gradient"),
    (mbstd_mean_abs, "mean absolute deviation"),
    (mbstd_float32_always, "wrong dtype"),
    (mbstd_nan_when_constant, "NaN"),
]


@pytest.mark.parametrize(("answer", "message"), MORE_WRONG, ids=[w[0].__name__ for w in MORE_WRONG])
def test_more_wrong_answers_are_named(answer, message):
    text = rejection(gan_remedies.check_minibatch_std_feature, answer)
    assert message in text
    assert is_specific(text), text


def test_mutants_are_rejected():
    messages = rejections(gan_remedies.check_minibatch_std_feature, output_mutants(mbstd_right))
    specific = [m for m in messages.values() if is_specific(m)]
    assert len(specific) == len(messages), messages
