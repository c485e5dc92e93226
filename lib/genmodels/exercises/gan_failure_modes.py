"""Checks for the exercises of chapter 9 (GAN training dynamics and failure modes).

* Exercise 9.1 — :func:`check_gda_trajectory`: simultaneous and alternating gradient
  descent–ascent on the bilinear game V(θ, ψ) = θψ (Book: eq-bilinear-game,
  eq-gda-simultaneous, eq-gda-alternating).
* Exercise 9.2 — :func:`check_mode_coverage`: modes captured and high-quality share of
  2-D samples (reference: :func:`genmodels.measure.sample_quality.mode_metrics`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from genmodels.exercises._core import Exercise, Mistake
from genmodels.measure.sample_quality import mode_metrics
from genmodels.toy import IsotropicMixture2D, grid_mixture, ring_mixture

# --- Exercise 9.1 ----------------------------------------------------------------------


def _gda(theta: float, psi: float, lr: float, n_steps: int, alternating: bool,
         d_theta: float = -1.0, d_psi: float = 1.0, psi_first: bool = False) -> torch.Tensor:
    """Gradient steps on V = θψ; ``d_theta``/``d_psi`` = −1 for descent, +1 for ascent.

    ``psi_first`` (a mistake): with alternating updates, ψ moves first and θ uses the new ψ.
    """
    rows = [(theta, psi)]
    for _ in range(n_steps):
        if psi_first and alternating:
            psi = psi + d_psi * lr * theta
            theta = theta + d_theta * lr * psi
        else:
            new_theta = theta + d_theta * lr * psi  # ∂V/∂θ = ψ
            psi = psi + d_psi * lr * (new_theta if alternating else theta)  # ∂V/∂ψ = θ
            theta = new_theta
        rows.append((theta, psi))
    return torch.tensor(rows, dtype=torch.float64)


def _gda_mistakes(alternating: bool) -> list[Mistake]:
    other = "simultaneous" if alternating else "alternating"
    mistakes = [
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
        Mistake(
            "the columns are swapped: row t is (θ_t, ψ_t), the generator first.",
            lambda t, p, lr, n, alt: _gda(t, p, lr, n, alt).flip(1),
        ),
    ]
    if alternating:
        mistakes.append(Mistake(
            "the loop order is reversed: you moved the discriminator ψ first and then the "
            "generator θ with the new ψ. Alternating updates move θ first, then ψ with θ_(t+1).",
            lambda t, p, lr, n, alt: _gda(t, p, lr, n, alt, psi_first=True),
        ))
    return mistakes


def _gda_cases(generator: torch.Generator) -> list[tuple[str, float, float, float, int]]:
    """Hidden cases: random starts, step sizes and lengths, and the boundaries (0 and 1
    step, a zero step size, the equilibrium, a step size beyond 2 where alternating
    updates diverge)."""
    cases = []
    for _ in range(4):
        theta0, psi0 = (4 * torch.rand(2, generator=generator, dtype=torch.float64) - 2).tolist()
        lr = float(0.05 + 0.55 * torch.rand((), generator=generator, dtype=torch.float64))
        n = int(torch.randint(5, 60, (), generator=generator))
        cases.append((f"θ0 = {theta0:.3g}, ψ0 = {psi0:.3g}, η = {lr:.3g}, {n} steps",
                      theta0, psi0, lr, n))
    return cases + [
        ("θ0 = 1, ψ0 = 0, η = 0.05, 1 step", 1.0, 0.0, 0.05, 1),
        ("θ0 = −1, ψ0 = 0.5, η = 0.2, 0 steps", -1.0, 0.5, 0.2, 0),
        ("θ0 = 0.3, ψ0 = −0.7, η = 0, 5 steps", 0.3, -0.7, 0.0, 5),
        ("the equilibrium θ0 = ψ0 = 0, η = 0.3, 4 steps", 0.0, 0.0, 0.3, 4),
        ("θ0 = 1, ψ0 = 1, η = 2.5, 6 steps", 1.0, 1.0, 2.5, 6),
    ]


def _gda_rows_message(got: torch.Tensor, expected: torch.Tensor, n: int) -> str | None:
    """Name an off-by-one in the number of rows only when it is one."""
    got = got.detach().to(torch.float64)

    def same(a: torch.Tensor, b: torch.Tensor) -> bool:
        return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6))

    if got.shape[0] == n and n > 0:
        if same(got, expected[1:]):
            return (f"off by one: your trajectory has {n} rows for {n} steps and leaves out the "
                    "starting point. The first row is (θ_0, ψ_0), so there are n_steps + 1 rows.")
        if same(got, expected[:-1]):
            return (f"off by one: your trajectory has {n} rows for {n} steps and stops one step "
                    "early. Take n_steps steps after the starting row: n_steps + 1 rows.")
    if got.shape[0] == n + 2:
        if same(got[: n + 1], expected):
            return ("off by one: your trajectory takes one step too many (n_steps + 2 rows). "
                    "Take exactly n_steps steps after the starting row.")
        if same(got[1:], expected):
            return "off by one: your trajectory repeats the starting point in its first two rows."
    return None


def check_gda_trajectory(gda_trajectory: Callable[..., torch.Tensor]) -> None:
    """Check Exercise 9.1: ``gda_trajectory(theta0, psi0, lr, n_steps, alternating)``.

    Must return the float64 tensor ``[n_steps + 1, 2]`` of (θ_t, ψ_t), starting with
    (θ_0, ψ_0), on hidden cases drawn from a generator seeded here (random starts, step
    sizes and lengths) and the boundary cases of :func:`_gda_cases`. Deterministic: no
    statistical test. Tolerance rtol 1e-5, atol 1e-6 (a float64 answer computed in
    float32 along the way still passes). Book: eq-gda-simultaneous, eq-gda-alternating.
    """
    __tracebackhide__ = True
    cases = _gda_cases(torch.Generator().manual_seed(91))
    with Exercise("9.1", "gda_trajectory") as ex:
        for alternating in (False, True):
            for label, theta0, psi0, lr, n in cases:
                case = f"{label}, alternating={alternating}"
                got = ex.call(gda_trajectory, theta0, psi0, lr, n, alternating)
                expected = _gda(theta0, psi0, lr, n, alternating)
                if (isinstance(got, torch.Tensor) and got.ndim == 2 and got.shape[1] == 2
                        and got.shape[0] != n + 1):
                    message = _gda_rows_message(got, expected, n)
                    if message is not None:
                        ex.fail(message, case)
                ex.compare(
                    got,
                    expected,
                    case=case,
                    args=(theta0, psi0, lr, n, alternating),
                    mistakes=_gda_mistakes(alternating),
                    sizes={"the n_steps + 1 points": n + 1},
                    where={"the step t": torch.arange(n + 1, dtype=torch.float64)[:, None]},
                    atol=1e-6,
                    rtol=1e-5,
                )


# --- Exercise 9.2 ----------------------------------------------------------------------


def _coverage(x: torch.Tensor, centres: torch.Tensor, radius: float,
              all_samples_count: bool = False, scale: float = 1.0, strict: bool = False,
              min_count: int = 1, ties: str = "first", squared: bool = False) -> torch.Tensor:
    """(modes captured, high-quality share) as a float64 tensor ``[2]``; the keyword
    arguments switch on one mistake each (``ties``: "first", "last" or "all")."""
    dist = torch.cdist(x.double(), centres.double())
    if squared:
        dist = dist**2
    d_min, nearest = dist.min(dim=1)
    good = d_min < radius if strict else d_min <= radius
    chosen = torch.zeros_like(dist, dtype=torch.bool)
    if ties == "first":
        chosen[torch.arange(len(x)), nearest] = True
    else:
        tied = dist == d_min[:, None]
        if ties == "last":
            last = dist.shape[1] - 1 - tied.flip(1).int().argmax(dim=1)
            chosen[torch.arange(len(x)), last] = True
        else:
            chosen = tied
    counted = chosen if all_samples_count else chosen & good[:, None]
    modes = int((counted.sum(dim=0) >= min_count).sum())
    return torch.tensor([float(modes), scale * good.double().mean().item()], dtype=torch.float64)


def _coverage_mistakes(std: float) -> list[Mistake]:
    radius = 3 * std
    return [
        Mistake(
            "you counted a mode as captured when it is the nearest centre of *any* sample; "
            "only high-quality samples (within 3 std of their nearest centre) count.",
            lambda x, c, s: _coverage(x, c, radius, all_samples_count=True),
        ),
        Mistake(
            "a sample exactly 3 standard deviations from its nearest centre is of high quality: "
            "the test is distance ≤ 3·std, not <.",
            lambda x, c, s: _coverage(x, c, radius, strict=True),
        ),
        Mistake(
            "a sample equidistant from two centres belongs to the first of them only (the lower "
            "index, as torch.argmin decides); your count gave it to the other one, or to both.",
            lambda x, c, s: _coverage(x, c, radius, ties="last"),
        ),
        Mistake(
            "a sample equidistant from two centres belongs to the first of them only (the lower "
            "index, as torch.argmin decides); your count gave it to the other one, or to both.",
            lambda x, c, s: _coverage(x, c, radius, ties="all"),
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
            lambda x, c, s: _coverage(x, c, radius, scale=100.0),
        ),
        Mistake(
            "the distance must be the Euclidean distance ‖x − c‖; you compared the squared "
            "distance with the radius 3·std.",
            lambda x, c, s: _coverage(x, c, radius, squared=True),
        ),
    ]


def _too_few_message(got_modes: float, x: torch.Tensor, centres: torch.Tensor,
                     radius: float) -> str | None:
    """Name a threshold above one sample per mode, only when the count is one."""
    dist = torch.cdist(x.double(), centres.double())
    d_min, nearest = dist.min(dim=1)
    counts = torch.bincount(nearest[d_min <= radius], minlength=len(centres))
    single = [int(k) for k in (counts == 1).nonzero()[:, 0]]
    for m in range(2, 101):
        if int((counts >= m).sum()) == got_modes and got_modes < int((counts >= 1).sum()):
            return ("a single high-quality sample captures a mode; your count leaves out modes "
                    "with only a few of them" + (f" (here mode {single[0]} has exactly one)"
                                                 if single else "") + ".")
    return None


def _boundary_case() -> tuple[torch.Tensor, torch.Tensor, float]:
    """Samples on the boundaries of the definitions, in exact binary arithmetic (std 0.25,
    radius 0.75): a mode whose only high-quality sample lies exactly 3 std away, a mode
    with exactly one high-quality sample, a sample equidistant from two centres (both
    within the radius; it belongs to the first), a sample far from every centre."""
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [4.0, 0.0], [5.0, 0.0]])
    samples = torch.tensor([
        [0.125, 0.0], [0.0, 0.125], [-0.25, 0.0], [0.0, -0.5], [0.5, 0.5],  # mode 0: five
        [2.75, 0.0],        # mode 1: one sample exactly 3 std away (counts: ≤)
        [2.5, 2.0],         # mode 3: exactly one high-quality sample
        [4.0, 0.25],        # mode 4: one sample
        [4.5, 0.0],         # equidistant from modes 4 and 5: belongs to mode 4
        [-6.0, -8.0],       # far from every centre (nearest: mode 0)
    ])
    return samples, centres, 0.25


def _clear_of_boundaries(centres: torch.Tensor, radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Drop random samples within 0.1 % of the radius from it, or as close to a tie between
    two centres: there, float32 rounding (of a distance computed as ‖x‖² − 2x·c + ‖c‖², say)
    could decide either way. The boundaries are tested in exact arithmetic instead."""
    def clear(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x.double(), centres.double()).sort(dim=1).values
        keep = ((d[:, 0] - radius).abs() > 1e-3 * radius) & (d[:, 1] - d[:, 0] > 1e-3 * radius)
        return x[keep]
    return clear


def _coverage_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor, float]]:
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
    # One sample per mode near the edge of its disc, on 6 of the 8 modes of the ring.
    angle = 2 * math.pi * torch.rand(6, generator=generator)
    edge = ring.centres[:6] + 0.029 * torch.stack([angle.cos(), angle.sin()], 1)
    boundary = _boundary_case()
    ring_clear = _clear_of_boundaries(ring.centres, 3 * ring.std)
    grid_clear = _clear_of_boundaries(grid.centres, 3 * grid.std)
    return [
        ("exact samples of the ring", ring_clear(exact), ring.centres, ring.std),
        ("a collapsed generator on the ring", ring_clear(collapsed), ring.centres, ring.std),
        ("blurry samples (std 0.12) of the grid", grid_clear(blurry), grid.centres, grid.std),
        ("one sample near the edge of each of 6 modes", ring_clear(edge), ring.centres, ring.std),
        ("samples on the boundaries (a sample exactly 3 std away, a mode with one sample, a "
         "tie between two centres)", *boundary),
        ("the boundary samples in float64", boundary[0].double(), boundary[1].double(), boundary[2]),
        ("one sample far away", torch.tensor([[5.0, 5.0]]), ring.centres, ring.std),
        ("no high-quality sample at all", 3 + torch.rand(20, 2, generator=generator),
         ring.centres, ring.std),
    ]


def _as_number(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, numbers.Number) and hasattr(value, "item"):  # NumPy scalars
        return value.item()
    return value


def check_mode_coverage(mode_coverage: Callable[..., tuple[int, float]]) -> None:
    """Check Exercise 9.2: ``mode_coverage(samples [n,2], centres [K,2], std) -> (int, float)``.

    Reference: :func:`genmodels.measure.sample_quality.mode_metrics` (Book: eq-high-quality,
    eq-mode-captured), on hidden samples drawn from a generator seeded here and on
    boundary cases in exact arithmetic: a sample exactly 3 std from its centre (high
    quality: ≤), a mode with a single high-quality sample (captured), a sample equidistant
    from two centres (it belongs to the first, as with torch.argmin), no high-quality
    sample at all. Deterministic: no statistical test.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(9)
    with Exercise("9.2", "mode_coverage") as ex:
        for label, x, centres, std in _coverage_cases(generator):
            got = ex.call(mode_coverage, x, centres, std)
            ex.require(
                isinstance(got, tuple | list) and len(got) == 2,
                f"return a pair (modes_captured, high_quality_share); got {type(got).__name__}"
                + (f" of length {len(got)}" if isinstance(got, tuple | list) else "") + ".",
                label,
            )
            modes, share = (_as_number(v) for v in got)
            ex.require(
                isinstance(modes, int) and not isinstance(modes, bool),
                f"modes_captured must be a Python int (use int(...)), got {type(modes).__name__}"
                + (" — did you return (share, modes) in the wrong order?"
                   if isinstance(modes, float) and isinstance(share, int) else "") + ".",
                label,
            )
            ex.require(isinstance(share, float | int) and not isinstance(share, bool),
                       "high_quality_share must be a Python float, got "
                       f"{type(share).__name__}.", label)
            ex.require(math.isfinite(share), f"high_quality_share is {share}, not a number in "
                       "[0, 1]: the mean of the high-quality indicator over all n samples.", label)
            reference = mode_metrics(x, IsotropicMixture2D(centres.float(), std))
            expected = torch.tensor([float(reference.modes_captured), reference.high_quality_share],
                                    dtype=torch.float64)
            got_pair = torch.tensor([float(modes), float(share)], dtype=torch.float64)
            ex.require(True, "", label)
            if torch.allclose(got_pair, expected, rtol=1e-6, atol=1e-6):
                continue
            for mistake in _coverage_mistakes(std):
                if torch.allclose(got_pair, mistake.answer(x, centres, std), rtol=1e-6, atol=1e-6):
                    ex.fail(mistake.message, label)
            if modes < reference.modes_captured and math.isclose(share, expected[1], abs_tol=1e-6):
                message = _too_few_message(modes, x, centres, 3 * std)
                if message is not None:
                    ex.fail(message, label)
            ex.fail(_coverage_difference(modes, share, reference), label)


def _coverage_difference(modes: int, share: float, reference: Any) -> str:
    """What differs when no named mistake explains it: which number, and which way."""
    parts = []
    if modes != reference.modes_captured:
        parts.append(
            f"modes_captured is {modes}, expected {reference.modes_captured}: "
            + ("more modes than the high-quality samples reach (a mode counts only when it is "
               "the nearest centre of a high-quality sample)" if modes > reference.modes_captured
               else "a mode is captured as soon as it is the nearest centre of one high-quality "
               "sample, and some of those were missed"))
    if not math.isclose(share, reference.high_quality_share, abs_tol=1e-6):
        parts.append(
            f"high_quality_share is {share:.6g}, expected {reference.high_quality_share:.6g}: the "
            "share of *all* n samples whose Euclidean distance to their nearest centre is at "
            "most 3·std")
    return "; ".join(parts) + "."
