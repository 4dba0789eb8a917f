"""Append-only spool files that several processes share safely: the file mechanics of the
metering outbox (``outbox``), which decides what the lines mean.

Every writer and reader takes ``flock`` on the file, then checks that the file it holds is
still the one at its path: a drainer replaces a file (``rewrite``) or removes it while a
writer may be waiting on its lock, and an append to the old file would be lost. A rewrite
goes to a temporary file, fsynced, then renamed over the old one, so a crash leaves the old
file or the new one, never half of each.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

MODE = 0o600  # entries hold usage rows (perhaps bodies): for the app's user only


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not removed or replaced meanwhile)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


def _sync_directory(directory: Path) -> None:
    """A rename or removal survives a crash once the directory itself is flushed."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append(path: Path, lines: list[bytes]) -> None:
    """Append whole lines durably (fsynced) to the file at ``path``, created if needed.

    A file whose last line was torn (a process killed mid-write) first gets the newline it
    lacks, so the torn line stays a line of its own and the new ones stay whole."""
    data = b"".join(line.rstrip(b"\n") + b"\n" for line in lines)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _same_file(fd, path):
                continue  # a drainer replaced or removed it while we waited: open it again
            size = os.fstat(fd).st_size
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            _write_all(fd, b"\n" + data if torn else data)
            os.fsync(fd)
            return
        finally:
            os.close(fd)  # closing releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[int | None]:
    """``with locked(path) as fd``: the file, locked for draining; None when it is gone, or
    another process is draining it (it is skipped this time)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd if _same_file(fd, path) else None
    finally:
        os.close(fd)


def read_lines(fd: int) -> list[bytes]:
    """Every line of the file, the last one even without its newline (a torn write)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    data = b"".join(chunks)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def rewrite(path: Path, lines: list[bytes]) -> None:
    """Replace the file (held locked by the caller) with ``lines``, or remove it when there
    are none: through a temporary file, fsynced and renamed, so a crash loses neither."""
    if not lines:
        path.unlink(missing_ok=True)
        _sync_directory(path.parent)
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
    try:
        _write_all(fd, b"".join(line + b"\n" for line in lines))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    _sync_directory(path.parent)


def count_lines(path: Path) -> int:
    """How many non-empty lines the file holds (0 when there is none)."""
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except FileNotFoundError:
        return 0
