"""Atomic file writes: a failure midway leaves the previous file intact.

The file gets the permissions a plain `open(path, "wb")` would give it: an existing file
keeps its mode, a new one gets 0o666 less the umask. The temporary file is created with
mode 0o666 and the kernel takes the umask (and a directory's default ACL) off, as it
does for `open`: the umask is never read, so it never has to be set and put back (which
would change it for every thread of the process for a moment).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def create_new(path: str | os.PathLike) -> int:
    """Open a file that must not exist yet, for writing, with the mode `open` gives."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, then flush it to the disk (a full disk or a
    quota is an OSError here, not a short file later)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.
    The file gets the permissions a plain `open(path, "wb")` would give it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # an existing file keeps its mode
    except FileNotFoundError:
        mode = None
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = create_new(tmp)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
