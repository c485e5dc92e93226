"""gan_monitor: accuracies against brute-force counting, the wrappers against hand-built
players whose outputs are known in advance."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genmodels.measure import gan_monitor


def _brute_force_accuracy(real, fake):
    """Count with Python floats: D = 1 / (1 + exp(-l)); right when D > 1/2 (real), D < 1/2 (fake)."""
    d_real = [1 / (1 + math.exp(-v)) for v in real.tolist()]
    d_fake = [1 / (1 + math.exp(-v)) for v in fake.tolist()]
    return (sum(d > 0.5 for d in d_real) / len(d_real), sum(d < 0.5 for d in d_fake) / len(d_fake))


@pytest.mark.parametrize("n, m", [(64, 64), (50, 7), (1, 1)])
def test_accuracy_matches_brute_force(n, m):
    g = torch.Generator().manual_seed(n + m)
    real = 3 * torch.randn(n, generator=g, dtype=torch.float64)
    fake = 3 * torch.randn(m, generator=g, dtype=torch.float64) - 1
    acc_real, acc_fake = gan_monitor.discriminator_accuracy(real, fake)
    expected = _brute_force_accuracy(real, fake)
    assert acc_real.item() == pytest.approx(expected[0], abs=1e-12)
    assert acc_fake.item() == pytest.approx(expected[1], abs=1e-12)
    assert acc_real.shape == () and acc_real.dtype == torch.float64


def test_accuracy_ties_count_as_wrong():
    acc_real, acc_fake = gan_monitor.discriminator_accuracy(
        torch.tensor([0.0, 0.0, 1.0, -1.0]), torch.tensor([0.0, -2.0]))
    assert acc_real.item() == pytest.approx(0.25)
    assert acc_fake.item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    "real, fake, error, fragment",
    [
        (torch.zeros(4, 1), torch.zeros(4), ValueError, "shape [B]"),
        (torch.zeros(0), torch.zeros(4), ValueError, "B >= 1"),
        (torch.zeros(4, dtype=torch.int64), torch.zeros(4), TypeError, "float tensor"),
        (torch.zeros(4), [0.0, 1.0], TypeError, "float tensor"),
    ],
)
def test_accuracy_rejects_bad_input(real, fake, error, fragment):
    with pytest.raises(error, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        gan_monitor.discriminator_accuracy(real, fake)


class _BiasGenerator(nn.Module):
    """G(z) = z + b; the test's fake step adds 1 to b, so G's output after t steps is z + t."""

    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        return z + self.b


def test_sample_recorder_records_fixed_z_at_the_right_steps():
    G = _BiasGenerator()
    z = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    recorder = gan_monitor.SampleRecorder(G, z, every=3)

    def step(real):
        with torch.no_grad():
            G.b += 1
        return {"loss": torch.tensor(0.0)}

    wrapped = recorder.wrap(step)
    for _ in range(7):
        wrapped(torch.zeros(1))
    recorder.record()  # the final generator, step 7
    recorder.record()  # a second call at the same step adds nothing
    assert recorder.steps == [0, 3, 6, 7]
    images = recorder.images()
    assert images.shape == (4, 2, 2) and images.device.type == "cpu"
    for t, snapshot in zip(recorder.steps, images, strict=True):
        torch.testing.assert_close(snapshot, z + t)


def test_sample_recorder_eval_mode_uses_running_statistics_and_restores_mode():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    for _ in range(5):  # give the running statistics values different from any batch's
        G(torch.randn(16, 3) * 3 + 1)
    z = torch.randn(6, 3)
    G.eval()
    with torch.no_grad():
        expected_eval = G(z)
    G.train()
    recorder = gan_monitor.SampleRecorder(G, z, every=1)
    recorder.record()
    assert G.training
    torch.testing.assert_close(recorder.images()[0], expected_eval)
    batch_mode = gan_monitor.SampleRecorder(G, z, every=1, eval_mode=False)
    batch_mode.record()
    assert not torch.allclose(batch_mode.images()[0], expected_eval)


@pytest.mark.parametrize(
    "z, every, fragment",
    [
        (torch.zeros(4), 1, "z must be a tensor"),
        (torch.zeros(0, 2), 1, "n >= 1"),
        (torch.zeros(4, 2), 0, "every must be a positive int"),
        (torch.zeros(4, 2), 2.5, "every must be a positive int"),
    ],
)
def test_sample_recorder_rejects_bad_arguments(z, every, fragment):
    with pytest.raises(ValueError, match=fragment):
        gan_monitor.SampleRecorder(nn.Identity(), z, every=every)


def test_sample_recorder_without_snapshots_says_so():
    with pytest.raises(ValueError, match="no snapshot yet"):
        gan_monitor.SampleRecorder(nn.Identity(), torch.zeros(2, 2), every=1).images()
