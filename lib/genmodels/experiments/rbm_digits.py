"""Chapter 3's experiment with restricted Boltzmann machines on scikit-learn's digits.

Small RBMs (exact likelihood by enumerating the hidden units) trained by CD-1, CD-10 and
PCD-1 (:func:`train_rbms_by_rule`, :func:`train_small_rbms`), larger RBMs sampled by long
Gibbs chains (:func:`train_large_rbms`, :func:`long_chain_free_energies`) and the snapshots
of a chain (:func:`gibbs_snapshots`), with their settings (:class:`DigitsRBMSettings`). The
chapter and the benchmark's ``rbm`` section call these same functions. The model itself is
:mod:`genmodels.rbm`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from genmodels.core.train import History
from genmodels.core.validation import (
    check_float_fields,
    check_positive_int_fields,
    check_positive_ints,
    is_int,
)
from genmodels.rbm import (
    BernoulliRBM,
    exact_log_likelihood,
    pseudo_log_likelihood,
    train_rbm,
)

# ------------------------------------------------------------- chapter 3's experiment
TRAINING_RULES: dict[str, dict[str, Any]] = {
    "CD-1": {"k": 1, "persistent": False},
    "CD-10": {"k": 10, "persistent": False},
    "PCD-1": {"k": 1, "persistent": True},
}


def _check_rules(rules: Sequence[str]) -> None:
    for name in rules:
        if name not in TRAINING_RULES:
            raise ValueError(
                f"unknown RBM training rule {name!r}; expected one of {', '.join(TRAINING_RULES)}."
            )


@dataclass(frozen=True)
class DigitsRBMSettings:
    """The settings of chapter 3's RBMs on scikit-learn's digits (the defaults are the chapter's).

    The binarised digits are split into ``n_train`` training images and the rest (test) by
    a permutation seeded with ``split_seed``. Every RBM is trained by SGD (``lr``,
    ``momentum``, minibatches of ``batch_size``) for ``epochs_cpu`` epochs on a CPU,
    ``epochs_gpu`` on a GPU (``budget_for``). The small RBMs (``small_hidden`` units: the
    exact likelihood is computable) are trained with every rule of ``rules``, the large
    ones (``large_hidden`` units) with ``large_rules``; ``small_seeds`` and
    ``large_seeds`` seed (weights, training). The large RBMs are sampled by
    ``chain_steps`` Gibbs steps from noise in ``n_chain_samples`` chains.
    """

    n_train: int = 1500
    split_seed: int = 0
    epochs_cpu: int = 20
    epochs_gpu: int = 60
    lr: float = 0.05
    momentum: float = 0.5
    batch_size: int = 32
    small_hidden: int = 16
    small_seeds: tuple[int, int] = (1, 2)
    rules: tuple[str, ...] = ("CD-1", "CD-10", "PCD-1")
    large_hidden: int = 100
    large_seeds: tuple[int, int] = (3, 4)
    large_rules: tuple[str, ...] = ("CD-1", "PCD-1")
    chain_steps: int = 500
    n_chain_samples: int = 200

    def __post_init__(self) -> None:
        _check_rules(self.rules + self.large_rules)
        check_positive_int_fields(self, ("n_train", "epochs_cpu", "epochs_gpu", "batch_size",
                                         "small_hidden", "large_hidden", "chain_steps",
                                         "n_chain_samples"))
        check_float_fields(self, ("lr",), minimum=0, open_below=True)
        check_float_fields(self, ("momentum",), minimum=0, maximum=1, open_above=True)


def data_log_odds(x: torch.Tensor, low: float = 0.01, high: float = 0.99) -> torch.Tensor:
    """log(p / (1 − p)) of each column's mean p of ``x`` ``[N, D]``, p clamped to [low, high].

    The visible biases of an RBM whose hidden units are silent reproduce the pixel means
    (Hinton's practical guide); the clamp keeps always-off or always-on pixels finite.
    Returns ``[D]``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a float tensor [N, D] of binary rows, got {got}.")
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1, got low={low!r}, high={high!r}.")
    p = x.mean(0).clamp(low, high)
    return torch.log(p / (1 - p))


def rbm_with_data_log_odds(x: torch.Tensor, n_hidden: int, seed: int) -> BernoulliRBM:
    """A :class:`BernoulliRBM` for the binary rows ``x`` ``[N, D]``, on ``x``'s device.

    Weights drawn from a generator seeded with ``seed`` (N(0, 0.01²)), hidden biases 0,
    visible biases at :func:`data_log_odds` of ``x`` (Hinton's practical guide), as in
    chapters 3 and 11.
    """
    model = BernoulliRBM(x.shape[1], n_hidden, generator=torch.Generator().manual_seed(seed))
    model = model.to(x.device)
    with torch.no_grad():
        model.visible_bias.copy_(data_log_odds(x))
    return model


def binarised_digits_split(
    n_train: int, seed: int, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1797 digits binarised at ½ and flattened, split by a seeded permutation.

    Returns ``(x_train [n_train, 64], x_test [1797 − n_train, 64])`` on ``device``; the
    permutation is drawn from a CPU generator seeded with ``seed`` (chapter 3's data).
    """
    from genmodels.core import data

    digits = data.load_digits()
    x_all = data.binarize(data.to_float_images(digits)).reshape(len(digits.images), -1)
    x_all = x_all.to(device)
    if not is_int(n_train) or not 0 < n_train < len(x_all):
        raise ValueError(f"n_train must be an int between 1 and {len(x_all) - 1}, got {n_train!r}.")
    perm = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed)).to(device)
    return x_all[perm[:n_train]], x_all[perm[n_train:]]


def train_rbms_by_rule(
    x_train: torch.Tensor,
    n_hidden: int,
    rules: Sequence[str],
    *,
    epochs: int,
    seeds: tuple[int, int],
    lr: float,
    momentum: float,
    batch_size: int,
    metrics: dict[str, Callable[[BernoulliRBM], float]] | None = None,
) -> dict[str, tuple[BernoulliRBM, History]]:
    """Train one RBM per training rule, everything else equal: rule name → (model, history).

    Each model starts from :func:`rbm_with_data_log_odds` with the weight seed
    ``seeds[0]`` and is trained by :func:`train_rbm` with a generator seeded with
    ``seeds[1]`` (the same shuffles for every rule) and the rule's keyword arguments of
    :data:`TRAINING_RULES` (CD-k or PCD): only the negative samples of the gradient
    eq-cd-gradient differ. ``metrics`` are recorded with the monitors, before training
    and once per epoch (``history.epoch_values``). Book: chapter 3.
    """
    _check_rules(rules)
    weight_seed, training_seed = seeds
    trained = {}
    for name in rules:
        model = rbm_with_data_log_odds(x_train, n_hidden, weight_seed)
        history = train_rbm(
            model, x_train, epochs=epochs, lr=lr, momentum=momentum, batch_size=batch_size,
            generator=torch.Generator().manual_seed(training_seed), metrics=metrics,
            **TRAINING_RULES[name],
        )
        trained[name] = (model, history)
    return trained


def train_small_rbms(
    x_train: torch.Tensor, x_test: torch.Tensor, settings: DigitsRBMSettings, epochs: int
) -> dict[str, tuple[BernoulliRBM, History]]:
    """Chapter 3's small RBMs: one per rule of ``settings.rules``, recording the exact test
    log-likelihood (``epoch_values["test_log_likelihood"]``, nats per image) before
    training and once per epoch.

    ``x_train`` ``[N, D]``, ``x_test`` ``[M, D]`` binary. See :func:`train_rbms_by_rule`.
    """
    s = settings
    return train_rbms_by_rule(
        x_train, s.small_hidden, s.rules, epochs=epochs, seeds=s.small_seeds, lr=s.lr,
        momentum=s.momentum, batch_size=s.batch_size,
        metrics={"test_log_likelihood": lambda m: exact_log_likelihood(m, x_test).mean()},
    )


def train_large_rbms(
    x_train: torch.Tensor, settings: DigitsRBMSettings, epochs: int
) -> dict[str, tuple[BernoulliRBM, History]]:
    """Chapter 3's large RBMs (too large for the exact likelihood): one per rule of
    ``settings.large_rules``. See :func:`train_rbms_by_rule`."""
    s = settings
    return train_rbms_by_rule(
        x_train, s.large_hidden, s.large_rules, epochs=epochs, seeds=s.large_seeds, lr=s.lr,
        momentum=s.momentum, batch_size=s.batch_size,
    )


class LongChainFreeEnergies(NamedTuple):
    """Mean free energies of test images and of long-chain samples, and the test PLL (nats)."""

    free_energy_test: float
    free_energy_samples: float
    test_pseudo_log_likelihood: float


@torch.no_grad()
def long_chain_free_energies(
    rbm: BernoulliRBM,
    x_test: torch.Tensor,
    n_chains: int,
    n_steps: int,
    generator: torch.Generator | None = None,
) -> LongChainFreeEnergies:
    """Compare the model's long-chain samples with test images by their free energy.

    Draws ``n_chains`` samples by ``n_steps`` block-Gibbs steps from noise
    (:meth:`BernoulliRBM.sample`) and returns the mean free energy (eq-rbm-free-energy) of
    ``x_test`` ``[M, D]`` and of the samples, and the mean test pseudo-log-likelihood. If
    the model matched the data the two free energies would agree. Book: chapter 3.
    """
    samples = rbm.sample(n_chains, n_steps, generator)
    return LongChainFreeEnergies(
        free_energy_test=float(rbm.free_energy(x_test).mean()),
        free_energy_samples=float(rbm.free_energy(samples).mean()),
        test_pseudo_log_likelihood=float(pseudo_log_likelihood(rbm, x_test).mean()),
    )


@torch.no_grad()
def gibbs_snapshots(
    rbm: BernoulliRBM,
    start: torch.Tensor,
    steps: Sequence[int],
    generator: torch.Generator | None = None,
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """Run block Gibbs from ``start`` ``[B, D]`` and keep the chains after each of ``steps``.

    ``steps`` are increasing positive step counts. Returns ``(states, probs)``: step count
    → the binary states ``[B, D]`` after that many steps, and → the visible probabilities
    p(v | h) ``[B, D]`` of the last step (a smoother picture of the same chains).
    Book: eq-rbm-conditionals (chapter 3); chapter 11 measures sample quality this way.
    """
    steps = list(steps)
    check_positive_ints(steps, "steps", increasing=True)
    rbm._check_layer(start, rbm.n_visible, "start")
    states: dict[int, torch.Tensor] = {}
    probs: dict[int, torch.Tensor] = {}
    v, done = start, 0
    for t in steps:
        for _ in range(t - done):
            h, _ = rbm.sample_hidden(v, generator)
            v, p = rbm.sample_visible(h, generator)
        states[t], probs[t], done = v, p, t
    return states, probs
