"""Tests of genmodels.measure.classifier: accuracy on the real test split, shapes, errors, cache."""

from __future__ import annotations

import copy

import pytest
import torch

from genmodels.core import data
from genmodels.measure import classifier
from genmodels.measure.classifier import FashionClassifier


def _has_fashion() -> bool:
    try:
        data.fetch_dataset_file("fashion-mnist", "t10k-labels-idx1-ubyte", download=False)
    except data.DatasetNotFoundError:
        return False
    return True


needs_fashion = pytest.mark.skipif(not _has_fashion(), reason="no local Fashion-MNIST")


@pytest.fixture(scope="module")
def fashion_test():
    test = data.load_fashion_mnist("test", download=False)
    return data.to_float_images(test), test.labels


@needs_fashion
@pytest.mark.slow
def test_cached_classifier_is_accurate_on_the_real_test_split(fashion_test):
    # Trains once (about a minute on 2 CPU cores) into the user cache, loads afterwards.
    clf = classifier.load_fashion_classifier(device="cpu", verbose=False)
    x, y = fashion_test
    # Independent of the recorded number: count correct argmax predictions ourselves.
    with torch.no_grad():
        logits = torch.cat([clf(x[i : i + 2000]) for i in range(0, len(x), 2000)])
    accuracy = (logits.argmax(1) == y).double().mean().item()
    assert accuracy > 0.85
    assert clf.test_accuracy == pytest.approx(accuracy, abs=1e-9)
    assert clf.info["version"] == classifier.CLASSIFIER_VERSION and clf.info["train_seconds"] > 0
    assert not clf.training


def test_features_and_probs_shapes_and_normalisation():
    torch.manual_seed(0)
    clf = FashionClassifier().eval()
    x = torch.rand(7, 1, 28, 28)
    feats, probs = clf.features(x, batch_size=3), clf.probs(x, batch_size=3)
    assert feats.shape == (7, clf.feature_dim) == (7, 128) and (feats >= 0).all()  # post-ReLU
    assert probs.shape == (7, 10) and (probs >= 0).all()
    torch.testing.assert_close(probs.sum(1), torch.ones(7), rtol=0, atol=1e-6)
    # Chunking changes nothing, and probs is the softmax of the logits (reference: exp/sum).
    with torch.no_grad():
        logits = clf(x)
    reference = logits.exp() / logits.exp().sum(1, keepdim=True)
    torch.testing.assert_close(clf.probs(x, batch_size=100), reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(clf.features(x, batch_size=100), feats)
    assert not probs.requires_grad and clf.predict(x).shape == (7,)
    assert clf.features(torch.empty(0, 1, 28, 28)).shape == (0, 128)


def test_cpu_evaluation_matches_a_float64_reference_in_the_default_layout():
    # On a CPU the classifier evaluates in channels-last layout (float32); the reference is
    # the same network run layer by layer in float64 and the default NCHW layout.
    torch.manual_seed(0)
    clf = FashionClassifier()
    for block in clf.body[:2]:  # batch-norm statistics far from the identity
        block[1].running_mean.uniform_(-0.5, 0.5)
        block[1].running_var.uniform_(0.5, 2.0)
    clf.eval()
    reference = copy.deepcopy(clf).double()
    x = torch.rand(700, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference.body((x.double() - 0.2860) / 0.3530)
    got = clf.features(x)  # two chunks of the default batch size
    assert got.dtype == torch.float32 and got.is_contiguous()
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(clf.probs(x), torch.softmax(reference.head(expected), 1).float(),
                               rtol=1e-5, atol=1e-6)
    assert clf.body[1][0].weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        clf.features(x, batch_size=0)


def test_features_use_eval_mode_and_restore_the_training_flag():
    torch.manual_seed(0)
    clf = FashionClassifier()
    clf.body[0][1].running_mean.fill_(0.3)  # make train- and eval-mode batch norm differ
    clf.train()
    x = torch.rand(5, 1, 28, 28)
    one_by_one = torch.cat([clf.features(x[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(clf.features(x), one_by_one)  # no batch statistics used
    assert clf.training


def test_wrong_input_gives_a_clear_error():
    clf = FashionClassifier()
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\] in \[0, 1\], got \(4, 784\)"):
        clf.features(torch.rand(4, 784))
    with pytest.raises(ValueError, match=r"got \(4, 28, 28\)"):
        clf.probs(torch.rand(4, 28, 28))
    with pytest.raises(TypeError, match="to_float_images"):
        clf(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="labels must have shape"):
        classifier.classification_accuracy(clf, torch.rand(4, 1, 28, 28), torch.zeros(3))


@needs_fashion
def test_short_training_round_trips_through_the_cache(tmp_path, monkeypatch):
    # A 2-second training run: checks the recipe runs, is recorded and is cached/reused.
    model = classifier.train_fashion_classifier(seconds=2.0, seed=3, device="cpu")
    assert 0.0 <= model.test_accuracy <= 1.0 and model.info["steps"] > 0
    path = classifier.classifier_cache_path(seed=3, cache_dir=tmp_path)
    classifier.save_fashion_classifier(model, path)
    assert path.name == f"fashion-cnn-v{classifier.CLASSIFIER_VERSION}-seed3.pt"

    def no_training(**kwargs):
        raise AssertionError("a cached classifier must be loaded, not retrained")

    monkeypatch.setattr(classifier, "train_fashion_classifier", no_training)
    loaded = classifier.load_fashion_classifier("cpu", seed=3, cache_dir=tmp_path, verbose=False)
    assert loaded.test_accuracy == model.test_accuracy and loaded.info == model.info
    assert not loaded.training
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded.features(x), model.features(x))
    torch.testing.assert_close(loaded.probs(x), model.probs(x))


def test_corrupt_or_stale_cache_is_an_error_naming_the_file(tmp_path):
    path = classifier.classifier_cache_path(seed=0, cache_dir=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="retrain=True") as info:
        classifier.load_fashion_classifier("cpu", cache_dir=tmp_path, verbose=False)
    assert str(path) in str(info.value)
    model = FashionClassifier()
    model.test_accuracy, model.info = 0.5, {}
    classifier.save_fashion_classifier(model, path)
    payload = torch.load(path, weights_only=True)
    payload["config"]["version"] = classifier.CLASSIFIER_VERSION - 1
    torch.save(payload, path)
    with pytest.raises(ValueError, match="has version"):
        classifier.load_fashion_classifier("cpu", cache_dir=tmp_path, verbose=False)


def test_training_budget_is_validated():
    with pytest.raises(ValueError, match="epochs >= 1 or seconds > 0"):
        classifier.train_fashion_classifier(epochs=0)
    with pytest.raises(ValueError, match="seconds must be positive"):
        classifier.train_fashion_classifier(seconds=-1)


def _stub_fashion(n_train: int, n_test: int):
    """load_fashion_mnist for random uint8 images: n_train training, n_test test images."""
    def load(split: str = "train", **kwargs):
        n = n_train if split == "train" else n_test
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        return data.ImageDataset(
            images=torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
            labels=torch.randint(0, 10, (n,), generator=g), classes=tuple("abcdefghij"),
            name=f"stub/{split}", pixel_max=255)
    return load


def test_training_is_adam_with_warm_up_and_linear_decay_over_shuffled_passes(monkeypatch):
    # The recipe written out in plain torch: the same seeds, the same permutations (one
    # per pass, from a CPU generator seeded with the seed), lr(f) = lr · min(f / 0.05, 1,
    # (1 − f) / 0.95) + 1e-6 at the share f = step / total of the budget.
    monkeypatch.setattr(classifier, "load_fashion_mnist", _stub_fashion(70, 20))
    model = classifier.train_fashion_classifier(epochs=2, seed=5, device="cpu", batch_size=4,
                                                lr=1e-2)
    total = 2 * 18  # ceil(70 / 4) = 18 steps per pass: the first two are in the warm-up
    assert model.info["steps"] == total and model.info["epochs"] == 2.0

    train_set = _stub_fashion(70, 20)("train")
    g = torch.Generator().manual_seed(5)
    torch.manual_seed(5)
    reference = FashionClassifier()
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2)
    reference.train()
    step = 0
    for _ in range(2):
        perm = torch.randperm(70, generator=g)
        for start in range(0, 70, 4):
            idx = perm[start:start + 4]
            f = step / total
            for group in optimizer.param_groups:
                group["lr"] = 1e-2 * min(f / 0.05, 1.0, (1.0 - f) / 0.95) + 1e-6
            x = train_set.images[idx].unsqueeze(1).float() / 255.0
            loss = torch.nn.functional.cross_entropy(reference(x), train_set.labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    for (name, got), (_, want) in zip(model.state_dict().items(), reference.state_dict().items(),
                                      strict=True):
        torch.testing.assert_close(got, want, msg=name)


def test_a_truncated_cache_gets_the_delete_or_retrain_advice(tmp_path):
    """Issue 18: a truncated checkpoint raised a bare OSError, skipping this advice."""
    path = classifier.classifier_cache_path(seed=0, cache_dir=tmp_path)
    model = FashionClassifier()
    model.test_accuracy, model.info = 0.5, {}
    classifier.save_fashion_classifier(model, path)
    raw = path.read_bytes()
    for cut in (len(raw) // 3, len(raw) // 2, len(raw) - 100):
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="delete it or call load_fashion_classifier"):
            classifier.load_fashion_classifier("cpu", cache_dir=tmp_path, verbose=False)
