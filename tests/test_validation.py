"""The shared argument checks of :mod:`genmodels.core.validation`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from genmodels.core.validation import (
    check_int,
    check_positive_int,
    check_positive_int_fields,
    check_positive_ints,
    is_positive_int,
)


@pytest.mark.parametrize("value", [1, 2, 10**9])
def test_positive_ints_pass_and_are_returned(value):
    assert is_positive_int(value)
    assert check_positive_int(value, "n") == value


@pytest.mark.parametrize("value", [0, -3, 1.0, 2.5, "3", None, True, False])
def test_everything_else_is_refused_with_its_name_and_value(value):
    assert not is_positive_int(value)
    with pytest.raises(ValueError, match=rf"^n_steps must be a positive int, got {value!r}\.$"):
        check_positive_int(value, "n_steps")


def test_fields_are_named_with_their_class():
    @dataclass
    class Budget:
        steps: int = 3
        batch: int = 0

    check_positive_int_fields(Budget(batch=2), ("steps", "batch"))
    with pytest.raises(ValueError, match=r"^Budget\.batch must be a positive int, got 0\.$"):
        check_positive_int_fields(Budget(), ("steps", "batch"))


@pytest.mark.parametrize("minimum, kind", [(0, "a non-negative int"), (1, "a positive int"),
                                           (2, "an int >= 2")])
def test_check_int_names_the_bound_and_the_hint(minimum, kind):
    assert check_int(minimum, "n", minimum) == minimum
    for bad in (minimum - 1, float(minimum), True, False, None):
        with pytest.raises(ValueError, match=rf"^n must be {kind} \(grid points\), got {bad!r}\.$"):
            check_int(bad, "n", minimum, hint="grid points")


def test_tuples_of_positive_ints():
    check_positive_ints((1, 10, 100), "iwae_ks")
    check_positive_ints([1, 5], "steps", increasing=True)
    for bad in ((), (1, 0), (1, 2.0), (True, 2)):
        with pytest.raises(ValueError, match=rf"^iwae_ks must be positive ints, got {re.escape(repr(bad))}\.$"):
            check_positive_ints(bad, "iwae_ks")
    for bad in ((5, 1), (1, 1, 2)):
        with pytest.raises(ValueError, match=r"^steps must be increasing positive ints"):
            check_positive_ints(bad, "steps", increasing=True)


def _bool_for_an_int_argument():
    """Calls that pass ``True`` where the library expects an int, one per module with a check."""
    import torch

    from genmodels import gibbs, nets, rbm
    from genmodels.core import device, timing
    from genmodels.measure import coverage, gan_monitor
    from genmodels.show import plot

    yield "n_steps", lambda: gibbs.gibbs_bivariate_gaussian(0.5, True)
    yield "n_chains", lambda: gibbs.gibbs_discrete_pair(torch.ones(2, 2), 3, n_chains=True)
    yield "n_hidden", lambda: rbm.BernoulliRBM(4, True)
    yield "n_classes", lambda: coverage.class_histogram(torch.zeros(3, dtype=torch.int64), True)
    yield "mlp sizes", lambda: nets.mlp([True, 2])
    yield "seed", lambda: device.seed_everything(True)
    yield "repeats", lambda: timing.ms_per_1000_samples(lambda n: torch.zeros(n), 4, repeats=True)
    yield "every", lambda: gan_monitor.SampleRecorder(torch.nn.Identity(), torch.zeros(2, 2), True)
    yield "nrow", lambda: plot.images_to_grid(torch.zeros(2, 1, 4, 4), nrow=True)


@pytest.mark.parametrize("name, call", list(_bool_for_an_int_argument()),
                         ids=[n for n, _ in _bool_for_an_int_argument()])
def test_a_bool_is_not_an_int_anywhere(name, call):
    with pytest.raises(ValueError, match=rf"{name} must be"):
        call()
