"""`python -m comparisons` in a real process, for the tests that signal, pipe or race it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout whose packages the child imports
SET = ["loss_curves.png", "differences.png", "decision_boundaries.png", "report.md"]
SET += ["report.html"]


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("SCRATCH_PARITY_TEST")}
    e["PYTHONPATH"] = str(ROOT)
    e.update(extra)
    return e


def train_argv(out, epochs: int = 2, *more: str) -> list[str]:
    """The book's run in NumPy alone, a few epochs, no precision matrix: about a second."""
    argv = [sys.executable, "-m", "comparisons", "--frameworks", "numpy", "--epochs"]
    return [*argv, str(epochs), "--precisions", "none", "--out", str(out), *more]


NEW = {name: f"new {name}".encode() for name in SET}
_WRITER = (
    "import sys; from comparisons import outdir, streams; "
    "sys.exit(streams.run_main(lambda a: outdir.write_set(a[0], {n: f'new {n}'.encode() "
    f"for n in {SET!r}}}) and 0, sys.argv[1:]))"
)


def writer_argv(out) -> list[str]:
    """A process that writes the set NEW into `out` the way the command line does (through
    comparisons.outdir, under comparisons.streams' signal handling), with no training and
    no plotting: a fraction of a second."""
    return [sys.executable, "-c", _WRITER, str(out)]


@contextlib.contextmanager
def _sigint_not_ignored():
    """A child inherits an ignored SIGINT, and Python then never turns it into Ctrl-C: as
    when pytest runs as a shell's background job. A handled one is reset on exec."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def start(argv: list[str], cwd, **kwargs) -> subprocess.Popen:
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("env", env())
    with _sigint_not_ignored():
        return subprocess.Popen(argv, cwd=cwd, **kwargs)


def pausing_at(step: str, pause) -> dict[str, str]:
    """The environment of a run that stops at `step` of writing its set (comparisons.outdir)
    until `pause`/go exists; it marks each step it reaches as `pause`/at-STEP."""
    pause.mkdir(exist_ok=True)
    (pause / f"hold-{step}").touch()
    return env(SCRATCH_PARITY_TEST_PAUSE=str(pause))


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until `path` exists; fails when the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"exited {proc.returncode} before {path.name}: {err!r}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {path.name} after {timeout} s")
        time.sleep(0.02)


def old_set(out: Path) -> dict[str, bytes]:
    """A previous run's set (recognisable contents) and a file of the user's, in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    contents = {name: f"previous {name}".encode() for name in SET}
    for name, data in contents.items():
        (out / name).write_bytes(data)
    (out / "notes.txt").write_text("the user's own file\n")
    return contents


def leftovers(out: Path) -> list[str]:
    return [p for p in os.listdir(out.parent) if p.startswith(f".{out.name}.")]
