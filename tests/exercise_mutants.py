"""Wrong answers made mechanically from a right one, to prove that a check cannot go soft.

``output_mutants(reference)`` changes what a correct function returns (scaled, shifted,
negated, transposed, one value perturbed, detached, turned into a Python float, a NaN);
``generator_mutants(reference)`` changes how it draws (the generator ignored, a private
generator, the global state reseeded). A check must reject every mutant that applies
(:func:`rejections`), and :func:`is_specific` tells a specific diagnosis from the generic
fallback, for the share of rejections with a specific message.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch

from genmodels.exercises import ExerciseError

Fn = Callable[..., Any]


def _map_tensors(out: Any, f: Callable[[torch.Tensor], Any]) -> Any:
    if isinstance(out, torch.Tensor):
        return f(out)
    if isinstance(out, tuple):
        return tuple(_map_tensors(o, f) for o in out)
    return out


def _perturb_first(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().clone() if t.is_floating_point() else t.clone()
    if t.numel() and t.is_floating_point():
        t.view(-1)[0] += 0.05 * (1 + t.view(-1)[0].abs())
    return t


def _perturb_last(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().clone() if t.is_floating_point() else t.clone()
    if t.numel() and t.is_floating_point():
        t.view(-1)[-1] -= 0.05 * (1 + t.view(-1)[-1].abs())
    return t


def _one_nan(t: torch.Tensor) -> torch.Tensor:
    if not t.is_floating_point() or t.numel() == 0:
        return t
    t = t.detach().clone()
    t.view(-1)[t.numel() // 2] = float("nan")
    return t


OUTPUT_CHANGES: dict[str, Callable[[torch.Tensor], Any]] = {
    "scaled by 1.01": lambda t: t * 1.01 if t.is_floating_point() else t,
    "negated": lambda t: -t if t.is_floating_point() else t,
    "doubled": lambda t: 2 * t if t.is_floating_point() else t,
    "shifted by 0.01": lambda t: t + 0.01 if t.is_floating_point() else t,
    "first value perturbed": _perturb_first,
    "last value perturbed": _perturb_last,
    "one value NaN": _one_nan,
    "transposed": lambda t: t.T if t.ndim == 2 and t.shape[0] != t.shape[1] else t.flip(-1),
    "detached": lambda t: t.detach(),
    "a Python float": lambda t: float(t.detach()) if t.numel() == 1 else t.detach().tolist(),
}


def output_mutants(reference: Fn, only: tuple[str, ...] | None = None) -> dict[str, Fn]:
    """Mutants of ``reference`` that return a changed output (``only``: a subset by name)."""
    names = only or tuple(OUTPUT_CHANGES)

    def make(change: Callable[[torch.Tensor], Any]) -> Fn:
        def mutant(*args: Any, **kwargs: Any) -> Any:
            return _map_tensors(reference(*args, **kwargs), change)
        mutant.__signature__ = inspect.signature(reference)  # type: ignore[attr-defined]
        return mutant

    return {name: make(OUTPUT_CHANGES[name]) for name in names}


def generator_mutants(reference: Fn) -> dict[str, Fn]:
    """Mutants of a sampler ``reference(..., generator=None)`` that misuse the generator."""

    def ignored(*args: Any, generator: torch.Generator | None = None, **kwargs: Any) -> Any:
        return reference(*args, generator=None, **kwargs)  # the global random state

    def private(*args: Any, generator: torch.Generator | None = None, **kwargs: Any) -> Any:
        return reference(*args, generator=torch.Generator().manual_seed(0), **kwargs)

    def reseeded(*args: Any, generator: torch.Generator | None = None, **kwargs: Any) -> Any:
        torch.manual_seed(0)
        return reference(*args, generator=None, **kwargs)

    return {"generator ignored": ignored, "a private generator": private,
            "the global state reseeded": reseeded}


GENERIC = re.compile(r"with no constant factor or offset|\(the rest are right\); the largest")


def is_specific(message: str) -> bool:
    """Whether a rejection names the mistake or the violated property (not the fallback)."""
    return GENERIC.search(message) is None


def rejection(check: Callable[[Fn], None], answer: Fn) -> str:
    """The message with which ``check`` rejects ``answer``; fails the test if it accepts it."""
    with pytest.raises(ExerciseError) as err:
        check(answer)
    return str(err.value)


def rejections(check: Callable[[Fn], None], mutants: dict[str, Fn]) -> dict[str, str]:
    """Every mutant's rejection message; a mutant that passes fails the calling test."""
    messages = {}
    for name, mutant in mutants.items():
        try:
            messages[name] = rejection(check, mutant)
        except pytest.fail.Exception:
            pytest.fail(f"the check accepted the mutant '{name}' of the reference solution")
    return messages


def accepts(check: Callable[[Fn], None], answer: Fn, capsys: Any, title: str) -> None:
    """``check`` accepts ``answer``: it prints ``✔ <title>: correct``."""
    check(answer)
    assert f"✔ {title}: correct" in capsys.readouterr().out


def rejected_with(check: Callable[[Fn], None], answer: Fn, title: str, fragment: str) -> str:
    """``check`` rejects ``answer`` with a message that starts with ``title`` and contains
    ``fragment``; returns the message."""
    message = rejection(check, answer)
    assert message.startswith(title), message
    assert fragment in message, message
    return message
