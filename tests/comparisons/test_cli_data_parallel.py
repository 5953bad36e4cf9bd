"""`python -m comparisons --data-parallel N`: every framework on N workers against the
reference in one process, a row "x N workers" each; unequal shards refused, or run with
--allow-uneven and explained."""

from __future__ import annotations

import json

import pytest

from comparisons import cli

QUICK = ["--epochs", "2", "--precisions", "none"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data-parallel", "4"], "--data-parallel 4 does not divide the batch size 30"),
        (["--data-parallel", "31", "--allow-uneven"], "larger than the batch size 30"),
        (["--data-parallel", "0"], "argument --data-parallel: expected a positive integer"),
        (["--data-parallel", "two"], "argument --data-parallel: expected a positive integer"),
    ],
)
def test_a_bad_worker_count_is_one_line_and_nothing_written(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([*args, "--frameworks", "numpy", *QUICK, "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_two_workers_get_a_row_each_against_the_single_process_reference(tmp_path, capsys):
    """(torch and JAX on 2 workers through the CLI: `check`, tests/comparisons/test_cli.py)"""
    out = tmp_path / "out"
    argv = ["--data-parallel", "2", "--frameworks", "numpy", *QUICK, "--json"]
    assert cli.main([*argv, "--quiet", "--out", str(out)]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = payload["results"]
    assert [(r["framework"], r["mode"], r["verdict"]) for r in rows] == [
        ("numpy", "eager", "reference"),
        ("numpy", "eager x 2 workers", "PASS"),
    ]
    assert payload["config"]["data_parallel"] == 2 and payload["uneven_note"] is None
    assert all(r["max_abs_dweights"] < 1e-12 for r in rows[1:])
    assert "x 2 workers" in (out / "report.md").read_text()


def test_unequal_shards_with_allow_uneven_show_the_drift_and_why(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--data-parallel", "4", "--allow-uneven", "--frameworks", "numpy", *QUICK]
    assert cli.main([*argv, "--quiet", "--out", str(out)]) == 1  # the drift is a mismatch
    text = capsys.readouterr().out
    assert "eager x 4 workers" in text and "FAIL" in text
    assert "unequal shards of the batch of 30 (8, 8, 7, 7 rows)" in text
    assert "drifts from the book's from step 0" in text
    assert "drifts from the book's from step 0" in (out / "report.md").read_text()
