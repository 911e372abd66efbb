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

from crnn.atomic import atomic_write_stream
from crnn.errors import UserError

SCHEMES = ("s3", "gs", "gcs")
CHUNK_BYTES = 8 << 20  # a sync streams a file this much at a time: memory stays flat on any checkpoint


# Query keys pyarrow reads credentials from (``?access_key=...&secret_key=...``); any key that names a
# secret is refused with them, so no spelling slips through.
SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def is_remote(uri: str | Path | None) -> bool:
    """True for ``s3://``/``gs://`` URIs; False for paths (``file://`` included: a mounted folder).
    Every remote URI passes here first, so a URI that carries credentials is refused here."""
    remote = uri is not None and urlsplit(str(uri)).scheme in SCHEMES
    if remote:
        refuse_credentials(str(uri))
    return remote


def refuse_credentials(uri: str) -> None:
    """Keys in a URI (``s3://KEY:SECRET@bucket``, ``?secret_key=``) would reach the cache folder's name,
    experiment.json (which is uploaded) and printed lines; they are refused, naming only the safe part."""
    s = urlsplit(uri)
    query_keys = [part.split("=", 1)[0].lower() for part in s.query.split("&") if part]
    if "@" in s.netloc or any(word in key for key in query_keys for word in SECRET_WORDS):
        raise UserError(
            f"{redact(uri)}: credentials in a storage URI are refused (they would reach file names, logs and the "
            "bucket); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, in the environment instead"
        )


def check_uri(uri: str, flag: str) -> None:
    """Refuse a URI scheme pyarrow cannot write (``--storage hdfs://...``) in one line."""
    scheme = urlsplit(uri).scheme
    if "://" in uri and scheme not in (*SCHEMES, "file"):
        raise UserError(f"{flag} {redact(uri)}: accepted: a folder, file:///shared/path, s3://bucket/path or gs://bucket/path")
    try:
        refuse_credentials(uri)
    except UserError as exc:
        raise UserError(f"{flag} {exc}") from None


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


def _pyarrow_fs():
    """pyarrow's filesystems, imported on first use: only runs on buckets pay for pyarrow's import."""
    import pyarrow.fs  # noqa: PLC0415 - only runs on buckets pay for pyarrow's import

    return pyarrow.fs


@functools.lru_cache(maxsize=64)
def _open(uri: str, endpoint: str | None):  # endpoint: part of the key, read by pyarrow from the environment
    pafs = _pyarrow_fs()

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
    """The URI without its query and without any ``user:password@`` (either may hold keys)."""
    s = urlsplit(uri)
    return urlunsplit((s.scheme, s.netloc.rsplit("@", 1)[-1], s.path, "", ""))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def cache_dir(uri: str) -> Path:
    """The local working copy of a remote folder: ``$CRNN_CACHE_DIR/storage/SCHEME/BUCKET/PATH``."""
    refuse_credentials(uri)
    root = Path(os.environ.get("CRNN_CACHE_DIR") or Path.home() / ".cache" / "crnn")
    s = urlsplit(uri)
    return (root / "storage" / s.scheme / s.netloc / s.path.strip("/")).resolve()


def inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` when it stays inside ``root`` (no ``..``, no absolute part, no link out), else None."""
    parts = rel.replace("\\", "/").split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    root = root.resolve()
    dest = (root / Path(*parts)).resolve()
    return dest if dest.is_relative_to(root) and dest != root else None


def pull(uri: str, local: Path, skip: Callable[[str], bool] = lambda rel: False, log: Callable[[str], None] = print) -> int:
    """Copy the remote folder ``uri`` into ``local`` (files that changed size or are newer there; each
    streamed and written atomically); ``skip(relative_path)`` leaves files out. A key that would land
    outside ``local`` (``a/../../x``) is written nowhere, and named in one warning. Returns the number of
    files copied; a remote folder that does not exist copies nothing."""
    pafs = _pyarrow_fs()

    fs, root = filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    copied, refused = 0, []
    for info in infos:
        rel = info.path[len(root) :].lstrip("/")
        if info.type != pafs.FileType.File or skip(rel):
            continue
        dest = inside(local, rel)
        if dest is None:
            refused.append(rel)
            continue
        have = dest.stat() if dest.is_file() else None
        if have and have.st_size == info.size and info.mtime_ns and have.st_mtime_ns >= info.mtime_ns:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with fs.open_input_stream(info.path) as src:
            atomic_write_stream(dest, src)
        copied += 1
    if refused:
        shown = ", ".join(repr(r) for r in refused[:3]) + (f" and {len(refused) - 3} more" if len(refused) > 3 else "")
        log(f"warning: {redact(uri)}: {len(refused)} key(s) would be written outside {local} and were skipped: {shown}")
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
        with fs.open_output_stream(f"{root}/{rel}") as out, src.open("rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                out.write(chunk)
        sent += 1
    return sent


def push_tree(local: Path, uri: str, skip: Callable[[str], bool] = lambda rel: False) -> int:
    """Upload every file under ``local`` (but those ``skip`` names) to ``uri``."""
    files = [p.relative_to(local).as_posix() for p in sorted(local.rglob("*")) if p.is_file()]
    return push(local, uri, [f for f in files if not skip(f) and ".tmp" not in Path(f).name and Path(f).name != ".crnn.lock"])
