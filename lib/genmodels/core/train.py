"""Training loops: in-memory minibatches, a budget by epochs or seconds, and a History.

The datasets of the course fit in memory (Fashion-MNIST is 47 MB as uint8), so batches
are cut from tensors that already live on the training device: a permutation is drawn
from a ``torch.Generator`` and used to index the tensors — no ``DataLoader`` workers, no
host-to-device copy per step.

:func:`fit` runs any step function (an autoencoder step, a VAE step, a GAN step) under a
budget and records what the step returns. It never calls ``.item()`` per step: the
step's scalar terms are stacked **on the device** into a buffer, and the buffer is copied
to the host once every ``log_every`` steps (and at the end of every epoch). That copy is
the only host synchronisation of the loop, so on a GPU the host can queue many steps
ahead of the device. The price is that a NaN or an infinity is *found* at the next copy,
not at the step that produced it; the error still names the exact step and term, because
every step's values are kept.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from genmodels.core.validation import check_float, check_positive_int

__all__ = ["History", "fit", "fixed_step_minibatches", "minibatches"]


def _rows_and_device(tensors: tuple[torch.Tensor, ...], batch_size: int) -> tuple[int, torch.device]:
    """Check the arguments of :func:`minibatches`; return the number of rows N and the device."""
    if not tensors:
        raise ValueError("minibatches() needs at least one tensor, e.g. minibatches(x, batch_size=128).")
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"argument {i} of minibatches() must be a torch.Tensor, got {type(t).__name__}.")
        if t.ndim == 0:
            raise ValueError(f"argument {i} of minibatches() is a scalar; expected a tensor of shape [N, ...].")
    n = tensors[0].shape[0]
    sizes = [t.shape[0] for t in tensors]
    if any(s != n for s in sizes):
        raise ValueError(f"all tensors must have the same first dimension, got sizes {sizes}.")
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"all tensors must be on one device, got {sorted(map(str, devices))}; move them with .to(device).")
    check_positive_int(batch_size, "batch_size")
    if n == 0:
        raise ValueError(f"the data set is empty: argument 0 of minibatches() has shape "
                         f"{tuple(tensors[0].shape)}, 0 rows; pass at least one row (check the "
                         "filter or the slice that built it).")
    return n, tensors[0].device


def minibatches(
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield aligned minibatches ``(t1[idx], t2[idx], ...)`` of in-memory tensors.

    Args:
        tensors: one or more tensors with the same first dimension ``N`` (e.g. images
            ``[N, 1, 28, 28]`` and labels ``[N]``), all on the same device.
        batch_size: the number of rows per batch; the last batch is smaller unless
            ``drop_last``.
        shuffle: draw a fresh random permutation of ``range(N)`` (from ``generator``);
            otherwise batches are consecutive slices.
        generator: the source of randomness of the permutation; the same seed gives the
            same batches.
        drop_last: drop a last, incomplete batch.

    Yields:
        tuples of tensors of shape ``[B, ...]`` with ``B <= batch_size``, on the tensors'
        device. Each index of ``range(N)`` appears exactly once per pass (only in batches
        that are yielded, if ``drop_last``).
    """
    n, device = _rows_and_device(tensors, batch_size)
    if shuffle:
        perm_device = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(n, generator=generator, device=perm_device).to(device)
    else:
        order = None
    stop = (n // batch_size) * batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, n)
        if order is None:
            yield tuple(t[start:end] for t in tensors)
        else:
            idx = order[start:end]
            yield tuple(t[idx] for t in tensors)



def _check_fixed_step_budget(x: torch.Tensor, n_steps: int, batch_size: int) -> None:
    check_positive_int(n_steps, "n_steps")
    check_positive_int(batch_size, "batch_size")
    if not isinstance(x, torch.Tensor) or x.ndim == 0:
        what = "a scalar" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"x must be a tensor [N, ...] of training rows, got {what}.")
    if x.shape[0] < batch_size:
        raise ValueError(
            f"x holds {x.shape[0]} rows, fewer than one batch of {batch_size}; "
            "lower batch_size or pass more rows."
        )


def fixed_step_minibatches(
    x: torch.Tensor, n_steps: int, batch_size: int, generator: torch.Generator | None = None
) -> Callable[[], Iterator[torch.Tensor]]:
    """``make_batches`` for :func:`fit` whose iterable yields exactly ``n_steps`` batches of ``x``.

    A budget counted in updates rather than epochs (chapter 11 gives every model the same
    number of updates): the batches are shuffled passes over ``x`` ``[N, ...]`` as
    :func:`minibatches` cuts them (full batches ``[batch_size, ...]`` only, ``drop_last``),
    as many passes as needed. A pass draws its permutation from ``generator`` when its
    first batch is taken, so no permutation is drawn that is not used. Train with
    ``fit(step, fixed_step_minibatches(x, n_steps, batch_size, g), epochs=1)``; each call of
    the returned function starts afresh (another ``n_steps`` batches).
    """
    _check_fixed_step_budget(x, n_steps, batch_size)

    def make() -> Iterator[torch.Tensor]:
        done = 0
        while True:
            for (batch,) in minibatches(x, batch_size=batch_size, generator=generator,
                                        drop_last=True):
                yield batch
                done += 1
                if done == n_steps:
                    return

    return make

@dataclass
class History:
    """What :func:`fit` recorded.

    Attributes:
        steps: the global index (0-based) of every recorded step; one record per step.
        values: term name -> one float per record (e.g. ``values["loss"][i]`` is the loss
            returned by step ``steps[i]``).
        epochs: the number of **complete** epochs.
        n_steps: the number of optimisation steps run.
        wall_time: seconds spent in :func:`fit`.
        stopped_by: ``"epochs"``, ``"seconds"`` or ``""`` (not finished).
        epoch_values: name -> one float per record of the ``on_epoch_end`` callback of
            :func:`fit` (e.g. a test ELBO): one per complete epoch, plus one before the
            first step with ``evaluate_at_start``.
        epoch_steps: the number of steps done when each record of ``epoch_values`` was
            taken (0 for the record before training).
    """

    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    epochs: int = 0
    n_steps: int = 0
    wall_time: float = 0.0
    stopped_by: str = ""
    epoch_values: dict[str, list[float]] = field(default_factory=dict)
    epoch_steps: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def names(self) -> list[str]:
        """The names of the recorded per-step terms."""
        return list(self.values)

    def last(self, name: str) -> float:
        """The last recorded value of term ``name``."""
        if name not in self.values or not self.values[name]:
            raise KeyError(f"no value recorded for {name!r}; recorded terms: {self.names}.")
        return self.values[name][-1]

    def record_epoch_values(self, values: Mapping[str, float]) -> None:
        """Append one record of ``values`` (name -> float) to ``epoch_values``, taken after
        ``n_steps`` steps."""
        self.epoch_steps.append(int(self.n_steps))
        for name, value in values.items():
            self.epoch_values.setdefault(name, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (lists, floats, ints, str): safe for JSON and for
        ``torch.load(weights_only=True)``."""
        return {
            "steps": list(self.steps),
            "values": {k: list(v) for k, v in self.values.items()},
            "epochs": int(self.epochs),
            "n_steps": int(self.n_steps),
            "wall_time": float(self.wall_time),
            "stopped_by": str(self.stopped_by),
            "epoch_values": {k: list(v) for k, v in self.epoch_values.items()},
            "epoch_steps": list(self.epoch_steps),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        missing = {"steps", "values"} - set(d)
        if missing:
            raise ValueError(f"not a History dictionary: missing keys {sorted(missing)}.")
        return cls(
            steps=[int(s) for s in d["steps"]],
            values={k: [float(x) for x in v] for k, v in d["values"].items()},
            epochs=int(d.get("epochs", 0)),
            n_steps=int(d.get("n_steps", len(d["steps"]))),
            wall_time=float(d.get("wall_time", 0.0)),
            stopped_by=str(d.get("stopped_by", "")),
            epoch_values={k: [float(x) for x in v] for k, v in d.get("epoch_values", {}).items()},
            epoch_steps=[int(s) for s in d.get("epoch_steps", [])],
        )


class _DeviceBuffer:
    """Per-step scalar terms kept on the device until :meth:`flush` copies them once."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.names: tuple[str, ...] | None = None
        self.rows: list[torch.Tensor] = []
        self.first_step = 0

    def add(self, step_index: int, terms: Mapping[str, Any]) -> None:
        if not isinstance(terms, Mapping) or not terms:
            raise TypeError(
                f"the step function must return a non-empty dict of scalar terms, e.g. "
                f"{{'loss': loss}}; step {step_index} returned {type(terms).__name__}."
            )
        names = tuple(terms)
        if self.names is None:
            self.names = names
            for name in names:
                self.history.values.setdefault(name, [])
        elif names != self.names:
            raise ValueError(
                f"the step function must return the same terms every step: step {step_index} "
                f"returned {list(names)}, earlier steps returned {list(self.names)}."
            )
        if not self.rows:
            self.first_step = step_index
        self.rows.append(_stack_scalars(step_index, terms))

    def flush(self) -> None:
        """Copy the buffered values to the host (the loop's only sync) and check them."""
        if not self.rows:
            return
        assert self.names is not None
        block = torch.stack([r.to(self.rows[0].device) for r in self.rows]).cpu().tolist()
        first = self.first_step
        self.rows = []
        for offset, row in enumerate(block):
            for name, value in zip(self.names, row, strict=True):
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"term {name!r} is {value} at step {first + offset} (0-based; found when "
                        f"the values of steps {first}..{first + len(block) - 1} were copied to "
                        "the host). Lower the learning rate, check the input scaling, or use a "
                        "numerically stable loss (e.g. logits with BCEWithLogits)."
                    )
        for offset, row in enumerate(block):
            self.history.steps.append(first + offset)
            for name, value in zip(self.names, row, strict=True):
                self.history.values[name].append(value)


def _stack_scalars(step_index: int, terms: Mapping[str, Any]) -> torch.Tensor:
    """Stack the step's scalar terms into one float32 vector on their device (no sync)."""
    device = None
    for v in terms.values():
        if isinstance(v, torch.Tensor):
            device = v.device
            break
    scalars = []
    for name, v in terms.items():
        t = torch.as_tensor(v.detach() if isinstance(v, torch.Tensor) else v, dtype=torch.float32, device=device)
        if t.numel() != 1:
            raise ValueError(
                f"term {name!r} of step {step_index} has shape {tuple(t.shape)}; expected a "
                "scalar: reduce it (e.g. .mean()) inside the step function."
            )
        scalars.append(t.reshape(()))
    return torch.stack(scalars)


def _progress_enabled(progress: bool) -> bool:
    flag = os.environ.get("GENMODELS_PROGRESS")
    if flag is not None and flag.strip().lower() in {"0", "false", "no", "off"}:
        return False
    return bool(progress)


def fit(
    step: Callable[..., Mapping[str, Any]],
    make_batches: Callable[[], Iterable[Any]],
    *,
    epochs: int | None = None,
    seconds: float | None = None,
    log_every: int = 50,
    progress: bool = True,
    desc: str | None = None,
    on_epoch_end: Callable[[int, History], Mapping[str, float] | None] | None = None,
    evaluate_at_start: bool = False,
) -> History:
    """Run ``step`` on every batch of ``make_batches()``, epoch after epoch, within a budget.

    Args:
        step: called as ``step(*batch)`` (or ``step(batch)`` if a batch is not a tuple or
            list);
            does one optimisation step and returns a dict of **scalar** tensors, e.g.
            ``{"loss": loss, "kl": kl.mean()}``. They are detached here; calling
            ``.item()`` inside ``step`` would defeat the point.
        make_batches: returns a fresh iterable of batches for each epoch, e.g.
            ``lambda: minibatches(x, batch_size=128, generator=g)``.
        epochs: stop after this many complete epochs.
        seconds: stop at the first step boundary after this many seconds of wall time
            (checked on the host before each step, so it costs no sync). With both
            budgets, whichever is reached first stops training; at least one is required.
        log_every: copy the buffered values to the host every this many steps (and at
            each epoch end). It bounds how late a NaN is detected and how often the
            progress bar's numbers refresh; it does not thin the record.
        progress: show a ``tqdm.auto`` progress bar (set the environment variable
            ``GENMODELS_PROGRESS=0`` to turn all bars off, e.g. when building the book).
        desc: the progress bar's label.
        on_epoch_end: called as ``on_epoch_end(epoch, history)`` after each complete
            epoch (``epoch`` counts from 1, ``history`` is up to date); a returned dict
            of floats is appended to ``history.epoch_values``. Use it to evaluate or to
            keep samples over training.
        evaluate_at_start: also call ``on_epoch_end(0, history)`` before the first step,
            so that ``history.epoch_values`` start with the untrained model.

    Returns:
        a :class:`History` with one record per step, ``epochs`` complete epochs,
        ``n_steps`` steps and ``stopped_by`` set to the budget that stopped training.

    Raises:
        FloatingPointError: a term was NaN or infinite; the message names the step and
            the term.
    """
    if epochs is None and seconds is None:
        raise ValueError("fit() needs a budget: pass epochs=... and/or seconds=....")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    if seconds is not None:
        check_float(seconds, "seconds", minimum=0, open_below=True, hint="a time budget")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be a positive int, got {log_every!r}.")
    if not callable(make_batches):
        raise TypeError(
            "make_batches must be a function returning a fresh iterable per epoch, e.g. "
            "lambda: minibatches(x, batch_size=128); got "
            f"{type(make_batches).__name__}."
        )

    from tqdm.auto import tqdm

    history = History()
    buffer = _DeviceBuffer(history)
    start = time.perf_counter()
    deadline = None if seconds is None else start + float(seconds)
    bar = tqdm(total=None, desc=desc, disable=not _progress_enabled(progress), leave=False, unit="step")
    step_index = 0
    out_of_time = False
    try:
        if evaluate_at_start and on_epoch_end is not None:
            extra = on_epoch_end(0, history)
            if extra is not None:
                history.record_epoch_values(extra)
        epoch = 0
        while epochs is None or epoch < epochs:
            batches = make_batches()
            if epoch == 0 and epochs is not None and hasattr(batches, "__len__"):
                bar.total = epochs * len(batches)  # type: ignore[arg-type]
                bar.refresh()
            n_in_epoch = 0
            for batch in batches:
                if deadline is not None and time.perf_counter() >= deadline:
                    out_of_time = True
                    break
                terms = step(*batch) if isinstance(batch, (tuple, list)) else step(batch)
                buffer.add(step_index, terms)
                step_index += 1
                n_in_epoch += 1
                bar.update(1)
                if step_index % log_every == 0:
                    buffer.flush()
                    bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in history.values.items()}, refresh=False)
            history.n_steps = step_index
            if out_of_time:
                break
            if n_in_epoch == 0:
                raise ValueError(
                    f"make_batches() returned no batches in epoch {epoch + 1}; it must return "
                    "a fresh, non-empty iterable each time it is called: either the data set "
                    "is empty (or smaller than one batch with drop_last), or make_batches "
                    "returned a generator object, which is exhausted after one epoch — pass "
                    "a lambda that creates it."
                )
            buffer.flush()
            epoch += 1
            history.epochs = epoch
            if on_epoch_end is not None:
                extra = on_epoch_end(epoch, history)
                if extra is not None:
                    history.record_epoch_values(extra)
            if deadline is not None and time.perf_counter() >= deadline:
                out_of_time = True
                break
        buffer.flush()
        history.stopped_by = "seconds" if out_of_time else "epochs"
    finally:
        history.n_steps = step_index
        history.wall_time = time.perf_counter() - start
        bar.close()
    return history
