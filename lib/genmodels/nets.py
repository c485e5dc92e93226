"""Building blocks shared by the autoencoders and VAEs: MLPs and input checks that fail
with a message saying what shape was expected."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genmodels.core.validation import check_dtype_of_model, is_positive_int


def mlp(
    sizes: Sequence[int],
    activation: type[nn.Module] = nn.ReLU,
    final: nn.Module | None = None,
) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    ``activation`` (a module class) follows every hidden linear layer, not the last one;
    ``final`` (a module instance such as ``nn.Sigmoid()``) is appended after the last
    layer when given. Input ``[B, sizes[0]]`` -> output ``[B, sizes[-1]]``.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"mlp needs at least an input and an output size, got sizes={sizes}; "
            "pass e.g. [784, 256, 2]."
        )
    if not all(is_positive_int(s) for s in sizes):
        raise ValueError(f"mlp sizes must be positive ints, got {sizes}.")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def _fmt(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def check_batch(x: torch.Tensor, item_shape: Sequence[int], name: str = "x",
                model: nn.Module | None = None) -> None:
    """Raise a clear error unless ``x`` is a floating batch of shape ``[B, *item_shape]``
    (of the dtype of ``model``'s parameters, if given).

    Used by every model's ``encode`` so that a missing channel dimension, images of the
    wrong size or integer pixels are reported with the expected shape and a fix.
    """
    item_shape = tuple(item_shape)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    expected = "[B, " + ", ".join(str(s) for s in item_shape) + "]"
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{name} must be a floating-point tensor of shape {expected}, got dtype {x.dtype}; "
            "convert uint8 images with genmodels.core.data.to_float_images (values in [0, 1])."
        )
    if tuple(x.shape[1:]) != item_shape or x.ndim != len(item_shape) + 1:
        hint = ""
        if len(item_shape) == 3 and x.ndim == 3 and tuple(x.shape[1:]) == item_shape[1:]:
            hint = f" (add the channel dimension with {name}.unsqueeze(1))"
        elif len(item_shape) == 3 and x.ndim == 2 and x.shape[1] == int(torch.Size(item_shape).numel()):
            hint = f" (reshape flat images with {name}.view(-1, {', '.join(map(str, item_shape))}))"
        elif len(item_shape) == 3 and x.ndim == 4 and x.shape[1] != item_shape[0]:
            hint = f" (the model expects {item_shape[0]} channel(s), the batch has {x.shape[1]})"
        raise ValueError(f"{name} must have shape {expected}, got {_fmt(x.shape)}{hint}.")
    if model is not None:
        check_dtype_of_model(x, model, name)


def check_latent(z: torch.Tensor, latent_dim: int, name: str = "z",
                 model: nn.Module | None = None) -> None:
    """Raise a clear error unless ``z`` is a floating batch of codes ``[B, latent_dim]`` (of
    the dtype of ``model``'s parameters, if given)."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}.")
    if not torch.is_floating_point(z):
        raise TypeError(f"{name} must be floating point, got dtype {z.dtype}.")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(
            f"{name} must have shape [B, {latent_dim}] (a batch of latent codes), "
            f"got {_fmt(z.shape)}."
        )
    if model is not None:
        check_dtype_of_model(z, model, name)


def check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """Validate a ``(channels, height, width)`` triple of positive sizes."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ValueError(
            f"image_shape must be (channels, height, width), e.g. (1, 28, 28), got {image_shape}."
        )
    return shape  # type: ignore[return-value]
