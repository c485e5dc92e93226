"""Checks for the exercises of chapter 11 (comparing the families).

* Exercise 11.1 — :func:`check_class_kl_to_uniform`: KL divergence of the class histogram
  of samples to the uniform distribution (reference: :mod:`genmodels.measure.coverage`;
  Book: eq-class-kl-to-uniform).
* Exercise 11.2 — :func:`check_bits_per_dimension`: a log-likelihood in nats per image as
  bits per dimension (Book: eq-bits-per-dimension).
* Exercise 11.3 — :func:`check_rbm_pseudo_log_likelihood`: the RBM's pseudo-log-likelihood
  (reference: :func:`genmodels.rbm.pseudo_log_likelihood`; Book: eq-pseudo-log-likelihood).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genmodels.exercises._core import Exercise, Mistake
from genmodels.measure import coverage
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


def check_class_kl_to_uniform(class_kl_to_uniform: Callable[[torch.Tensor, int], float]) -> None:
    """Check Exercise 11.1: ``class_kl_to_uniform(predicted [n] int64, n_classes) -> float``.

    Reference: :func:`genmodels.measure.coverage.kl_to_uniform` of
    :func:`genmodels.measure.coverage.class_histogram` (Book: eq-class-kl-to-uniform).
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(10)
    skewed = torch.multinomial(torch.tensor([0.4, 0.3, 0.1, 0.1, 0.05, 0.05]), 500,
                               replacement=True, generator=g)
    cases = [
        ("1000 uniformly drawn labels, K = 10", torch.randint(0, 10, (1000,), generator=g), 10),
        ("skewed labels, 4 of 10 classes empty", skewed, 10),
        ("every sample in one class, K = 10", torch.full((50,), 3, dtype=torch.int64), 10),
        ("exactly balanced, K = 4", torch.arange(4).repeat(25), 4),
        ("a single sample, K = 3", torch.tensor([2]), 3),
    ]
    with Exercise("11.1", "class_kl_to_uniform") as ex:
        for label, pred, k in cases:
            got = ex.call(class_kl_to_uniform, pred, k)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.reshape(()).to(torch.float64)
            ex.require(isinstance(got, float | int | torch.Tensor),
                       f"return a number (a Python float), got {type(got).__name__}.", label)
            ex.compare(got, _kl(pred, k), case=label, args=(pred, k), mistakes=_kl_mistakes(),
                       sizes={"the K classes": k, "the n samples": pred.numel()},
                       nonfinite_hint="An empty class has p_k = 0 and contributes 0 · log 0 = 0: "
                                      "use torch.xlogy or leave empty classes out of the sum.",
                       atol=1e-9, rtol=1e-9)


# --- Exercise 11.2 ---------------------------------------------------------------------


def _bpd(ll: torch.Tensor, n_pixels: int) -> torch.Tensor:
    return -ll / (n_pixels * math.log(2))


def check_bits_per_dimension(bits_per_dimension: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """Check Exercise 11.2: ``bits_per_dimension(log_likelihood [B] nats, n_pixels) -> [B]``.

    Book: eq-bits-per-dimension.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(11)
    cases = [
        ("VAE-like test ELBOs of Fashion-MNIST, D = 784",
         -150 - 30 * torch.rand(6, generator=g, dtype=torch.float64), 784),
        ("digits, D = 64", -30 - 5 * torch.rand(4, generator=g, dtype=torch.float64), 64),
        ("one image, float32, D = 784", torch.tensor([-784 * math.log(2)]), 784),
    ]
    with Exercise("11.2", "bits_per_dimension") as ex:
        for label, ll, d in cases:
            got = ex.call(bits_per_dimension, ll, d)
            mistakes = [
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
            ]
            ex.compare(got, _bpd(ll, d), case=label, args=(ll, d), mistakes=mistakes,
                       sizes={"the D pixels": d}, atol=1e-6, rtol=1e-6)


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
    ]


def check_rbm_pseudo_log_likelihood(
    rbm_pseudo_log_likelihood: Callable[[BernoulliRBM, torch.Tensor], torch.Tensor],
) -> None:
    """Check Exercise 11.3: ``rbm_pseudo_log_likelihood(rbm, v [B, D]) -> [B]`` nats.

    Reference: :func:`genmodels.rbm.pseudo_log_likelihood` (Book: eq-pseudo-log-likelihood).
    """
    __tracebackhide__ = True
    cases = []
    for label, d, h, b, seed in [("D = 6, H = 4, 5 rows", 6, 4, 5, 0),
                                 ("D = 20, H = 8, 3 rows", 20, 8, 3, 1),
                                 ("D = 3, H = 2, 1 row", 3, 2, 1, 2)]:
        g = torch.Generator().manual_seed(100 + seed)
        rbm = BernoulliRBM(d, h, init_std=1.0, generator=g)
        with torch.no_grad():
            rbm.visible_bias.copy_(torch.randn(d, generator=g))
            rbm.hidden_bias.copy_(torch.randn(h, generator=g))
        v = (torch.rand(b, d, generator=g) < 0.5).float()
        cases.append((label, rbm, v))
    with Exercise("11.3", "rbm_pseudo_log_likelihood") as ex:
        for label, rbm, v in cases:
            with torch.no_grad():
                got = ex.call(rbm_pseudo_log_likelihood, rbm, v)
                expected = pseudo_log_likelihood(rbm, v)
                if isinstance(got, torch.Tensor):
                    got = got.detach()
                ex.compare(got, expected, case=label, args=(rbm, v), mistakes=_pll_mistakes(rbm),
                           sizes={"the D visible units": v.shape[1]}, atol=1e-4, rtol=1e-4)
