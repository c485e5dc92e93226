"""Tests of genmodels.core.train: minibatches, the budgets of fit, the History, NaN detection,
and the absence of per-step host synchronisation."""

from __future__ import annotations

import math
import time

import pytest
import torch
from conftest import FakeClock

from genmodels.core import train as train_module
from genmodels.core.train import History, fit, fixed_step_minibatches, minibatches


@pytest.fixture(autouse=True)
def _no_progress_bars(monkeypatch):
    monkeypatch.setenv("GENMODELS_PROGRESS", "0")


# --- minibatches -------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (7, 10), (1, 1)])
def test_minibatches_cover_every_index_exactly_once(n, batch_size):
    x = torch.arange(n)
    y = torch.arange(n) * 10
    g = torch.Generator().manual_seed(0)
    batches = list(minibatches(x, y, batch_size=batch_size, generator=g))
    assert len(batches) == math.ceil(n / batch_size)
    assert all(len(bx) <= batch_size for bx, _ in batches)
    seen = torch.cat([bx for bx, _ in batches])
    assert sorted(seen.tolist()) == list(range(n))
    for bx, by in batches:  # rows stay aligned across tensors
        assert torch.equal(by, bx * 10)


def test_minibatches_reproducible_with_seed_and_shuffled():
    x = torch.arange(100)
    first = [b[0] for b in minibatches(x, batch_size=16, generator=torch.Generator().manual_seed(3))]
    again = [b[0] for b in minibatches(x, batch_size=16, generator=torch.Generator().manual_seed(3))]
    other = [b[0] for b in minibatches(x, batch_size=16, generator=torch.Generator().manual_seed(4))]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(torch.cat(first), torch.cat(other))
    assert not torch.equal(torch.cat(first), x)  # actually shuffled


def test_minibatches_without_shuffle_and_drop_last():
    x = torch.arange(10)
    batches = [b[0].tolist() for b in minibatches(x, batch_size=4, shuffle=False, drop_last=True)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_minibatches_stay_on_the_tensors_device():
    x = torch.randn(9, 2, dtype=torch.float64)
    (b,) = next(iter(minibatches(x, batch_size=4)))
    assert b.device == x.device and b.dtype == torch.float64


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((), {"batch_size": 2}, "at least one tensor"),
        ((torch.zeros(3), torch.zeros(4)), {"batch_size": 2}, "same first dimension"),
        ((torch.zeros(3),), {"batch_size": 0}, "positive int"),
        (([1, 2, 3],), {"batch_size": 2}, "torch.Tensor"),
    ],
)
def test_minibatches_bad_input(args, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        list(minibatches(*args, **kwargs))



# --- fixed_step_minibatches ----------------------------------------------------------------


def _batches_cut_by_hand(n: int, batch_size: int, n_steps: int, seed: int) -> tuple[list, torch.Generator]:
    """The reference: full batches of consecutive permutations of range(n), drawn one by one."""
    g = torch.Generator().manual_seed(seed)
    batches: list[list[int]] = []
    while len(batches) < n_steps:
        perm = torch.randperm(n, generator=g).tolist()
        batches += [perm[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    return batches[:n_steps], g


@pytest.mark.parametrize("n, batch_size, n_steps", [(10, 3, 7), (10, 3, 6), (12, 4, 3), (5, 5, 4)])
def test_fixed_step_minibatches_matches_shuffled_passes_cut_by_hand(n, batch_size, n_steps):
    x = torch.arange(n).reshape(n, 1)
    g = torch.Generator().manual_seed(5)
    got = [b.flatten().tolist() for b in fixed_step_minibatches(x, n_steps, batch_size, g)()]
    expected, reference = _batches_cut_by_hand(n, batch_size, n_steps, seed=5)
    assert got == expected
    # no permutation is drawn beyond the last batch used (n_steps = 6: exactly two passes)
    assert torch.equal(g.get_state(), reference.get_state())


def test_fixed_step_minibatches_starts_afresh_and_drives_fit():
    x = torch.arange(20.0).reshape(20, 1)
    make = fixed_step_minibatches(x, 9, 4, torch.Generator().manual_seed(0))
    first, second = list(make()), list(make())
    assert len(first) == len(second) == 9
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    step, calls = _counting_step()
    history = fit(step, fixed_step_minibatches(x, 9, 4, torch.Generator().manual_seed(0)),
                  epochs=1, progress=False)
    assert history.n_steps == 9 and calls == [4] * 9


@pytest.mark.parametrize(
    "x, n_steps, batch_size, error, match",
    [
        (torch.zeros(4, 1), 0, 2, ValueError, "n_steps must be a positive int, got 0"),
        (torch.zeros(4, 1), 3, True, ValueError, "batch_size must be a positive int"),
        (torch.zeros(4, 1), 3, 8, ValueError, "4 rows, fewer than one batch of 8"),
        ([1.0, 2.0], 3, 1, TypeError, "x must be a tensor"),
    ],
)
def test_fixed_step_minibatches_bad_input(x, n_steps, batch_size, error, match):
    with pytest.raises(error, match=match):
        fixed_step_minibatches(x, n_steps, batch_size, torch.Generator())

# --- fit ---------------------------------------------------------------------------------


def _counting_step():
    calls = []

    def step(xb):
        calls.append(len(xb))
        return {"loss": xb.float().mean(), "size": torch.tensor(float(len(xb)))}

    return step, calls


def test_fit_respects_epoch_budget_and_records_every_step():
    x = torch.arange(10)
    step, calls = _counting_step()
    hist = fit(step, lambda: minibatches(x, batch_size=3), epochs=4, log_every=5)
    assert hist.epochs == 4 and hist.n_steps == 16 and len(calls) == 16
    assert hist.stopped_by == "epochs"
    assert len(hist) == 16 and hist.steps == list(range(16))
    assert set(hist.values) == {"loss", "size"}
    assert all(len(v) == 16 for v in hist.values.values())
    assert hist.values["size"][:4] == [3.0, 3.0, 3.0, 1.0]  # independent of log_every
    assert hist.wall_time > 0


def test_fit_respects_seconds_budget(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(train_module, "time", clock)
    x = torch.arange(1000)

    def slow_step(xb):
        clock.advance(1 / 64)  # each step takes 1/64 s (exact in binary)
        return {"loss": xb.float().mean()}

    hist = fit(slow_step, lambda: minibatches(x, batch_size=10), seconds=20 / 64, log_every=7)
    assert hist.stopped_by == "seconds"
    assert hist.n_steps == 20  # the budget is checked before each step: 20 steps fill it
    assert hist.epochs == 0  # 100 steps per epoch: it stopped mid-epoch
    assert len(hist) == hist.n_steps  # the partial buffer was flushed
    assert hist.wall_time == 20 / 64


def test_fit_counts_complete_epochs_under_seconds_budget(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(train_module, "time", clock)
    x = torch.arange(4)
    step, _ = _counting_step()

    def slow(xb):
        clock.advance(1 / 32)
        return step(xb)

    hist = fit(slow, lambda: minibatches(x, batch_size=2), seconds=11 / 32)
    assert hist.stopped_by == "seconds"
    assert hist.epochs == 5 and hist.n_steps == 11  # 5 whole epochs of 2 steps, then one more


def test_fit_with_a_real_clock_stops_after_its_budget():
    def slow_step(xb):
        time.sleep(0.01)
        return {"loss": xb.float().mean()}

    t0 = time.perf_counter()
    hist = fit(slow_step, lambda: minibatches(torch.arange(1000), batch_size=10), seconds=0.05)
    assert time.perf_counter() - t0 >= 0.05  # lower bounds only: a loaded machine is slower
    # Stopped by the clock before the 100 batches (at least 1 s of sleeping); how many steps
    # fit into the budget depends on the machine's load (none, when the machine is busy
    # enough), so that number is not asserted here (the patched clock above asserts it).
    assert hist.stopped_by == "seconds" and hist.n_steps < 100


def test_fit_whichever_budget_comes_first():
    step, _ = _counting_step()
    hist = fit(step, lambda: minibatches(torch.arange(6), batch_size=2), epochs=2, seconds=60)
    assert hist.stopped_by == "epochs" and hist.n_steps == 6


def test_fit_detects_nan_and_names_step_and_term():
    x = torch.arange(40)
    counter = {"i": 0}

    def step(xb):
        i = counter["i"]
        counter["i"] += 1
        kl = torch.tensor(float("nan")) if i == 7 else torch.tensor(1.0)
        return {"loss": xb.float().mean(), "kl": kl}

    with pytest.raises(FloatingPointError, match=r"'kl' is nan at step 7\b"):
        fit(step, lambda: minibatches(x, batch_size=2), epochs=1, log_every=5)


def test_fit_detects_inf():
    def step(xb):
        return {"loss": torch.tensor(float("inf"))}

    with pytest.raises(FloatingPointError, match=r"'loss' is inf at step 0"):
        fit(step, lambda: minibatches(torch.arange(4), batch_size=2), epochs=1)


def test_fit_makes_no_per_step_host_sync(monkeypatch):
    """.item() is never called, and values reach the host once per log_every steps."""
    counts = {"item": 0, "cpu": 0, "tolist": 0}
    orig = {name: getattr(torch.Tensor, name) for name in counts}

    def counting(name):
        def wrapper(self, *a, **k):
            counts[name] += 1
            return orig[name](self, *a, **k)

        return wrapper

    for name in counts:
        monkeypatch.setattr(torch.Tensor, name, counting(name))

    w = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))

    def step(xb):
        opt.zero_grad()
        loss = ((xb - w) ** 2).sum(1).mean()
        loss.backward()
        opt.step()
        return {"loss": loss}

    hist = fit(step, lambda: minibatches(x, batch_size=10, shuffle=False), epochs=2, log_every=8)
    for name in counts:
        monkeypatch.setattr(torch.Tensor, name, orig[name])
    assert hist.n_steps == 40
    assert counts["item"] == 0
    # ceil(20/8)=3 copies per epoch (8, 16, end of epoch): 6 for 40 steps, not 40
    assert counts["cpu"] == 6
    assert counts["tolist"] == 6


def test_fit_on_epoch_end_callback():
    seen = []

    def on_epoch_end(epoch, history):
        seen.append((epoch, len(history)))
        return {"epoch_squared": epoch**2}

    step, _ = _counting_step()
    hist = fit(step, lambda: minibatches(torch.arange(6), batch_size=4), epochs=3,
               log_every=100, on_epoch_end=on_epoch_end)
    assert seen == [(1, 2), (2, 4), (3, 6)]  # history is up to date in the callback
    assert hist.epoch_values == {"epoch_squared": [1.0, 4.0, 9.0]}
    assert hist.epoch_steps == [2, 4, 6]  # 6 rows in batches of 4: 2 steps per epoch


def test_fit_evaluate_at_start_records_the_untrained_model_first():
    seen = []

    def on_epoch_end(epoch, history):
        seen.append((epoch, history.n_steps, len(history)))
        return {"epoch": epoch} if epoch != 2 else None  # no record for epoch 2

    step, _ = _counting_step()
    hist = fit(step, lambda: minibatches(torch.arange(5), batch_size=2), epochs=3,
               on_epoch_end=on_epoch_end, evaluate_at_start=True)
    assert seen == [(0, 0, 0), (1, 3, 3), (2, 6, 6), (3, 9, 9)]  # 3 steps per epoch
    assert hist.epoch_values == {"epoch": [0.0, 1.0, 3.0]}
    assert hist.epoch_steps == [0, 3, 9]
    again = fit(step, lambda: minibatches(torch.arange(5), batch_size=2), epochs=1,
                on_epoch_end=on_epoch_end)  # off by default: no call before the first step
    assert again.epoch_steps == [3] and seen[-1] == (1, 3, 3)


def test_fit_learns_a_mean():
    """A sanity check that fit runs a real optimiser: SGD on the squared error reaches the
    sample mean (closed form)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g) + torch.tensor([2.0, -1.0])
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.2)

    def step(xb):
        opt.zero_grad()
        loss = ((xb - w) ** 2).sum(1).mean()
        loss.backward()
        opt.step()
        return {"loss": loss}

    fit(step, lambda: minibatches(x, batch_size=256), epochs=60)
    assert torch.allclose(w.detach(), x.mean(0), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "needs a budget"),
        ({"epochs": 0}, "epochs must be"),
        ({"seconds": -1.0}, "seconds must be"),
        ({"epochs": 1, "log_every": 0}, "log_every"),
    ],
)
def test_fit_bad_arguments(kwargs, match):
    step, _ = _counting_step()
    with pytest.raises(ValueError, match=match):
        fit(step, lambda: minibatches(torch.arange(4), batch_size=2), **kwargs)


def test_fit_rejects_exhausted_iterable_and_bad_terms():
    step, _ = _counting_step()
    gen = minibatches(torch.arange(4), batch_size=2)
    with pytest.raises(ValueError, match="no batches in epoch 2"):
        fit(step, lambda: gen, epochs=2)
    with pytest.raises(ValueError, match="expected a scalar"):
        fit(lambda xb: {"loss": xb.float()}, lambda: minibatches(torch.arange(4), batch_size=2), epochs=1)
    with pytest.raises(TypeError, match="dict of scalar terms"):
        fit(lambda xb: xb.float().mean(), lambda: minibatches(torch.arange(4), batch_size=2), epochs=1)


def test_history_dict_round_trip():
    h = History(steps=[0, 1], values={"loss": [1.0, 0.5]}, epochs=1, n_steps=2,
                wall_time=0.1, stopped_by="epochs", epoch_values={"elbo": [-3.0]},
                epoch_steps=[2])
    d = h.to_dict()
    assert History.from_dict(d) == h
    assert h.last("loss") == 0.5
    with pytest.raises(KeyError, match="recorded terms"):
        h.last("kl")


def test_an_empty_data_set_is_named_as_such() -> None:
    """Issue 18: an empty data set was reported as an exhausted generator."""
    empty = torch.zeros(0, 3)
    with pytest.raises(ValueError, match="the data set is empty.*0 rows"):
        fit(lambda b: {"loss": b.sum()}, lambda: minibatches(empty, batch_size=4), epochs=1)
    with pytest.raises(ValueError, match="either the data set is empty"):
        fit(lambda b: {"loss": b.sum()}, lambda: iter(()), epochs=1)


def test_numpy_scalars_are_accepted_where_a_float_is() -> None:
    import numpy as np

    from genmodels import gibbs, vae

    chain = gibbs.gibbs_bivariate_gaussian(np.float32(0.5), 3, generator=torch.Generator().manual_seed(0))
    assert chain.shape[-1] == 2
    assert vae.squared_error_weight(np.float64(0.5)) == pytest.approx(2.0)
    assert vae.sigma_from_squared_error_weight(np.float32(2.0)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="rho must be a finite number > -1 and < 1.*got nan"):
        gibbs.gibbs_bivariate_gaussian(float("nan"), 3)
    with pytest.raises(TypeError, match="rho must be a real number"):
        gibbs.gibbs_bivariate_gaussian("0.5", 3)
