"""genmodels.measure.coverage: class coverage against brute-force counting, timers against sleep."""

from __future__ import annotations

import math
import time

import pytest
import torch

from genmodels.core import timing
from genmodels.measure import coverage


def brute_force_kl_to_uniform(labels: list[int], k: int) -> float:
    n = len(labels)
    total = 0.0
    for c in range(k):
        p = labels.count(c) / n
        if p > 0:
            total += p * math.log(p / (1.0 / k))
    return total


def test_histogram_and_kl_match_brute_force_counting():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (500,), generator=g)
    labels[labels == 3] = 0  # class 3 empty
    shares = coverage.class_histogram(labels, 10)
    for c in range(10):
        assert shares[c].item() == pytest.approx(labels.tolist().count(c) / 500)
    assert coverage.kl_to_uniform(shares) == pytest.approx(
        brute_force_kl_to_uniform(labels.tolist(), 10), abs=1e-12)


def test_kl_extremes_are_zero_and_log_k():
    assert coverage.kl_to_uniform(torch.full((10,), 0.1, dtype=torch.float64)) == pytest.approx(0.0, abs=1e-12)
    one = torch.zeros(10, dtype=torch.float64)
    one[4] = 1.0
    assert coverage.kl_to_uniform(one) == pytest.approx(math.log(10))


def test_class_coverage_counts_classes_above_threshold():
    # 1000 samples: 600 of class 0, 395 of class 1, 5 of class 2 (0.5 % < 1 %)
    labels = torch.tensor([0] * 600 + [1] * 395 + [2] * 5)
    probs = torch.nn.functional.one_hot(labels, 10).double() * 0.9 + 0.01
    cov = coverage.class_coverage(probs)
    assert cov.covered == 2
    assert coverage.class_coverage(probs, min_share=0.005).covered == 3
    assert cov.kl_to_uniform == pytest.approx(brute_force_kl_to_uniform(labels.tolist(), 10))
    assert "2/10 classes covered" in str(cov)


@pytest.mark.parametrize(
    ("args", "message"),
    [((torch.tensor([0.0, 1.0]), 3), "int64"), ((torch.tensor([0, 5]), 3), "0..2"),
     ((torch.tensor([], dtype=torch.int64), 3), "empty")],
)
def test_histogram_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        coverage.class_histogram(*args)


def test_class_coverage_rejects_labels():
    with pytest.raises(ValueError, match=r"\[n, K\]"):
        coverage.class_coverage(torch.tensor([1, 2, 3]))


class FakeClock:
    """Stands for the time module in genmodels.core.timing: the test moves the clocks."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 7.0

    def perf_counter(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.cpu


def test_stopwatch_reads_the_wall_and_cpu_clocks(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(timing, "time", clock)
    with timing.Stopwatch() as watch:
        clock.wall += 2.5  # a block that waited: wall time passes, little CPU time
        clock.cpu += 0.25
    assert watch.wall == 2.5 and watch.cpu == 0.25


def test_stopwatch_measures_at_least_a_sleep():
    with timing.Stopwatch() as watch:
        time.sleep(0.05)
    assert watch.wall >= 0.05 and watch.cpu >= 0.0  # lower bounds only: a loaded machine is slower


def test_ms_per_1000_samples_scales_with_n(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(timing, "time", clock)
    calls = []

    def sample(n):
        calls.append(n)
        clock.wall += 0.010 * (1 + len(calls) % 2)  # 10 or 20 ms per call of 500 samples
        return torch.zeros(n, 2)

    ms = timing.ms_per_1000_samples(sample, n=500, repeats=3)
    assert calls == [500] * 4  # one warm-up call, then three timed
    assert ms == pytest.approx(20.0)  # the median of 10, 20, 10 ms for 500 -> 20 ms per 1000


def test_ms_per_1000_samples_checks_the_sampler():
    with pytest.raises(ValueError, match="n = 10 rows"):
        timing.ms_per_1000_samples(lambda n: torch.zeros(3, 2), n=10)
