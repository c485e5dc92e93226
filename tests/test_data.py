"""Tests of genmodels.core.data: real Fashion-MNIST, the search order, corrupted files, digits.

The Fashion-MNIST tests read the local copy (Debian's dataset-fashion-mnist, or
GENMODELS_DATA_DIR, or the user cache) and are skipped where there is none: tests never
use the network (downloads are tested against a local server in test_download.py).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.core import data

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


# Captured at import, before any test points the library elsewhere.
_REAL_DIRS = (data.DEBIAN_DATA_DIR / "fashion-mnist", data.default_cache_dir() / "fashion-mnist")


def _local_fashion_file(filename: str) -> Path | None:
    """A local copy of a Fashion-MNIST file (found without the library), or None."""
    for d in _REAL_DIRS:
        for p in (d / f"{filename}.gz", d / filename):
            if p.is_file():
                return p
    return None


def _raw_content(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


needs_fashion = pytest.mark.skipif(
    _local_fashion_file("train-images-idx3-ubyte") is None,
    reason="no local Fashion-MNIST (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No Debian directory, no GENMODELS_DATA_DIR, an empty cache, no reachable server."""
    monkeypatch.setattr(data, "DEBIAN_DATA_DIR", tmp_path / "debian")
    monkeypatch.delenv("GENMODELS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GENMODELS_FASHION_MNIST_URL", "http://127.0.0.1:9/")  # discard port
    monkeypatch.setenv("GENMODELS_MNIST_URL", "http://127.0.0.1:9/")
    return tmp_path


def _test_labels() -> bytes:
    path = _local_fashion_file("t10k-labels-idx1-ubyte")
    if path is None:
        pytest.skip("no local Fashion-MNIST")
    return _raw_content(path)


# ------------------------------------------------------------------ real Fashion-MNIST


@needs_fashion
def test_fashion_mnist_train_and_test_are_complete_and_balanced():
    train = data.load_fashion_mnist("train", download=False)
    test = data.load_fashion_mnist("test", download=False)
    for ds, n, split in ((train, 60000, "train"), (test, 10000, "test")):
        assert ds.images.shape == (n, 28, 28) and ds.images.dtype == torch.uint8
        assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
        assert ds.classes == FASHION_CLASSES
        assert ds.name == f"fashion-mnist/{split}" and ds.pixel_max == 255 and len(ds) == n
        # Fashion-MNIST is exactly balanced: 6000 / 1000 images per class.
        assert torch.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10
        assert int(ds.images.min()) == 0 and int(ds.images.max()) == 255


@needs_fashion
def test_fashion_mnist_pixels_match_an_independent_read_of_the_idx_file():
    # Independent reference: the IDX layout by hand (16-byte header, then row-major pixels).
    raw = _raw_content(_local_fashion_file("t10k-images-idx3-ubyte"))
    assert struct.unpack(">IIII", raw[:16]) == (0x803, 10000, 28, 28)
    expected = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(10000, 28, 28)
    labels = np.frombuffer(_test_labels(), dtype=np.uint8, offset=8)
    test = data.load_fashion_mnist("test", download=False)
    assert np.array_equal(test.images.numpy(), expected)
    assert np.array_equal(test.labels.numpy(), labels)
    assert test.classes[int(test.labels[0])] == "Ankle boot"  # the first test image


def test_checksum_table_matches_the_local_files():
    # The hard-coded table is the SHA-256 of the decompressed content of the real files.
    checked = 0
    for filename, (sha, size) in data.FASHION_MNIST.checksums.items():
        path = _local_fashion_file(filename)
        if path is not None:
            content = _raw_content(path)
            assert (hashlib.sha256(content).hexdigest(), len(content)) == (sha, size)
            checked += 1
    if not checked:
        pytest.skip("no local Fashion-MNIST")


# ----------------------------------------------------------------------- search order


def test_data_dir_from_env_is_searched_first(isolated, monkeypatch):
    content = _test_labels()
    env_dir = isolated / "env"
    (env_dir / "fashion-mnist").mkdir(parents=True)
    (env_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte").write_bytes(content)
    bad = isolated / "debian" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(gzip.compress(b"not the labels"))
    monkeypatch.setenv("GENMODELS_DATA_DIR", str(env_dir))
    # The environment's (uncompressed) copy wins over the corrupt "Debian" one ...
    got = data.fetch_dataset_file("fashion-mnist", "t10k-labels-idx1-ubyte", download=False)
    assert got == content
    # ... and an explicit data_dir wins over the environment variable.
    mine = isolated / "mine" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(gzip.compress(b"also not the labels"))
    with pytest.raises(data.DatasetChecksumError, match="mine"):
        data.fetch_dataset_file(
            "fashion-mnist", "t10k-labels-idx1-ubyte", data_dir=isolated / "mine", download=False
        )
    monkeypatch.delenv("GENMODELS_DATA_DIR")
    with pytest.raises(data.DatasetChecksumError, match="debian"):
        data.fetch_dataset_file("fashion-mnist", "t10k-labels-idx1-ubyte", download=False)


def test_debian_dir_is_searched_before_the_cache(isolated):
    content = _test_labels()
    for where, payload in (("debian", content), ("xdg/genmodels", b"wrong")):
        path = isolated / where / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
        path.parent.mkdir(parents=True)
        path.write_bytes(gzip.compress(payload))
    got = data.fetch_dataset_file("fashion-mnist", "t10k-labels-idx1-ubyte", download=False)
    assert got == content


def test_user_cache_is_used_when_nothing_else_has_the_file(isolated):
    content = _test_labels()
    cache = isolated / "xdg" / "genmodels" / "fashion-mnist"
    cache.mkdir(parents=True)
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(content))
    assert data.default_cache_dir() == isolated / "xdg" / "genmodels"
    got = data.fetch_dataset_file("fashion-mnist", "t10k-labels-idx1-ubyte", download=False)
    assert got == content


@needs_fashion
def test_whole_split_loads_from_a_data_dir(isolated):
    target = isolated / "mine" / "fashion-mnist"
    target.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(_local_fashion_file(f), target / Path(_local_fashion_file(f)).name)
    test = data.load_fashion_mnist("test", data_dir=isolated / "mine", download=False)
    assert test.images.shape == (10000, 28, 28)
    assert torch.bincount(test.labels).tolist() == [1000] * 10


def test_missing_file_without_download_lists_the_searched_places(isolated):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_fashion_mnist("test", download=False)
    msg = str(info.value)
    assert "t10k-labels-idx1-ubyte" in msg and str(isolated / "debian" / "fashion-mnist") in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert isinstance(info.value, FileNotFoundError)


# ------------------------------------------------------------------- corrupted files


def _plant_in_cache(isolated: Path, payload: bytes) -> Path:
    path = isolated / "xdg" / "genmodels" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def test_corrupted_local_file_is_rejected_and_kept(isolated):
    content = bytearray(_test_labels())
    content[100] ^= 1  # one flipped bit in one label
    path = _plant_in_cache(isolated, gzip.compress(bytes(content)))
    before = path.read_bytes()
    with pytest.raises(data.DatasetChecksumError) as info:
        data.load_fashion_mnist("test")  # download allowed: must not be used
    msg = str(info.value)
    sha = data.FASHION_MNIST.checksums["t10k-labels-idx1-ubyte"][0]
    assert str(path) in msg and sha in msg and hashlib.sha256(content).hexdigest() in msg
    assert "delete it" in msg
    assert path.read_bytes() == before  # not silently replaced


def test_truncated_gzip_is_rejected_with_its_name(isolated):
    path = _plant_in_cache(isolated, gzip.compress(_test_labels())[:-20])
    with pytest.raises(data.DatasetChecksumError, match="corrupt gzip") as info:
        data.fetch_dataset_file("fashion-mnist", "t10k-labels-idx1-ubyte")
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------ bad input


def test_unknown_split_and_dataset_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"'validation'.*'train', 'test'"):
        data.load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="expected one of"):
        data.fetch_dataset_file("kmnist", "t10k-labels-idx1-ubyte")
    with pytest.raises(ValueError, match="not a file of Fashion-MNIST"):
        data.fetch_dataset_file("fashion-mnist", "labels.csv")


def test_parse_idx_reads_a_hand_built_file_and_rejects_bad_ones():
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    idx = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", 2, 3, 4) + values.tobytes()
    assert np.array_equal(data.parse_idx(idx), values)
    ints = struct.pack(">BBBBI", 0, 0, 0x0C, 1, 2) + struct.pack(">ii", -7, 300)
    assert data.parse_idx(ints).tolist() == [-7, 300]
    with pytest.raises(ValueError, match="not an IDX file"):
        data.parse_idx(b"\x1f\x8b\x08\x00rest")
    with pytest.raises(ValueError, match=r"needs 40 bytes, the file has 39"):
        data.parse_idx(idx[:-1])
    with pytest.raises(ValueError, match="type code 0x07"):
        data.parse_idx(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")


def test_image_dataset_validates_its_fields():
    with pytest.raises(ValueError, match="uint8 tensor"):
        data.ImageDataset(torch.zeros(2, 28, 28), torch.zeros(2, dtype=torch.long), (), "x")
    with pytest.raises(ValueError, match="N = 2"):
        data.ImageDataset(
            torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), (), "x"
        )


# ---------------------------------------------------------- digits and preprocessing


def test_digits_are_the_bundled_8x8_images():
    from sklearn.datasets import load_digits as sk_digits

    digits = data.load_digits()
    ref = sk_digits()
    assert digits.images.shape == (1797, 8, 8) and digits.images.dtype == torch.uint8
    assert digits.pixel_max == 16 and int(digits.images.max()) == 16
    assert digits.labels.tolist() == ref.target.tolist()
    assert digits.classes == tuple("0123456789")
    x = data.to_float_images(digits)
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    np.testing.assert_allclose(x[:, 0].numpy(), ref.images / 16.0, rtol=0, atol=1e-7)
    # A bare 8x8 tensor is taken as digits (÷16); pixel_max overrides.
    assert torch.equal(data.to_float_images(digits.images), x)
    assert torch.equal(data.to_float_images(digits.images, pixel_max=255), x * 16 / 255)


def test_to_float_images_scales_28x28_by_255_and_checks_input():
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    images[0, 0, 1] = 51
    x = data.to_float_images(images)
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
    assert x[0, 0, 0, 1].item() == pytest.approx(0.2) and x.sum().item() == pytest.approx(0.2)
    with pytest.raises(TypeError, match="already converted to float"):
        data.to_float_images(x[:, 0])
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        data.to_float_images(images[0, 0])
    with pytest.raises(TypeError, match="ImageDataset or a tensor"):
        data.to_float_images(np.zeros((2, 28, 28), dtype=np.uint8))


def test_binarize_threshold_and_bernoulli_rate():
    x = torch.tensor([0.0, 0.2, 0.5, 0.51, 1.0])
    assert data.binarize(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    # Stochastic: each pixel is 1 with probability x. Monte Carlo with n = 200000 draws
    # per value; the standard error is at most 0.5 / sqrt(n) ≈ 0.0011, we allow 5 of them.
    p = torch.tensor([0.0, 0.1, 0.3, 0.75, 1.0])
    n = 200_000
    draws = data.binarize(p.expand(n, 5), generator=torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(draws.mean(0), p, atol=5 * 0.5 / n**0.5, rtol=0)
    # Reproducible with the same seed; fresh draws with a different one.
    a = data.binarize(p.expand(100, 5), generator=torch.Generator().manual_seed(1))
    b = data.binarize(p.expand(100, 5), generator=torch.Generator().manual_seed(1))
    c = data.binarize(p.expand(100, 5), generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_check_float_images_says_what_was_wrong_and_the_fix():
    x = torch.rand(3, 1, 28, 28)
    assert data.check_float_images(x, "x") is x
    with pytest.raises(ValueError, match=r"^samples must be float images \[N, 1, 28, 28\] in \[0, 1\], "
                       r"got \(3, 784\); reshape flat samples with samples\.view\(-1, 1, 28, 28\)"):
        data.check_float_images(x.reshape(3, 784), "samples")
    with pytest.raises(ValueError, match=r"got \(3, 28, 28\).*to_float_images"):
        data.check_float_images(torch.zeros(3, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"got dtype torch\.uint8; convert uint8 images with .*to_float_images"):
        data.check_float_images(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"^images must be float images .*, got list\.$"):
        data.check_float_images([[0.0]])


def test_binarize_rejects_bad_input():
    with pytest.raises(TypeError, match="to_float_images"):
        data.binarize(torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\].*max 255"):
        data.binarize(torch.tensor([0.0, 255.0]))
