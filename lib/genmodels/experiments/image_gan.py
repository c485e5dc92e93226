"""Chapter 8's experiment: an MLP GAN and a DCGAN on Fashion-MNIST, trained and measured.

The chapter calls these functions cell by cell, and the results appendix
(:mod:`genmodels.bench.sections`) calls the same ones with the same settings, so the two
draw the same random numbers in the same order and print the same numbers:

1. :class:`ImageGanSettings` — the budgets on a CPU and on a GPU, the batch size, the
   latent dimension, the optimiser and the evaluation sizes (the defaults are the chapter's).
2. :func:`reference_frechet_distances` — where real, blurred, one-class and noise images
   land on the Fréchet scale.
3. :func:`genmodels.gan.mlp_gan_players` and :func:`genmodels.gan.dcgan_players`, drawn
   after ``torch.manual_seed(seed)``; :func:`train_gan_recording_samples` — the
   non-saturating step (with the discriminator's accuracies), and samples of a fixed z.
4. :func:`frechet_distances_over_training` and :func:`means_over_last_steps` — what the
   chapter prints about each run.

Book: chapter 8 (GANs in practice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from genmodels import gan
from genmodels.core import train
from genmodels.core.data import check_float_images
from genmodels.core.device import budget_for
from genmodels.core.validation import check_positive_int, check_positive_int_fields
from genmodels.measure import gan_monitor

__all__ = [
    "HISTORY_TERMS",
    "ImageGanSettings",
    "frechet_distances_over_training",
    "means_over_last_steps",
    "reference_frechet_distances",
    "train_gan_recording_samples",
]

HISTORY_TERMS = ("d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake")
"""What :func:`train_gan_recording_samples` records per step, in the order the chapter prints."""

FASHION_TROUSER = 1  # Fashion-MNIST's class index of "Trouser"



@dataclass(frozen=True)
class ImageGanSettings:
    """Chapter 8's settings (the defaults are the chapter's).

    Budgets: ``mlp_steps_cpu`` / ``mlp_steps_gpu`` training steps of the MLP GAN and
    ``dcgan_steps_cpu`` / ``dcgan_steps_gpu`` of the DCGAN (:meth:`mlp_steps`,
    :meth:`dcgan_steps`: ``budget_for(device, cpu=..., gpu=...)``), each step on
    ``batch_size`` real and as many generated images. Models: codes of ``latent_dim``
    dimensions; the MLP GAN's hidden widths ``mlp_hidden``
    (:func:`genmodels.gan.mlp_gan_players`); the DCGAN's ``channels``
    (:func:`genmodels.gan.dcgan_players`). Both players: Adam(``lr``, ``betas``), fused
    when ``fused_adam`` (one update of all parameters; the same algorithm). Evaluation:
    ``n_eval`` images per Fréchet distance (and as many fixed codes recorded); G(z) of the
    fixed codes ``snapshots`` times over training plus the start; the training terms
    copied to the host every ``log_every`` steps; the chapter prints the means over the
    last ``mlp_summary_last`` (MLP GAN) and ``dcgan_summary_last`` (DCGAN) steps.
    """

    mlp_steps_cpu: int = 1_000
    mlp_steps_gpu: int = 60_000
    dcgan_steps_cpu: int = 800
    dcgan_steps_gpu: int = 30_000
    batch_size: int = 32
    latent_dim: int = 64
    mlp_hidden: tuple[int, ...] = (256, 512)
    channels: int = 32
    lr: float = 2e-3
    betas: tuple[float, float] = (0.5, 0.999)
    fused_adam: bool = True
    n_eval: int = 2_000
    snapshots: int = 5
    log_every: int = 100
    mlp_summary_last: int = 200
    dcgan_summary_last: int = 100

    def __post_init__(self) -> None:
        check_positive_int_fields(self, (
            "mlp_steps_cpu", "mlp_steps_gpu", "dcgan_steps_cpu", "dcgan_steps_gpu",
            "batch_size", "latent_dim", "channels", "n_eval", "snapshots",
            "log_every", "mlp_summary_last", "dcgan_summary_last"))
        if not self.mlp_hidden:
            raise ValueError("mlp_hidden must list at least one layer width, e.g. (256, 512).")
        if not (self.lr > 0 and all(0 <= b < 1 for b in self.betas) and len(self.betas) == 2):
            raise ValueError(f"expected lr > 0 and two betas in [0, 1), got lr={self.lr!r}, "
                             f"betas={self.betas!r}.")

    def mlp_steps(self, device: torch.device) -> int:
        """The MLP GAN's budget on ``device``: ``budget_for(device, mlp_steps_cpu, mlp_steps_gpu)``."""
        return budget_for(device, cpu=self.mlp_steps_cpu, gpu=self.mlp_steps_gpu)

    def dcgan_steps(self, device: torch.device) -> int:
        """The DCGAN's budget on ``device``: ``budget_for(device, dcgan_steps_cpu, dcgan_steps_gpu)``."""
        return budget_for(device, cpu=self.dcgan_steps_cpu, gpu=self.dcgan_steps_gpu)


def _check_reference_inputs(x_train: torch.Tensor, train_labels: torch.Tensor, n_eval: int) -> None:
    check_float_images(x_train, "x_train")
    check_positive_int(n_eval, "n_eval")
    if train_labels.shape != x_train.shape[:1]:
        raise ValueError(f"train_labels must have shape [{x_train.shape[0]}] (one class per "
                         f"image), got {tuple(train_labels.shape)}.")
    if x_train.shape[0] < n_eval:
        raise ValueError(f"x_train holds {x_train.shape[0]} images, fewer than n_eval = {n_eval}.")


def reference_frechet_distances(
    x_train: torch.Tensor,
    train_labels: torch.Tensor,
    frechet_to_test: Callable[[torch.Tensor], float],
    n_eval: int,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """The reference points of chapter 8's Fréchet scale, each from ``n_eval`` images.

    ``frechet_to_test(images)`` is the distance (eq-frechet-distance) to the test
    images (e.g. a :class:`genmodels.measure.sample_quality.FrechetReference`). The four image sets:
    the first ``n_eval`` training images (the floor); the same images blurred (each 4×4
    block replaced by its mean); the first ``n_eval`` trousers of the training set (one
    class only); uniform noise ``U(0, 1)`` drawn from ``generator`` on the CPU (the only
    draw) and moved to ``x_train``'s device.

    Args:
        x_train: training images ``[N, 1, 28, 28]`` in [0, 1].
        train_labels: their class indices ``[N]`` (any device).

    Returns ``{"real training images", "blurred real images", "one class only
    (trousers)", "uniform noise"}`` → distance. Book: eq-frechet-distance (chapter 8).
    """
    _check_reference_inputs(x_train, train_labels, n_eval)
    device = x_train.device
    trousers = x_train[train_labels.to(device) == FASHION_TROUSER][:n_eval]
    noise = torch.rand(n_eval, 1, 28, 28, generator=generator).to(device)
    blurred = nn.functional.interpolate(nn.functional.avg_pool2d(x_train[:n_eval], 4),
                                        scale_factor=4)
    return {
        "real training images": frechet_to_test(x_train[:n_eval]),
        "blurred real images": frechet_to_test(blurred),
        "one class only (trousers)": frechet_to_test(trousers),
        "uniform noise": frechet_to_test(noise),
    }


def train_gan_recording_samples(
    G: nn.Module,
    D: nn.Module,
    x_train: torch.Tensor,
    n_steps: int,
    settings: ImageGanSettings,
    generator: torch.Generator | None = None,
    *,
    progress: bool = False,
    desc: str | None = None,
) -> tuple[train.History, gan_monitor.SampleRecorder]:
    """Chapter 8's training run: ``n_steps`` non-saturating GAN steps, watched.

    :func:`genmodels.gan.train_gan`: both players get Adam(``settings.lr``,
    ``settings.betas``, fused if ``settings.fused_adam``); each step is
    :func:`genmodels.gan.make_gan_step` on a minibatch of ``settings.batch_size`` real images
    (:func:`genmodels.core.train.fixed_step_minibatches`: exactly ``n_steps`` of them, in
    shuffled passes); it also returns the discriminator's accuracies on the batch of its
    update, before the update. G(z) of ``settings.n_eval`` fixed codes (drawn from
    ``generator`` before training) is recorded before training, every
    ``n_steps // settings.snapshots`` steps and at the end
    (:class:`genmodels.measure.gan_monitor.SampleRecorder`). Draw order: the fixed codes, then per
    step the batch permutation (once per pass), the discriminator's fakes and the
    generator's fakes — all from ``generator``.

    Args:
        G, D: the players on ``x_train``'s device (D returns logits ``[B]``).
        x_train: training images ``[N, 1, 28, 28]`` in [0, 1].
        progress, desc: :func:`genmodels.core.train.fit`'s progress bar and its label.

    Returns ``(history, recorder)``: fit's History with :data:`HISTORY_TERMS` per step, and
    the recorder (``recorder.images()`` ``[T, n_eval, 1, 28, 28]``, ``recorder.steps``).
    Book: eq-d-step, eq-g-step-non-saturating (chapter 7), eq-discriminator-accuracy
    (chapter 8).
    """
    check_float_images(x_train, "x_train")
    check_positive_int(n_steps, "n_steps")
    s = settings
    z_fixed = gan.sample_latent(s.n_eval, s.latent_dim, x_train.device, generator)  # the same z all along
    recorder = gan_monitor.SampleRecorder(G, z_fixed, every=max(n_steps // s.snapshots, 1))
    history = gan.train_gan(
        G, D, train.fixed_step_minibatches(x_train, n_steps, s.batch_size, generator), s.latent_dim,
        lr=s.lr, betas=s.betas, fused_adam=s.fused_adam, loss="non_saturating", generator=generator,
        wrap_step=recorder.wrap, log_every=s.log_every, progress=progress, desc=desc)
    recorder.record()  # the final generator (if not recorded yet)
    return history, recorder


def frechet_distances_over_training(
    recorder: gan_monitor.SampleRecorder, frechet_to_test: Callable[[torch.Tensor], float]
) -> list[float]:
    """``frechet_to_test`` of every snapshot of ``recorder``, in the order of ``recorder.steps``.

    Book: eq-frechet-distance (chapter 8).
    """
    return [frechet_to_test(images) for images in recorder.images()]


def means_over_last_steps(
    history: train.History, last: int, names: Sequence[str] = HISTORY_TERMS
) -> dict[str, float]:
    """The mean of each of ``names`` over the last ``last`` steps of ``history`` (all steps
    if there are fewer): ``sum(tail) / len(tail)``, the chapter's summary of a run."""
    check_positive_int(last, "last")
    missing = [n for n in names if n not in history.values]
    if missing:
        raise KeyError(f"history has no {missing}; it records {history.names}.")
    means = {}
    for name in names:
        tail = history.values[name][-last:]
        if not tail:
            raise ValueError(f"history holds no step of {name!r}: train before summarising.")
        means[name] = sum(tail) / len(tail)
    return means
