"""The checks of chapter 9 (failure modes) accept right answers, see stubs, and name typical mistakes."""

from __future__ import annotations

import pytest
import torch

from genmodels.exercises import ExerciseError, gan_failure_modes

# --- reference answers, written independently of the check module ---------------------


def gda_right(theta0, psi0, lr, n_steps, alternating=False):
    out = torch.empty(n_steps + 1, 2, dtype=torch.float64)
    theta, psi = theta0, psi0
    out[0] = torch.tensor([theta, psi], dtype=torch.float64)
    for t in range(n_steps):
        theta_new = theta - lr * psi
        psi = psi + lr * (theta_new if alternating else theta)
        theta = theta_new
        out[t + 1] = torch.tensor([theta, psi], dtype=torch.float64)
    return out


def coverage_right(samples, centres, std):
    d = ((samples[:, None, :] - centres[None]) ** 2).sum(-1).sqrt()
    d_min, k = d.min(1)
    good = d_min <= 3 * std
    return len(set(k[good].tolist())), good.float().mean().item()


# --- wrong answers and the message each must produce ----------------------------------


def gda_swapped(theta0, psi0, lr, n, alternating=False):
    rows, t, p = [(theta0, psi0)], theta0, psi0
    for _ in range(n):
        t2 = t + lr * p
        p = p - lr * (t2 if alternating else t)
        t = t2
        rows.append((t, p))
    return torch.tensor(rows, dtype=torch.float64)


def gda_both_descend(theta0, psi0, lr, n, alternating=False):
    rows, t, p = [(theta0, psi0)], theta0, psi0
    for _ in range(n):
        t2 = t - lr * p
        p = p - lr * (t2 if alternating else t)
        t = t2
        rows.append((t, p))
    return torch.tensor(rows, dtype=torch.float64)


def gda_always_alternating(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr, n, alternating=True)


def gda_no_start(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr, n, alternating)[1:]


def gda_float32(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr, n, alternating).float()


def coverage_any_sample(samples, centres, std):
    d = torch.cdist(samples, centres)
    d_min, k = d.min(1)
    return len(set(k.tolist())), (d_min <= 3 * std).float().mean().item()


def coverage_variance(samples, centres, std):
    d_min, k = torch.cdist(samples, centres).min(1)
    good = d_min <= 3 * std**2
    return len(set(k[good].tolist())), good.float().mean().item()


def coverage_percent(samples, centres, std):
    modes, share = coverage_right(samples, centres, std)
    return modes, 100 * share


def coverage_one_std(samples, centres, std):
    d_min, k = torch.cdist(samples, centres).min(1)
    good = d_min <= std
    return len(set(k[good].tolist())), good.float().mean().item()


WRONG = [
    (gan_failure_modes.check_gda_trajectory, gda_swapped, "directions are swapped"),
    (gan_failure_modes.check_gda_trajectory, gda_both_descend, "both players descended"),
    (gan_failure_modes.check_gda_trajectory, gda_always_alternating, "you computed the alternating updates"),
    (gan_failure_modes.check_gda_trajectory, gda_no_start, "first row must be the starting point"),
    (gan_failure_modes.check_gda_trajectory, gda_float32, "wrong dtype"),
    (gan_failure_modes.check_mode_coverage, coverage_any_sample, "*any* sample"),
    (gan_failure_modes.check_mode_coverage, coverage_variance, "3·std² (the variance)"),
    (gan_failure_modes.check_mode_coverage, coverage_percent, "not a percentage"),
    (gan_failure_modes.check_mode_coverage, coverage_one_std, "you used 1"),
]


@pytest.mark.parametrize(
    ("check", "answer", "message"), WRONG, ids=[w[1].__name__ for w in WRONG]
)
def test_wrong_answer_is_named(check, answer, message):
    with pytest.raises(ExerciseError) as info:
        check(answer)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("check", "answer"),
    [(gan_failure_modes.check_gda_trajectory, gda_right),
     (gan_failure_modes.check_mode_coverage, coverage_right)],
)
def test_right_answer_passes(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check",
    [gan_failure_modes.check_gda_trajectory, gan_failure_modes.check_mode_coverage],
)
def test_stub_is_not_attempted(check, capsys):
    def stub(*args):
        raise NotImplementedError("Exercise 9.x: not attempted yet")

    check(stub)
    assert "not attempted yet" in capsys.readouterr().out
