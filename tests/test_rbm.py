"""Tests of genmodels.rbm against brute-force enumeration of a tiny RBM.

With 4 visible and 3 hidden units the joint has 2⁷ = 128 states, so every conditional,
marginal, free energy and the log-likelihood gradient can be computed exactly from the
energy formula E(v, h) = −bᵀv − cᵀh − vᵀWh written out here, independently of the library.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from genmodels.core.train import History
from genmodels.experiments.rbm_digits import (
    TRAINING_RULES,
    DigitsRBMSettings,
    binarised_digits_split,
    data_log_odds,
    gibbs_snapshots,
    long_chain_free_energies,
    rbm_with_data_log_odds,
    train_rbms_by_rule,
    train_small_rbms,
)
from genmodels.rbm import (
    BernoulliRBM,
    contrastive_divergence_loss,
    exact_log_likelihood,
    log_partition_function,
    pseudo_log_likelihood,
    reconstruction_error,
    train_rbm,
)

D, H = 4, 3


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def _index(v: torch.Tensor) -> torch.Tensor:
    """Row index of each binary state ``v`` ``[..., D]`` in the table of :func:`_states`."""
    return (v * 2 ** torch.arange(v.shape[-1] - 1, -1, -1, dtype=v.dtype)).sum(-1).long()


def _tiny_rbm(seed: int = 0, scale: float = 1.0) -> BernoulliRBM:
    g = torch.Generator().manual_seed(seed)
    rbm = BernoulliRBM(D, H).double()
    with torch.no_grad():
        rbm.weight.copy_(torch.randn(D, H, generator=g, dtype=torch.float64) * scale)
        rbm.visible_bias.copy_(torch.randn(D, generator=g, dtype=torch.float64) * 0.5)
        rbm.hidden_bias.copy_(torch.randn(H, generator=g, dtype=torch.float64) * 0.5)
    return rbm


def _joint_table(rbm: BernoulliRBM) -> torch.Tensor:
    """Exact p(v, h) as a [2^D, 2^H] table, by enumerating every (v, h) pair in loops."""
    W, b, c = rbm.weight.detach(), rbm.visible_bias.detach(), rbm.hidden_bias.detach()
    vs, hs = _states(D), _states(H)
    neg_energy = torch.empty(len(vs), len(hs), dtype=torch.float64)
    for i, v in enumerate(vs):
        for j, h in enumerate(hs):
            neg_energy[i, j] = b @ v + c @ h + v @ W @ h
    return torch.softmax(neg_energy.reshape(-1), 0).reshape(len(vs), len(hs))


def test_block_conditionals_match_enumeration() -> None:
    rbm = _tiny_rbm()
    joint = _joint_table(rbm)
    vs, hs = _states(D), _states(H)
    p_v, p_h = joint.sum(1), joint.sum(0)
    # p(h_j = 1 | v) = Σ_{h: h_j=1} p(v, h) / p(v)
    exact_h = (joint @ hs) / p_v[:, None]
    exact_v = (joint.T @ vs) / p_h[:, None]
    with torch.no_grad():
        assert torch.allclose(rbm.hidden_probs(vs), exact_h, atol=1e-12)
        assert torch.allclose(rbm.visible_probs(hs), exact_v, atol=1e-12)
    # and the factorisation: p(h | v) = Π_j p(h_j | v) (no hidden-hidden interactions)
    cond = joint / p_v[:, None]
    ph = exact_h[:, None, :]
    product = (hs[None] * ph + (1 - hs[None]) * (1 - ph)).prod(-1)
    assert torch.allclose(cond, product, atol=1e-12)


def test_free_energy_and_energy_match_enumeration() -> None:
    rbm = _tiny_rbm(1)
    joint = _joint_table(rbm)
    vs, hs = _states(D), _states(H)
    with torch.no_grad():
        f = rbm.free_energy(vs)
        # exp(−F(v)) / Σ exp(−F) must be the exact marginal p(v)
        assert torch.allclose(torch.softmax(-f, 0), joint.sum(1), atol=1e-12)
        # F(v) = −log Σ_h exp(−E(v, h)) up to nothing (not just a constant)
        W, b, c = rbm.weight, rbm.visible_bias, rbm.hidden_bias
        for i, v in enumerate(vs):
            brute = -torch.logsumexp(torch.stack([b @ v + c @ h + v @ W @ h for h in hs]), 0)
            assert float(f[i]) == pytest.approx(float(brute), abs=1e-10)
        v_rep = vs.repeat_interleave(len(hs), 0)
        h_rep = hs.repeat(len(vs), 1)
        e = rbm.energy(v_rep, h_rep)
        brute_e = -(v_rep @ b) - (h_rep @ c) - torch.einsum("bi,ij,bj->b", v_rep, W, h_rep)
        assert torch.allclose(e, brute_e, atol=1e-12)


def test_long_block_gibbs_matches_exact_marginal() -> None:
    rbm = _tiny_rbm(2)
    p_v = _joint_table(rbm).sum(1)
    g = torch.Generator().manual_seed(0)
    n = 20_000
    v = rbm.sample(n, 100, g)  # final states of 20 000 independent chains from noise
    assert v.shape == (n, D)
    assert set(v.unique().tolist()) <= {0.0, 1.0}
    index = _index(v)
    empirical = torch.bincount(index, minlength=2**D).double() / n
    tv = 0.5 * (empirical - p_v).abs().sum()
    # With 16 states and 20 000 samples, E[TV] ≈ 0.01; a chain that did not converge, or a
    # wrong conditional, gives far more. Tolerance 0.03.
    assert float(tv) < 0.03
    # one long chain gives the same marginal (ergodic average)
    chain, _ = rbm.gibbs_chain(torch.zeros(1, D, dtype=torch.float64), 10_000, g)
    index = _index(chain[1000:, 0])
    empirical = torch.bincount(index, minlength=2**D).double() / len(index)
    assert float(0.5 * (empirical - p_v).abs().sum()) < 0.05


def test_cd_loss_gradient_is_log_likelihood_gradient_with_exact_model_samples() -> None:
    # With negative samples drawn exactly from p(v), the gradient of the CD surrogate is a
    # Monte-Carlo estimate of −∇ mean log p(v_data) (eq-cd-gradient).
    rbm = _tiny_rbm(3, scale=0.7)
    vs = _states(D)
    g = torch.Generator().manual_seed(1)
    data = vs[torch.randint(len(vs), (64,), generator=g)]
    # exact −mean log-likelihood through the enumerated partition function
    joint_logits = torch.stack(
        [
            torch.logsumexp(
                torch.stack(
                    [
                        rbm.visible_bias @ v + rbm.hidden_bias @ h + v @ rbm.weight @ h
                        for h in _states(H)
                    ]
                ),
                0,
            )
            for v in vs
        ]
    )
    log_z = torch.logsumexp(joint_logits, 0)
    idx = _index(data)
    nll = -(joint_logits[idx] - log_z).mean()
    exact = torch.autograd.grad(nll, [rbm.weight, rbm.visible_bias, rbm.hidden_bias])
    with torch.no_grad():
        p_v = torch.softmax(joint_logits, 0)
    model = vs[torch.multinomial(p_v, 400_000, replacement=True, generator=g)]
    estimate = torch.autograd.grad(
        contrastive_divergence_loss(rbm, data, model),
        [rbm.weight, rbm.visible_bias, rbm.hidden_bias],
    )
    # Each entry is a mean over 4e5 samples of a quantity in [−1, 1]: SE ≤ 0.0016; tol 0.01.
    for e, g_hat in zip(exact, estimate, strict=True):
        assert torch.allclose(g_hat, e, atol=0.01)


def test_pseudo_log_likelihood_matches_enumeration() -> None:
    rbm = _tiny_rbm(4)
    vs = _states(D)
    p_v = _joint_table(rbm).sum(1)
    brute = torch.zeros(len(vs), dtype=torch.float64)
    for a, v in enumerate(vs):
        for i in range(D):
            w = v.clone()
            w[i] = 1 - w[i]
            b = int(_index(w))
            brute[a] += torch.log(p_v[a] / (p_v[a] + p_v[b]))
    with torch.no_grad():
        assert torch.allclose(pseudo_log_likelihood(rbm, vs), brute, atol=1e-10)


def _two_prototype_data(n: int, g: torch.Generator) -> torch.Tensor:
    """Noisy copies (5 % flips) of two complementary 16-bit patterns."""
    proto = torch.tensor([[1.0] * 8 + [0.0] * 8, [0.0] * 8 + [1.0] * 8])
    x = proto[torch.randint(2, (n,), generator=g)]
    flips = (torch.rand(n, 16, generator=g) < 0.05).float()
    return (x + flips) % 2


@pytest.mark.parametrize("persistent", [False, True])
def test_training_increases_pseudo_log_likelihood(persistent: bool) -> None:
    g = torch.Generator().manual_seed(0)
    data = _two_prototype_data(512, g)
    rbm = BernoulliRBM(16, 8, generator=g)
    history = train_rbm(
        rbm, data, epochs=8, k=1, persistent=persistent, lr=0.1, batch_size=64, generator=g
    )
    assert isinstance(history, History)
    pll = history.epoch_values["pseudo_log_likelihood"]
    assert len(pll) == 9 and history.epochs == 8 and history.n_steps == 8 * 8
    assert history.epoch_steps == [8 * epoch for epoch in range(9)]  # 512 / 64 updates per epoch
    assert len(history.values["loss"]) == 8 * 8  # the CD surrogate loss of every update
    # Untrained: each bit is a fair coin, PLL = 16 log ½ ≈ −11.09 nats. The data has
    # entropy ≈ 16·H(0.05) + log 2 ≈ 4.1 nats; a trained model must get well above −5
    # (it reaches ≈ −3.7 after these 64 updates).
    assert pll[0] == pytest.approx(16 * torch.log(torch.tensor(0.5)).item(), abs=0.05)
    assert pll[-1] > -5.0
    error = history.epoch_values["reconstruction_error"]
    assert error[-1] < error[0]
    # samples from noise reproduce the two prototypes' statistics: ~half ones, and the two
    # halves anti-correlated
    samples = rbm.sample(2000, 100, g)
    left, right = samples[:, :8].mean(1), samples[:, 8:].mean(1)
    assert float(torch.corrcoef(torch.stack([left, right]))[0, 1]) < -0.5


def test_training_is_reproducible_and_history_round_trips() -> None:
    def run(seed: int) -> tuple[BernoulliRBM, History]:
        g = torch.Generator().manual_seed(seed)
        data = _two_prototype_data(128, g)
        rbm = BernoulliRBM(16, 4, generator=g)
        return rbm, train_rbm(
            rbm, data, epochs=2, k=2, persistent=True, generator=g, optimizer="adam", lr=0.01
        )

    (a, ha), (b, hb) = run(7), run(7)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert ha.values == hb.values and ha.epoch_values == hb.epoch_values
    assert History.from_dict(ha.to_dict()) == ha


def _cd_by_hand(
    w: torch.Tensor, b: torch.Tensor, c: torch.Tensor, data: torch.Tensor, *, epochs: int,
    k: int, persistent: bool, lr: float, momentum: float, batch_size: int, g: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CD-k / PCD-k written out: the gradient ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model with p(h | v) in
    place of h, heavy-ball momentum, and the random numbers drawn in the documented order
    (chains' start; per epoch a permutation; per Gibbs step u_h then u_v)."""
    def gibbs(v: torch.Tensor) -> torch.Tensor:
        u_h = torch.rand(v.shape[0], w.shape[1], generator=g, dtype=v.dtype)
        h = (u_h < torch.sigmoid(c + v @ w)).to(v.dtype)
        u_v = torch.rand(v.shape[0], w.shape[0], generator=g, dtype=v.dtype)
        return (u_v < torch.sigmoid(b + h @ w.T)).to(v.dtype)

    chains = None
    if persistent:
        chains = (torch.rand(batch_size, w.shape[0], generator=g, dtype=data.dtype) < 0.5).to(data.dtype)
    velocity = None
    for _ in range(epochs):
        perm = torch.randperm(len(data), generator=g)
        for start in range(0, len(data), batch_size):
            v_data = data[perm[start:start + batch_size]]
            v = chains if persistent else v_data
            for _ in range(k):
                v = gibbs(v)
            if persistent:
                chains = v
            p_data, p_model = torch.sigmoid(c + v_data @ w), torch.sigmoid(c + v @ w)
            ascent = (  # the CD estimate of ∇ log p, per parameter (eq-cd-gradient)
                v_data.T @ p_data / len(v_data) - v.T @ p_model / len(v),
                v_data.mean(0) - v.mean(0),
                p_data.mean(0) - p_model.mean(0),
            )
            velocity = ([-a for a in ascent] if velocity is None
                        else [momentum * m - a for m, a in zip(velocity, ascent, strict=True)])
            w, b, c = (p - lr * m for p, m in zip((w, b, c), velocity, strict=True))
    return w, b, c


@pytest.mark.parametrize("k, persistent", [(2, False), (1, True)])
def test_train_rbm_is_cd_or_pcd_with_momentum_written_out(k: int, persistent: bool) -> None:
    g = torch.Generator().manual_seed(3)
    data = _two_prototype_data(40, g).double()  # 40 rows in batches of 16: the last has 8
    rbm = BernoulliRBM(16, 5, generator=g).double()
    start = [p.detach().clone() for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias)]
    kwargs = dict(epochs=3, k=k, persistent=persistent, lr=0.1, momentum=0.5, batch_size=16)
    history = train_rbm(rbm, data, generator=torch.Generator().manual_seed(4), **kwargs)
    expected = _cd_by_hand(*start, data, g=torch.Generator().manual_seed(4), **kwargs)
    for got, want in zip((rbm.weight, rbm.visible_bias, rbm.hidden_bias), expected, strict=True):
        torch.testing.assert_close(got.detach(), want, rtol=0, atol=1e-10)
    assert history.n_steps == 9 and history.epoch_steps == [0, 3, 6, 9]


def test_seconds_budget_stops_training_and_extra_metrics_are_recorded() -> None:
    g = torch.Generator().manual_seed(0)
    data = _two_prototype_data(256, g)
    rbm = BernoulliRBM(16, 8)
    history = train_rbm(
        rbm,
        data,
        seconds=0.3,
        batch_size=8,
        generator=g,
        metrics={"mean_weight": lambda r: r.weight.mean()},
    )
    assert history.n_steps >= 1 and history.stopped_by == "seconds"  # no upper bound on time
    # the monitors are recorded before training, after each complete epoch and for the
    # final model, even when the time ran out within an epoch
    assert history.epoch_steps[0] == 0 and history.epoch_steps[-1] == history.n_steps
    assert len(history.epoch_values["mean_weight"]) == len(history.epoch_steps)
    assert history.epoch_values["mean_weight"][-1] == pytest.approx(float(rbm.weight.detach().mean()))


def test_reconstruction_error_of_ideal_autoencoding_rbm_is_small() -> None:
    # Large positive weights on the diagonal copy v → h → v almost exactly.
    rbm = BernoulliRBM(3, 3)
    with torch.no_grad():
        rbm.weight.copy_(20 * torch.eye(3))
        rbm.visible_bias.fill_(-10.0)
        rbm.hidden_bias.fill_(-10.0)
    v = _states(3).float()
    assert reconstruction_error(rbm, v).max() < 1e-4


def test_bad_input_gives_clear_errors() -> None:
    rbm = BernoulliRBM(4, 3)
    with pytest.raises(ValueError, match=r"\[batch, 4\]"):
        rbm.hidden_probs(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\[batch, 3\]"):
        rbm.visible_probs(torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        rbm.free_energy(torch.zeros(2, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="positive int"):
        BernoulliRBM(0, 3)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        train_rbm(rbm, torch.full((8, 4), 255.0), epochs=1)
    with pytest.raises(ValueError, match="budget"):
        train_rbm(rbm, torch.zeros(8, 4))
    with pytest.raises(ValueError, match="k must be"):
        train_rbm(rbm, torch.zeros(8, 4), epochs=1, k=0)
    with pytest.raises(ValueError, match="optimizer"):
        train_rbm(rbm, torch.zeros(8, 4), epochs=1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="start must have shape"):
        rbm.sample(2, 3, start=torch.zeros(3, 4))


def test_exact_log_likelihood_matches_enumeration_of_visible_states() -> None:
    rbm = _tiny_rbm(5)
    p_v = _joint_table(rbm).sum(1)
    vs = _states(D)
    got = exact_log_likelihood(rbm, vs)
    assert torch.allclose(got, p_v.log(), atol=1e-10)
    # chunked enumeration gives the same log Z
    assert float(log_partition_function(rbm, chunk=3)) == pytest.approx(
        float(log_partition_function(rbm)), abs=1e-12
    )
    with pytest.raises(ValueError, match="max_hidden"):
        log_partition_function(BernoulliRBM(4, 30))



# --- chapter 3's experiment ------------------------------------------------------------------


def test_data_log_odds_is_the_logit_of_the_clamped_pixel_means() -> None:
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]])
    means = [1.0, 0.0, 2 / 3, 1 / 3]
    clamped = [min(max(m, 0.01), 0.99) for m in means]
    expected = torch.tensor([math.log(p) - math.log1p(-p) for p in clamped])
    assert torch.allclose(data_log_odds(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"float tensor \[N, D\]"):
        data_log_odds(torch.ones(4))
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        data_log_odds(x, low=0.5, high=0.2)


def test_untrained_rbm_is_the_independent_pixel_model() -> None:
    """With weights of std 0.01 the RBM is nearly the product of Bernoulli(sigmoid(b_i)) pixels,
    whose log-likelihood needs no partition function: an independent check of the split, the
    data log-odds initialisation and the exact likelihood chapter 3 reports."""
    x_train, x_test = binarised_digits_split(1500, 0, "cpu")
    assert x_train.shape == (1500, 64) and x_test.shape == (297, 64)
    assert set(torch.unique(x_train).tolist()) == {0.0, 1.0}
    model = rbm_with_data_log_odds(x_train, 16, seed=1)
    p = x_train.mean(0).clamp(0.01, 0.99).double()
    v = x_test.double()
    independent = (v * p.log() + (1 - v) * (1 - p).log()).sum(1).mean().item()
    assert exact_log_likelihood(model, x_test).mean().item() == pytest.approx(independent, abs=0.02)
    # the weights depend on the seed only, not on the data
    again = rbm_with_data_log_odds(x_test, 16, seed=1)
    assert torch.equal(again.weight, model.weight)


def test_digits_split_is_a_seeded_partition() -> None:
    from genmodels.core import data

    digits = data.load_digits()
    everything = data.binarize(data.to_float_images(digits)).reshape(len(digits.images), -1)
    x_train, x_test = binarised_digits_split(1000, 3, "cpu")
    rows = sorted(map(tuple, torch.cat([x_train, x_test]).tolist()))
    assert rows == sorted(map(tuple, everything.tolist()))  # every digit exactly once
    again, _ = binarised_digits_split(1000, 3, "cpu")
    other, _ = binarised_digits_split(1000, 4, "cpu")
    assert torch.equal(again, x_train) and not torch.equal(other, x_train)
    with pytest.raises(ValueError, match="n_train must be an int between 1 and 1796"):
        binarised_digits_split(1797, 0)


def test_train_rbms_by_rule_starts_every_rule_from_the_same_model() -> None:
    g = torch.Generator().manual_seed(0)
    data = _two_prototype_data(96, g)
    common = {"epochs": 2, "seeds": (5, 6), "lr": 0.1, "momentum": 0.5, "batch_size": 32}
    trained = train_rbms_by_rule(data, 4, ["CD-1", "CD-10", "PCD-1"], **common)
    assert list(trained) == ["CD-1", "CD-10", "PCD-1"]
    start = {name: h.epoch_values["pseudo_log_likelihood"][0] for name, (_, h) in trained.items()}
    assert len(set(start.values())) == 1  # the same initial model
    final = {name: m.weight for name, (m, _) in trained.items()}
    assert not torch.equal(final["CD-1"], final["CD-10"])
    assert not torch.equal(final["CD-1"], final["PCD-1"])
    # each rule is train_rbm with the rule's arguments, from rbm_with_data_log_odds
    for name, (model, _) in trained.items():
        reference = rbm_with_data_log_odds(data, 4, seed=5)
        train_rbm(reference, data, epochs=2, lr=0.1, momentum=0.5, batch_size=32,
                  generator=torch.Generator().manual_seed(6), **TRAINING_RULES[name])
        assert torch.equal(reference.weight, model.weight), name
    with pytest.raises(ValueError, match="unknown RBM training rule 'CD-2'"):
        train_rbms_by_rule(data, 4, ["CD-2"], **common)


def test_train_small_rbms_records_the_exact_test_log_likelihood() -> None:
    g = torch.Generator().manual_seed(1)
    x_train, x_test = _two_prototype_data(64, g), _two_prototype_data(16, g)
    settings = DigitsRBMSettings(small_hidden=3, rules=("CD-1",), batch_size=16)
    ((model, history),) = train_small_rbms(x_train, x_test, settings, epochs=2).values()
    curve = history.epoch_values["test_log_likelihood"]
    assert len(curve) == 3
    # the last record is log p(v) of the returned model, with log Z = log Σ_v exp(−F(v))
    # summed here over all 2^16 visible states (the library sums over the 2^3 hidden ones)
    vs = _states(16)
    log_z = torch.logsumexp(-model.free_energy(vs.float()).double(), 0)
    brute = (-model.free_energy(x_test).double() - log_z).mean().item()
    assert curve[-1] == pytest.approx(brute, abs=1e-4)


def test_digits_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown RBM training rule 'CD-2'"):
        DigitsRBMSettings(rules=("CD-2",))
    with pytest.raises(ValueError, match="epochs_cpu must be a positive int"):
        DigitsRBMSettings(epochs_cpu=0)


def test_long_chain_free_energies_match_the_free_energy_formula() -> None:
    rbm = _tiny_rbm(2).float()
    x_test = _states(D).float()
    got = long_chain_free_energies(rbm, x_test, 50, 20, torch.Generator().manual_seed(4))
    samples = rbm.sample(50, 20, torch.Generator().manual_seed(4))

    def free_energy(v: torch.Tensor) -> torch.Tensor:  # eq-rbm-free-energy, written out
        W, b, c = rbm.weight.detach(), rbm.visible_bias.detach(), rbm.hidden_bias.detach()
        return -(v @ b) - torch.log1p(torch.exp(v @ W + c)).sum(1)

    assert got.free_energy_test == pytest.approx(float(free_energy(x_test).mean()), abs=1e-5)
    assert got.free_energy_samples == pytest.approx(float(free_energy(samples).mean()), abs=1e-5)
    p_v = _joint_table(_tiny_rbm(2)).sum(1)  # exact p(v): the PLL's conditionals by enumeration
    pll = []
    for v in _states(D):
        terms = []
        for i in range(D):
            flipped = v.clone()
            flipped[i] = 1 - flipped[i]
            p, q = p_v[_index(v)], p_v[_index(flipped)]
            terms.append(torch.log(p / (p + q)))
        pll.append(sum(terms))
    assert got.test_pseudo_log_likelihood == pytest.approx(float(torch.stack(pll).mean()), abs=1e-4)


def test_gibbs_snapshots_are_the_chain_at_those_steps() -> None:
    rbm = _tiny_rbm(3).float()
    start = _states(D).float()
    states, probs = gibbs_snapshots(rbm, start, [1, 3, 4], torch.Generator().manual_seed(8))
    chain, chain_probs = rbm.gibbs_chain(start, 4, torch.Generator().manual_seed(8))
    assert list(states) == [1, 3, 4]
    for t in (1, 3, 4):
        assert torch.equal(states[t], chain[t]) and torch.equal(probs[t], chain_probs[t])
    for bad in ([], [0, 2], [3, 2], [1, 1]):
        with pytest.raises(ValueError, match="increasing positive ints"):
            gibbs_snapshots(rbm, start, bad)
    with pytest.raises(ValueError, match=r"\[batch, 4\]"):
        gibbs_snapshots(rbm, torch.zeros(2, 5), [1])


def test_nan_data_or_learning_rate_is_refused_not_trained_on() -> None:
    """Issue 18: NaN data passed the [0, 1] range check (NaN < 0 is false) and lr = NaN
    trained; both returned an all-NaN history."""
    rbm = BernoulliRBM(4, 3, generator=torch.Generator().manual_seed(0))
    data = torch.bernoulli(torch.full((16, 4), 0.5), generator=torch.Generator().manual_seed(1))
    bad = data.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="data contains NaN"):
        train_rbm(rbm, bad, epochs=1)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0 \(learning rate\), got nan"):
        train_rbm(rbm, data, epochs=1, lr=float("nan"))
    with pytest.raises(ValueError, match="monitor contains NaN"):
        train_rbm(rbm, data, epochs=1, monitor=bad)
    import numpy as np

    train_rbm(rbm, data, epochs=1, lr=np.float32(0.05), momentum=np.float64(0.5))  # NumPy scalars
