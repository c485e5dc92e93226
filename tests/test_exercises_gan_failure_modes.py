"""The checks of chapter 9 (failure modes) accept right answers, see stubs, and name typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exercise_mutants import is_specific, output_mutants, rejection, rejections

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
    (gan_failure_modes.check_gda_trajectory, gda_no_start, "leaves out the starting point"),
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


# --- correct answers written differently ------------------------------------------------


def gda_matrix(theta0, psi0, lr, n_steps, alternating=False):
    """The linear map of eq-gda-simultaneous / eq-gda-alternating, applied as a matrix, in float32
    along the way (the statement asks for float64 only at the end)."""
    if alternating:
        m = torch.tensor([[1.0, -lr], [lr, 1.0 - lr**2]])
    else:
        m = torch.tensor([[1.0, -lr], [lr, 1.0]])
    rows = [torch.tensor([theta0, psi0])]
    for _ in range(n_steps):
        rows.append(m @ rows[-1])
    return torch.stack(rows).double()


def gda_tuple_assignment(theta0, psi0, lr, n_steps, alternating=False):
    traj = np.zeros((n_steps + 1, 2))
    traj[0] = theta0, psi0
    for t in range(n_steps):
        theta, psi = traj[t]
        if alternating:
            theta = theta - lr * psi
            psi = psi + lr * theta
        else:
            theta, psi = theta - lr * psi, psi + lr * theta
        traj[t + 1] = theta, psi
    return torch.from_numpy(traj)


def coverage_loop(samples, centres, std):
    """Python loops; the first centre wins a tie (strict <); a set of captured modes; NumPy
    scalars in the answer."""
    captured, good = set(), 0
    for x in samples.tolist():
        best, best_d = None, float("inf")
        for k, c in enumerate(centres.tolist()):
            d = ((x[0] - c[0]) ** 2 + (x[1] - c[1]) ** 2) ** 0.5
            if d < best_d:
                best, best_d = k, d
        if best_d <= 3 * std:
            good += 1
            captured.add(best)
    return np.int64(len(captured)), np.float32(good / len(samples))


def coverage_squared_radius(samples, centres, std):
    """Squared distances against the squared radius, argmin, bincount; tensors of one element."""
    d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(dim=1)
    good = d2.gather(1, nearest[:, None])[:, 0] <= (3 * std) ** 2
    counts = torch.bincount(nearest[good], minlength=centres.shape[0])
    return (counts > 0).sum(), good.float().mean()


@pytest.mark.parametrize("answer", [gda_matrix, gda_tuple_assignment])
def test_gda_correct_variants_pass(answer, capsys):
    gan_failure_modes.check_gda_trajectory(answer)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [coverage_loop, coverage_squared_radius])
def test_coverage_correct_variants_pass(answer, capsys):
    gan_failure_modes.check_mode_coverage(answer)
    assert "correct" in capsys.readouterr().out


# --- more wrong answers: off by one, loop order, boundaries, NaN ------------------------


def gda_one_extra_step(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr, n + 1, alternating)


def gda_stops_early(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr, n, alternating)[:-1] if n > 0 else gda_right(theta0, psi0, lr, 0)


def gda_psi_first(theta0, psi0, lr, n, alternating=False):
    rows, t, p = [(theta0, psi0)], theta0, psi0
    for _ in range(n):
        if alternating:
            p = p + lr * t
            t = t - lr * p
        else:
            t, p = t - lr * p, p + lr * t
        rows.append((t, p))
    return torch.tensor(rows, dtype=torch.float64)


def gda_columns_swapped(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr, n, alternating)[:, [1, 0]]


def gda_lr_squared(theta0, psi0, lr, n, alternating=False):
    return gda_right(theta0, psi0, lr**2, n, alternating)


def gda_nan_after_zero_lr(theta0, psi0, lr, n, alternating=False):
    out = gda_right(theta0, psi0, lr, n, alternating)
    return out / lr * lr  # 0/0 at lr = 0


def coverage_strict(samples, centres, std):
    d_min, k = torch.cdist(samples, centres).min(1)
    good = d_min < 3 * std
    return len(set(k[good].tolist())), good.float().mean().item()


def coverage_two_samples(samples, centres, std):
    d_min, k = torch.cdist(samples, centres).min(1)
    good = d_min <= 3 * std
    counts = torch.bincount(k[good], minlength=len(centres))
    return int((counts >= 2).sum()), good.float().mean().item()


def coverage_ten_samples(samples, centres, std):
    d_min, k = torch.cdist(samples, centres).min(1)
    good = d_min <= 3 * std
    counts = torch.bincount(k[good], minlength=len(centres))
    return int((counts >= 10).sum()), good.float().mean().item()


def coverage_tie_last(samples, centres, std):
    captured, good = set(), 0
    for x in samples.tolist():
        dists = [((x[0] - c[0]) ** 2 + (x[1] - c[1]) ** 2) ** 0.5 for c in centres.tolist()]
        best = max(k for k, d in enumerate(dists) if d == min(dists))
        if dists[best] <= 3 * std:
            good += 1
            captured.add(best)
    return len(captured), good / len(samples)


def coverage_tie_both(samples, centres, std):
    d = torch.cdist(samples, centres)
    d_min = d.min(1).values
    good = d_min <= 3 * std
    tied = (d == d_min[:, None]) & good[:, None]
    return int(tied.any(0).sum()), good.float().mean().item()


def coverage_share_of_high_quality_modes(samples, centres, std):
    d_min, k = torch.cdist(samples, centres).min(1)
    good = d_min <= 3 * std
    return len(set(k[good].tolist())), good.sum().item() / len(centres) / 100


def coverage_swapped(samples, centres, std):
    modes, share = coverage_right(samples, centres, std)
    return share, modes


def coverage_nan_share(samples, centres, std):
    modes, _ = coverage_right(samples, centres, std)
    return modes, float("nan")


MORE_WRONG = [
    (gan_failure_modes.check_gda_trajectory, gda_one_extra_step, "one step too many"),
    (gan_failure_modes.check_gda_trajectory, gda_stops_early, "stops one step early"),
    (gan_failure_modes.check_gda_trajectory, gda_psi_first, "the loop order is reversed"),
    (gan_failure_modes.check_gda_trajectory, gda_columns_swapped, "the columns are swapped"),
    (gan_failure_modes.check_gda_trajectory, gda_lr_squared, "where the step t is large (≥ 1)"),
    (gan_failure_modes.check_gda_trajectory, gda_nan_after_zero_lr, "NaN"),
    (gan_failure_modes.check_mode_coverage, coverage_strict, "≤ 3·std, not <"),
    (gan_failure_modes.check_mode_coverage, coverage_two_samples, "a single high-quality sample captures a mode"),
    (gan_failure_modes.check_mode_coverage, coverage_ten_samples, "a single high-quality sample captures a mode"),
    (gan_failure_modes.check_mode_coverage, coverage_tie_last, "equidistant from two centres"),
    (gan_failure_modes.check_mode_coverage, coverage_tie_both, "equidistant from two centres"),
    (gan_failure_modes.check_mode_coverage, coverage_share_of_high_quality_modes, "high_quality_share is"),
    (gan_failure_modes.check_mode_coverage, coverage_swapped, "wrong order"),
    (gan_failure_modes.check_mode_coverage, coverage_nan_share, "not a number in [0, 1]"),
]


@pytest.mark.parametrize(("check", "answer", "message"), MORE_WRONG, ids=[w[1].__name__ for w in MORE_WRONG])
def test_more_wrong_answers_are_named(check, answer, message):
    text = rejection(check, answer)
    assert message in text
    assert is_specific(text), text


def test_gda_mutants_are_rejected():
    messages = rejections(gan_failure_modes.check_gda_trajectory,
                          output_mutants(gda_right, only=("scaled by 1.01", "negated", "doubled",
                                                          "shifted by 0.01", "first value perturbed",
                                                          "last value perturbed", "one value NaN",
                                                          "transposed", "a Python float")))
    specific = [m for m in messages.values() if is_specific(m)]
    assert len(specific) == len(messages), messages


def _pair_mutants(reference):
    changes = {
        "one mode more": lambda m, s: (m + 1, s),
        "one mode fewer": lambda m, s: (m - 1, s),
        "share + 0.01": lambda m, s: (m, s + 0.01),
        "share × 1.01": lambda m, s: (m, s * 1.01),
        "share NaN": lambda m, s: (m, float("nan")),
        "modes as a float": lambda m, s: (float(m), s),
        "a list of three": lambda m, s: [m, s, 0],
    }

    def make(change):
        return lambda *args: change(*reference(*args))

    return {name: make(change) for name, change in changes.items()}


def test_coverage_mutants_are_rejected():
    # modes + 1 or − 1 passes where it changes nothing (0 − 1 is caught elsewhere); every
    # mutant must be rejected somewhere, each with a specific message.
    messages = rejections(gan_failure_modes.check_mode_coverage, _pair_mutants(coverage_right))
    assert all(is_specific(m) for m in messages.values()), messages
