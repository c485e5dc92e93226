"""Checks of arguments shared by the library's settings and functions.

Each raises ``ValueError`` with a message that names the argument, what was expected and
what was given, e.g. ``"FashionVAESettings.batch_size must be a positive int, got 0."``.
"""

from __future__ import annotations

from collections.abc import Iterable


def is_positive_int(value: object) -> bool:
    """Whether ``value`` is an ``int`` ≥ 1 (``True``/``False`` are not counted as ints)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_positive_int(value: int, name: str) -> int:
    """Return ``value``, or raise ``ValueError`` unless it (the argument called ``name``)
    is an int ≥ 1."""
    if not is_positive_int(value):
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


def check_positive_int_fields(obj: object, names: Iterable[str]) -> None:
    """Check that each attribute ``names`` of ``obj`` (a settings dataclass) is an int ≥ 1;
    the message names the field as ``ClassName.field``."""
    owner = type(obj).__name__
    for name in names:
        check_positive_int(getattr(obj, name), f"{owner}.{name}")
