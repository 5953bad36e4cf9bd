"""Writing a file without ever destroying what was there: the weights, rosetta's --out.

What `atomic_write_bytes(path, data)` does depends on what `path` is:
- a regular file, or nothing yet: the bytes go to a temporary file beside it, which is
  then renamed over it, so a failure midway (a full disk, Ctrl-C) leaves the previous file
  intact and no temporary file behind;
- a symlink: followed, as `--out DIR` follows one (its target is replaced); a symlink to
  nothing is refused, as `--out DIR` refuses one;
- a character device (`/dev/null`, a terminal) or a FIFO, or an open descriptor named
  through /proc (`/dev/stdout`, `/dev/fd/1`): written through, as `open(path, "wb")`
  would. Atomic replacement is for regular files only: nothing else is ever unlinked or
  renamed over;
- a directory, a block device or a socket: ValueError naming it, nothing written.

`check_writable(path, what)` finds, before any work, what would make the writing fail:
the cases above, a name longer than the file system allows, a folder that does not take
new files. "Cannot be written" is what the kernel says, found by creating (and removing)
the temporary file where the real one will go: root may write into a 0555 folder, so it
is not refused there, while a read-only file system, /proc or /sys are, for every user.
A full disk is found only when the bytes are written: an OSError, the previous file kept.

The file gets the permissions a plain `open(path, "wb")` would give it: an existing file
keeps its mode, a new one gets 0o666 less the umask. The temporary file is created with
mode 0o666 and the kernel takes the umask (and a directory's default ACL) off, as it
does for `open`: the umask is never read, so it never has to be set and put back (which
would change it for every thread of the process for a moment).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

KINDS = {
    stat.S_IFDIR: "directory",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFSOCK: "socket",
    stat.S_IFLNK: "symlink",
    stat.S_IFREG: "regular file",
}
TEMP_ROOM = len(".." + "0" * 8 + ".tmp")  # what `_temp_name` adds to a name
DESCRIPTOR = re.compile(r"/proc/(?P<pid>\d+)/(task/\d+/)?fd/(?P<fd>\d+)")  # /dev/stdout's


def kind(mode: int) -> str:
    """What a stat mode is, in words: "character device", "FIFO (named pipe)", ..."""
    return KINDS.get(stat.S_IFMT(mode), "special file")


def create_new(path: str | os.PathLike) -> int:
    """Open a file that must not exist yet, for writing, with the mode `open` gives."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, then flush it to the disk (a full disk or a
    quota is an OSError here, not a short file later)."""
    _write(fd, data)
    os.fsync(fd)


def _own_descriptor(path: Path) -> int | None:
    """-1 where `path` names an open descriptor of another process through /proc; this
    process's descriptor number where it names one of ours (/dev/stdout, /dev/fd/1,
    /proc/self/fd/1: whose target may be a regular file the shell opened, `>> log`);
    None for any other path."""
    where = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit of symlinks followed
        where = os.path.join(os.path.realpath(os.path.dirname(where)), os.path.basename(where))
        match = DESCRIPTOR.fullmatch(where)
        if match:
            return int(match["fd"]) if match["pid"] == str(os.getpid()) else -1
        if not os.path.islink(where):
            return None
        where = os.path.join(os.path.dirname(where), os.readlink(where))
    return None


def _destination(path: Path, what: str) -> tuple[Path, os.stat_result | None, bool]:
    """Where the bytes go (a symlink's target), what is there now (None: nothing) and
    whether it is written through; ValueError for what can be neither written through
    nor replaced."""
    name = f"{what} {str(path)!r}"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ValueError(
                f"{name} is a symlink to {os.readlink(path)!r}, which does not exist"
            ) from None
        return path, None, False  # created, with the folders above it
    except NotADirectoryError:
        on_the_way = next(
            (p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent
        )
        raise ValueError(f"{name}: {str(on_the_way)!r} is a file, not a folder") from None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            return path, None, False  # check_writable says which name, and the limit
        raise ValueError(f"{name}: {err.strerror or err}") from None  # a symlink loop
    except ValueError as err:  # a NUL in the name
        raise ValueError(f"{name}: {err}") from None
    if stat.S_ISREG(st.st_mode) and _own_descriptor(path) is None:
        return Path(os.path.realpath(path)), st, False
    if stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return path, st, True
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{name} is a directory: expected a file name")
    raise ValueError(f"{name} is a {kind(st.st_mode)}: refused (never written or replaced)")


def _nearest_folder(path: Path) -> Path:
    """The folder that will hold `path`: its parent, or the nearest one above it that
    exists (the rest are created at writing)."""
    folder = Path(os.path.abspath(path)).parent
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX") or 255
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_name(name: str, name_max: int) -> str:
    """`.NAME.XXXXXXXX.tmp`, NAME shortened where the whole would exceed `name_max` bytes."""
    while name and len(os.fsencode(name)) + TEMP_ROOM > name_max:
        name = name[:-1]
    return f".{name}.{secrets.token_hex(4)}.tmp"


def check_writable(path: str | os.PathLike, what: str) -> Path:
    """`path` when it can be written (see the module's docstring); else ValueError in one
    line starting with `what` ("--out"), before any work. Leaves nothing behind."""
    path = Path(path)
    target, st, through = _destination(path, what)
    name = f"{what} {str(path)!r}"
    if through:  # not opened here: a FIFO's reader would see its end, a tape rewind
        if not os.access(path, os.W_OK):
            raise ValueError(f"{name} is a {kind(st.st_mode)} this user cannot write")
        return path
    folder = _nearest_folder(target)
    name_max = _name_max(folder)
    for part in Path(os.path.abspath(target)).relative_to(folder).parts:
        if len(os.fsencode(part)) > name_max:
            raise ValueError(
                f"{what}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes; "
                f"this file system allows {name_max}"
            )
    probe = folder / _temp_name(target.name, name_max)
    try:
        os.close(create_new(probe))
    except OSError as err:
        why = err.strerror or str(err)
        raise ValueError(f"{name}: {str(folder)!r} does not take new files ({why})") from None
    os.unlink(probe)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, what: str = "file") -> Path:
    """Write `data` to `path`: a regular file is replaced atomically (a temporary file
    beside it, renamed over it); a device or FIFO is written through; see the module's
    docstring. ValueError (`what` names the path) for what can be neither, before
    writing; OSError when the writing fails, the previous file left as it was."""
    path = Path(path)
    target, st, through = _destination(path, what)
    if through:
        _write_through(path, data, what)
        return path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / _temp_name(target.name, _name_max(target.parent))
    fd = create_new(tmp)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))  # an existing file keeps its mode
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_through(path: Path, data: bytes, what: str) -> None:
    """Write into a device, a FIFO (waiting for a reader, as `open` does) or an open
    descriptor (ours: at its offset, as `print` would; another process's: appended),
    without truncating, creating or replacing anything."""
    ours = _own_descriptor(path)
    if ours is not None and ours >= 0:
        _write(ours, data)
        return
    flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_APPEND if ours == -1 else 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or ours == -1):  # replaced since
            raise ValueError(f"{what} {str(path)!r} became a {kind(mode)} while it was opened")
        _write(fd, data)
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str, *, what: str = "file") -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), what=what)
