"""Downloads of genmodels.core.data against an HTTP server on 127.0.0.1 (never the network).

The server serves gzip files rebuilt from the local Fashion-MNIST (so their bytes differ
from every published archive while their content is the real data), a file with wrong
content, and a truncated transfer; a closed port stands for an unreachable server.
"""

from __future__ import annotations

import gzip
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genmodels.core import data

_REAL_DIR = data.DEBIAN_DATA_DIR / "fashion-mnist"  # captured before any monkeypatching
LABELS = "t10k-labels-idx1-ubyte"
IMAGES = "t10k-images-idx3-ubyte"


def _real_content(filename: str) -> bytes:
    for path in (_REAL_DIR / f"{filename}.gz", _REAL_DIR / filename):
        if path.is_file():
            raw = path.read_bytes()
            return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    pytest.skip("no local Fashion-MNIST to serve (apt-get install dataset-fashion-mnist)")


class LocalServer:
    """A threading HTTP server on 127.0.0.1 with a port chosen by the OS.

    ``files`` maps a URL path such as ``/t10k-labels-idx1-ubyte.gz`` to its body (or to
    ``(body, declared_length)`` to simulate a connection cut mid-transfer);
    ``requests`` records every path asked for.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes | tuple[bytes, int]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                entry = server.files.get(self.path)
                if entry is None:
                    self.send_error(404)
                    return
                body, length = entry if isinstance(entry, tuple) else (entry, len(entry))
                self.send_response(200)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache root; no Debian directory, no GENMODELS_DATA_DIR, no URL override."""
    monkeypatch.setattr(data, "DEBIAN_DATA_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("GENMODELS_DATA_DIR", "GENMODELS_FASHION_MNIST_URL", "GENMODELS_MNIST_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "cache"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def _files_under(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_download_is_verified_cached_and_reused(server, cache):
    labels, images = _real_content(LABELS), _real_content(IMAGES)
    server.files[f"/{LABELS}.gz"] = gzip.compress(labels, compresslevel=1)
    server.files[f"/{IMAGES}.gz"] = gzip.compress(images, compresslevel=1)

    test = data.load_fashion_mnist("test", cache_dir=cache, base_url=server.url)
    assert test.images.shape == (10000, 28, 28) and len(test.labels) == 10000
    assert test.images.flatten().numpy().tobytes() == images[16:]
    assert server.requests == [f"/{LABELS}.gz", f"/{IMAGES}.gz"]
    assert _files_under(cache) == [f"{IMAGES}.gz", f"{LABELS}.gz"]  # no temporary file

    again = data.load_fashion_mnist("test", cache_dir=cache, base_url=server.url)
    assert len(server.requests) == 2  # the second load reads the cache only
    assert again.labels.tolist() == test.labels.tolist()


def test_base_url_from_the_environment_and_default_cache(server, cache, monkeypatch):
    server.files[f"/{LABELS}.gz"] = gzip.compress(_real_content(LABELS), compresslevel=1)
    monkeypatch.setenv("GENMODELS_FASHION_MNIST_URL", server.url.rstrip("/"))
    got = data.fetch_dataset_file("fashion-mnist", LABELS)
    assert got == _real_content(LABELS) and server.requests == [f"/{LABELS}.gz"]
    assert (data.default_cache_dir() / "fashion-mnist" / f"{LABELS}.gz").is_file()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("flipped", id="one-byte-changed"),
        pytest.param("garbage", id="not-gzip"),
    ],
)
def test_wrong_content_is_rejected_and_nothing_is_left_behind(server, cache, payload):
    labels = bytearray(_real_content(LABELS))
    if payload == "flipped":
        labels[5000] = (labels[5000] + 1) % 10
        body = gzip.compress(bytes(labels))
    else:
        body = b"<html>404 page of a captive portal</html>"
    server.files[f"/{LABELS}.gz"] = body
    with pytest.raises(data.DatasetChecksumError) as info:
        data.load_fashion_mnist("test", cache_dir=cache, base_url=server.url)
    msg = str(info.value)
    expected_sha = data.FASHION_MNIST.checksums[LABELS][0]
    assert LABELS in msg and expected_sha in msg and server.url in msg
    assert "apt-get install dataset-fashion-mnist" in msg and str(cache / "fashion-mnist") in msg
    assert _files_under(cache) == []  # neither the final file nor a temporary one


def test_oversized_download_is_refused(server, cache):
    server.files[f"/{LABELS}.gz"] = b"\0" * (2 * 10008 + (1 << 20) + 10)
    with pytest.raises(data.DatasetChecksumError, match="refusing it"):
        data.fetch_dataset_file("fashion-mnist", LABELS, cache_dir=cache, base_url=server.url)
    assert _files_under(cache) == []


def test_connection_cut_mid_transfer_leaves_nothing(server, cache):
    body = gzip.compress(_real_content(LABELS))
    server.files[f"/{LABELS}.gz"] = (body[:1000], len(body))  # promises more than it sends
    with pytest.raises(data.DatasetDownloadError, match="could not download") as info:
        data.fetch_dataset_file("fashion-mnist", LABELS, cache_dir=cache, base_url=server.url)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert _files_under(cache) == []


def test_missing_file_on_the_server_is_a_clear_error(server, cache):
    with pytest.raises(data.DatasetDownloadError, match="Not Found"):
        data.fetch_dataset_file("fashion-mnist", LABELS, cache_dir=cache, base_url=server.url)
    assert server.requests == [f"/{LABELS}.gz"] and _files_under(cache) == []


def test_unreachable_server_says_how_to_get_the_data_by_hand(cache):
    url = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(data.DatasetDownloadError) as info:
        data.load_fashion_mnist("test", cache_dir=cache, base_url=url)
    msg = str(info.value)
    assert f"{url}{LABELS}.gz" in msg and "refused" in msg.lower()
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "download the 4 files" in msg and str(cache / "fashion-mnist") in msg
    assert _files_under(cache) == []


class TricklingServer(LocalServer):
    """Promises a whole file and sends one byte every 20 ms: each read returns in time,
    the transfer never ends."""

    def __init__(self) -> None:
        import time

        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(100000):
                        self.wfile.write(b"\x1f")
                        self.wfile.flush()
                        time.sleep(0.02)
                except OSError:
                    pass  # the client gave up

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()


def test_a_trickling_server_is_abandoned_at_the_overall_deadline(cache):
    """Issue 18: the timeout was per read, so a server trickling bytes was never given up."""
    import time

    server = TricklingServer()
    try:
        start = time.monotonic()
        with pytest.raises(data.DatasetDownloadError, match=r"deadline of 1 s \(timeout=...\)"):
            data.load_fashion_mnist("test", cache_dir=cache, base_url=server.url, timeout=1.0)
        assert time.monotonic() - start < 10
    finally:
        server.close()
    assert _files_under(cache) == []
    with pytest.raises(ValueError, match="timeout must be a finite number > 0"):
        data.load_fashion_mnist("test", cache_dir=cache, base_url=server.url, timeout=float("nan"))


def test_part_files_of_killed_downloads_are_cleaned_but_not_live_ones(server, cache):
    import fcntl
    import os

    folder = cache / "fashion-mnist"
    folder.mkdir(parents=True)
    stale = folder / f".{IMAGES}.k1ll3d.part"  # a download killed mid-way
    stale.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    live = folder / f".{IMAGES}.l1ve.part"  # a download in progress in another process
    live.write_bytes(b"\x1f\x8b")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        server.files[f"/{LABELS}.gz"] = gzip.compress(_real_content(LABELS), compresslevel=1)
        data.fetch_dataset_file("fashion-mnist", LABELS, cache_dir=cache, base_url=server.url)
        assert not stale.exists() and live.exists()
    finally:
        os.close(fd)
    assert _files_under(cache) == sorted([live.name, f"{LABELS}.gz"])


def test_the_default_source_is_https_first():
    assert data.FASHION_MNIST.base_urls[0].startswith("https://")
