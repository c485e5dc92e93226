"""Tests of genmodels.gan against independent references (brute force, scipy, closed forms)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from scipy.spatial.distance import jensenshannon
from torch import nn

from genmodels import gan

# ---------------------------------------------------------------------------
# The objective on discrete distributions
# ---------------------------------------------------------------------------


def _discrete_pair(seed: int, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k))
    q = rng.dirichlet(np.ones(k))
    return torch.tensor(p), torch.tensor(q)


def _value_numpy(d: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """V(D, G) = Σ p log D + Σ q log(1 − D), written independently in NumPy."""
    return float(np.sum(p * np.log(d)) + np.sum(q * np.log(1 - d)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_discriminator_maximises_value_scipy(seed: int) -> None:
    p, q = _discrete_pair(seed)
    d_star = gan.optimal_discriminator(p, q)
    v_star = gan.value_function(d_star, d_star, p, q).item()
    # Independent maximisation of V over D ∈ (0, 1)^K by L-BFGS on logits.
    res = minimize(
        lambda a: -_value_numpy(1 / (1 + np.exp(-a)), p.numpy(), q.numpy()),
        x0=np.zeros(len(p)),
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-14},
    )
    d_opt = 1 / (1 + np.exp(-res.x))
    np.testing.assert_allclose(d_star.numpy(), d_opt, atol=1e-4)
    assert v_star == pytest.approx(-res.fun, abs=1e-8)


def test_optimal_discriminator_beats_every_grid_point() -> None:
    # Two-point space: brute force over a grid of (D(x1), D(x2)).
    p = torch.tensor([0.7, 0.3], dtype=torch.float64)
    q = torch.tensor([0.2, 0.8], dtype=torch.float64)
    d_star = gan.optimal_discriminator(p, q)
    grid = np.linspace(0.001, 0.999, 999)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    v = 0.7 * np.log(a) + 0.3 * np.log(b) + 0.2 * np.log(1 - a) + 0.8 * np.log(1 - b)
    i, j = np.unravel_index(np.argmax(v), v.shape)
    assert d_star[0].item() == pytest.approx(grid[i], abs=1e-3)
    assert d_star[1].item() == pytest.approx(grid[j], abs=1e-3)
    assert gan.value_function(d_star, d_star, p, q).item() >= v.max() - 1e-12
    np.testing.assert_allclose(d_star.numpy(), [0.7 / 0.9, 0.3 / 1.1])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_value_at_optimum_is_minus_log4_plus_2jsd(seed: int) -> None:
    p, q = _discrete_pair(seed, k=7)
    d_star = gan.optimal_discriminator(p, q)
    v = gan.value_function(d_star, d_star, p, q).item()
    jsd_scipy = jensenshannon(p.numpy(), q.numpy(), base=math.e) ** 2  # scipy returns sqrt
    assert v == pytest.approx(-math.log(4) + 2 * jsd_scipy, abs=1e-10)
    assert gan.jensen_shannon(p, q).item() == pytest.approx(jsd_scipy, abs=1e-10)


def test_jensen_shannon_bounds_and_disjoint_supports() -> None:
    p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, 0.0, 0.25, 0.75], dtype=torch.float64)
    assert gan.jensen_shannon(p, q).item() == pytest.approx(math.log(2))
    assert gan.jensen_shannon(p, p).item() == pytest.approx(0.0, abs=1e-15)
    # Disjoint supports: D* is 1 on real, 0 on fake, and V(D*, G) = 0 = −log 4 + 2 log 2.
    d_star = gan.optimal_discriminator(p, q)
    assert gan.value_function(d_star, d_star, p, q).item() == pytest.approx(0.0, abs=1e-12)


def test_value_function_minibatch_is_mean() -> None:
    d_real = torch.tensor([0.9, 0.6])
    d_fake = torch.tensor([0.1, 0.2, 0.3])
    expected = (math.log(0.9) + math.log(0.6)) / 2 + (
        math.log(0.9) + math.log(0.8) + math.log(0.7)
    ) / 3
    assert gan.value_function(d_real, d_fake).item() == pytest.approx(expected, rel=1e-6)


def test_objective_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        gan.value_function(torch.tensor([1.5]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="same shape"):
        gan.optimal_discriminator(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="probability vector"):
        gan.jensen_shannon(torch.tensor([0.5, 0.6]), torch.tensor([0.5, 0.5]))


# ---------------------------------------------------------------------------
# Losses from logits
# ---------------------------------------------------------------------------


def test_losses_equal_bce_on_probabilities() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, generator=g, dtype=torch.float64) * 2
    fake = torch.randn(32, generator=g, dtype=torch.float64) * 2
    pr, pf = torch.sigmoid(real), torch.sigmoid(fake)
    bce = F.binary_cross_entropy
    expected_d = bce(pr, torch.ones_like(pr)) + bce(pf, torch.zeros_like(pf))
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-10)
    smoothed = bce(pr, torch.full_like(pr, 0.9)) + bce(pf, torch.zeros_like(pf))
    assert gan.discriminator_loss(real, fake, label_smoothing=0.1).item() == pytest.approx(
        smoothed.item(), rel=1e-10
    )
    # Non-saturating: BCE with the label flipped to 1 for fakes.
    assert gan.generator_loss_non_saturating(fake).item() == pytest.approx(
        bce(pf, torch.ones_like(pf)).item(), rel=1e-10
    )
    # Saturating: mean log(1 − D) = −BCE(D, 0).
    assert gan.generator_loss_saturating(fake).item() == pytest.approx(
        -bce(pf, torch.zeros_like(pf)).item(), rel=1e-10
    )
    # Discriminator loss = −V (minibatch).
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(
        -gan.value_function(pr, pf).item(), rel=1e-10
    )


def test_losses_stay_finite_for_extreme_logits() -> None:
    logits = torch.tensor([-200.0, 200.0])
    for value in (
        gan.discriminator_loss(logits, logits),
        gan.generator_loss_saturating(logits),
        gan.generator_loss_non_saturating(logits),
    ):
        assert torch.isfinite(value)


@pytest.mark.parametrize("logit", [-12.0, -6.0, -3.0, 0.0, 2.0])
def test_generator_gradients_match_analytic_derivatives(logit: float) -> None:
    l_sat = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
    (g_sat,) = torch.autograd.grad(gan.generator_loss_saturating(l_sat), l_sat)
    l_ns = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
    (g_ns,) = torch.autograd.grad(gan.generator_loss_non_saturating(l_ns), l_ns)
    d = 1 / (1 + math.exp(-logit))
    # d/dl log(1 − σ(l)) = −σ(l);  d/dl [−log σ(l)] = −(1 − σ(l)).
    assert g_sat.item() == pytest.approx(-d, rel=1e-10)
    assert g_ns.item() == pytest.approx(-(1 - d), rel=1e-10)


def test_saturating_gradient_vanishes_as_discriminator_wins() -> None:
    logits = torch.tensor([-20.0], dtype=torch.float64, requires_grad=True)  # D(G(z)) ≈ 2e-9
    (g_sat,) = torch.autograd.grad(gan.generator_loss_saturating(logits), logits)
    logits2 = logits.detach().clone().requires_grad_(True)
    (g_ns,) = torch.autograd.grad(gan.generator_loss_non_saturating(logits2), logits2)
    assert abs(g_sat.item()) < 1e-8
    assert g_ns.item() == pytest.approx(-1.0, abs=1e-8)


class _LinearGenerator(nn.Module):
    """G(z) = W z + b, shapes [B, latent] -> [B, out]."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.w, self.b = nn.Parameter(w.clone()), nn.Parameter(b.clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.w.T + self.b


class _LinearDiscriminator(nn.Module):
    """A fixed linear logit l = a·x + c, shapes [B, out] -> [B]."""

    def __init__(self, a: torch.Tensor, c: float) -> None:
        super().__init__()
        self.a, self.c = nn.Parameter(a.clone()), nn.Parameter(torch.tensor(c, dtype=a.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.a + self.c


@pytest.mark.parametrize("loss_name", ["saturating", "non_saturating"])
@pytest.mark.parametrize("freeze_bias", [False, True])
def test_generator_gradient_norm_closed_form_for_linear_players(loss_name: str, freeze_bias: bool) -> None:
    rng = np.random.default_rng(3)
    w, b, a = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=3)
    c, z = 0.4, rng.normal(size=(7, 2))
    G = _LinearGenerator(torch.tensor(w), torch.tensor(b))
    D = _LinearDiscriminator(torch.tensor(a), c)
    G.b.requires_grad_(not freeze_bias)
    loss = gan.generator_loss_saturating if loss_name == "saturating" else gan.generator_loss_non_saturating
    norm = gan.generator_gradient_norm(G, D, torch.tensor(z), loss)

    # By hand (NumPy): l_i = a·(W z_i + b) + c; dL/dl_i = −σ(l_i)/B (saturating) or
    # −(1 − σ(l_i))/B (non-saturating); dL/dW = a (Σ_i g_i z_i)ᵀ, dL/db = (Σ_i g_i) a.
    logits = (z @ w.T + b) @ a + c
    sigma = 1 / (1 + np.exp(-logits))
    g = -(sigma if loss_name == "saturating" else 1 - sigma) / len(z)
    squared = np.sum(a**2) * np.sum((g @ z) ** 2) + (0 if freeze_bias else np.sum(a**2) * g.sum() ** 2)
    assert norm.ndim == 0
    assert norm.item() == pytest.approx(math.sqrt(squared), rel=1e-12)
    # It measures without side effects: no gradient is stored on either player.
    assert all(p.grad is None for p in [*G.parameters(), *D.parameters()])


def test_generator_gradient_norm_needs_trainable_parameters() -> None:
    G = _LinearGenerator(torch.ones(3, 2), torch.zeros(3)).requires_grad_(False)
    D = _LinearDiscriminator(torch.ones(3), 0.0)
    with pytest.raises(ValueError, match="no trainable parameters"):
        gan.generator_gradient_norm(G, D, torch.ones(4, 2), gan.generator_loss_non_saturating)


def test_loss_input_validation() -> None:
    with pytest.raises(ValueError, match=r"shape \[B\]"):
        gan.discriminator_loss(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.discriminator_loss(torch.zeros(4), torch.zeros(4), label_smoothing=0.7)
    with pytest.raises(TypeError, match="float tensor of logits"):
        gan.generator_loss_non_saturating(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="B >= 1"):  # the mean of no logits would be NaN
        gan.generator_loss_saturating(torch.zeros(0))


# ---------------------------------------------------------------------------
# Wasserstein critic and gradient penalty
# ---------------------------------------------------------------------------


def test_wasserstein_losses() -> None:
    real = torch.tensor([1.0, 3.0])
    fake = torch.tensor([-1.0, 0.0, 1.0])
    assert gan.wasserstein_critic_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert gan.wasserstein_generator_loss(fake).item() == pytest.approx(0.0)


def test_gradient_penalty_zero_for_unit_norm_linear_critic() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, generator=g, dtype=torch.float64)
    w = w / w.norm()
    critic = lambda x: x @ w + 0.3  # noqa: E731 — a 1-Lipschitz linear critic
    real = torch.randn(16, 5, generator=g, dtype=torch.float64)
    fake = torch.randn(16, 5, generator=g, dtype=torch.float64)
    assert gan.gradient_penalty(critic, real, fake, generator=g).item() == pytest.approx(
        0.0, abs=1e-12
    )


def test_gradient_penalty_closed_form_for_scaled_linear_critic() -> None:
    # f(x) = a·x with ‖a‖ = 3 has gradient norm 3 everywhere: penalty (3 − 1)² = 4.
    a = torch.tensor([3.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    real = torch.randn(8, 4, dtype=torch.float64)
    fake = torch.randn(8, 4, dtype=torch.float64)
    assert gan.gradient_penalty(lambda x: x @ a, real, fake).item() == pytest.approx(4.0)


def test_gradient_penalty_is_differentiable_and_validates() -> None:
    critic = gan.MLPDiscriminator(2, hidden=(8,))
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = gan.gradient_penalty(critic, real, fake)
    gp.backward()
    # Every weight matrix receives a gradient (biases do not affect ∇_x f).
    assert all(p.grad is not None for n, p in critic.named_parameters() if "weight" in n)
    with pytest.raises(ValueError, match="same shape"):
        gan.gradient_penalty(critic, real, fake[:4])


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------


def test_mlp_shapes_packing_minibatch_std_and_spectral_norm() -> None:
    G = gan.MLPGenerator(4, 2, hidden=(16,))
    z = torch.randn(12, 4)
    assert G(z).shape == (12, 2)
    img_g = gan.MLPGenerator(4, 784, hidden=(16,), out_shape=(1, 28, 28), final=torch.nn.Sigmoid())
    assert img_g(z).shape == (12, 1, 28, 28)
    assert gan.MLPDiscriminator(2, hidden=(16,))(G(z)).shape == (12,)
    assert gan.MLPDiscriminator(2, hidden=(16,), pack=4)(G(z)).shape == (3,)
    assert gan.MLPDiscriminator(2, hidden=(16,), minibatch_std=True)(G(z)).shape == (12,)
    sn = gan.MLPDiscriminator(2, hidden=(16,), spectral_norm=True)
    assert sn(G(z)).shape == (12,)
    # Spectral normalisation: after a few power iterations each weight has σ_max ≈ 1.
    for _ in range(20):
        sn(G(z))
    w = sn.body[0].weight
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_minibatch_std_feature_is_batch_std() -> None:
    h = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    out = gan.MinibatchStdDev()(h)
    # Per-feature population std: [1, 0] → mean 0.5.
    assert torch.allclose(out[:, 2], torch.tensor([0.5, 0.5]))


def test_packing_judges_groups_jointly() -> None:
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(2, hidden=(8,), pack=2)
    x = torch.randn(4, 2)
    swapped = x[[1, 0, 2, 3]]  # reorder inside the first pack
    assert not torch.allclose(D(x)[0], D(swapped)[0])
    assert torch.allclose(D(x)[1], D(swapped)[1])


def test_dcgan_shapes() -> None:
    G = gan.DCGANGenerator(8, channels=8)
    D = gan.DCGANDiscriminator(channels=8)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 1, 28, 28)
    assert 0 <= x.min().item() and x.max().item() <= 1
    assert D(x).shape == (3,)
    assert gan.DCGANDiscriminator(spectral_norm=True, channels=8)(x).shape == (3,)


def _dense_parameters(widths: list[int]) -> int:
    """Weights and biases of fully connected layers widths[0] → widths[1] → ..., by hand."""
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def test_mlp_gan_players_are_chapter_8s_networks() -> None:
    torch.manual_seed(0)
    G, D = gan.mlp_gan_players(64)
    # chapter 8 prints 550,416 and 533,505 parameters for these sizes
    assert sum(p.numel() for p in G.parameters()) == _dense_parameters([64, 256, 512, 784]) == 550_416
    assert sum(p.numel() for p in D.parameters()) == _dense_parameters([784, 512, 256, 1]) == 533_505
    z = gan.sample_latent(5, 64)
    with torch.no_grad():
        x = G(z)
        assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1  # sigmoid output
        assert D(x).shape == (5,)  # one logit per image
    # G's weights are drawn first, then D's, from torch's global generator.
    torch.manual_seed(0)
    G_first = gan.MLPGenerator(64, 784, hidden=(256, 512), out_shape=(1, 28, 28))
    D_second = gan.MLPDiscriminator(784, hidden=(512, 256))
    for net, ref in ((G, G_first), (D, D_second)):
        assert all(torch.equal(a, b) for a, b in zip(net.parameters(), ref.parameters(), strict=True))
    small_G, small_D = gan.mlp_gan_players(3, hidden=(8, 16))
    assert sum(p.numel() for p in small_D.parameters()) == _dense_parameters([784, 16, 8, 1])


def test_dcgan_players_are_chapter_8s_networks() -> None:
    torch.manual_seed(0)
    G, D = gan.dcgan_players(64, channels=32)
    c, lat = 32, 64
    # by hand: Linear, BatchNorm1d (weight and bias), ConvTranspose 2c→c, BatchNorm2d, ConvTranspose c→1
    g_count = (lat + 1) * 2 * c * 49 + 2 * (2 * c * 49) + (2 * c * c * 16 + c) + 2 * c + (c * 16 + 1)
    # Conv 1→c, Conv c→2c, BatchNorm2d(2c), Linear 2c·7·7 → 1
    d_count = (16 * c + c) + (c * 2 * c * 16 + 2 * c) + 2 * (2 * c) + (2 * c * 49 + 1)
    assert (g_count, d_count) == (243_489, 36_641)  # chapter 8's printed sizes
    assert sum(p.numel() for p in G.parameters()) == g_count
    assert sum(p.numel() for p in D.parameters()) == d_count
    G.eval()
    with torch.no_grad():
        x = G(gan.sample_latent(3, 64))
    assert x.shape == (3, 1, 28, 28) and D(x).shape == (3,)
    torch.manual_seed(0)
    G_first = gan.DCGANGenerator(64, channels=32)
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), G_first.parameters(), strict=True))


def test_networks_reject_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        gan.MLPGenerator(4, 2)(torch.randn(3, 5))
    with pytest.raises(ValueError, match="in_dim"):
        gan.MLPDiscriminator(2)(torch.randn(3, 3))
    with pytest.raises(ValueError, match="divisible by pack"):
        gan.MLPDiscriminator(2, pack=4)(torch.randn(6, 2))
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\]"):
        gan.DCGANDiscriminator(channels=8)(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match="out_shape"):
        gan.MLPGenerator(4, 10, out_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="pack"):
        gan.MLPDiscriminator(2, pack=0)


# ---------------------------------------------------------------------------
# Training step
# ---------------------------------------------------------------------------


def _toy_setup(seed: int = 0, **d_kwargs):
    torch.manual_seed(seed)
    G = gan.MLPGenerator(2, 2, hidden=(16,))
    D = gan.MLPDiscriminator(2, hidden=(16,), **d_kwargs)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    real = torch.randn(64, 2, generator=torch.Generator().manual_seed(1)) * 0.1 + 3.0
    return G, D, opt_g, opt_d, real


def test_discriminator_steps_decrease_its_loss_on_fixed_batch() -> None:
    G, D, opt_g, opt_d, real = _toy_setup()
    g = torch.Generator().manual_seed(2)
    z = gan.sample_latent(64, 2, generator=g)
    with torch.no_grad():
        fake = G(z)
        before = gan.discriminator_loss(D(real), D(fake)).item()
    opt_g_frozen = torch.optim.SGD(G.parameters(), lr=0.0)  # keep G fixed
    step = gan.make_gan_step(G, D, opt_g_frozen, opt_d, latent_dim=2, k_critic=5, generator=g)
    for _ in range(4):
        out = step(real)
    with torch.no_grad():
        after = gan.discriminator_loss(D(real), D(fake)).item()
    assert after < before - 0.1
    assert out["d_real"].item() > out["d_fake"].item()
    assert set(out) == {"d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake"}
    assert all(v.ndim == 0 and not v.requires_grad for v in out.values())


def test_generator_step_moves_fakes_towards_data() -> None:
    G, D, opt_g, opt_d, real = _toy_setup()
    g = torch.Generator().manual_seed(3)
    z = gan.sample_latent(256, 2, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        before = (G(z).mean(0) - real.mean(0)).norm().item()
    step = gan.make_gan_step(G, D, opt_g, opt_d, latent_dim=2, generator=g)
    for _ in range(60):
        step(real)
    with torch.no_grad():
        after = (G(z).mean(0) - real.mean(0)).norm().item()
    assert after < before


@pytest.mark.parametrize(
    "loss, d_kwargs, extra",
    [
        ("saturating", {}, {}),
        ("non_saturating", {"pack": 2}, {"label_smoothing": 0.1}),
        ("non_saturating", {"minibatch_std": True, "spectral_norm": True}, {}),
        ("wgan-gp", {}, {"k_critic": 3}),
        ("wgan-gp", {"pack": 4}, {}),
    ],
)
def test_step_variants_run(loss: str, d_kwargs: dict, extra: dict) -> None:
    G, D, opt_g, opt_d, real = _toy_setup(**d_kwargs)
    step = gan.make_gan_step(G, D, opt_g, opt_d, latent_dim=2, loss=loss,
                             generator=torch.Generator().manual_seed(0), **extra)
    out = step(real)
    assert all(torch.isfinite(v) for v in out.values())
    assert all(p.requires_grad for p in D.parameters())  # D unfrozen after the G step


@pytest.mark.parametrize("loss, label_smoothing", [("non_saturating", 0.0), ("saturating", 0.1)])
def test_step_accuracies_are_those_of_its_discriminator_update_before_it(loss, label_smoothing) -> None:
    G, D, opt_g, opt_d, _ = _toy_setup(seed=4)
    # real points on both sides of the untrained D's boundary, so the accuracies are not 0 or 1
    real = torch.randn(64, 2, generator=torch.Generator().manual_seed(3)) * 2.0
    G_before, D_before = copy.deepcopy(G), copy.deepcopy(D)
    out = gan.make_gan_step(G, D, opt_g, opt_d, 2, loss=loss, label_smoothing=label_smoothing,
                            generator=torch.Generator().manual_seed(9))(real)
    # Direct computation: the same fakes (the generator's first draw), the players before the update.
    with torch.no_grad():
        fake = G_before(gan.sample_latent(64, 2, generator=torch.Generator().manual_seed(9)))
        real_logits, fake_logits = D_before(real).tolist(), D_before(fake).tolist()
    acc_real = sum(v > 0 for v in real_logits) / len(real_logits)  # D(x) = σ(l) > ½
    acc_fake = sum(v < 0 for v in fake_logits) / len(fake_logits)
    assert 0 < acc_real < 1 or 0 < acc_fake < 1
    assert out["acc_real"].item() == pytest.approx(acc_real)
    assert out["acc_fake"].item() == pytest.approx(acc_fake)
    assert out["acc_real"].dtype == out["d_loss"].dtype and out["acc_real"].ndim == 0
    d_real = sum(1 / (1 + math.exp(-v)) for v in real_logits) / len(real_logits)
    assert out["d_real"].item() == pytest.approx(d_real, rel=1e-5)


def test_wgan_step_reports_no_accuracy() -> None:
    G, D, opt_g, opt_d, real = _toy_setup()
    out = gan.make_gan_step(G, D, opt_g, opt_d, 2, loss="wgan-gp")(real)
    assert set(out) == {"d_loss", "g_loss", "d_real", "d_fake"}  # critic scores have no threshold


def test_step_same_seed_same_result() -> None:
    results = []
    for _ in range(2):
        G, D, opt_g, opt_d, real = _toy_setup(seed=5)
        step = gan.make_gan_step(G, D, opt_g, opt_d, 2, generator=torch.Generator().manual_seed(7))
        for _ in range(3):
            out = step(real)
        results.append((out["d_loss"].item(), out["g_loss"].item(),
                        torch.cat([p.flatten() for p in G.parameters()])))
    assert results[0][0] == results[1][0] and results[0][1] == results[1][1]
    assert torch.equal(results[0][2], results[1][2])


def test_step_rejects_bad_configuration() -> None:
    G, D, opt_g, opt_d, real = _toy_setup()
    with pytest.raises(ValueError, match="unknown loss"):
        gan.make_gan_step(G, D, opt_g, opt_d, 2, loss="hinge")
    with pytest.raises(ValueError, match="k_critic"):
        gan.make_gan_step(G, D, opt_g, opt_d, 2, k_critic=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.make_gan_step(G, D, opt_g, opt_d, 2, loss="wgan-gp", label_smoothing=0.1)
    step = gan.make_gan_step(G, D, opt_g, opt_d, 2)
    with pytest.raises(ValueError, match="in_dim"):
        step(torch.randn(8, 3))


def test_step_with_dcgan_runs() -> None:
    torch.manual_seed(0)
    G, D = gan.DCGANGenerator(8, channels=8), gan.DCGANDiscriminator(channels=8)
    step = gan.make_gan_step(G, D, torch.optim.Adam(G.parameters(), 2e-4),
                             torch.optim.Adam(D.parameters(), 2e-4), latent_dim=8)
    out = step(torch.rand(4, 1, 28, 28))
    assert all(torch.isfinite(v) for v in out.values())


# ---------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------


def _gan_by_hand(G, D, batches, *, lr, betas, k_critic, decay_steps, g):
    """The non-saturating GAN written out: per batch, k_critic Adam steps of D on
    −log D(x) − log(1 − D(G(z))) with fresh z each, then one Adam step of G on
    −log D(G(z)) with fresh z; both learning rates lr · max(0, 1 − t / decay_steps)."""
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    losses = []
    for t, real in enumerate(batches):
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr * (max(0.0, 1.0 - t / decay_steps) if decay_steps else 1.0)
        for _ in range(k_critic):
            with torch.no_grad():
                fake = G(torch.randn(len(real), 2, generator=g))
            d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        g_loss = F.softplus(-D(G(torch.randn(len(real), 2, generator=g)))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        losses.append((d_loss.item(), g_loss.item()))
    return losses


@pytest.mark.parametrize("k_critic, decay_steps", [(1, None), (3, None), (2, 3)])
def test_train_gan_is_k_discriminator_steps_then_one_generator_step(k_critic, decay_steps) -> None:
    G, D, _, _, _ = _toy_setup(seed=6)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    data = torch.randn(4, 32, 2, generator=torch.Generator().manual_seed(8)) * 0.5 + 2.0
    batches = list(data)  # 4 batches of 32 points; with decay_steps=3 the last has lr 0
    kwargs = dict(lr=0.01, betas=(0.5, 0.9), k_critic=k_critic, decay_steps=decay_steps)
    history = gan.train_gan(G, D, lambda: iter(batches), 2, epochs=1,
                            generator=torch.Generator().manual_seed(9), **kwargs)
    losses = _gan_by_hand(G_ref, D_ref, batches, g=torch.Generator().manual_seed(9), **kwargs)
    assert history.n_steps == 4 and history.names[:2] == ["d_loss", "g_loss"]
    torch.testing.assert_close(torch.tensor([history.values["d_loss"], history.values["g_loss"]]).T,
                               torch.tensor(losses))
    for net, ref in ((G, G_ref), (D, D_ref)):
        for p, q in zip(net.parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p, q)


def test_train_gan_calls_the_players_in_the_order_of_the_two_steps_and_wraps_the_step() -> None:
    G, D, _, _, _ = _toy_setup(seed=7)
    calls = []
    G.register_forward_hook(lambda m, i, o: calls.append(("G", torch.is_grad_enabled())))
    D.register_forward_hook(lambda m, i, o: calls.append(("D", torch.is_grad_enabled())))
    wrapped = []

    def wrap_step(step):
        def watched(real):
            wrapped.append(len(real))
            return step(real)
        return watched

    real = torch.randn(16, 2)
    history = gan.train_gan(G, D, lambda: [real, real], 2, lr=1e-3, k_critic=2, wrap_step=wrap_step,
                            epochs=2)
    # per step: 2 × (G without gradients, D on real, D on fake), then G and D with gradients
    one_step = [("G", False), ("D", True), ("D", True)] * 2 + [("G", True), ("D", True)]
    assert calls == one_step * 4 and wrapped == [16] * 4 and history.n_steps == 4
    assert all(p.requires_grad for p in D.parameters())  # D is unfrozen after the G step
    with pytest.raises(ValueError, match="decay_steps must be a positive int"):
        gan.train_gan(G, D, lambda: [real], 2, lr=1e-3, decay_steps=0)
