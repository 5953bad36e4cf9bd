"""The output set of `python -m comparisons` (--out DIR) is written whole or not at all
(comparisons.outdir): two runs into one DIR never mix (the second waits for the first to
finish writing), and a run stopped at any point (Ctrl-C, SIGTERM, SIGKILL, a full disk)
leaves the previous complete set or the new complete set. Real processes are stopped at
the worst moments through the test-only pause of outdir (SCRATCH_PARITY_TEST_PAUSE)."""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from comparisons import cli, outdir, report
from tests.comparisons.processes import (
    NEW,
    SET,
    env,
    leftovers,
    old_set,
    pausing_at,
    start,
    train_argv,
    wait_for,
    writer_argv,
)


def assert_one_whole_run(out, epochs: int) -> None:
    """Every file of the set is there and comes from one run of `epochs` epochs: both
    reports name it, and the plots report.html embeds are the PNG files beside it."""
    assert set(SET) <= set(os.listdir(out))
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert f"{epochs} epochs" in md and f"{epochs} epochs" in page
    embedded = [base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([^\"]+)", page)]
    assert embedded == [(out / name).read_bytes() for name in report.PLOTS]


def test_two_runs_into_one_out_never_mix_the_second_waits(tmp_path):
    """The first writes its set as the command does (outdir, no training: it only has to
    hold the set's lock); the second is the command itself."""
    out, pause = tmp_path / "out", tmp_path / "pause"
    first = start(writer_argv(out), tmp_path, env=pausing_at("loss_curves.png", pause))
    wait_for(pause / "at-loss_curves.png", first)  # the first run is writing its set
    second = start(train_argv(out, 3), tmp_path)
    waited = []
    for line in second.stderr:  # the second trains, then waits for the lock
        waited.append(line.decode())
        if "waiting for another run" in waited[-1]:
            break
    assert "waiting for another run" in waited[-1], waited
    assert second.poll() is None
    (pause / "go").touch()
    first.communicate(timeout=120)
    assert first.returncode == 0
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert_one_whole_run(out, 3)  # the later run's set, whole
    assert leftovers(out) == []


WORST_MOMENTS = [
    (signal.SIGKILL, "loss_curves.png"),  # the first new file written (staged)
    (signal.SIGINT, "differences.png"),
    (signal.SIGHUP, "decision_boundaries.png"),  # the terminal closed
    (signal.SIGTERM, "report.html"),  # the last file staged
    (signal.SIGTERM, "staged"),  # the whole new set staged, not yet in place
    (signal.SIGKILL, "swapped"),  # the new set in place, the old one not yet removed
]


def stop_at(step: str, sig: int, argv: list[str], tmp_path):
    """Run `argv` until it reaches `step` of writing its set, send `sig`: (status, stderr)."""
    pause = tmp_path / "pause"
    proc = start(argv, tmp_path, env=pausing_at(step, pause))
    wait_for(pause / f"at-{step}", proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def assert_stopped(status: int, err: str, sig: int) -> None:
    """SIGKILL's status, or one line and 128 + the signal (no traceback)."""
    if sig == signal.SIGKILL:
        assert status == -9
    else:
        word = {signal.SIGINT: "interrupted", signal.SIGHUP: "hung up"}.get(sig, "terminated")
        assert (status, err) == (128 + sig, f"scratch-parity: {word}\n")


@pytest.mark.parametrize(("sig", "step"), WORST_MOMENTS, ids=lambda v: getattr(v, "name", v))
def test_a_writer_stopped_at_any_step_leaves_the_old_set_or_the_new_never_a_mix(
    tmp_path, sig, step
):
    out = tmp_path / "out"
    before = old_set(out)
    status, err = stop_at(step, sig, writer_argv(out), tmp_path)
    assert_stopped(status, err, sig)
    if sig != signal.SIGKILL:  # the staging copy is removed on the way out
        assert leftovers(out) == []
    now = {name: (out / name).read_bytes() for name in SET}
    assert now == (NEW if step == "swapped" else before)
    assert (out / "notes.txt").read_text() == "the user's own file\n"
    outdir.write_set(out, {"report.md": b"next"})  # the next run removes what was left
    assert leftovers(out) == [] and (out / "report.md").read_bytes() == b"next"
    assert (out / "notes.txt").exists()


def test_the_command_stopped_with_its_set_staged_leaves_the_old_set(tmp_path):
    """The same, end to end: `python -m comparisons` trained, drew and staged its set."""
    out = tmp_path / "out"
    before = old_set(out)
    status, err = stop_at("staged", signal.SIGTERM, train_argv(out, 2, "--quiet"), tmp_path)
    assert_stopped(status, err, signal.SIGTERM)
    assert {name: (out / name).read_bytes() for name in SET} == before
    assert leftovers(out) == []


def test_ctrl_c_while_training_is_one_line_and_status_130(tmp_path):
    proc = start(train_argv(tmp_path / "out", 20000), tmp_path)
    for line in proc.stderr:
        if line.startswith(b"training numpy"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.decode() == "scratch-parity: interrupted\n"
    assert not (tmp_path / "out").exists()


def test_a_hang_up_while_training_is_one_line_and_status_129(tmp_path):
    """SIGHUP (the terminal closed) stops the command as SIGTERM does; it used to kill it
    silently, with no line and no chance to clean up."""
    proc = start(train_argv(tmp_path / "out", 20000), tmp_path)
    for line in proc.stderr:
        if line.startswith(b"training numpy"):
            break
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 129 and err.decode() == "scratch-parity: hung up\n"
    assert not (tmp_path / "out").exists()


def test_a_command_started_with_sighup_ignored_runs_on_through_a_hang_up(tmp_path):
    """`nohup` starts a command with SIGHUP ignored so that it outlives the terminal: the
    command keeps it ignored, and finishes writing its set."""
    out, pause = tmp_path / "out", tmp_path / "pause"
    before = old_set(out)
    # a shell ignores it and execs the writer, as nohup does (a preexec_fn would fork this
    # process, which JAX's threads make unsafe)
    nohup = ["sh", "-c", 'trap "" HUP; exec "$0" "$@"']
    proc = start([*nohup, *writer_argv(out)], tmp_path, env=pausing_at("differences.png", pause))
    wait_for(pause / "at-differences.png", proc)
    proc.send_signal(signal.SIGHUP)
    (pause / "go").touch()
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, b"")
    assert {name: (out / name).read_bytes() for name in SET} == NEW != before


def test_a_full_disk_while_writing_keeps_the_old_set_with_one_line(tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = old_set(out)
    real, calls = outdir.write_all, []

    def third_fills_the_disk(fd, data):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(outdir, "write_all", third_fills_the_disk)
    stderr = io.StringIO()
    argv = ["--frameworks", "numpy", "--epochs", "1", "--precisions", "none", "--quiet"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = cli.main([*argv, "--out", str(out)])
    assert status == 1 and len(calls) == 3
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], lines
    assert "previous set is unchanged" in lines[0]
    assert {name: (out / name).read_bytes() for name in SET} == before
    assert leftovers(out) == []


def test_without_an_atomic_exchange_the_old_set_is_moved_aside_and_put_back(tmp_path, monkeypatch):
    """Where renameat2 is missing the old set is moved aside, then the new one moved in.
    A failure between the two puts the old set back at once; a run killed there leaves
    no DIR, and the next run puts the old set back before writing its own."""
    out = tmp_path / "out"
    before = old_set(out)
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    rename, calls = os.rename, []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EXDEV, "failed midway")
        rename(src, dst)

    monkeypatch.setattr(outdir.os, "rename", second_fails)
    with pytest.raises(outdir.OutDirError, match="previous set is unchanged"):
        outdir.write_set(out, NEW)
    monkeypatch.setattr(outdir.os, "rename", rename)
    assert {name: (out / name).read_bytes() for name in SET} == before
    assert leftovers(out) == []

    rename(out, tmp_path / ".out.old-0123abcd")  # a run killed between the two renames
    with outdir.locked(tmp_path, None):
        outdir.clean_leftovers(out)
    assert {name: (out / name).read_bytes() for name in SET} == before
    outdir.write_set(out, NEW)  # and the fallback swap itself works
    assert {name: (out / name).read_bytes() for name in SET} == NEW
    assert leftovers(out) == [] and (out / "notes.txt").exists()


def test_an_out_that_is_a_symlink_to_a_folder_keeps_the_symlink(tmp_path):
    real = tmp_path / "real"
    old_set(real)
    (tmp_path / "link").symlink_to(real)
    outdir.write_set(tmp_path / "link", {"report.md": b"new"})
    assert (tmp_path / "link").is_symlink() and (real / "report.md").read_bytes() == b"new"


def test_the_new_folder_keeps_the_old_folders_mode(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    os.chmod(out, 0o750)
    outdir.write_set(out, {"report.md": b"new"})
    assert os.stat(out).st_mode & 0o777 == 0o750


# ---- an unusable --out is refused before any training: one line, exit status 2 ----


def refused(tmp_path, out, monkeypatch) -> str:
    from comparisons import run

    def no_training(*_a, **_k):
        raise AssertionError("trained before refusing --out")

    monkeypatch.setattr(run, "run", no_training)
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["--frameworks", "numpy", "--out", str(out)])
    lines = stderr.getvalue().splitlines()
    assert status == 2 and stdout.getvalue() == "" and len(lines) == 1, lines
    assert lines[0].startswith("scratch-parity: error: --out")
    return lines[0]


def test_a_dangling_symlink_out_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    assert "does not exist" in refused(tmp_path, tmp_path / "out", monkeypatch)
    assert not (tmp_path / "gone").exists()


def test_a_symlink_loop_out_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert "symbolic links" in refused(tmp_path, tmp_path / "a" / "out", monkeypatch)


@pytest.mark.parametrize("length", [300, 250])
def test_a_name_longer_than_the_file_system_allows_is_refused_before_training(
    tmp_path, monkeypatch, length
):
    """250 bytes fits a name, but not the staging copy's name beside it."""
    line = refused(tmp_path, tmp_path / ("x" * length), monkeypatch)
    assert f"is {length} bytes" in line


def test_an_out_under_a_file_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    assert "not a directory" in refused(tmp_path, tmp_path / "file" / "out", monkeypatch)


def _chattr(flag: str, path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except OSError:
        return False


def test_an_immutable_out_is_refused_before_training(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old_set(out)
    if not _chattr("+i", out):
        pytest.skip("chattr +i is not possible here (not root, or the file system lacks it)")
    try:
        assert "immutable" in refused(tmp_path, out, monkeypatch)
    finally:
        _chattr("-i", out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="setpriv / Linux users")
@pytest.mark.parametrize("exists", [True, False], ids=["read-only out", "read-only parent"])
def test_a_read_only_out_is_refused_before_training(request, exists):
    """As a user without write permission (root ignores the mode bits, so as root the
    command runs as nobody)."""
    base = Path(tempfile.mkdtemp(prefix="scratch-parity-shared-"))  # nobody can reach it
    os.chmod(base, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(base))
    out = base / "out"
    if exists:
        old_set(out)
        os.chmod(out, 0o555)
    argv = train_argv(out, 2)
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    proc = subprocess.run(
        argv, cwd=base, capture_output=True, env=env(HOME=str(base), MPLCONFIGDIR=str(base))
    )
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("scratch-parity: error: --out") and "not writable" in lines[0]


@pytest.mark.parametrize("where", ["sub-folder", "working directory"])
def test_a_folder_that_is_not_the_runs_own_is_refused_before_training(tmp_path, monkeypatch, where):
    """The set replaces --out whole: a project or home folder (sub-folders) or the working
    directory must not be swapped away."""
    out = tmp_path / "project"
    old_set(out)
    if where == "sub-folder":
        (out / "src").mkdir()
        line = refused(tmp_path, out, monkeypatch)
        assert "holds 'src', which is not a file" in line
    else:
        line = refused(out, out, monkeypatch)
        assert "is the working directory or holds it" in line
    assert set(SET) | {"notes.txt"} <= set(os.listdir(out))
