"""Comparing generative models: class coverage of samples and the cost to train and sample.

* :func:`class_coverage` — how a classifier spreads a model's samples over the K classes:
  the class histogram, the classes covered and the KL divergence of the histogram to the
  uniform distribution (Book: eq-class-kl-to-uniform, chapter 11).
* :class:`Stopwatch` — wall-clock and CPU time of a block of code, synchronising an
  accelerator before reading the clock.
* :func:`ms_per_1000_samples` — the measured cost to sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genmodels.core.validation import check_float, check_positive_int, check_tensor

__all__ = [
    "ClassCoverage",
    "class_coverage",
    "class_histogram",
    "kl_to_uniform",
]


def class_histogram(predicted: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Share of each class among predicted labels ``predicted`` ``[n]`` (int64) → ``[K]`` float64.

    The shares sum to 1. Book: eq-class-kl-to-uniform (chapter 11).
    """
    check_positive_int(n_classes, "n_classes")
    if not isinstance(predicted, torch.Tensor) or predicted.ndim != 1 or predicted.dtype != torch.int64:
        what = (f"shape {tuple(predicted.shape)}, dtype {predicted.dtype}"
                if isinstance(predicted, torch.Tensor) else type(predicted).__name__)
        raise ValueError(
            f"predicted must be a 1-d int64 tensor of class indices [n], got {what}; use "
            "probs.argmax(dim=1) on a classifier's probabilities [n, K]."
        )
    if predicted.numel() == 0:
        raise ValueError("predicted is empty: pass the labels of at least one sample.")
    if int(predicted.min()) < 0 or int(predicted.max()) >= n_classes:
        raise ValueError(
            f"class indices must lie in 0..{n_classes - 1}, got values in "
            f"{int(predicted.min())}..{int(predicted.max())}; is n_classes right?"
        )
    counts = torch.bincount(predicted.detach().cpu(), minlength=n_classes)
    return counts.double() / predicted.numel()


def kl_to_uniform(shares: torch.Tensor) -> float:
    """KL(p ‖ uniform) = Σ_k p_k log(K p_k) = log K − H(p), in nats, of shares ``[K]``.

    0 when every class has share 1/K, log K when all samples fall in one class; empty
    classes contribute 0 (0 log 0 = 0). Book: eq-class-kl-to-uniform (chapter 11).
    """
    check_tensor(shares, "shares", ("K",), hint="a class histogram")
    p = shares.detach().to("cpu", torch.float64)
    if torch.any(p < 0) or abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError("shares must be non-negative and sum to 1 (a class histogram).")
    k = p.numel()
    return float((torch.xlogy(p, p) + p * math.log(k)).sum())


@dataclass(frozen=True)
class ClassCoverage:
    """How samples spread over the classes (see :func:`class_coverage`).

    Attributes:
        shares: share of the samples assigned to each class, ``[K]`` float64 (sums to 1).
        covered: number of classes whose share is at least ``min_share``.
        kl_to_uniform: KL(shares ‖ uniform) in nats; 0 is perfectly balanced, log K is one class.
        min_share: the threshold used for ``covered``.
    """

    shares: torch.Tensor
    covered: int
    kl_to_uniform: float
    min_share: float

    def __str__(self) -> str:
        return (f"{self.covered}/{self.shares.numel()} classes covered (share ≥ {self.min_share:.0%}), "
                f"KL to uniform {self.kl_to_uniform:.3f} nats")


def _check_coverage_inputs(probs: torch.Tensor, min_share: float) -> None:
    check_tensor(probs, "probs", ("n", "K"), hint="a classifier's class probabilities")
    check_float(min_share, "min_share", minimum=0.0, maximum=1.0, open_below=True)


def class_coverage(probs: torch.Tensor, min_share: float = 0.01) -> ClassCoverage:
    """Class coverage of samples from a classifier's probabilities ``probs`` ``[n, K]``.

    Each sample is assigned its most probable class; a class is *covered* when at least
    ``min_share`` of the samples are assigned to it (default 1 %, a tenth of the uniform
    share for K = 10, so that a handful of ambiguous samples do not count as a mode).
    Book: eq-class-kl-to-uniform (chapter 11).
    """
    _check_coverage_inputs(probs, min_share)
    shares = class_histogram(probs.argmax(dim=1), probs.shape[1])
    covered = int((shares >= min_share).sum())
    return ClassCoverage(shares, covered, kl_to_uniform(shares), min_share)
