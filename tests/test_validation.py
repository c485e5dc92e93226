"""The shared argument checks of :mod:`genmodels.core.validation`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from genmodels.core.validation import check_positive_int, check_positive_int_fields, is_positive_int


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
