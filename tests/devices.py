"""Real special files for the tests of writing and reading (tests/adapters/test_special_files.py,
tests/comparisons/test_out_targets.py): device nodes, FIFOs, small file systems, and a
process without root's power over permissions. Each skips where the system refuses it."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

NULL = (1, 3)  # /dev/null's major and minor numbers (Linux)
FULL = (1, 7)  # /dev/full's: every write fails with ENOSPC
LOOP0 = (7, 0)  # a block device (the first loop device); only its node is ever made


def device(path: Path, numbers: tuple[int, int], kind: int = stat.S_IFCHR) -> Path:
    """A device node at `path` (as /dev/null is one); skips without the right to make one."""
    if not sys.platform.startswith("linux"):
        pytest.skip("device numbers are Linux's")
    try:
        os.mknod(path, 0o666 | kind, os.makedev(*numbers))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    return path


def same_node(path: Path, numbers: tuple[int, int], kind: int = stat.S_IFCHR) -> bool:
    """Whether `path` is still the device node it was made as (not a file put in its place)."""
    st = os.lstat(path)
    return (
        stat.S_IFMT(st.st_mode) == kind
        and os.major(st.st_rdev) == numbers[0]
        and (os.minor(st.st_rdev) == numbers[1])
    )


@contextlib.contextmanager
def reading(fifo: Path):
    """A thread reading `fifo` to its end; yields the list its bytes are put in."""
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    thread.start()
    try:
        yield got
    finally:
        thread.join(60)
        assert not thread.is_alive(), "the FIFO's reader never saw an end"


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "16k", read_only: bool = False):
    """A small tmpfs mounted at `folder` (a full disk, a read-only file system for real);
    skips where mounting is not allowed."""
    folder.mkdir(exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


# Run argv with root's power over file permissions taken away (CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH out of the bounding set, then exec): what every other user meets.
_WITHOUT_OVERRIDE = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        sys.exit(99)
os.execv(sys.argv[1], sys.argv[1:])
"""


def without_override(argv: list[str]) -> list[str]:
    """`argv` run as root without the power to ignore permissions; skips unless root."""
    if os.geteuid() != 0:
        pytest.skip("as a user other than root, permissions apply already")
    return [sys.executable, "-c", _WITHOUT_OVERRIDE, *argv]
