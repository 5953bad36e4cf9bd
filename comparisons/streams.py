"""The command line's standard streams and signals, handled in one place.

`run_main(main, argv)` runs a command with:
- text a stream's encoding cannot hold replaced (`PYTHONIOENCODING=ascii`: "|ΔW|" is
  written "|dW|", box rules with "=", "-" and "|") or escaped ("の" is "\\u306e"),
  instead of a UnicodeEncodeError;
- a closed pipe (`... | head -1`) ending the command quietly with exit status 141, what
  a program stopped by SIGPIPE reports (as `yes | head -1` does under `set -o pipefail`);
- a stream that cannot be written (`> /dev/full`) reported in one line on stderr, exit 1;
- a standard stream closed by the shell (`>&-`, `2>&-`): its descriptor is opened on
  /dev/null at once, so that no file the command opens takes its number (and receives
  what a library or a worker process writes to it); a closed stdout is reported as one
  that cannot be written (`need_stdout` says so before any work), a closed stderr
  swallows what would have gone there, and the exit status is the one promised;
- Ctrl-C (SIGINT) one line, exit 130; SIGTERM one line, exit 143, and SIGHUP (the
  terminal closed) one line, exit 129 (128 + the signal), each stopping the command as
  Ctrl-C does (what it was writing is left as before: comparisons/outdir.py); one the
  command was started with ignored (`nohup`) stays ignored;
- an output set that cannot be written (comparisons.outdir.OutDirError) one line, exit 1.
The interpreter's streams and signal handlers are put back when the command returns.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable

PROG = "scratch-parity"
EXIT_PIPE = 128 + 13  # SIGPIPE
EXIT_INT = 128 + signal.SIGINT
# the signals that stop a command as SIGTERM does (Windows has no SIGHUP), and the word for each
STOP_SIGNALS = {signal.SIGTERM: "terminated"}
if hasattr(signal, "SIGHUP"):
    STOP_SIGNALS[signal.SIGHUP] = "hung up"


class StreamClosed(BaseException):
    """A standard stream cannot be written: the pipe was closed, or the disk is full.

    A BaseException, as KeyboardInterrupt: with nowhere to write, the command stops,
    whatever code it is running catches."""

    def __init__(self, name: str, err: OSError):
        super().__init__(f"{name}: {err.strerror or err}")
        self.name, self.err = name, err


class Terminated(BaseException):
    """SIGTERM or SIGHUP (`signum`), raised in the main thread as Ctrl-C raises
    KeyboardInterrupt."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = signum


# What an ASCII terminal gets for the few non-ASCII characters the tables and rules use;
# anything else is escaped ("\\u3042").
ASCII = str.maketrans(
    {"━": "=", "─": "-", "│": "|", "┼": "+", "Δ": "d", "−": "-", "–": "-", "—": "-", "…": "..."}
)


CLOSED = OSError(errno.EBADF, "it is closed (>&-); >/dev/null discards what is written")


class GuardedStream:
    """A text stream whose write escapes what its encoding cannot hold and turns a write
    error into StreamClosed; everything else is the wrapped stream's. `stream` None: a
    stream the shell closed, whose every write is StreamClosed."""

    def __init__(self, stream, name: str):
        self._stream, self._name = stream, name

    @property
    def closed_by_shell(self) -> bool:
        return self._stream is None

    def write(self, text: str) -> int:
        if self._stream is None:
            raise StreamClosed(self._name, CLOSED)
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:
                enc = getattr(self._stream, "encoding", None) or "ascii"
                text = text.translate(ASCII).encode(enc, "backslashreplace").decode(enc)
                return self._stream.write(text)
        except OSError as err:
            raise StreamClosed(self._name, err) from None

    def flush(self) -> None:
        if self._stream is None:
            return  # nothing was written
        try:
            self._stream.flush()
        except OSError as err:
            raise StreamClosed(self._name, err) from None

    def __getattr__(self, attr):
        return getattr(self._stream, attr)


def need_stdout() -> None:
    """StreamClosed, before any work, when the shell closed standard output (`>&-`): a
    command whose results go there would run to the end to fail at its first line."""
    if isinstance(sys.stdout, GuardedStream) and sys.stdout.closed_by_shell:
        raise StreamClosed("stdout", CLOSED)


def _open_closed_descriptors() -> set[int]:
    """Standard descriptors (0, 1, 2) the shell closed, each now open on /dev/null.

    The kernel gives a new file the lowest free descriptor: with 1 or 2 closed, the next
    file the command opens (a weights file, a report) would become "standard output" or
    "standard error" to every library that writes there and to every worker process."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        devnull = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
    return closed


def _silence(stream) -> None:
    """Point a broken stream's file descriptor at /dev/null, so that the interpreter's
    last flush at exit finds somewhere to write (else it prints 'Exception ignored')."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _say(stderr, line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        stderr.write(f"{PROG}: {line}\n")
        stderr.flush()


STOPS = (KeyboardInterrupt, Terminated)
RERAISE_S = 0.001  # how soon a swallowed Ctrl-C or SIGTERM is raised again


@contextlib.contextmanager
def _signals_stop_the_command():
    """SIGTERM and SIGHUP raise Terminated in the main thread, as SIGINT raises
    KeyboardInterrupt.

    Python raises either wherever the main thread happens to be, and where that is a
    garbage-collector callback or a `__del__` (JAX runs one at every collection) the
    exception is printed as "Exception ignored" and dropped: the command would run on.
    Such a dropped stop reaches sys.unraisablehook; it is raised again a moment later
    (SIGALRM), out of the callback, until it lands."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[BaseException] = []

    def terminate(signum, _frame):
        raise Terminated(signum)

    def raise_again(_signum, _frame):
        if pending:
            stop = pending.pop()
            raise stop.with_traceback(None)

    def unraisable(info) -> None:
        if isinstance(info.exc_value, STOPS) and hasattr(signal, "setitimer"):
            pending[:] = [info.exc_value]
            signal.setitimer(signal.ITIMER_REAL, RERAISE_S)
        else:
            previous_hook(info)

    previous_hook = sys.unraisablehook
    # a stop signal the command was started with ignored stays ignored (`nohup` ignores
    # SIGHUP), as Python leaves an ignored SIGINT alone
    ignored = {s for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN}
    previous = {s: signal.signal(s, terminate) for s in STOP_SIGNALS if s not in ignored}
    previous_alarm = signal.signal(signal.SIGALRM, raise_again)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        pending.clear()
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGALRM, previous_alarm)
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_main(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """`main(argv)`'s exit status, with the streams and signals handled as said above."""
    from comparisons.outdir import OutDirError

    real_out, real_err = sys.stdout, sys.stderr
    closed = _open_closed_descriptors()
    out = None if 1 in closed else real_out
    err = real_err if 2 not in closed and real_err is not None else open(2, "w", closefd=False)
    sys.stdout, sys.stderr = GuardedStream(out, "stdout"), GuardedStream(err, "stderr")
    try:
        with _signals_stop_the_command():
            try:
                try:
                    status = main(argv)
                except SystemExit as done:  # argparse's --help: its text is flushed here too
                    status = 0 if done.code is None else done.code
                sys.stdout.flush()
                return status
            except StreamClosed as broken:
                if broken.err is not CLOSED:
                    _silence(out if broken.name == "stdout" else err)
                if broken.err.errno == errno.EPIPE:
                    return EXIT_PIPE  # the reader has gone: nothing to say, nowhere to say it
                if broken.name == "stdout":
                    why = broken.err.strerror or broken.err
                    _say(err, f"cannot write to standard output: {why}")
                return 1
            except KeyboardInterrupt:
                _say(err, "interrupted")
                return EXIT_INT
            except Terminated as stop:
                _say(err, STOP_SIGNALS.get(stop.signum, "terminated"))
                return 128 + stop.signum
            except OutDirError as failed:
                _say(err, str(failed))
                return 1
    finally:
        sys.stdout, sys.stderr = real_out, real_err
        if err is not real_err:
            with contextlib.suppress(OSError):
                err.close()
