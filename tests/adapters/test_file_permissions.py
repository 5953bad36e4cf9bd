"""Saved files get the permissions a plain `open(path, "wb")` gives: an existing file keeps
its mode, a new one gets 0o666 less the umask; and saving never touches the umask, which
is process-wide (adapters.files, used for weights, plots and reports)."""

from __future__ import annotations

import os
import stat
import threading

import numpy as np
import pytest

import adapters
from adapters import files
from scratch import init_weights

W = init_weights(3, 5, 4, rng=np.random.RandomState(0))


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_027():
    before = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(before)


def proc_umask() -> int | None:
    """The umask as /proc shows it, without setting it (None where /proc lacks it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return None


@pytest.mark.parametrize("previous", [0o600, 0o640, 0o755])
def test_saving_weights_over_an_existing_file_keeps_its_mode(tmp_path, previous, umask_027):
    path = tmp_path / "w.npz"
    path.write_bytes(b"old")
    os.chmod(path, previous)
    adapters.save_weights(path, W)
    assert mode(path) == previous
    np.testing.assert_array_equal(adapters.load_weights(path)["W1"], W["W1"])


def test_a_new_file_gets_0666_less_the_umask_as_open_gives(tmp_path, umask_027):
    adapters.save_weights(tmp_path / "w.npz", W)
    with open(tmp_path / "plain", "wb"):
        pass
    assert mode(tmp_path / "w.npz") == mode(tmp_path / "plain") == 0o640


def test_saving_never_sets_the_umask(tmp_path, monkeypatch, umask_027):
    """Setting the umask to read it changes it for every thread for a moment: a file
    another thread creates then gets the wrong mode."""
    calls = []
    real = os.umask

    def spy(mask):
        calls.append(mask)
        return real(mask)

    monkeypatch.setattr(files.os, "umask", spy)
    adapters.save_weights(tmp_path / "w.npz", W)
    files.atomic_write_text(tmp_path / "report.md", "# report\n")
    assert calls == []


@pytest.mark.skipif(proc_umask() is None, reason="needs /proc/self/status (Linux)")
def test_a_thread_watching_the_umask_never_sees_it_change_while_weights_are_saved(
    tmp_path, umask_027
):
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.add(proc_umask())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(200):
            adapters.save_weights(tmp_path / f"w{i % 3}.npz", W)
    finally:
        stop.set()
        watcher.join()
    assert seen == {0o027}
