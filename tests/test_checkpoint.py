"""Tests of genmodels.core.checkpoint: round trip, weights_only loading, clear errors."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from genmodels.core.checkpoint import load_checkpoint, save_checkpoint
from genmodels.core.train import History


class TinyNet(nn.Module):
    def __init__(self, in_dim: int, hidden: list[int], out_dim: int) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), nn.Tanh()]
        self.net = nn.Sequential(*layers[:-1], nn.BatchNorm1d(out_dim))

    def forward(self, x):
        return self.net(x)


def build(config):
    return TinyNet(**config)


CONFIG = {"in_dim": 3, "hidden": [5, 4], "out_dim": 2}


def _trained_model():
    torch.manual_seed(0)
    model = build(CONFIG)
    model.train()
    model(torch.randn(16, 3))  # updates BatchNorm's running statistics (buffers)
    return model.eval()


def test_round_trip_same_outputs_config_and_history(tmp_path):
    model = _trained_model()
    history = History(steps=[0, 1, 2], values={"loss": [3.0, 2.0, 1.5]}, epochs=1, n_steps=3,
                      wall_time=0.5, stopped_by="epochs", epoch_values={"test": [0.25]})
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model, CONFIG, history)
    assert path.is_file()
    assert not list(tmp_path.glob("sub/*.tmp"))

    torch.manual_seed(123)  # a differently initialised network receives the weights
    loaded, config, hist = load_checkpoint(path, build)
    loaded.eval()
    x = torch.randn(8, 3)
    assert torch.equal(loaded(x), model(x))
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert config == CONFIG
    assert hist == history


def test_history_is_optional(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _trained_model(), CONFIG)
    _, _, hist = load_checkpoint(path, build)
    assert hist is None


def test_file_loads_with_weights_only(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _trained_model(), CONFIG)
    payload = torch.load(path, weights_only=True)  # the safe loader accepts it
    assert payload["config"] == CONFIG


def test_weights_only_is_honoured(tmp_path):
    """A pickle of an arbitrary object is refused instead of being executed."""
    path = tmp_path / "evil.pt"

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(path, "wb") as f:
        pickle.dump({"format": "genmodels-checkpoint", "obj": Payload()}, f, protocol=2)
    with pytest.raises(ValueError, match="weights_only=True"):
        load_checkpoint(path, build)


def test_config_must_be_plain(tmp_path):
    with pytest.raises(TypeError, match=r"config\['activation'\].*ReLU"):
        save_checkpoint(tmp_path / "m.pt", _trained_model(), {**CONFIG, "activation": nn.ReLU})
    with pytest.raises(TypeError, match="must be a str"):
        save_checkpoint(tmp_path / "m.pt", _trained_model(), {1: 2})


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*save_checkpoint"):
        load_checkpoint(tmp_path / "nope.pt", build)


def test_config_that_does_not_build(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _trained_model(), CONFIG)

    def bad_build(config):
        return TinyNet(**config, dropout=0.1)

    with pytest.raises(ValueError, match="build\\(config\\) failed"):
        load_checkpoint(path, bad_build)


def test_config_that_builds_the_wrong_shape(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _trained_model(), CONFIG)
    with pytest.raises(ValueError, match="does not match the weights"):
        load_checkpoint(path, lambda c: TinyNet(c["in_dim"], [7], c["out_dim"]))


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a genmodels checkpoint"):
        load_checkpoint(path, build)


def test_map_location(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _trained_model(), CONFIG)
    model, _, _ = load_checkpoint(path, build, map_location="cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_every_truncation_and_text_file_is_a_value_error(tmp_path):
    """Issue 18: a truncated file raised a bare OSError at 41 of 89 cut points, some text
    files a KeyError: callers that catch ValueError (the classifier cache) missed them."""
    path = save_checkpoint(tmp_path / "m.pt", _trained_model(), CONFIG)
    raw = path.read_bytes()
    cut = tmp_path / "cut.pt"
    for n in sorted(set(range(0, len(raw), max(1, len(raw) // 89))) | {1, len(raw) - 1}):
        cut.write_bytes(raw[:n])
        with pytest.raises(ValueError, match="cannot be loaded safely|not a genmodels checkpoint"):
            load_checkpoint(cut, build)
    for text in ("", "hello", "PK\x03\x04 not a zip", "{'config': 1}", "\x80\x02}q\x00."):
        cut.write_text(text)
        with pytest.raises(ValueError):
            load_checkpoint(cut, build)


def test_missing_config_and_other_version_are_named(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"format": "genmodels-checkpoint", "version": 1, "state_dict": {}}, path)
    with pytest.raises(ValueError, match="has no config.*incomplete"):
        load_checkpoint(path, build)
    torch.save({"format": "genmodels-checkpoint", "version": 99, "config": {}, "state_dict": {}},
               path)
    with pytest.raises(ValueError, match="format version 99, but this code reads version 1"):
        load_checkpoint(path, build)
