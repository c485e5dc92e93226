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
  one line ``Exercise 1.1 (...): not attempted yet.`` is printed; no exception, except under
  nbgrader's autograder or validator (``NBGRADER_EXECUTION`` set), where the check then raises
  :class:`ExerciseError` so that the test cell earns no points;
* wrong: :class:`ExerciseError` (an ``AssertionError``) is raised with a one-paragraph
  message that says what is wrong. Raising makes a wrong reference solution fail the
  notebook tests, and makes a wrong answer impossible to miss in Jupyter. The framework's
  own frames are marked ``__tracebackhide__`` so IPython and pytest show a short traceback.

Never put the solution in a message: messages describe the mistake, not the fix's code.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import torch

from genmodels.exercises import _diagnose

CALL_TIMEOUT = 10.0
"""Seconds a student's function may take per call before the check stops it (Exercise.call)."""

TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (1e-4, 1e-5),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (2e-2, 1e-2),
}
"""(rtol, atol) by dtype: a comparison uses the looser of the answer's and the reference's."""


def tolerance_for(*dtypes: torch.dtype) -> tuple[float, float]:
    """The (rtol, atol) of the least precise of ``dtypes`` (float32's for non-float dtypes)."""
    pairs = [TOLERANCES.get(d, TOLERANCES[torch.float32]) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


class _RandomState:
    """Every global random state a student's function or a check could touch: Python's,
    NumPy's, torch's CPU generator and every CUDA device's. Restored on exit."""

    def __enter__(self) -> _RandomState:
        self.python = random.getstate()
        self.numpy = np.random.get_state()  # noqa: NPY002 (the legacy global state is what we guard)
        self.torch = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        return self

    def __exit__(self, *exc: object) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)  # noqa: NPY002
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


class CallTimeout(Exception):
    """Raised inside a student's function that ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CallTimeout` in the block after ``seconds`` of wall time.

    Uses ``SIGALRM``, so it works in the main thread on POSIX (a Jupyter kernel, pytest,
    nbgrader's autograder); elsewhere (Windows, a worker thread) the block runs unlimited.
    A Python loop is interrupted at its next bytecode; one long C call (a huge matrix
    product) finishes first.
    """
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise CallTimeout()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


def _same(a: Any, b: Any) -> bool:
    """Whether two draws are identical (tensors: same shape and values)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a.detach().cpu(), b.detach().cpu()))
    return a == b


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
        # A check never changes the global random state: it is saved here and restored on
        # exit, whatever the student's function or the check drew in between.
        self._random_state = _RandomState().__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        __tracebackhide__ = True
        self._random_state.__exit__(exc_type, exc, tb)
        if exc_type is None:
            print(f"✔ {self.title}: correct — all {self.n_checks} checks passed.")
            return False
        if issubclass(exc_type, NotAttempted):
            note = f" {exc}" if str(exc) else ""
            print(f"{self.title}: not attempted yet.{note}")
            if os.environ.get("NBGRADER_EXECUTION") in {"autograde", "validate"}:
                # nbgrader gives a test cell its points unless it raises: a stub earns none.
                raise ExerciseError(f"{self.title}: not attempted, so no points.") from None
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

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = CALL_TIMEOUT,
             **kwargs: Any) -> Any:
        """Call the student's ``fn`` on copies of ``args``; detect stubs, crashes and hangs.

        Raises :class:`NotAttempted` for a stub (``NotImplementedError``, ``...``,
        ``None``) and :class:`ExerciseError` (chained to the original error, so the
        student sees the line of *their* code that failed) when ``fn`` raises, or when it
        runs longer than ``timeout`` seconds (:data:`CALL_TIMEOUT`; ``None``: no limit).
        """
        __tracebackhide__ = True
        if not callable(fn):
            self.fail(
                f"expected a function, got {type(fn).__name__}. Pass the function itself: "
                f"check_...({self.name}), not check_...({self.name}(...))."
            )
        try:
            with time_limit(timeout):
                out = fn(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
        except NotImplementedError:
            raise NotAttempted() from None
        except CallTimeout:
            raise ExerciseError(
                f"{self.title}: your function did not return within {timeout:g} s, so the "
                "check stopped it. Look for a loop that never ends (a `while` whose condition "
                "never changes) or one that runs far more often than needed."
            ) from None
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
        atol: float | None = None,
        rtol: float | None = None,
        check_dtype: bool = True,
        where: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        """Check that ``got`` equals ``expected``; otherwise fail with the best diagnosis.

        Order: type, shape (:func:`_diagnose.shape_message`), device, dtype, NaN/inf (with
        ``nonfinite_hint``; a NaN is reported as a NaN, never matched to a named mistake),
        then the per-exercise ``mistakes`` (each evaluated on ``args``), and finally the
        generic value diagnosers (sign, factor ½ or 2, sum vs mean over a named size in
        ``sizes``, an additive constant) and, failing those, what differs: how many values,
        and which named input property in ``where`` (tensors broadcastable to the answer's
        shape, e.g. ``{"|logit|": logits.abs()}``) the error follows.

        ``atol``/``rtol`` default to :func:`tolerance_for` the answer's and the reference's
        dtypes, so a float32 answer is never held to float64's precision.
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
        default_rtol, default_atol = tolerance_for(got.dtype, expected.dtype)
        rtol = default_rtol if rtol is None else rtol
        atol = default_atol if atol is None else atol
        got_c, exp_c = got.detach().to(expected.dtype), expected.detach()
        if torch.allclose(got_c, exp_c, atol=atol, rtol=rtol, equal_nan=True):
            return
        nonfinite = _diagnose.nonfinite_message(got_c, exp_c)
        if nonfinite is not None and bool((got_c.isnan() & ~exp_c.isnan()).any()):
            self.fail(f"{nonfinite} {nonfinite_hint}", case)  # a NaN is named as a NaN
        for mistake in mistakes:
            with _RandomState():
                wrong = torch.as_tensor(mistake.answer(*args)).to(exp_c)
            if wrong.shape == got_c.shape and torch.allclose(
                got_c, wrong, atol=atol, rtol=rtol, equal_nan=False
            ):
                self.fail(mistake.message, case)
        if nonfinite is not None:  # ±inf that no named mistake explains
            self.fail(f"{nonfinite} {nonfinite_hint}", case)
        self.fail(_diagnose.value_message(got_c, exp_c, sizes, where=where, rtol=rtol,
                                          atol=atol), case)

    # --- properties ----------------------------------------------------------------

    def require_generator_use(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any],
        *,
        draws: Callable[[Any], torch.Tensor] = lambda out: out,
        seeds: tuple[int, int] = (20_231, 77_017),
        **kwargs: Any,
    ) -> torch.Tensor:
        """Check that ``fn(*args, generator=g, **kwargs)`` draws from ``g`` and from ``g`` only.

        Calls it with a generator seeded ``seeds[0]`` twice, with the global random state
        moved in between (the same generator must give the same draws: otherwise the
        function draws from the global state or reseeds it), and once with ``seeds[1]``
        (another generator must give other draws: otherwise it ignores ``generator``, e.g.
        a fixed seed inside or a private ``torch.Generator``). ``draws(out)`` picks the
        random part of the output. Returns the first draws.
        """
        __tracebackhide__ = True
        first = draws(self.call(fn, *args, generator=torch.Generator().manual_seed(seeds[0]),
                                **kwargs))
        torch.manual_seed(seeds[1] + 1)  # move the global state (restored on exit)
        torch.rand(7)
        again = draws(self.call(fn, *args, generator=torch.Generator().manual_seed(seeds[0]),
                                **kwargs))
        other = draws(self.call(fn, *args, generator=torch.Generator().manual_seed(seeds[1]),
                                **kwargs))
        self.require(
            _same(first, again),
            "the same seeded generator gave different draws: your function draws from the "
            "global random state (a torch.rand/randn/randint/multinomial call without "
            "generator=generator) or changes it (torch.manual_seed inside). Pass the "
            "`generator` argument to every random call.",
        )
        self.require(
            not _same(first, other),
            "two different generators gave the same draws: your function ignores its "
            "`generator` argument (a fixed seed inside, or a torch.Generator of its own). "
            "Draw with generator=generator.",
        )
        return first

    def require_counts(self, counts: torch.Tensor, probs: torch.Tensor, what: str,
                       alpha: float = 1e-7, case: str = "") -> None:
        """Two-sided χ² test of observed category ``counts`` against ``probs``.

        Fails when the counts are too uneven (upper tail) **or** too regular (lower tail:
        a deterministic, perfectly balanced assignment is not random), each at level
        ``alpha``, so a correct sampler fails with probability ``2 alpha`` (2e-7 by
        default: below 1e-6 even with a few such tests in one check).
        """
        __tracebackhide__ = True
        from scipy.stats import chi2

        counts = counts.detach().double().cpu()
        probs = probs.detach().double().cpu()
        n = float(counts.sum())
        expected = n * probs
        keep = expected > 0
        stat = float((((counts - expected) ** 2)[keep] / expected[keep]).sum())
        dof = int(keep.sum()) - 1
        upper, lower = float(chi2.sf(stat, dof)), float(chi2.cdf(stat, dof))
        more = " …" if len(counts) > 8 else ""
        shares = ", ".join(f"{float(c) / n:.3f}" for c in counts[:8]) + more
        target = ", ".join(f"{float(q):.3f}" for q in probs[:8]) + more
        self.require(
            upper > alpha,
            f"{what} are too uneven to be random draws with the given probabilities: shares "
            f"{shares} against {target} (chi-square = {stat:.1f} with {dof} degrees of "
            f"freedom, p = {upper:.1e}).",
            case,
        )
        self.require(
            lower > alpha,
            f"{what} are too regular to be random: shares {shares} match {target} more "
            f"closely than random draws ever do (chi-square = {stat:.3g}, P(this small) = "
            f"{lower:.1e}). Draw each one at random (e.g. torch.multinomial with the "
            "generator) instead of assigning them in fixed proportions.",
            case,
        )

    def require_gradients(self, loss: Any, inputs: Mapping[str, torch.Tensor],
                          expected: Mapping[str, torch.Tensor] | None = None,
                          case: str = "") -> None:
        """Check that ``loss`` is a tensor that carries gradients to each named input
        (``requires_grad`` inputs), and, with ``expected``, that they are the right ones."""
        __tracebackhide__ = True
        self.require(
            isinstance(loss, torch.Tensor),
            f"your loss is a {type(loss).__name__}, not a tensor: a loss must stay a torch "
            "tensor so that backward() can reach the parameters (no .item(), float() or "
            ".numpy()).",
            case,
        )
        self.require(
            loss.requires_grad and loss.grad_fn is not None,
            "your loss carries no gradient: it was detached from the graph (.detach(), "
            ".item(), .numpy(), torch.tensor(...) of a result, or a `with torch.no_grad()`), "
            "so training could not change the parameters.",
            case,
        )
        names = list(inputs)
        grads = torch.autograd.grad(loss.sum(), [inputs[n] for n in names], allow_unused=True)
        for name, grad in zip(names, grads, strict=True):
            self.require(grad is not None,
                         f"your loss does not depend on {name}: no gradient reaches it.", case)
            if expected is not None and name in expected:
                ref = expected[name]
                rtol, atol = tolerance_for(grad.dtype, ref.dtype)
                self.require(
                    torch.allclose(grad.to(ref.dtype), ref, rtol=10 * rtol, atol=10 * atol),
                    f"the gradient of your loss with respect to {name} is wrong although its "
                    "value is right: a term is computed outside autograd, or detached part-way.",
                    case,
                )
