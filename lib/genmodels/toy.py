"""Two-dimensional Gaussian mixtures: the ring of 8 and the grid of 25.

These are the standard testbeds for mode collapse (VEEGAN, PacGAN). Each mixture
exposes its mode ``centres`` and common standard deviation ``std`` so that the mode
metrics of :mod:`genmodels.measure.sample_quality` can be computed against them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genmodels.core.validation import check_float, check_tensor


@dataclass(frozen=True)
class IsotropicMixture2D:
    """An equal-weight mixture of isotropic 2-D Gaussians N(c_k, std² I).

    Attributes:
        centres: mode centres, shape ``[K, 2]``.
        std: the common standard deviation of every component.
        name: a short name for plots and tables.
    """

    centres: torch.Tensor
    std: float
    name: str = "mixture"

    def __post_init__(self) -> None:
        check_tensor(self.centres, "centres", ("K", 2))
        check_float(self.std, "std", minimum=0, open_below=True)

    @property
    def n_modes(self) -> int:
        return int(self.centres.shape[0])

    def sample(
        self, n: int, generator: torch.Generator | None = None, return_modes: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` points by ancestral sampling: a mode k uniformly, then N(c_k, std² I).

        Returns the samples ``[n, 2]`` (and the sampled mode indices ``[n]`` when
        ``return_modes`` is true).
        """
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}.")
        modes = torch.randint(self.n_modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=self.centres.dtype)
        x = self.centres[modes] + self.std * noise
        return (x, modes) if return_modes else x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density log p(x) of points ``x`` of shape ``[n, 2]``; returns ``[n]``."""
        check_tensor(x, "x", ("n", 2))
        c = self.centres.to(x)
        sq = ((x[:, None, :] - c[None]) ** 2).sum(-1)  # [n, K]
        log_comp = -sq / (2 * self.std**2) - math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(log_comp, dim=1) - math.log(self.n_modes)


def ring_mixture(n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> IsotropicMixture2D:
    """The ring: ``n_modes`` Gaussians equally spaced on a circle of ``radius``.

    Defaults follow the VEEGAN/PacGAN protocol (8 modes, radius 1, std 0.01).
    """
    check_float(radius, "radius", minimum=0, open_below=True)
    check_float(std, "std", minimum=0, open_below=True)
    angles = torch.arange(n_modes, dtype=torch.float32) * (2 * math.pi / n_modes)
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return IsotropicMixture2D(centres, std, name=f"ring of {n_modes}")


def grid_mixture(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> IsotropicMixture2D:
    """The grid: ``side²`` Gaussians centred on {−4, −2, 0, 2, 4}² (for the defaults).

    Defaults follow the PacGAN protocol (5×5 grid, spacing 2, std 0.05).
    """
    check_float(spacing, "spacing", minimum=0, open_below=True)
    check_float(std, "std", minimum=0, open_below=True)
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    centres = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    return IsotropicMixture2D(centres, std, name=f"grid of {side * side}")
