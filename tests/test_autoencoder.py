"""Tests of genmodels.autoencoder: shapes, input checks, learning, reproducibility."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genmodels.autoencoder import MLPAutoencoder


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_encode_decode_shapes(shape):
    model = MLPAutoencoder(2, image_shape=shape)
    x = torch.rand(5, *shape)
    z = model.encode(x)
    assert z.shape == (5, 2)
    assert model.decode(z).shape == (5, *shape)
    assert model(x).shape == (5, *shape)


def test_bad_input_names_the_expected_shape():
    model = MLPAutoencoder(2)
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\]"):
        model.encode(torch.rand(5, 1, 8, 8))
    with pytest.raises(ValueError, match="unsqueeze"):
        model.encode(torch.rand(5, 28, 28))
    with pytest.raises(TypeError, match="to_float_images"):
        model.encode(torch.zeros(5, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        model.decode(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="latent_dim must be a positive int"):
        MLPAutoencoder(0)


def test_autoencoder_learns_to_reconstruct():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    prototypes = (torch.rand(4, 1, 8, 8, generator=g) > 0.5).float()
    x = prototypes.repeat(16, 1, 1, 1)
    model = MLPAutoencoder(2, hidden=(32,), image_shape=(1, 8, 8))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(model(x), x)

    before = float(loss().detach())
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        opt.step()
    after = float(loss().detach())
    assert after < 0.2 * before
    assert ((torch.sigmoid(model(x)) > 0.5).float() == x).float().mean() > 0.95


def test_same_seed_same_model():
    torch.manual_seed(4)
    a = MLPAutoencoder(3, hidden=(16,), image_shape=(1, 8, 8))
    torch.manual_seed(4)
    b = MLPAutoencoder(3, hidden=(16,), image_shape=(1, 8, 8))
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(a(x), b(x))
