"""Checks for the exercises of chapter 11 (comparing the families).

* Exercise 11.1 — :func:`check_class_kl_to_uniform`: KL divergence of the class histogram
  of samples to the uniform distribution (reference: :mod:`genmodels.measure.coverage`;
  Book: eq-class-kl-to-uniform).
* Exercise 11.2 — :func:`check_bits_per_dimension`: a log-likelihood in nats per image as
  bits per dimension (Book: eq-bits-per-dimension).
* Exercise 11.3 — :func:`check_rbm_pseudo_log_likelihood`: the RBM's pseudo-log-likelihood
  (reference: :func:`genmodels.rbm.pseudo_log_likelihood`; Book: eq-pseudo-log-likelihood).
* Exercise 11.5 — :func:`check_train_gan_loop`: a GAN training loop written from ``torch``
  alone (the end of Part III), graded on behaviour: the updates it makes and the modes of
  the ring it captures.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from genmodels.exercises._core import Exercise, ExerciseError, Mistake, with_accelerator_copies
from genmodels.measure import coverage
from genmodels.measure.sample_quality import mode_metrics
from genmodels.rbm import BernoulliRBM, pseudo_log_likelihood

# --- Exercise 11.1 ---------------------------------------------------------------------


def _shares(predicted: torch.Tensor, n_classes: int) -> torch.Tensor:
    return torch.bincount(predicted, minlength=n_classes).double() / predicted.numel()


def _kl(predicted: torch.Tensor, n_classes: int) -> torch.Tensor:
    return torch.tensor(coverage.kl_to_uniform(coverage.class_histogram(predicted, n_classes)),
                        dtype=torch.float64)


def _kl_mistakes() -> list[Mistake]:
    def reversed_kl(pred, k):
        p = _shares(pred, k)
        return (-(math.log(k) + torch.log(p)) / k).sum()

    def entropy(pred, k):
        p = _shares(pred, k)
        return -torch.xlogy(p, p).sum()

    def bits(pred, k):
        return _kl(pred, k) / math.log(2)

    def counts(pred, k):
        c = torch.bincount(pred, minlength=k).double()
        return (torch.xlogy(c, c) + c * math.log(k)).sum()

    def mean_over_classes(pred, k):
        return _kl(pred, k) / k

    def over_present_classes(pred, k):
        p = _shares(pred, k)
        present = int((p > 0).sum())
        return (torch.xlogy(p, p) + p * math.log(present)).sum()

    return [
        Mistake("you computed KL(uniform ‖ p), the divergence the other way round; the "
                "chapter's measure is KL(p ‖ uniform) = Σ_k p_k log(p_k / (1/K)), which stays "
                "finite when a class is missing.", reversed_kl),
        Mistake("you returned the entropy H(p) of the histogram; the KL to uniform is "
                "log K − H(p).", entropy),
        Mistake("your result is in bits (log base 2); the chapter measures in nats "
                "(natural log).", bits),
        Mistake("you used the class *counts*; divide them by the number of samples to get "
                "the shares p_k first.", counts),
        Mistake("you averaged over the K classes; the KL is a *sum* over classes.",
                mean_over_classes),
        Mistake("the uniform distribution is over all K = n_classes classes, also those no "
                "sample falls in; you used only the classes that occur.", over_present_classes),
    ]


def _kl_cases(g: torch.Generator) -> list[tuple[str, torch.Tensor, int]]:
    """Hidden labels from ``g`` and the boundaries: empty classes (also the last ones, which
    a histogram without ``minlength`` drops), one class only, an exact balance, a single
    sample, K = 1."""
    skewed = torch.multinomial(torch.tensor([0.4, 0.3, 0.1, 0.1, 0.05, 0.05]), 500,
                               replacement=True, generator=g)
    k = int(torch.randint(3, 12, (), generator=g))
    return [
        (f"1000 uniformly drawn labels, K = {k}", torch.randint(0, k, (1000,), generator=g), k),
        ("labels 2..5 only, K = 8 (classes 0, 1, 6, 7 empty)",
         2 + torch.randint(0, 4, (300,), generator=g), 8),
        ("skewed labels, the last 4 of 10 classes empty", skewed, 10),
        ("every sample in one class, K = 10", torch.full((50,), 3, dtype=torch.int64), 10),
        ("exactly balanced, K = 4", torch.arange(4).repeat(25), 4),
        ("a single sample, K = 3", torch.tensor([2]), 3),
        ("K = 1", torch.zeros(7, dtype=torch.int64), 1),
    ]


def check_class_kl_to_uniform(class_kl_to_uniform: Callable[[torch.Tensor, int], float]) -> None:
    """Check Exercise 11.1: ``class_kl_to_uniform(predicted [n] int64, n_classes) -> float``.

    Reference: :func:`genmodels.measure.coverage.kl_to_uniform` of
    :func:`genmodels.measure.coverage.class_histogram` (Book: eq-class-kl-to-uniform), on
    the hidden cases of :func:`_kl_cases`; the known values (0 for a balanced histogram,
    log K for a single class) are among them. Tolerance rtol 1e-5, atol 1e-6: an answer
    computed in float32 passes. Deterministic: no statistical test.
    """
    __tracebackhide__ = True
    with Exercise("11.1", "class_kl_to_uniform") as ex:
        for label, pred, k in _kl_cases(torch.Generator().manual_seed(10)):
            got = ex.call(class_kl_to_uniform, pred, k)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.detach().reshape(()).to(torch.float64)
            elif isinstance(got, numbers.Real) and not isinstance(got, bool):
                got = float(got)
            ex.require(isinstance(got, float | torch.Tensor),
                       f"return a number (a Python float), got {type(got).__name__}.", label)
            mistakes = _kl_mistakes()
            mistakes.append(Mistake(
                "the uniform distribution is over all K = n_classes classes; you took K as the "
                "largest class that occurs + 1 (a histogram without minlength=n_classes).",
                lambda p, n: _kl(p, int(p.max()) + 1)))
            expected = _kl(pred, k)
            try:
                ex.compare(got, expected, case=label, args=(pred, k), mistakes=mistakes,
                           sizes={"the K classes": k, "the n samples": pred.numel()},
                           nonfinite_hint="An empty class has p_k = 0 and contributes 0 · log 0 "
                                          "= 0: use torch.xlogy or leave empty classes out of "
                                          "the sum.",
                           atol=1e-6, rtol=1e-5)
            except ExerciseError as err:
                if "with no constant factor or offset" not in str(err):
                    raise
                empty = int((torch.bincount(pred, minlength=k) == 0).sum())
                ex.fail(f"your value {float(got):.6g} is not KL(p ‖ uniform) = Σ_k p_k log(K p_k) "
                        f"= {float(expected):.6g} of this histogram (n = {pred.numel()}, K = {k}, "
                        f"{empty} empty classes). Known values: 0 for a balanced histogram, log K "
                        "when every sample falls in one class.", label)


# --- Exercise 11.2 ---------------------------------------------------------------------


def _bpd(ll: torch.Tensor, n_pixels: int) -> torch.Tensor:
    return -ll / (n_pixels * math.log(2))


def _bpd_mistakes() -> list[Mistake]:
    return [
        Mistake("a likelihood in bits per dimension is a *negative* log-likelihood "
                "(lower is better): flip the sign.", lambda x, n: -_bpd(x, n)),
        Mistake("you returned nats per dimension: divide by ln 2 to convert nats to "
                "bits.", lambda x, n: -x / n),
        Mistake("you returned bits per image: divide by the number of pixels D.",
                lambda x, n: -x / math.log(2)),
        Mistake("you used log₁₀; bits use log base 2: divide nats by ln 2.",
                lambda x, n: -x / (n * math.log(10))),
        Mistake("you multiplied by ln 2; converting nats to bits *divides* by ln 2.",
                lambda x, n: -x * math.log(2) / n),
        Mistake("you divided by the side of the image √D; bits per dimension divide by the "
                "number of pixels D.", lambda x, n: -x / (math.sqrt(n) * math.log(2))),
        Mistake("you averaged over the batch: return one value per image, [B].",
                lambda x, n: _bpd(x, n).mean().expand(x.shape[0])),
        Mistake("your values are the right ones in reverse order: value i must belong to "
                "image i.", lambda x, n: _bpd(x, n).flip(0)),
    ]


def check_bits_per_dimension(bits_per_dimension: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """Check Exercise 11.2: ``bits_per_dimension(log_likelihood [B] nats, n_pixels) -> [B]``.

    Hidden inputs from a generator seeded here (float64 and float32, several D, one image, a
    log-likelihood of 0 and a positive one, as densities of continuous data can have);
    the result must keep the input's dtype and carry the gradient −1/(D ln 2) to its
    input. Deterministic: no statistical test. Book: eq-bits-per-dimension.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(11)
    d = int(torch.randint(100, 3000, (), generator=g))
    cases = [
        ("VAE-like test ELBOs of Fashion-MNIST, D = 784",
         -150 - 30 * torch.rand(6, generator=g, dtype=torch.float64), 784),
        ("digits, D = 64", -30 - 5 * torch.rand(4, generator=g, dtype=torch.float64), 64),
        (f"float32, D = {d}", -d * torch.rand(5, generator=g), d),
        ("one image, float32, D = 784", torch.tensor([-784 * math.log(2)]), 784),
        ("log-likelihoods of 0 and +12 (densities above 1), D = 3",
         torch.tensor([0.0, 12.0], dtype=torch.float64), 3),
    ]
    with_accelerator_copies(cases, 2)
    with Exercise("11.2", "bits_per_dimension") as ex:
        for label, ll, n in cases:
            got = ex.call(bits_per_dimension, ll, n)
            try:
                ex.compare(got, _bpd(ll, n), case=label, args=(ll, n), mistakes=_bpd_mistakes(),
                           sizes={"the D pixels": n, "the B images": ll.shape[0]})
            except ExerciseError as err:
                factor = re.search(r"a constant multiple \(([^×]+)×\)", str(err))
                if factor is None:
                    raise
                ex.fail(f"your values are {factor.group(1)} times the right ones: the conversion "
                        "factor is wrong. Bits per dimension are the negative log-likelihood in "
                        f"nats divided by D·ln 2 (here {n}·ln 2 = {n * math.log(2):.6g}).", label)
            leaf = ll.clone().requires_grad_(True)
            out = ex.call(bits_per_dimension, leaf, n)
            ex.require_gradients(out, {"log_likelihood": leaf}, expected={
                "log_likelihood": torch.full_like(ll, -1 / (n * math.log(2)))}, case=label)


# --- Exercise 11.3 ---------------------------------------------------------------------


def _flipped_free_energy(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    d = v.shape[1]
    eye = torch.eye(d, dtype=v.dtype)
    flipped = (v[:, None, :] + eye - 2 * v[:, None, :] * eye).reshape(-1, d)
    return rbm.free_energy(flipped).reshape(v.shape[0], d)


def _pll_mistakes(rbm: BernoulliRBM) -> list[Mistake]:
    def swapped(r, v):
        return F.logsigmoid(r.free_energy(v)[:, None] - _flipped_free_energy(r, v)).sum(1)

    def mean_over_bits(r, v):
        return pseudo_log_likelihood(r, v) / v.shape[1]

    def no_log(r, v):
        return torch.sigmoid(_flipped_free_energy(r, v) - r.free_energy(v)[:, None]).sum(1)

    def raw_difference(r, v):
        return (_flipped_free_energy(r, v) - r.free_energy(v)[:, None]).sum(1)

    def batch_mean(r, v):
        return pseudo_log_likelihood(r, v).mean().expand(v.shape[0])

    def log_of_sigmoid(r, v):
        return torch.log(torch.sigmoid(_flipped_free_energy(r, v) - r.free_energy(v)[:, None])).sum(1)

    return [
        Mistake("the sign inside the sigmoid is swapped: p(v_i | v_−i) = σ(F(ṽ⁽ⁱ⁾) − F(v)) — "
                "the observed v has the *lower* free energy when it is the likelier state.",
                swapped),
        Mistake("you averaged over the D bits; the pseudo-log-likelihood is a *sum* of the D "
                "conditional log-probabilities.", mean_over_bits),
        Mistake("you summed the probabilities σ(F(ṽ⁽ⁱ⁾) − F(v)); sum their *logarithms* "
                "(use logsigmoid for stability).", no_log),
        Mistake("you summed the free-energy differences F(ṽ⁽ⁱ⁾) − F(v) themselves; each term "
                "is log σ of that difference.", raw_difference),
        Mistake("return one value per row of v, [B], not the batch mean repeated.", batch_mean),
        Mistake("your values are the right ones in reverse order: value b must belong to row b "
                "of v.", lambda r, v: pseudo_log_likelihood(r, v).flip(0)),
        Mistake("log(sigmoid(·)) underflows: where a conditional probability is below about "
                "1e-45 the sigmoid rounds to 0 in float32 and its log is −inf. Use "
                "F.logsigmoid, which is exact there.", log_of_sigmoid),
    ]


def _pll_by_enumeration(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    """Σ_i log p(v_i | v_−i) from the joint over all 2^D images (independent of the free-energy
    differences; D ≤ 10)."""
    d = v.shape[1]
    states = ((torch.arange(2**d)[:, None] >> torch.arange(d)) & 1).to(v.dtype)  # [2^D, D]
    log_joint = -rbm.free_energy(states).double()  # unnormalised
    index = (v.long() << torch.arange(d)).sum(1)  # [B]
    flipped = index[:, None] ^ (1 << torch.arange(d))[None, :]  # [B, D]
    own, other = log_joint[index][:, None], log_joint[flipped]
    return (own - torch.logaddexp(own, other)).sum(1).to(v.dtype)


def _pll_cases() -> list[tuple[str, BernoulliRBM, torch.Tensor, bool]]:
    """Random RBMs (weights N(0, 1), random biases) seeded here; one visible unit, where the
    pseudo-log-likelihood is the exact log-likelihood; and a confident RBM (weights
    N(0, 30²)) whose conditionals are so close to 0 or 1 that log(sigmoid(·)) underflows."""
    cases = []
    for label, d, h, b, seed, std in [("D = 6, H = 4, 5 rows", 6, 4, 5, 0, 1.0),
                                      ("D = 20, H = 8, 3 rows", 20, 8, 3, 1, 1.0),
                                      ("D = 3, H = 2, 1 row", 3, 2, 1, 2, 1.0),
                                      ("D = 1 (the PLL is log p(v)), H = 3, 2 rows", 1, 3, 2, 3, 1.0),
                                      ("a confident RBM (weights of std 30), D = 8, H = 6, 4 rows",
                                       8, 6, 4, 4, 30.0)]:
        g = torch.Generator().manual_seed(100 + seed)
        rbm = BernoulliRBM(d, h, init_std=std, generator=g)
        with torch.no_grad():
            rbm.visible_bias.copy_(torch.randn(d, generator=g))
            rbm.hidden_bias.copy_(torch.randn(h, generator=g))
        v = (torch.rand(b, d, generator=g) < 0.5).float()
        if d == 1:
            v = torch.tensor([[0.0], [1.0]])
        cases.append((label, rbm, v, d <= 10))
    return cases


def check_rbm_pseudo_log_likelihood(
    rbm_pseudo_log_likelihood: Callable[[BernoulliRBM, torch.Tensor], torch.Tensor],
) -> None:
    """Check Exercise 11.3: ``rbm_pseudo_log_likelihood(rbm, v [B, D]) -> [B]`` nats.

    Reference: :func:`genmodels.rbm.pseudo_log_likelihood` (Book: eq-pseudo-log-likelihood)
    and, for D ≤ 10, the conditionals computed from the joint over all 2^D images; on the
    hidden RBMs of :func:`_pll_cases`. Deterministic: no statistical test.
    """
    __tracebackhide__ = True
    with Exercise("11.3", "rbm_pseudo_log_likelihood") as ex:
        for label, rbm, v, small in _pll_cases():
            with torch.no_grad():
                got = ex.call(rbm_pseudo_log_likelihood, rbm, v)
                expected = _pll_by_enumeration(rbm, v) if small else pseudo_log_likelihood(rbm, v)
                if isinstance(got, torch.Tensor):
                    got = got.detach()
                ex.compare(got, expected, case=label, args=(rbm, v), mistakes=_pll_mistakes(rbm),
                           sizes={"the D visible units": v.shape[1], "the B rows": v.shape[0]},
                           nonfinite_hint="A conditional probability that underflows to 0 gives "
                                          "log 0 = −inf: use F.logsigmoid of the free-energy "
                                          "difference.",
                           atol=1e-4, rtol=1e-4)


# --- Exercise 11.5: a GAN training loop, built from torch alone --------------------------

GAN_LOOP_STEPS = (600, 700, 800)
"""The checkpoints (total training steps) of the behavioural part of :func:`check_train_gan_loop`."""
GAN_LOOP_MIN_MODES = 6
"""Modes of the ring (of 8) that must be captured at one of the :data:`GAN_LOOP_STEPS`."""
GAN_LOOP_BATCH = 64
GAN_LOOP_LATENT = 2
GAN_LOOP_TIMEOUT = 60.0
"""Seconds the training call may take (the reference needs a few on one thread)."""


def _loop_players(seed: int, width: int = 32, *, pack: int = 1, head_scale: float = 1.0,
                  head_bias: float | None = None, spread: float = 1.0
                  ) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Small MLP players, initialised from ``seed`` without touching the global state.

    ``head_scale`` multiplies the discriminator's last weights (its logits spread over
    more units), ``head_bias`` sets its last bias, ``spread`` multiplies the generator's
    last weights (its fakes spread wider): the traced steps use them so that the right
    loss and each named mistake have clearly different gradients.
    """
    from genmodels.gan import MLPDiscriminator, MLPGenerator

    if pack not in (1, 2):
        raise ValueError(f"pack must be 1 or 2, got {pack}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = MLPGenerator(GAN_LOOP_LATENT, 2, (width, width))
        D = _PackedPairs(width) if pack == 2 else MLPDiscriminator(2, (width, width))
    with torch.no_grad():
        head = D.packed.head if pack == 2 else D.head
        head.weight.mul_(head_scale)
        G.net[-1].weight.mul_(spread)
        if head_bias is not None:
            head.bias.fill_(head_bias)
    return G, D


class _PackedPairs(torch.nn.Module):
    """A PacGAN2 discriminator that gives one logit per point, ``[B, 2] -> [B]``: each
    pair of consecutive points is judged jointly and both get the pair's logit (the mean
    over the B points equals the mean over the B/2 pairs). B must be even."""

    def __init__(self, width: int) -> None:
        super().__init__()
        from genmodels.gan import MLPDiscriminator

        self.packed = MLPDiscriminator(2, (width, width), pack=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.packed(x).repeat_interleave(2)


def _adam(module: torch.nn.Module, lr: float = 2e-3) -> torch.optim.Optimizer:
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))


def _snapshot(module: torch.nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    params = [p.detach().clone() for p in module.parameters()]
    grads = [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]
    return params, grads


class _LoopTrace:
    """Record what a training loop does with the players: every draw of real data, every
    call of G (its latent codes), every backward pass that reaches a player's parameters,
    and every ``zero_grad``/``step`` of the two optimizers, with the gradients the step
    applied and the parameters before and after."""

    def __init__(self, G, D, opt_g, opt_d, sample_real):
        self.G, self.D = G, D
        self.events: list[tuple] = []
        self.handles = []
        self.initial = {"G": _snapshot(G), "D": _snapshot(D)}
        self.handles.append(G.register_forward_pre_hook(
            lambda m, args: self.events.append(("G", args[0].detach().clone()))))
        for who, module in (("G", G), ("D", D)):
            for p in module.parameters():
                self.handles.append(p.register_hook(self._grad_hook(who)))
        for who, opt in (("G", opt_g), ("D", opt_d)):
            self._wrap(who, opt)

        def traced_sample_real(n, generator=None):
            x = sample_real(n, generator)
            self.events.append(("real", x.detach().clone()))
            return x

        self.sample_real = traced_sample_real

    def _grad_hook(self, who):
        def hook(grad):
            if not self.events or self.events[-1] != ("grad", who):
                self.events.append(("grad", who))
        return hook

    def _wrap(self, who, opt):
        step, zero_grad = opt.step, opt.zero_grad

        def traced_step(*args, **kwargs):
            before = {"G": _snapshot(self.G), "D": _snapshot(self.D)}
            out = step(*args, **kwargs)
            self.events.append(("step", who, before, {"G": _snapshot(self.G), "D": _snapshot(self.D)}))
            return out

        def traced_zero_grad(*args, **kwargs):
            self.events.append(("zero", who))
            return zero_grad(*args, **kwargs)

        opt.step, opt.zero_grad = traced_step, traced_zero_grad

    def close(self):
        for h in self.handles:
            h.remove()


def _call(module: torch.nn.Module, params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    names = [n for n, _ in module.named_parameters()]
    return torch.func.functional_call(module, dict(zip(names, params, strict=True)), (x,))


def _grad_of(loss_fn, params: list[torch.Tensor]) -> torch.Tensor:
    leaves = [p.detach().clone().requires_grad_(True) for p in params]
    grads = torch.autograd.grad(loss_fn(leaves), leaves, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for p, g in zip(leaves, grads, strict=True)])


def _flat(grads: list[torch.Tensor | None], params: list[torch.Tensor]) -> torch.Tensor | None:
    if all(g is None for g in grads):
        return None
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for p, g in zip(params, grads, strict=True)])


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = float(a.norm()), float(b.norm())
    if na == 0 or nb == 0 or not (math.isfinite(na) and math.isfinite(nb)):
        return 0.0
    return float((a.double() @ b.double()) / (na * nb))


_SAME_DIRECTION = 0.9999  # cosine above which two gradients count as the same (up to scale)
_DISTINCT = 0.999  # a named mistake is only named when its gradient differs at least this much


def _match(got: torch.Tensor, right: torch.Tensor, candidates: list[tuple[str, torch.Tensor]]
           ) -> str | None:
    """None when ``got`` points along ``right``; else the first candidate it matches, or ""."""
    if _cosine(got, right) > _SAME_DIRECTION:
        return None
    for message, cand in candidates:
        if _cosine(cand, right) < _DISTINCT and _cosine(got, cand) > _SAME_DIRECTION:
            return message
    return ""


_DETACH = ("the discriminator's loss sent gradients into the generator's parameters: the fakes "
           "were not detached in the discriminator's step. Its update must not touch G: use "
           "fake.detach() (or generate them under torch.no_grad()) in the discriminator's loss, "
           "and the attached fakes only in the generator's.")


def _loop_segments(ex: Exercise, trace: _LoopTrace, n_steps: int, case: str) -> list[list[tuple]]:
    """Split the events into training steps; check the order of the updates on the way."""
    steps = [e for e in trace.events if e[0] == "step"]
    order = "".join(e[1] for e in steps)
    n_d, n_g = order.count("D"), order.count("G")
    if n_d == n_g == 0:
        moved = any(not torch.equal(before, p.detach())
                    for who, module in (("G", trace.G), ("D", trace.D))
                    for before, p in zip(trace.initial[who][0], module.parameters(), strict=True))
        ex.fail("the optimizers opt_d and opt_g were never stepped, "
                + ("yet the players' parameters changed: you updated them with optimizers of "
                   "your own or by hand. Use opt_d and opt_g, which the check passes in (their "
                   "settings are part of the exercise)." if moved else
                   "and the players were never updated."), case)
    if n_g == 0 and n_d == 2 * n_steps:
        ex.fail("the wrong player's optimizer is stepped: opt_d.step() ran twice per step and "
                "opt_g.step() never. After the generator's loss, step the generator's optimizer "
                "opt_g.", case)
    if n_d == 0 and n_g == 2 * n_steps:
        ex.fail("the wrong player's optimizer is stepped: opt_g.step() ran twice per step and "
                "opt_d.step() never. After the discriminator's loss, step the discriminator's "
                "optimizer opt_d.", case)
    if n_d != n_steps or n_g != n_steps:
        ex.fail(f"in {n_steps} steps, opt_d.step() was called {n_d} times and opt_g.step() "
                f"{n_g} times: each step updates each player exactly once (one discriminator "
                "update, then one generator update).", case)
    if order != "DG" * n_steps and order[0] == "D":
        ex.fail("the updates do not alternate: each step makes one discriminator update, then "
                "one generator update, but your loop stepped the optimizers in the order "
                f"{' '.join(order[:12])}{' …' if len(order) > 12 else ''} (D: opt_d, G: opt_g).",
                case)
    if order != "DG" * n_steps:
        first_g = next(i for i, e in enumerate(trace.events) if e[:2] == ("step", "G"))
        reached_g = any(e == ("grad", "G") for e in trace.events[:first_g])
        if reached_g:
            ex.fail("the generator is updated before the discriminator: opt_g.step() runs "
                    "before opt_d.step() in a step. Each step first updates D on real and "
                    "(detached) fake data, then G against the updated D.", case)
        ex.fail("the players' optimizers are swapped: opt_g.step() ran right after the "
                "discriminator's loss was backpropagated (before any gradient reached G), so "
                "each optimizer applies the other player's update. Step opt_d after the "
                "discriminator's loss and opt_g after the generator's.", case)
    segments, current = [], []
    for e in trace.events:
        current.append(e)
        if e[:2] == ("step", "G"):
            segments.append(current)
            current = []
    for t, seg in enumerate(segments):
        reals = [e for e in seg if e[0] == "real"]
        if len(reals) != 1:
            ex.fail(f"step {t} called sample_real {len(reals)} times: draw one real batch per "
                    "step, sample_real(batch_size, generator).", case)
        if not any(e[0] == "G" for e in seg[:[e[0] for e in seg].index("step")]):
            ex.fail(f"step {t} updated the discriminator before calling the generator: the "
                    "discriminator's loss needs this step's fakes G(z).", case)
    return segments


def _check_loop_gradients(ex: Exercise, trace: _LoopTrace, segments: list[list[tuple]],
                          case: str, confident: bool = False) -> list[tuple[float, list[float]]]:
    """The gradients each optimizer applied, against the right losses and named mistakes.

    Returns, per step, the discriminator's loss and the generator's candidate losses.
    """
    G, D = trace.G, trace.D
    g_params, g_grads = trace.initial["G"]
    d_params, d_grads = trace.initial["D"]
    expected_losses = []
    unstable = ("where the discriminator is confident (its logits here are about −200), the "
                "gradient of your {who}'s loss is {what}: a sigmoid followed by a log (or by "
                "BCELoss, which clamps the log at −100) saturates in float32. Compute the losses "
                "from the logits: F.logsigmoid, F.softplus or "
                "F.binary_cross_entropy_with_logits.")
    for t, seg in enumerate(segments):
        d_at = next(i for i, e in enumerate(seg) if e[:2] == ("step", "D"))
        g_at = next(i for i, e in enumerate(seg) if e[:2] == ("step", "G"))
        real = next(e[1] for e in seg if e[0] == "real")
        zs = [e[1] for e in seg if e[0] == "G"]
        at = f"step {t}" + (f", {case}" if case else "")
        g_leftover_start = _flat(g_grads, g_params)

        # --- the discriminator's update ---
        applied_params, applied_grads = seg[d_at][2]["D"]
        got = _flat(applied_grads, applied_params)
        # The discriminator's fakes: the output of one of the calls of G before its update
        # (the first, unless the gradient says another).
        z_d = next(e[1] for e in seg[:d_at] if e[0] == "G")
        for z in (e[1] for e in seg[:d_at] if e[0] == "G"):
            f = _call(G, g_params, z).detach()
            r = _grad_of(lambda p, f=f, x=real: F.softplus(-_call(D, p, x)).mean()
                         + F.softplus(_call(D, p, f)).mean(), d_params)
            if got is not None and _cosine(got, r) > _SAME_DIRECTION:
                z_d = z
                break
        fake = _call(G, g_params, z_d).detach()

        def d_loss(p, real=real, fake=fake, sign=1.0, real_w=1.0, fake_w=1.0):
            return (real_w * F.softplus(-sign * _call(D, p, real)).mean()
                    + fake_w * F.softplus(sign * _call(D, p, fake)).mean())

        right = _grad_of(d_loss, d_params)
        if got is None or float(got.abs().max()) == 0:
            cleared = ("grad", "D") in seg[:d_at] and ("zero", "D") in seg[
                max(i for i, e in enumerate(seg[:d_at]) if e == ("grad", "D")):d_at]
            if confident and got is not None and not cleared:
                ex.fail(unstable.format(who="discriminator", what="zero"), at)
            ex.fail("opt_d.step() ran with " + ("no gradient" if got is None else "zero gradients")
                    + " on the discriminator's parameters: " + (
                        "its gradients were cleared (zero_grad) between backward() and step(): "
                        "zero them *before* backward()." if cleared else
                        "its loss was not backpropagated before the step (call backward() on it; "
                        "a loss made with .item(), torch.tensor(...) or under torch.no_grad() "
                        "carries no gradient)."), at)
        if not bool(torch.isfinite(got).all()):
            ex.fail(unstable.format(who="discriminator", what="NaN or inf") if confident else
                    "the discriminator's gradient contains NaN or inf at its update.", at)
        candidates = [
            ("the labels are swapped in the discriminator's loss: real data must be labelled 1 "
             "(−log D(x)) and fakes 0 (−log(1 − D(G(z)))); D(x) is the probability that x is "
             "real.", _grad_of(lambda p: d_loss(p, sign=-1.0), d_params)),
            ("the discriminator's loss has only its real-data term: add −mean log(1 − D(G(z))) "
             "on this step's fakes.", _grad_of(lambda p: d_loss(p, fake_w=0.0), d_params)),
            ("the discriminator's loss has only its fake-data term: add −mean log D(x) on this "
             "step's real batch.", _grad_of(lambda p: d_loss(p, real_w=0.0), d_params)),
        ]
        leftover = _flat(d_grads, d_params)
        if leftover is not None and float(leftover.abs().max()) > 0:
            candidates.append(
                ("gradients accumulate across steps: the discriminator's update applied this "
                 "step's gradient plus the ones left from the previous step, because they were "
                 "not zeroed (opt_d.zero_grad()) before backward().", right + leftover))
        verdict = _match(got, right, candidates)
        if verdict is not None:
            if confident and _cosine(got, right) < _SAME_DIRECTION and not verdict:
                ex.fail(unstable.format(who="discriminator", what="wrong"), at)
            ex.fail(verdict or (
                "the gradient that opt_d.step() applied is not the gradient of the "
                "discriminator's loss −mean log D(x) − mean log(1 − D(G(z))) on this step's real "
                f"batch and fakes, up to a positive factor (cosine similarity "
                f"{_cosine(got, right):.3f}, 1 expected)."), at)
        if ("grad", "G") in seg[:d_at]:
            # Which loss reached G before D's update: D's own (fakes not detached) or G's?
            g_now = _flat(seg[d_at][2]["G"][1], g_params)
            through_d = _grad_of(lambda p, z=z_d, d=d_params: F.softplus(
                _call(D, d, _call(G, p, z))).mean(), g_params)
            before = [g_now] + ([g_now - g_leftover_start] if g_leftover_start is not None else [])
            if g_now is None or any(_cosine(b, through_d) > _SAME_DIRECTION for b in before):
                ex.fail(_DETACH, at)
            ex.fail("a gradient reached the generator's parameters before the discriminator's "
                    "update, and it is not the discriminator's loss's: the generator's loss was "
                    "backpropagated before opt_d.step(). Compute and backpropagate it after the "
                    "discriminator's update, against the updated discriminator.", at)
        d_before = d_params
        d_params, _ = seg[d_at][3]["D"]

        # --- the generator's update ---
        applied_params, applied_grads = seg[g_at][2]["G"]
        got = _flat(applied_grads, applied_params)
        if got is None or float(got.abs().max()) == 0:
            if confident and got is not None:
                ex.fail(unstable.format(who="generator", what="zero"), at)
            backward = [i for i, e in enumerate(seg[:g_at]) if e == ("grad", "G")]
            cleared = bool(backward) and ("zero", "G") in seg[backward[-1]:g_at]
            ex.fail("opt_g.step() ran with " + ("no gradient" if got is None else "zero gradients")
                    + " on the generator's parameters: " + (
                        "its gradients were cleared (zero_grad) between backward() and step()."
                        if cleared else
                        "no gradient reached G from its loss. The fakes in the generator's loss "
                        "must stay attached to G's graph (detach them only for the "
                        "discriminator), and backward() must be called on that loss."), at)
        if not bool(torch.isfinite(got).all()):
            ex.fail(unstable.format(who="generator", what="NaN or inf") if confident else
                    "the generator's gradient contains NaN or inf at its update.", at)
        g_leftover = _flat(g_grads, g_params)
        found, named, ns_values = False, None, []
        for z in zs:
            def ns(p, z=z, d=d_params):
                return F.softplus(-_call(D, d, _call(G, p, z))).mean()

            right = _grad_of(ns, g_params)
            with torch.no_grad():
                ns_values.append(float(ns(g_params)))
            candidates = [
                ("you used the saturating generator loss mean log(1 − D(G(z))) (the minimax "
                 "form): its gradient vanishes when D rejects the fakes. The exercise asks for "
                 "the non-saturating loss −mean log D(G(z)).",
                 _grad_of(lambda p, z=z, d=d_params: -F.softplus(_call(D, d, _call(G, p, z))).mean(),
                          g_params)),
                ("the labels are swapped in the generator's loss: it minimises −log(1 − D(G(z))), "
                 "i.e. it labels its own fakes 0 and learns to look fake. The generator labels "
                 "its fakes 1: −mean log D(G(z)).",
                 _grad_of(lambda p, z=z, d=d_params: F.softplus(_call(D, d, _call(G, p, z))).mean(),
                          g_params)),
                (_DETACH, right + _grad_of(
                    lambda p, d=d_before, z0=z_d: F.softplus(_call(D, d, _call(G, p, z0))).mean(),
                    g_params)),
            ]
            if g_leftover is not None and float(g_leftover.abs().max()) > 0:
                candidates.append(
                    ("gradients accumulate across steps: the generator's update applied this "
                     "step's gradient plus the ones left from before, because they were not "
                     "zeroed (opt_g.zero_grad()) before its backward().", right + g_leftover))
            verdict = _match(got, right, candidates)
            if verdict is None:
                found = True
                break
            named = named or verdict
        if not found:
            if confident and not named:
                ex.fail(unstable.format(who="generator", what="wrong"), at)
            ex.fail(named or (
                "the gradient that opt_g.step() applied is not the gradient of the non-saturating "
                "loss −mean log D(G(z)) with the *updated* discriminator, up to a positive factor "
                f"(cosine similarity {_cosine(got, right):.3f}, 1 expected)."), at)
        with torch.no_grad():
            fake_logits = _call(D, d_before, fake)
            d_value = float(F.softplus(-_call(D, d_before, real)).mean() + F.softplus(fake_logits).mean())
        expected_losses.append((d_value, ns_values))
        g_params, g_grads = seg[g_at][3]["G"]
        _, d_grads = seg[g_at][3]["D"]
    return expected_losses


def _check_returned_losses(ex: Exercise, got, expected, n_steps: int, case: str) -> None:
    try:
        losses = (got.detach().double().cpu() if isinstance(got, torch.Tensor) else
                  torch.tensor([[float(a), float(b)] for a, b in got], dtype=torch.float64))
    except (TypeError, ValueError):
        ex.fail(f"return the losses as a float tensor [n_steps, 2] (row t: the discriminator's "
                f"and the generator's loss at step t); got {type(got).__name__}.", case)
    ex.require(tuple(losses.shape) == (n_steps, 2),
               f"return the losses as a tensor of shape [n_steps, 2] = [{n_steps}, 2]; got "
               f"{list(losses.shape)}.", case)
    ex.require(bool(torch.isfinite(losses).all()),
               "the returned losses contain NaN or inf, but every loss of these steps is finite.",
               case)
    for t, (d_value, g_values) in enumerate(expected):
        d_got, g_got = float(losses[t, 0]), float(losses[t, 1])
        for got_value, value in ((d_got, d_value), (g_got, g_values[-1])):
            for factor in (GAN_LOOP_BATCH, 2 * GAN_LOOP_BATCH):
                ex.require(not math.isclose(got_value, factor * value, rel_tol=1e-3),
                           f"the losses you returned are {factor} times the statement's: a sum "
                           "over the batch where the losses are means (the update's direction is "
                           "the same, but the recorded values are not).", case)
        ex.require(any(math.isclose(d_got, v, rel_tol=1e-4, abs_tol=1e-5) for v in (d_value, d_value / 2)),
                   f"the discriminator's loss returned for step {t} is {d_got:.6g}; its loss on that "
                   f"step's batches, before its update, is {d_value:.6g} (−mean log D(x) − mean "
                   "log(1 − D(G(z)))). Record the loss you backpropagated, in column 0.", case)
        ex.require(any(math.isclose(g_got, v, rel_tol=1e-4, abs_tol=1e-5) for v in g_values),
                   f"the generator's loss returned for step {t} is {g_got:.6g}; its non-saturating "
                   f"loss −mean log D(G(z)) against the updated discriminator is "
                   f"{g_values[-1]:.6g}. Record the loss you backpropagated, in column 1.", case)


def _run_traced(ex: Exercise, fn, players, n_steps: int, seed: int, mixture) -> tuple:
    G, D = players
    opt_g, opt_d = _adam(G), _adam(D)
    trace = _LoopTrace(G, D, opt_g, opt_d, lambda n, generator: mixture.sample(n, generator=generator))
    try:
        got = _call_loop(ex, fn, G, D, opt_g, opt_d, trace.sample_real, n_steps,
                         torch.Generator().manual_seed(seed), trace=trace)
    finally:
        trace.close()
    return trace, got


def _call_loop(ex: Exercise, fn, G, D, opt_g, opt_d, sample_real, n_steps, generator,
               timeout: float = 10.0, trace: _LoopTrace | None = None):
    __tracebackhide__ = True
    try:
        return ex.call(fn, G, D, opt_g, opt_d, sample_real, n_steps, GAN_LOOP_LATENT,
                       GAN_LOOP_BATCH, generator=generator, timeout=timeout)
    except ExerciseError as err:
        cause = str(err.__cause__ or "")
        if "backward through the graph a second time" in cause:
            ex.fail("PyTorch refused a second backward pass through the generator's graph: the "
                    "discriminator's loss was computed on fakes that were not detached, so its "
                    "backward() went through G and freed G's graph before the generator's loss "
                    "used it. Detach the fakes in the discriminator's loss (the original error "
                    "is above).")
        if "modified by an inplace operation" in cause:
            steps = [e for e in trace.events if e[0] in ("step", "grad")] if trace else []
            first = next((i for i, e in enumerate(steps) if e[0] == "step"), None)
            if first is not None and steps[first][1] == "G" and ("grad", "G") not in steps[:first]:
                ex.fail("the players' optimizers are swapped: opt_g.step() ran right after the "
                        "discriminator's loss was backpropagated (before any gradient reached G), "
                        "and changed G's parameters under the fakes whose graph the generator's "
                        "loss then needed (PyTorch's error is above). Step opt_d after the "
                        "discriminator's loss and opt_g after the generator's.")
            ex.fail("PyTorch found parameters changed in place between a forward pass and its "
                    "backward(): a loss was computed before an optimizer step and backpropagated "
                    "after it. Compute the generator's loss D(G(z)) *after* the discriminator's "
                    "update (the original error is above).")
        raise


def check_train_gan_loop(train_gan_loop: Callable[..., Any]) -> None:
    """Check Exercise 11.5: ``train_gan_loop(G, D, opt_g, opt_d, sample_real, n_steps,
    latent_dim, batch_size, generator) -> losses [n_steps, 2]``.

    Graded on behaviour, in four parts:

    1. three traced steps of small players (their logits spread over several units, so that
       the candidate losses have clearly different gradients): the latent codes (at least
       384 values) must have a mean within 0.3 of 0 and a variance within 0.5 of 1 (beyond
       5.8 standard errors: a false failure below 1e-8); the optimizers' calls are
       recorded, and every update is compared with the gradient of the right loss on the
       batches the loop drew (the discriminator's on this step's real batch and detached
       fakes; the non-saturating generator loss against the *updated* discriminator, on
       the same fakes or fresh ones), up to a positive factor (Adam ignores the scale):
       order of the players, a wrong optimizer, missing ``zero_grad``, the generator's
       graph in the discriminator's update, the saturating loss and swapped labels are
       named; the returned losses are compared with the losses of those batches;
    2. one traced step against a confident discriminator (logits ≈ −200), where a
       sigmoid followed by a log has no usable gradient;
    3. the randomness: the same seeded ``generator`` gives the same training, another
       generator another one (nothing drawn from the global state);
    4. training: 800 steps on the ring of 8 Gaussians (std 0.05; a generator of two layers
       of 64 units, a PacGAN2 discriminator of two layers of 64, Adam 2e-3 with β₁ = 0.5,
       batches of 64), in three calls (600, 100, 100 steps): at least
       :data:`GAN_LOOP_MIN_MODES` modes captured
       (:func:`~genmodels.measure.sample_quality.mode_metrics` of 2,500 samples) at one of
       the checkpoints 600, 700, 800 (a GAN's modes come and go: a single checkpoint
       would fail correct loops by chance),
       and standard normal latent codes (their mean within 0.02 of 0 and variance within
       0.04 of 1 over the ≥ 102,400 values drawn: beyond 6.4 and 9 standard errors, a
       false failure below 1e-9). Calibration (players and draws seeded 0–29 or 0–11, the reference
       loop and a correct variant with fresh fakes for the generator: 64 runs): the best
       of the three checkpoints captured 8 modes in 63 runs and 7 in one; the threshold of
       6 leaves a margin for other correct variants, whose training differs like another
       seed's. The whole check takes about 1.5 s on one idle thread (800 steps ≈ 1 s).
    """
    __tracebackhide__ = True
    from genmodels.toy import ring_mixture

    ring = ring_mixture(std=0.05)
    with Exercise("11.5", "train_gan_loop") as ex:
        # 1. Three traced steps.
        case = "three traced steps"
        trace, got = _run_traced(ex, train_gan_loop, _loop_players(5, head_scale=100.0, spread=4.0), 3, 11, ring)
        segments = _loop_segments(ex, trace, 3, case)
        z = torch.cat([e[1].reshape(-1) for e in trace.events if e[0] == "G"]).double()
        ex.require(abs(float(z.mean())) < 0.3 and abs(float(z.var()) - 1) < 0.5,
                   f"the latent codes given to G have mean {float(z.mean()):.3f} and variance "
                   f"{float(z.var()):.3f}; z must be standard normal (torch.randn), mean 0 and "
                   "variance 1.", case)
        expected = _check_loop_gradients(ex, trace, segments, case)
        _check_returned_losses(ex, got, expected, 3, case)
        # 2. A confident discriminator.
        case = "a discriminator that rejects everything with logits near −200"
        trace, _ = _run_traced(ex, train_gan_loop,
                               _loop_players(6, head_scale=0.01, head_bias=-200.0), 1, 12, ring)
        _check_loop_gradients(ex, trace, _loop_segments(ex, trace, 1, case), case, confident=True)
        # 3. Randomness from `generator` only.
        finals = []
        for seed, move in ((21, False), (21, True), (22, False)):
            if move:
                torch.manual_seed(99)
                torch.rand(7)
            G, D = _loop_players(7)
            _call_loop(ex, train_gan_loop, G, D, _adam(G), _adam(D),
                       lambda n, generator: ring.sample(n, generator=generator), 2,
                       torch.Generator().manual_seed(seed))
            finals.append(torch.cat([p.detach().reshape(-1) for p in G.parameters()]))
        ex.require(torch.equal(finals[0], finals[1]),
                   "the same seeded generator gave a different training: your loop draws from "
                   "the global random state (a torch.randn without generator=generator) or "
                   "reseeds it. Draw z with torch.randn(..., generator=generator) and pass "
                   "`generator` to sample_real.")
        ex.require(not torch.equal(finals[0], finals[2]),
                   "two different generators gave the same training: your loop ignores its "
                   "`generator` argument (a fixed seed, or a torch.Generator of its own).")
        # 4. Training on the ring, measured at three checkpoints.
        case = f"{GAN_LOOP_STEPS[-1]} steps on the ring"
        G, D = _loop_players(8, width=64, pack=2)
        opt_g, opt_d, draws = _adam(G), _adam(D), torch.Generator().manual_seed(13)
        stats = torch.zeros(3, dtype=torch.float64)

        def count(module, args):
            z = args[0].detach().double()
            stats.add_(torch.stack([torch.tensor(float(z.numel())), z.sum(), (z * z).sum()]))

        handle = G.register_forward_pre_hook(count)
        trail, done = [], 0
        try:
            for until in GAN_LOOP_STEPS:
                losses = _call_loop(ex, train_gan_loop, G, D, opt_g, opt_d,
                                    lambda n, generator: ring.sample(n, generator=generator),
                                    until - done, draws, timeout=GAN_LOOP_TIMEOUT)
                done = until
                if isinstance(losses, torch.Tensor):
                    ex.require(bool(torch.isfinite(losses.detach()).all()),
                               "the returned losses contain NaN or inf: the training diverged.",
                               case)
                with torch.no_grad():
                    samples = G(torch.randn(2500, GAN_LOOP_LATENT,
                                            generator=torch.Generator().manual_seed(14)))
                trail.append(mode_metrics(samples, ring).modes_captured
                             if bool(torch.isfinite(samples).all()) else 0)
        finally:
            handle.remove()
        n, s1, s2 = (float(v) for v in stats)
        mean, var = s1 / n, s2 / n - (s1 / n) ** 2
        ex.require(abs(mean) < 0.02 and abs(var - 1) < 0.04,
                   f"the latent codes given to G have mean {mean:.3f} and variance {var:.3f}; "
                   "z must be standard normal (torch.randn), mean 0 and variance 1.", case)
        steps = ", ".join(str(s) for s in GAN_LOOP_STEPS)
        ex.require(max(trail) >= GAN_LOOP_MIN_MODES,
                   f"after {steps} steps the generator captures {trail} of the 8 modes of the "
                   f"ring; at least {GAN_LOOP_MIN_MODES} are required at one of these checkpoints "
                   "(the reference loop captures 8). Each update passed the checks above, so look "
                   "at what they do not see: the batch size, the latent codes, the players' modes "
                   "(train/eval).", case)
