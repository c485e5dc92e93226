"""The checks of chapter 10 (remedies) accept right answers, see stubs, and name typical mistakes."""

from __future__ import annotations

import pytest
import torch

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
