"""Generative adversarial networks: the players, the objective, one training step, the loop.

The discriminator D_θ returns a *logit* l (D(x) = σ(l)); every loss is computed from
logits with ``softplus`` so that it stays finite when D(x) is 0 or 1:

    −log σ(l) = softplus(−l),        −log(1 − σ(l)) = softplus(l).

Book: chapter 7 (the objective, the optimal discriminator, the two training steps) and
chapter 10 (remedies: label smoothing, minibatch standard deviation, packing, spectral
normalisation, WGAN-GP).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.core import train
from genmodels.core.validation import check_dtype_of_model, check_positive_int, check_tensor

GanLoss = str  # "non_saturating" | "saturating" | "wgan-gp"
_LOSSES = ("non_saturating", "saturating", "wgan-gp")


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------


def _maybe_sn(layer: nn.Module, spectral_norm: bool) -> nn.Module:
    """Wrap ``layer`` in spectral normalisation (Miyato et al., 2018) when asked."""
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


def _check_latent(z: torch.Tensor, latent_dim: int, model: nn.Module) -> None:
    check_tensor(z, "z", finite=False)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(
            f"expected latent codes z of shape [B, {latent_dim}], got {tuple(z.shape)}; "
            "draw them with sample_latent(n, latent_dim)."
        )
    check_dtype_of_model(z, model, "z")


def _check_discriminator_input(x: torch.Tensor, model: nn.Module) -> None:
    check_tensor(x, "x", finite=False)
    check_dtype_of_model(x, model, "x")


def _check_out_shape(out_shape: Sequence[int] | None, out_dim: int) -> None:
    if out_shape is not None and math.prod(out_shape) != out_dim:
        raise ValueError(
            f"out_shape {tuple(out_shape)} has {math.prod(out_shape)} values but "
            f"out_dim is {out_dim}; make them agree."
        )


class MLPGenerator(nn.Module):
    """G_φ: z ∈ R^latent_dim ↦ x̃ ∈ R^out_dim, a multilayer perceptron.

    Args:
        latent_dim: dimension of z ~ N(0, I).
        out_dim: number of output values (2 for the toy mixtures, 784 for 28×28 images).
        hidden: widths of the hidden ReLU layers.
        out_shape: reshape the output to ``[B, *out_shape]`` (e.g. ``(1, 28, 28)``);
            its product must equal ``out_dim``.
        final: optional output activation, e.g. ``nn.Sigmoid()`` for images in [0, 1];
            ``None`` leaves the output unbounded (right for the 2-D mixtures).

    Shapes: ``z [B, latent_dim] -> x̃ [B, out_dim]`` (or ``[B, *out_shape]``).
    """

    def __init__(
        self,
        latent_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (128, 128),
        *,
        out_shape: Sequence[int] | None = None,
        final: nn.Module | None = None,
    ) -> None:
        super().__init__()
        _check_out_shape(out_shape, out_dim)
        self.latent_dim = latent_dim
        self.out_dim = out_dim
        self.out_shape = tuple(out_shape) if out_shape is not None else None
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        if final is not None:
            layers.append(final)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_latent(z, self.latent_dim, self)
        x = self.net(z)
        return x.view(z.shape[0], *self.out_shape) if self.out_shape else x


def _check_two_samples(h: torch.Tensor) -> None:
    if h.shape[0] < 2:
        raise ValueError(
            "minibatch_std needs at least 2 samples per batch to compute a standard "
            f"deviation, got a batch of {h.shape[0]}."
        )


class MinibatchStdDev(nn.Module):
    """Append one feature: the batch standard deviation, averaged over features.

    A discriminator that sees this statistic can tell a collapsed batch (all samples
    alike, std ≈ 0) from a real one (Karras et al., 2018; a simple form of the
    minibatch discrimination of Salimans et al., 2016). Shapes: ``[B, F] -> [B, F + 1]``.

    Book: eq-minibatch-std (chapter 10).
    """

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        _check_two_samples(h)
        std = h.std(dim=0, unbiased=False).mean()
        return torch.cat([h, std.expand(h.shape[0], 1)], dim=1)


class MLPDiscriminator(nn.Module):
    """D_θ: x ∈ R^in_dim ↦ a logit l, with D(x) = σ(l). LeakyReLU(0.2) hidden layers.

    Args:
        in_dim: number of input values per sample (inputs ``[B, ...]`` are flattened).
        hidden: widths of the hidden layers.
        minibatch_std: append the minibatch standard deviation (:class:`MinibatchStdDev`)
            before the last layer, a remedy for mode collapse.
        pack: PacGAN packing (Lin et al., 2018): ``pack`` samples of the same kind are
            concatenated and judged *jointly*; the batch size must be divisible by it.
        spectral_norm: spectral normalisation of every linear layer (Miyato et al., 2018).

    Shapes: ``x [B, in_dim] (or [B, *shape]) -> logits [B // pack]``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (128, 128),
        minibatch_std: bool = False,
        pack: int = 1,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int(pack, "pack", hint="1 = no packing")
        if len(hidden) == 0:
            raise ValueError("hidden must list at least one layer width, e.g. (128, 128).")
        self.in_dim = in_dim
        self.pack = pack
        self.minibatch_std = minibatch_std
        layers: list[nn.Module] = []
        width = in_dim * pack
        for h in hidden:
            layers += [_maybe_sn(nn.Linear(width, h), spectral_norm), nn.LeakyReLU(0.2)]
            width = h
        self.body = nn.Sequential(*layers)
        self.stat = MinibatchStdDev() if minibatch_std else nn.Identity()
        self.head = _maybe_sn(nn.Linear(width + int(minibatch_std), 1), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_discriminator_input(x, self)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.in_dim:
            raise ValueError(
                f"expected inputs with {self.in_dim} values per sample, got shape "
                f"{tuple(x.shape)} after flattening; check the discriminator's in_dim."
            )
        if x.shape[0] % self.pack:
            raise ValueError(
                f"batch size {x.shape[0]} is not divisible by pack={self.pack}; use a "
                "batch size that is a multiple of pack (e.g. drop_last=True)."
            )
        x = x.reshape(x.shape[0] // self.pack, self.pack * self.in_dim)
        return self.head(self.stat(self.body(x))).squeeze(1)


class DCGANGenerator(nn.Module):
    """A DCGAN generator for 28×28 single-channel images (Radford et al., 2016).

    z → Linear → 7×7×(2c) → ConvTranspose (14×14×c) → ConvTranspose (28×28×1) → sigmoid,
    with batch normalisation and ReLU in between. Outputs lie in [0, 1], the range of
    :func:`genmodels.core.data.to_float_images`.

    Shapes: ``z [B, latent_dim] -> x̃ [B, 1, 28, 28]``.
    """

    def __init__(self, latent_dim: int, channels: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        c = channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 2 * c * 7 * 7), nn.BatchNorm1d(2 * c * 7 * 7), nn.ReLU()
        )
        self.deconv = nn.Sequential(
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),  # 14×14
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # 28×28
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_latent(z, self.latent_dim, self)
        return self.deconv(self.project(z))


class DCGANDiscriminator(nn.Module):
    """A DCGAN discriminator for 28×28 single-channel images; returns logits.

    Conv(4, stride 2) → 14×14×c → Conv(4, stride 2) → 7×7×(2c) → Linear → logit, with
    LeakyReLU(0.2); batch normalisation in the second block unless ``spectral_norm``
    (then every layer is spectrally normalised instead, as in SN-GAN).

    Shapes: ``x [B, 1, 28, 28] -> logits [B]``.
    """

    def __init__(self, spectral_norm: bool = False, channels: int = 64) -> None:
        super().__init__()
        c = channels
        sn = spectral_norm
        self.net = nn.Sequential(
            _maybe_sn(nn.Conv2d(1, c, 4, stride=2, padding=1), sn),
            nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), sn),
            nn.Identity() if sn else nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            _maybe_sn(nn.Linear(2 * c * 7 * 7, 1), sn),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_discriminator_input(x, self)
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(
                f"expected images of shape [B, 1, 28, 28], got {tuple(x.shape)}; convert "
                "uint8 images with genmodels.core.data.to_float_images."
            )
        return self.net(x).squeeze(1)


def mlp_gan_players(
    latent_dim: int, device: torch.device | str | None = None, hidden: Sequence[int] = (256, 512)
) -> tuple[MLPGenerator, MLPDiscriminator]:
    """The MLP GAN of chapters 8 and 11 for 28×28 images in [0, 1].

    G: ``latent_dim`` → ``hidden`` → 784 (ReLU, sigmoid output, ``[B, 1, 28, 28]``);
    D: 784 → reversed ``hidden`` → 1 logit (LeakyReLU(0.2)). G's weights are drawn first,
    then D's, from torch's global generator (seed it with ``torch.manual_seed`` first).
    Shapes: ``G(z [B, latent_dim]) -> [B, 1, 28, 28]``, ``D(x [B, 1, 28, 28]) -> [B]``.
    """
    G = MLPGenerator(latent_dim, 784, hidden=tuple(hidden), out_shape=(1, 28, 28),
                     final=nn.Sigmoid()).to(device)
    D = MLPDiscriminator(784, hidden=tuple(reversed(tuple(hidden)))).to(device)
    return G, D


def dcgan_players(
    latent_dim: int, device: torch.device | str | None = None, channels: int = 64
) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """The DCGAN of chapter 8: :class:`DCGANGenerator` and :class:`DCGANDiscriminator` with
    ``channels`` feature maps (c, then 2c), G's weights drawn first, then D's, from torch's
    global generator. Shapes as :func:`mlp_gan_players`. Book: eq-conv-transpose-size
    (chapter 8).
    """
    G = DCGANGenerator(latent_dim, channels=channels).to(device)
    D = DCGANDiscriminator(channels=channels).to(device)
    return G, D


def sample_latent(
    n: int,
    latent_dim: int,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw z ~ N(0, I) of shape ``[n, latent_dim]`` on ``device``.

    With a ``generator`` the draw happens on the generator's device (so a CPU generator
    gives the same numbers everywhere) and is then moved to ``device``.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    source = generator.device if generator is not None else device
    return torch.randn(n, latent_dim, generator=generator, device=source).to(device)


# ---------------------------------------------------------------------------
# The objective (chapter 7)
# ---------------------------------------------------------------------------


def _check_probabilities(name: str, p: torch.Tensor) -> None:
    if not torch.is_floating_point(p):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {p.dtype}.")
    if torch.any(p < 0) or torch.any(p > 1) or torch.any(torch.isnan(p)):
        raise ValueError(f"{name} must hold probabilities in [0, 1].")


def _expectation_weights(
    d_real: torch.Tensor,
    d_fake: torch.Tensor,
    weights_real: torch.Tensor | None,
    weights_fake: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the arguments of :func:`value_function`; return the weights of its two
    expectations, by default 1/n for each of the n points (a sample mean)."""
    _check_probabilities("d_real", d_real)
    _check_probabilities("d_fake", d_fake)
    if weights_real is None:
        weights_real = torch.full_like(d_real, 1.0 / d_real.numel())
    if weights_fake is None:
        weights_fake = torch.full_like(d_fake, 1.0 / d_fake.numel())
    if weights_real.shape != d_real.shape or weights_fake.shape != d_fake.shape:
        raise ValueError(
            "weights must have the shapes of the probabilities they weight: got "
            f"{tuple(weights_real.shape)} for d_real {tuple(d_real.shape)} and "
            f"{tuple(weights_fake.shape)} for d_fake {tuple(d_fake.shape)}."
        )
    return weights_real, weights_fake


def value_function(
    d_real: torch.Tensor,
    d_fake: torch.Tensor,
    weights_real: torch.Tensor | None = None,
    weights_fake: torch.Tensor | None = None,
) -> torch.Tensor:
    """The GAN value V(D, G) = E_{x~p_data}[log D(x)] + E_{x~p_g}[log(1 − D(x))].

    ``d_real`` are discriminator *probabilities* D(x) on real data, ``d_fake`` on
    generated data (any shapes). Without weights the expectations are sample means
    (the minibatch estimate of the slides); with ``weights_real``/``weights_fake`` (the
    probabilities p_data(x) and p_g(x) of each point of a discrete space, same shapes
    as ``d_real``/``d_fake``) they are exact sums. Terms with zero weight are dropped,
    so D(x) = 0 where p_data(x) = 0 is allowed. Returns a scalar (nats).

    Book: eq-gan-value (chapter 7).
    """
    weights_real, weights_fake = _expectation_weights(d_real, d_fake, weights_real, weights_fake)
    return (torch.xlogy(weights_real, d_real).sum()
            + torch.xlogy(weights_fake, 1 - d_fake).sum())


def _check_densities(p_data: torch.Tensor, p_g: torch.Tensor) -> None:
    if p_data.shape != p_g.shape:
        raise ValueError(
            f"p_data {tuple(p_data.shape)} and p_g {tuple(p_g.shape)} must have the same "
            "shape (both evaluated at the same points)."
        )
    if torch.any(p_data < 0) or torch.any(p_g < 0):
        raise ValueError("densities must be non-negative.")


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the best response to a fixed G.

    ``p_data`` and ``p_g`` are densities (or probabilities) evaluated at the same points,
    same shape. Where both are 0 the point lies outside both supports and every value of
    D is optimal; we return 1/2 there.

    Book: eq-optimal-discriminator (chapter 7).
    """
    _check_densities(p_data, p_g)
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), 0.5)


def _check_distributions(p: torch.Tensor, q: torch.Tensor) -> None:
    if p.shape != q.shape:
        raise ValueError(f"p {tuple(p.shape)} and q {tuple(q.shape)} must have the same shape.")
    for name, d in (("p", p), ("q", q)):
        if torch.any(d < 0) or not torch.allclose(
            d.sum(-1), torch.ones((), dtype=d.dtype, device=d.device), atol=1e-5
        ):
            raise ValueError(
                f"{name} must be a probability vector along its last dimension "
                "(non-negative, summing to 1); normalise it first."
            )


def jensen_shannon(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, in nats (natural log).

    ``p`` and ``q`` are discrete distributions along the last dimension (shape
    ``[..., K]``, each summing to 1); returns shape ``[...]``. 0 ≤ JSD ≤ log 2.
    At the optimal discriminator V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g).

    Book: eq-gan-jsd (chapter 7).
    """
    _check_distributions(p, q)
    m = 0.5 * (p + q)
    kl_pm = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum(-1)
    kl_qm = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum(-1)
    return 0.5 * (kl_pm + kl_qm)


# ---------------------------------------------------------------------------
# Losses from logits (chapter 7) and the Wasserstein critic (chapter 10)
# ---------------------------------------------------------------------------


def check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    """Raise unless ``logits`` is a float tensor ``[B]``, B ≥ 1: one discriminator logit
    per sample (``TypeError`` for a wrong type or dtype, ``ValueError`` for a wrong shape)."""
    if not isinstance(logits, torch.Tensor) or not torch.is_floating_point(logits):
        kind = f"dtype {logits.dtype}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"{name} must be a float tensor of logits [B], got {kind}.")
    if logits.ndim != 1 or logits.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape [B] with B >= 1 (one logit per sample), got "
            f"{tuple(logits.shape)}; the discriminators of genmodels.gan already return [B]."
        )


def _check_discriminator_loss_inputs(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float
) -> None:
    check_logits(real_logits, "real_logits")
    check_logits(fake_logits, "fake_logits")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(
            f"label_smoothing must lie in [0, 0.5) (real target 1 − s), got {label_smoothing}."
        )


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Step 1: binary cross-entropy with real → 1 and fake → 0, from logits.

    L_D = mean_i softplus(−l_real,i)·(1 − s) + softplus(l_real,i)·s
        + mean_j softplus(l_fake,j),

    i.e. minus the minibatch value (gradient *ascent* on V is descent on L_D). With
    one-sided label smoothing ``s`` the real target is 1 − s (Salimans et al., 2016,
    use s = 0.1); fake targets stay 0. Shapes: ``[B_real]``, ``[B_fake]`` → scalar.

    Book: eq-d-step (chapter 7).
    """
    _check_discriminator_loss_inputs(real_logits, fake_logits, label_smoothing)
    s = label_smoothing
    real_term = (1 - s) * F.softplus(-real_logits) + s * F.softplus(real_logits)
    return real_term.mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Step 2 as in the minimax game: minimise mean log(1 − D(G(z))) = −mean softplus(l).

    Its derivative with respect to the logit is −σ(l) = −D(G(z)): it vanishes when the
    discriminator confidently rejects the fakes (D → 0), early in training.
    Shape: ``[B] -> scalar``.

    Book: eq-g-step-saturating (chapter 7).
    """
    check_logits(fake_logits, "fake_logits")
    return -F.softplus(fake_logits).mean()


def generator_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Step 2 with flipped labels: minimise −mean log D(G(z)) = mean softplus(−l).

    Same fixed point as the saturating loss, but the derivative with respect to the logit
    is −(1 − σ(l)) → −1 as D(G(z)) → 0: strong gradients exactly when G is worst.
    Shape: ``[B] -> scalar``.

    Book: eq-g-step-non-saturating (chapter 7).
    """
    check_logits(fake_logits, "fake_logits")
    return F.softplus(-fake_logits).mean()


def generator_gradient_norm(
    G: nn.Module,
    D: nn.Module,
    z: torch.Tensor,
    loss: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """‖∇_φ L_G‖₂: the norm of the gradient a generator loss sends to G's parameters φ.

    L_G = ``loss(D(G(z)))`` on the noise batch ``z [B, latent_dim]``, e.g.
    :func:`generator_loss_saturating` or :func:`generator_loss_non_saturating`; the norm
    is taken over all of G's trainable parameters at once (every gradient entry
    concatenated into one vector). Nothing is updated and no ``.grad`` is written (the
    gradient comes from ``torch.autograd.grad``), so it can measure the gradient each loss
    *would* send in the middle of a training run. Returns a 0-d tensor on G's device.

    Book: the gradients of eq-g-step-saturating and eq-g-step-non-saturating (chapter 7);
    the vanishing gradient of a strong discriminator (chapter 9).
    """
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("G has no trainable parameters (requires_grad=True): no gradient to measure.")
    grads = torch.autograd.grad(loss(D(G(z))), params)
    return torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss mean f(x̃) − mean f(x) (minimised), scores unbounded.

    Minimising it maximises the dual estimate of the Wasserstein-1 distance over
    (approximately) 1-Lipschitz critics f. Shapes: ``[B_real]``, ``[B_fake]`` → scalar.

    Book: eq-wgan-gp (chapter 10).
    """
    check_logits(real_scores, "real_scores")
    check_logits(fake_scores, "fake_scores")
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss −mean f(G(z)) (minimised). Shape: ``[B] -> scalar``.

    Book: eq-wgan-gp (chapter 10).
    """
    check_logits(fake_scores, "fake_scores")
    return -fake_scores.mean()


def _check_same_shape(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape != fake.shape:
        raise ValueError(
            f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same "
            "shape to interpolate between them."
        )


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E_x̂[(‖∇_x̂ f(x̂)‖₂ − 1)²] at x̂ = ε x + (1 − ε) x̃, ε ~ U(0, 1) per sample.

    The penalty of WGAN-GP (Gulrajani et al., 2017), to be weighted by λ (10 in the
    paper) and added to :func:`wasserstein_critic_loss`. The graph is kept
    (``create_graph=True``) so the penalty can be back-propagated into the critic.
    For a packing critic the gradient norm is taken per packed group. The penalty is a
    per-sample quantity, so the critic should not use batch normalisation (which mixes the
    samples of a batch): use :class:`MLPDiscriminator` or ``DCGANDiscriminator(spectral_norm=True)``.
    Shapes: ``real``, ``fake [B, ...]`` (same shape) → scalar.

    Book: eq-wgan-gp (chapter 10).
    """
    _check_same_shape(real, fake)
    source = generator.device if generator is not None else real.device
    eps = torch.rand(real.shape[0], generator=generator, device=source).to(real)
    eps = eps.view(-1, *([1] * (real.ndim - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    n_groups = scores.shape[0]
    norms = grad.reshape(n_groups, -1).norm(dim=1)
    return ((norms - 1) ** 2).mean()


# ---------------------------------------------------------------------------
# One training step (the tutorial's two steps)
# ---------------------------------------------------------------------------


def _check_step_settings(loss: str, k_critic: int, label_smoothing: float) -> None:
    """Check :func:`make_gan_step`'s choices of loss, critic steps and label smoothing."""
    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}: expected one of {_LOSSES}.")
    check_positive_int(k_critic, "k_critic", hint="discriminator steps per generator step")
    if loss == "wgan-gp" and label_smoothing:
        raise ValueError("label_smoothing has no meaning for the WGAN-GP critic; set it to 0.")


def make_gan_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    latent_dim: int,
    loss: GanLoss = "non_saturating",
    k_critic: int = 1,
    label_smoothing: float = 0.0,
    gp_weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """Build ``step(real) -> dict`` for :func:`genmodels.core.train.fit`.

    Each call performs the tutorial's two steps on one batch of real data ``[B, ...]``:

    1. ``k_critic`` discriminator updates: fresh z, x̃ = G(z) (detached), descend on
       :func:`discriminator_loss` (real → 1 − s, fake → 0) or, for ``"wgan-gp"``, on
       :func:`wasserstein_critic_loss` + ``gp_weight`` · :func:`gradient_penalty`.
       The same real batch is reused for the k updates.
    2. One generator update on a fresh batch of B fakes: fake → 1, i.e.
       :func:`generator_loss_non_saturating` (``"non_saturating"``),
       :func:`generator_loss_saturating` (``"saturating"``) or
       :func:`wasserstein_generator_loss` (``"wgan-gp"``). D's parameters are frozen
       during this step so no gradient is wasted on them.

    Returns detached scalar tensors (no host synchronisation): ``d_loss`` and ``g_loss``;
    ``d_real``, ``d_fake`` = mean D(x) on the real and fake batch of the last
    discriminator update (probabilities; for WGAN-GP the mean critic scores); except for
    WGAN-GP, ``acc_real`` and ``acc_fake``, the discriminator's accuracies on that real and
    that fake batch, from the logits the update computed (so before the update): the share
    of real logits > 0 (D > ½) and of fake logits < 0 (D < ½), at no extra cost.

    Book: eq-d-step, eq-g-step-saturating, eq-g-step-non-saturating (chapter 7),
    eq-discriminator-accuracy (chapter 8), eq-wgan-gp (chapter 10).
    """
    _check_step_settings(loss, k_critic, label_smoothing)
    wgan = loss == "wgan-gp"
    g_loss_fn = {
        "non_saturating": generator_loss_non_saturating,
        "saturating": generator_loss_saturating,
        "wgan-gp": wasserstein_generator_loss,
    }[loss]

    def step(real: torch.Tensor) -> dict[str, torch.Tensor]:
        n = real.shape[0]
        G.train()
        D.train()
        # Step 1: the discriminator (critic), k times.
        for _ in range(k_critic):
            with torch.no_grad():
                fake = G(sample_latent(n, latent_dim, real.device, generator))
            real_out, fake_out = D(real), D(fake)
            if wgan:
                d_loss = wasserstein_critic_loss(real_out, fake_out)
                d_loss = d_loss + gp_weight * gradient_penalty(D, real, fake, generator)
            else:
                d_loss = discriminator_loss(real_out, fake_out, label_smoothing)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        # Step 2: the generator, once.
        D.requires_grad_(False)
        try:
            fake = G(sample_latent(n, latent_dim, real.device, generator))
            g_loss = g_loss_fn(D(fake))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
        finally:
            D.requires_grad_(True)
        real_out, fake_out = real_out.detach(), fake_out.detach()
        if wgan:
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                    "d_real": real_out.mean(), "d_fake": fake_out.mean()}
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_out).mean(),
            "d_fake": torch.sigmoid(fake_out).mean(),
            "acc_real": (real_out > 0).to(real_out.dtype).mean(),
            "acc_fake": (fake_out < 0).to(fake_out.dtype).mean(),
        }

    return step


GanStep = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


def _refusing_a_batch_of_one(step: GanStep, G: nn.Module, D: nn.Module) -> GanStep:
    """``step``, but a batch of one real sample is refused with a message when G or D
    normalises over the batch (batch normalisation cannot train on one sample; torch would
    fail deep inside it, typically at the last, incomplete batch of an epoch)."""
    norms = [name for name, net in (("G", G), ("D", D))
             if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())]
    if not norms:
        return step

    def checked(real: torch.Tensor) -> Mapping[str, torch.Tensor]:
        if real.shape[0] == 1:
            raise ValueError(
                f"a batch of one real sample: {' and '.join(norms)} use batch normalisation, "
                "which needs at least 2 samples per batch. The data set's size leaves a last "
                "batch of one: pass drop_last=True to genmodels.core.train.minibatches, use "
                "fixed_step_minibatches, or choose a batch_size that does not leave 1.")
        return step(real)

    return checked


def train_gan(
    G: nn.Module,
    D: nn.Module,
    make_batches: Callable[[], Iterable[torch.Tensor]],
    latent_dim: int,
    *,
    lr: float,
    betas: tuple[float, float] = (0.5, 0.999),
    fused_adam: bool | None = None,
    loss: GanLoss = "non_saturating",
    k_critic: int = 1,
    label_smoothing: float = 0.0,
    gp_weight: float = 10.0,
    decay_steps: int | None = None,
    epochs: int = 1,
    generator: torch.Generator | None = None,
    wrap_step: Callable[[GanStep], GanStep] | None = None,
    log_every: int = 50,
    progress: bool = False,
    desc: str | None = None,
    on_epoch_end: Callable[[int, train.History], Mapping[str, float] | None] | None = None,
) -> train.History:
    """Train G and D with :func:`make_gan_step`, one step per batch of real data.

    Both players get Adam(``lr``, ``betas``; ``fused_adam``: one kernel for all
    parameters, one update per parameter, or torch's default choice for ``None``); with
    ``decay_steps`` both learning rates decay linearly to 0 over that many steps. Each
    batch ``[B, ...]`` of ``make_batches()`` is one call of the step: ``k_critic`` updates
    of D, then one of G (``loss``, ``label_smoothing``, ``gp_weight``: see
    :func:`make_gan_step`); its codes z are drawn from ``generator``. ``wrap_step`` wraps
    the step before training (e.g. ``SampleRecorder.wrap`` to keep samples over
    training). The loop is :func:`genmodels.core.train.fit` with ``epochs``,
    ``log_every``, ``progress``, ``desc`` and ``on_epoch_end``.

    Returns fit's History of the step's terms (``d_loss``, ``g_loss``, ``d_real``,
    ``d_fake`` and, except for WGAN-GP, ``acc_real``, ``acc_fake``).
    Book: eq-d-step, eq-g-step-non-saturating (chapter 7), eq-wgan-gp (chapter 10).
    """
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas, fused=fused_adam)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas, fused=fused_adam)
    step: GanStep = make_gan_step(G, D, opt_g, opt_d, latent_dim, loss=loss, k_critic=k_critic,
                                  label_smoothing=label_smoothing, gp_weight=gp_weight,
                                  generator=generator)
    if decay_steps is not None:
        check_positive_int(decay_steps, "decay_steps")
        schedules = [torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / decay_steps))
                     for opt in (opt_g, opt_d)]
        gan_step = step

        def decayed(real: torch.Tensor) -> Mapping[str, torch.Tensor]:
            terms = gan_step(real)
            for schedule in schedules:
                schedule.step()
            return terms

        step = decayed
    step = _refusing_a_batch_of_one(step, G, D)
    if wrap_step is not None:
        step = wrap_step(step)
    return train.fit(step, make_batches, epochs=epochs, log_every=log_every, progress=progress,
                     desc=desc, on_epoch_end=on_epoch_end)
