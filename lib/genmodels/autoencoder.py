"""Deterministic autoencoders: x -> z = Enc(x) -> logits = Dec(z).

Chapter 4 trains one with a 2-D latent space and shows why sampling from it fails.
``decode`` returns logits; ``torch.sigmoid`` of them is the reconstructed image in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genmodels.core.validation import check_positive_int
from genmodels.nets import check_batch, check_image_shape, check_latent, mlp


class Autoencoder(nn.Module):
    """Shared interface: ``encode(x [B,C,H,W]) -> z [B,D]``, ``decode(z) -> logits [B,C,H,W]``."""

    latent_dim: int
    image_shape: tuple[int, int, int]
    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes ``[B, latent_dim]`` of images ``x`` of shape ``[B, *image_shape]``."""
        check_batch(x, self.image_shape, model=self)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, *image_shape]`` of the reconstruction from codes ``z`` ``[B, latent_dim]``."""
        check_latent(z, self.latent_dim, model=self)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits ``Dec(Enc(x))``, shape ``[B, *image_shape]``."""
        return self.decode(self.encode(x))


class MLPAutoencoder(Autoencoder):
    """A fully connected autoencoder: flatten -> MLP -> ``latent_dim`` -> MLP -> image.

    ``image_shape=(1, 8, 8)`` with a smaller ``hidden`` suits scikit-learn's digits.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: Sequence[int] = (512, 256),
        image_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.image_shape = check_image_shape(image_shape)
        n_pixels = self.image_shape[0] * self.image_shape[1] * self.image_shape[2]
        self.encoder = nn.Sequential(nn.Flatten(), mlp([n_pixels, *hidden, self.latent_dim]))
        self.decoder = nn.Sequential(
            mlp([self.latent_dim, *reversed(tuple(hidden)), n_pixels]),
            nn.Unflatten(1, self.image_shape),
        )
