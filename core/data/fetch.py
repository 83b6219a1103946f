"""Download an official GroupLens MovieLens zip, verify it and unpack it into the data folder.

The rules that keep a half download from ever passing for a dataset:

- bytes go to ``<name>.zip.part``; only a file whose size and checksum verify is renamed to
  ``<name>.zip`` (``os.replace``), and the zip is unpacked into a temporary folder that is
  renamed to ``<data_dir>/<name>`` once complete;
- a download cut short keeps its ``.part`` and the next call resumes it with an HTTP Range
  request (a server that ignores Range, or answers 416, makes it start over cleanly);
- a download whose checksum does not match is deleted, so the next call starts afresh.

Checksums: a sha256 (and size) pinned below where it is published and stable; otherwise the
md5 that GroupLens publishes next to every zip (``<zip>.md5``), read from the same server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from tqdm import tqdm

from ..errors import FetchError
from ..version import __version__

log = logging.getLogger(__name__)

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
# A mirror holding the same files as GROUPLENS_URL (``<base>/<name>.zip`` and its ``.md5``).
MIRROR_ENV = "REELPICK_DATA_URL"
TIMEOUT = (10.0, 60.0)  # seconds to connect, seconds between two reads
# Small reads: when a connection breaks, urllib3 drops the read in progress, so a chunk is
# what a resume may have to fetch again.
CHUNK = 64 << 10
MAX_CHECKSUM_BYTES = 4096
# Limits on unpacking: the largest MovieLens zip (ml-32m) holds 6 files, 0.9 GB unpacked.
MAX_ZIP_ENTRIES = 1000
MAX_UNPACKED_BYTES = 16 << 30
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class Known:
    """What GroupLens publishes about one zip. Rolling releases have no pinned hash."""

    size: int | None = None
    sha256: str | None = None


# Pinned values agree with tensorflow/datasets url_checksums/movielens.txt. ml-latest is
# rebuilt from time to time and ml-32m is not pinned there, so both are checked with the
# server's .md5 file instead.
KNOWN: dict[str, Known] = {
    "ml-latest-small": Known(
        978_202,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
    "ml-25m": Known(
        261_978_986,
        "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
    ),
    "ml-20m": Known(
        198_702_078,
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    ),
    "ml-32m": Known(),
    "ml-latest": Known(),  # the full rolling release
}


def fetch_dataset(
    name: str, data_dir: Path, url: str | None = None, progress: bool | None = None
) -> Path:
    """Download dataset ``name`` into ``data_dir/name`` and return that folder.

    ``url`` downloads another zip instead of the official one (it is checked with the
    ``.md5`` file beside it). Returns at once when the folder is already there. Raises
    :class:`FetchError` with a message fit for a person. ``progress=None`` shows a progress
    bar only on a terminal.
    """
    if not _NAME.match(name or ""):
        raise FetchError(f"{name!r} is not a dataset name (known: {', '.join(KNOWN)})")
    data_dir = Path(data_dir).expanduser()
    target = data_dir / name
    if (target / "movies.csv").is_file():
        log.info("%s is already in %s", name, target)
        return target
    if target.exists():
        raise FetchError(
            f"{target} exists but holds no MovieLens dataset; move it away and fetch again"
        )
    known = KNOWN.get(name) if url is None else None
    if url is None:
        if name not in KNOWN and not os.environ.get(MIRROR_ENV):
            raise FetchError(
                f"unknown dataset {name!r}; known: {', '.join(KNOWN)} "
                f"(or give --url, or set {MIRROR_ENV} to a mirror)"
            )
        base = os.environ.get(MIRROR_ENV, "").strip().rstrip("/") or GROUPLENS_URL
        url = f"{base}/{name}.zip"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create the data folder {data_dir}: {exc.strerror}") from None

    archive = data_dir / f"{name}.zip"
    with _exclusive(data_dir / f".{name}.lock", name):
        if (target / "movies.csv").is_file():  # another process fetched it while we waited
            return target
        with requests.Session() as session:
            session.headers["User-Agent"] = f"reelpick/{__version__}"
            if archive.is_file() and not _still_valid(session, url, archive, known):
                archive.unlink()
            if not archive.is_file():
                _download(session, url, archive, known, progress)
        _extract(archive, target)
        archive.unlink()
    log.info("%s unpacked into %s", name, target)
    return target


@contextlib.contextmanager
def _exclusive(lock_file: Path, name: str) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_file``: two fetches of one dataset would otherwise
    append to the same ``.part``. The second one says so, then waits for the first.

    The holder removes the file when done; a waiter that then wakes up on the removed file
    sees that it is no longer the one at ``lock_file`` and locks the new one instead.
    """
    warned = False
    while True:
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FetchError(f"cannot create {lock_file}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not warned:
                log.warning("another reelpick is fetching %s; waiting for it to finish", name)
                warned = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_file).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        lock_file.unlink(missing_ok=True)
        os.close(fd)  # releases the lock


def _still_valid(session: requests.Session, url: str, archive: Path, known: Known | None) -> bool:
    """Whether a ``<name>.zip`` left from an earlier run (it is normally unpacked and removed
    at once) still has the published checksum; a file changed since is not trusted."""
    if known and known.sha256:
        algorithm, wanted = "sha256", known.sha256
        if known.size is not None and archive.stat().st_size != known.size:
            log.warning("%s has the wrong size; downloading it again", archive)
            return False
    else:
        algorithm, wanted = "md5", _published_md5(session, url)
    if _file_hash(archive, algorithm) != wanted:
        log.warning("%s does not match its published %s; downloading it again", archive, algorithm)
        return False
    return True


def _download(
    session: requests.Session,
    url: str,
    archive: Path,
    known: Known | None,
    progress: bool | None,
) -> None:
    """Fetch ``url`` into ``archive`` through ``archive.part``, verified, or raise."""
    part = archive.with_name(archive.name + ".part")
    state = part.with_name(part.name + ".json")  # which URL/version the .part holds
    md5 = None if known and known.sha256 else _published_md5(session, url)
    expected_size = known.size if known else None

    offset = _resumable_offset(part, state, url)
    headers = {"Accept-Encoding": "identity"}  # byte ranges must count raw file bytes
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = json.loads(state.read_text()).get("validator")
        if validator:
            headers["If-Range"] = validator
    response = _get(session, url, headers)
    with response:
        if response.status_code == 416 and offset:
            # The .part is as long as the file or longer: nothing left to ask for.
            total = _total_from_content_range(response.headers.get("Content-Range", ""))
            if total is not None and total == offset:
                return _finish(part, state, archive, url, total, known, md5)
            log.warning("%s: server refused to resume (416); starting over", _safe(url))
            _discard(part, state)
            return _download(session, url, archive, known, progress)
        if response.status_code == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range", ""))
            if start != offset:
                raise FetchError(f"{_safe(url)}: server resumed at byte {start}, not {offset}")
        elif response.status_code == 200:
            if offset:
                log.info("%s: server does not resume downloads; starting over", _safe(url))
            offset = 0
            total = _int_or_none(response.headers.get("Content-Length"))
        else:
            raise FetchError(f"{_safe(url)}: HTTP {response.status_code} {response.reason}")
        if expected_size is not None and total is not None and total != expected_size:
            _discard(part, state)
            raise FetchError(
                f"{_safe(url)} is {total:,} bytes, but {archive.stem} is published as "
                f"{expected_size:,} bytes; not downloading it"
            )
        etag = response.headers.get("ETag", "")
        # A weak ETag may not be used in If-Range; Last-Modified may.
        validator = (etag if etag and not etag.startswith("W/") else None) or response.headers.get(
            "Last-Modified"
        )
        state.write_text(json.dumps({"url": url, "validator": validator}))
        received = _stream(response, part, offset, total, progress, archive.name)
    if total is not None and received < total:
        raise FetchError(
            f"download of {_safe(url)} stopped after {received:,} of {total:,} bytes; "
            "run the same command again to resume it"
        )
    return _finish(part, state, archive, url, total, known, md5)


def _stream(
    response: requests.Response,
    part: Path,
    offset: int,
    total: int | None,
    progress: bool | None,
    label: str,
) -> int:
    """Append the response body to ``part``; return how many bytes the file holds."""
    received = offset
    bar = tqdm(
        total=total,
        initial=offset,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=label,
        disable=None if progress is None else not progress,
        leave=False,
    )
    try:
        with part.open("ab" if offset else "wb") as out, bar:
            try:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (requests.RequestException, OSError) as exc:
                out.flush()
                os.fsync(out.fileno())
                raise FetchError(
                    f"download of {_safe(response.url)} was cut off after {received:,}"
                    f"{f' of {total:,}' if total else ''} bytes ({_scrub(_reason(exc), response.url)}); "
                    "run the same command again to resume it"
                ) from None
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise FetchError(f"cannot write {part}: {exc.strerror or exc}") from None
    return received


def _finish(
    part: Path,
    state: Path,
    archive: Path,
    url: str,
    total: int | None,
    known: Known | None,
    md5: str | None,
) -> None:
    """Check size and checksum of the complete ``.part``; rename it or delete it."""
    size = part.stat().st_size
    expected = known.size if known and known.size else total
    if expected is not None and size != expected:
        _discard(part, state)
        raise FetchError(
            f"download of {_safe(url)} has {size:,} bytes, expected {expected:,}; "
            "it was removed, run the same command again"
        )
    algorithm, wanted = ("sha256", known.sha256) if known and known.sha256 else ("md5", md5)
    got = _file_hash(part, algorithm)
    if got != wanted:
        _discard(part, state)
        raise FetchError(
            f"download of {_safe(url)} is corrupted: its {algorithm} is {got}, the published "
            f"one is {wanted}; the damaged file was removed, run the same command again"
        )
    os.replace(part, archive)
    state.unlink(missing_ok=True)
    log.info("%s verified (%s %s)", archive.name, algorithm, got)


def _published_md5(session: requests.Session, url: str) -> str:
    """The md5 in ``<url>.md5`` (GroupLens writes ``MD5 (x.zip) = <hex>`` or ``<hex>  x.zip``)."""
    parts = urlsplit(url)
    checksum_url = urlunsplit(parts._replace(path=parts.path + ".md5"))
    response = _get(session, checksum_url, {})
    with response:
        if response.status_code != 200:
            raise FetchError(
                f"{_safe(checksum_url)}: HTTP {response.status_code} {response.reason}; "
                "without a published checksum the download cannot be verified"
            )
        body = response.raw.read(MAX_CHECKSUM_BYTES, decode_content=True)
    found = _MD5.search(body.decode("ascii", "replace"))
    if not found:
        raise FetchError(f"{_safe(checksum_url)} holds no md5 checksum")
    return found.group(1).lower()


def _get(session: requests.Session, url: str, headers: dict[str, str]) -> requests.Response:
    try:
        return session.get(url, headers=headers, stream=True, timeout=TIMEOUT)
    except requests.exceptions.InvalidSchema:
        raise FetchError(f"{_safe(url)}: only http:// and https:// URLs can be fetched") from None
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidURL):
        raise FetchError(f"{_safe(url)} is not a valid URL") from None
    except requests.RequestException as exc:
        raise FetchError(f"cannot reach {_safe(url)} ({_scrub(_reason(exc), url)})") from None


def _resumable_offset(part: Path, state: Path, url: str) -> int:
    """Bytes already in ``part`` that belong to ``url`` (0 when it is absent or stale)."""
    if not part.is_file():
        state.unlink(missing_ok=True)
        return 0
    try:
        same_url = json.loads(state.read_text()).get("url") == url
    except (OSError, ValueError, AttributeError):
        same_url = False
    if not same_url:
        _discard(part, state)
        return 0
    return part.stat().st_size


def _extract(archive: Path, target: Path) -> None:
    """Unpack the dataset folder of ``archive`` into ``target``, all or nothing."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            _check_members(archive, zf.infolist())
            zf.extractall(scratch)
        folders = sorted(
            (p.parent for p in scratch.rglob("movies.csv")), key=lambda p: len(p.parts)
        )
        if not folders or not (folders[0] / "ratings.csv").is_file():
            raise FetchError(f"{archive} holds no MovieLens dataset (movies.csv, ratings.csv)")
        os.replace(folders[0], target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        archive.unlink(missing_ok=True)
        raise FetchError(f"{archive} is not a readable zip ({exc}); it was removed") from None
    except OSError as exc:
        raise FetchError(f"cannot unpack {archive} into {target}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check_members(archive: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse a zip that would write outside the folder, or unpack to more than the limits
    (zipfile never inflates an entry past its declared size, so the sum is a true bound)."""
    if len(members) > MAX_ZIP_ENTRIES:
        raise FetchError(
            f"{archive} holds {len(members):,} entries (at most {MAX_ZIP_ENTRIES:,}); not unpacking it"
        )
    total = 0
    for member in members:
        path = Path(member.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or member.filename.startswith("/"):
            raise FetchError(f"{archive}: unsafe path {member.filename[:200]!r} in the zip")
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            raise FetchError(f"{archive}: symbolic link {member.filename[:200]!r} in the zip")
        total += member.file_size
        if total > MAX_UNPACKED_BYTES:
            raise FetchError(
                f"{archive} would unpack to more than {MAX_UNPACKED_BYTES:,} bytes; not unpacking it"
            )


def _file_hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _discard(part: Path, state: Path) -> None:
    part.unlink(missing_ok=True)
    state.unlink(missing_ok=True)


def _parse_content_range(value: str) -> tuple[int, int | None]:
    match = _CONTENT_RANGE.match(value.strip())
    if not match:
        raise FetchError(f"server sent a partial answer with a bad Content-Range {value!r}")
    return int(match.group(1)), _int_or_none(match.group(3))


def _total_from_content_range(value: str) -> int | None:
    match = re.match(r"^bytes \*/(\d+)$", value.strip())
    return int(match.group(1)) if match else None


def _int_or_none(value: str | None) -> int | None:
    with contextlib.suppress(TypeError, ValueError):
        return int(value)  # type: ignore[arg-type]
    return None


def _reason(exc: BaseException) -> str:
    """A short cause for an error message (requests nests the interesting part)."""
    while True:
        inner = getattr(exc, "reason", None)  # urllib3's MaxRetryError names the URL; skip it
        if not isinstance(inner, BaseException) and exc.args:
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def _safe(url: str) -> str:
    """``url`` without user:password@ or a query string, which may carry credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<bad URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _scrub(text: str, url: str) -> str:
    """``text`` with the credentials and query string of ``url`` masked."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.username, parts.query):
        if secret:
            text = text.replace(secret, "***")
    return text
