"""A standard stream the shell closed (`>&-`, `2>&-`), in real processes: with stdout
closed, every command that prints says so in one line on stderr and exits 1 before any
work (these were AttributeError tracebacks); with stderr closed, a bad option still exits
2 (it exited 1) and a valid run does its work (it failed silently, nothing written)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import adapters
from tests.comparisons.processes import SET, env, train_argv

CLOSED_STDOUT = (
    b"scratch-parity: cannot write to standard output: it is closed (>&-); >/dev/null "
    b"discards what is written\n"
)
MODULE = [sys.executable, "-m", "comparisons"]


def closing(fds: str, argv: list[str], cwd) -> subprocess.CompletedProcess:
    """`argv` run by a shell with `fds` closed ("1", "2" or "12"); what stays open is
    captured."""
    redirections = " ".join(f"{fd}>&-" for fd in fds)
    return subprocess.run(
        ["bash", "-c", f'exec "$@" {redirections}', "closing", *argv],
        cwd=cwd,
        env=env(),
        capture_output=True,
        timeout=120,
    )


def needs(*frameworks: str) -> None:
    missing = [fw for fw in frameworks if fw not in adapters.available()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


COMMANDS = {
    "rosetta": ["rosetta", "--frameworks", "numpy"],
    "rosetta --list": ["rosetta", "--list"],
    "--help": ["--help"],
    "check --quiet": ["check", "--quiet", "--frameworks", "numpy,torch"],
    "drift --quiet": ["drift", "--quiet", "--frameworks", "torch"],
    "train --quiet": None,  # train_argv, below
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_closed_stdout_is_one_line_and_exit_1_before_any_work(tmp_path, command):
    if command in ("check --quiet", "drift --quiet"):
        needs("torch")
    argv = COMMANDS[command]
    argv = train_argv(tmp_path / "out", 300, "--quiet") if argv is None else [*MODULE, *argv]
    proc = closing("1", argv, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == CLOSED_STDOUT
    assert list(tmp_path.iterdir()) == []  # train: refused before training, nothing written


def test_rosetta_out_needs_no_stdout(tmp_path):
    proc = closing("1", [*MODULE, "rosetta", "--frameworks", "numpy", "--out", "r.txt"], tmp_path)
    assert proc.returncode == 0 and proc.stderr == b""
    assert (tmp_path / "r.txt").read_text().startswith("Rosetta: ")


@pytest.mark.parametrize("fds", ["2", "1", "12"])
def test_a_bad_option_exits_2_whatever_stream_is_closed(tmp_path, fds):
    proc = closing(fds, [*MODULE, "--bogus"], tmp_path)
    assert proc.returncode == 2
    if fds == "1":  # the one line, where stderr exists
        assert proc.stderr == b"scratch-parity: error: unrecognized arguments: --bogus\n"


def test_a_valid_train_with_stderr_closed_writes_its_set_and_table(tmp_path):
    proc = closing("2", train_argv(tmp_path / "out", 2), tmp_path)
    assert proc.returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(SET)
    assert b"plots and report: " in proc.stdout and b"numpy" in proc.stdout


# A command that opens a file while descriptor 1 or 2 is closed: the kernel gives the file
# the lowest free number, and whatever a library (or a worker process) writes to "standard
# error" would land in it. The command prints the number its file got.
OPENS_A_FILE = (
    "import os, sys; from comparisons import streams; "
    "sys.exit(streams.run_main(lambda a: (lambda fd: os.write(fd, str(fd).encode()) and 0)("
    "os.open(a[0], os.O_WRONLY | os.O_CREAT)), sys.argv[1:]))"
)


@pytest.mark.parametrize("fds", ["1", "2", "12"])
def test_a_file_opened_by_the_command_never_takes_a_closed_descriptor_s_number(tmp_path, fds):
    proc = closing(fds, [sys.executable, "-c", OPENS_A_FILE, "f.txt"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert int((tmp_path / "f.txt").read_text()) > 2
