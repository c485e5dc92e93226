"""Gibbs sampling of the standard bivariate Gaussian, and how to measure its mixing.

A Gibbs sampler draws from a joint p(x, y) by sampling each variable in turn from its
conditional given the others (Book: eq-gibbs-conditionals, chapter 3). For the standard
bivariate Gaussian with correlation ρ both conditionals are Gaussian,

    x | y ~ N(ρ y, 1 − ρ²),    y | x ~ N(ρ x, 1 − ρ²)      (Book: eq-bivariate-conditional)

and a systematic-scan sweep makes each coordinate an AR(1) process with coefficient ρ²
(Book: eq-gibbs-lag1-autocorrelation). :func:`autocorrelation` and
:func:`effective_sample_size` measure that mixing (Book: eq-ess).

Every chain is simulated at once: the state is a tensor ``[n_chains, 2]`` and only the
Markov time runs in a Python loop.

Chapter 3's experiment "Mixing against correlation", which runs these chains for several ρ
and compares them with the closed forms, is :mod:`genmodels.experiments.gibbs_mixing`.
"""

from __future__ import annotations

import math

import torch

from genmodels.core.validation import check_float, check_positive_int, check_tensor, is_int

__all__ = [
    "gibbs_discrete_pair",
    "gibbs_bivariate_gaussian",
    "autocorrelation",
    "integrated_autocorrelation_time",
    "effective_sample_size",
]

_SCANS = ("systematic", "random")


def _check_rho(rho: float) -> float:
    if isinstance(rho, torch.Tensor):
        if rho.numel() != 1:
            raise ValueError(f"rho must be a scalar, got a tensor of shape {tuple(rho.shape)}.")
        rho = float(rho)
    return check_float(rho, "rho", minimum=-1.0, maximum=1.0, open_below=True, open_above=True,
                       hint="a correlation strictly between -1 and 1; at |rho| = 1 the "
                       "conditionals are degenerate and the chain never moves")


def _discrete_pair_start(
    joint: torch.Tensor, n_steps: int, n_chains: int, start: int | torch.Tensor
) -> torch.Tensor:
    """Check the arguments of :func:`gibbs_discrete_pair`; return the start X_0 ``[n_chains]``."""
    if not isinstance(joint, torch.Tensor) or joint.ndim != 2 or not joint.is_floating_point():
        got = (
            f"{tuple(joint.shape)} {joint.dtype}"
            if isinstance(joint, torch.Tensor)
            else type(joint).__name__
        )
        raise ValueError(f"joint must be a float tensor [n_x, n_y], got {got}.")
    if bool((joint < 0).any()) or not bool(torch.isfinite(joint).all()):
        raise ValueError("joint must hold finite non-negative probabilities (or weights).")
    if bool((joint.sum(1) <= 0).any()) or bool((joint.sum(0) <= 0).any()):
        raise ValueError(
            "every row and column of joint needs positive mass: P(Y | X = x) is undefined "
            "for a value x of probability 0; drop empty rows/columns first."
        )
    check_positive_int(n_steps, "n_steps")
    check_positive_int(n_chains, "n_chains")
    x = torch.as_tensor(start, device=joint.device).long().expand(n_chains).clone()
    if bool(((x < 0) | (x >= joint.shape[0])).any()):
        raise ValueError(
            f"start must index a row of joint (0..{joint.shape[0] - 1}), got {start!r}."
        )
    return x


def gibbs_discrete_pair(
    joint: torch.Tensor,
    n_steps: int,
    n_chains: int = 1,
    start: int | torch.Tensor = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Gibbs sampling of a pair of discrete variables (X, Y) from their joint table.

    Each step draws Y ~ P(Y | X = x) = P(x, ·) / P(x), then X ~ P(X | Y = y) = P(·, y) / P(y)
    (the tutorial's first example). Book: eq-gibbs-conditionals (chapter 3).

    Args:
        joint: the table P(X = i, Y = j), shape ``[n_x, n_y]``, non-negative; it is
            normalised here, so unnormalised weights are fine. Every row and column needs
            positive mass (otherwise a conditional is undefined).
        n_steps: number of recorded steps (≥ 1).
        n_chains: independent chains run at once.
        start: the initial X, an int or a tensor ``[n_chains]`` of indices.
        generator: optional ``torch.Generator`` on the table's device.

    Returns:
        ``[n_chains, n_steps, 2]`` int64 indices: ``[..., 0]`` is X_t and ``[..., 1]`` is Y_t.
    """
    x = _discrete_pair_start(joint, n_steps, n_chains, start)  # X_0 [n_chains]
    p_y_given_x = joint / joint.sum(1, keepdim=True)  # rows: x
    p_x_given_y = (joint / joint.sum(0, keepdim=True)).T  # rows: y
    out = torch.empty(n_chains, n_steps, 2, dtype=torch.long, device=joint.device)
    for t in range(n_steps):
        y = torch.multinomial(p_y_given_x[x], 1, generator=generator).squeeze(1)
        x = torch.multinomial(p_x_given_y[y], 1, generator=generator).squeeze(1)
        out[:, t, 0] = x
        out[:, t, 1] = y
    return out


def _bivariate_setup(
    rho: float,
    n_steps: int,
    n_chains: int,
    scan: str,
    start: torch.Tensor | None,
    generator: torch.Generator | None,
    dtype: torch.dtype | None,
    device: torch.device | str | None,
) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check the arguments of :func:`gibbs_bivariate_gaussian`; return ρ, the start x and
    y (each ``[n_chains]``) and the standard normal noise ``[n_steps, 2, n_chains]`` of
    every step, drawn up front in one call on the generator's device, then moved to
    ``device``."""
    rho = _check_rho(rho)
    if scan not in _SCANS:
        raise ValueError(f"scan must be one of {_SCANS}, got {scan!r}.")
    check_positive_int(n_steps, "n_steps")
    check_positive_int(n_chains, "n_chains")
    if start is not None:
        if not isinstance(start, torch.Tensor):
            start = torch.as_tensor(start, dtype=dtype or torch.get_default_dtype())
        check_tensor(start, "start", hint="initial states [2] or [n_chains, 2]")
        if start.shape == (2,):
            start = start.expand(n_chains, 2)
        if start.shape != (n_chains, 2):
            raise ValueError(
                f"start must have shape [2] or [n_chains, 2] = [{n_chains}, 2], "
                f"got {tuple(start.shape)}."
            )
        dtype = dtype or start.dtype
        device = device or start.device
    dtype = dtype or torch.get_default_dtype()
    device = torch.device(device) if device is not None else torch.device("cpu")
    state = (
        torch.zeros(n_chains, 2, dtype=dtype, device=device)
        if start is None
        else start.to(dtype=dtype, device=device).clone()
    )
    gen_device = generator.device if generator is not None else device
    noise = torch.randn(n_steps, 2, n_chains, generator=generator, device=gen_device, dtype=dtype)
    return rho, state[:, 0], state[:, 1], noise.to(device)


def _coin_flips(
    n_steps: int, n_chains: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Fair coin flips ``[n_steps, n_chains]`` (bool) drawn on the generator's device, then
    moved to ``device``: the random scan's choice of coordinate at each step."""
    gen_device = generator.device if generator is not None else device
    return (torch.rand(n_steps, n_chains, generator=generator, device=gen_device) < 0.5).to(device)


def gibbs_bivariate_gaussian(
    rho: float,
    n_steps: int,
    n_chains: int = 1,
    scan: str = "systematic",
    start: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Run ``n_chains`` Gibbs chains on the standard bivariate Gaussian with correlation ρ.

    Book: eq-gibbs-conditionals and eq-bivariate-conditional (chapter 3).

    * ``scan="systematic"``: one step is a full sweep, x ~ p(x | y) then y ~ p(y | x);
      each coordinate is then AR(1) with coefficient ρ² (eq-gibbs-lag1-autocorrelation).
    * ``scan="random"``: one step picks a coordinate uniformly at random and resamples
      only that one; it leaves the same target invariant.

    Args:
        rho: the correlation, −1 < ρ < 1.
        n_steps: number of recorded steps (≥ 1); the start is not recorded.
        n_chains: number of independent chains simulated at once.
        scan: ``"systematic"`` or ``"random"``.
        start: initial states, shape ``[2]`` (shared) or ``[n_chains, 2]``; zeros if None.
        generator: optional ``torch.Generator`` for reproducibility (its device is used
            for the random numbers, which are then moved to ``device``).
        dtype, device: of the result; by default those of ``start`` (or the default
            dtype on the CPU).

    Returns:
        The chains, shape ``[n_chains, n_steps, 2]``: ``[..., 0]`` is x, ``[..., 1]`` is y.
    """
    rho, x, y, noise = _bivariate_setup(rho, n_steps, n_chains, scan, start, generator, dtype, device)
    std = math.sqrt(1.0 - rho * rho)
    out = torch.empty(n_steps, 2, n_chains, dtype=noise.dtype, device=noise.device)
    if scan == "systematic":
        for t in range(n_steps):
            x = rho * y + std * noise[t, 0]  # x | y ~ N(ρ y, 1 − ρ²)
            y = rho * x + std * noise[t, 1]  # y | x ~ N(ρ x, 1 − ρ²)
            out[t, 0] = x
            out[t, 1] = y
    else:
        pick_x = _coin_flips(n_steps, n_chains, generator, noise.device)  # True: update x
        for t in range(n_steps):
            proposal_x = rho * y + std * noise[t, 0]
            proposal_y = rho * x + std * noise[t, 1]
            x = torch.where(pick_x[t], proposal_x, x)
            y = torch.where(pick_x[t], y, proposal_y)
            out[t, 0] = x
            out[t, 1] = y
    return out.permute(2, 0, 1).contiguous()


def autocorrelation(x: torch.Tensor, max_lag: int | None = None) -> torch.Tensor:
    """Sample autocorrelation of a time series at lags 0..max_lag, computed by FFT.

    ρ̂_k = ĉ_k / ĉ_0 with ĉ_k = (1/n) Σ_{t=0}^{n−1−k} (x_t − x̄)(x_{t+k} − x̄), the usual
    biased (1/n) estimator, which keeps the sequence positive semi-definite.
    Book: eq-gibbs-lag1-autocorrelation (chapter 3) is its value at lag 1.

    Args:
        x: the series, shape ``[n]``, or a batch of series ``[..., n]`` (time last).
        max_lag: largest lag, 0 ≤ max_lag < n; default ``n − 1``.

    Returns:
        ``[max_lag + 1]`` (or ``[..., max_lag + 1]``), with value 1 at lag 0.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}.")
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(f"x must have shape [..., n] with n >= 2, got {tuple(x.shape)}.")
    check_tensor(x, "x", hint="a chain that diverged has no autocorrelation")
    n = x.shape[-1]
    if max_lag is None:
        max_lag = n - 1
    if not is_int(max_lag) or not 0 <= max_lag < n:
        raise ValueError(f"max_lag must be an int in [0, n-1] = [0, {n - 1}], got {max_lag!r}.")
    centred = x - x.mean(dim=-1, keepdim=True)
    size = 1 << (2 * n - 1).bit_length()  # zero-pad: no circular wrap-around
    spectrum = torch.fft.rfft(centred, n=size, dim=-1)
    acov = torch.fft.irfft(spectrum * spectrum.conj(), n=size, dim=-1)[..., : max_lag + 1] / n
    var = acov[..., :1]
    if bool((var <= 0).any()):
        raise ValueError("x is constant, so its autocorrelation is undefined.")
    return acov / var


def _chain_length(x: torch.Tensor) -> int:
    """Check that ``x`` is one chain ``[n]`` with n ≥ 4; return n."""
    if not isinstance(x, torch.Tensor) or x.ndim != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a 1-D tensor [n] (one chain), got {shape}.")
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"x needs at least 4 samples to estimate mixing, got {n}.")
    return n


def integrated_autocorrelation_time(x: torch.Tensor) -> float:
    """Integrated autocorrelation time τ = 1 + 2 Σ_{k≥1} ρ_k of a 1-D chain ``x`` ``[n]``.

    Estimated with Geyer's initial positive sequence (1992): with pair sums
    Γ_m = ρ̂_{2m} + ρ̂_{2m+1}, the sum stops before the first m with Γ_m ≤ 0, and the
    Γ_m are made non-increasing (initial monotone sequence); then τ̂ = −1 + 2 Σ_m Γ_m.
    For a stationary AR(1) process x_t = φ x_{t−1} + ε_t, τ = (1 + φ)/(1 − φ).
    Book: eq-ess (chapter 3).
    """
    n = _chain_length(x)
    rho = autocorrelation(x.double()).cpu()
    n_pairs = n // 2
    gamma = rho[: 2 * n_pairs].reshape(n_pairs, 2).sum(dim=1)
    nonpositive = (gamma <= 0).nonzero()
    stop = int(nonpositive[0]) if nonpositive.numel() else n_pairs
    gamma = gamma[:stop]
    gamma = torch.cummin(gamma, dim=0).values  # initial monotone sequence
    return float(-1.0 + 2.0 * gamma.sum())


def effective_sample_size(x: torch.Tensor) -> float:
    """Effective sample size n / τ of a 1-D chain ``x`` ``[n]``.

    τ is the integrated autocorrelation time estimated by Geyer's initial positive
    (monotone) sequence, see :func:`integrated_autocorrelation_time`. For an AR(1)
    process with coefficient φ, ESS = n (1 − φ)/(1 + φ); anti-correlated chains
    (φ < 0) give ESS > n. Book: eq-ess (chapter 3).
    """
    tau = integrated_autocorrelation_time(x)
    return x.shape[0] / tau
