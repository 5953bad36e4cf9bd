"""Where `--out` points, in real processes: rosetta's `--out FILE` writes through a device,
a FIFO or /dev/stdout and never replaces one (as root, `--out /dev/null` once replaced the
device node with a file), follows a symlink as `train --out DIR` does, and refuses before
any work (one line, exit status 2, nothing written) what cannot be written: a symlink to
nothing, a name too long, /proc, /sys, a read-only file system, a folder the user may not
write; a disk that fills while writing is one line and exit status 1, the previous file
kept. train's `--out /proc/x` and `/sys/x` are refused before training."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.comparisons.processes import env, train_argv
from tests.devices import FULL, NULL, device, reading, same_node, tmpfs, without_override

ROSETTA = [sys.executable, "-m", "comparisons", "rosetta", "--frameworks", "numpy"]


def rosetta(out, cwd, *more: str, argv=None, **kwargs) -> subprocess.CompletedProcess:
    argv = [*ROSETTA, *more, "--out", str(out)] if argv is None else argv
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(argv, cwd=cwd, env=env(), timeout=120, **kwargs)


def refused(proc: subprocess.CompletedProcess, words: str) -> None:
    """One line on stderr that says `words`, exit status 2, nothing on stdout."""
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("scratch-parity: error:") and words in err, err
    assert proc.stdout == b""


def test_a_character_device_is_written_through_and_stays_a_device(tmp_path):
    null = device(tmp_path / "null", NULL)
    proc = rosetta(null, tmp_path)
    assert proc.returncode == 0 and proc.stderr == b""
    assert same_node(null, NULL) and os.listdir(tmp_path) == ["null"]


def test_a_full_device_is_one_line_exit_1_and_the_node_stays(tmp_path):
    full = device(tmp_path / "full", FULL)
    proc = rosetta(full, tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"scratch-parity: cannot write {str(full)!r}: No space left on device\n"
    )
    assert same_node(full, FULL) and os.listdir(tmp_path) == ["full"]


def test_a_fifo_is_written_through_to_its_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with reading(fifo) as got:
        proc = rosetta(fifo, tmp_path, "--concept", "affine")
    assert proc.returncode == 0, proc.stderr
    assert got[0].startswith(b"Rosetta: ") and b"class Affine:" in got[0]
    assert os.path.exists(fifo) and not os.path.isfile(fifo)


def test_dev_stdout_is_the_command_s_own_stdout_appended_as_the_shell_opened_it(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("a line before\n")
    with open(log, "a") as out:
        proc = rosetta("/dev/stdout", tmp_path, "--concept", "affine", stdout=out)
    assert proc.returncode == 0, proc.stderr
    text = log.read_text()
    assert text.startswith("a line before\nRosetta: ") and "class Affine:" in text


def test_a_symlinked_file_is_written_through_as_a_symlinked_folder_is(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "rosetta.txt"
    target.write_text("previous\n")
    link = tmp_path / "rosetta.txt"
    link.symlink_to(target)
    proc = rosetta(link, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and target.read_text().startswith("Rosetta: ")
    assert os.listdir(tmp_path / "real") == ["rosetta.txt"]


@pytest.mark.parametrize(
    "case, words",
    [
        ("symlink to nothing", "is a symlink to"),
        ("name of 256 bytes", "is 256 bytes; this file system allows 255"),
        ("a file on the way", "is a file, not a folder"),
        ("/proc/self/status", "does not take new files"),
        ("/proc/x", "'/proc' does not take new files"),
        ("/sys/x", "'/sys' does not take new files"),
    ],
)
def test_what_cannot_be_written_is_refused_before_any_work(tmp_path, case, words):
    if case.startswith("/") and not os.path.isdir(os.path.dirname(case)):
        pytest.skip(f"{case} is Linux's")
    out = {
        "symlink to nothing": tmp_path / "dangling",
        "name of 256 bytes": tmp_path / ("r" * 256),
        "a file on the way": tmp_path / "file" / "rosetta.txt",
    }.get(case, case)
    if case == "symlink to nothing":
        out.symlink_to(tmp_path / "nowhere")
    if case == "a file on the way":
        (tmp_path / "file").write_text("a file\n")
    before = sorted(os.listdir(tmp_path))
    refused(rosetta(out, tmp_path), words)
    assert sorted(os.listdir(tmp_path)) == before


def test_the_longest_allowed_name_is_written(tmp_path):
    out = tmp_path / ("r" * 250)  # the red team's: the temporary file's name took it over 255
    proc = rosetta(out, tmp_path, "--concept", "affine")
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(tmp_path) == [out.name] and out.read_text().startswith("Rosetta: ")


def test_a_read_only_file_system_is_refused_before_any_work(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        refused(rosetta(ro / "rosetta.txt", tmp_path), "(Read-only file system)")


def test_a_disk_that_fills_is_one_line_exit_1_and_the_previous_file_stays(tmp_path):
    """A real 16 KiB tmpfs; the whole Rosetta is larger."""
    with tmpfs(tmp_path / "disk", size="16k") as disk:
        out = disk / "rosetta.txt"
        out.write_text("previous\n")
        proc = rosetta(out, tmp_path)
        assert proc.returncode == 1
        err = proc.stderr.decode()
        assert err == f"scratch-parity: cannot write {str(out)!r}: No space left on device\n"
        assert os.listdir(disk) == ["rosetta.txt"] and out.read_text() == "previous\n"


def test_a_0555_folder_is_the_kernel_s_answer_for_root_and_refused_without_its_power(tmp_path):
    """Root may write into a 0555 folder (the kernel lets it, as it lets `cp`): written.
    Without CAP_DAC_OVERRIDE, as every other user: refused before any work."""
    folder = tmp_path / "r-x"
    folder.mkdir(mode=0o555)
    argv = [*ROSETTA, "--concept", "affine", "--out", str(folder / "rosetta.txt")]
    refused(rosetta(None, tmp_path, argv=without_override(argv)), "(Permission denied)")
    assert os.listdir(folder) == []
    assert rosetta(None, tmp_path, argv=argv).returncode == 0
    assert os.listdir(folder) == ["rosetta.txt"]


@pytest.mark.parametrize("out", ["/proc/x", "/sys/x"])
def test_train_refuses_proc_and_sys_before_training(tmp_path, out):
    if not os.path.isdir(os.path.dirname(out)):
        pytest.skip(f"{out} is Linux's")
    proc = subprocess.run(
        train_argv(out, 300), cwd=tmp_path, env=env(), capture_output=True, timeout=120
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert f"--out {out!r}: {os.path.dirname(out)!r} does not take new folders" in err
    assert not os.path.exists(out) and os.listdir(tmp_path) == []


def test_rosetta_s_help_says_what_out_accepts(capsys):
    from comparisons import cli

    assert cli.main(["rosetta", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "a device, a FIFO or /dev/stdout is written through" in text
