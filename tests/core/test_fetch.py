"""`reelpick data fetch` over real HTTP against a server on 127.0.0.1 that can misbehave."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import reelpick.data.fetch as fetch
from reelpick.cli import main
from reelpick.data import load_dataset
from reelpick.data.fetch import fetch_dataset
from reelpick.errors import FetchError
from tests.support.fixtures import ML_SMALL

NAME = "ml-test"


@pytest.fixture(scope="session")
def dataset_zip() -> bytes:
    """A zip shaped like the official one (one top folder), built from ml-latest-small."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(ML_SMALL.iterdir()):
            zf.write(path, f"ml-latest-small/{path.name}")
    return buffer.getvalue()


@dataclass
class Server:
    """What the test server serves and how it misbehaves; counts the body bytes it sent."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    corrupt: bool = False  # flip bytes in the middle of the body
    truncate_at: int | None = None  # close the connection after this many body bytes
    ranges: bool = True  # honour Range requests
    sent: int = 0
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def serve_zip(self, name: str, body: bytes, md5_style: str = "bsd") -> str:
        self.files[f"/{name}.zip"] = body
        digest = hashlib.md5(body).hexdigest()
        line = f"MD5 ({name}.zip) = {digest}" if md5_style == "bsd" else f"{digest}  {name}.zip"
        self.files[f"/{name}.zip.md5"] = (line + "\n").encode()
        return f"{self.url}/{name}.zip"


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, self.headers.get("Range")))
            body = server.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start, status = 0, 200
            wanted = self.headers.get("Range")
            if wanted and server.ranges and self.path.endswith(".zip"):
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            payload = body[start:]
            if server.corrupt and self.path.endswith(".zip"):
                middle = len(payload) // 2
                payload = payload[:middle] + bytes(b ^ 0xFF for b in payload[middle:][:64])
                payload += body[start + middle + 64 :]
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("ETag", '"v1"')
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if server.truncate_at is not None and self.path.endswith(".zip"):
                payload = payload[: server.truncate_at]
                self.close_connection = True
            self.wfile.write(payload)
            self.wfile.flush()
            if self.path.endswith(".zip"):
                server.sent += len(payload)

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("md5_style", ["bsd", "plain"])
def test_fetch_downloads_verifies_and_unpacks(server, dataset_zip, tmp_path, md5_style):
    url = server.serve_zip(NAME, dataset_zip, md5_style)
    folder = fetch_dataset(NAME, tmp_path, url=url)
    assert folder == tmp_path / NAME
    assert leftovers(tmp_path) == [NAME]  # no .part, zip or scratch folder left behind
    data = load_dataset(folder)
    assert len(data.movies) == 9742 and len(data.ratings) == 100_836
    assert server.sent == len(dataset_zip)
    # A second call finds the folder and downloads nothing.
    assert fetch_dataset(NAME, tmp_path, url=url) == folder
    assert server.sent == len(dataset_zip)


def test_truncated_download_keeps_part_and_resumes(server, dataset_zip, tmp_path):
    url = server.serve_zip(NAME, dataset_zip)
    server.truncate_at = 300_000
    with pytest.raises(FetchError, match=r"cut off after [\d,]+ of [\d,]+ bytes.*resume") as cut:
        fetch_dataset(NAME, tmp_path, url=url)
    assert "IncompleteRead" in str(cut.value)
    kept = (tmp_path / f"{NAME}.zip.part").stat().st_size
    assert 0 < kept <= 300_000 and f"after {kept:,} of {len(dataset_zip):,} bytes" in str(cut.value)
    assert not (tmp_path / NAME).exists() and not (tmp_path / f"{NAME}.zip").exists()

    server.truncate_at = None
    server.sent = 0
    folder = fetch_dataset(NAME, tmp_path, url=url)
    assert server.sent == len(dataset_zip) - kept  # only the rest was asked for
    assert server.requests[-1] == (f"/{NAME}.zip", f"bytes={kept}-")
    assert load_dataset(folder).fingerprint == load_dataset(ML_SMALL).fingerprint
    assert leftovers(tmp_path) == [NAME]


def test_corrupted_download_is_removed_and_raises(server, dataset_zip, tmp_path):
    url = server.serve_zip(NAME, dataset_zip)
    server.corrupt = True
    with pytest.raises(FetchError, match="corrupted: its md5 is .*removed"):
        fetch_dataset(NAME, tmp_path, url=url)
    assert leftovers(tmp_path) == []  # neither the .part nor a final file
    server.corrupt = False
    assert (fetch_dataset(NAME, tmp_path, url=url) / "movies.csv").is_file()


def test_server_without_range_support_restarts_cleanly(server, dataset_zip, tmp_path):
    url = server.serve_zip(NAME, dataset_zip)
    server.truncate_at = 100_000
    with pytest.raises(FetchError):
        fetch_dataset(NAME, tmp_path, url=url)
    server.truncate_at, server.ranges, server.sent = None, False, 0
    folder = fetch_dataset(NAME, tmp_path, url=url)
    assert server.sent == len(dataset_zip)  # the whole file again, not appended to the old part
    assert len(load_dataset(folder).movies) == 9742


def test_complete_part_is_verified_without_downloading_again(server, dataset_zip, tmp_path):
    """A .part that is already whole (crash before renaming) gets 416 and is then verified."""
    url = server.serve_zip(NAME, dataset_zip)
    server.truncate_at = 1000
    with pytest.raises(FetchError):
        fetch_dataset(NAME, tmp_path, url=url)
    (tmp_path / f"{NAME}.zip.part").write_bytes(dataset_zip)
    server.truncate_at, server.sent = None, 0
    assert (fetch_dataset(NAME, tmp_path, url=url) / "ratings.csv").is_file()
    assert server.sent == 0


def test_part_longer_than_file_restarts(server, dataset_zip, tmp_path):
    url = server.serve_zip(NAME, dataset_zip)
    server.truncate_at = 1000
    with pytest.raises(FetchError):
        fetch_dataset(NAME, tmp_path, url=url)
    (tmp_path / f"{NAME}.zip.part").write_bytes(b"x" * (len(dataset_zip) + 10))
    server.truncate_at, server.sent = None, 0
    assert (fetch_dataset(NAME, tmp_path, url=url) / "movies.csv").is_file()
    assert server.sent == len(dataset_zip)


def test_pinned_checksum_and_size(server, dataset_zip, tmp_path, monkeypatch):
    """Known names are checked against the pinned sha256 and size, also through a mirror."""
    server.serve_zip("ml-latest-small", dataset_zip)
    monkeypatch.setenv("REELPICK_DATA_URL", server.url + "/")
    # Our zip is not the official one: its size alone rules it out before any byte is saved.
    with pytest.raises(FetchError, match=r"published as 978,202 bytes"):
        fetch_dataset("ml-latest-small", tmp_path)
    assert leftovers(tmp_path) == []

    sha = hashlib.sha256(dataset_zip).hexdigest()
    monkeypatch.setitem(fetch.KNOWN, NAME, fetch.Known(len(dataset_zip), sha))
    server.serve_zip(NAME, dataset_zip)
    del server.files[f"/{NAME}.zip.md5"]  # a pinned hash needs no .md5 file
    assert (fetch_dataset(NAME, tmp_path) / "movies.csv").is_file()

    monkeypatch.setitem(fetch.KNOWN, "ml-other", fetch.Known(len(dataset_zip), "0" * 64))
    server.serve_zip("ml-other", dataset_zip)
    with pytest.raises(FetchError, match="corrupted: its sha256"):
        fetch_dataset("ml-other", tmp_path)
    assert not (tmp_path / "ml-other.zip.part").exists()


def test_clear_errors(server, dataset_zip, tmp_path):
    with pytest.raises(FetchError, match="unknown dataset 'ml-nope'"):
        fetch_dataset("ml-nope", tmp_path)
    with pytest.raises(FetchError, match="not a dataset name"):
        fetch_dataset("../evil", tmp_path, url=server.url + "/x.zip")
    with pytest.raises(FetchError, match=r"x\.zip\.md5: HTTP 404.*cannot be verified"):
        fetch_dataset(NAME, tmp_path, url=server.url + "/x.zip")
    server.files["/y.zip.md5"] = b"MD5 (y.zip) = " + hashlib.md5(b"y").hexdigest().encode()
    with pytest.raises(FetchError, match=r"y\.zip: HTTP 404"):
        fetch_dataset(NAME, tmp_path, url=server.url + "/y.zip")
    with pytest.raises(FetchError, match="only http"):
        fetch_dataset(NAME, tmp_path, url="ftp://example.invalid/x.zip")
    with pytest.raises(FetchError, match=r"cannot reach http://127\.0\.0\.1:9/x\.zip"):
        fetch_dataset(NAME, tmp_path, url="http://user:secret@127.0.0.1:9/x.zip?key=secret")
    # Not a zip at all, but with a matching checksum: removed, and said so.
    url = server.serve_zip("junk", b"this is no zip file")
    with pytest.raises(FetchError, match="not a readable zip"):
        fetch_dataset(NAME, tmp_path, url=url)
    assert not (tmp_path / NAME).exists() and not (tmp_path / f"{NAME}.zip").exists()
    (tmp_path / "occupied").mkdir()
    with pytest.raises(FetchError, match="holds no MovieLens dataset"):
        fetch_dataset("occupied", tmp_path, url=url)


def test_secrets_in_url_stay_out_of_messages(tmp_path):
    with pytest.raises(FetchError) as caught:
        fetch_dataset(NAME, tmp_path, url="http://user:secret@127.0.0.1:9/x.zip?token=secret")
    assert "secret" not in str(caught.value)


def test_cli_data_fetch(server, dataset_zip, tmp_path, capsys):
    url = server.serve_zip(NAME, dataset_zip)
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\ndir = "{tmp_path / "data"}"\n[cache]\ndir = "{tmp_path / "c"}"\n')
    assert main(["--config", str(config), "data", "fetch", NAME, "--url", url]) == 0
    assert f"{NAME} is in {tmp_path / 'data' / NAME}" in capsys.readouterr().out
    assert len(load_dataset(tmp_path / "data" / NAME).movies) == 9742

    server.corrupt = True
    assert main(["--config", str(config), "data", "fetch", "ml-x", "--url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("reelpick: download of") and "corrupted" in err
    assert "Traceback" not in err


def test_progress_bar_when_asked(server, dataset_zip, tmp_path, capsys):
    url = server.serve_zip(NAME, dataset_zip)
    fetch_dataset(NAME, tmp_path, url=url, progress=True)
    err = capsys.readouterr().err
    assert f"{NAME}.zip:" in err and "B/s" in err  # the bar, sized from Content-Length


# -- hardening: a stale zip, two fetches at once, hostile archives ---------------------------


def test_existing_zip_with_the_wrong_checksum_is_downloaded_again(server, dataset_zip, tmp_path):
    url = server.serve_zip(NAME, dataset_zip)
    stale = tmp_path / f"{NAME}.zip"
    stale.write_bytes(dataset_zip[:-10] + b"tampered!!")  # same size, other bytes
    folder = fetch_dataset(NAME, tmp_path, url=url)
    assert server.sent == len(dataset_zip)  # fetched afresh instead of unpacking the stale one
    assert len(load_dataset(folder).movies) == 9742


def test_existing_zip_with_the_right_checksum_is_used(server, dataset_zip, tmp_path):
    url = server.serve_zip(NAME, dataset_zip)
    (tmp_path / f"{NAME}.zip").write_bytes(dataset_zip)
    fetch_dataset(NAME, tmp_path, url=url)
    assert server.sent == 0 and leftovers(tmp_path) == [NAME]


def test_a_second_fetch_waits_for_the_first(server, dataset_zip, tmp_path, caplog):
    import fcntl
    import os

    url = server.serve_zip(NAME, dataset_zip)
    lock = tmp_path / f".{NAME}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "the first fetch" holds the lock
    results: list[Path] = []
    second = threading.Thread(target=lambda: results.append(fetch_dataset(NAME, tmp_path, url=url)))
    waiting = threading.Event()
    handler = _Signal(waiting, "another reelpick is fetching")
    fetch.log.addHandler(handler)
    try:
        second.start()
        assert waiting.wait(60), "the second fetch never said it was waiting"
        assert server.requests == []  # nothing downloaded while the first one runs
        (tmp_path / NAME).mkdir()
        for source in ML_SMALL.iterdir():  # "the first fetch" finishes...
            (tmp_path / NAME / source.name).write_bytes(source.read_bytes())
        lock.unlink()
        os.close(fd)  # ...and lets go
        second.join(60)
    finally:
        fetch.log.removeHandler(handler)
    assert results == [tmp_path / NAME] and server.requests == []


class _Signal(logging.Handler):
    def __init__(self, event: threading.Event, text: str) -> None:
        super().__init__()
        self.event, self.text = event, text

    def emit(self, record) -> None:
        if self.text in record.getMessage():
            self.event.set()


def _zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entries", "limits", "message"),
    [
        ({"../evil.csv": b"x"}, {}, r"unsafe path '\.\./evil\.csv'"),
        ({"/etc/evil.csv": b"x"}, {}, r"unsafe path '/etc/evil\.csv'"),
        (
            {"a/movies.csv": b"0" * 5_000_000},
            {"MAX_UNPACKED_BYTES": 1_000_000},
            "would unpack to more than 1,000,000 bytes",
        ),
        (
            {f"a/{i}.csv": b"" for i in range(30)},
            {"MAX_ZIP_ENTRIES": 20},
            "holds 30 entries \\(at most 20\\)",
        ),
    ],
    ids=["dot-dot", "absolute", "bomb", "entries"],
)
def test_hostile_archives_are_refused(server, tmp_path, monkeypatch, entries, limits, message):
    for name, value in limits.items():
        monkeypatch.setattr(fetch, name, value)
    url = server.serve_zip(NAME, _zip_of(entries))
    with pytest.raises(FetchError, match=message):
        fetch_dataset(NAME, tmp_path, url=url)
    assert not (tmp_path / NAME).exists()
    assert not any(p.name.startswith(f".{NAME}.") and p.is_dir() for p in tmp_path.iterdir())
