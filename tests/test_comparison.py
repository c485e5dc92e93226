"""Tests of genmodels.experiments.family_comparison, chapter 11's experiment, on tiny budgets and stub data.

Shapes, the order of the random draws (the chapter and the results appendix must draw the
same numbers), closed forms where one exists (the pseudo-log-likelihood of an RBM with zero
parameters, Bernoulli frequencies), and the errors of the settings.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from genmodels import gan, rbm
from genmodels.core import data, train
from genmodels.experiments import family_comparison, rbm_digits
from genmodels.experiments.family_comparison import ComparisonSettings

TINY = ComparisonSettings(steps_cpu=3, steps_gpu=3, batch_size=8, n_eval=12, vae_latent_dim=2,
                          vae_hidden=(8,), latent_dim=4, gan_hidden=(8, 16), rbm_hidden=5,
                          n_rbm_monitor=4, gibbs_steps=(1, 2), n_likelihood=6,
                          n_pseudo_likelihood=3, iwae_ks=(1, 5))


def _binary_images(n: int, seed: int) -> torch.Tensor:
    return (torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def _trained_models(settings: ComparisonSettings = TINY):
    x = _binary_images(32, 0)
    g = torch.Generator().manual_seed(1)
    batches = train.fixed_step_minibatches(x, 3, settings.batch_size, g)
    vae_model = family_comparison.comparison_vae(settings, seed=0)
    family_comparison.train_vae_on_batches(vae_model, batches, settings, g)
    G, D = family_comparison.comparison_gan(settings, seed=0)
    family_comparison.train_gan_on_batches(G, D, batches, settings, g)
    flat = x.reshape(len(x), -1)
    rbm_model = family_comparison.comparison_rbm(flat, settings, seed=0)
    return x, vae_model, G, rbm_model


# ---------------------------------------------------------------------------- settings


@pytest.mark.parametrize("kwargs, match", [
    ({"gibbs_steps": (3, 1)}, "gibbs_steps must be increasing"),
    ({"gibbs_steps": (0, 1)}, "gibbs_steps must be increasing"),
    ({"iwae_ks": ()}, "iwae_ks must be positive"),
    ({"batch_size": 0}, "batch_size must be a positive int"),
    ({"cpu_threads": 1.5}, "cpu_threads must be a positive int"),
])
def test_settings_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ComparisonSettings(**kwargs)


# ---------------------------------------------------------------------------- the models


def test_gan_players_shapes_sizes_and_seed():
    G, D = family_comparison.comparison_gan(TINY, seed=3)
    z = gan.sample_latent(5, TINY.latent_dim)
    with torch.no_grad():
        x = G(z)
        assert D(x).shape == (5,)  # one logit per image
    assert x.shape == (5, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    widths_g = [TINY.latent_dim, 8, 16, 784]
    widths_d = [784, 16, 8, 1]
    for net, widths in ((G, widths_g), (D, widths_d)):  # fully connected: (in + 1) · out each
        expected = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))
        assert sum(p.numel() for p in net.parameters()) == expected
    G2, _ = family_comparison.comparison_gan(TINY, seed=3)
    G3, _ = family_comparison.comparison_gan(TINY, seed=4)
    assert torch.equal(G(z), G2(z)) and not torch.equal(G(z), G3(z))


def test_vae_is_seeded_and_trains_for_exactly_the_budget():
    a, b = family_comparison.comparison_vae(TINY, seed=0), family_comparison.comparison_vae(TINY, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    x = _binary_images(40, 1)
    g = torch.Generator().manual_seed(0)
    history = family_comparison.train_vae_on_batches(a, train.fixed_step_minibatches(x, 7, 8, g), TINY, g)
    assert history.n_steps == 7 and not a.training
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_gan_trains_for_exactly_the_budget():
    G, D = family_comparison.comparison_gan(TINY, seed=0)
    g = torch.Generator().manual_seed(0)
    history = family_comparison.train_gan_on_batches(G, D, train.fixed_step_minibatches(_binary_images(40, 1), 5, 8, g),
                                   TINY, g)
    assert history.n_steps == 5 and set(history.values) >= {"d_loss", "g_loss", "d_real", "d_fake"}
    assert not G.training


def test_rows_of_shuffled_passes_match_passes_cut_by_hand():
    x = torch.arange(10.0).reshape(10, 1)
    rows = family_comparison.rows_of_shuffled_passes(x, 23, torch.Generator().manual_seed(2))
    reference = torch.Generator().manual_seed(2)
    perms = [torch.randperm(10, generator=reference) for _ in range(3)]  # 23 // 10 + 1 passes
    assert rows.flatten().tolist() == torch.cat(perms)[:23].float().tolist()
    assert sorted(rows[:10].flatten().tolist()) == list(range(10))  # a pass holds each row once
    with pytest.raises(ValueError, match="n_rows must be a positive int"):
        family_comparison.rows_of_shuffled_passes(x, 0)


def test_pcd_rbm_makes_one_update_per_batch():
    x = _binary_images(32, 2).reshape(32, -1)
    model = family_comparison.comparison_rbm(x, TINY, seed=0)
    rows = family_comparison.rows_of_shuffled_passes(x, 5 * TINY.batch_size, torch.Generator().manual_seed(0))
    history = family_comparison.train_pcd_rbm(model, rows, TINY, x[:4], torch.Generator().manual_seed(1))
    assert history.epoch_steps == [0, 5] and len(history.epoch_values["pseudo_log_likelihood"]) == 2
    assert history.n_steps == len(history.values["loss"]) == 5


# ---------------------------------------------------------------------------- sampling


def test_bernoulli_draw_frequencies_and_same_numbers_as_torch():
    probs = torch.tensor([0.1, 0.5, 0.9]).repeat(20_000, 1)
    draws = family_comparison.bernoulli_draw(probs, torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    # standard error of a frequency ≤ sqrt(0.25 / 20000) ≈ 0.0035; tolerance 5 SE
    assert torch.allclose(draws.mean(0), torch.tensor([0.1, 0.5, 0.9]), atol=0.018)
    same = torch.bernoulli(probs, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draws, same)  # on the generator's own device nothing changes


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bernoulli_draw_with_a_cpu_generator_on_cuda_gives_the_cpu_numbers():
    probs = torch.rand(100, 7, generator=torch.Generator().manual_seed(1))
    on_cpu = family_comparison.bernoulli_draw(probs, torch.Generator().manual_seed(2))
    on_gpu = family_comparison.bernoulli_draw(probs.cuda(), torch.Generator().manual_seed(2))
    assert on_gpu.device.type == "cuda" and torch.equal(on_gpu.cpu(), on_cpu)


def test_rbm_chains_start_from_bernoulli_half_noise():
    x = _binary_images(16, 3).reshape(16, -1)
    model = family_comparison.comparison_rbm(x, TINY, seed=0)
    states, means = family_comparison.rbm_chains_from_noise(model, TINY, torch.Generator().manual_seed(5))
    reference = torch.Generator().manual_seed(5)
    noise = (torch.rand(TINY.n_eval, 784, generator=reference) < 0.5).float()
    expected, _ = rbm_digits.gibbs_snapshots(model, noise, TINY.gibbs_steps, reference)
    assert list(states) == list(TINY.gibbs_steps)
    for t in TINY.gibbs_steps:
        assert states[t].shape == means[t].shape == (TINY.n_eval, 1, 28, 28)
        assert torch.equal(states[t].reshape(TINY.n_eval, -1), expected[t])


def test_samples_and_means_draw_in_the_chapters_order():
    _, vae_model, G, rbm_model = _trained_models()
    states, means = family_comparison.rbm_chains_from_noise(rbm_model, TINY, torch.Generator().manual_seed(0))
    samples, mean_images = family_comparison.samples_and_means(vae_model, G, states, means, TINY,
                                                        torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)  # replay: VAE draw, GAN draw, then fresh means
    with torch.no_grad():
        vae_draw = torch.bernoulli(vae_model.sample(TINY.n_eval, generator=g), generator=g)
        gan_draw = torch.bernoulli(G(gan.sample_latent(TINY.n_eval, TINY.latent_dim, None, g)),
                                   generator=g)
        vae_mean = vae_model.sample(TINY.n_eval, generator=g)
    assert torch.equal(samples["VAE"], vae_draw) and torch.equal(samples["GAN"], gan_draw)
    assert torch.equal(mean_images["VAE"], vae_mean)
    assert samples["RBM"] is states[2] and mean_images["RBM"] is means[2]
    for images in (*samples.values(), *mean_images.values()):
        assert images.shape == (TINY.n_eval, 1, 28, 28)


def test_sampling_cost_is_measured_for_every_model():
    _, vae_model, G, rbm_model = _trained_models()
    cost = family_comparison.sampling_cost_ms(vae_model, G, rbm_model, TINY, torch.Generator())
    assert list(cost) == ["VAE", "GAN", "RBM"]
    assert all(math.isfinite(v) and v > 0 for v in cost.values())


# ---------------------------------------------------------------------------- measuring


def test_likelihoods_keys_bounds_and_the_pll_of_a_flat_rbm():
    x, vae_model, _, _ = _trained_models()
    flat_rbm = rbm.BernoulliRBM(784, 5)
    with torch.no_grad():
        flat_rbm.weight.zero_()  # p(v_i | v_-i) = ½ for every pixel: PLL = 784 log ½
    settings = replace(TINY, iwae_ks=(1, 50))
    lik = family_comparison.likelihoods_on_test_images(vae_model, flat_rbm, x, settings,
                                                torch.Generator().manual_seed(0))
    assert list(lik.iwae) == [1, 50]
    assert lik.rbm_pseudo_log_likelihood == pytest.approx(784 * math.log(0.5), rel=1e-5)
    assert lik.elbo < 0 and lik.iwae[1] < lik.iwae[50] < 0  # eq-iwae-bound tightens with k


class _StubClassifier:
    """Class 1 for images brighter than 0.3 on average, class 0 otherwise (K = 10)."""

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        bright = images.flatten(1).mean(1) > 0.3
        return torch.nn.functional.one_hot(bright.long(), 10).float()


def test_sample_quality_combines_the_distance_and_the_coverage():
    samples = torch.cat([torch.zeros(3, 1, 28, 28), torch.ones(1, 1, 28, 28)])
    means = torch.full((4, 1, 28, 28), 0.5)
    quality = family_comparison.sample_quality(samples, means, _StubClassifier(),
                                        lambda images: float(images.mean()))
    assert quality.fd_binary == pytest.approx(0.25) and quality.fd_mean == pytest.approx(0.5)
    assert quality.coverage.covered == 2
    # KL((¾, ¼, 0, ...) ‖ uniform over 10) = Σ p log(10 p)
    kl = 0.75 * math.log(7.5) + 0.25 * math.log(2.5)
    assert quality.coverage.kl_to_uniform == pytest.approx(kl)


def test_binarised_fashion_mnist_is_the_test_set_thresholded():
    try:
        data.load_fashion_mnist("test", download=False)
    except data.DatasetError:
        pytest.skip("Fashion-MNIST is not available offline here")
    images = family_comparison.binarised_fashion_mnist("cpu")
    assert images.train.shape == (60_000, 1, 28, 28) and images.test.shape == (10_000, 1, 28, 28)
    assert torch.equal(images.test, (images.grey_test > 0.5).float())
    assert len(images.classes) == 10
