"""The TF32 trap: parity mode pins it shut; `tf32=True` / `--tf32` opens it, and the
report then says whether it could act here and, when it could, names it as the cause.

This machine has no GPU, so TF32 cannot act: a run with it allowed must equal a run
without, and the note must say so. tests/gpu checks the drift itself on a GPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from adapters.precision import pinned_precision
from comparisons import cli, run
from comparisons.run import RunConfig, book_data
from tests.helpers import need


@pytest.mark.crossframework
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_tf32_is_set_inside_the_call_and_restored_after(framework):
    need(framework)
    if framework == "torch":
        import torch

        with pinned_precision("torch", "float32", tf32=True):
            inside = (torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
        with pinned_precision("torch", "float32"):
            pinned = (torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
        assert inside == (True, "high") and pinned == (False, "highest")
    else:
        adapters.net_class("jax")  # imports jax with NumPy's global generator kept
        import jax

        with pinned_precision("jax", "float32", tf32=True):
            inside = jax.config.jax_default_matmul_precision
        with pinned_precision("jax", "float32"):
            pinned = jax.config.jax_default_matmul_precision
        assert inside == "tensorfloat32" and pinned == "highest"
    # the autouse guard in conftest checks every flag is back as it was


@pytest.mark.crossframework
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_tf32_changes_nothing_on_the_cpu(framework):
    need(framework)
    x, t, w, schedule = book_data(RunConfig(epochs=5))
    spec = OptimizerSpec("sgd", 1.0)
    plain = adapters.build(framework, w, dtype="float32").train(x, t, schedule, spec)
    tf32 = adapters.build(framework, w, dtype="float32", tf32=True).train(x, t, schedule, spec)
    assert not adapters.net_class(framework).tf32_capable("cpu")
    for k in plain.weights:
        np.testing.assert_array_equal(tf32.weights[k], plain.weights[k])


@pytest.mark.crossframework
def test_the_note_names_tf32_as_the_cause_when_it_could_act(monkeypatch):
    """On a TF32-capable GPU (here pretended) the note blames TF32, with the drift."""
    need("torch", "jax")
    config = RunConfig(epochs=2, dtype="float32", tf32=True)
    results = run.run(config)
    note = results.tf32_note
    assert "no TF32 units" in note and "changed nothing" in note  # the truth here
    for fw in ("torch", "jax"):
        monkeypatch.setattr(adapters.net_class(fw), "tf32_capable", staticmethod(lambda d: True))
    note = run.tf32_note(results)
    worst = max(r.report.max_weight_error for r in results.results[1:])
    assert "TF32 was ON for torch and jax" in note and "cause of the drift" in note
    assert f"max |dW| {worst:.2g}" in note and "without --tf32" in note
    assert "ON (allow_tf32=True" in results.settings["torch TF32 (inside calls)"]
    assert run.tf32_note(run.run(RunConfig(epochs=1, frameworks=("numpy",)))) is None


@pytest.mark.crossframework
def test_cli_tf32_run_reports_it(tmp_path, capsys):
    need("torch", "jax")
    argv = ["--dtype", "float32", "--tf32", "--epochs", "2", "--precisions", "none"]
    rc = cli.main([*argv, "--quiet", "--json", "--out", str(tmp_path / "o")])
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["config"]["tf32"] is True
    assert "TF32 was allowed" in payload["tf32_note"]
    assert payload["settings"]["TF32"].startswith("allowed")
    assert payload["precision_matrix"] is None
    assert "TF32 was allowed" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--tf32"], "--tf32 applies to float32 matmuls: add --dtype float32"),
        (["--dtype", "float16", "--tf32"], "--tf32 applies to float32"),
        (["--dtype", "bfloat16", "--frameworks", "numpy,torch"], "NumPy has no bfloat16"),
        (["--precisions", "float8"], "unknown precision 'float8'"),
        (["--precisions", ","], "comma-separated list of precisions"),
    ],
)
def test_bad_precision_options_are_one_line_and_exit_2(tmp_path, capsys, argv, words):
    rc = cli.main([*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.crossframework
def test_cli_bfloat16_runs_torch_and_jax_and_json_has_the_matrix(tmp_path, capsys):
    need("torch", "jax")
    argv = ["--dtype", "bfloat16", "--epochs", "3", "--precisions", "bfloat16"]
    rc = cli.main([*argv, "--quiet", "--json", "--out", str(tmp_path / "o")])
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0, payload
    assert payload["config"]["frameworks"] == ["torch", "jax"]  # NumPy has no bfloat16
    assert [r["verdict"] for r in payload["results"]] == ["reference", "PASS", "PASS"]
    rows = payload["precision_matrix"]["rows"]
    assert {r["precision"] for r in rows} == {"float64", "bfloat16"}  # float64: the yardstick
    assert all(r["accuracy"] is not None for r in rows)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_check_refuses_the_low_precisions_and_points_to_the_matrix(capsys, dtype):
    rc = cli.main(["check", "--dtype", dtype])
    err = capsys.readouterr().err
    assert rc == 2 and "check runs in float64 or float32" in err and "--precisions" in err
