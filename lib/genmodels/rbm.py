"""A Bernoulli restricted Boltzmann machine, sampled by block Gibbs, trained by CD-k/PCD.

Binary visible units v ∈ {0,1}^D and hidden units h ∈ {0,1}^H with energy

    E(v, h) = −bᵀv − cᵀh − vᵀWh                              (Book: eq-rbm-energy)

and p(v, h) = exp(−E(v, h)) / Z. Because there are no visible–visible or hidden–hidden
weights, each layer is conditionally independent given the other,

    p(h_j = 1 | v) = σ(c_j + vᵀW_{:,j}),  p(v_i = 1 | h) = σ(b_i + W_{i,:} h)
                                                              (Book: eq-rbm-conditionals)

so Gibbs sampling updates a whole layer at once (block Gibbs). Summing out h gives the
free energy F(v) = −bᵀv − Σ_j softplus(c_j + vᵀW_{:,j}) with p(v) = exp(−F(v))/Z
(Book: eq-rbm-free-energy). The log-likelihood gradient is a difference of a data and a
model expectation; contrastive divergence replaces the model expectation by samples of
a short Gibbs chain (Book: eq-cd-gradient, chapter 3).

Chapter 3's experiment with RBMs on the digits (CD-k against PCD, long chains, snapshots)
is :mod:`genmodels.experiments.rbm_digits`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.core.train import History, fit, minibatches
from genmodels.core.validation import check_float, check_int, check_positive_int, check_tensor

__all__ = [
    "BernoulliRBM",
    "contrastive_divergence_loss",
    "exact_log_likelihood",
    "log_partition_function",
    "pseudo_log_likelihood",
    "reconstruction_error",
    "train_rbm",
]


def _bernoulli(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Binary samples with P(1) = ``probs``; random numbers come from ``generator``'s device."""
    if generator is None or generator.device == probs.device:
        u = torch.rand(probs.shape, generator=generator, device=probs.device, dtype=probs.dtype)
    else:
        u = torch.rand(
            probs.shape, generator=generator, device=generator.device, dtype=probs.dtype
        ).to(probs.device, non_blocking=True)
    return (u < probs).to(probs.dtype)


class BernoulliRBM(nn.Module):
    """A restricted Boltzmann machine with binary visible and hidden units.

    Parameters: ``weight`` W ``[n_visible, n_hidden]``, ``visible_bias`` b ``[n_visible]``,
    ``hidden_bias`` c ``[n_hidden]``. W starts as N(0, ``init_std``²), the biases at zero.
    Book: eq-rbm-energy (chapter 3).
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        *,
        init_std: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_visible, "n_visible")
        check_positive_int(n_hidden, "n_hidden")
        check_float(init_std, "init_std", minimum=0, hint="the std of the initial weights")
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        w = torch.randn(n_visible, n_hidden, generator=generator) * init_std
        self.weight = nn.Parameter(w)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"

    # ----------------------------------------------------------------- input checks
    def _check_layer(self, x: torch.Tensor, size: int, name: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
        if not x.is_floating_point():
            raise TypeError(
                f"{name} must be a floating-point tensor of 0/1 values (or probabilities), "
                f"got dtype {x.dtype}; convert with .float()."
            )
        if x.ndim != 2 or x.shape[1] != size:
            raise ValueError(
                f"{name} must have shape [batch, {size}], got {tuple(x.shape)}; "
                "flatten images with x.reshape(len(x), -1)."
            )

    # ------------------------------------------------------------------- the model
    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = −bᵀv − cᵀh − vᵀWh for ``v`` ``[B, D]``, ``h`` ``[B, H]``; returns ``[B]``.

        Book: eq-rbm-energy (chapter 3).
        """
        self._check_layer(v, self.n_visible, "v")
        self._check_layer(h, self.n_hidden, "h")
        return -(v @ self.visible_bias) - (h @ self.hidden_bias) - ((v @ self.weight) * h).sum(1)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) = σ(c_j + vᵀW_{:,j}) for ``v`` ``[B, D]``; returns ``[B, H]``.

        Book: eq-rbm-conditionals (chapter 3).
        """
        self._check_layer(v, self.n_visible, "v")
        return torch.sigmoid(v @ self.weight + self.hidden_bias)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """p(v_i = 1 | h) = σ(b_i + W_{i,:} h) for ``h`` ``[B, H]``; returns ``[B, D]``.

        Book: eq-rbm-conditionals (chapter 3).
        """
        self._check_layer(h, self.n_hidden, "h")
        return torch.sigmoid(h @ self.weight.T + self.visible_bias)

    def sample_hidden(
        self, v: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw h ~ p(h | v) for ``v`` ``[B, D]``; returns ``(h, probs)``, each ``[B, H]``."""
        probs = self.hidden_probs(v)
        return _bernoulli(probs, generator), probs

    def sample_visible(
        self, h: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw v ~ p(v | h) for ``h`` ``[B, H]``; returns ``(v, probs)``, each ``[B, D]``."""
        probs = self.visible_probs(h)
        return _bernoulli(probs, generator), probs

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = −bᵀv − Σ_j softplus(c_j + vᵀW_{:,j}), so p(v) ∝ exp(−F(v)).

        ``v`` ``[B, D]``; returns ``[B]``. Book: eq-rbm-free-energy (chapter 3).
        """
        self._check_layer(v, self.n_visible, "v")
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight + self.hidden_bias).sum(1)

    def gibbs_step(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One block-Gibbs step v → h ~ p(h | v) → v' ~ p(v | h); ``v`` ``[B, D]`` → ``[B, D]``.

        Book: eq-rbm-conditionals (chapter 3).
        """
        h, _ = self.sample_hidden(v, generator)
        v_next, _ = self.sample_visible(h, generator)
        return v_next

    @torch.no_grad()
    def gibbs_chain(
        self,
        v: torch.Tensor,
        n_steps: int,
        generator: torch.Generator | None = None,
        record_every: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run block Gibbs from ``v`` ``[B, D]`` for ``n_steps`` and record every few steps.

        Returns ``(samples, probs)``, each ``[T, B, D]`` with T = n_steps // record_every + 1:
        the binary states and the visible probabilities p(v | h) that produced them (a
        smoother picture of the same chain); entry 0 is the start (probs = the start).
        """
        check_int(n_steps, "n_steps", minimum=0)
        check_positive_int(record_every, "record_every")
        self._check_layer(v, self.n_visible, "v")
        samples, probs = [v], [v]
        for t in range(1, n_steps + 1):
            h, _ = self.sample_hidden(v, generator)
            v, p = self.sample_visible(h, generator)
            if t % record_every == 0:
                samples.append(v)
                probs.append(p)
        return torch.stack(samples), torch.stack(probs)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        n_steps: int,
        generator: torch.Generator | None = None,
        *,
        start: torch.Tensor | None = None,
        return_probs: bool = False,
    ) -> torch.Tensor:
        """Draw ``n`` visible samples by ``n_steps`` of block Gibbs from Bernoulli(½) noise.

        ``start`` ``[n, D]`` replaces the noise. Returns ``[n, D]`` binary states, or the
        final visible probabilities p(v | h) when ``return_probs`` is true.
        """
        check_positive_int(n, "n")
        check_positive_int(n_steps, "n_steps")
        w = self.weight
        if start is None:
            start = _bernoulli(
                torch.full((n, self.n_visible), 0.5, dtype=w.dtype, device=w.device), generator
            )
        elif start.shape != (n, self.n_visible):
            raise ValueError(
                f"start must have shape [n, n_visible] = [{n}, {self.n_visible}], "
                f"got {tuple(start.shape)}."
            )
        v = start.to(w)
        for _ in range(n_steps - 1):
            v = self.gibbs_step(v, generator)
        h, _ = self.sample_hidden(v, generator)
        v, probs = self.sample_visible(h, generator)
        return probs if return_probs else v


# ------------------------------------------------------------------------ training
def contrastive_divergence_loss(
    rbm: BernoulliRBM, v_data: torch.Tensor, v_model: torch.Tensor
) -> torch.Tensor:
    """Surrogate loss whose gradient is the (negative) CD estimate of ∇ log p(v).

    mean F(v_data) − mean F(v_model), with ``v_model`` treated as a constant. Since
    ∂F/∂W = −v p(h=1|v)ᵀ (and similarly for the biases), its gradient is
    −(⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model): the log-likelihood gradient with the model
    expectation replaced by samples ``v_model`` (from a CD-k or persistent chain).
    Book: eq-cd-gradient (chapter 3).

    Args:
        v_data: a batch of training data ``[B, D]``.
        v_model: negative samples ``[M, D]`` (any M), e.g. from :meth:`BernoulliRBM.gibbs_step`.

    Returns:
        A scalar tensor; minimise it with any ``torch.optim`` optimiser.
    """
    return rbm.free_energy(v_data).mean() - rbm.free_energy(v_model.detach()).mean()


def pseudo_log_likelihood(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    """Exact pseudo-log-likelihood Σ_i log p(v_i | v_{−i}) of each row of ``v`` ``[B, D]``.

    Each term is log σ(F(ṽ⁽ⁱ⁾) − F(v)) where ṽ⁽ⁱ⁾ is v with bit i flipped (it needs no
    partition function). Costs D free-energy evaluations, vectorised; returns ``[B]`` in
    nats (higher is better). Book: eq-rbm-free-energy (chapter 3).
    """
    _check_data(rbm, v, "v")
    batch, dim = v.shape
    f_v = rbm.free_energy(v)  # [B]
    eye = torch.eye(dim, dtype=v.dtype, device=v.device)
    flipped = (v[:, None, :] + eye[None] - 2 * v[:, None, :] * eye[None]).reshape(-1, dim)
    f_flipped = rbm.free_energy(flipped).reshape(batch, dim)
    return F.logsigmoid(f_flipped - f_v[:, None]).sum(1)


@torch.no_grad()
def log_partition_function(
    rbm: BernoulliRBM, max_hidden: int = 24, chunk: int = 1 << 14
) -> torch.Tensor:
    """Exact log Z of a small RBM, by enumerating its 2^H hidden states.

    Summing out v instead of h (the mirror image of eq-rbm-free-energy):
    log Z = log Σ_h exp(cᵀh + Σ_i softplus(b_i + W_{i,:} h)). The cost is 2^H · D, so it is
    only allowed for ``n_hidden ≤ max_hidden``; the states are processed in chunks.
    Returns a 0-d tensor (float64 accumulation). Book: eq-rbm-free-energy (chapter 3).
    """
    n_hidden = rbm.n_hidden
    if n_hidden > max_hidden:
        raise ValueError(
            f"exact log Z enumerates 2^{n_hidden} hidden states; that is only allowed for "
            f"n_hidden <= max_hidden = {max_hidden}. Use pseudo_log_likelihood for big RBMs."
        )
    w = rbm.weight.double()
    b, c = rbm.visible_bias.double(), rbm.hidden_bias.double()
    bits = 2 ** torch.arange(n_hidden - 1, -1, -1, device=w.device)
    parts = []
    for first in range(0, 1 << n_hidden, chunk):
        idx = torch.arange(first, min(first + chunk, 1 << n_hidden), device=w.device)
        h = ((idx[:, None] & bits) > 0).double()  # [chunk, H]
        parts.append(torch.logsumexp(h @ c + F.softplus(h @ w.T + b).sum(1), 0))
    return torch.logsumexp(torch.stack(parts), 0)


@torch.no_grad()
def exact_log_likelihood(
    rbm: BernoulliRBM, v: torch.Tensor, log_z: torch.Tensor | None = None
) -> torch.Tensor:
    """Exact log p(v) = −F(v) − log Z of each row of binary ``v`` ``[B, D]``; returns ``[B]``.

    Only for small ``n_hidden`` (see :func:`log_partition_function`; pass ``log_z`` to
    reuse it). Book: eq-rbm-free-energy (chapter 3).
    """
    _check_data(rbm, v, "v")
    if log_z is None:
        log_z = log_partition_function(rbm)
    return -rbm.free_energy(v).double() - log_z


def reconstruction_error(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the mean-field reconstruction p(v | p(h | v)); ``[B, D]`` → ``[B]``.

    Cheap to monitor, but not a likelihood: it can fall while the model gets worse.
    """
    _check_data(rbm, v, "v")
    recon = rbm.visible_probs(rbm.hidden_probs(v))
    return ((v - recon) ** 2).mean(1)


def _check_data(rbm: BernoulliRBM, data: torch.Tensor, name: str = "data") -> None:
    rbm._check_layer(data, rbm.n_visible, name)
    if len(data) == 0:
        raise ValueError(f"{name} is empty: pass at least one row [1, {rbm.n_visible}].")
    check_tensor(data, name, hint="values in [0, 1] (binary, or probabilities)")
    if bool(((data < 0) | (data > 1)).any()):
        raise ValueError(
            f"{name} must hold values in [0, 1] (binary, or probabilities); got values outside; "
            "scale images with genmodels.core.data.to_float_images and binarize them."
        )


def train_rbm(
    rbm: BernoulliRBM,
    data: torch.Tensor,
    *,
    epochs: int | None = None,
    seconds: float | None = None,
    k: int = 1,
    persistent: bool = False,
    lr: float = 0.05,
    momentum: float = 0.5,
    optimizer: str = "sgd",
    weight_decay: float = 0.0,
    batch_size: int = 64,
    n_persistent: int | None = None,
    monitor: torch.Tensor | None = None,
    metrics: dict[str, Callable[[BernoulliRBM], float]] | None = None,
    generator: torch.Generator | None = None,
) -> History:
    """Train ``rbm`` on ``data`` ``[N, D]`` (values in [0, 1]) by CD-k or persistent CD.

    Each update: the positive phase uses a data batch; the negative samples come from k
    block-Gibbs steps started at the batch (CD-k) or at persistent "fantasy" chains that
    carry over between updates (PCD, Tieleman 2008). The gradient is that of
    :func:`contrastive_divergence_loss` (Book: eq-cd-gradient, chapter 3), applied with SGD
    with momentum or Adam; ``weight_decay`` is L2 on all parameters. The loop is
    :func:`genmodels.core.train.fit` over shuffled minibatches of ``data``.

    The monitoring quantities (reconstruction error and pseudo-log-likelihood on
    ``monitor``, default the first ≤ 500 rows of ``data``) are computed once before
    training and after every epoch (and after a last, partial epoch that ``seconds``
    stopped).

    Args:
        epochs, seconds: the budget; give one or both (training stops at the first reached;
            the seconds count the monitoring too).
        k: Gibbs steps per update (≥ 1).
        persistent: PCD instead of CD-k.
        n_persistent: number of persistent chains (default ``batch_size``).
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        metrics: extra quantities recorded with the monitors, name → ``fn(rbm) -> float``
            (e.g. the exact test log-likelihood of a small RBM).
        generator: makes the chains' start, shuffling and Gibbs noise reproducible (drawn
            in that order).

    Returns:
        fit's :class:`~genmodels.core.train.History`: per update the surrogate loss
        (``values["loss"]``); per record the monitors (``epoch_values``:
        ``reconstruction_error`` — mean over the monitor set, per unit —,
        ``pseudo_log_likelihood`` — mean nats per example — and each of ``metrics``),
        taken after ``epoch_steps`` updates; the first record (step 0) is the untrained model.
    """
    _check_data(rbm, data)
    check_positive_int(k, "k", hint="Gibbs steps per update")
    check_positive_int(batch_size, "batch_size")
    check_float(lr, "lr", minimum=0, open_below=True, hint="learning rate")
    check_float(momentum, "momentum", minimum=0, maximum=1, open_above=True)
    check_float(weight_decay, "weight_decay", minimum=0)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            rbm.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    elif optimizer == "adam":
        opt = torch.optim.Adam(rbm.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    param = rbm.weight
    data = data.to(param)
    if monitor is not None:
        _check_data(rbm, monitor, "monitor")
    monitor = data[:500] if monitor is None else monitor.to(param)
    metrics = dict(metrics or {})

    @torch.no_grad()
    def monitored(epoch: int, history: History) -> dict[str, float]:
        values = {
            "reconstruction_error": float(reconstruction_error(rbm, monitor).mean()),
            "pseudo_log_likelihood": float(pseudo_log_likelihood(rbm, monitor).mean()),
        }
        values.update({name: float(fn(rbm)) for name, fn in metrics.items()})
        return values

    chains = None
    if persistent:
        n_chains = n_persistent or batch_size
        noise = torch.full((n_chains, rbm.n_visible), 0.5, dtype=param.dtype, device=param.device)
        chains = _bernoulli(noise, generator)

    def step(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        nonlocal chains
        with torch.no_grad():
            v = chains if persistent else batch
            for _ in range(k):
                v = rbm.gibbs_step(v, generator)
            if persistent:
                chains = v
        loss = contrastive_divergence_loss(rbm, batch, v)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss}

    history = fit(step, lambda: minibatches(data, batch_size=batch_size, generator=generator),
                  epochs=epochs, seconds=seconds, progress=False, on_epoch_end=monitored,
                  evaluate_at_start=True)
    if history.epoch_steps[-1] != history.n_steps:  # ``seconds`` stopped an epoch midway
        history.record_epoch_values(monitored(history.epochs, history))
    return history


"""The training rules compared in chapter 3: keyword arguments of :func:`train_rbm`."""
