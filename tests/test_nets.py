"""Tests of genmodels.nets: layer structure, shapes and the input checks' messages."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genmodels import nets


def test_mlp_has_the_requested_layers_and_no_activation_after_the_last():
    net = nets.mlp([5, 7, 3], activation=nn.Tanh, final=nn.Sigmoid())
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Sigmoid]
    assert (net[0].in_features, net[0].out_features) == (5, 7)
    assert (net[2].in_features, net[2].out_features) == (7, 3)
    y = net(torch.randn(4, 5))
    assert y.shape == (4, 3) and y.min() > 0 and y.max() < 1
    assert [type(m) for m in nets.mlp([2, 3])] == [nn.Linear]


def test_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError, match="at least an input and an output"):
        nets.mlp([4])
    with pytest.raises(ValueError, match="positive ints"):
        nets.mlp([4, 0, 2])


def test_check_batch_messages():
    nets.check_batch(torch.zeros(3, 1, 28, 28), (1, 28, 28))
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\].*unsqueeze\(1\)"):
        nets.check_batch(torch.zeros(3, 28, 28), (1, 28, 28))
    with pytest.raises(ValueError, match=r"view\(-1, 1, 28, 28\)"):
        nets.check_batch(torch.zeros(3, 784), (1, 28, 28))
    with pytest.raises(ValueError, match="expects 1 channel"):
        nets.check_batch(torch.zeros(3, 3, 28, 28), (1, 28, 28))
    with pytest.raises(TypeError, match="floating-point.*to_float_images"):
        nets.check_batch(torch.zeros(3, 1, 28, 28, dtype=torch.uint8), (1, 28, 28))
    with pytest.raises(TypeError, match="torch.Tensor"):
        nets.check_batch([[0.0]], (1,))


def test_check_latent_and_image_shape_messages():
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        nets.check_latent(torch.zeros(3), 2)
    with pytest.raises(ValueError, match="channels, height, width"):
        nets.check_image_shape((28, 28))
