"""Checks for the exercises of chapter 6 (VAEs in practice).

* Exercise 6.1 — :func:`check_kl_per_latent_dimension`: the average KL of each latent
  dimension (reference: ``genmodels.measure.vae_diagnostics.kl_per_dimension``).
* Exercise 6.2 — :func:`check_activity_per_unit`: the activity A_d = Cov_x(E_q[z_d|x])
  of each latent unit (reference: ``genmodels.measure.vae_diagnostics.unit_activity``).
* Exercise 6.3 — :func:`check_iwae_from_log_weights`: the IWAE bound from a table of
  log importance weights (reference: ``torch.logsumexp`` minus log k).
* Exercise 6.6 — :func:`check_vae_training_step`: a whole VAE training step written with
  torch alone, graded on behaviour (the code it decodes, the numbers it returns, the
  gradient its update used, and a short training run on Fashion-MNIST).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genmodels import vae
from genmodels.exercises._core import Exercise, Mistake, with_accelerator_copies
from genmodels.exercises.vae_objective import require_order
from genmodels.measure.vae_diagnostics import kl_per_dimension, unit_activity


def _require_per_dimension(ex: Exercise, got: object, n: int, d: int, case: str) -> None:
    """Name the common wrong reduction of ``[N, D] -> [D]``: over D instead of over N."""
    __tracebackhide__ = True
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (n,) and n != d:
        ex.fail(
            f"wrong shape: expected [{d}] (one value per latent dimension), got [{n}] (one value "
            f"per image): you reduced over the {d} latent dimensions; reduce over the {n} images "
            "(dimension 0) instead.",
            case,
        )


def _latent_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, mu [N, D], logvar [N, D]) with N != D, a collapsed case and float64."""
    cases = [
        ("N = 50 images, D = 16", 2 * torch.randn(50, 16, generator=generator), torch.randn(50, 16, generator=generator)),
        ("N = 7 images, D = 3", torch.randn(7, 3, generator=generator) + 1.0, torch.randn(7, 3, generator=generator) - 2.0),
        ("N = 2 images, D = 1", torch.tensor([[0.3], [-1.2]]), torch.tensor([[-0.5], [0.4]])),
        ("a collapsed posterior: mu = 0, logvar = 0 for N = 5, D = 4 (KL must be 0)", torch.zeros(5, 4), torch.zeros(5, 4)),
    ]
    mu, logvar = cases[1][1:]
    cases.append(("N = 7 images, D = 3, float64", mu.double(), logvar.double()))
    with_accelerator_copies(cases)
    return cases


# --- Exercise 6.1 ----------------------------------------------------------------------


def _kl_terms(mu: torch.Tensor, logvar: torch.Tensor, var: torch.Tensor, log_var: torch.Tensor, one: float = 1.0) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + var - one - log_var)


def _kl_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "you summed over the images; the KL per dimension is an *average* over the N images "
            "(it must not grow with the number of images).",
            lambda mu, lv: _kl_terms(mu, lv, lv.exp(), lv).sum(0),
        ),
        Mistake(
            "the log-variance was used as the variance: the network outputs log σ², so σ² = exp(logvar).",
            lambda mu, lv: _kl_terms(mu, lv, lv, lv).mean(0),
        ),
        Mistake(
            "the standard deviation σ = exp(logvar / 2) was used where the variance σ² = exp(logvar) belongs.",
            lambda mu, lv: _kl_terms(mu, lv, (0.5 * lv).exp(), lv).mean(0),
        ),
        Mistake(
            "the −1 is missing: KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²), which is 0 when the "
            "posterior equals the prior.",
            lambda mu, lv: _kl_terms(mu, lv, lv.exp(), lv, one=0.0).mean(0),
        ),
        Mistake(
            "the factor ½ is missing: KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²).",
            lambda mu, lv: 2 * _kl_terms(mu, lv, lv.exp(), lv).mean(0),
        ),
        Mistake(
            "sign error: that is −KL. The closed form is −½ Σ (1 + log σ² − μ² − σ²): mind the "
            "leading minus.",
            lambda mu, lv: -_kl_terms(mu, lv, lv.exp(), lv).mean(0),
        ),
        Mistake(
            "the log σ² term has the wrong sign: KL = ½(μ² + σ² − 1 − log σ²).",
            lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 + lv).mean(0),
        ),
    ]


def check_kl_per_latent_dimension(kl_per_latent_dimension: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 6.1: ``kl_per_latent_dimension(mu [N, D], logvar [N, D]) -> [D]`` nats.

    Reference: :func:`genmodels.measure.vae_diagnostics.kl_per_dimension`. Book: eq-kl-per-dimension.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(6)
    with Exercise("6.1", "kl_per_latent_dimension") as ex:
        for label, mu, logvar in _latent_cases(generator):
            expected = kl_per_dimension(mu, logvar)
            got = ex.call(kl_per_latent_dimension, mu, logvar)
            _require_per_dimension(ex, got, mu.shape[0], mu.shape[1], label)
            require_order(ex, got, expected, "latent dimension", label)
            ex.compare(
                got,
                expected,
                case=label,
                args=(mu, logvar),
                mistakes=_kl_mistakes(),
                sizes={"the N images": mu.shape[0], "the D latent dimensions": mu.shape[1]},
                nonfinite_hint="Use exp(logvar) for σ², never log of a variance computed by hand.",
                atol=1e-5,
                rtol=1e-5,
            )


# --- Exercise 6.2 ----------------------------------------------------------------------


def _activity_mistakes() -> list[Mistake]:
    def centred(mu: torch.Tensor) -> torch.Tensor:
        return mu - mu.mean(0, keepdim=True)

    return [
        Mistake(
            "you divided by N; the activity is the *sample* variance over the images, divided by "
            "N − 1 (as torch.var does by default).",
            lambda mu: centred(mu).pow(2).mean(0),
        ),
        Mistake(
            "that is the standard deviation; the activity A_d is a variance (the threshold 0.01 is "
            "compared with a variance).",
            lambda mu: centred(mu).pow(2).sum(0).div(mu.shape[0] - 1).sqrt(),
        ),
        Mistake(
            "you did not subtract the mean over the images: that is the second moment E[μ_d²], not "
            "the variance. A unit whose mean is the same non-zero value for every image is inactive.",
            lambda mu: mu.pow(2).sum(0) / (mu.shape[0] - 1),
        ),
        Mistake(
            "you did not subtract the mean over the images: that is the second moment E[μ_d²], not "
            "the variance. A unit whose mean is the same non-zero value for every image is inactive.",
            lambda mu: mu.pow(2).mean(0),
        ),
        Mistake(
            "you returned the mean of each unit over the images; the activity is its variance.",
            lambda mu: mu.mean(0),
        ),
    ]


def _activity_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    cases = [(label, mu) for label, mu, _ in _latent_cases(generator) if "collapsed" not in label]
    offset = torch.randn(40, 5, generator=generator) * torch.tensor([1.0, 0.1, 0.0, 2.0, 0.05]) + 3.0
    cases.append(("N = 40, D = 5, every unit offset by 3 and one constant unit", offset))
    far = torch.randn(40, 4, generator=generator, dtype=torch.float64) * torch.tensor([0.1, 0.3, 0.05, 1.0], dtype=torch.float64)
    cases.append((_FAR_LABEL, (far + _FAR_OFFSET).float()))
    return cases


_FAR_OFFSET = 1000.0
_FAR_LABEL = "N = 40, D = 4, float32 means near 1000 that vary by 0.05 to 1 (activities near the threshold 0.01)"


def _require_shift_invariance(ex: Exercise, fn: Callable[..., torch.Tensor], got: object, mu: torch.Tensor,
                              expected: torch.Tensor, case: str) -> None:
    """A variance does not change when every mean is shifted: name a one-pass formula's loss
    of precision by comparing with the answer on the same means shifted back near 0."""
    __tracebackhide__ = True
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return
    rtol, atol = 1e-3, 1e-5
    if torch.allclose(got.detach().to(expected.dtype), expected, rtol=rtol, atol=atol):
        return
    near_zero = ex.call(fn, (mu.double() - _FAR_OFFSET).to(mu.dtype))
    if isinstance(near_zero, torch.Tensor) and near_zero.shape == expected.shape and torch.allclose(
            near_zero.detach().to(expected.dtype), expected, rtol=rtol, atol=atol):
        ex.fail(f"your activities are right for means near 0 but wrong for the same means shifted by "
                f"{_FAR_OFFSET:g}, and a variance does not change under a shift: a one-pass formula "
                "E[μ²] − E[μ]² cancels catastrophically in float32 when the means are large compared "
                "with their spread. Subtract each unit's mean before squaring.", case)


def check_activity_per_unit(activity_per_unit: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 6.2: ``activity_per_unit(mu [N, D]) -> [D]``, the sample variance
    (N − 1) over the images of each unit's posterior mean.

    Reference: :func:`genmodels.measure.vae_diagnostics.unit_activity` in float64, on hidden
    inputs with N != D, N = 2, float64, a constant unit, and float32 means near 1000 whose
    activities sit near the threshold 0.01 (where a one-pass formula loses every digit;
    the message then says that a variance is shift-invariant). Book: eq-active-units.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(16)
    with Exercise("6.2", "activity_per_unit") as ex:
        for label, mu in _activity_cases(generator):
            expected = unit_activity(mu.double()).to(mu.dtype)  # float64: exact to float32's precision
            got = ex.call(activity_per_unit, mu)
            _require_per_dimension(ex, got, mu.shape[0], mu.shape[1], label)
            require_order(ex, got, expected, "latent unit", label)
            if label == _FAR_LABEL:
                _require_shift_invariance(ex, activity_per_unit, got, mu, expected, label)
            ex.compare(
                got,
                expected,
                case=label,
                args=(mu,),
                mistakes=_activity_mistakes(),
                sizes={"the N images": mu.shape[0], "the D latent dimensions": mu.shape[1]},
                atol=1e-5,
                rtol=1e-4,
            )


# --- Exercise 6.3 ----------------------------------------------------------------------


def reference_iwae_from_log_weights(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/k) Σ_i exp(log_weights[i]) per column, computed in float64: ``[k, B] -> [B]``.

    Book: eq-iwae-bound (chapter 5).
    """
    k = log_weights.shape[0]
    return (torch.logsumexp(log_weights.double(), dim=0) - math.log(k)).to(log_weights.dtype)


def _iwae_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "the 1/k is missing (a −log k term): the bound is the log of the *mean* of the k weights; "
            "a log of their sum grows with k and is not a lower bound on log p(x).",
            lambda lw: torch.logsumexp(lw, dim=0),
        ),
        Mistake(
            "that is the mean of the log-weights, the one-sample ELBO averaged over k draws; the IWAE "
            "bound is the log of the mean of the weights, log (1/k) Σ_i w_i, which is larger.",
            lambda lw: lw.mean(0),
        ),
        Mistake(
            "you exponentiated the log-weights: in float32 exp(−250) underflows to 0 (log(0) = −inf) "
            "and exp(300) overflows to inf. Compute log Σ_i exp(a_i) stably: subtract the largest "
            "a_i first (torch.logsumexp does this).",
            lambda lw: torch.log(lw.exp().mean(0)),
        ),
        Mistake(
            "you exponentiated the log-weights: in float32 exp(−250) underflows to 0 (log(0) = −inf) "
            "and exp(300) overflows to inf. Compute log Σ_i exp(a_i) stably: subtract the largest "
            "a_i first (torch.logsumexp does this).",
            lambda lw: torch.log(lw.exp().sum(0)) - math.log(lw.shape[0]),
        ),
        Mistake(
            "that is the largest log-weight, max_i log w_i; it approximates the log-sum, but the bound "
            "is the log of the mean of all k weights.",
            lambda lw: lw.max(0).values,
        ),
        Mistake(
            "you took the largest log-weight minus log k; the log-sum-exp trick adds back "
            "log Σ_i exp(a_i − max) after subtracting the maximum.",
            lambda lw: lw.max(0).values - math.log(lw.shape[0]),
        ),
    ]


def _iwae_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    cases = [
        ("k = 10 samples, B = 4 images, log-weights near -250", -250 + 5 * torch.randn(10, 4, generator=generator)),
        ("k = 1 sample (the bound is the log-weight)", -230 + torch.randn(1, 6, generator=generator)),
        ("k = 100, B = 1, log-weights near -2000", -2000 + 20 * torch.randn(100, 1, generator=generator)),
        ("k = 5, B = 3, moderate log-weights", torch.randn(5, 3, generator=generator)),
        ("k = 4, B = 2, log-weights near +300 (exp overflows in float32)", 300 + torch.randn(4, 2, generator=generator)),
        ("k = 3, B = 2, ties: every log-weight of an image equal", torch.tensor([[-7.0, 40.0]] * 3)),
    ]
    cases.append(("k = 10, B = 4, float64", cases[0][1].double()))
    with_accelerator_copies(cases)
    return cases


def check_iwae_from_log_weights(iwae_from_log_weights: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 6.3: ``iwae_from_log_weights(log_weights [k, B]) -> [B]`` nats.

    Reference: :func:`reference_iwae_from_log_weights` (float64 log-sum-exp), on hidden
    inputs: k = 1, k != B, log-weights from −2000 to +300 (exp under- and overflows in
    float32), ties, float64; then the gradient with respect to the log-weights (the IWAE
    objective is trained: it must be the softmax of each image's log-weights).
    Book: eq-iwae-bound (chapter 5).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(26)
    with Exercise("6.3", "iwae_from_log_weights") as ex:
        for label, log_weights in _iwae_cases(generator):
            k, b = log_weights.shape
            expected = reference_iwae_from_log_weights(log_weights)
            got = ex.call(iwae_from_log_weights, log_weights)
            require_order(ex, got, expected, "image (column)", label)
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (k,) and k != b:
                ex.fail(
                    f"wrong shape: expected [{b}] (one bound per image), got [{k}]: you reduced over the "
                    f"{b} images; the k = {k} samples of one image are a column (dimension 0).",
                    label,
                )
            ex.compare(
                got,
                expected,
                case=label,
                args=(log_weights,),
                mistakes=_iwae_mistakes(),
                sizes={"the k samples": k, "the B images": b},
                nonfinite_hint="Log-weights of images are far below the smallest float32 exponent.",
                atol=1e-4,
                rtol=1e-5,
            )
        # the bound is also a training objective (IWAE): d bound_b / d log w_ib = softmax_i(log w_ib)
        log_weights = _iwae_cases(torch.Generator().manual_seed(26))[0][1].clone().requires_grad_()
        bound = ex.call(iwae_from_log_weights, log_weights)
        ex.require_gradients(bound, {"log_weights": log_weights},
                             expected={"log_weights": torch.softmax(log_weights.detach(), dim=0)},
                             case="gradients of the bounds summed over the images")


# --- Exercise 6.6: a VAE training step, built from torch alone ---------------------------

_STEP_KEYS = ("reconstruction", "kl", "loss")
_PROBE_BATCH, _PROBE_LATENT = 128, 16
_PROBE_LR = 0.01  # plain SGD: the parameters move by −0.01 × the gradient the step used
_PROBE_SIGMAS = (2.0, 0.5)  # posterior standard deviations of the first and second half of the latent units
_BIG_LOGITS = {40.0: 0.0, -200.0: 1.0}  # logit of a few pixels -> their value in x (BCE 40 and 200 nats)
_TRAIN_STEPS, _TRAIN_BATCH, _TRAIN_IMAGES, _TRAIN_LR = 150, 64, 1024, 1e-2
_TRAIN_LEVEL = 290.0
"""The check's negative ELBO (nats per image, 1024 Fashion-MNIST images) that a correct step
must reach after 150 steps; the reference reaches 263 to 273 (see check_vae_training_step)."""


class _ProbeVAE(nn.Module):
    """A small VAE with the interface of :class:`genmodels.vae.MLPVAE` whose posterior
    standard deviations (2 and 0.5), means (between 1 and 2) and a few extreme logits (+40,
    −200) are set, and which records what the student's step encodes and decodes."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        d, n_pixels = _PROBE_LATENT, 784
        self.latent_dim, self.image_shape = d, (1, 28, 28)
        self.enc = nn.Linear(n_pixels, 2 * d)
        self.dec = nn.Linear(d, n_pixels)
        with torch.no_grad():
            self.enc.weight.copy_(0.003 * torch.randn(2 * d, n_pixels, generator=generator))
            logvars = [2 * math.log(s) for s in _PROBE_SIGMAS for _ in range(d // 2)]
            self.enc.bias.copy_(torch.cat([1 + torch.rand(d, generator=generator), torch.tensor(logvars)]))
            self.dec.weight.copy_(0.3 * torch.randn(n_pixels, d, generator=generator))
            self.dec.bias.copy_(0.5 * torch.randn(n_pixels, generator=generator))
            for k, logit in enumerate(_BIG_LOGITS):
                self.dec.bias[_big_pixels(k)] = logit
        self.double()  # float64: the update reveals the gradient to many digits
        self.encoded: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.decoded: list[torch.Tensor] = []

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype != torch.float64:
            raise TypeError(f"model.encode got x of dtype {x.dtype}, but the check's model and images are "
                            "float64: do not convert x to another dtype")
        mu, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        self.encoded.append((mu.detach().clone(), logvar.detach().clone()))
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dtype != torch.float64:
            raise TypeError(f"model.decode got z of dtype {z.dtype}, but μ and log σ² are float64: do not "
                            "convert z to another dtype")
        self.decoded.append(z.detach().clone())
        return self.dec(z).view(-1, *self.image_shape)

    def forward(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the check's model has no forward(): call model.encode(x) and "
                           "model.decode(z), as the statement says")


def _big_pixels(k: int) -> slice:
    return slice(100 + 20 * k, 104 + 20 * k)


def _probe_batch(generator: torch.Generator) -> torch.Tensor:
    """[128, 1, 28, 28] in [0, 1]: grey levels, exact 0s and 1s, and the extreme pixels' values."""
    x = torch.rand(_PROBE_BATCH, 784, generator=generator, dtype=torch.float64)
    x[x < 0.2] = 0.0
    x[x > 0.9] = 1.0
    for k, value in enumerate(_BIG_LOGITS.values()):
        x[:, _big_pixels(k)] = value
    return x.view(-1, 1, 28, 28)


def _bce_sum(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x|z) of a Bernoulli decoder per image, from logits (stable)."""
    return -vae.bernoulli_log_likelihood(x, logits)


def _kl_rows(mu: torch.Tensor, var: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + var - 1 - log_var).sum(dim=1)


def _step_value(ex: Exercise, out: object, key: str, case: str) -> float:
    __tracebackhide__ = True
    value = out[key]  # type: ignore[index]
    if isinstance(value, torch.Tensor):
        ex.require(value.numel() == 1, f"out['{key}'] has shape {list(value.shape)}: return one number, the "
                   "mean over the images of the batch (a 0-d tensor or a float).", case)
        value = float(value.detach())
    ex.require(isinstance(value, float | int) and not isinstance(value, bool),
               f"out['{key}'] is a {type(value).__name__}: return a 0-d tensor or a float.", case)
    hint = {"reconstruction": "The batch has pixels with logits 40 and −200, where a sigmoid rounds to "
                              "1 or 0 and a log of it gives −inf: compute the loss from the logits "
                              "(binary_cross_entropy_with_logits, or logsigmoid).",
            "kl": "look for a log of a variance computed by hand, or an exp that overflows."}
    ex.require(math.isfinite(value), f"out['{key}'] is {value}, not a finite number. "
               + hint.get(key, "Look for a log of 0 or an exp that overflows."), case)
    return float(value)


def _close(a: float, b: float, rtol: float = 1e-6) -> bool:
    return abs(a - b) <= rtol * max(abs(b), 1.0)


def _check_returned_dict(ex: Exercise, out: object, case: str) -> dict[str, float]:
    __tracebackhide__ = True
    ex.require(isinstance(out, dict), f"your function returned a {type(out).__name__}; return a dict with "
               "the keys 'loss', 'reconstruction' and 'kl'.", case)
    missing = [k for k in _STEP_KEYS if k not in out]  # type: ignore[operator]
    ex.require(not missing, f"the returned dict has no key {', '.join(repr(k) for k in missing)}: return "
               "{'loss': ..., 'reconstruction': ..., 'kl': ...}.", case)
    return {k: _step_value(ex, out, k, case) for k in _STEP_KEYS}


def _check_sample(ex: Exercise, model: _ProbeVAE, case: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first decoded z must be μ + σ ε with one standard normal ε per image and unit.

    Each half of the units (σ = 2 and σ = 0.5) holds 1024 values of (z − μ)/σ; their
    standard deviation must be within 15 % of 1 (7 standard errors) and their mean within
    0.2 of 0 (6.4 standard errors): a correct step fails with probability below 1e-9.
    """
    __tracebackhide__ = True
    ex.require(bool(model.encoded), "your function never called model.encode(x).", case)
    ex.require(bool(model.decoded), "your function never called model.decode(z).", case)
    mu, logvar = model.encoded[0]
    z = model.decoded[0]
    ex.require(tuple(z.shape) == tuple(mu.shape), f"model.decode was called with a tensor of shape "
               f"{list(z.shape)}; decode one code z per image, of the shape of μ ({list(mu.shape)}).", case)
    z = z.to(mu.dtype)
    ex.require(bool(torch.isfinite(z).all()), "the code z you decoded contains NaN or inf.", case)
    ex.require(not torch.allclose(z, mu), "you decoded μ itself: the noise is missing (z = μ + σ·ε); "
               "without it the model is an autoencoder and the KL term has nothing to act on.", case)
    half = _PROBE_LATENT // 2
    groups = [(slice(0, half), _PROBE_SIGMAS[0]), (slice(half, None), _PROBE_SIGMAS[1])]
    sigma = (0.5 * logvar).exp()
    eps = (z - mu) / sigma
    ex.require(not torch.allclose(eps[0], eps[1]),
               "every image got the same ε: draw one ε per image and latent unit (the shape of μ).", case)
    ex.require(not torch.allclose(eps[:, 0], eps[:, 1]),
               "every latent unit got the same ε: draw one ε per image and latent unit (the shape of μ).", case)
    if abs(float(eps.mean())) >= 0.2:
        ex.fail(f"z is not centred at μ (the mean of (z − μ)/σ is {float(eps.mean()):.3g}): z = μ + σ·ε, "
                "add the mean μ.", case)
    ex.n_checks += 1

    def unit_spread(scale: torch.Tensor) -> bool:
        r = (z - mu) / scale
        return all(abs(float(r[:, s].std()) - 1.0) < 0.15 for s, _ in groups)

    if not unit_spread(sigma):
        spreads = [float((z - mu)[:, s].std()) for s, _ in groups]
        for scale, message in [
            (logvar, "you scaled ε by log σ² itself (the log-variance used as a standard deviation); "
                     "the standard deviation is σ = exp(log σ² / 2)"),
            (logvar.exp(), "you scaled ε by the variance σ² = exp(log σ²); the standard deviation is "
                           "σ = exp(log σ² / 2)"),
            (logvar.exp() / 2, "you scaled ε by exp(log σ²) / 2; the standard deviation is exp(log σ² / 2) "
                               "(the ½ goes inside the exponential)"),
            ((0.25 * logvar).exp(), "you scaled ε by exp(log σ² / 4) = √σ; the standard deviation is "
                                    "σ = exp(log σ² / 2)"),
            (torch.ones_like(logvar), "the noise ε is not scaled: multiply it by σ = exp(log σ² / 2)"),
        ]:
            if unit_spread(scale):
                ex.fail(f"{message} (z − μ has spread {spreads[0]:.3g} where σ = 2 and {spreads[1]:.3g} "
                        "where σ = 0.5).", case)
        ex.fail(f"z − μ has spread {spreads[0]:.3g} in the units where σ = 2 and {spreads[1]:.3g} where "
                "σ = 0.5: z must be μ + σ·ε with ε ~ N(0, I) and σ = exp(log σ² / 2).", case)
    ex.n_checks += 1
    return mu, logvar, eps


def _probe_losses(model: _ProbeVAE, x: torch.Tensor, eps: torch.Tensor,
                  detach_z: bool = False) -> dict[str, torch.Tensor]:
    """The stated loss and its parts at the student's ε, as functions of the parameters."""
    mu, logvar = model.enc(x.flatten(1)).chunk(2, dim=1)
    z = mu + (0.5 * logvar).exp() * eps
    logits = model.dec(z.detach() if detach_z else z).view_as(x)
    rec = _bce_sum(logits, x).mean()
    kl = vae.kl_to_standard_normal(mu, logvar).mean()
    return {"rec": rec, "kl": kl}


def _check_values(ex: Exercise, got: dict[str, float], before: _ProbeVAE, x: torch.Tensor,
                  mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, case: str) -> None:
    """The three returned numbers against the stated per-image means, with named mistakes."""
    __tracebackhide__ = True
    b, n_pixels, d = x.shape[0], x[0].numel(), mu.shape[1]
    with torch.no_grad():
        logits = before.dec(z).view_as(x)
        bce = _bce_sum(logits, x)
        rec = float(bce.mean())
        p = torch.sigmoid(logits)
        clamped = F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1).mean()
        squared = (p - x).pow(2).flatten(1).sum(1).mean()
        var, sd = logvar.exp(), (0.5 * logvar).exp()
        kl_rows = _kl_rows(mu, var, logvar)
        kl = float(kl_rows.mean())
        log_q = (-0.5 * ((z - mu) / sd).pow(2) - 0.5 * logvar).sum(1)
        log_p = (-0.5 * z.pow(2)).sum(1)
        kl_mc = float((log_q - log_p).mean())
    big = ", ".join(f"{v:g}" for v in _BIG_LOGITS)
    rec_mistakes = [
        (rec * b, f"the reconstruction term is {b} times too large: you summed over the {b} images of the "
                  "batch; the statement asks for the mean over the images (of the sum over the pixels)."),
        (rec / n_pixels, f"the reconstruction term is {n_pixels} times too small: a mean over the pixels (the "
                         "default reduction='mean' of PyTorch's losses); −log p(x|z) is a sum over the "
                         f"{n_pixels} pixels, then a mean over the images."),
        (float(clamped), "the reconstruction term is wrong at the pixels whose logit is huge (logits "
                         f"{big}): a sigmoid followed by binary_cross_entropy saturates, and PyTorch clamps "
                         "its log(0) at −100. Compute the loss from the logits "
                         "(binary_cross_entropy_with_logits, or logsigmoid)."),
        (float(squared), "the reconstruction term is a squared error; the decoder is Bernoulli: −log p(x|z) is "
                         "the binary cross-entropy between x and the logits, summed over the pixels."),
        (float(squared) / n_pixels, "the reconstruction term is a mean squared error (F.mse_loss's default "
                                    "reduction); the decoder is Bernoulli: −log p(x|z) is the binary cross-entropy "
                                    "between x and the logits, summed over the pixels, then averaged over the images."),
        (float(squared) * b, "the reconstruction term is a squared error summed over the batch; the decoder is "
                             "Bernoulli (binary cross-entropy on the logits, summed over the pixels, mean over "
                             "the images)."),
        (-rec, "the reconstruction term has the wrong sign: return the negative log-likelihood "
               "−log p(x|z) (a positive number of nats)."),
    ]
    if not _close(got["reconstruction"], rec):
        for value, message in rec_mistakes:
            if _close(got["reconstruction"], value):
                ex.fail(message, case)
        ex.fail(f"out['reconstruction'] is {got['reconstruction']:.6g}, but the mean over the images of "
                f"−log p(x|z) (Bernoulli, summed over the pixels) at the z you decoded is {rec:.6g}.", case)
    ex.n_checks += 1
    kl_mistakes = [
        (kl * b, f"the KL term is {b} times too large: you summed it over the {b} images; the statement asks "
                 "for the mean over the images."),
        (kl / d, f"the KL term is {d} times too small: you averaged over the {d} latent units; the KL of a "
                 "diagonal Gaussian is a sum over its units (then a mean over the images)."),
        (float(_kl_rows(mu, sd, logvar).mean()), "the KL term uses the standard deviation σ = exp(log σ² / 2) "
                                                 "where the variance σ² = exp(log σ²) belongs."),
        (float(_kl_rows(mu, logvar, logvar).mean()), "the KL term uses the log-variance as the variance: "
                                                     "σ² = exp(logvar)."),
        (2 * kl, "the KL term is missing its factor ½: KL = −½ Σ (1 + log σ² − μ² − σ²)."),
        (-kl, "the KL term has the wrong sign: KL(q(z|x) || p(z)) ≥ 0; mind the leading minus of "
              "−½ Σ (1 + log σ² − μ² − σ²)."),
        (kl_mc, "out['kl'] is the one-sample estimate log q(z|x) − log p(z) at your z; the statement asks for "
                "the closed form −½ Σ (1 + log σ² − μ² − σ²), which has no sampling noise."),
    ]
    if not _close(got["kl"], kl):
        for value, message in kl_mistakes:
            if _close(got["kl"], value):
                ex.fail(message, case)
        ex.fail(f"out['kl'] is {got['kl']:.6g}, but the mean over the images of the closed-form "
                f"KL(q(z|x) || N(0, I)) is {kl:.6g}.", case)
    ex.n_checks += 1
    loss = rec + kl
    loss_mistakes = [
        (rec - kl, "the loss subtracts the KL term; the negative ELBO *adds* it: loss = reconstruction + KL."),
        (rec, "the loss is the reconstruction term alone: the KL term is missing (loss = reconstruction + KL)."),
        (-loss, "the loss is the ELBO; minimise the *negative* ELBO, reconstruction + KL."),
        (loss * b, f"the loss is summed over the {b} images; the statement asks for the mean over the images."),
    ]
    if not _close(got["loss"], loss):
        for value, message in loss_mistakes:
            if _close(got["loss"], value):
                ex.fail(message, case)
        ex.fail(f"out['loss'] is {got['loss']:.6g}; expected reconstruction + KL = {loss:.6g}.", case)
    ex.n_checks += 1


def _flat_grad(loss: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads, strict=True)])


def _flat(params: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def _check_update(ex: Exercise, moved: torch.Tensor, before: _ProbeVAE, x: torch.Tensor, eps: torch.Tensor,
                  previous: torch.Tensor | None, case: str) -> torch.Tensor:
    """The parameters must move by one SGD step along the gradient of the stated loss.

    ``moved`` is (θ_before − θ_after) / lr (= the gradient the optimizer used); ``previous`` the
    gradient the first call used (for the second call: accumulation without zero_grad).
    Returns the expected gradient.
    """
    __tracebackhide__ = True
    params = list(before.parameters())
    n_enc = sum(p.numel() for p in before.enc.parameters())
    terms = _probe_losses(before, x, eps)
    g_rec, g_kl = _flat_grad(terms["rec"], params), _flat_grad(terms["kl"], params)
    expected = g_rec + g_kl
    detached = _probe_losses(before, x, eps, detach_z=True)
    g_detached = _flat_grad(detached["rec"] + detached["kl"], params)
    b = x.shape[0]

    def same(a: torch.Tensor, target: torch.Tensor) -> bool:
        scale = float(target.abs().max())
        return bool(torch.allclose(a, target, rtol=2e-3, atol=2e-4 * scale))

    if same(moved, expected):
        ex.n_checks += 1
        return expected
    ex.require(bool(moved.abs().max() > 0),
               "the parameters did not change: the optimizer was not stepped after backward() "
               "(optimizer.step() missing, or the gradients zeroed between backward() and step()).", case)
    candidates = [
        (expected + previous if previous is not None else None,
         "the gradients accumulate from one call to the next: optimizer.zero_grad() is missing, so the "
         "second step used the sum of both batches' gradients."),
        (g_detached, "no gradient reaches the encoder through z: the sample was taken outside the graph "
                     "(torch.no_grad, .detach(), or torch.normal(μ, σ)), so only the KL term trains the "
                     "encoder. Build z = μ + σ·ε from μ and log σ² with differentiable operations."),
        (g_rec, "the update ignores the KL term: the loss you backpropagated is the reconstruction alone."),
        (g_rec - g_kl, "the loss you backpropagated subtracts the KL term; the negative ELBO adds it."),
        (-expected, "the update climbs the loss: you backpropagated the ELBO (or −loss); minimise the negative "
                    "ELBO."),
        (b * expected, f"the update is {b} times too large: the loss you backpropagated is summed over the "
                       f"{b} images, not averaged."),
        (2 * expected, "the parameters moved twice as far as one optimizer step: optimizer.step() was called "
                       "twice (or backward() ran twice before the step)."),
    ]
    for target, message in candidates:
        if target is not None and same(moved, target):
            ex.fail(message, case)
    enc_ok = same(moved[:n_enc], expected[:n_enc])
    dec_ok = same(moved[n_enc:], expected[n_enc:])
    part = ("the encoder's" if dec_ok else "the decoder's" if enc_ok else "every")
    ex.fail(f"the values you return are right, but {part} parameters did not move by one step of the given "
            "optimizer along the gradient of the loss you return: call backward() on that loss (the one "
            "returned as out['loss']) and step the optimizer you are given once.", case)
    return expected


def _unit_step(ex: Exercise, fn: Callable[..., object]) -> None:
    """Two calls on the probe VAE with plain SGD: returned values, the sample, the updates."""
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(606)
    model = _ProbeVAE(g)
    optimizer = torch.optim.SGD(model.parameters(), lr=_PROBE_LR)
    previous = None
    for call in (1, 2):
        case = f"call {call} on a batch of {_PROBE_BATCH} images, with plain SGD (lr = {_PROBE_LR:g})"
        x = _probe_batch(g)
        before = copy.deepcopy(model)
        theta = _flat(list(model.parameters()))
        model.encoded.clear()
        model.decoded.clear()
        out = ex.call(fn, model, optimizer, x, torch.Generator().manual_seed(60 + call))
        values = _check_returned_dict(ex, out, case)
        mu, logvar, eps = _check_sample(ex, model, case)
        _check_values(ex, values, before, x, mu, logvar, model.decoded[0].to(mu.dtype), case)
        moved = (theta - _flat(list(model.parameters()))) / _PROBE_LR
        previous = _check_update(ex, moved, before, x, eps, previous, case)


def _check_step_generator(ex: Exercise, fn: Callable[..., object]) -> None:
    __tracebackhide__ = True
    x = _probe_batch(torch.Generator().manual_seed(7))

    def decoded_z(generator: torch.Generator) -> torch.Tensor:
        model = _ProbeVAE(torch.Generator().manual_seed(606))
        fn(model, torch.optim.SGD(model.parameters(), lr=_PROBE_LR), x.clone(), generator)
        return model.decoded[0] if model.decoded else torch.zeros(0)

    ex.require_generator_use(decoded_z, ())


@functools.cache
def _fashion_images() -> torch.Tensor:
    from genmodels.core import data

    return data.to_float_images(data.load_fashion_mnist("train").images[:_TRAIN_IMAGES])


def _fashion_subset() -> torch.Tensor:
    """The first 1024 Fashion-MNIST training images, ``[1024, 1, 28, 28]`` in [0, 1] (a copy)."""
    return _fashion_images().clone()


def _negative_elbo(model: nn.Module, x: torch.Tensor) -> float:
    """The check's own estimate: the mean over the images of −ELBO with 4 samples per image."""
    with torch.no_grad():
        terms = vae.elbo_terms(model, x, n_samples=4, generator=torch.Generator().manual_seed(99))
    return float(-terms.elbo.mean())


def _train_briefly(fn: Callable[..., object], ex: Exercise | None = None) -> tuple[float, float]:
    """Train a small MLPVAE with ``fn`` for _TRAIN_STEPS Adam steps; (−ELBO before, after)."""
    x = _fashion_subset()
    torch.manual_seed(0)  # the model's initial weights (the global state is restored on exit)
    model = vae.MLPVAE(8, hidden=(64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=_TRAIN_LR)
    g = torch.Generator().manual_seed(66)
    start = _negative_elbo(model, x)
    for _ in range(_TRAIN_STEPS):
        batch = x[torch.randint(len(x), (_TRAIN_BATCH,), generator=g)]
        if ex is None:
            fn(model, optimizer, batch, g)
        else:
            ex.call(fn, model, optimizer, batch, g)
    return start, _negative_elbo(model, x)


def check_vae_training_step(vae_training_step: Callable[..., object]) -> None:
    """Check Exercise 6.6: ``vae_training_step(model, optimizer, x, generator) -> dict``.

    ``model`` has ``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits`` (as
    :class:`genmodels.vae.MLPVAE`); ``x`` is ``[B, 1, 28, 28]`` in [0, 1]. One step:
    reparameterized sample with ``generator``, loss = mean over the images of the
    Bernoulli −log p(x|z) (summed over the pixels) + closed-form KL, backward, one step
    of ``optimizer``; returns ``{"loss", "reconstruction", "kl"}`` (per-image means).

    Checked on behaviour: (1) two calls on a float64 probe VAE with plain SGD (lr 0.01): the code
    decoded is μ + σ·ε (its spread in units of σ = 2 and σ = 0.5, a test that a correct
    step fails with probability below 1e-9), the three returned numbers equal the stated
    means at that code (pixels with logits +40 and −200 included), and the parameters
    move by exactly the gradient of the stated loss (which catches a missing zero_grad, a
    sample outside the graph, a wrong sign, a sum over the batch, a missing step);
    (2) the generator: the same seed gives the same code, another seed another one, the
    global random state is not used; (3) training: 150 steps of Adam (lr 0.01, batches of
    64) on 1024 Fashion-MNIST images bring the check's −ELBO (4 samples per image) from
    about 550 to at most 290 nats per image (the reference reaches 263 to 273 with eight
    different seeds, mean 267.7 and standard deviation 3.6: 290 is 6 standard deviations
    above, a false failure below 1e-9 for normal spread; a step without the KL term stays
    above 330, one without gradients through z above 380).
    """
    __tracebackhide__ = True
    with Exercise("6.6", "vae_training_step") as ex:
        _unit_step(ex, vae_training_step)
        _check_step_generator(ex, vae_training_step)
        start, end = _train_briefly(vae_training_step, ex)
        ex.require(
            end <= _TRAIN_LEVEL,
            f"after {_TRAIN_STEPS} steps on {_TRAIN_IMAGES} Fashion-MNIST images the negative ELBO is "
            f"{end:.1f} nats per image (it started at {start:.1f}); a correct step reaches "
            f"{_TRAIN_LEVEL:.0f} or less.",
            f"{_TRAIN_STEPS} training steps",
        )
