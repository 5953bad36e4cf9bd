"""The output set of a run (`--out DIR`): written whole or not at all.

The set (loss_curves.png, differences.png, decision_boundaries.png, report.md,
report.html) is written into a staging directory beside DIR, `.DIR.staging-XXXXXXXX`,
which then takes DIR's place in one step: Linux's `renameat2(RENAME_EXCHANGE)` swaps the
two directories atomically, and the previous set, now at the staging name, is removed.
Whatever stops the run (Ctrl-C, SIGTERM, SIGKILL, a full disk), DIR holds the previous
complete set or the new complete set, never a mix. Files in DIR that are not part of the
set are carried over (hard-linked) into the new DIR. Since DIR is replaced whole, it must be
a folder of files of its own: one holding sub-folders, a mount point, or the working
directory is refused.

Two runs writing the same DIR train side by side; writing is serialised by an advisory
lock (`flock`) on DIR's parent directory: the second run WAITS for the first to finish
writing its set, then writes its own; the later run's set stays. A staging directory
left by a killed run is removed by the next run that takes the lock.

`check(out)` finds an unusable DIR before any training: a dangling symlink, a symlink
loop, a name longer than the file system allows, a path through a file, a directory
that cannot be written (permissions, read-only file system, `chattr +i`, a file system
that holds no folders of ours such as /proc and /sys: found by creating and removing the
staging folder where it will go), a folder that is not DIR's own (see above).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from adapters.files import create_new, write_all

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here, so concurrent runs are not serialised
    fcntl = None

STAGING = ".staging-"
OLD = ".old-"
ROOM = len(STAGING) + 8 + 1  # ".DIR.staging-XXXXXXXX": a name must leave room for it
PAUSE_ENV = "SCRATCH_PARITY_TEST_PAUSE"  # tests only: stop at each step (see _test_pause)


MISSING = (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG)  # what check() looks into


class OutDirError(Exception):
    """The output set could not be written; the previous set is left as it was."""


def _errno_text(err: OSError) -> str:
    return err.strerror or os.strerror(err.errno or 0) or str(err)


def check(out: Path) -> Path:
    """`out` when a run can write its set there; else ValueError saying why, in one line.
    Runs before any training; leaves nothing behind (see _probe)."""
    text = str(out)
    try:
        os.lstat(out)
        exists = True
    except OSError as err:
        if err.errno not in MISSING:  # a symlink loop on the way
            raise ValueError(f"--out {text!r}: {_errno_text(err)}") from None
        exists = False  # or a name too long or a file on the way: said below
    if exists and os.path.islink(out):
        try:
            os.stat(out)
        except FileNotFoundError:
            raise ValueError(
                f"--out {text!r} is a symlink to {os.readlink(out)!r}, which does not exist"
            ) from None
        except OSError as err:
            raise ValueError(f"--out {text!r}: {_errno_text(err)}") from None
    if exists and not os.path.isdir(out):
        raise ValueError(f"--out {text!r} exists and is not a directory")
    target = Path(os.path.realpath(out))
    ancestor = target.parent
    while True:  # the nearest existing folder: everything below it is created at writing
        try:
            st = os.stat(ancestor)
        except OSError as err:
            if err.errno not in MISSING:
                raise ValueError(f"--out {text!r}: {_errno_text(err)}") from None
            ancestor = ancestor.parent
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise ValueError(f"--out {text!r}: {str(ancestor)!r} exists and is not a directory")
        break
    name_max = _pathconf(ancestor, "PC_NAME_MAX", 255)
    path_max = _pathconf(ancestor, "PC_PATH_MAX", 4096)
    for part in target.relative_to(ancestor).parts or (target.name,):
        if len(os.fsencode(part)) + ROOM > name_max:
            raise ValueError(
                f"--out: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes; this file "
                f"system allows {name_max - ROOM} here ({name_max} less room for the staging copy)"
            )
    if len(os.fsencode(str(target))) + ROOM >= path_max:
        raise ValueError(f"--out: the path is longer than this system allows ({path_max} bytes)")
    for folder in (target, ancestor) if exists else (ancestor,):
        if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            why = "read-only file system" if _read_only_fs(folder) else "not writable"
            raise ValueError(f"--out {text!r}: {str(folder)!r} is {why}")
    if exists and _immutable(target):
        raise ValueError(f"--out {text!r} is immutable (chattr +i): it cannot be replaced")
    if exists:
        _own_folder(target, text)
    _probe(ancestor, target.relative_to(ancestor).parts[0], text)
    return out


def _probe(folder: Path, name: str, text: str) -> None:
    """Create and remove the staging folder where the run will create it: the kernel's own
    answer to "can a folder be made here?", which permissions cannot give (/proc and /sys
    refuse new folders to root too; root may write into a 0555 folder)."""
    probe = folder / f".{name}{STAGING}{secrets.token_hex(4)}"
    try:
        os.mkdir(probe, 0o700)
    except OSError as err:
        raise ValueError(
            f"--out {text!r}: {str(folder)!r} does not take new folders ({_errno_text(err)})"
        ) from None
    os.rmdir(probe)


def _own_folder(target: Path, text: str) -> None:
    """The set replaces DIR whole, so DIR must be a folder of files: not a mount point,
    not the working directory or one above it, no sub-folders (your home, a project)."""
    if os.path.ismount(target):
        raise ValueError(f"--out {text!r} is a mount point: choose a folder inside it")
    cwd = Path(os.path.realpath(os.getcwd()))
    if cwd == target or target in cwd.parents:
        raise ValueError(
            f"--out {text!r} is the working directory or holds it: choose a folder of its own"
        )
    with os.scandir(target) as entries:
        odd = [e.name for e in entries if not (e.is_file(follow_symlinks=False) or e.is_symlink())]
    if odd:
        raise ValueError(
            f"--out {text!r} holds {odd[0]!r}, which is not a file: the output set "
            "replaces the folder whole, so --out must be a folder of files of its own"
        )


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name) or default
    except (OSError, ValueError, AttributeError):
        return default


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _immutable(folder: Path) -> bool:
    """An immutable or append-only directory cannot be renamed; `access` may not say so."""
    flags = getattr(os.stat(folder), "st_flags", None)  # BSD and macOS
    if flags is not None:
        return bool(flags & (stat.UF_IMMUTABLE | stat.SF_IMMUTABLE | stat.UF_APPEND))
    if fcntl is None:
        return False
    try:  # Linux: FS_IOC_GETFLAGS
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, 0x80086601, buf)  # FS_IOC_GETFLAGS
        return bool(int.from_bytes(buf[:4], sys.byteorder) & (0x10 | 0x20))  # IMMUTABLE, APPEND
    except OSError:
        return False
    finally:
        os.close(fd)


def _test_pause(pause_dir: str | None, step: str) -> None:
    """Tests only: with SCRATCH_PARITY_TEST_PAUSE=DIR, mark each step as reached
    (DIR/at-STEP); where the test asked to hold there (DIR/hold-STEP), wait until DIR/go
    exists, so that the test can signal the process or start another run meanwhile."""
    if not pause_dir:
        return
    Path(pause_dir, f"at-{step}").touch()
    if not Path(pause_dir, f"hold-{step}").exists():
        return
    deadline = time.monotonic() + 120
    while not Path(pause_dir, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@contextlib.contextmanager
def locked(parent: Path, say: Callable[[str], None] | None):
    """Hold the advisory lock of `parent` (the folder that holds DIR and its staging
    copies); wait for another run that holds it."""
    if fcntl is None:
        yield
        return
    fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say is not None:
                say(f"waiting for another run writing to {parent}/ ...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def clean_leftovers(target: Path) -> None:
    """Remove the staging copies a killed run left beside `target`; put back a previous set
    that the fallback swap had moved aside when `target` is missing. Under the lock only."""
    prefix = f".{target.name}"
    for entry in sorted(os.listdir(target.parent)):
        path = target.parent / entry
        if entry.startswith(prefix + OLD) and not os.path.lexists(target):
            os.rename(path, target)  # the previous complete set, back in its place
        elif entry.startswith((prefix + STAGING, prefix + OLD)):
            shutil.rmtree(path, ignore_errors=True)


_libc = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the directories `a` and `b` in one step (Linux renameat2 RENAME_EXCHANGE);
    False where the system or the file system cannot."""
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:  # glibc < 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _carry_over(old: Path, stage: Path, names: Mapping[str, bytes]) -> None:
    """Hard-link into `stage` the files `old` holds besides the set (copies where links fail;
    check() has made sure `old` holds files and symlinks only)."""
    with os.scandir(old) as entries:
        for entry in entries:
            if entry.name in names:
                continue
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), stage / entry.name)
            else:
                _link_or_copy(entry.path, stage / entry.name)


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_set(
    out: Path, files: Mapping[str, bytes], *, say: Callable[[str], None] | None = None
) -> Path:
    """Replace the directory `out` by one holding exactly `files` (name -> bytes), plus what
    `out` held besides them, in one step. OutDirError (the previous set untouched) when
    the disk is full or the directory cannot be written."""
    pause = os.environ.get(PAUSE_ENV)
    target = Path(os.path.realpath(out))  # a symlink to a folder: replace the folder
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with locked(target.parent, say):
            clean_leftovers(target)
            stage = target.parent / f".{target.name}{STAGING}{secrets.token_hex(4)}"
            try:
                _fill(stage, target, files, pause)
                _test_pause(pause, "staged")
                if not os.path.lexists(target):
                    os.rename(stage, target)
                elif _exchange(stage, target):
                    _test_pause(pause, "swapped")
                else:  # no atomic exchange: move the old set aside first (see clean_leftovers)
                    aside = target.parent / f".{target.name}{OLD}{secrets.token_hex(4)}"
                    os.rename(target, aside)
                    try:
                        os.rename(stage, target)
                    except BaseException:
                        os.rename(aside, target)  # the previous set back at once
                        raise
                    stage = aside
                _fsync_dir(target.parent)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
    except OSError as err:
        raise OutDirError(
            f"cannot write the output set to {str(out)!r}: {_errno_text(err)}"
            f"{f' ({err.filename})' if err.filename else ''}; the previous set is unchanged"
        ) from None
    return out


def _fill(stage: Path, target: Path, files: Mapping[str, bytes], pause: str | None) -> None:
    os.mkdir(stage, 0o777)  # the umask applies, as for a new folder
    if os.path.isdir(target):
        os.chmod(stage, stat.S_IMODE(os.stat(target).st_mode))
        _carry_over(target, stage, files)
    for name, data in files.items():
        fd = create_new(stage / name)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        _test_pause(pause, name)
    _fsync_dir(stage)
