"""genmodels.experiments.image_gan (chapter 8's experiment) against references written out by hand: the
reference image sets built independently, the chapter's training run as plain code, means
from the statistics module."""

from __future__ import annotations

import statistics

import pytest
import torch

from genmodels import gan
from genmodels.core import train
from genmodels.experiments import image_gan
from genmodels.measure import gan_monitor

CPU = torch.device("cpu")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=gen(seed))


TINY = image_gan.ImageGanSettings(latent_dim=4, mlp_hidden=(8,), batch_size=4, n_eval=6,
                                  snapshots=3, log_every=2)


# ----------------------------------------------------------------------------- settings


def test_settings_are_chapter_8s_with_budgets_by_device():
    s = image_gan.ImageGanSettings()
    assert (s.batch_size, s.latent_dim, s.lr, s.betas, s.channels, s.n_eval) == (
        32, 64, 2e-3, (0.5, 0.999), 32, 2000)
    assert (s.mlp_steps(CPU), s.dcgan_steps(CPU)) == (1000, 800)
    for name in ("cuda", "mps"):
        assert (s.mlp_steps(torch.device(name)), s.dcgan_steps(torch.device(name))) == (60_000, 30_000)


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size must be a positive int"),
    ({"snapshots": 1.5}, "snapshots must be a positive int"),
    ({"mlp_hidden": ()}, "mlp_hidden must list at least one"),
    ({"lr": 0.0}, "lr > 0"),
    ({"betas": (0.5, 1.0)}, "two betas in"),
])
def test_settings_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_gan.ImageGanSettings(**kwargs)


# ----------------------------------------------------------------------- reference sets


def test_reference_sets_are_real_blurred_one_class_and_noise():
    x = _images(30, 1)
    labels = torch.tensor([i % 3 for i in range(30)])
    scored: list[torch.Tensor] = []

    def record(images: torch.Tensor) -> float:
        scored.append(images.clone())
        return float(len(scored))

    fds = image_gan.reference_frechet_distances(x, labels, record, 8, gen(4))
    assert list(fds) == ["real training images", "blurred real images",
                         "one class only (trousers)", "uniform noise"]
    assert list(fds.values()) == [1.0, 2.0, 3.0, 4.0]
    real, blurred, trousers, noise = scored
    torch.testing.assert_close(real, x[:8], rtol=0, atol=0)
    # each 4×4 block replaced by its mean, written out block by block
    expected = torch.empty(8, 1, 28, 28)
    for i in range(0, 28, 4):
        for j in range(0, 28, 4):
            expected[..., i:i + 4, j:j + 4] = x[:8, :, i:i + 4, j:j + 4].mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(blurred, expected)
    label_one = [n for n in range(30) if labels[n] == 1][:8]  # Fashion-MNIST's class 1: trousers
    torch.testing.assert_close(trousers, x[label_one], rtol=0, atol=0)
    torch.testing.assert_close(noise, torch.rand(8, 1, 28, 28, generator=gen(4)), rtol=0, atol=0)


def test_reference_sets_reject_bad_input():
    x, labels = _images(10, 2), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="fewer than n_eval = 20"):
        image_gan.reference_frechet_distances(x, labels, lambda im: 0.0, 20)
    with pytest.raises(ValueError, match=r"train_labels must have shape \[10\]"):
        image_gan.reference_frechet_distances(x, labels[:5], lambda im: 0.0, 4)
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\].*to_float_images"):
        image_gan.reference_frechet_distances(x.reshape(10, 784), labels, lambda im: 0.0, 4)


# -------------------------------------------------------------------------- the training run


def _chapter_8_as_written(G, D, x, n_steps, s, generator):
    """The training run of chapter 8 spelled out with the library's building blocks."""
    opt_g = torch.optim.Adam(G.parameters(), lr=s.lr, betas=s.betas, fused=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=s.lr, betas=s.betas, fused=True)
    step = gan.make_gan_step(G, D, opt_g, opt_d, s.latent_dim, loss="non_saturating",
                             generator=generator)
    z_fixed = gan.sample_latent(s.n_eval, s.latent_dim, CPU, generator)
    recorder = gan_monitor.SampleRecorder(G, z_fixed, every=max(n_steps // s.snapshots, 1))
    batches = train.fixed_step_minibatches(x, n_steps, s.batch_size, generator)
    history = train.fit(recorder.wrap(step), batches, epochs=1, progress=False, log_every=100)
    recorder.record()
    return history, recorder


@pytest.mark.parametrize("players", ["mlp", "dcgan"])
def test_training_run_is_the_chapters_run(players):
    x = _images(20, 3)

    def build():
        torch.manual_seed(0)
        if players == "mlp":
            return gan.mlp_gan_players(TINY.latent_dim, CPU, TINY.mlp_hidden)
        return gan.dcgan_players(TINY.latent_dim, CPU, channels=4)

    G, D = build()
    history, recorder = image_gan.train_gan_recording_samples(G, D, x, 7, TINY, gen(5))
    G_ref, D_ref = build()
    ref_history, ref_recorder = _chapter_8_as_written(G_ref, D_ref, x, 7, TINY, gen(5))
    assert history.n_steps == 7 and tuple(history.names) == image_gan.HISTORY_TERMS
    assert history.values == ref_history.values
    assert recorder.steps == ref_recorder.steps == [0, 2, 4, 6, 7]  # every 7 // 3 steps, and the end
    assert torch.equal(recorder.images(), ref_recorder.images())
    assert recorder.images().shape == (5, TINY.n_eval, 1, 28, 28)
    # the fixed codes are the generator's first draw
    torch.testing.assert_close(recorder.z, gan.sample_latent(TINY.n_eval, TINY.latent_dim, CPU, gen(5)))
    for p, q in zip(G.parameters(), G_ref.parameters(), strict=True):
        assert torch.equal(p, q)


def test_training_run_rejects_bad_input():
    G, D = gan.mlp_gan_players(TINY.latent_dim, CPU, TINY.mlp_hidden)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        image_gan.train_gan_recording_samples(G, D, _images(8, 0), 0, TINY)
    with pytest.raises(ValueError, match=r"x_train must be float images \[N, 1, 28, 28\]"):
        image_gan.train_gan_recording_samples(G, D, torch.rand(8, 784), 2, TINY)


# ------------------------------------------------------------------------------ summaries


def test_frechet_distances_over_training_score_every_snapshot_in_order():
    G, _ = gan.mlp_gan_players(TINY.latent_dim, CPU, TINY.mlp_hidden)
    recorder = gan_monitor.SampleRecorder(G, gan.sample_latent(3, TINY.latent_dim, CPU, gen(1)), every=1)
    step = recorder.wrap(lambda x: {})
    for _ in range(3):
        with torch.no_grad():
            for p in G.parameters():
                p.add_(0.1)
        step(torch.zeros(1))
    means = image_gan.frechet_distances_over_training(recorder, lambda im: float(im.mean()))
    assert means == [float(im.mean()) for im in recorder.images()] and len(means) == 4
    assert len(set(means)) == 4  # four different generators


def test_means_over_last_steps_are_the_tail_means():
    history = train.History()
    history.values = {name: [float(i * (k + 1)) for i in range(7)]
                      for k, name in enumerate(image_gan.HISTORY_TERMS)}
    means = image_gan.means_over_last_steps(history, 3)
    assert list(means) == list(image_gan.HISTORY_TERMS)
    for k, name in enumerate(image_gan.HISTORY_TERMS):
        assert means[name] == pytest.approx(statistics.fmean([4 * (k + 1), 5 * (k + 1), 6 * (k + 1)]))
    assert image_gan.means_over_last_steps(history, 100, ["d_loss"]) == {"d_loss": 3.0}  # all 7
    with pytest.raises(KeyError, match="history has no"):
        image_gan.means_over_last_steps(history, 3, ["loss"])
    with pytest.raises(ValueError, match="last must be a positive int"):
        image_gan.means_over_last_steps(history, 0)
