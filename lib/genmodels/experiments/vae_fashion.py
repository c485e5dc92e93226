"""Chapter 6's experiment: the VAE on Fashion-MNIST, the settings of its training and evaluation.

:class:`FashionVAESettings` holds the chapter's choices (model ``vae16``, Adam, the budget on
a CPU and on a GPU, the sizes of the evaluation); the chapter and the benchmark's ``vae``
section (:func:`genmodels.bench.sections.run_vae_bench`) both train with
:func:`genmodels.vae.train_with_adam` under these settings, so they print the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genmodels.core.device import budget_for
from genmodels.core.validation import check_positive_int_fields, check_positive_ints


@dataclass(frozen=True)
class FashionVAESettings:
    """Chapter 6's VAE on Fashion-MNIST, its training and its evaluation (the defaults are
    the chapter's).

    Model: ``MLPVAE(latent_dim, hidden)`` with a Bernoulli decoder (the chapter's ``vae16``).
    Training (:func:`train_with_adam`, for every model of the chapter): Adam(``lr``, fused
    when ``fused_adam``) on shuffled minibatches of ``batch_size`` images, for
    ``epochs_cpu`` epochs on a CPU and ``epochs_gpu`` on a GPU (:meth:`epochs`). Evaluation:
    the train ELBO on the first ``n_train_elbo`` training images, the IWAE bound with each
    of ``iwae_ks`` on the first ``n_iwae`` test images, and the Fréchet distance of
    ``n_fd`` images decoded from the prior to the first ``n_fd`` test images.
    """

    latent_dim: int = 16
    hidden: tuple[int, ...] = (256,)
    epochs_cpu: int = 3
    epochs_gpu: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    fused_adam: bool = True
    n_train_elbo: int = 10_000
    n_iwae: int = 1_000
    iwae_ks: tuple[int, ...] = (1, 10, 100)
    n_fd: int = 2_000

    def __post_init__(self) -> None:
        check_positive_int_fields(self, ("latent_dim", "epochs_cpu", "epochs_gpu", "batch_size",
                                         "n_train_elbo", "n_iwae", "n_fd"))
        check_positive_ints(self.iwae_ks, "iwae_ks")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}.")

    def epochs(self, device: torch.device) -> int:
        """The training budget on ``device``: ``budget_for(device, epochs_cpu, epochs_gpu)``."""
        return budget_for(device, cpu=self.epochs_cpu, gpu=self.epochs_gpu)
