"""Files are written atomically: a failure midway leaves the previous file intact and no
temporary file behind (adapters.files, used for weights; the output set of a run is
test_output_set.py)."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

import adapters
from adapters import files, weights_file
from scratch import init_weights

OLD = b"the previous contents"
W = init_weights(3, 5, 4, rng=np.random.RandomState(0))


class Boom(Exception):
    pass


def fail(*_args, **_kwargs):
    raise Boom("failed midway")


_write = os.write


def half_write(fd, data):
    """A write that puts half the bytes on disk, then fails (a full disk)."""
    _write(fd, bytes(data)[: len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device")


def only(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("previous", [True, False], ids=["replacing", "new"])
@pytest.mark.parametrize("where", ["rename", "write", "fsync", "interrupt"])
def test_a_failed_write_leaves_the_previous_file_and_no_temporary(
    tmp_path, monkeypatch, where, previous
):
    target = tmp_path / "report.md"
    if previous:
        target.write_bytes(OLD)
    if where == "rename":
        monkeypatch.setattr(files.os, "replace", fail)
    elif where == "write":
        monkeypatch.setattr(files.os, "write", half_write)
    elif where == "fsync":
        monkeypatch.setattr(files.os, "fsync", fail)
    else:  # Ctrl-C between writing and renaming

        def interrupt(*_args):
            raise KeyboardInterrupt

        monkeypatch.setattr(files.os, "replace", interrupt)
    with pytest.raises((Boom, OSError, KeyboardInterrupt)):
        files.atomic_write_text(target, "# the new report\n" * 1000)
    assert only(tmp_path) == (["report.md"] if previous else [])
    if previous:
        assert target.read_bytes() == OLD


def test_a_successful_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(OLD)
    files.atomic_write_bytes(target, b"\x89PNG new")
    assert target.read_bytes() == b"\x89PNG new" and only(tmp_path) == ["plot.png"]


@pytest.mark.parametrize("where", ["serialise", "rename", "write"])
def test_save_weights_failing_midway_keeps_the_previous_weights(tmp_path, monkeypatch, where):
    path = adapters.save_weights(tmp_path / "w.npz", W)
    before = path.read_bytes()
    new = {k: v + 1 for k, v in W.items()}
    if where == "serialise":
        monkeypatch.setattr(weights_file.np, "savez", fail)
    elif where == "rename":
        monkeypatch.setattr(files.os, "replace", fail)
    else:
        monkeypatch.setattr(files.os, "write", half_write)
    with pytest.raises((Boom, OSError)):
        adapters.save_weights(path, new)
    assert only(tmp_path) == ["w.npz"] and path.read_bytes() == before
    for k, v in adapters.load_weights(path).items():
        np.testing.assert_array_equal(v, W[k])
