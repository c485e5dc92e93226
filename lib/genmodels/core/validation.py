"""Checks of arguments shared by the library's settings and functions.

Each raises ``ValueError`` with a message that names the argument, what was expected and
what was given, e.g. ``"FashionVAESettings.batch_size must be a positive int, got 0."``.
One rule for integers everywhere: ``True`` and ``False`` are not ints; NumPy integers are.
One rule for real numbers: a Python ``int``/``float`` or a NumPy scalar is accepted wherever a
float is (:func:`check_float`), and NaN or an infinity is named as such. Tensors are checked by
:func:`check_tensor` (type, floating dtype, shape, finite values), which raises ``TypeError``
for a wrong type or dtype and ``ValueError`` for a wrong shape or value, naming the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import torch


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer: a Python ``int`` or a NumPy integer (``True``/``False``
    are not counted as ints)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """Whether ``value`` is a real number: a Python ``int``/``float`` or a NumPy integer or
    float scalar (not a bool, not a tensor)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and type(value).__name__ != "bool_"


def check_float(value: float, name: str, *, minimum: float | None = None,
                maximum: float | None = None, open_below: bool = False,
                open_above: bool = False, hint: str | None = None) -> float:
    """Return ``float(value)``, or raise naming ``name``: ``TypeError`` unless it is a real
    number (Python or NumPy scalar), ``ValueError`` if it is NaN or infinite or outside
    [``minimum``, ``maximum``] (open ends with ``open_below``/``open_above``).
    ``check_float(float("nan"), "lr", minimum=0, open_below=True)`` raises
    ``"lr must be a finite number > 0, got nan."``."""
    brackets = f" ({hint})" if hint else ""
    if not is_real(value):
        raise TypeError(f"{name} must be a real number{brackets} (a Python or NumPy float), got "
                        f"{type(value).__name__} {value!r}.")
    number = float(value)
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if open_below else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if open_above else '<='} {maximum:g}")
    kind = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if not math.isfinite(number) or (minimum is not None and (
            number < minimum or (open_below and number == minimum))) or (
            maximum is not None and (number > maximum or (open_above and number == maximum))):
        raise ValueError(f"{name} must be {kind}{brackets}, got {number!r}.")
    return number


def _size_of(entry: int | str | None) -> int | None:
    """The size an entry of a shape demands: an int, a named size ``"K=3"``, or none."""
    if isinstance(entry, str):
        return int(entry.split("=")[1]) if "=" in entry else None
    return entry


def _shape_text(shape: Sequence[int | str]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def check_tensor(x: torch.Tensor, name: str, shape: Sequence[int | str | None] | None = None, *,
                 floating: bool = True, finite: bool = True, hint: str | None = None
                 ) -> torch.Tensor:
    """Return ``x``, or raise naming ``name`` unless, in this order, it is a ``torch.Tensor``
    (``TypeError``), of ``shape`` (``ValueError``; an entry that is ``None`` or a name such as
    ``"N"`` matches any size, an int or a named size such as ``"K=3"`` that size), of a
    floating dtype if ``floating`` (``TypeError``), with only finite values if ``finite``
    (``ValueError``). ``hint`` ends the shape and value messages, e.g. ``"flatten images
    with x.reshape(len(x), -1)"``."""
    advice = f"; {hint}" if hint else ""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor"
                        f"{' of shape ' + _shape_text(['?' if s is None else s for s in shape]) if shape is not None else ''}, "
                        f"got {type(x).__name__}; convert with torch.as_tensor(...).")
    if shape is not None and (x.ndim != len(shape) or any(
            _size_of(s) is not None and d != _size_of(s) for d, s in zip(x.shape, shape, strict=True))):
        expected = _shape_text(["?" if s is None else s for s in shape])
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}{advice}.")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; convert "
                        "with .float().")
    if finite and floating and x.numel() and not bool(torch.isfinite(x).all()):
        what = "NaN" if bool(torch.isnan(x).any()) else "an infinite value"
        raise ValueError(f"{name} contains {what}: every value must be finite{advice}.")
    return x


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


def check_dtype_of_model(x: torch.Tensor, model: torch.nn.Module, name: str = "x") -> None:
    """Raise ``TypeError`` naming ``name`` unless ``x`` has the dtype of ``model``'s
    parameters (a float64 or float16 batch into a float32 network would otherwise fail deep
    inside torch with "mat1 and mat2 must have the same dtype")."""
    param = next(model.parameters(), None)
    if param is not None and isinstance(x, torch.Tensor) and x.dtype != param.dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype}, but the model's parameters are {param.dtype}; convert "
            f"the input with {name}.to({param.dtype}) (or the model with model.to({x.dtype})).")


def check_float_fields(obj: object, names: Iterable[str], **limits: float | bool) -> None:
    """Check that each attribute ``names`` of ``obj`` (a settings dataclass) is a finite real
    number within ``limits`` (the keywords of :func:`check_float`); the message names the
    field as ``ClassName.field``."""
    owner = type(obj).__name__
    for name in names:
        check_float(getattr(obj, name), f"{owner}.{name}", **limits)  # type: ignore[arg-type]
