"""Remote storage (``s3://``, ``gs://``) for experiments, assessments and Ray Train runs.

Ray writes trials and checkpoints to a remote URI itself, through pyarrow's filesystems; the files this
tool reads back (a trial's results, an Optuna study, an assessment's plan) are read from a local
working copy that ``pull`` refreshes and ``push`` publishes. The copy lives under the cache folder
(``$CRNN_CACHE_DIR``, default ``~/.cache/crnn``), so any machine with access to the bucket can resume
a run or read its results.

S3-compatible servers (MinIO, Ceph, moto): set ``AWS_ENDPOINT_URL=http://HOST:PORT`` (read by pyarrow,
boto3 and the AWS CLI alike), or write the override into the URI:
``s3://bucket/path?endpoint_override=HOST:PORT&scheme=http``. Credentials come from the usual
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or the instance's role); GCS from its default credentials.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from crnn.atomic import atomic_write_bytes
from crnn.errors import UserError

SCHEMES = ("s3", "gs", "gcs")


def is_remote(uri: str | Path | None) -> bool:
    """True for ``s3://``/``gs://`` URIs; False for paths (``file://`` included: a mounted folder)."""
    return uri is not None and urlsplit(str(uri)).scheme in SCHEMES


def check_uri(uri: str, flag: str) -> None:
    """Refuse a URI scheme pyarrow cannot write (``--storage hdfs://...``) in one line."""
    scheme = urlsplit(uri).scheme
    if "://" in uri and scheme not in (*SCHEMES, "file"):
        raise UserError(f"{flag} {uri}: accepted: a folder, file:///shared/path, s3://bucket/path or gs://bucket/path")


def join(uri: str, *parts: str) -> str:
    """``uri`` + path parts, keeping its query (``?endpoint_override=...``) at the end."""
    s = urlsplit(uri)
    path = "/".join([s.path.rstrip("/"), *(p.strip("/") for p in parts)])
    return urlunsplit((s.scheme, s.netloc, path, s.query, ""))


def filesystem(uri: str):
    """(pyarrow filesystem, path inside it) for a remote URI; a one-line error where the bucket is
    missing or the server does not answer. Opened and checked once per URI and endpoint in a process:
    a search uploads its study after every trial."""
    return _open(uri, os.environ.get("AWS_ENDPOINT_URL"))


@functools.lru_cache(maxsize=64)
def _open(uri: str, endpoint: str | None):  # endpoint: part of the key, read by pyarrow from the environment
    import pyarrow.fs as pafs  # noqa: PLC0415

    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        bucket = path.split("/", 1)[0]
        info = fs.get_file_info(bucket)
    except (OSError, ValueError) as exc:  # pyarrow.lib.ArrowInvalid is a ValueError
        raise UserError(f"{redact(uri)}: cannot reach the storage ({_first_line(exc)})") from None
    if info.type == pafs.FileType.NotFound:
        raise UserError(f"{redact(uri)}: bucket {bucket!r} does not exist (create it first, e.g. `aws s3 mb s3://{bucket}`)")
    return fs, path.rstrip("/")


def ray_storage(where: str) -> tuple[str, object | None]:
    """``(storage_path, storage_filesystem)`` for a Ray ``RunConfig``: a remote URI becomes its path and a
    filesystem that carries the endpoint (the workers get the same object); a folder stays as it is."""
    if not is_remote(where):
        return where, None
    fs, path = filesystem(where)
    return path, fs


def redact(uri: str) -> str:
    """The URI without its query (it may hold keys)."""
    s = urlsplit(uri)
    return urlunsplit((s.scheme, s.netloc, s.path, "", ""))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def cache_dir(uri: str) -> Path:
    """The local working copy of a remote folder: ``$CRNN_CACHE_DIR/storage/SCHEME/BUCKET/PATH``."""
    root = Path(os.environ.get("CRNN_CACHE_DIR") or Path.home() / ".cache" / "crnn")
    s = urlsplit(uri)
    return (root / "storage" / s.scheme / s.netloc / s.path.strip("/")).resolve()


def pull(uri: str, local: Path, skip: Callable[[str], bool] = lambda rel: False) -> int:
    """Copy the remote folder ``uri`` into ``local`` (files that changed size or are newer there; each
    written atomically); ``skip(relative_path)`` leaves files out. Returns the number of files copied;
    a remote folder that does not exist copies nothing."""
    import pyarrow.fs as pafs  # noqa: PLC0415

    fs, root = filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    copied = 0
    for info in infos:
        rel = info.path[len(root) :].lstrip("/")
        if info.type != pafs.FileType.File or skip(rel):
            continue
        dest = local / rel
        have = dest.stat() if dest.is_file() else None
        if have and have.st_size == info.size and info.mtime_ns and have.st_mtime_ns >= info.mtime_ns:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with fs.open_input_stream(info.path) as src:
            atomic_write_bytes(dest, src.read())
        copied += 1
    return copied


def push(local: Path, uri: str, files: Iterable[str]) -> int:
    """Upload ``local/REL`` to ``uri/REL`` for each REL in ``files`` that exists (one object each: an S3
    reader sees the old file or the new). Returns the number uploaded."""
    fs, root = filesystem(uri)
    sent = 0
    for rel in files:
        src = local / rel
        if not src.is_file():
            continue
        with fs.open_output_stream(f"{root}/{rel}") as out:
            out.write(src.read_bytes())
        sent += 1
    return sent


def push_tree(local: Path, uri: str, skip: Callable[[str], bool] = lambda rel: False) -> int:
    """Upload every file under ``local`` (but those ``skip`` names) to ``uri``."""
    files = [p.relative_to(local).as_posix() for p in sorted(local.rglob("*")) if p.is_file()]
    return push(local, uri, [f for f in files if not skip(f) and ".tmp" not in Path(f).name])
