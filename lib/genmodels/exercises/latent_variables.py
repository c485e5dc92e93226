"""Checks for the exercises of chapter 2 (Latent variable models).

* Exercise 2.1 — :func:`check_gmm_responsibilities`: the posterior p(k | x) of a
  Gaussian mixture (reference: ``lvm.GaussianMixture.responsibilities``; Book: eq-gmm).
* Exercise 2.2 — :func:`check_ppca_posterior`: the exact posterior of probabilistic PCA
  (reference: ``lvm.PPCA.posterior``; Book: eq-ppca-posterior).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genmodels.exercises._core import Exercise, Mistake, with_accelerator_copies
from genmodels.lvm import PPCA, GaussianMixture

# --- Exercise 2.1 ----------------------------------------------------------------------


def _component_log_densities(x, means, covariances):
    return torch.distributions.MultivariateNormal(means, covariances).log_prob(x[:, None, :])


def _responsibility_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "the mixing weights π_k are missing: the posterior is proportional to "
            "π_k N(x; μ_k, Σ_k), not to the component density alone.",
            lambda x, w, m, c: torch.softmax(_component_log_densities(x, m, c), dim=1),
        ),
        Mistake(
            "you normalised over the points (dim 0); each point's responsibilities must sum "
            "to 1 over the K components (dim 1).",
            lambda x, w, m, c: torch.softmax(_component_log_densities(x, m, c) + w.log(), dim=0),
        ),
        Mistake(
            "you returned the unnormalised joint π_k N(x; μ_k, Σ_k); divide by p(x) (Bayes' "
            "rule), so that each row sums to 1.",
            lambda x, w, m, c: (_component_log_densities(x, m, c) + w.log()).exp(),
        ),
        Mistake(
            "you returned log-responsibilities; the exercise asks for probabilities.",
            lambda x, w, m, c: torch.log_softmax(_component_log_densities(x, m, c) + w.log(), 1),
        ),
    ]


def check_gmm_responsibilities(gmm_responsibilities: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 2.1: ``gmm_responsibilities(x [N,D], weights [K], means [K,D],
    covariances [K,D,D]) -> [N, K]``, rows summing to 1, finite far from every component.

    Reference: :meth:`genmodels.lvm.GaussianMixture.responsibilities` (Book: eq-gmm), on
    hidden inputs drawn from a generator seeded here: several sizes, one point, points far
    from every component (where densities underflow), one component, a tie between two
    identical components, float32 (float32 tolerances). Deterministic: no false failures.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(2)
    cases = []
    for label, n, k, d, shift in [
        ("N = 50, K = 3, D = 2", 50, 3, 2, 0.0),
        ("one point, K = 4, D = 5", 1, 4, 5, 0.0),
        ("points far from every component", 6, 3, 2, 40.0),
    ]:
        means = torch.randn(k, d, generator=g, dtype=torch.float64) * 2
        a = torch.randn(k, d, d, generator=g, dtype=torch.float64) * 0.5
        covs = a @ a.transpose(1, 2) + 0.3 * torch.eye(d, dtype=torch.float64)
        weights = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
        weights = weights / weights.sum()
        x = torch.randn(n, d, generator=g, dtype=torch.float64) * 2 + shift
        cases.append((label, x, weights, means, covs))
    # Boundaries: one component (every responsibility is 1); two identical components with
    # equal weights (a tie: 1/2 each); float32.
    x = torch.randn(5, 2, generator=g, dtype=torch.float64)
    cases.append(("one component", x, torch.ones(1, dtype=torch.float64),
                  torch.zeros(1, 2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)[None]))
    cases.append(("two identical components (a tie)", x, torch.full((2,), 0.5, dtype=torch.float64),
                  torch.ones(2, 2, dtype=torch.float64), torch.eye(2, dtype=torch.float64).expand(2, 2, 2)))
    _, x, w, m, c = cases[0]
    cases.append(("N = 50, K = 3, D = 2, float32", x.float(), w.float(), m.float(), c.float()))
    with_accelerator_copies(cases)
    with Exercise("2.1", "gmm_responsibilities") as ex:
        for label, x, w, m, c in cases:
            expected = GaussianMixture(w, m, c).responsibilities(x)
            got = ex.call(gmm_responsibilities, x, w, m, c)
            ex.compare(
                got,
                expected,
                case=label,
                args=(x, w, m, c),
                mistakes=_responsibility_mistakes(),
                sizes={"the K components": w.shape[0]},
                nonfinite_hint="Far from every component all densities underflow to 0 and 0/0 = NaN: "
                "work with log-densities and normalise with a softmax / logsumexp.",
                atol=1e-6 if x.dtype == torch.float64 else None,
                rtol=1e-5 if x.dtype == torch.float64 else None,
                where={"the distance to the nearest mean": torch.cdist(x, m).min(1).values[:, None]},
            )
            sums = got.detach().double().sum(1)
            ex.require(bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4)),
                       "the rows do not sum to 1 although the values match: check the "
                       "normalisation over the K components.", label)


# --- Exercise 2.2 ----------------------------------------------------------------------


def _posterior_mistakes() -> list[Mistake]:
    def m_matrix(W, s2):
        return W.T @ W + s2 * torch.eye(W.shape[1], dtype=W.dtype, device=W.device)

    return [
        Mistake(
            "the mean is not centred: use x − μ, the deviation from the data mean.",
            lambda x, W, mu, s2: (
                x @ W @ torch.linalg.inv(m_matrix(W, s2)),
                s2 * torch.linalg.inv(m_matrix(W, s2)),
            ),
        ),
        Mistake(
            "the σ² I term is missing from M = WᵀW + σ² I: without the prior's pull the "
            "posterior mean is the least-squares projection, too far from 0.",
            lambda x, W, mu, s2: (
                (x - mu) @ W @ torch.linalg.inv(W.T @ W),
                s2 * torch.linalg.inv(m_matrix(W, s2)),
            ),
        ),
        Mistake(
            "the posterior covariance is σ² M⁻¹; you left out the factor σ².",
            lambda x, W, mu, s2: (
                (x - mu) @ W @ torch.linalg.inv(m_matrix(W, s2)),
                torch.linalg.inv(m_matrix(W, s2)),
            ),
        ),
        Mistake(
            "the posterior covariance is σ² M⁻¹, the inverse of M scaled by σ²; you used M "
            "itself (not inverted).",
            lambda x, W, mu, s2: (
                (x - mu) @ W @ torch.linalg.inv(m_matrix(W, s2)),
                s2 * m_matrix(W, s2),
            ),
        ),
    ]


def check_ppca_posterior(ppca_posterior: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Check Exercise 2.2: ``ppca_posterior(x [N,D], W [D,L], mu [D], sigma2) ->
    (mean [N, L], cov [L, L])``, the exact p(z | x) of PPCA.

    Reference: :meth:`genmodels.lvm.PPCA.posterior` (Book: eq-ppca-posterior), on hidden
    inputs drawn from a generator seeded here: several sizes, one point with D = 64, large
    noise, the boundary W = 0 (posterior = prior), float32. Deterministic.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(4)
    cases = []
    for label, n, d, L, s2 in [
        ("N = 20, D = 5, L = 2", 20, 5, 2, 0.3),
        ("one point, D = 64, L = 3", 1, 64, 3, 0.05),
        ("N = 10, D = 3, L = 1, large noise", 10, 3, 1, 4.0),
    ]:
        W = torch.randn(d, L, generator=g, dtype=torch.float64)
        mu = torch.randn(d, generator=g, dtype=torch.float64) * 3
        x = torch.randn(n, d, generator=g, dtype=torch.float64) + mu
        cases.append((label, x, W, mu, s2))
    # Boundaries: W = 0 (x says nothing about z: the posterior is the prior N(0, I)); float32.
    _, x, W, mu, s2 = cases[0]
    cases.append(("W = 0 (the posterior is the prior)", x, torch.zeros_like(W), mu, 0.7))
    cases.append(("N = 20, D = 5, L = 2, float32", x.float(), W.float(), mu.float(), s2))
    with Exercise("2.2", "ppca_posterior") as ex:
        mistakes = _posterior_mistakes()
        for label, x, W, mu, s2 in cases:
            exp_mean, exp_cov = PPCA(W, mu, s2).posterior(x)
            got = ex.call(ppca_posterior, x, W, mu, s2)
            if not (isinstance(got, tuple | list) and len(got) == 2):
                ex.fail("return a pair (mean [N, L], covariance [L, L]).", label)
            for part, expected, index in (("mean", exp_mean, 0), ("covariance", exp_cov, 1)):
                part_mistakes = [
                    Mistake(m.message, lambda *a, m=m, i=index: m.answer(*a)[i]) for m in mistakes
                ]
                ex.compare(
                    got[index],
                    expected,
                    case=f"{label}, posterior {part}",
                    args=(x, W, mu, s2),
                    mistakes=part_mistakes,
                    sizes={"the L latent dimensions": W.shape[1]},
                    atol=1e-6 if x.dtype == torch.float64 else None,
                    rtol=1e-5 if x.dtype == torch.float64 else None,
                )
