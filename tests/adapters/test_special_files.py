"""Saving never destroys what was at the path, whatever it was (adapters/files.py): a
device or a FIFO is written through, never replaced by a regular file (as root, saving to
/dev/null once replaced the device node); a symlink is followed, one to nothing refused;
a directory, a block device or a socket is a ValueError, nothing written. Loading says
what the path is instead of "does not exist". Real device nodes, FIFOs and file systems."""

from __future__ import annotations

import errno
import io
import os
import socket
import stat
import threading

import numpy as np
import pytest

import adapters
from adapters import files
from scratch import init_weights
from tests.devices import FULL, LOOP0, NULL, device, reading, same_node, tmpfs

W = init_weights(3, 5, 4, rng=np.random.RandomState(0))


def saved_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **W)
    return buf.getvalue()


def as_weights(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data)) as npz:
        return {k: npz[k] for k in npz.files}


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "w.npz"
    os.mkfifo(fifo)
    with reading(fifo) as got:
        adapters.save_weights(fifo, W)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["w.npz"]
    for k, v in as_weights(got[0]).items():
        np.testing.assert_array_equal(v, W[k])


def test_a_character_device_is_written_through_and_the_node_stays(tmp_path):
    null = device(tmp_path / "w.npz", NULL)
    adapters.save_weights(null, W)
    assert same_node(null, NULL) and os.listdir(tmp_path) == ["w.npz"]


def test_a_full_device_is_an_oserror_and_the_node_stays(tmp_path):
    full = device(tmp_path / "w.npz", FULL)
    with pytest.raises(OSError) as caught:
        adapters.save_weights(full, W)
    assert caught.value.errno == errno.ENOSPC
    assert same_node(full, FULL) and os.listdir(tmp_path) == ["w.npz"]


def test_a_symlink_is_followed_and_its_target_replaced_whole(tmp_path):
    """As `--out DIR` follows a symlink to a folder; the temporary file is made beside
    the target, so the rename stays on one file system."""
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "w.npz"
    target.write_bytes(b"previous")
    os.chmod(target, 0o640)
    link = tmp_path / "w.npz"
    link.symlink_to(target)
    adapters.save_weights(link, W)
    assert os.readlink(link) == str(target) and target.read_bytes() == saved_bytes()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["real", "w.npz"]
    assert os.listdir(tmp_path / "real") == ["w.npz"]


def test_a_symlink_to_nothing_is_refused_and_nothing_is_created(tmp_path):
    link = tmp_path / "w.npz"
    link.symlink_to(tmp_path / "nowhere.npz")
    with pytest.raises(ValueError, match="symlink to .*nowhere.npz.*which does not exist"):
        adapters.save_weights(link, W)
    assert os.listdir(tmp_path) == ["w.npz"] and os.path.islink(link)


@pytest.mark.parametrize("what", ["directory", "block device", "socket"])
def test_what_can_be_neither_written_through_nor_replaced_is_a_valueerror(tmp_path, what):
    path = tmp_path / "w.npz"
    if what == "directory":
        path.mkdir()
        (path / "inside").write_text("kept")
    elif what == "block device":
        device(path, LOOP0, stat.S_IFBLK)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    before = os.lstat(path)
    with pytest.raises(ValueError, match=f"weights file .*w.npz.* is a {what}"):
        adapters.save_weights(path, W)
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (
        before.st_ino,
        before.st_mode,
        before.st_rdev,
    )
    assert os.listdir(tmp_path) == ["w.npz"]


def test_the_longest_name_the_file_system_allows_is_saved(tmp_path):
    """The temporary file's name (`.NAME.XXXXXXXX.tmp`) is shortened to fit, instead of
    ENAMETOOLONG for a name that is itself allowed."""
    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("w" * (longest - 4) + ".npz")
    adapters.save_weights(path, W)
    np.testing.assert_array_equal(adapters.load_weights(path)["W2"], W["W2"])
    assert os.listdir(tmp_path) == [path.name]


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    """A real full file system (a 16 KiB tmpfs), not a fake error."""
    with tmpfs(tmp_path / "disk", size="16k") as disk:
        path = adapters.save_weights(disk / "w.npz", W)
        before = path.read_bytes()
        big = init_weights(3, 400, 4, rng=np.random.RandomState(1))  # about 22 KB
        with pytest.raises(OSError) as caught:
            adapters.save_weights(path, big)
        assert caught.value.errno == errno.ENOSPC
        assert os.listdir(disk) == ["w.npz"] and path.read_bytes() == before


@pytest.mark.parametrize(
    "kind, words",
    [
        ("directory", "is a directory, not an .npz file"),
        ("fifo", r"is a FIFO \(named pipe\): an .npz archive is read by seeking"),
        ("character device", "is a character device"),
        ("symlink to nothing", "is a symlink to .*nowhere.npz.*which does not exist"),
    ],
)
def test_loading_says_what_the_path_is(tmp_path, kind, words):
    path = tmp_path / "w.npz"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "character device":
        device(path, NULL)
    else:
        path.symlink_to(tmp_path / "nowhere.npz")
    opened = threading.Event()

    def unblock() -> None:  # should loading open the FIFO, a writer ends its wait
        while not opened.wait(0.05):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                continue
            return

    if kind == "fifo":
        threading.Thread(target=unblock, daemon=True).start()
    try:
        with pytest.raises(ValueError, match=words):
            adapters.load_weights(path)
    finally:
        opened.set()


@pytest.mark.parametrize("where", ["/proc/x", "/sys/x", "/proc/self/status"])
def test_a_folder_that_takes_no_new_files_is_found_before_writing(where):
    if not os.path.isdir(os.path.dirname(where)):
        pytest.skip(f"{os.path.dirname(where)} is Linux's")
    with pytest.raises(ValueError, match="does not take new files"):
        files.check_writable(where, "--out")


def test_a_read_only_file_system_is_found_before_writing(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        with pytest.raises(ValueError, match=r"does not take new files \(Read-only file system\)"):
            files.check_writable(ro / "x.txt", "--out")
        assert os.listdir(ro) == []


def test_checking_leaves_nothing_behind(tmp_path):
    files.check_writable(tmp_path / "a" / "b" / "x.txt", "--out")
    files.check_writable(tmp_path / "y.txt", "--out")
    assert os.listdir(tmp_path) == []
