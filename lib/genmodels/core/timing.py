"""Timing on any device: wall-clock and CPU seconds of a block, and the cost of sampling.

:class:`Stopwatch` synchronises CUDA or MPS at both ends of a ``with`` block, so queued
kernels are counted; :func:`ms_per_1000_samples` times a sampler (chapter 11's cost table).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import torch

from genmodels.core.validation import is_positive_int


def _synchronize(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device is not None and device.type == "mps":
        torch.mps.synchronize()


class Stopwatch:
    """Measure wall-clock and CPU seconds of a ``with`` block.

    ``with Stopwatch(device) as watch: ...`` then ``watch.wall`` and ``watch.cpu``.
    On CUDA/MPS the device is synchronised at both ends, so queued kernels are counted.
    ``cpu`` is this process's CPU time (all threads): on a loaded machine ``wall`` grows
    while ``cpu`` stays close to the work done.
    """

    def __init__(self, device: torch.device | None = None) -> None:
        self.device = device
        self.wall = float("nan")
        self.cpu = float("nan")

    def __enter__(self) -> Stopwatch:
        _synchronize(self.device)
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _synchronize(self.device)
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


def ms_per_1000_samples(
    sample: Callable[[int], torch.Tensor], n: int = 1000, repeats: int = 3,
    device: torch.device | None = None,
) -> float:
    """Median wall-clock milliseconds that ``sample(n)`` takes, scaled to 1000 samples.

    ``sample(n)`` must return ``n`` samples; it is called once to warm up, then
    ``repeats`` times under :class:`Stopwatch` (with ``torch.no_grad()``).
    """
    if not (is_positive_int(n) and is_positive_int(repeats)):
        raise ValueError(f"n and repeats must be positive ints, got n={n!r}, repeats={repeats!r}.")
    with torch.no_grad():
        out = sample(n)
        if not isinstance(out, torch.Tensor) or out.shape[0] != n:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"sample(n) must return a tensor with n = {n} rows, got {got}.")
        times = []
        for _ in range(repeats):
            with Stopwatch(device) as watch:
                sample(n)
            times.append(watch.wall)
    times.sort()
    return 1000.0 * times[len(times) // 2] * 1000.0 / n
