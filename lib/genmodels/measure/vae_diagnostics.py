"""Evaluating a trained VAE (chapter 6): per-dimension KL, active units, test bounds in
nats per image, and where prior samples land relative to the data's codes.

* :func:`kl_per_dimension` and :func:`unit_activity` / :func:`active_units` diagnose
  posterior collapse: a latent dimension whose posterior equals the prior for every x
  carries no information (its KL is 0 and its posterior mean does not vary with x).
* :func:`elbo_in_batches`, :func:`iwae_in_batches` and :func:`iwae_bounds_by_k` evaluate
  the ELBO and the importance-weighted bound of :mod:`genmodels.vae` on a whole test set
  without building a graph, a bounded number of images at a time.
* :func:`latent_mean_and_covariance`, :func:`nearest_neighbour_distance` and
  :func:`far_from_encodings_share` measure, as in chapter 4, whether codes drawn from
  the prior N(0, I) fall where the encoder put data; :func:`whiten_codes` expresses codes
  in coordinates where the training codes have mean 0 and covariance I, so that the same
  share, measured there, does not depend on the arbitrary scale of an autoencoder's codes;
  :func:`moment_matched_samples` draws codes from the Gaussian with the codes' own mean and
  covariance instead.

Every function works on tensors of any device and returns tensors on that device
(except the scalar summaries, which return Python numbers: they are called once, after
training, never in a training loop).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genmodels import vae
from genmodels.core.validation import check_float, check_positive_int, check_tensor

__all__ = [
    "active_units",
    "elbo_in_batches",
    "encode_in_batches",
    "far_from_encodings_share",
    "iwae_bounds_by_k",
    "iwae_in_batches",
    "kl_per_dimension",
    "latent_mean_and_covariance",
    "moment_matched_kl_to_standard_normal",
    "moment_matched_samples",
    "nearest_neighbour_distance",
    "unit_activity",
    "whiten_codes",
]


def _check_codes(t: torch.Tensor, name: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [N, D], got {type(t).__name__}.")
    if not torch.is_floating_point(t):
        raise TypeError(f"{name} must be floating point, got dtype {t.dtype}.")
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape [N, D] (one row of latent codes per example, N >= 1), "
            f"got {list(t.shape)}."
        )
    check_tensor(t, name, hint="the encoder diverged or the images hold NaN")


# --------------------------------------------------------------------------- collapse


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average KL of each latent dimension, ``[N, D], [N, D] -> [D]`` nats.

    KL_d = (1/N) Σ_n ½ (μ_nd² + σ_nd² − 1 − log σ_nd²). Because the posterior and the
    prior are diagonal Gaussians, the KL of eq-kl-closed-form is the sum of these
    per-dimension terms: ``kl_per_dimension(mu, logvar).sum()`` is the batch mean of
    :func:`genmodels.vae.kl_to_standard_normal`. A dimension with KL_d ≈ 0 has collapsed
    onto the prior. Book: eq-kl-per-dimension (chapter 6), eq-kl-closed-form (chapter 5).
    """
    _check_codes(mu, "mu")
    _check_codes(logvar, "logvar")
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {list(mu.shape)} and {list(logvar.shape)}."
        )
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)


def unit_activity(mu: torch.Tensor) -> torch.Tensor:
    """Activity of each latent unit: A_d = Cov_x(E_q[z_d | x]), ``[N, D] -> [D]``.

    ``mu`` holds the posterior means E_q[z|x_n] of N examples; A_d is their sample
    variance over the examples (divided by N − 1), as in Burda et al. (2016). A unit
    whose posterior mean ignores x has A_d ≈ 0. Needs N >= 2.
    Book: eq-active-units (chapter 6).
    """
    _check_codes(mu, "mu")
    if mu.shape[0] < 2:
        raise ValueError(f"the activity is a variance over examples: mu needs N >= 2 rows, got {mu.shape[0]}.")
    centred = mu - mu.mean(dim=0, keepdim=True)
    return centred.pow(2).sum(dim=0) / (mu.shape[0] - 1)


def _check_threshold(threshold: float) -> None:
    check_float(threshold, "threshold", minimum=0, hint="a variance of posterior means")


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """The number of active latent units, #{d : A_d > threshold} (Burda et al., 2016).

    ``mu``: posterior means ``[N, D]`` of held-out examples. Book: eq-active-units
    (chapter 6).
    """
    _check_threshold(threshold)
    return int((unit_activity(mu) > threshold).sum())


# --------------------------------------------------------------------------- bounds


@torch.no_grad()
def encode_in_batches(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.encode`` on ``x`` ``[N, ...]``, ``batch_size`` rows at a time, without
    gradients; returns ``(mu, logvar)``, each ``[N, D]``, on the model's output device."""
    check_positive_int(batch_size, "batch_size")
    check_tensor(x, "x", hint="images [N, C, H, W] with finite pixels")
    mus, logvars = [], []
    for start in range(0, x.shape[0], batch_size):
        mu, logvar = model.encode(x[start : start + batch_size])
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus), torch.cat(logvars)


@torch.no_grad()
def elbo_in_batches(
    model: nn.Module,
    x: torch.Tensor,
    batch_size: int = 500,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
    **likelihood_kwargs,
) -> vae.ELBOTerms:
    """:func:`genmodels.vae.elbo_terms` (β = 1) over a whole data set, without gradients.

    ``x``: ``[N, ...]``; returns :class:`genmodels.vae.ELBOTerms` of ``[N]`` tensors (nats
    per example); ``.elbo.mean()`` is the test ELBO in nats per image.
    ``likelihood_kwargs`` (``likelihood=``, ``sigma=``) are passed on.
    Book: eq-elbo-jensen (chapter 5).
    """
    check_tensor(x, "x", hint="images [N, C, H, W] with finite pixels")
    check_positive_int(batch_size, "batch_size")
    parts = [
        vae.elbo_terms(
            model, x[start : start + batch_size], n_samples=n_samples, generator=generator,
            **likelihood_kwargs,
        )
        for start in range(0, x.shape[0], batch_size)
    ]
    return vae.ELBOTerms(*(torch.cat(t) for t in zip(*parts, strict=True)))


@torch.no_grad()
def iwae_in_batches(
    model: nn.Module,
    x: torch.Tensor,
    k: int,
    batch_size: int = 100,
    chunk: int = 64,
    generator: torch.Generator | None = None,
    **likelihood_kwargs,
) -> torch.Tensor:
    """:func:`genmodels.vae.iwae_bound` with ``k`` samples over a whole data set.

    ``x``: ``[N, ...]`` -> ``[N]`` nats; decodes at most ``batch_size · chunk`` latent
    codes at once. Its mean is an estimate of the test log-likelihood from below, tighter
    as k grows. Book: eq-iwae-bound (chapter 5).
    """
    check_tensor(x, "x", hint="images [N, C, H, W] with finite pixels")
    check_positive_int(batch_size, "batch_size")
    return torch.cat([
        vae.iwae_bound(
            model, x[start : start + batch_size], k=k, chunk=chunk, generator=generator,
            **likelihood_kwargs,
        )
        for start in range(0, x.shape[0], batch_size)
    ])


def iwae_bounds_by_k(
    model: nn.Module,
    x: torch.Tensor,
    ks: Sequence[int],
    generator: torch.Generator | None = None,
    **likelihood_kwargs,
) -> dict[int, torch.Tensor]:
    """:func:`iwae_in_batches` on ``x`` ``[N, ...]`` for each ``k`` of ``ks``, in that order
    (so the draws from ``generator`` follow ``ks``); returns ``k -> [N]`` nats per image.

    The means grow with k towards log p(x) (chapter 6's table of bounds).
    Book: eq-iwae-bound (chapter 5).
    """
    check_tensor(x, "x", hint="images [N, C, H, W] with finite pixels")
    if not ks:
        raise ValueError("ks must list at least one number of importance samples, e.g. (1, 10, 100).")
    for k in ks:
        check_positive_int(k, "every k of ks")
    return {k: iwae_in_batches(model, x, k=k, generator=generator, **likelihood_kwargs) for k in ks}


# --------------------------------------------------------------------------- the latent space


def latent_mean_and_covariance(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean ``[D]`` and covariance ``[D, D]`` (divided by N − 1) of codes ``z [N, D]``.

    For a latent space that matches the prior N(0, I), the mean is near 0 and the
    covariance near the identity.
    """
    _check_codes(z, "z")
    if z.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 codes, got {z.shape[0]}.")
    mean = z.mean(dim=0)
    centred = z - mean
    return mean, centred.T @ centred / (z.shape[0] - 1)


def moment_matched_kl_to_standard_normal(z: torch.Tensor) -> float:
    """KL(N(m, S) ‖ N(0, I)) in nats for the mean m and covariance S of codes ``z [N, D]``.

    ½ (tr S + mᵀm − D − log det S): one number for how far the codes' first two moments are
    from the prior (0 only for m = 0, S = I). Needs N > D so that S is invertible.
    Book: eq-ae-moment-kl (chapter 4).
    """
    mean, cov = latent_mean_and_covariance(z)
    d = z.shape[1]
    if z.shape[0] <= d:
        raise ValueError(f"need more codes than dimensions for an invertible covariance, got N={z.shape[0]}, D={d}.")
    cov64, mean64 = cov.double(), mean.double()
    logdet = torch.linalg.slogdet(cov64).logabsdet
    return float(0.5 * (torch.trace(cov64) + mean64 @ mean64 - d - logdet))


def whiten_codes(z: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Codes ``z [M, D]`` in the coordinates where ``reference [N, D]`` has mean 0 and covariance I.

    u = L⁻¹ (z − m), where m and S = L Lᵀ (Cholesky) are the mean and covariance of the
    reference codes. Any invertible affine map z ↦ A z + b applied to both inputs leaves
    the result unchanged up to a rotation, so distances between whitened codes — and the
    off-data share measured on them — do not depend on the scale, offset or orientation
    of the codes. N(0, I) in these coordinates is the moment-matched N(m, S) of the
    reference codes. Needs N > D (an invertible covariance).
    """
    _check_codes(z, "z")
    _check_codes(reference, "reference")
    mean, cov = latent_mean_and_covariance(reference)
    if reference.shape[0] <= reference.shape[1] or z.shape[1] != reference.shape[1]:
        raise ValueError(
            f"need reference codes [N, D] with N > D and codes z of the same D, got z "
            f"{list(z.shape)} and reference {list(reference.shape)}."
        )
    lower = torch.linalg.cholesky(cov.double())
    centred = (z.to(reference) - mean).double()
    return torch.linalg.solve_triangular(lower, centred.T, upper=False).T.to(reference.dtype)


def moment_matched_samples(
    z: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` codes drawn from N(m, S), the Gaussian with the sample mean m and covariance S
    (divided by N − 1) of the codes ``z [N, D]``; returns ``[n, D]`` on ``z``'s device.

    z' = m + L ε with ε ~ N(0, I) drawn from ``generator`` (on the CPU generator, then
    moved) and L the Cholesky factor of S (L Lᵀ = S): re-centring and re-scaling the
    prior to the codes (chapter 4, Exercise 4.2). Needs N > D so that S is invertible.
    """
    _check_codes(z, "z")
    check_positive_int(n, "n")
    if z.shape[0] <= z.shape[1]:
        raise ValueError(f"need more codes than dimensions for an invertible covariance, got "
                         f"N={z.shape[0]}, D={z.shape[1]}.")
    mean, cov = z.mean(dim=0), torch.cov(z.T)
    eps = torch.randn(n, z.shape[1], generator=generator, dtype=z.dtype).to(z.device)
    return mean + eps @ torch.linalg.cholesky(cov).T


def nearest_neighbour_distance(
    queries: torch.Tensor, points: torch.Tensor, chunk: int = 256
) -> torch.Tensor:
    """Euclidean distance from each query to its nearest point, ``[M, D], [N, D] -> [M]``.

    Brute force, ``chunk`` queries at a time (memory ∝ chunk · N; 256 queries against
    20 000 points keep a chunk's 20 MB in a CPU's cache). The nearest point of each query
    is the argmin of ‖p‖² − 2 q·p, one matrix product per chunk (as ``torch.cdist``
    computes large inputs), on coordinates centred at the points' mean; the distance to
    it is then computed directly as ‖q − p‖, so it keeps full precision (an exact
    duplicate gives 0, where the expanded form loses ~√(ε‖p‖²) to cancellation).
    """
    _check_codes(queries, "queries")
    _check_codes(points, "points")
    if queries.shape[1] != points.shape[1]:
        raise ValueError(
            f"queries and points must have the same dimension D, got {queries.shape[1]} and "
            f"{points.shape[1]}."
        )
    check_positive_int(chunk, "chunk")
    points = points.to(queries)
    centre = points.mean(dim=0)
    points = points - centre
    points_sq = points.pow(2).sum(dim=1)  # [N]
    nearest = []
    for s in range(0, queries.shape[0], chunk):
        q = queries[s : s + chunk] - centre
        index = torch.addmm(points_sq, q, points.T, alpha=-2).min(dim=1).indices  # ‖q − p‖² − ‖q‖²
        nearest.append((q - points[index]).norm(dim=1))
    return torch.cat(nearest)


def _check_quantile(quantile: float) -> None:
    check_float(quantile, "quantile", minimum=0.0, maximum=1.0, open_below=True, open_above=True)


def _check_far_from_encodings_inputs(samples: torch.Tensor, encodings: torch.Tensor,
                                     reference: torch.Tensor, quantile: float) -> None:
    _check_quantile(quantile)
    for name, t in (("samples", samples), ("encodings", encodings), ("reference", reference)):
        _check_codes(t, name)
        if t.shape[1] != encodings.shape[1]:
            raise ValueError(f"{name} must have D = {encodings.shape[1]} columns (as encodings), "
                             f"got {list(t.shape)}.")


def far_from_encodings_share(
    samples: torch.Tensor,
    encodings: torch.Tensor,
    reference: torch.Tensor,
    quantile: float = 0.99,
) -> float:
    """Share of latent ``samples`` that land where the encoder put no data.

    ``encodings [N, D]``: codes of training images; ``reference [R, D]``: codes of
    *held-out* images; ``samples [M, D]``: codes drawn from the prior. The radius r is the
    ``quantile`` of the held-out codes' nearest-neighbour distances to the training codes,
    so r adapts to the scale of the latent space (an autoencoder's codes have no fixed
    scale). Returns #{m : dist(samples_m, encodings) > r} / M in [0, 1]; for samples
    distributed like the held-out codes it is about 1 − ``quantile``.
    """
    _check_far_from_encodings_inputs(samples, encodings, reference, quantile)
    radius = torch.quantile(nearest_neighbour_distance(reference, encodings), quantile)
    far = nearest_neighbour_distance(samples, encodings) > radius
    return float(far.double().mean())
