"""`python -m comparisons rosetta`: its options, its refusals, its output streams."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from comparisons import cli, rosetta

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


def python(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "comparisons", *args], env=environ, timeout=120, **kwargs
    )


def test_list_prints_every_id_and_title():
    status, out, err = run(["rosetta", "--list"])
    assert status == 0 and err == ""
    assert "affine" in out and "train_step" in out and "Affine layer" in out
    status, out, _ = run(["rosetta", "--list", "--lang", "ja"])
    assert status == 0 and "学習の1ステップ" in out


@pytest.mark.crossframework
def test_one_concept_in_one_framework_is_a_short_answer_showing_nn_linear():
    from tests.helpers import need

    need("torch")
    status, out, _ = run(["rosetta", "--concept", "affine", "--frameworks", "torch"])
    assert status == 0
    assert "nn.Linear" in out and "(out, in)" in out and "§1.2.2" in out
    assert "np.dot" not in out and "jax" not in out.split("── PyTorch")[1]
    assert len(out.splitlines()) <= 25


def test_several_concepts_in_japanese():
    status, out, _ = run(
        ["rosetta", "--concept", "sgd,clipping", "--frameworks", "numpy", "--lang", "ja"]
    )
    assert status == 0
    assert "SGD（確率的勾配降下法）" in out and "勾配クリッピング" in out
    assert "def clip_grads(grads, max_norm):" in out and "Affine" not in out


@pytest.mark.parametrize("fmt, start", [("html", "<!DOCTYPE html>"), ("markdown", "## Rosetta")])
def test_out_writes_the_chosen_format_to_a_file(tmp_path, fmt, start):
    target = tmp_path / "sub" / f"rosetta.{fmt}"
    argv = ["rosetta", "--format", fmt, "--frameworks", "numpy", "--out", str(target)]
    status, out, err = run(argv)
    assert status == 0 and out == "" and err == ""
    text = target.read_text(encoding="utf-8")
    assert text.startswith(start) and "class Affine:" in text
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


@pytest.mark.parametrize(
    "argv",
    [
        ["--concept", "nope"],
        ["--concept", ""],
        ["--frameworks", "tf"],
        ["--frameworks", "numpy,numpy"],
        ["--format", "pdf"],
        ["--lang", "fr"],
        ["--width", "100000000"],
        ["--width", "79"],
        ["--width", "wide"],
        ["--out", "."],
        ["--shout"],
    ],
)
def test_a_bad_option_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(
        ["rosetta", *argv, "--out", "x.txt"] if "--out" not in argv else ["rosetta", *argv]
    )
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("scratch-parity: error:")
    assert list(tmp_path.iterdir()) == []


def test_a_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write fails
    try:
        proc = python("rosetta", "--frameworks", "numpy", stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr  # as every command: SIGPIPE's status, no word
    assert proc.stderr == b""


def test_head_takes_the_first_line_and_nothing_complains():
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        f"'{sys.executable}' -m comparisons rosetta --frameworks numpy | head -1",
        shell=True,
        env=environ,
        capture_output=True,
        timeout=120,
    )
    assert proc.stdout.decode().startswith("Rosetta: ") and proc.stdout.count(b"\n") == 1
    assert proc.stderr == b""


def test_an_ascii_stdout_gets_escaped_text_and_one_note():
    proc = python(
        "rosetta",
        "--frameworks",
        "numpy",
        "--concept",
        "data",
        "--lang",
        "ja",
        env={"PYTHONIOENCODING": "ascii"},
        capture_output=True,
    )
    assert proc.returncode == 0
    out = proc.stdout.decode("ascii")  # nothing but ASCII
    assert "\\u30c7\\u30fc\\u30bf" in out  # データ, escaped
    number = rosetta.IDS.index("data") + 1  # the concepts stand in the book's order
    assert f"== {number}." in out and "idx = rng.permutation(data_size)" in out
    assert len(proc.stderr.decode().strip().splitlines()) == 1
    assert b"escaped" in proc.stderr
