"""Checks for the exercises of chapter 9 (GAN training dynamics and failure modes).

* Exercise 9.1 — :func:`check_gda_trajectory`: simultaneous and alternating gradient
  descent–ascent on the bilinear game V(θ, ψ) = θψ (Book: eq-bilinear-game,
  eq-gda-simultaneous, eq-gda-alternating).
* Exercise 9.2 — :func:`check_mode_coverage`: modes captured and high-quality share of
  2-D samples (reference: :func:`genmodels.measure.sample_quality.mode_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genmodels.exercises._core import Exercise, Mistake
from genmodels.measure.sample_quality import mode_metrics
from genmodels.toy import IsotropicMixture2D, grid_mixture, ring_mixture

# --- Exercise 9.1 ----------------------------------------------------------------------


def _gda(theta: float, psi: float, lr: float, n_steps: int, alternating: bool,
         d_theta: float = -1.0, d_psi: float = 1.0) -> torch.Tensor:
    """Gradient steps on V = θψ; ``d_theta``/``d_psi`` = −1 for descent, +1 for ascent."""
    rows = [(theta, psi)]
    for _ in range(n_steps):
        new_theta = theta + d_theta * lr * psi  # ∂V/∂θ = ψ
        psi = psi + d_psi * lr * (new_theta if alternating else theta)  # ∂V/∂ψ = θ
        theta = new_theta
        rows.append((theta, psi))
    return torch.tensor(rows, dtype=torch.float64)


def _gda_mistakes(alternating: bool) -> list[Mistake]:
    other = "simultaneous" if alternating else "alternating"
    return [
        Mistake(
            "the directions are swapped: the generator θ *minimises* V = θψ, so it steps "
            "against its gradient ∂V/∂θ = ψ, and the discriminator ψ *maximises* V, so it "
            "steps along ∂V/∂ψ = θ.",
            lambda t, p, lr, n, alt: _gda(t, p, lr, n, alt, d_theta=1.0, d_psi=-1.0),
        ),
        Mistake(
            "both players descended. The discriminator ψ maximises V: its step is gradient "
            "*ascent*, ψ ← ψ + η ∂V/∂ψ.",
            lambda t, p, lr, n, alt: _gda(t, p, lr, n, alt, d_theta=-1.0, d_psi=-1.0),
        ),
        Mistake(
            "both players ascended. The generator θ minimises V: its step is gradient "
            "*descent*, θ ← θ − η ∂V/∂θ.",
            lambda t, p, lr, n, alt: _gda(t, p, lr, n, alt, d_theta=1.0, d_psi=1.0),
        ),
        Mistake(
            f"you computed the {other} updates. "
            + ("With alternating=True the discriminator's step uses the generator's *new* "
               "value θ_(t+1)." if alternating else
               "With alternating=False both steps use the *old* values (θ_t, ψ_t): keep a "
               "copy of θ_t before updating it."),
            lambda t, p, lr, n, alt: _gda(t, p, lr, n, not alt),
        ),
    ]


def check_gda_trajectory(gda_trajectory: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 9.1: ``gda_trajectory(theta0, psi0, lr, n_steps, alternating)``.

    Must return the float64 tensor ``[n_steps + 1, 2]`` of (θ_t, ψ_t), starting with
    (θ_0, ψ_0). Book: eq-gda-simultaneous, eq-gda-alternating.
    """
    __tracebackhide__ = True
    cases = [
        ("θ0 = 1, ψ0 = 1, η = 0.1, 50 steps", 1.0, 1.0, 0.1, 50),
        ("θ0 = 0.5, ψ0 = −2, η = 0.3, 20 steps", 0.5, -2.0, 0.3, 20),
        ("θ0 = 1, ψ0 = 0, η = 0.05, 1 step", 1.0, 0.0, 0.05, 1),
        ("θ0 = −1, ψ0 = 0.5, η = 0.2, 0 steps", -1.0, 0.5, 0.2, 0),
    ]
    with Exercise("9.1", "gda_trajectory") as ex:
        for alternating in (False, True):
            for label, theta0, psi0, lr, n in cases:
                case = f"{label}, alternating={alternating}"
                got = ex.call(gda_trajectory, theta0, psi0, lr, n, alternating)
                if isinstance(got, torch.Tensor) and tuple(got.shape) == (n, 2) and n > 0:
                    ex.fail(f"your trajectory has {n} rows for {n} steps: the first row must "
                            "be the starting point (θ_0, ψ_0), so there are n_steps + 1 rows.",
                            case)
                ex.compare(
                    got,
                    _gda(theta0, psi0, lr, n, alternating),
                    case=case,
                    args=(theta0, psi0, lr, n, alternating),
                    mistakes=_gda_mistakes(alternating),
                    sizes={"the n_steps + 1 points": n + 1, "the 2 players": 2},
                    atol=1e-6,
                    rtol=1e-6,
                )


# --- Exercise 9.2 ----------------------------------------------------------------------


def _coverage(x: torch.Tensor, centres: torch.Tensor, radius: float,
              all_samples_count: bool = False, scale: float = 1.0) -> torch.Tensor:
    """(modes captured, high-quality share) as a float64 tensor ``[2]``."""
    dist = torch.cdist(x.double(), centres.double())
    d_min, nearest = dist.min(dim=1)
    good = d_min <= radius
    counted = nearest if all_samples_count else nearest[good]
    modes = torch.unique(counted).numel()
    return torch.tensor([float(modes), scale * good.double().mean().item()], dtype=torch.float64)


def _coverage_mistakes(std: float) -> list[Mistake]:
    return [
        Mistake(
            "you counted a mode as captured when it is the nearest centre of *any* sample; "
            "only high-quality samples (within 3 std of their nearest centre) count.",
            lambda x, c, s: _coverage(x, c, 3 * std, all_samples_count=True),
        ),
        Mistake(
            "the high-quality radius is 3 standard deviations, 3·std; you used 3·std² "
            "(the variance).",
            lambda x, c, s: _coverage(x, c, 3 * std**2),
        ),
        Mistake(
            "the high-quality radius is 3 standard deviations; you used 1.",
            lambda x, c, s: _coverage(x, c, std),
        ),
        Mistake(
            "the share must be a fraction in [0, 1], not a percentage.",
            lambda x, c, s: _coverage(x, c, 3 * std, scale=100.0),
        ),
        Mistake(
            "the distance must be the Euclidean distance ‖x − c‖; you compared the squared "
            "distance with the radius 3·std.",
            lambda x, c, s: _squared_distance_coverage(x, c, 3 * std),
        ),
    ]


def _squared_distance_coverage(x: torch.Tensor, centres: torch.Tensor, radius: float) -> torch.Tensor:
    d2_min, nearest = (torch.cdist(x.double(), centres.double()) ** 2).min(dim=1)
    good = d2_min <= radius
    return torch.tensor([float(torch.unique(nearest[good]).numel()), good.double().mean().item()],
                        dtype=torch.float64)


def _coverage_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, IsotropicMixture2D]]:
    ring, grid = ring_mixture(), grid_mixture()
    exact = ring.sample(500, generator=generator)
    # A collapsed generator: most samples on two modes, a few outliers whose nearest
    # centre is an otherwise empty mode, and a blurry cloud.
    collapsed = torch.cat([
        ring.centres[0] + 0.01 * torch.randn(300, 2, generator=generator),
        ring.centres[3] + 0.02 * torch.randn(100, 2, generator=generator),
        ring.centres[5] * 1.2 + 0.01 * torch.randn(5, 2, generator=generator),
        0.8 * torch.randn(95, 2, generator=generator),
    ])
    blurry = grid.centres[torch.randint(25, (800,), generator=generator)] + 0.12 * torch.randn(
        800, 2, generator=generator)
    return [
        ("exact samples of the ring", exact, ring),
        ("a collapsed generator on the ring", collapsed, ring),
        ("blurry samples (std 0.12) of the grid", blurry, grid),
        ("one sample far away", torch.tensor([[5.0, 5.0]]), ring),
    ]


def check_mode_coverage(mode_coverage: Callable[..., tuple[int, float]]) -> None:
    """Check Exercise 9.2: ``mode_coverage(samples [n,2], centres [K,2], std) -> (int, float)``.

    Reference: :func:`genmodels.measure.sample_quality.mode_metrics` (Book: eq-high-quality,
    eq-mode-captured).
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(9)
    with Exercise("9.2", "mode_coverage") as ex:
        for label, x, mixture in _coverage_cases(generator):
            got = ex.call(mode_coverage, x, mixture.centres, mixture.std)
            ex.require(
                isinstance(got, tuple | list) and len(got) == 2,
                f"return a pair (modes_captured, high_quality_share); got {type(got).__name__}"
                + (f" of length {len(got)}" if isinstance(got, tuple | list) else "") + ".",
                label,
            )
            modes, share = got
            if isinstance(modes, torch.Tensor) and modes.numel() == 1:
                modes = modes.item()
            if isinstance(share, torch.Tensor) and share.numel() == 1:
                share = share.item()
            ex.require(
                isinstance(modes, int) and not isinstance(modes, bool),
                f"modes_captured must be a Python int (use int(...)), got {type(modes).__name__}.",
                label,
            )
            ex.require(isinstance(share, float | int), "high_quality_share must be a Python "
                       f"float, got {type(share).__name__}.", label)
            reference = mode_metrics(x, mixture)
            expected = torch.tensor([float(reference.modes_captured), reference.high_quality_share],
                                    dtype=torch.float64)
            ex.compare(
                torch.tensor([float(modes), float(share)], dtype=torch.float64),
                expected,
                case=label,
                args=(x, mixture.centres, mixture.std),
                mistakes=_coverage_mistakes(mixture.std),
                atol=1e-6,
                rtol=1e-6,
            )
