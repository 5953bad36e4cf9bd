"""The command line against bad option values, property-based: exit status 2, exactly one
line on stderr ("scratch-parity: error: ..."), nothing on stdout, nothing written.

Each case is a valid command line with one option given a bad value (or an unknown
option, or a missing value) drawn by hypothesis. Bad values are refused before any
work, so these cases are fast.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adapters
from comparisons import cli

# any text, line breaks and control characters included
WORD = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]))
NOT_A_NUMBER = WORD.filter(lambda s: not _parses(s))
NON_POSITIVE = st.one_of(
    st.integers(max_value=0).map(str),
    st.floats(max_value=0, allow_nan=False).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "-0"]),
)


def _parses(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _frameworks_ok(text: str) -> bool:
    names = [n.strip() for n in text.split(",")]  # an empty name (`numpy,,torch`) is refused
    return all(names) and len(set(names)) == len(names) and set(names) <= set(adapters.FRAMEWORKS)


def unit_interval_misses():
    return st.one_of(
        st.floats(min_value=1, allow_nan=False, allow_infinity=False).map(repr),
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(["nan", "inf", "1", "1.5"]),
        NOT_A_NUMBER,
    )


@st.composite
def bad_train_option(draw, out: str) -> list[str]:
    option = draw(
        st.sampled_from(
            [
                "--epochs",
                "--batch-size",
                "--hidden-size",
                "--lr",
                "--max-grad",
                "--seed",
                "--optimizer",
                "--flavor",
                "--dtype",
                "--device",
                "--frameworks",
                "--hyper",
                "--out",
                "unknown",
                "missing",
            ]
        )
    )
    valid = ["--epochs", "1", "--frameworks", "numpy", "--quiet", "--out", out]
    if option in ("--epochs", "--hidden-size"):
        bad = draw(st.one_of(NON_POSITIVE, NOT_A_NUMBER, st.sampled_from(["1.5", "1e3"])))
    elif option == "--batch-size":
        bad = draw(st.one_of(NON_POSITIVE, st.integers(301, 10**9).map(str)))
    elif option in ("--lr", "--max-grad"):
        bad = draw(st.one_of(NON_POSITIVE, NOT_A_NUMBER))
    elif option == "--seed":
        bad = draw(
            st.one_of(
                st.integers(max_value=-1).map(str),
                st.integers(min_value=2**32).map(str),
                NOT_A_NUMBER,
                st.sampled_from(["1.0", "1e3"]),
            )
        )
    elif option == "--optimizer":
        bad = draw(WORD.filter(lambda s: s not in cli.adapters.BOOK_DEFAULTS))
    elif option == "--flavor":
        bad = draw(WORD.filter(lambda s: s not in ("book", "stock")))
    elif option == "--dtype":
        bad = draw(WORD.filter(lambda s: s not in ("float64", "float32")))
    elif option == "--device":
        bad = draw(st.one_of(st.sampled_from(["tpu", "", "cpu:1", "gpu", "cuda:x", "CPU"]), WORD))
        if bad == "cpu" or bad.startswith("cuda"):
            bad = "tpu"  # cuda may exist on the machine running this
    elif option == "--frameworks":
        bad = draw(
            st.one_of(
                st.sampled_from(
                    ["", ",", "numpy,numpy", "tensorflow", "numpy;jax", "NumPy", "numpy,,torch"]
                ),
                WORD.filter(lambda s: not _frameworks_ok(s)),
            )
        )
    elif option == "--hyper":  # a hyper-parameter the optimizer lacks, or a bad value
        optimizer, hyper = draw(
            st.sampled_from(
                [
                    ("momentum", "--momentum"),
                    ("nesterov", "--momentum"),
                    ("rmsprop", "--decay-rate"),
                    ("adam", "--beta1"),
                    ("adam", "--beta2"),
                ]
            )
        )
        if draw(st.booleans()):
            return [*valid, "--optimizer", optimizer, hyper, draw(unit_interval_misses())]
        return [*valid, "--optimizer", "sgd", hyper, "0.5"]
    elif option == "--out":  # an existing file
        Path(out).parent.mkdir(exist_ok=True)
        Path(out).write_bytes(b"old")
        return [*valid]
    elif option == "unknown":
        return [*valid, draw(st.sampled_from(["--foo", "--epoch", "-x", "extra", "--lr=1=2"]))]
    else:  # missing value
        return [*valid, draw(st.sampled_from(["--epochs", "--lr", "--out", "--frameworks"]))]
    return [*valid, option, bad]  # the later value wins in argparse


@st.composite
def bad_command_line(draw, out: str) -> list[str]:
    command = draw(st.sampled_from(["train", "", "check", "rosetta", "drift", "bench"]))
    if command in ("train", ""):
        argv = draw(bad_train_option(out))
        return ["train", *argv] if command else argv
    if command == "check":
        return [
            "check",
            *draw(
                st.sampled_from(
                    [
                        ["--dtype", "float8"],
                        ["--frameworks", "keras"],
                        ["--epochs", "1"],
                        ["--out", out],
                    ]
                )
            ),
        ]
    if command == "rosetta":
        width = draw(st.one_of(st.integers(max_value=65).map(str), NOT_A_NUMBER, st.just("1.5")))
        return ["rosetta", "--width", width]
    if command == "drift":
        return ["drift", *draw(st.sampled_from([["--dtype", "float32"], ["--lr", "1"]]))]
    return ["bench", draw(st.sampled_from(["--foo", "--out", "--epochs=1"]))]


WRITTEN_IN_CWD: list[str] = []  # what the last run_cli left in its working directory


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """cli.main(argv) from an empty working directory (so that the default
    comparison-output/ of an earlier `make demo` neither hides nor fakes a write)."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as here:
        os.chdir(here)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = cli.main(argv)
        finally:
            os.chdir(cwd)
        WRITTEN_IN_CWD[:] = sorted(p.name for p in Path(here).iterdir())
    return rc, out.getvalue(), err.getvalue()


def assert_refused_cleanly(argv, rc, stdout, stderr, folder: Path, before: set[str]):
    assert rc == 2, (argv, rc, stderr)
    assert stdout == "", argv
    assert stderr.startswith("scratch-parity: error: "), (argv, stderr)
    assert stderr.endswith("\n") and len(stderr.splitlines()) == 1, (argv, stderr)
    assert {p.name for p in folder.iterdir()} == before, argv  # nothing written
    assert WRITTEN_IN_CWD == [], argv  # not even the default comparison-output/


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_a_bad_option_value_is_one_line_exit_2_and_writes_nothing(data):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        argv = data.draw(bad_command_line(str(folder / "out")), label="argv")
        before = {p.name for p in folder.iterdir()}
        old = (folder / "out").read_bytes() if (folder / "out").is_file() else None
        rc, stdout, stderr = run_cli(argv)
        assert_refused_cleanly(argv, rc, stdout, stderr, folder, before)
        if old is not None:
            assert (folder / "out").read_bytes() == old


# --------------------------------------------------------------------------- cli.py needs


@pytest.mark.parametrize("argv", [["--foo\nbar"], ["train", "x\ny"], ["check", "a\rb"]])
def test_a_line_break_in_an_unknown_argument_stays_on_one_line(tmp_path, argv):
    rc, stdout, stderr = run_cli(argv)
    assert_refused_cleanly(argv, rc, stdout, stderr, tmp_path, set())


def test_out_below_a_file_is_refused_before_the_run(tmp_path):
    (tmp_path / "file").write_bytes(b"old")
    argv = ["--epochs", "1", "--frameworks", "numpy", "--quiet", "--out"]
    rc, stdout, stderr = run_cli([*argv, str(tmp_path / "file" / "sub")])
    assert_refused_cleanly(argv, rc, stdout, stderr, tmp_path, {"file"})


def test_an_empty_out_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--epochs", "1", "--frameworks", "numpy", "--quiet", "--out", ""]
    rc, stdout, stderr = run_cli(argv)
    assert_refused_cleanly(argv, rc, stdout, stderr, tmp_path, set())


def test_an_epoch_count_beyond_memory_is_refused(tmp_path):
    argv = ["--epochs", str(10**9), "--frameworks", "numpy", "--quiet", "--out"]
    rc, stdout, stderr = run_cli([*argv, str(tmp_path / "out")])
    assert_refused_cleanly(argv, rc, stdout, stderr, tmp_path, set())


def test_a_run_that_diverges_is_one_line_and_writes_nothing(tmp_path):
    argv = ["--lr", "1e308", "--epochs", "1", "--frameworks", "numpy", "--quiet", "--out"]
    rc, stdout, stderr = run_cli([*argv, str(tmp_path / "out")])
    assert rc in (1, 2) and stdout == ""
    assert len(stderr.splitlines()) == 1 and "diverged at step" in stderr, stderr
    assert not (tmp_path / "out").exists()


def test_nothing_is_left_in_the_working_folder():
    assert not any(Path(os.getcwd()).glob("report.*"))
