"""Latent variable models whose marginal likelihood is exact: Gaussian mixtures and
probabilistic PCA.

Both are instances of p(x) = ∫ p(x|z) p(z) dz (Book: eq-marginal-likelihood, chapter 2)
where the integral (a sum for the mixture) has a closed form. That makes them the
reference against which the ELBO and the IWAE bound of :mod:`genmodels.vae` are checked:
:class:`PPCAPosteriorVAE` wraps a PPCA model in the VAE interface with the *exact*
posterior as its encoder.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genmodels.core.constants import LOG_2PI
from genmodels.core.validation import check_float, check_positive_int, check_tensor


def _check_points(x: torch.Tensor, dim: int | None, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be floating point, got dtype {x.dtype}.")
    expected = f"[N, {dim}]" if dim is not None else "[N, D]"
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        raise ValueError(
            f"{name} must have shape {expected} (one point per row), got {list(x.shape)}; "
            "flatten images with x.flatten(1)."
        )
    check_tensor(x, name, hint="drop or impute the rows with missing values")


def _check_mixture(weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor
                   ) -> torch.Tensor:
    """Check the parameters of a :class:`GaussianMixture`; return the Cholesky factors."""
    check_tensor(weights, "weights", ("K",))
    k = weights.shape[0]
    check_tensor(means, "means", (f"K={k}", "D"))
    d = means.shape[1]
    check_tensor(covariances, "covariances", (f"K={k}", f"D={d}", f"D={d}"))
    if bool((weights < 0).any()) or abs(float(weights.sum()) - 1.0) > 1e-4:
        raise ValueError(
            f"weights must be non-negative and sum to 1, got {weights.tolist()}; "
            "normalise with weights / weights.sum()."
        )
    chol, info = torch.linalg.cholesky_ex(covariances)
    if bool((info != 0).any()):
        bad = torch.nonzero(info).flatten().tolist()
        raise ValueError(f"covariances of components {bad} are not positive definite.")
    return chol


# --------------------------------------------------------------------------- mixtures


class GaussianMixture:
    """p(x) = Σ_k π_k N(x; μ_k, Σ_k). Book: eq-gmm (chapter 2).

    Args:
        weights: mixing proportions π, ``[K]``, non-negative, summing to 1.
        means: component means μ_k, ``[K, D]``.
        covariances: component covariances Σ_k, ``[K, D, D]``, symmetric positive definite.
    """

    def __init__(
        self, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor
    ) -> None:
        chol = _check_mixture(weights, means, covariances)
        self.weights, self.means, self.covariances = weights, means, covariances
        self._chol = chol

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def joint_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log π_k + log N(x_n; μ_k, Σ_k) for every point and component: ``[N, D] -> [N, K]``."""
        _check_points(x, self.dim)
        diff = x[:, None, :] - self.means[None]  # [N, K, D]
        chol = self._chol.to(x)
        # Solve L y = diff for each component: y = L^{-1} (x - μ).
        y = torch.linalg.solve_triangular(
            chol[None], diff.unsqueeze(-1), upper=False
        ).squeeze(-1)  # [N, K, D]
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # [K]
        log_normal = -0.5 * (y.pow(2).sum(-1) + log_det + self.dim * LOG_2PI)
        return torch.log(self.weights.to(x)) + log_normal

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log Σ_k π_k N(x; μ_k, Σ_k), computed with logsumexp: ``[N, D] -> [N]``.

        Book: eq-gmm (chapter 2).
        """
        return torch.logsumexp(self.joint_log_probs(x), dim=1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior p(k | x_n) (the E-step of EM): ``[N, D] -> [N, K]``, rows sum to 1."""
        return torch.softmax(self.joint_log_probs(x), dim=1)

    def sample(
        self, n: int, generator: torch.Generator | None = None, return_components: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling: k ~ Categorical(π), then x ~ N(μ_k, Σ_k).

        Returns ``[n, D]`` (and the components ``[n]`` if ``return_components``).
        """
        check_positive_int(n, "n")
        comps = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)
        comps = comps.to(self.means.device)
        eps = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        eps = eps.to(self.means.device)
        x = self.means[comps] + (self._chol[comps] @ eps.unsqueeze(-1)).squeeze(-1)
        return (x, comps) if return_components else x


def _kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """k-means++ seeding: each new centre is a data point drawn ∝ squared distance."""
    n = x.shape[0]
    first = torch.randint(n, (1,), generator=generator)
    centres = [x[first.item()]]
    for _ in range(1, k):
        d2 = torch.cdist(x, torch.stack(centres)).pow(2).min(dim=1).values
        probs = (d2 / d2.sum()).cpu() if d2.sum() > 0 else torch.full((n,), 1.0 / n)
        centres.append(x[torch.multinomial(probs, 1, generator=generator).item()])
    return torch.stack(centres)


def _check_em_step(mixture: GaussianMixture, x: torch.Tensor, reg: float) -> None:
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}.")
    _check_points(x, mixture.dim)
    check_float(reg, "reg", minimum=0, hint="the ridge added to each covariance")


def em_step(mixture: GaussianMixture, x: torch.Tensor, reg: float = 1e-6) -> GaussianMixture:
    """One expectation-maximisation step for a Gaussian mixture on points ``x`` ``[N, D]``.

    E-step: responsibilities r_nk = p(k | x_n). M-step: N_k = Σ_n r_nk, π_k = N_k / N,
    μ_k = Σ_n r_nk x_n / N_k, Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg·I.
    The log-likelihood never decreases (up to ``reg``). Book: eq-gmm (chapter 2).
    """
    _check_em_step(mixture, x, reg)
    r = mixture.responsibilities(x)  # [N, K]
    nk = r.sum(0).clamp_min(torch.finfo(x.dtype).tiny)  # [K]
    means = (r.T @ x) / nk[:, None]
    diff = x[:, None, :] - means[None]  # [N, K, D]
    cov = torch.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None]
    cov = cov + reg * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return GaussianMixture(nk / nk.sum(), means, 0.5 * (cov + cov.transpose(1, 2)))


def fit_gaussian_mixture(
    x: torch.Tensor,
    n_components: int,
    n_iter: int = 100,
    generator: torch.Generator | None = None,
    tol: float = 1e-7,
    reg: float = 1e-6,
) -> GaussianMixture:
    """Fit a Gaussian mixture to ``x`` ``[N, D]`` by EM (see :func:`em_step`).

    Means start at k-means++ seeds drawn with ``generator``, covariances at the data's
    covariance, weights uniform. Stops after ``n_iter`` steps or when the mean
    log-likelihood improves by less than ``tol``. Book: eq-gmm (chapter 2).
    """
    _check_points(x, None)
    check_positive_int(n_components, "n_components")
    check_positive_int(n_iter, "n_iter")
    check_float(tol, "tol", minimum=0, hint="the smallest improvement of the mean log-likelihood")
    check_float(reg, "reg", minimum=0, hint="the ridge added to each covariance")
    n, d = x.shape
    if n < n_components:
        raise ValueError(f"need at least n_components={n_components} points, got {n}.")
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    data_cov = torch.cov(x.T).reshape(d, d) + reg * eye
    mixture = GaussianMixture(
        torch.full((n_components,), 1.0 / n_components, dtype=x.dtype, device=x.device),
        _kmeans_plus_plus(x, n_components, generator),
        data_cov.expand(n_components, d, d).clone(),
    )
    previous = -math.inf
    for _ in range(n_iter):
        mixture = em_step(mixture, x, reg)
        current = float(mixture.log_prob(x).mean())
        if current - previous < tol:
            break
        previous = current
    return mixture


# --------------------------------------------------------------------------- PPCA


class PPCA:
    """Probabilistic PCA: z ~ N(0, I_L), x | z ~ N(W z + μ, σ² I_D).

    Its marginal is Gaussian, p(x) = N(x; μ, C) with C = W Wᵀ + σ² I
    (Book: eq-ppca-marginal, chapter 2), and so is its posterior (eq-ppca-posterior).

    Args:
        W: loadings ``[D, L]``; mu: mean ``[D]``; sigma2: noise variance σ² > 0.
    """

    def __init__(self, W: torch.Tensor, mu: torch.Tensor, sigma2: float) -> None:
        check_tensor(W, "W", ("D", "L"))
        check_tensor(mu, "mu", (f"D={W.shape[0]}",))
        self.W, self.mu = W, mu
        self.sigma2 = check_float(sigma2, "sigma2", minimum=0, open_below=True,
                                  hint="the noise variance")

    @property
    def data_dim(self) -> int:
        return int(self.W.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.W.shape[1])

    def _m_matrix(self) -> torch.Tensor:
        """M = Wᵀ W + σ² I_L, ``[L, L]`` (Tipping & Bishop's notation)."""
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        return self.W.T @ self.W + self.sigma2 * eye

    def marginal_covariance(self) -> torch.Tensor:
        """C = W Wᵀ + σ² I_D, ``[D, D]``. Book: eq-ppca-marginal (chapter 2)."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return self.W @ self.W.T + self.sigma2 * eye

    def marginal_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; μ, W Wᵀ + σ² I): ``[N, D] -> [N]``.

        Uses only L×L matrices: |C| = σ^{2(D−L)} |M| and
        C⁻¹ = (I − W M⁻¹ Wᵀ) / σ² (Woodbury). Book: eq-ppca-marginal (chapter 2).
        """
        _check_points(x, self.data_dim)
        d, s2 = self.data_dim, self.sigma2
        m_chol = torch.linalg.cholesky(self._m_matrix())
        e = x - self.mu
        proj = torch.cholesky_solve((e @ self.W).T, m_chol).T  # M⁻¹ Wᵀ e, [N, L]
        quad = (e.pow(2).sum(1) - (e @ self.W * proj).sum(1)) / s2
        log_det = (d - self.latent_dim) * math.log(s2) + 2 * torch.log(
            torch.diagonal(m_chol)
        ).sum()
        return -0.5 * (d * LOG_2PI + log_det + quad)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact posterior p(z|x) = N(M⁻¹ Wᵀ (x − μ), σ² M⁻¹).

        ``x`` ``[N, D]`` -> (means ``[N, L]``, the shared covariance ``[L, L]``).
        Book: eq-ppca-posterior (chapter 2).
        """
        _check_points(x, self.data_dim)
        m_inv = torch.linalg.inv(self._m_matrix())
        return (x - self.mu) @ self.W @ m_inv, self.sigma2 * m_inv

    def conditional_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] = W z + μ: ``[N, L] -> [N, D]``."""
        _check_points(z, self.latent_dim, "z")
        return z @ self.W.T + self.mu

    def sample(
        self, n: int, generator: torch.Generator | None = None, return_latents: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling: z ~ N(0, I), x = W z + μ + σ ε. Returns ``[n, D]``
        (and ``z`` ``[n, L]`` if ``return_latents``)."""
        check_positive_int(n, "n")
        dt = self.W.dtype
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=dt).to(self.W.device)
        eps = torch.randn(n, self.data_dim, generator=generator, dtype=dt).to(self.W.device)
        x = self.conditional_mean(z) + math.sqrt(self.sigma2) * eps
        return (x, z) if return_latents else x

    def orthogonalized(self) -> PPCA:
        """The same model (same marginal) with W rotated so that Wᵀ W is diagonal.

        p(x) depends on W only through W Wᵀ, so W R for any rotation R is equivalent;
        with R from the SVD of W the exact posterior covariance σ² M⁻¹ is diagonal.
        """
        _, _, vh = torch.linalg.svd(self.W, full_matrices=False)
        return PPCA(self.W @ vh.T, self.mu, self.sigma2)


def _ppca_data_size(x: torch.Tensor, latent_dim: int) -> int:
    """Check the arguments of :func:`fit_ppca` (points ``[N, D]``, N ≥ 2, 1 ≤ L < D); return N."""
    _check_points(x, None)
    check_positive_int(latent_dim, "latent_dim")
    n, d = x.shape
    if latent_dim >= d:
        raise ValueError(f"latent_dim must be smaller than the data dimension {d}, got {latent_dim}.")
    if n < 2:
        raise ValueError(f"need at least 2 points to fit PPCA, got {n}.")
    return n


def _check_residual_variance(sigma2: float) -> None:
    if not sigma2 > 0:
        raise ValueError(
            "the data lie in a subspace of dimension <= latent_dim (zero residual variance); "
            "use a smaller latent_dim or add noise."
        )


def fit_ppca(x: torch.Tensor, latent_dim: int) -> PPCA:
    """Maximum-likelihood PPCA in closed form (Tipping & Bishop, 1999).

    With S the sample covariance (divided by N) and λ_1 ≥ … ≥ λ_D its eigenvalues:
    μ = mean of x, σ² = mean of the D − L smallest eigenvalues,
    W = U_L (Λ_L − σ² I)^{1/2} (columns orthogonal). ``x``: ``[N, D]`` with L < D.
    Book: eq-ppca-marginal (chapter 2).
    """
    n = _ppca_data_size(x, latent_dim)
    mu = x.mean(0)
    e = x - mu
    cov = e.T @ e / n
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = float(evals[latent_dim:].mean())
    _check_residual_variance(sigma2)
    scale = (evals[:latent_dim] - sigma2).clamp_min(0).sqrt()
    return PPCA(evecs[:, :latent_dim] * scale, mu, sigma2)


class PPCAPosteriorVAE(nn.Module):
    """A PPCA model in the VAE interface of :mod:`genmodels.vae`, with the exact posterior.

    ``encode(x [B, D]) -> (mu, logvar)`` of p(z|x) (diagonal because Wᵀ W is made diagonal
    by :meth:`PPCA.orthogonalized`); ``decode(z) -> W z + μ``, the mean of the Gaussian
    likelihood with ``sigma = √σ²``. Its ELBO equals log p(x) exactly; used to check the
    ELBO and the IWAE bound. ``mean_shift`` and ``logvar_shift`` (added to every mean and
    log-variance) make the encoder deliberately wrong, to study the gap
    log p(x) − ELBO = KL(q(z|x) || p(z|x)). Book: eq-elbo-kl-decomposition (chapter 5).
    """

    likelihood = "gaussian"

    def __init__(self, ppca: PPCA, mean_shift: float = 0.0, logvar_shift: float = 0.0) -> None:
        super().__init__()
        self.ppca = ppca.orthogonalized()
        self.latent_dim = self.ppca.latent_dim
        self.image_shape = (self.ppca.data_dim,)
        self.sigma = math.sqrt(self.ppca.sigma2)
        self.mean_shift = check_float(mean_shift, "mean_shift")
        self.logvar_shift = check_float(logvar_shift, "logvar_shift")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of q(z|x), each ``[B, L]``: the exact posterior, shifted."""
        mean, cov = self.ppca.posterior(x)
        logvar = torch.log(torch.diagonal(cov)).expand_as(mean)
        return mean + self.mean_shift, logvar + self.logvar_shift

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean W z + μ of the Gaussian p(x|z), ``[B, L] -> [B, D]``."""
        return self.ppca.conditional_mean(z)
