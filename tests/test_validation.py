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


def test_check_float_accepts_python_and_numpy_scalars_and_names_nan():
    import math

    import numpy as np

    from genmodels.core.validation import check_float

    for value in (1, 0.5, np.float32(0.5), np.float64(0.5), np.int64(1)):
        assert check_float(value, "lr", minimum=0, open_below=True) == float(value)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0 \(a rate\), got nan"):
        check_float(math.nan, "lr", minimum=0, open_below=True, hint="a rate")
    with pytest.raises(ValueError, match="got inf"):
        check_float(math.inf, "lr")
    for bad in (True, "0.5", None, np.bool_(True)):
        with pytest.raises(TypeError, match="lr must be a real number"):
            check_float(bad, "lr")


def test_check_tensor_says_type_then_shape_then_dtype_then_values():
    import torch

    from genmodels.core.validation import check_tensor

    with pytest.raises(TypeError, match=r"x must be a torch.Tensor of shape \[n, 2\], got list"):
        check_tensor([1.0, 2.0], "x", ("n", 2))
    with pytest.raises(ValueError, match=r"x must have shape \[n, 2\], got \(3,\)"):
        check_tensor(torch.zeros(3, dtype=torch.long), "x", ("n", 2))
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        check_tensor(torch.zeros(3, 2, dtype=torch.long), "x", ("n", 2))
    with pytest.raises(ValueError, match="x contains an infinite value"):
        check_tensor(torch.tensor([[1.0, float("inf")]]), "x", ("n", 2))
    with pytest.raises(ValueError, match=r"w must have shape \[K=2\], got \(3,\)"):
        check_tensor(torch.zeros(3), "w", ("K=2",))
