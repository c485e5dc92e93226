"""Image datasets, offline first: Fashion-MNIST and scikit-learn's digits.

Fashion-MNIST is stored as IDX files. :func:`fetch_dataset_file` looks for
each file, in order, in

1. ``<data_dir>/<dataset>/`` where ``data_dir`` is the argument or the environment
   variable ``GENMODELS_DATA_DIR``;
2. Debian's ``/usr/share/datasets/<dataset>/`` (package ``dataset-fashion-mnist``);
3. the user cache ``($XDG_CACHE_HOME or ~/.cache)/genmodels/<dataset>/``;
4. the official download source, saved into the user cache.

``<dataset>`` is ``fashion-mnist``; a file may be stored gzip-compressed
(``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``). Every file,
local or downloaded, is checked against the SHA-256 of its **decompressed** content
(Debian recompressed the Fashion-MNIST archives, so the bytes of the ``.gz`` files
differ from upstream while their content is identical). A file with the wrong content
is an error that names it; it is never silently replaced. A download is written to a
temporary file next to its destination, verified, and only then renamed into place, so
no partial or corrupt file is ever left in the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genmodels.core.validation import check_float, check_tensor

__all__ = [
    "DatasetChecksumError",
    "DatasetDownloadError",
    "DatasetError",
    "DatasetNotFoundError",
    "FASHION_MNIST_CLASSES",
    "ImageDataset",
    "binarize",
    "check_float_images",
    "default_cache_dir",
    "fetch_dataset_file",
    "load_digits",
    "load_fashion_mnist",
    "parse_idx",
    "to_float_images",
]

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

#: Where Debian's ``dataset-*`` packages install their files (tests may point it elsewhere).
DEBIAN_DATA_DIR = Path("/usr/share/datasets")

SPLITS = ("train", "test")


# --------------------------------------------------------------------------- errors


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says why and how to fix it."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset file is in none of the searched places and may not be downloaded."""


class DatasetChecksumError(DatasetError):
    """A dataset file exists but its content is not the expected one."""


class DatasetDownloadError(DatasetError):
    """A dataset file could not be downloaded."""


# ----------------------------------------------------------------- dataset sources


@dataclass(frozen=True)
class IdxSource:
    """Where an IDX dataset comes from and what its files must contain.

    ``checksums`` maps each file name (without ``.gz``) to the SHA-256 and the size in
    bytes of its decompressed content.
    """

    name: str
    title: str
    classes: tuple[str, ...]
    split_files: dict[str, tuple[str, str]]  # split -> (images file, labels file)
    split_sizes: dict[str, int]
    checksums: dict[str, tuple[str, int]]
    base_urls: tuple[str, ...]
    url_env: str
    debian_package: str

    def how_to_get_by_hand(self, cache: Path) -> str:
        files = ", ".join(f"{f}.gz" for f in self.checksums)
        lines = ["To get the data by hand:"]
        lines.append(
            f"  - on Debian/Ubuntu: `sudo apt-get install {self.debian_package}` "
            f"(installs the files into {DEBIAN_DATA_DIR / self.name}/), or"
        )
        lines.append(
            f"  - download the 4 files {files} from {self.base_urls[0]} into {cache}/ "
            "(or into <dir>/" + self.name + "/ and set GENMODELS_DATA_DIR=<dir>)."
        )
        return "\n".join(lines)


# SHA-256 of the decompressed Fashion-MNIST files, computed from Debian's package
# dataset-fashion-mnist (which holds Zalando's data, recompressed); the same values are
# published by independent projects that pin the Fashion-MNIST IDX files.
FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    title="Fashion-MNIST",
    classes=FASHION_MNIST_CLASSES,
    split_files={
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    },
    split_sizes={"train": 60000, "test": 10000},
    checksums={
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            47040016,
        ),
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            60008,
        ),
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            7840016,
        ),
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            10008,
        ),
    },
    # Zalando's own repository serves the same files over https; their S3 website (plain
    # http) is the fallback. The checksums above protect the content either way.
    base_urls=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    url_env="GENMODELS_FASHION_MNIST_URL",
    debian_package="dataset-fashion-mnist",
)

IDX_SOURCES: dict[str, IdxSource] = {s.name: s for s in (FASHION_MNIST,)}


def _source(name: str) -> IdxSource:
    if name not in IDX_SOURCES:
        raise ValueError(f"unknown IDX dataset {name!r}; expected one of {sorted(IDX_SOURCES)}.")
    return IDX_SOURCES[name]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}.")


# ---------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class ImageDataset:
    """A labelled set of grey-scale images, kept as stored: small integers.

    Attributes:
        images: ``uint8`` tensor ``[N, H, W]`` (28×28, or 8×8 for the digits).
        labels: ``int64`` tensor ``[N]`` of class indices into ``classes``.
        classes: the class names.
        name: e.g. ``"fashion-mnist/train"``.
        pixel_max: the value of a white pixel (255, or 16 for the digits);
            :func:`to_float_images` divides by it.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str
    pixel_max: int = 255

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 3:
            raise ValueError(
                "images must be a uint8 tensor [N, H, W], got "
                f"{self.images.dtype} {tuple(self.images.shape)}."
            )
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"labels must be an int64 tensor [N] with N = {self.images.shape[0]}, got "
                f"{self.labels.dtype} {tuple(self.labels.shape)}."
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        h, w = self.images.shape[1:]
        return (
            f"ImageDataset({self.name!r}, {len(self)} images {h}x{w}, {len(self.classes)} classes)"
        )


# ------------------------------------------------------------------------- IDX files

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into a NumPy array.

    The IDX header is two zero bytes, a type code (``0x08`` = unsigned byte), the number
    of dimensions, then each dimension as a big-endian 32-bit integer. ``what`` names the
    data in error messages.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{what} is not an IDX file: it must start with two zero bytes, got "
            f"{data[:4].hex() or 'an empty file'}."
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{what}: unknown IDX type code 0x{code:02x}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{what}: truncated IDX header ({len(data)} bytes).")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{what}: an IDX array of shape {shape} needs {expected} bytes, "
            f"the file has {len(data)}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


_DELETE_ADVICE = "delete it (it is not replaced automatically) and load the data again."


def _decompress(raw: bytes, limit: int, where: str, advice: str) -> bytes:
    """The content of a file: gunzipped when it starts with the gzip magic number."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            return stream.read(limit + 1)  # at most one byte too many: enough to reject
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetChecksumError(f"{where} is a corrupt gzip file ({err}); {advice}") from err


def _verified_content(
    raw: bytes, where: str, filename: str, source: IdxSource, advice: str = _DELETE_ADVICE
) -> bytes:
    """Decompress ``raw`` and check size and SHA-256 against the table; return the content."""
    sha256, size = source.checksums[filename]
    content = _decompress(raw, size, where, advice)
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise DatasetChecksumError(
            f"{where} does not hold the {source.title} file {filename}: the SHA-256 of its "
            f"decompressed content is {actual} ({len(content)} bytes read), expected "
            f"{sha256} ({size} bytes). The file is corrupt, truncated or from another "
            f"dataset; {advice}"
        )
    return content


def _read_verified(path: Path, source: IdxSource, filename: str) -> bytes:
    """Read a local file, decompress it and verify its content."""
    return _verified_content(path.read_bytes(), str(path), filename, source)


# ---------------------------------------------------------------- finding the files


def default_cache_dir() -> Path:
    """The user cache of ``genmodels``: ``($XDG_CACHE_HOME or ~/.cache)/genmodels``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "genmodels"


def _candidate_dirs(
    source: IdxSource, data_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None
) -> list[Path]:
    dirs = []
    explicit = data_dir if data_dir is not None else os.environ.get("GENMODELS_DATA_DIR")
    if explicit:
        dirs.append(Path(explicit) / source.name)
    dirs.append(DEBIAN_DATA_DIR / source.name)
    dirs.append(Path(cache_dir or default_cache_dir()) / source.name)
    return dirs


def _base_urls(source: IdxSource, base_url: str | None) -> tuple[str, ...]:
    chosen = base_url or os.environ.get(source.url_env)
    urls = (chosen,) if chosen else source.base_urls
    return tuple(u if u.endswith("/") else u + "/" for u in urls)


#: A download that receives nothing for this long (seconds) is abandoned, whatever its deadline.
STALL_TIMEOUT = 60.0
DEFAULT_TIMEOUT = 900.0


def _lock(fd: int) -> bool:
    """Take an exclusive, non-blocking lock on the open file ``fd``; whether we got it
    (always True where file locks do not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _remove_stale_parts(cache: Path) -> list[Path]:
    """Delete the ``.part`` files that killed downloads left in ``cache``. A download in
    progress holds a lock on its ``.part`` file, which is left alone (where file locks do
    not exist, only ``.part`` files unchanged for a day are removed). Returns what was
    removed."""
    removed = []
    for part in cache.glob(".*.part"):
        try:
            fd = os.open(part, os.O_RDWR)
        except OSError:
            continue
        try:
            if _lock(fd) and (os.name == "posix" or part.stat().st_mtime < time.time() - 86400):
                part.unlink(missing_ok=True)
                removed.append(part)
        finally:
            os.close(fd)
    return removed


def _download(
    source: IdxSource, filename: str, cache: Path, base_urls: Sequence[str], timeout: float
) -> Path:
    """Download ``filename.gz`` into ``cache``: temp file, verify, atomic rename.

    ``timeout`` is an overall deadline in seconds for this file, over every source tried
    (a server that trickles bytes is abandoned when it passes); a source that sends nothing
    for :data:`STALL_TIMEOUT` seconds is abandoned too. ``.part`` files of killed downloads
    are removed first."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetDownloadError(
            f"cannot create the cache directory {cache} ({err}); set XDG_CACHE_HOME or pass "
            f"cache_dir=<a writable directory>.\n{source.how_to_get_by_hand(cache)}"
        ) from err
    _remove_stale_parts(cache)
    _, size = source.checksums[filename]
    limit = 2 * size + (1 << 20)  # no sane gzip of the file is larger than this
    failures = []
    deadline = time.monotonic() + timeout
    for base in base_urls:
        url = f"{base}{filename}.gz"
        left = deadline - time.monotonic()
        if left <= 0:
            failures.append(f"  {url}: not tried, the deadline of {timeout:g} s had passed")
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=cache)
        tmp = Path(tmp_name)
        _lock(fd)  # ours while we write: a cleanup elsewhere leaves it alone
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
                    url, timeout=min(STALL_TIMEOUT, left)) as r:
                received = 0
                while chunk := r.read1(1 << 20):
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"gave up at the deadline of {timeout:g} s (timeout=...) after "
                            f"{received} bytes; the server is too slow"
                        )
                    received += len(chunk)
                    if received > limit:
                        raise DatasetChecksumError(
                            f"{url} sent more than {limit} bytes, far more than the "
                            f"{source.title} file {filename} holds; refusing it."
                        )
                    out.write(chunk)
                declared = r.headers.get("Content-Length")
                if declared is not None and int(declared) != received:
                    raise ConnectionError(
                        f"the connection closed after {received} of {declared} bytes"
                    )
            raw = tmp.read_bytes()
            _verified_content(raw, url, filename, source, advice="the download was discarded.")
            final = cache / (f"{filename}.gz" if raw[:2] == b"\x1f\x8b" else filename)
            os.replace(tmp, final)
            return final
        except DatasetChecksumError as err:
            tmp.unlink(missing_ok=True)
            raise DatasetChecksumError(f"{err}\n{source.how_to_get_by_hand(cache)}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            tmp.unlink(missing_ok=True)
            failures.append(f"  {url}: {getattr(err, 'reason', None) or err}")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    raise DatasetDownloadError(
        f"could not download the {source.title} file {filename}.gz:\n"
        + "\n".join(failures)
        + f"\n{source.how_to_get_by_hand(cache)}"
    )


def fetch_dataset_file(
    name: str,
    filename: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """The verified, decompressed content of one file of an IDX dataset.

    Args:
        name: ``"fashion-mnist"``.
        filename: e.g. ``"t10k-labels-idx1-ubyte"`` (without ``.gz``).
        data_dir: a directory holding ``<name>/<filename>[.gz]``; defaults to the
            environment variable ``GENMODELS_DATA_DIR``.
        cache_dir: the cache root (default :func:`default_cache_dir`); files are kept
            in ``<cache_dir>/<name>/``.
        download: download a missing file into the cache; if false, a missing file
            raises :class:`DatasetNotFoundError`.
        base_url: where to download from (default: the environment variable
            ``GENMODELS_FASHION_MNIST_URL``, else the official source).
        timeout: the overall deadline of the download, in seconds (a source that sends
            nothing for :data:`STALL_TIMEOUT` seconds is abandoned sooner).

    The search order is in the module's docstring. The first file found is verified;
    if its content is wrong, :class:`DatasetChecksumError` names it.
    """
    source = _source(name)
    if filename not in source.checksums:
        raise ValueError(
            f"{filename!r} is not a file of {source.title}; expected one of "
            f"{sorted(source.checksums)}."
        )
    dirs = _candidate_dirs(source, data_dir, cache_dir)
    for directory in dirs:
        for candidate in (directory / f"{filename}.gz", directory / filename):
            if candidate.is_file():
                return _read_verified(candidate, source, filename)
    cache = dirs[-1]
    if not download:
        searched = "\n".join(f"  {d}/" for d in dirs)
        raise DatasetNotFoundError(
            f"the {source.title} file {filename}[.gz] is in none of:\n{searched}\n"
            f"and download=False.\n{source.how_to_get_by_hand(cache)}"
        )
    timeout = check_float(timeout, "timeout", minimum=0, open_below=True,
                          hint="seconds to download the file")
    path = _download(source, filename, cache, _base_urls(source, base_url), timeout)
    return _read_verified(path, source, filename)


def _load_idx_dataset(
    source: IdxSource,
    split: str,
    *,
    data_dir: str | os.PathLike | None,
    cache_dir: str | os.PathLike | None,
    download: bool,
    base_url: str | None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ImageDataset:
    _check_split(split)
    timeout = check_float(timeout, "timeout", minimum=0, open_below=True,
                          hint="seconds to download a split")
    deadline = time.monotonic() + timeout
    images_file, labels_file = source.split_files[split]
    n = source.split_sizes[split]
    kwargs = dict(data_dir=data_dir, cache_dir=cache_dir, download=download, base_url=base_url)
    labels = parse_idx(fetch_dataset_file(source.name, labels_file, **kwargs, timeout=timeout),
                       labels_file)
    left = max(deadline - time.monotonic(), 1e-3)  # the images get what the labels left
    images = parse_idx(fetch_dataset_file(source.name, images_file, **kwargs, timeout=left),
                       images_file)
    if images.shape != (n, 28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{images_file}: expected uint8 [{n}, 28, 28], got {images.shape}.")
    if labels.shape != (n,) or labels.max() >= len(source.classes):
        raise ValueError(f"{labels_file}: expected {n} labels in 0..9, got {labels.shape}.")
    return ImageDataset(
        images=torch.from_numpy(images.copy()),
        labels=torch.from_numpy(labels.astype(np.int64)),
        classes=source.classes,
        name=f"{source.name}/{split}",
    )


def load_fashion_mnist(
    split: str = "train",
    *,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ImageDataset:
    """Fashion-MNIST (Xiao et al., 2017): 60000 train / 10000 test images 28×28, 10 classes.

    Returns an :class:`ImageDataset` with ``uint8`` images ``[N, 28, 28]`` and ``int64``
    labels ``[N]``. Files are looked up and verified as described in the module docstring;
    a download of the split's two files gives up after ``timeout`` seconds in all
    (:class:`DatasetDownloadError`).
    """
    return _load_idx_dataset(
        FASHION_MNIST,
        split,
        data_dir=data_dir,
        cache_dir=cache_dir,
        download=download,
        base_url=base_url,
        timeout=timeout,
    )


def load_digits() -> ImageDataset:
    """scikit-learn's bundled digits (offline): 1797 images 8×8 with values 0..16.

    The images are stored as ``uint8`` (``pixel_max=16``); labels are the digits 0–9.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.from_numpy(bunch.images.astype(np.uint8))
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageDataset(images, labels, DIGIT_CLASSES, "digits", pixel_max=16)


# ------------------------------------------------------------------- preprocessing


def to_float_images(
    images: ImageDataset | torch.Tensor, pixel_max: int | None = None
) -> torch.Tensor:
    """Integer images ``[N, H, W]`` → ``float32`` ``[N, 1, H, W]`` in ``[0, 1]``.

    Pixels are divided by ``pixel_max``: the dataset's own (255, or 16 for the digits)
    when an :class:`ImageDataset` is given; for a bare tensor, 16 if the images are 8×8
    (the digits) and 255 otherwise, unless ``pixel_max`` says otherwise.
    """
    if isinstance(images, ImageDataset):
        pixel_max = pixel_max or images.pixel_max
        images = images.images
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"expected an ImageDataset or a tensor, got {type(images).__name__}.")
    if images.dtype.is_floating_point or images.dtype == torch.bool:
        raise TypeError(
            f"expected integer images (e.g. uint8 [N, H, W]), got {images.dtype}; "
            "these look already converted to float."
        )
    if images.ndim != 3:
        raise ValueError(
            f"expected images of shape [N, H, W], got {tuple(images.shape)}; "
            "use images[None] for a single image."
        )
    if pixel_max is None:
        pixel_max = 16 if tuple(images.shape[1:]) == (8, 8) else 255
    return (images.to(torch.float32) / float(pixel_max)).unsqueeze(1)


def check_float_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Return ``images``, or raise unless they are float images ``[N, 1, 28, 28]`` (values
    in [0, 1]): what :func:`to_float_images` makes of Fashion-MNIST, and what the
    classifier and the image metrics take. ``TypeError`` for a wrong type or dtype,
    ``ValueError`` for a wrong shape; the message names ``name`` and the fix."""
    expected = f"{name} must be float images [N, 1, 28, 28] in [0, 1]"
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{expected}, got {type(images).__name__}.")
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(
            f"{expected}, got {tuple(images.shape)}; reshape flat samples with "
            f"{name}.view(-1, 1, 28, 28), convert uint8 images [N, 28, 28] with "
            "genmodels.core.data.to_float_images."
        )
    if not images.dtype.is_floating_point:
        raise TypeError(
            f"{expected}, got dtype {images.dtype}; convert uint8 images with "
            "genmodels.core.data.to_float_images."
        )
    return images


def binarize(
    x: torch.Tensor, generator: torch.Generator | None = None, validate: bool = True
) -> torch.Tensor:
    """Binary images from intensities ``x`` in ``[0, 1]`` (any shape, float).

    With a ``generator``: stochastic binarisation, each pixel 1 with probability ``x``
    (a fresh Bernoulli draw per call, as in dynamically binarised MNIST); the uniform
    draws are made on the generator's device, so a CPU generator gives the same result
    on every device. Without one: the threshold ``x > 0.5``. Returns ``x``'s dtype and
    device. ``validate=False`` skips the range check (a device sync) in hot loops.
    """
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise TypeError(
            f"binarize expects float intensities x in [0, 1], got "
            f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}; "
            "convert with to_float_images first."
        )
    if validate:
        check_tensor(x, "x", hint="intensities in [0, 1]")
    if validate and bool(((x < 0) | (x > 1)).any()):
        raise ValueError(
            "binarize expects intensities x in [0, 1]; got values outside it "
            f"(min {x.min().item():.3g}, max {x.max().item():.3g})."
        )
    if generator is None:
        return (x > 0.5).to(x.dtype)
    u = torch.rand(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return (u.to(x.device) < x).to(x.dtype)
