"""The variational autoencoder: the ELBO, its two terms, and the tricks that make it trainable.

The loss of the tutorial, for one example x (Book: eq-vae-loss, chapter 5)::

    L(x) = -E_{z ~ q(z|x)}[log p(x|z)] + KL(q(z|x) || p(z)),   p(z) = N(0, I),

is the negative evidence lower bound (ELBO). Every function below computes one piece of
it and returns one value per example (shape ``[B]``) unless it says otherwise; averaging
over the batch is left to the caller (:func:`vae_step_loss` does it for training).

Model interface used by :func:`elbo_terms` and :func:`iwae_bound`: ``model.encode(x)``
returns ``(mu, logvar)``, each ``[B, D]``, the diagonal Gaussian q(z|x); ``model.decode(z)``
returns Bernoulli logits or the Gaussian mean of p(x|z), shaped like ``x``. The attributes
``model.likelihood`` ("bernoulli" or "gaussian") and ``model.sigma`` are used when present.

Every VAE of the book trains with :func:`train_with_adam`; chapter 6's settings are
:class:`genmodels.experiments.vae_fashion.FashionVAESettings`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.core import train
from genmodels.core.constants import LOG_2PI
from genmodels.core.validation import check_float, check_positive_int
from genmodels.nets import check_batch, check_image_shape, check_latent, mlp

Likelihood = Literal["bernoulli", "gaussian"]
LIKELIHOODS = ("bernoulli", "gaussian")


# --------------------------------------------------------------------------- checks


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"{names} must be torch.Tensors.")
    if a.shape != b.shape:
        raise ValueError(
            f"{names} must have the same shape, got {list(a.shape)} and {list(b.shape)}."
        )
    if a.ndim < 1:
        raise ValueError(f"{names} need a leading batch dimension [B, ...], got scalars.")


def _check_floating(t: torch.Tensor, name: str) -> None:
    if not torch.is_floating_point(t):
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {t.dtype}; "
            "convert uint8 images with genmodels.core.data.to_float_images."
        )


def _sum_per_example(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension except the first: ``[B, ...] -> [B]``."""
    return t.reshape(t.shape[0], -1).sum(dim=1)


def standard_normal_like(t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """ε ~ N(0, I) with the shape, dtype and device of ``t``.

    With a ``generator`` the noise is drawn on the generator's device and moved to ``t``'s
    device, so a CPU generator seeds CUDA/MPS runs through the same code path.
    """
    if generator is None:
        return torch.randn_like(t)
    eps = torch.randn(t.shape, generator=generator, dtype=t.dtype, device=generator.device)
    return eps.to(t.device)


# --------------------------------------------------------------------------- q(z|x)


def std_from_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """σ = exp(log σ² / 2), elementwise: the log-variance trick.

    The encoder outputs log σ², which may be any real number, so σ is positive by
    construction. Book: eq-logvar-trick (chapter 5).
    """
    _check_floating(logvar, "logvar")
    return torch.exp(0.5 * logvar)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw z ~ N(μ, diag σ²) as z = μ + σ ⊙ ε with ε ~ N(0, I).

    The randomness sits in ε, so z is a differentiable function of (μ, log σ²) and the
    gradient of E_q[f(z)] is estimated by backpropagation. ``mu`` and ``logvar`` have the
    same shape ``[B, D]``; returns ``[B, D]``. Book: eq-reparameterization (chapter 5).
    """
    _check_same_shape(mu, logvar, "mu and logvar")
    _check_floating(mu, "mu")
    return mu + std_from_logvar(logvar) * standard_normal_like(mu, generator)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) || N(0, I)) = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²), per example.

    ``mu``, ``logvar``: ``[B, D]`` -> ``[B]`` nats. Book: eq-kl-closed-form (chapter 5).
    """
    _check_same_shape(mu, logvar, "mu and logvar")
    _check_floating(mu, "mu")
    return -0.5 * _sum_per_example(1 + logvar - mu.pow(2) - logvar.exp())


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per example: ``[B, D] -> [B]``. Book: eq-iwae-bound (chapter 5)."""
    _check_floating(z, "z")
    return _sum_per_example(-0.5 * (z.pow(2) + LOG_2PI))


def log_diagonal_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; μ, diag exp(logvar)) per example: ``[B, D] -> [B]``.

    Book: eq-iwae-bound (chapter 5).
    """
    _check_same_shape(z, mu, "z and mu")
    _check_same_shape(mu, logvar, "mu and logvar")
    return _sum_per_example(-0.5 * ((z - mu).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI))


# --------------------------------------------------------------------------- p(x|z)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = Σ_i x_i log p_i + (1 − x_i) log(1 − p_i), with p = sigmoid(logits).

    Equals minus the binary cross-entropy on logits, summed over pixels (computed stably).
    ``x`` in [0, 1] and ``logits`` of the same shape ``[B, ...]`` -> ``[B]`` nats.
    Book: eq-bernoulli-likelihood (chapter 5).
    """
    _check_same_shape(x, logits, "x and logits")
    _check_floating(x, "x")
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -_sum_per_example(bce)


def _check_sigma(sigma: float | torch.Tensor) -> None:
    if isinstance(sigma, torch.Tensor):
        return  # positivity of a tensor would need a host sync; documented instead
    check_float(sigma, "sigma", minimum=0, open_below=True,
                hint="the decoder's fixed standard deviation")


def gaussian_log_likelihood(
    x: torch.Tensor, mean: torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    """log N(x; mean, σ² I) = −‖x − mean‖² / (2σ²) − d log σ − (d/2) log 2π, per example.

    ``x``, ``mean``: ``[B, ...]``; ``sigma``: a positive float or a positive tensor that
    broadcasts against ``x``. Returns ``[B]`` nats. The first term is −α·‖x − x'‖² with
    α = 1/(2σ²) (see :func:`squared_error_weight`).
    Book: eq-gaussian-likelihood-squared-error (chapter 5).
    """
    _check_same_shape(x, mean, "x and mean")
    _check_floating(x, "x")
    _check_sigma(sigma)
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    z = (x - mean) / sigma_t
    return _sum_per_example(-0.5 * z.pow(2) - torch.log(sigma_t) - 0.5 * LOG_2PI)


def squared_error_weight(sigma: float | torch.Tensor) -> float | torch.Tensor:
    """α = 1 / (2σ²): the weight of the squared error L1 in L = α·L1 + L2.

    With a Gaussian decoder N(x'; σ² I), −log p(x|z) = α‖x − x'‖² + const, so choosing
    α is choosing the decoder's noise level σ. Book: eq-gaussian-likelihood-squared-error
    (chapter 5).
    """
    _check_sigma(sigma)
    return 1.0 / (2.0 * sigma**2)


def sigma_from_squared_error_weight(alpha: float) -> float:
    """σ = 1/√(2α), the inverse of :func:`squared_error_weight`."""
    alpha = check_float(alpha, "alpha", minimum=0, open_below=True,
                        hint="the weight of the squared error")
    return 1.0 / math.sqrt(2.0 * alpha)


def alpha_weighted_vae_loss(
    x: torch.Tensor,
    reconstruction: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """The tutorial's loss L = α·‖x − x'‖² + KL(q(z|x) || N(0, I)), per example ``[B]``.

    ``x``, ``reconstruction``: ``[B, ...]``; ``mu``, ``logvar``: ``[B, D]``. It equals the
    negative ELBO with a Gaussian decoder of σ = 1/√(2α), up to the constant
    d·(log σ + ½ log 2π). Book: eq-gaussian-likelihood-squared-error (chapter 5).
    """
    _check_same_shape(x, reconstruction, "x and reconstruction")
    squared_error = _sum_per_example((x - reconstruction).pow(2))
    return alpha * squared_error + kl_to_standard_normal(mu, logvar)


def log_likelihood(
    x: torch.Tensor,
    decoded: torch.Tensor,
    likelihood: Likelihood,
    sigma: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """log p(x|z) per example ``[B]`` for the decoder output ``decoded`` (logits or mean)."""
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(x, decoded)
    if likelihood == "gaussian":
        if sigma is None:
            raise ValueError(
                "the Gaussian likelihood needs sigma, the decoder's fixed standard deviation; "
                "pass sigma=... (it sets alpha = 1/(2 sigma^2))."
            )
        return gaussian_log_likelihood(x, decoded, sigma)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")


def _resolve_likelihood(
    model: nn.Module, likelihood: str | None, sigma: float | torch.Tensor | None
) -> tuple[Likelihood, float | torch.Tensor | None]:
    own = getattr(model, "likelihood", None)
    if likelihood is None:
        likelihood = own or "bernoulli"
    elif own is not None and likelihood != own:
        raise ValueError(
            f"the model was built with likelihood={own!r} (its decoder outputs "
            f"{'logits' if own == 'bernoulli' else 'a mean'}), but likelihood={likelihood!r} "
            "was asked for; build the model with the likelihood you want to train."
        )
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
    if likelihood == "gaussian" and sigma is None:
        sigma = getattr(model, "sigma", None)
    return likelihood, sigma  # type: ignore[return-value]


# --------------------------------------------------------------------------- the ELBO


class ELBOTerms(NamedTuple):
    """The ELBO and its two terms, one value per example (each ``[B]``, in nats).

    ``reconstruction`` is E_q[log p(x|z)] (a log-likelihood: higher is better), ``kl`` is
    KL(q(z|x) || p(z)), and ``elbo = reconstruction − β·kl`` (the true ELBO for β = 1).
    """

    elbo: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def elbo_terms(
    model: nn.Module,
    x: torch.Tensor,
    likelihood: Likelihood | None = None,
    sigma: float | torch.Tensor | None = None,
    beta: float = 1.0,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> ELBOTerms:
    """ELBO(x) = E_{q(z|x)}[log p(x|z)] − β·KL(q(z|x) || N(0, I)), per example.

    The expectation is estimated with ``n_samples`` reparameterized samples per example
    (unbiased, differentiable); the KL is exact (closed form). ``likelihood`` and
    ``sigma`` default to the model's own attributes. ``x``: ``[B, ...]``; returns
    :class:`ELBOTerms` of ``[B]`` tensors. With β = 1, ELBO ≤ log p(x), with equality
    when q(z|x) is the exact posterior.
    Book: eq-elbo-jensen, eq-elbo-kl-decomposition, eq-beta-vae (chapter 5).
    """
    check_positive_int(n_samples, "n_samples")
    likelihood, sigma = _resolve_likelihood(model, likelihood, sigma)
    mu, logvar = model.encode(x)
    mu_s = mu.repeat(n_samples, *([1] * (mu.ndim - 1)))  # [S*B, D], sample-major
    logvar_s = logvar.repeat(n_samples, *([1] * (logvar.ndim - 1)))
    z = reparameterize(mu_s, logvar_s, generator)
    x_s = x.repeat(n_samples, *([1] * (x.ndim - 1)))
    log_px_z = log_likelihood(x_s, model.decode(z), likelihood, sigma)
    reconstruction = log_px_z.view(n_samples, x.shape[0]).mean(dim=0)
    kl = kl_to_standard_normal(mu, logvar)
    return ELBOTerms(elbo=reconstruction - beta * kl, reconstruction=reconstruction, kl=kl)


def vae_step_loss(
    model: nn.Module,
    x: torch.Tensor,
    likelihood: Likelihood | None = None,
    sigma: float | torch.Tensor | None = None,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """The training loss of a (β-)VAE on a batch, averaged over the batch.

    Returns scalars ``loss = reconstruction + β·kl`` (to backpropagate),
    ``reconstruction`` = −E_q[log p(x|z)] (the expected negative log-likelihood) and
    ``kl``; ``loss`` keeps its graph, the other two are detached. Book: eq-vae-loss,
    eq-beta-vae (chapter 5).
    """
    terms = elbo_terms(model, x, likelihood, sigma, beta=beta, generator=generator)
    return {
        "loss": -terms.elbo.mean(),
        "reconstruction": -terms.reconstruction.mean().detach(),
        "kl": terms.kl.mean().detach(),
    }


def iwae_bound(
    model: nn.Module,
    x: torch.Tensor,
    k: int,
    chunk: int = 64,
    likelihood: Likelihood | None = None,
    sigma: float | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The importance-weighted bound log (1/k) Σ_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x).

    A lower bound on log p(x) that increases with ``k`` and tends to log p(x) as k → ∞
    (k = 1 is a one-sample ELBO). Computed with logsumexp for stability, decoding
    ``chunk`` samples per example at a time (memory ∝ B·chunk). ``x``: ``[B, ...]`` ->
    ``[B]`` nats. Wrap in ``torch.no_grad()`` for evaluation. Book: eq-iwae-bound
    (chapter 5).
    """
    check_positive_int(k, "k")
    check_positive_int(chunk, "chunk")
    likelihood, sigma = _resolve_likelihood(model, likelihood, sigma)
    mu, logvar = model.encode(x)
    batch = x.shape[0]
    log_weights = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        mu_s = mu.repeat(m, 1)  # [m*B, D], sample-major
        logvar_s = logvar.repeat(m, 1)
        z = reparameterize(mu_s, logvar_s, generator)
        x_s = x.repeat(m, *([1] * (x.ndim - 1)))
        log_p = log_likelihood(x_s, model.decode(z), likelihood, sigma) + log_standard_normal(z)
        log_q = log_diagonal_normal(z, mu_s, logvar_s)
        log_weights.append((log_p - log_q).view(m, batch))
    return torch.logsumexp(torch.cat(log_weights, dim=0), dim=0) - math.log(k)


# --------------------------------------------------------------------------- models


class VAE(nn.Module):
    """Shared interface of the VAEs.

    ``encode(x [B, C, H, W]) -> (mu, logvar)``, each ``[B, latent_dim]``;
    ``decode(z) -> [B, C, H, W]``: Bernoulli logits, or for ``likelihood="gaussian"`` the
    mean in [0, 1] (a sigmoid of the network's output); ``sample(n)`` decodes z ~ N(0, I).
    """

    latent_dim: int
    image_shape: tuple[int, int, int]
    likelihood: Likelihood
    sigma: float | None
    encoder: nn.Module  # outputs [B, 2 * latent_dim]: mu then logvar
    decoder: nn.Module

    def _set_likelihood(self, likelihood: str, sigma: float | None) -> None:
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        if sigma is not None:
            _check_sigma(sigma)
        self.likelihood = likelihood  # type: ignore[assignment]
        self.sigma = sigma

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), each ``[B, latent_dim]``, for ``x`` ``[B, *image_shape]``."""
        check_batch(x, self.image_shape, model=self)
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Parameters of p(x|z) for codes ``z`` ``[B, latent_dim]``: logits (Bernoulli) or
        the mean (Gaussian), shape ``[B, *image_shape]``."""
        check_latent(z, self.latent_dim, model=self)
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "gaussian" else out

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[x|z] in [0, 1], ``[B, *image_shape]``."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling: z ~ N(0, I), then the decoder's mean image; ``[n, *image_shape]``."""
        check_positive_int(n, "n")
        ref = next(self.parameters())
        z = standard_normal_like(ref.new_empty(n, self.latent_dim), generator)
        return self.decode_mean(z)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(decoded, mu, logvar)`` for one reparameterized sample z ~ q(z|x)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar


class MLPVAE(VAE):
    """A fully connected VAE. ``image_shape=(1, 8, 8)`` with a small ``hidden`` suits the
    scikit-learn digits."""

    def __init__(
        self,
        latent_dim: int,
        hidden: Sequence[int] = (512, 256),
        image_shape: Sequence[int] = (1, 28, 28),
        likelihood: Likelihood = "bernoulli",
        sigma: float | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.image_shape = check_image_shape(image_shape)
        self._set_likelihood(likelihood, sigma)
        n_pixels = self.image_shape[0] * self.image_shape[1] * self.image_shape[2]
        self.encoder = nn.Sequential(nn.Flatten(), mlp([n_pixels, *hidden, 2 * self.latent_dim]))
        self.decoder = nn.Sequential(
            mlp([self.latent_dim, *reversed(tuple(hidden)), n_pixels]),
            nn.Unflatten(1, self.image_shape),
        )


# ------------------------------------------------------------ training


LossTerms = Callable[[nn.Module, torch.Tensor], Mapping[str, torch.Tensor]]


class AdamSettings(Protocol):
    """What :func:`train_with_adam` reads from its ``settings`` (chapter 6's
    ``FashionVAESettings`` has all three)."""

    @property
    def lr(self) -> float:
        """Adam's learning rate."""

    @property
    def batch_size(self) -> int:
        """Rows per minibatch when the training data are a tensor."""

    @property
    def fused_adam(self) -> bool | None:
        """Adam's ``fused`` flag: one kernel for all parameters (``True``), one update per
        parameter (``False``), or torch's default choice (``None``)."""


def _epoch_batches(x_train: torch.Tensor | Callable[[], Iterable[tuple[torch.Tensor, ...]]],
                   epochs: int, settings: AdamSettings,
                   generator: torch.Generator | None) -> Callable[[], Iterable[tuple[torch.Tensor, ...]]]:
    """Check :func:`train_with_adam`'s arguments; return the function that makes an epoch's
    batches (``x_train`` itself, or shuffled minibatches of its rows)."""
    check_positive_int(epochs, "epochs")
    if callable(x_train):
        return x_train
    if isinstance(x_train, torch.Tensor) and x_train.ndim >= 2:
        def make_batches() -> Iterable[tuple[torch.Tensor, ...]]:
            return train.minibatches(x_train, batch_size=settings.batch_size, generator=generator)
        return make_batches
    what = tuple(x_train.shape) if isinstance(x_train, torch.Tensor) else type(x_train).__name__
    raise ValueError(f"x_train must be a tensor of training rows [N, ...] or a function "
                     f"returning the batches of an epoch, got {what}.")


def train_with_adam(
    model: nn.Module,
    x_train: torch.Tensor | Callable[[], Iterable[torch.Tensor]],
    epochs: int,
    settings: AdamSettings,
    generator: torch.Generator | None = None,
    loss_terms: LossTerms | None = None,
    on_epoch_end: Callable[[int, train.History], Mapping[str, float] | None] | None = None,
) -> train.History:
    """The VAE's training loop: ``epochs`` passes of Adam over minibatches.

    Adam(``settings.lr``, ``fused=settings.fused_adam``) descends on
    ``loss_terms(model, x)["loss"]`` for each minibatch ``x`` ``[B, ...]``. The minibatches
    are ``settings.batch_size`` rows of ``x_train`` ``[N, ...]``, shuffled by
    :func:`genmodels.core.train.minibatches` with ``generator`` (the last batch of a pass
    is smaller); or, when ``x_train`` is a function, the batches it returns for each
    epoch (e.g. :func:`genmodels.core.train.fixed_step_minibatches`: a budget in updates).
    The default ``loss_terms`` is the negative ELBO of :func:`vae_step_loss`, its
    reparameterized samples drawn from ``generator`` too; chapter 6 passes a
    reconstruction loss to train its autoencoders with the same loop. ``on_epoch_end`` is
    :func:`genmodels.core.train.fit`'s. Returns fit's History of every term ``loss_terms``
    returns (for the ELBO: ``loss``, ``reconstruction``, ``kl`` in nats per image).

    Book: eq-vae-loss (chapter 5), chapter 6 ("Training a VAE"), chapter 10.
    """
    make_batches = _epoch_batches(x_train, epochs, settings, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, fused=settings.fused_adam)

    def negative_elbo(m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return vae_step_loss(m, x, generator=generator)

    terms_of = loss_terms if loss_terms is not None else negative_elbo

    def step(x: torch.Tensor) -> Mapping[str, torch.Tensor]:
        terms = terms_of(model, x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        return terms

    return train.fit(step, make_batches, epochs=epochs, progress=False, on_epoch_end=on_epoch_end)
