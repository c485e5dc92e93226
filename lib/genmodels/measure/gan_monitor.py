"""Watching a GAN train: discriminator accuracy and samples from a fixed z over time.

:func:`genmodels.gan.make_gan_step` returns the losses, the mean discriminator outputs
and the discriminator's accuracies on the batch of its update (before the update;
chapter 8 plots them). Chapter 8 also watches how the samples of a fixed set of noise
vectors change over training, with :class:`SampleRecorder`, a wrapper around any step
function, so the training code stays the library's own:

    step = gan.make_gan_step(G, D, opt_g, opt_d, latent_dim)
    recorder = SampleRecorder(G, z_fixed, every=250)
    history = train.fit(recorder.wrap(step), batches, epochs=...)
    recorder.images()      # [T, n, ...] on the CPU, recorder.steps: the T step indices

:func:`discriminator_accuracy` is the accuracy of eq-discriminator-accuracy on any two
batches of logits (0-d tensors on the device: no host synchronisation).

The recorder calls no ``.item()`` and copies nothing to the host inside the loop:
snapshots stay on the device until :meth:`SampleRecorder.images` is called.

Book: chapter 8 (GANs in practice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from genmodels.core.validation import check_positive_int
from genmodels.gan import check_logits

__all__ = ["SampleRecorder", "discriminator_accuracy"]


def discriminator_accuracy(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's accuracy on real and on fake samples, separately.

    A real sample is classified correctly when D(x) = σ(l) > ½, i.e. its logit l > 0;
    a fake one when D(x̃) < ½, i.e. l < 0. A logit of exactly 0 (D = ½, undecided)
    counts as wrong for both. Returns two 0-d float tensors on the logits' device,
    ``(accuracy_real, accuracy_fake)``, each in [0, 1]; no host synchronisation.

    Shapes: ``real_logits [B_real]``, ``fake_logits [B_fake]`` → two 0-d tensors.
    Book: eq-discriminator-accuracy (chapter 8).
    """
    check_logits(real_logits, "real_logits")
    check_logits(fake_logits, "fake_logits")
    dtype = real_logits.dtype
    return (real_logits > 0).to(dtype).mean(), (fake_logits < 0).to(fake_logits.dtype).mean()


StepFn = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


class SampleRecorder:
    """Keep G(z) for a fixed batch of noise ``z`` at regular points of training.

    Args:
        G: the generator.
        z: fixed noise ``[n, latent_dim]`` on G's device (draw it once with
            :func:`genmodels.gan.sample_latent`).
        every: record after every ``every``-th step (steps counted from 1), plus once
            before training when :meth:`wrap` is first called.
        eval_mode: generate in evaluation mode (batch normalisation uses its running
            statistics) and restore G's mode afterwards. ``False`` generates in the
            current mode (then a batch-normalised G normalises over the n fixed codes).

    Snapshots stay on the device until :meth:`images` copies them (once) to the CPU.
    Book: chapter 8, "Samples over time".
    """

    def __init__(self, G: nn.Module, z: torch.Tensor, every: int, eval_mode: bool = True) -> None:
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] == 0:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor [n, latent_dim] with n >= 1, got {shape}.")
        check_positive_int(every, "every", hint="steps between snapshots")
        self.G = G
        self.z = z
        self.every = every
        self.eval_mode = eval_mode
        self.steps: list[int] = []
        self._snapshots: list[torch.Tensor] = []
        self._n_steps = 0

    def record(self) -> None:
        """Store G(z) now, labelled with the number of steps taken so far.

        Does nothing if a snapshot of this step exists already, so calling it once more
        after training adds the final generator only when it is not recorded yet.
        """
        if self.steps and self.steps[-1] == self._n_steps:
            return
        was_training = self.G.training
        if self.eval_mode:
            self.G.eval()
        try:
            with torch.no_grad():
                self._snapshots.append(self.G(self.z).detach().clone())
        finally:
            self.G.train(was_training)
        self.steps.append(self._n_steps)

    def wrap(self, step: StepFn) -> Callable[..., Mapping[str, torch.Tensor]]:
        """Return ``step`` that also records a snapshot every ``every`` steps.

        The first snapshot (step 0, the untrained generator) is taken right away.
        """
        if not self._snapshots:
            self.record()

        def recorded(*batch: torch.Tensor) -> Mapping[str, torch.Tensor]:
            terms = step(*batch)
            self._n_steps += 1
            if self._n_steps % self.every == 0:
                self.record()
            return terms

        return recorded

    def __len__(self) -> int:
        return len(self._snapshots)

    def images(self) -> torch.Tensor:
        """All snapshots as one CPU tensor ``[T, n, ...]`` (T = ``len(self)``)."""
        if not self._snapshots:
            raise ValueError("no snapshot yet: call record() or train with wrap(step) first.")
        return torch.stack(self._snapshots).cpu()
