"""The command line's standard streams (comparisons.streams): a reader that goes away
(`| head -1`) ends the command quietly with status 141, a stream that cannot be written
(`> /dev/full`) is one line and status 1, and text an ASCII terminal cannot show is
replaced or escaped instead of crashing. Real processes, real pipes."""

from __future__ import annotations

import io
import signal
import subprocess
import sys

import pytest

import adapters
from comparisons import cli, streams
from tests.comparisons.processes import env, start, train_argv

QUIET_ENDINGS = (b"Traceback", b"Exception ignored", b"BrokenPipeError")


def check_argv() -> list[str]:
    if "torch" not in adapters.available():
        pytest.skip("check compares two frameworks: torch is not installed")
    return [sys.executable, "-m", "comparisons", "check", "--frameworks", "numpy,torch"]


@pytest.mark.parametrize("command", ["train", "check", "--help"])
def test_a_reader_that_has_gone_ends_the_command_quietly_with_141(tmp_path, command):
    """The read end is closed before the command writes anything: every write fails."""
    argv = {
        "train": lambda: train_argv(tmp_path / "out", 2),
        "check": check_argv,
        "--help": lambda: [sys.executable, "-m", "comparisons", "--help"],
    }[command]()
    proc = start(argv, tmp_path)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(120) == streams.EXIT_PIPE, err
    assert not any(word in err for word in QUIET_ENDINGS), err


def test_piping_train_into_head_prints_the_first_line_and_no_traceback(tmp_path):
    argv = train_argv(tmp_path / "out", 2)
    line = " ".join(f"'{a}'" for a in argv) + " | head -1; echo status ${PIPESTATUS[0]}"
    proc = subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, capture_output=True, env=env(), timeout=120
    )
    first, status = proc.stdout.decode().splitlines()
    assert first.startswith("| epoch 1 |")
    assert status in ("status 0", "status 141")
    assert not any(word in proc.stderr for word in QUIET_ENDINGS), proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/full is Linux's")
def test_writing_to_a_full_device_is_one_line_and_status_1(tmp_path):
    with open("/dev/full", "w") as full:
        proc = start(train_argv(tmp_path / "out", 2), tmp_path, stdout=full)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = err.decode().splitlines()  # the progress lines, then the one line that says it
    assert lines[-1] == "scratch-parity: cannot write to standard output: No space left on device"
    assert "Traceback" not in err.decode()


def test_an_ascii_terminal_gets_the_rosetta_tables_without_a_crash(monkeypatch):
    """rosetta's rules and arrows are not ASCII (this was a UnicodeEncodeError). The
    terminal is an ASCII text stream in this process (PYTHONIOENCODING=ascii gives a
    child the same): the command wraps whatever sys.stdout is."""
    raw_out, raw_err = io.BytesIO(), io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw_out, encoding="ascii"))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(raw_err, encoding="ascii"))
    assert cli.main(["rosetta"]) == 0
    sys.stdout.flush()
    sys.stderr.flush()
    text = raw_out.getvalue().decode("ascii")  # nothing but ASCII reached the terminal
    assert text.startswith("Rosetta") and b"Traceback" not in raw_err.getvalue()


def test_text_an_encoding_cannot_hold_is_replaced_or_escaped():
    raw = io.BytesIO()
    ascii_out = io.TextIOWrapper(raw, encoding="ascii")
    guarded = streams.GuardedStream(ascii_out, "stdout")
    guarded.write("max |ΔW| ━━ │ \u3086\u308c\n")
    guarded.flush()
    assert raw.getvalue() == b"max |dW| == | \\u3086\\u308c\n"


def test_the_streams_and_the_sigterm_handler_are_put_back_after_a_command():
    import signal

    def state():
        return (sys.stdout, sys.stderr, sys.unraisablehook) + tuple(
            signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)
        )

    before = state()
    assert streams.run_main(lambda argv: len(argv), ["a", "b"]) == 2
    assert state() == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


STOPPED = [
    (KeyboardInterrupt, 130, "interrupted"),
    (streams.Terminated, 143, "terminated"),
    (streams.Terminated(signal.SIGHUP), 129, "hung up"),  # its signal survives the re-raise
]


@pytest.mark.parametrize("stop, status, word", STOPPED)
def test_a_stop_that_lands_in_a_garbage_collector_callback_still_stops_the_command(
    stop, status, word, capsys
):
    """Ctrl-C (or SIGTERM) raised while a gc callback runs (JAX has one) is dropped by
    Python as "Exception ignored"; the command must stop all the same, with its line and
    status, and not run on to its end."""
    import gc
    import time

    fired = []

    def callback(phase, _info):
        if phase == "start" and not fired:
            fired.append(True)
            raise stop  # where a signal's exception would be swallowed

    def main(_argv):
        gc.callbacks.append(callback)
        try:
            gc.collect()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # a long run, stopped in its first moments
                time.sleep(0.001)
            return 0
        finally:
            gc.callbacks.remove(callback)

    start = time.monotonic()
    assert streams.run_main(main, []) == status
    assert time.monotonic() - start < 5 and fired
    err = capsys.readouterr().err
    assert err == f"scratch-parity: {word}\n"
