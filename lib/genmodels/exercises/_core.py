"""The exercise framework: call the student's function, compare, and say what is wrong.

A chapter's check function opens an :class:`Exercise` and, inside it, calls the student's
function on several inputs (:meth:`Exercise.call`) and compares each answer with the
library's reference (:meth:`Exercise.compare`)::

    def check_mixture_log_density(student_fn):
        with Exercise("1.1", "mixture_log_density") as ex:
            for x, centres, std in cases():
                expected = IsotropicMixture2D(centres, std).log_prob(x)
                got = ex.call(student_fn, x, centres, std)
                ex.compare(got, expected, mistakes=[...], args=(x, centres, std))

Outcomes:

* right: one line ``✔ Exercise 1.1 (mixture_log_density): correct ...`` is printed;
* not attempted (the function raises ``NotImplementedError`` or returns ``...``/``None``):
  one line ``Exercise 1.1 (...): not attempted yet.`` is printed; no exception;
* wrong: :class:`ExerciseError` (an ``AssertionError``) is raised with a one-paragraph
  message that says what is wrong. Raising makes a wrong reference solution fail the
  notebook tests, and makes a wrong answer impossible to miss in Jupyter. The framework's
  own frames are marked ``__tracebackhide__`` so IPython and pytest show a short traceback.

Never put the solution in a message: messages describe the mistake, not the fix's code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import torch

from genmodels.exercises import _diagnose


class ExerciseError(AssertionError):
    """A wrong answer to an exercise; the message says what is wrong."""


class NotAttempted(Exception):
    """Raised inside a check when the student's function is still a stub."""


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer and the message meant for it.

    ``answer(*args)`` computes what the mistaken formula returns on the same inputs as
    the student's function; when the student's answer matches it, ``message`` is shown.
    """

    message: str
    answer: Callable[..., Any]


def devices_to_check() -> list[torch.device]:
    """The CPU, plus the accelerator that :func:`genmodels.core.device.pick_device` picks."""
    from genmodels.core.device import pick_device

    devices = [torch.device("cpu")]
    best = pick_device()
    if best.type != "cpu":
        devices.append(best)
    return devices


def with_accelerator_copies(
    cases: list[tuple], index: int = 0, devices: list[torch.device] | None = None
) -> list[tuple]:
    """Append, for each accelerator, a copy of ``cases[index]`` with its tensors moved there.

    A case is ``(label, *arguments)``; tensors are moved with ``.to(device)``, other
    arguments are kept, and the label gains ``", on <device>"``. ``devices`` defaults to the
    accelerators of :func:`devices_to_check` (none on a CPU-only machine). A case holding
    float64 tensors is not copied to Apple MPS, which has no float64. Returns ``cases``.
    """
    label, *arguments = cases[index]
    for device in devices_to_check()[1:] if devices is None else devices:
        tensors = [a for a in arguments if isinstance(a, torch.Tensor)]
        if device.type == "mps" and any(t.dtype == torch.float64 for t in tensors):
            continue
        moved = [a.to(device) if isinstance(a, torch.Tensor) else a for a in arguments]
        cases.append((f"{label}, on {device}", *moved))
    return cases


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{list(value.shape)}"
    if isinstance(value, torch.Generator):
        return "generator"
    text = repr(value)
    return text if len(text) <= 30 else type(value).__name__


class Exercise:
    """One run of a check: a context manager that reports the outcome of the exercise.

    Args:
        number: the exercise's number in the book, e.g. ``"1.2"``.
        name: the name of the function the student writes, e.g. ``"sample_mixture"``.
    """

    def __init__(self, number: str, name: str) -> None:
        self.number = number
        self.name = name
        self.n_checks = 0

    @property
    def title(self) -> str:
        return f"Exercise {self.number} ({self.name})"

    def __enter__(self) -> Exercise:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        __tracebackhide__ = True
        if exc_type is None:
            print(f"✔ {self.title}: correct — all {self.n_checks} checks passed.")
            return False
        if issubclass(exc_type, NotAttempted):
            note = f" {exc}" if str(exc) else ""
            print(f"{self.title}: not attempted yet.{note}")
            return True
        return False

    # --- failing -------------------------------------------------------------------

    def fail(self, message: str, case: str = "") -> None:
        """Stop the check with :class:`ExerciseError`: ``title: [case: ]message``."""
        __tracebackhide__ = True
        where = f" [{case}]" if case else ""
        raise ExerciseError(f"{self.title}{where}: {message}") from None

    def require(self, condition: bool, message: str, case: str = "") -> None:
        """Count one check; :meth:`fail` with ``message`` unless ``condition`` holds."""
        __tracebackhide__ = True
        self.n_checks += 1
        if not condition:
            self.fail(message, case)

    # --- calling -------------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``fn`` on copies of ``args``; detect stubs and crashes.

        Raises :class:`NotAttempted` for a stub (``NotImplementedError``, ``...``,
        ``None``) and :class:`ExerciseError` (chained to the original error, so the
        student sees the line of *their* code that failed) when ``fn`` raises.
        """
        __tracebackhide__ = True
        if not callable(fn):
            self.fail(
                f"expected a function, got {type(fn).__name__}. Pass the function itself: "
                f"check_...({self.name}), not check_...({self.name}(...))."
            )
        try:
            out = fn(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
        except NotImplementedError:
            raise NotAttempted() from None
        except Exception as err:
            call = ", ".join([_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()])
            raise ExerciseError(
                f"{self.title}: your function raised {type(err).__name__}: {err} "
                f"(called as {self.name}({call})). See the error above this one."
            ) from err
        if out is Ellipsis:
            raise NotAttempted()
        if out is None:
            raise NotAttempted("(Your function returned None: if you wrote code, did you forget `return`?)")
        return out

    # --- comparing -----------------------------------------------------------------

    def compare(
        self,
        got: Any,
        expected: torch.Tensor,
        *,
        case: str = "",
        args: Sequence[Any] = (),
        mistakes: Sequence[Mistake] = (),
        sizes: Mapping[str, int] | None = None,
        nonfinite_hint: str = "Look for a log of 0, an exp that overflows, or a division by 0.",
        atol: float = 1e-4,
        rtol: float = 1e-4,
        check_dtype: bool = True,
    ) -> None:
        """Check that ``got`` equals ``expected``; otherwise fail with the best diagnosis.

        Order: type, shape (:func:`_diagnose.shape_message`), device, dtype, then the
        per-exercise ``mistakes`` (each evaluated on ``args``), NaN/inf (with
        ``nonfinite_hint``), and finally the generic value diagnosers (sign, factor ½ or
        2, sum vs mean over a named size in ``sizes``, an additive constant).
        """
        __tracebackhide__ = True
        self.n_checks += 1
        sizes = dict(sizes or {})
        if isinstance(got, float | int) and not isinstance(got, bool) and expected.ndim == 0:
            got = torch.tensor(float(got), dtype=expected.dtype, device=expected.device)
        if not isinstance(got, torch.Tensor):
            self.fail(f"expected a torch.Tensor, got {type(got).__name__}.", case)
        if tuple(got.shape) != tuple(expected.shape):
            self.fail(_diagnose.shape_message(tuple(expected.shape), tuple(got.shape), sizes), case)
        if got.device != expected.device:
            self.fail(
                f"your result is on {got.device} but the inputs were on {expected.device}: "
                "create new tensors on the inputs' device (device=x.device).",
                case,
            )
        if check_dtype and got.dtype != expected.dtype:
            self.fail(
                f"wrong dtype: expected {expected.dtype} (the dtype of the inputs), got "
                f"{got.dtype}.",
                case,
            )
        got_c, exp_c = got.detach().to(expected.dtype), expected.detach()
        if torch.allclose(got_c, exp_c, atol=atol, rtol=rtol, equal_nan=True):
            return
        for mistake in mistakes:
            wrong = torch.as_tensor(mistake.answer(*args)).to(exp_c)
            if wrong.shape == got_c.shape and torch.allclose(
                got_c, wrong, atol=atol, rtol=rtol, equal_nan=True
            ):
                self.fail(mistake.message, case)
        nonfinite = _diagnose.nonfinite_message(got_c, exp_c)
        if nonfinite is not None:
            self.fail(f"{nonfinite} {nonfinite_hint}", case)
        self.fail(_diagnose.value_message(got_c, exp_c, sizes), case)
