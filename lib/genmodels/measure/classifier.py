"""A small CNN trained on Fashion-MNIST, the judge of generated images.

Its penultimate layer gives the features of the classifier-based Fréchet distance and its
softmax the class probabilities of an inception-style score (:mod:`genmodels.measure.sample_quality`).
It is trained once (about a minute on a 2-core CPU), saved with its configuration and
test accuracy in the user cache, and reused thereafter:

    clf = load_fashion_classifier()        # trains on first use, then loads
    clf.test_accuracy                      # measured on the 10000 test images
    clf.features(x)                        # x: float [N, 1, 28, 28] in [0, 1] -> [N, 128]

The cache file name carries :data:`CLASSIFIER_VERSION`, so changing the architecture or
the training recipe (and bumping the version) retrains instead of loading stale weights.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.core.checkpoint import load_checkpoint, save_checkpoint
from genmodels.core.data import (
    check_float_images,
    default_cache_dir,
    load_fashion_mnist,
    to_float_images,
)
from genmodels.core.device import describe_device, pick_device
from genmodels.core.train import fit, minibatches
from genmodels.core.validation import check_dtype_of_model, check_positive_int, check_tensor

__all__ = [
    "CLASSIFIER_VERSION",
    "FashionClassifier",
    "classifier_cache_path",
    "classification_accuracy",
    "load_fashion_classifier",
    "save_fashion_classifier",
    "train_fashion_classifier",
]

#: Bump when the architecture or the training recipe changes: the cache is keyed on it.
CLASSIFIER_VERSION = 1

# Pixel mean and standard deviation of the Fashion-MNIST training images (in [0, 1]).
_FASHION_MEAN, _FASHION_STD = 0.2860, 0.3530


def _evaluation_layout(device: torch.device) -> torch.memory_format | None:
    """The memory layout in which :class:`FashionClassifier` evaluates images on ``device``.

    On a CPU, oneDNN's convolutions, batch normalisation and max-pooling run about twice as
    fast on channels-last (NHWC) tensors as on the default NCHW ones, for the same result
    up to float rounding (~1e-6 relative). Elsewhere the default layout is kept.
    """
    return torch.channels_last if device.type == "cpu" else None


class FashionClassifier(nn.Module):
    """Two conv blocks (conv 3×3, batch norm, ReLU, 2×2 max-pool) and a 2-layer head.

    ``[N, 1, 28, 28]`` → conv ``c1`` → ``[N, c1, 14, 14]`` → conv ``c2`` →
    ``[N, c2, 7, 7]`` → linear → ReLU → features ``[N, feature_dim]`` → linear → logits
    ``[N, 10]``. Inputs are pixel intensities in ``[0, 1]``; the network standardises them
    with the Fashion-MNIST training mean and standard deviation.

    Attributes:
        test_accuracy: accuracy on the Fashion-MNIST test split, recorded by
            :func:`train_fashion_classifier` (``None`` for an untrained network).
        info: how it was trained (epochs, seconds, device, seed, ...).
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), feature_dim: int = 128) -> None:
        super().__init__()
        c1, c2 = channels
        self.channels = (int(c1), int(c2))
        self.feature_dim = int(feature_dim)

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.body = nn.Sequential(
            block(1, c1),
            block(c1, c2),
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, 10)
        self.test_accuracy: float | None = None
        self.info: dict[str, Any] = {}

    @property
    def config(self) -> dict[str, Any]:
        """The arguments that rebuild this architecture."""
        return {"channels": list(self.channels), "feature_dim": self.feature_dim}

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - _FASHION_MEAN) / _FASHION_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, 10]`` of images ``x`` ``[N, 1, 28, 28]`` (with gradients)."""
        check_dtype_of_model(check_float_images(x, "x"), self, "x")
        return self.head(self._features(x))

    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor, fn, out_dim: int, batch_size: int) -> torch.Tensor:
        check_dtype_of_model(check_float_images(x, "x"), self, "x")
        check_tensor(x, "x", hint="images from a generator that diverged?")
        check_positive_int(batch_size, "batch_size")
        layout = _evaluation_layout(self.device)
        if layout is not None:
            self.to(memory_format=layout)  # a no-op after the first evaluation
        was_training = self.training
        self.eval()
        try:
            out = [
                fn(x[i : i + batch_size].to(self.device, memory_format=layout or torch.preserve_format))
                for i in range(0, len(x), batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, out_dim, device=self.device)

    def _probs(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.head(self._features(x)), dim=1)

    def features(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Penultimate-layer features ``[N, feature_dim]`` (for a Fréchet distance).

        Evaluation only: computed without gradients, in eval mode, in chunks of
        ``batch_size`` images (500 keeps a chunk's activations in a CPU's cache); ``x`` is
        moved to the model's device. On a CPU the network runs in channels-last layout
        (see :func:`_evaluation_layout`), and its weights stay in that layout afterwards.
        """
        return self._evaluate(x, self._features, self.feature_dim, batch_size)

    def probs(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Class probabilities ``[N, 10]`` (softmax of the logits; rows sum to 1).

        Evaluation only, like :meth:`features`.
        """
        return self._evaluate(x, self._probs, 10, batch_size)

    def predict(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """The most probable class ``[N]`` (int64) of each image."""
        return self.probs(x, batch_size).argmax(dim=1)


def classification_accuracy(
    model: FashionClassifier, images: torch.Tensor, labels: torch.Tensor
) -> float:
    """Fraction of ``images`` ``[N, 1, 28, 28]`` whose predicted class equals ``labels`` ``[N]``."""
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape [{images.shape[0]}], got {tuple(labels.shape)}.")
    return float((model.predict(images).cpu() == labels.cpu()).double().mean())


def train_fashion_classifier(
    *,
    epochs: int | None = 2,
    seconds: float | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    batch_size: int = 128,
    lr: float = 3e-3,
    progress: bool = False,
) -> FashionClassifier:
    """Train a :class:`FashionClassifier` on the Fashion-MNIST training split.

    Adam with a linear warm-up (first 5 % of the budget) and a linear decay to zero; the
    budget is ``epochs`` passes over the 60000 images, or ``seconds`` of wall time if
    given (which then takes precedence). The loop is :func:`genmodels.core.train.fit`
    over minibatches of the training set, which stays on the device as ``uint8`` and is
    batched by index, without DataLoader workers or per-step host syncs. ``progress``
    shows fit's progress bar. Returns the model in eval mode with ``test_accuracy``
    measured on the 10000 test images and ``info`` recording the budget, time and device.
    """
    if seconds is None and (epochs is None or epochs < 1):
        raise ValueError(
            f"give epochs >= 1 or seconds > 0, got epochs={epochs}, seconds={seconds}."
        )
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}.")
    device = pick_device(str(device)) if device is not None else pick_device()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train = load_fashion_mnist("train")
    images = train.images.to(device)  # uint8 [60000, 28, 28]: 4x less memory than float
    labels = train.labels.to(device)
    model = FashionClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total_steps = None if seconds is not None else epochs * steps_per_epoch
    start, steps_done = time.perf_counter(), 0

    def step(xb: torch.Tensor, yb: torch.Tensor) -> dict[str, torch.Tensor]:
        nonlocal steps_done
        if total_steps is not None:  # the share of the budget spent
            fraction = steps_done / total_steps
        else:
            fraction = min((time.perf_counter() - start) / seconds, 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr * min(fraction / 0.05, 1.0, (1.0 - fraction) / 0.95) + 1e-6
        x = xb.unsqueeze(1).to(torch.float32) / 255.0
        loss = F.cross_entropy(model(x), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps_done += 1
        return {"loss": loss}

    model.train()
    history = fit(step, lambda: minibatches(images, labels, batch_size=batch_size, generator=generator),
                  epochs=None if seconds is not None else epochs, seconds=seconds,
                  progress=progress, desc="Fashion-MNIST classifier")
    step_count, train_seconds = history.n_steps, history.wall_time

    model.eval()
    test = load_fashion_mnist("test")
    model.test_accuracy = classification_accuracy(model, to_float_images(test), test.labels)
    model.info = {
        "version": CLASSIFIER_VERSION,
        "seed": seed,
        "steps": step_count,
        "epochs": round(step_count / steps_per_epoch, 3),
        "batch_size": batch_size,
        "lr": lr,
        "train_seconds": round(train_seconds, 2),
        "device": describe_device(device),
        "torch": str(torch.__version__),
    }
    return model


def classifier_cache_path(seed: int = 0, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the trained classifier is cached: ``<cache>/classifiers/fashion-cnn-v{V}-seed{S}.pt``."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / "classifiers" / f"fashion-cnn-v{CLASSIFIER_VERSION}-seed{seed}.pt"


def _build(config: dict[str, Any]) -> FashionClassifier:
    return FashionClassifier(tuple(config["channels"]), config["feature_dim"])


def save_fashion_classifier(model: FashionClassifier, path: str | os.PathLike) -> Path:
    """Save weights, architecture, test accuracy and training info (plain types only)."""
    config = {
        **model.config,
        "version": CLASSIFIER_VERSION,
        "test_accuracy": model.test_accuracy,
        "info": model.info,
    }
    return save_checkpoint(path, model, config)


def load_fashion_classifier(
    device: torch.device | str | None = None,
    retrain: bool = False,
    *,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    verbose: bool = True,
) -> FashionClassifier:
    """The Fashion-MNIST classifier: loaded from the cache, or trained once and cached.

    Args:
        device: where to put it (default :func:`genmodels.core.device.pick_device`).
        retrain: train afresh and overwrite the cached file.
        seed: the training seed (part of the cache key).
        cache_dir: the cache root (default :func:`genmodels.core.data.default_cache_dir`).
        verbose: say when it trains (which takes about a minute on a 2-core CPU).

    Returns the model in eval mode, with ``test_accuracy`` and ``info`` restored.
    """
    device = pick_device(str(device)) if device is not None else pick_device()
    path = classifier_cache_path(seed, cache_dir)
    if path.is_file() and not retrain:
        try:
            model, config, _ = load_checkpoint(path, _build, map_location=device)
        except ValueError as err:
            raise ValueError(
                f"the cached classifier {path} cannot be loaded ({err}); "
                "delete it or call load_fashion_classifier(retrain=True)."
            ) from err
        if config.get("version") != CLASSIFIER_VERSION:
            raise ValueError(
                f"the cached classifier {path} has version {config.get('version')}, expected "
                f"{CLASSIFIER_VERSION}; delete it or call load_fashion_classifier(retrain=True)."
            )
        try:
            model.test_accuracy = config["test_accuracy"]
            model.info = dict(config["info"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f"the cached classifier {path} lacks its test accuracy or info ({err!r}); "
                "delete it or call load_fashion_classifier(retrain=True)."
            ) from err
        return model.eval()
    if verbose:
        print(
            f"Training the Fashion-MNIST classifier once (about a minute on a CPU); cache: {path}"
        )
    model = train_fashion_classifier(seed=seed, device=device)
    save_fashion_classifier(model, path)
    return model.eval()
