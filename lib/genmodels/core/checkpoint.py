"""Checkpoints that carry their own configuration, loaded safely with ``weights_only=True``.

A checkpoint is one file holding three things: the model's ``state_dict``, the
configuration that builds the model (plain Python types only) and, optionally, the
training :class:`~genmodels.core.train.History`. Loading never unpickles arbitrary objects:
``torch.load(..., weights_only=True)`` only accepts tensors and plain containers, so a
checkpoint downloaded from elsewhere cannot run code. The model is rebuilt by a function
you pass, ``build(config) -> nn.Module``, and then receives the weights.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genmodels.core.train import History

__all__ = ["load_checkpoint", "save_checkpoint"]

FORMAT = "genmodels-checkpoint"
VERSION = 1

_PLAIN_SCALARS = (bool, int, float, str, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Raise if ``value`` contains anything but None/bool/int/float/str, lists, tuples and
    dicts with string keys (what ``weights_only=True`` loads back unchanged)."""
    if isinstance(value, _PLAIN_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"config key {key!r} at {where} must be a str, got {type(key).__name__}.")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"config value at {where} is a {type(value).__name__} ({value!r}); only None, bool, int, "
        "float, str, lists, tuples and dicts of them are allowed, so that the checkpoint loads "
        "with weights_only=True. Store a name instead (e.g. activation='relu')."
    )


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    config: Mapping[str, Any],
    history: History | None = None,
) -> Path:
    """Save ``model``'s weights with the ``config`` that rebuilds it (and its ``history``).

    Args:
        path: the file to write (parent folders are created). It is written to a
            temporary file first and then renamed, so an interrupted save never leaves a
            truncated checkpoint behind.
        model: any ``nn.Module``; only its ``state_dict`` is stored.
        config: plain types only (e.g. ``{"latent_dim": 2, "hidden": [512, 256]}``) —
            the argument later given to ``build`` in :func:`load_checkpoint`.
        history: the training record, stored as plain types.

    Returns:
        the path written.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of plain values, got {type(config).__name__}.")
    config = dict(config)
    _check_plain(config, "config")
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be a genmodels.core.train.History or None, got {type(history).__name__}.")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": None if history is None else history.to_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary file in the same directory: two processes saving the same
    # checkpoint at once (e.g. two notebooks caching the classifier) never clash.
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    build: Callable[[dict[str, Any]], nn.Module],
    map_location: str | torch.device | None = None,
) -> tuple[nn.Module, dict[str, Any], History | None]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        build: ``build(config) -> nn.Module`` creates the architecture, e.g.
            ``lambda c: MLPAutoencoder(**c)``; the stored weights are then loaded into it.
        map_location: the device for the model (default: the device ``build`` put it on).

    Returns:
        ``(model, config, history)``; ``history`` is ``None`` if none was saved. The model
        is in the mode ``build`` left it in (call ``.eval()`` before sampling).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a genmodels checkpoint, contains objects that
            ``weights_only=True`` refuses, or ``build(config)`` fails or builds a model
            whose parameters do not match the stored weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {str(path)!r}: train the model and save it with "
            "genmodels.core.checkpoint.save_checkpoint(path, model, config), or fix the path."
        )
    payload = _read_payload(path)
    config = payload["config"]
    try:
        model = build(dict(config))
    except Exception as err:
        raise ValueError(
            f"build(config) failed for the config stored in {str(path)!r}: {config!r}. The "
            f"build function must accept this config. ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(model, nn.Module):
        raise ValueError(f"build(config) must return a torch.nn.Module, got {type(model).__name__}.")
    if map_location is not None:
        model = model.to(map_location)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(
            f"the model built from config {config!r} does not match the weights stored in "
            f"{str(path)!r}; was the checkpoint saved with a different config?\n{err}"
        ) from err
    return model, config, _history_of(payload, path)


def _read_payload(path: Path) -> dict[str, Any]:
    """The checked content of a checkpoint file: a dict with this module's ``format`` and
    ``version``, a ``config`` dict and a ``state_dict`` dict of tensors; else ValueError."""
    advice = "Re-save it with genmodels.core.checkpoint.save_checkpoint (or delete it)."
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, ValueError,
            AttributeError, TypeError, IndexError, UnicodeDecodeError) as err:
        # A truncated zip raises OSError or RuntimeError, a text file KeyError or
        # UnpicklingError...: all mean "not a readable checkpoint".
        raise ValueError(
            f"{str(path)!r} cannot be loaded safely with torch.load(weights_only=True): it is "
            f"truncated, corrupted or holds arbitrary Python objects. {advice} "
            f"({type(err).__name__}: {err})"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a genmodels checkpoint (expected a dict with format={FORMAT!r}); "
            "save checkpoints with genmodels.core.checkpoint.save_checkpoint."
        )
    if payload.get("version") != VERSION:
        raise ValueError(
            f"{str(path)!r} is a genmodels checkpoint of format version "
            f"{payload.get('version')!r}, but this code reads version {VERSION}. {advice}"
        )
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise ValueError(
                f"{str(path)!r} has no {key} (expected a dict, got "
                f"{type(payload.get(key)).__name__}); the file is incomplete. {advice}"
            )
    return payload


def _history_of(payload: dict[str, Any], path: Path) -> History | None:
    if payload.get("history") is None:
        return None
    try:
        return History.from_dict(payload["history"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"the training history stored in {str(path)!r} is malformed "
                         f"({type(err).__name__}: {err}). Re-save the checkpoint.") from err
