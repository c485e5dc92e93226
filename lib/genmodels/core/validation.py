"""Checks of arguments shared by the library's settings and functions.

Each raises ``ValueError`` with a message that names the argument, what was expected and
what was given, e.g. ``"FashionVAESettings.batch_size must be a positive int, got 0."``.
One rule for integers everywhere: ``True`` and ``False`` are not ints.
"""

from __future__ import annotations

from collections.abc import Iterable


def is_int(value: object) -> bool:
    """Whether ``value`` is an ``int`` (``True``/``False`` are not counted as ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value: object) -> bool:
    """Whether ``value`` is an ``int`` ≥ 1 (``True``/``False`` are not counted as ints)."""
    return is_int(value) and value >= 1  # type: ignore[operator]


def check_int(value: int, name: str, minimum: int = 1, hint: str | None = None) -> int:
    """Return ``value``, or raise ``ValueError`` unless it (the argument called ``name``) is
    an int ≥ ``minimum``. ``hint`` says what the number means, in the message's brackets:
    ``check_int(0, "nrow", hint="images per row")`` raises
    ``"nrow must be a positive int (images per row), got 0."``."""
    if not (is_int(value) and value >= minimum):
        kind = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{name} must be {kind}{f' ({hint})' if hint else ''}, got {value!r}.")
    return value


def check_positive_int(value: int, name: str, hint: str | None = None) -> int:
    """Return ``value``, or raise ``ValueError`` unless it (the argument called ``name``)
    is an int ≥ 1 (see :func:`check_int` for ``hint``)."""
    return check_int(value, name, 1, hint)


def check_positive_ints(values: Iterable[int], name: str, increasing: bool = False) -> None:
    """Raise ``ValueError`` unless ``values`` is a non-empty sequence of ints ≥ 1, strictly
    increasing when ``increasing`` (e.g. the steps at which a chain is recorded)."""
    items = list(values)
    if not items or not all(is_positive_int(v) for v in items) or (
        increasing and items != sorted(set(items))
    ):
        kind = "increasing positive ints" if increasing else "positive ints"
        raise ValueError(f"{name} must be {kind}, got {values!r}.")


def check_positive_int_fields(obj: object, names: Iterable[str]) -> None:
    """Check that each attribute ``names`` of ``obj`` (a settings dataclass) is an int ≥ 1;
    the message names the field as ``ClassName.field``."""
    owner = type(obj).__name__
    for name in names:
        check_positive_int(getattr(obj, name), f"{owner}.{name}")
