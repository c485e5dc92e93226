"""The exercise framework's safety and property checks: random state, time limits,
generators, counts, gradients, tolerances and diagnoses (issue: exercises students cannot fool)."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import torch

from genmodels.exercises import Exercise, ExerciseError, Mistake
from genmodels.exercises._core import tolerance_for


def test_a_check_leaves_every_global_random_state_as_it_found_it():
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)  # noqa: NPY002
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())  # noqa: NPY002

    def student(x):
        torch.manual_seed(123)  # a student who reseeds, and draws from every global source
        random.random()
        np.random.rand()  # noqa: NPY002
        return x + torch.rand(()) * 0

    with pytest.raises(ExerciseError):
        with Exercise("0.1", "f") as ex:
            ex.call(student, torch.ones(2))
            ex.fail("stop")
    assert torch.equal(torch.get_rng_state(), before[0])
    assert random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])  # noqa: NPY002


def test_an_endless_loop_is_stopped_with_a_message():
    def forever(x):
        while True:
            x = x + 1

    start = time.perf_counter()
    with pytest.raises(ExerciseError, match="did not return within 0.2 s"):
        with Exercise("0.1", "f") as ex:
            ex.call(forever, 0, timeout=0.2)
    assert time.perf_counter() - start >= 0.2  # a lower bound only


def _sampler(n, generator=None):
    return torch.randint(0, 5, (n,), generator=generator)


@pytest.mark.parametrize("student, message", [
    (lambda n, generator=None: torch.randint(0, 5, (n,)), "global random state"),
    (lambda n, generator=None: torch.randint(0, 5, (n,), generator=torch.Generator().manual_seed(0)),
     "ignores its `generator`"),
    (lambda n, generator=None: (torch.manual_seed(1), torch.randint(0, 5, (n,)))[1],
     "two different generators"),
], ids=["global state", "private generator", "fixed global seed"])
def test_generator_misuse_is_named(student, message):
    with pytest.raises(ExerciseError, match=message):
        with Exercise("0.1", "sample") as ex:
            ex.require_generator_use(student, (50,))


def test_a_sampler_that_uses_its_generator_passes(capsys):
    with Exercise("0.1", "sample") as ex:
        ex.require_generator_use(_sampler, (50,))
    assert "correct" in capsys.readouterr().out


def test_counts_too_uneven_too_regular_and_right():
    probs = torch.full((4,), 0.25)
    with pytest.raises(ExerciseError, match="too uneven"):
        with Exercise("0.1", "f") as ex:
            ex.require_counts(torch.tensor([400, 200, 200, 200]), probs, "the components")
    with pytest.raises(ExerciseError, match="too regular"):
        with Exercise("0.1", "f") as ex:
            ex.require_counts(torch.tensor([2500, 2500, 2500, 2500]), probs, "the components")
    draws = torch.multinomial(probs, 10_000, replacement=True,
                              generator=torch.Generator().manual_seed(0))
    with Exercise("0.1", "f") as ex:
        ex.require_counts(torch.bincount(draws, minlength=4), probs, "the components")


@pytest.mark.parametrize("loss_of, message", [
    (lambda x: float((x**2).sum().detach()), "not a tensor"),
    (lambda x: (x**2).sum().detach(), "carries no gradient"),
    (lambda x: (x.detach() ** 2).sum() + x.sum() * 0, "wrong"),
], ids=["python float", "detached", "half detached"])
def test_losses_that_cannot_be_trained_are_named(loss_of, message):
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(ExerciseError, match=message):
        with Exercise("0.1", "loss") as ex:
            ex.require_gradients(loss_of(x), {"x": x}, expected={"x": 2 * x.detach()})


def test_tolerance_follows_the_least_precise_dtype():
    assert tolerance_for(torch.float64) < tolerance_for(torch.float32, torch.float64)
    ref = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    with Exercise("0.1", "f") as ex:  # a float32 answer to float64 inputs, rounded as float32
        ex.compare(ref.float() * (1 + 3e-7), ref, check_dtype=False)


def test_a_nan_is_reported_as_a_nan_not_as_a_named_mistake():
    x = torch.tensor([1.0, 2.0])
    mistake = Mistake("a named mistake that also gives NaN", lambda x: x * float("nan"))
    with pytest.raises(ExerciseError, match="contains NaN"):
        with Exercise("0.1", "f") as ex:
            ex.compare(x * float("nan"), x, args=(x,), mistakes=[mistake])


def test_the_error_is_located_by_a_named_input_property():
    logits = torch.tensor([-200.0, -30.0, -1.0, 0.0, 2.0, 30.0])
    expected = torch.nn.functional.softplus(logits)
    got = torch.log1p(torch.exp(logits)).clamp(max=20.0)  # wrong only for large logits
    with pytest.raises(ExerciseError, match=r"exactly those where \|logit\| is large"):
        with Exercise("0.1", "f") as ex:
            ex.compare(got, expected, where={"|logit|": logits.abs() * (logits > 0)})
