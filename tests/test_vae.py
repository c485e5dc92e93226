"""Tests of genmodels.vae against independent references: torch.distributions, scipy,
brute-force enumeration, Monte-Carlo estimates, and the exact likelihood of PPCA."""

from __future__ import annotations

import copy
import itertools
import math
from typing import NamedTuple

import pytest
import scipy.stats
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from genmodels import vae
from genmodels.experiments import vae_fashion
from genmodels.lvm import PPCA, PPCAPosteriorVAE

DT = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------- KL and q(z|x)


def test_kl_closed_form_matches_torch_distributions_and_monte_carlo():
    g = gen(1)
    mu = torch.randn(4, 3, generator=g, dtype=DT)
    logvar = torch.randn(4, 3, generator=g, dtype=DT)
    kl = vae.kl_to_standard_normal(mu, logvar)
    assert kl.shape == (4,)
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(kl, kl_divergence(q, p).sum(1))
    # Monte Carlo: KL = E_q[log q(z) - log p(z)]; 200k samples, tolerance 5 standard errors.
    z = q.sample((200_000,))
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)  # [S, 4]
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(log_ratio.shape[0])
    assert torch.all((mc - kl).abs() < 5 * se), (mc, kl, se)


def test_kl_is_zero_only_at_the_prior():
    zeros = torch.zeros(2, 5)
    torch.testing.assert_close(vae.kl_to_standard_normal(zeros, zeros), torch.zeros(2))
    assert torch.all(vae.kl_to_standard_normal(zeros + 0.1, zeros) > 0)
    assert torch.all(vae.kl_to_standard_normal(zeros, zeros + 0.1) > 0)


def test_std_from_logvar_is_the_square_root_of_the_variance():
    var = torch.tensor([1e-4, 0.5, 1.0, 9.0], dtype=DT)
    torch.testing.assert_close(vae.std_from_logvar(torch.log(var)), var.sqrt())


def test_reparameterize_has_the_requested_mean_and_variance():
    mu = torch.tensor([[1.0, -2.0, 0.0]], dtype=DT).expand(100_000, 3)
    logvar = torch.log(torch.tensor([[0.25, 4.0, 1.0]], dtype=DT)).expand(100_000, 3)
    z = vae.reparameterize(mu, logvar, generator=gen(2))
    # standard errors: sigma/sqrt(n) <= 2/316 ~ 0.0063 for the mean
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.03, rtol=0)
    torch.testing.assert_close(z.var(0), logvar[0].exp(), atol=0.0, rtol=0.03)


def test_reparameterization_gradient_is_unbiased_and_beats_the_score_function():
    """d/dmu E_{z~N(mu, s^2)}[z^2] = 2 mu; both estimators are unbiased, reparam has lower variance."""
    n, mu0, s = 100_000, 1.5, 0.7
    mu = torch.full((n, 1), mu0, dtype=DT, requires_grad=True)
    logvar = torch.full((n, 1), 2 * math.log(s), dtype=DT)
    z = vae.reparameterize(mu, logvar, generator=gen(3))
    z.pow(2).sum().backward()
    reparam = mu.grad.flatten()  # per-sample gradient 2 z_i
    zd = z.detach().flatten()
    score = zd.pow(2) * (zd - mu0) / s**2  # f(z) d/dmu log q(z)
    exact = 2 * mu0
    for est in (reparam, score):
        se = est.std() / math.sqrt(n)
        assert abs(est.mean() - exact) < 5 * se
    # closed forms: Var(2z) = 4 s^2 = 1.96; the score-function variance is far larger
    assert abs(reparam.var() - 4 * s**2) < 0.05
    assert score.var() > 5 * reparam.var()


# ----------------------------------------------------------------- likelihoods


def test_gaussian_log_likelihood_matches_torch_and_scipy():
    g = gen(4)
    x = torch.randn(3, 1, 4, 4, generator=g, dtype=DT)
    mean = torch.randn(3, 1, 4, 4, generator=g, dtype=DT)
    sigma = 0.3
    ll = vae.gaussian_log_likelihood(x, mean, sigma)
    assert ll.shape == (3,)
    torch.testing.assert_close(ll, Normal(mean, sigma).log_prob(x).flatten(1).sum(1))
    ref = scipy.stats.multivariate_normal(mean[0].flatten().numpy(), sigma**2).logpdf(
        x[0].flatten().numpy()
    )
    assert abs(float(ll[0]) - ref) < 1e-9


def test_squared_error_weight_is_the_gaussian_weight_of_the_squared_error():
    """-log N(x; m, s^2 I) = alpha ||x - m||^2 + const with alpha = 1/(2 s^2)."""
    g = gen(5)
    x, m1, m2 = (torch.randn(2, 10, generator=g, dtype=DT) for _ in range(3))
    s = 0.2
    alpha = vae.squared_error_weight(s)
    assert alpha == pytest.approx(12.5)
    nll = lambda m: -Normal(m, s).log_prob(x).sum(1)  # noqa: E731
    se = lambda m: (x - m).pow(2).sum(1)  # noqa: E731
    torch.testing.assert_close(nll(m1) - nll(m2), alpha * (se(m1) - se(m2)))
    assert vae.sigma_from_squared_error_weight(alpha) == pytest.approx(s)


def test_alpha_weighted_loss_is_the_negative_elbo_up_to_a_constant():
    g = gen(6)
    x, rec = torch.rand(3, 8, generator=g, dtype=DT), torch.rand(3, 8, generator=g, dtype=DT)
    mu, logvar = torch.randn(3, 2, generator=g, dtype=DT), torch.randn(3, 2, generator=g, dtype=DT)
    alpha = 2.0
    s = 1 / math.sqrt(2 * alpha)
    neg_elbo = -Normal(rec, s).log_prob(x).sum(1) + kl_divergence(
        Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    ).sum(1)
    const = 8 * (math.log(s) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(
        vae.alpha_weighted_vae_loss(x, rec, mu, logvar, alpha), neg_elbo - const
    )


def test_bernoulli_log_likelihood_matches_brute_force():
    logits = torch.tensor([[-2.0, 0.5, 3.0, 0.0]], dtype=DT)
    p = torch.sigmoid(logits)[0]
    total = 0.0
    for bits in itertools.product([0.0, 1.0], repeat=4):  # every binary image
        x = torch.tensor([bits], dtype=DT)
        brute = sum(math.log(p[i] if b else 1 - p[i]) for i, b in enumerate(bits))
        ll = vae.bernoulli_log_likelihood(x, logits)
        assert float(ll[0]) == pytest.approx(brute, abs=1e-12)
        total += math.exp(float(ll[0]))
    assert total == pytest.approx(1.0)  # a normalised distribution over {0,1}^4
    # soft targets: x log p + (1 - x) log(1 - p)
    x = torch.tensor([[0.2, 0.9, 0.5, 1.0]], dtype=DT)
    ref = (x * p.log() + (1 - x) * (1 - p).log()).sum()
    assert float(vae.bernoulli_log_likelihood(x, logits)[0]) == pytest.approx(float(ref))


def test_bernoulli_log_likelihood_is_stable_for_extreme_logits():
    logits = torch.tensor([[200.0, -200.0]])
    x = torch.tensor([[0.0, 1.0]])
    ll = vae.bernoulli_log_likelihood(x, logits)
    assert torch.isfinite(ll).all() and float(ll[0]) == pytest.approx(-400.0)


# ----------------------------------------------------------------- ELBO and IWAE on PPCA


def _ppca(seed: int = 7) -> PPCA:
    g = gen(seed)
    W = torch.randn(5, 2, generator=g, dtype=DT)
    mu = torch.randn(5, generator=g, dtype=DT)
    return PPCA(W, mu, sigma2=0.5)


def test_elbo_equals_log_marginal_at_the_exact_posterior():
    model = PPCAPosteriorVAE(_ppca())
    x = model.ppca.sample(6, generator=gen(8))
    log_px = model.ppca.marginal_log_prob(x)
    # every importance weight p(x,z)/p(z|x) equals p(x): the one-sample bound is exact
    torch.testing.assert_close(vae.iwae_bound(model, x, k=1, generator=gen(9)), log_px)
    # the ELBO (MC reconstruction + closed-form KL) matches within MC error (20k samples)
    terms = vae.elbo_terms(model, x, n_samples=20_000, generator=gen(10))
    assert torch.all((terms.elbo - log_px).abs() < 0.05), terms.elbo - log_px


def test_elbo_gap_is_the_kl_to_the_true_posterior():
    """log p(x) - ELBO = KL(q(z|x) || p(z|x)) >= 0 (eq-elbo-kl-decomposition)."""
    exact = PPCAPosteriorVAE(_ppca())
    model = PPCAPosteriorVAE(_ppca(), mean_shift=0.4, logvar_shift=0.8)
    x = exact.ppca.sample(4, generator=gen(11))
    log_px = exact.ppca.marginal_log_prob(x)
    terms = vae.elbo_terms(model, x, n_samples=40_000, generator=gen(12))
    mu_q, logvar_q = model.encode(x)
    post_mean, post_cov = exact.ppca.posterior(x)
    gap = kl_divergence(
        MultivariateNormal(mu_q, torch.diag_embed(logvar_q.exp())),
        MultivariateNormal(post_mean, post_cov.expand(4, 2, 2)),
    )
    assert torch.all(terms.elbo < log_px)
    assert torch.all(gap > 0.1)
    torch.testing.assert_close(log_px - terms.elbo, gap, atol=0.05, rtol=0)


def test_iwae_bound_increases_with_k_and_approaches_log_marginal():
    exact = PPCAPosteriorVAE(_ppca())
    model = PPCAPosteriorVAE(_ppca(), mean_shift=0.4, logvar_shift=0.8)
    x = exact.ppca.sample(8, generator=gen(13))
    log_px = exact.ppca.marginal_log_prob(x)
    g = gen(14)
    means = []
    for k in (1, 10, 100, 1000):
        # average 50 independent estimates per point to beat the MC noise
        est = torch.stack([vae.iwae_bound(model, x, k=k, chunk=256, generator=g) for _ in range(50)])
        means.append(est.mean())
    means_t = torch.stack(means)
    assert torch.all(means_t[1:] > means_t[:-1]), means_t
    gap_1 = float(log_px.mean() - means_t[0])
    gap_1000 = float(log_px.mean() - means_t[-1])
    assert gap_1 > 0.3
    assert 0 <= gap_1000 < 0.03 * gap_1 + 0.01, (gap_1, gap_1000)


def test_iwae_bound_is_numerically_stable_for_tiny_likelihoods():
    """log weights around -1e4 would underflow exp(); logsumexp keeps the bound exact."""
    model = PPCAPosteriorVAE(_ppca())
    x = model.ppca.sample(3, generator=gen(15)) + 100.0  # far from the data
    log_px = model.ppca.marginal_log_prob(x)
    assert torch.all(log_px < -1000)
    bound = vae.iwae_bound(model, x, k=37, chunk=5, generator=gen(16))
    torch.testing.assert_close(bound, log_px)


def test_beta_weights_only_the_kl_term():
    model = vae.MLPVAE(2, hidden=(16,), image_shape=(1, 8, 8))
    x = torch.rand(5, 1, 8, 8, generator=gen(17))
    t1 = vae.elbo_terms(model, x, beta=1.0, generator=gen(18))
    t4 = vae.elbo_terms(model, x, beta=4.0, generator=gen(18))
    torch.testing.assert_close(t1.reconstruction, t4.reconstruction)
    torch.testing.assert_close(t1.elbo - t4.elbo, 3.0 * t1.kl)


def test_elbo_terms_bernoulli_with_a_point_mass_posterior():
    """With sigma -> 0 the sample is z = mu, so the reconstruction is log Bernoulli(x; dec(mu))."""

    class PointEncoder(vae.MLPVAE):
        def encode(self, x):
            mu, _ = super().encode(x)
            return mu, torch.full_like(mu, -60.0)

    model = PointEncoder(3, hidden=(16,), image_shape=(1, 8, 8))
    x = (torch.rand(4, 1, 8, 8, generator=gen(19)) > 0.5).float()
    terms = vae.elbo_terms(model, x, generator=gen(20))
    mu, logvar = model.encode(x)
    ref = torch.distributions.Bernoulli(logits=model.decode(mu)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(terms.reconstruction, ref)
    torch.testing.assert_close(
        terms.kl, kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    )


def test_vae_step_loss_is_the_batch_mean_negative_elbo():
    model = vae.MLPVAE(2, hidden=(16,), image_shape=(1, 8, 8))
    x = torch.rand(6, 1, 8, 8, generator=gen(21))
    out = vae.vae_step_loss(model, x, beta=2.0, generator=gen(22))
    terms = vae.elbo_terms(model, x, beta=2.0, generator=gen(22))
    torch.testing.assert_close(out["loss"], -terms.elbo.mean())
    torch.testing.assert_close(out["loss"], out["reconstruction"] + 2.0 * out["kl"])
    assert out["loss"].requires_grad and not out["kl"].requires_grad


# ----------------------------------------------------------------- models


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_models_have_the_documented_shapes(shape):
    model = vae.MLPVAE(3, image_shape=shape)
    x = torch.rand(2, *shape)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (2, 3)
    assert model.decode(mu).shape == (2, *shape)
    samples = model.sample(5, generator=gen(0))
    assert samples.shape == (5, *shape)
    assert samples.min() >= 0 and samples.max() <= 1
    rec, mu2, _ = model(x, generator=gen(0))
    assert rec.shape == x.shape and mu2.shape == (2, 3)


def test_gaussian_model_decodes_a_mean_in_the_unit_interval_and_uses_its_sigma():
    model = vae.MLPVAE(2, hidden=(16,), image_shape=(1, 8, 8), likelihood="gaussian", sigma=0.5)
    x = torch.rand(3, 1, 8, 8, generator=gen(23))
    mean = model.decode(torch.randn(3, 2))
    assert mean.min() >= 0 and mean.max() <= 1
    a = vae.elbo_terms(model, x, generator=gen(24))
    b = vae.elbo_terms(model, x, likelihood="gaussian", sigma=0.5, generator=gen(24))
    torch.testing.assert_close(a.elbo, b.elbo)


def test_training_a_small_vae_increases_the_elbo():
    torch.manual_seed(0)
    model = vae.MLPVAE(2, hidden=(32,), image_shape=(1, 8, 8))
    x = (torch.rand(64, 1, 8, 8, generator=gen(25)) > 0.5).float()
    x[32:] = 1 - x[:32]  # two clusters of patterns
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = gen(26)
    with torch.no_grad():
        before = vae.elbo_terms(model, x, n_samples=20, generator=gen(27)).elbo.mean()
    for _ in range(150):
        opt.zero_grad()
        vae.vae_step_loss(model, x, generator=g)["loss"].backward()
        opt.step()
    with torch.no_grad():
        after = vae.elbo_terms(model, x, n_samples=20, generator=gen(27)).elbo.mean()
    assert after > before + 5


def test_same_seed_same_result():
    def run():
        torch.manual_seed(3)
        model = vae.MLPVAE(2, hidden=(16,), image_shape=(1, 8, 8))
        x = torch.rand(4, 1, 8, 8, generator=gen(1))
        return vae.elbo_terms(model, x, generator=gen(2)).elbo, model.sample(3, generator=gen(4))

    (e1, s1), (e2, s2) = run(), run()
    assert torch.equal(e1, e2) and torch.equal(s1, s2)


# ----------------------------------------------------------------- chapter 6's training loop


def _hand_written_adam_epochs(model, x, epochs, batch_size, lr, generator, loss_of):
    """Adam over shuffled minibatches, written out: one permutation per pass from
    ``generator``, consecutive slices of it, the last one smaller."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            loss = loss_of(model, x[order[start:start + batch_size]])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


@pytest.mark.parametrize("fused", [False, True])
def test_train_with_adam_is_adam_on_the_negative_elbo_of_shuffled_minibatches(fused):
    settings = vae_fashion.FashionVAESettings(latent_dim=2, hidden=(8,), batch_size=16, lr=1e-2,
                                      fused_adam=fused)
    x = (torch.rand(40, 1, 8, 8, generator=gen(30)) > 0.5).float()
    torch.manual_seed(1)
    model = vae.MLPVAE(2, hidden=(8,), image_shape=(1, 8, 8))
    torch.manual_seed(1)
    reference = vae.MLPVAE(2, hidden=(8,), image_shape=(1, 8, 8))
    history = vae.train_with_adam(model, x, 2, settings, gen(31))
    g = gen(31)
    losses = _hand_written_adam_epochs(
        reference, x, 2, 16, 1e-2, g,
        lambda m, xb: -vae.elbo_terms(m, xb, generator=g).elbo.mean())
    assert history.n_steps == 2 * math.ceil(40 / 16) and history.epochs == 2
    assert set(history.names) == {"loss", "reconstruction", "kl"}
    # fused Adam is the same algorithm, computed in one kernel: equal up to float rounding
    tol = {"rtol": 0.0, "atol": 0.0} if not fused else {"rtol": 1e-4, "atol": 1e-5}
    torch.testing.assert_close(torch.tensor(history.values["loss"]), torch.tensor(losses), **tol)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, **tol)


def test_train_with_adam_trains_any_model_on_the_loss_it_is_given():
    settings = vae_fashion.FashionVAESettings(batch_size=8, lr=0.1)
    x = torch.rand(32, 3)
    target = torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 3)
    seen = []

    def squared_error(m, xb):
        return {"loss": (m(xb) - target).pow(2).sum(1).mean()}

    history = vae.train_with_adam(model, x, 30, settings, gen(2), loss_terms=squared_error,
                                  on_epoch_end=lambda epoch, h: seen.append((epoch, h.n_steps)))
    assert history.names == ["loss"] and history.n_steps == 30 * 4
    assert seen == [(e, 4 * e) for e in range(1, 31)]
    assert history.values["loss"][-1] < 0.05 * history.values["loss"][0]


def test_train_with_adam_takes_the_batches_a_function_returns_and_any_adam_settings():
    class Adam(NamedTuple):  # any object with the three fields of vae.AdamSettings
        lr: float
        batch_size: int
        fused_adam: bool | None

    batches = [torch.rand(5, 3, generator=gen(i)) for i in range(3)]  # in this order, each epoch
    target = torch.tensor([1.0, -2.0, 0.5])

    def squared_error(m, xb):
        return {"loss": (m(xb) - target).pow(2).sum(1).mean()}

    torch.manual_seed(4)
    model = torch.nn.Linear(3, 3)
    reference = copy.deepcopy(model)
    history = vae.train_with_adam(model, lambda: iter(batches), 2, Adam(0.05, 999, None),
                                  loss_terms=squared_error)
    opt = torch.optim.Adam(reference.parameters(), lr=0.05)
    losses = []
    for xb in batches + batches:  # two epochs; batch_size plays no part
        loss = squared_error(reference, xb)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert history.n_steps == 6 and history.epochs == 2
    torch.testing.assert_close(torch.tensor(history.values["loss"]), torch.tensor(losses))
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_fashion_vae_settings_are_chapter_6s_and_checked():
    s = vae_fashion.FashionVAESettings()
    assert (s.latent_dim, s.hidden, s.batch_size, s.lr) == (16, (256,), 128, 1e-3)
    assert s.epochs(torch.device("cpu")) == 3
    assert s.epochs(torch.device("cuda")) == s.epochs(torch.device("mps")) == 30
    with pytest.raises(ValueError, match="epochs_cpu must be a positive int"):
        vae_fashion.FashionVAESettings(epochs_cpu=0)
    with pytest.raises(ValueError, match="iwae_ks must be positive ints"):
        vae_fashion.FashionVAESettings(iwae_ks=(1, 0))
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        vae.train_with_adam(torch.nn.Linear(2, 2), torch.rand(4, 2), 0, s)
    with pytest.raises(ValueError, match=r"x_train must be a tensor of training rows \[N, \.\.\.\] or a function"):
        vae.train_with_adam(torch.nn.Linear(2, 2), torch.rand(4), 1, s)


# ----------------------------------------------------------------- bad input


def test_bad_inputs_give_clear_errors():
    model = vae.MLPVAE(2, hidden=(8,))
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\].*unsqueeze\(1\)"):
        model.encode(torch.rand(4, 28, 28))
    with pytest.raises(ValueError, match=r"1 channel"):
        model.encode(torch.rand(4, 3, 28, 28))
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\]"):
        model.encode(torch.rand(4, 1, 8, 8))
    with pytest.raises(TypeError, match="to_float_images"):
        model.encode(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        model.decode(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="same shape"):
        vae.kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="same shape"):
        vae.bernoulli_log_likelihood(torch.zeros(2, 1, 28, 28), torch.zeros(2, 784))
    with pytest.raises(ValueError, match="sigma"):
        vae.gaussian_log_likelihood(torch.zeros(2, 3), torch.zeros(2, 3), sigma=0.0)
    with pytest.raises(ValueError, match="built with likelihood='bernoulli'"):
        vae.elbo_terms(model, torch.rand(2, 1, 28, 28), likelihood="gaussian", sigma=1.0)
    gmodel = vae.MLPVAE(2, hidden=(8,), likelihood="gaussian")
    with pytest.raises(ValueError, match="needs sigma"):
        vae.elbo_terms(gmodel, torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="likelihood must be one of"):
        vae.MLPVAE(2, likelihood="poisson")
    with pytest.raises(ValueError, match="k must be a positive int"):
        vae.iwae_bound(model, torch.rand(2, 1, 28, 28), k=0)
