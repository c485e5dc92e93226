"""Device choice and seeding: the same code path on CUDA, Apple MPS and the CPU."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from genmodels.core.validation import check_int


def _parse_device(choice: object, where: str) -> torch.device:
    """``torch.device(choice)``, or a ValueError that names where the string came from."""
    if isinstance(choice, torch.device):
        return choice
    if not isinstance(choice, str):
        raise TypeError(f"{where} must be a device name such as 'cpu', 'cuda:1' or 'mps', got "
                        f"{type(choice).__name__} {choice!r}.")
    try:
        return torch.device(choice)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"{where} is {choice!r}, which is not a device: expected 'cpu', "
                         "'cuda[:N]' or 'mps' (lower case).") from err


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then the CPU.

    ``prefer`` (or the environment variable ``GENMODELS_DEVICE``) forces a device such
    as ``"cpu"`` or ``"cuda:1"``; asking for one that is not available is an error, not a
    silent fallback.
    """
    choice = prefer or os.environ.get("GENMODELS_DEVICE")
    if choice:
        device = _parse_device(choice, "prefer" if prefer else "the environment variable "
                               "GENMODELS_DEVICE")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"device {choice!r} was requested but CUDA is not available here; "
                "unset GENMODELS_DEVICE or ask for 'cpu'."
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(
                f"device {choice!r} was requested but Apple MPS is not available here; "
                "unset GENMODELS_DEVICE or ask for 'cpu'."
            )
        if device.type not in {"cpu", "cuda", "mps"}:
            raise ValueError(f"unknown device {choice!r} (from {'prefer' if prefer else 'GENMODELS_DEVICE'}): "
                             "expected 'cpu', 'cuda[:N]' or 'mps'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a CPU ``torch.Generator``.

    With ``deterministic=True`` cuDNN is asked for deterministic kernels, so two runs on
    the same machine print the same numbers.
    """
    check_int(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds the legacy global state that user code may use
    torch.manual_seed(seed)  # also seeds every CUDA/MPS device
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def budget_for(device: torch.device, cpu: int, gpu: int) -> int:
    """The one visible knob of a notebook: a training budget chosen by device.

    Returns ``gpu`` on a CUDA or MPS device and ``cpu`` otherwise; the training code is
    the same on both.
    """
    return gpu if device.type in {"cuda", "mps"} else cpu


def describe_device(device: torch.device) -> str:
    """A one-line description of ``device`` for notebooks and benchmark tables."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"
