"""The command line end to end: the default run, --json, check, drift, and bad options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import adapters
from comparisons import cli, parity, rounding
from comparisons import run as run_module
from comparisons.drift import drift_rows
from comparisons.run import RunConfig
from tests.helpers import FRAMEWORKS, framework_modes, need

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.crossframework
def test_default_run_writes_the_table_plots_and_both_reports(default_run):
    """`python -m comparisons --out DIR`, the README's main command (tests/conftest.py
    runs it once for every test that reads it)."""
    need("torch", "jax")
    proc, out = default_run, default_run.out
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "| epoch 1 |  iter 10 / 10 | loss 1.13"  # the book's first line
    assert "| epoch 300 |  iter 10 / 10 | loss 0.11" in lines  # and its last
    table = [ln.split() for ln in lines if ln.split()[:1] in (["numpy"], ["torch"], ["jax"])]
    assert {row[0] for row in table} == set(adapters.available())
    assert [(row[0], row[1]) for row in table] == framework_modes()
    assert all(row[-1] in ("reference", "PASS") for row in table)
    assert all(row[3] == "97.0%" for row in table)
    for name in ("loss_curves.png", "differences.png", "decision_boundaries.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # self-contained
    assert '<section id="rosetta">' in html and "allow_tf32=False" in html
    md = (out / "report.md").read_text()
    assert "torch/eager: agree over 3000 steps" in md and "## Precision settings" in md
    # the precision matrix, on by default: every precision, the storage case, no FAIL
    matrix = proc.stdout.split("precision matrix")[1].splitlines()
    cells = {tuple(ln.split()[:2]) for ln in matrix if ln.split()[:1]}
    for cell in [("float16", "numpy/eager"), ("bfloat16", "torch/eager"), ("float16", "storage")]:
        assert cell in cells, cell
    assert "FAIL" not in proc.stdout
    assert "## Precision matrix" in md and "save_params" in md
    assert "<h2>Precision matrix</h2>" in html
    # the table passes every float64 comparison: the rounding twins were never trained
    twins = proc.results.twins
    assert twins is not None and twins.key[0] == proc.results.config and not twins.made
    assert "calibrated" not in proc.stdout


def test_json_output_parses(tmp_path, capsys):
    rc = cli.main(
        [
            "--frameworks",
            "numpy",
            "--epochs",
            "2",
            "--precisions",
            "none",  # the default run's test covers the matrix
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["epochs"] == 2 and payload["passed"] is True
    assert [r["framework"] for r in payload["results"]] == ["numpy"]
    assert payload["results"][0]["steps"] == 20 and payload["precision_matrix"] is None


@pytest.mark.crossframework
def test_json_output_carries_every_verdict(tmp_path, capsys):
    need("torch", "jax")
    rc = cli.main(
        [
            "--epochs",
            "2",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--precisions",
            "none",
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["passed"]
    assert len(payload["verdicts"]) == 3 and all(v["passed"] for v in payload["verdicts"])


BAD = [
    ["--frameworks", "numpy,tensorflow"],
    ["--frameworks", "numpy,numpy"],
    ["--optimizer", "adamw"],
    ["--optimizer", "sgd", "--momentum", "0.9"],
    ["--optimizer", "momentum", "--momentum", "1.5"],
    ["--lr", "-1"],
    ["--lr", "nan"],
    ["--epochs", "0"],
    ["--epochs", "ten"],
    ["--batch-size", "301"],
    ["--hidden-size", "-3"],
    ["--dtype", "float8"],
    ["--device", "tpu"],
    ["--seed", "-1"],
    ["--max-grad", "0"],
    ["--flavor", "keras"],
    ["--bogus"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_options_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, argv):
    out = tmp_path / "out"
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scratch-parity: error: ")
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    assert cli.main(["--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err and f.read_text() == "keep me"


def test_bad_option_in_a_real_process_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "comparisons", "--epochs", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "scratch-parity: error: argument --epochs: expected a positive integer, got '0'"
    ]


@pytest.mark.crossframework
def test_check_passes_and_fails_when_an_adapter_is_made_to_differ(monkeypatch, capsys, check_run):
    need("torch", "jax")
    assert check_run.returncode == 0  # `python -m comparisons check`, run once (conftest.py)
    out = check_run.stdout
    assert "check: PASS" in out and "PASS  numpy/eager vs torch/eager" in out
    assert "torch: agrees in every phase" in out and "jax: agrees in every phase" in out
    assert out.count(" x 2 workers: agree over") == 4  # numpy, torch, jax scan and step
    assert "PASS  numpy/eager vs numpy/eager x 2 workers" in out  # not its own reference
    from adapters import torch_adapter

    original = torch_adapter.to_module

    def perturbed(weights, dtype, device):  # W1[0, 0] nudged by one part in 1e9
        w = {k: v.copy() for k, v in weights.items()}
        w["W1"][0, 0] *= 1 + 1e-9
        return original(w, dtype, device)

    monkeypatch.setattr(torch_adapter, "to_module", perturbed)
    from comparisons import check

    # (the data-parallel part's workers are fresh processes the patch does not reach)
    monkeypatch.setattr(check, "check_data_parallel", lambda *args: True)
    assert cli.main(["check", "--frameworks", "numpy,torch"]) == 1  # jax passed above
    out = capsys.readouterr().out
    assert "check: FAIL" in out and "torch" in out
    phases = out.split("== where each framework first parts from numpy ==", 1)[1]
    assert "torch: parts first in the forward activations (affine1, 4-9-3, batch 7)" in phases


@pytest.mark.crossframework
def test_check_names_a_backward_bug_by_its_phase_and_hint(monkeypatch):
    """A torch backward that counts b1's gradient twice: the forward passes and the static
    gradients (autograd on their own) agree; the trajectories part at step 0's gradient."""
    need("torch")
    from adapters import torch_adapter
    from comparisons import check

    original = torch_adapter.forward_backward

    def counted_twice(module, optimizer, xb, tb):
        loss = original(module, optimizer, xb, tb)
        module.fc1.bias.grad *= 2
        return loss

    monkeypatch.setattr(torch_adapter, "forward_backward", counted_twice)
    lines, phases = [], check.Phases()
    assert not check.check_trajectories(["numpy", "torch"], "float64", lines.append, phases)
    assert phases.lines(["torch"]) == ["torch: parts first in the gradients (sgd, eager, step 0)"]
    out = "\n".join(lines)
    assert "first diverge after 0 updates in the gradient of step 0 at b1[" in out
    assert "hint (scaled, b1): torch/eager's gradient of b1 at step 0 is 2 times" in out
    assert "b1      " in out and "10 / 10" in out  # the table, every element of b1 off


def test_rosetta_prints_and_refuses_a_narrow_width(capsys):
    assert cli.main(["rosetta", "--width", "150"]) == 0
    assert "Gradient clipping" in capsys.readouterr().out
    assert cli.main(["rosetta", "--width", "10"]) == 2


@pytest.mark.crossframework
def test_drift_rows_come_from_real_runs():
    need("torch", "jax")
    rows = drift_rows(list(FRAMEWORKS), RunConfig(epochs=3), say=lambda _m: None)
    by = {(r["optimizer"], r["framework"]): r for r in rows}
    assert len(rows) == 12
    for fw in FRAMEWORKS[1:]:  # stock SGD and momentum are the book's math
        assert by[("sgd", fw)]["first_diverging_step"] is None
        assert by[("momentum", fw)]["first_diverging_step"] is None
        for name in ("nesterov", "adagrad", "rmsprop", "adam"):  # the rest part at once
            assert by[(name, fw)]["first_diverging_step"] == 1
            assert by[(name, fw)]["max_abs_dweights"] > 1e-6


# --------------------------------------------------------------------------- boundaries

PACKAGES = ("scratch", "adapters", "comparisons")


def _project_modules() -> dict[str, Path]:
    """Every module of the three packages: dotted name -> file."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, at the top or inside a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in modules and name not in PACKAGES:  # a package's __init__ is no edge
                found.add(name)
    return found


def test_nothing_but_main_imports_the_cli():
    modules = _project_modules()
    importers = sorted(
        name
        for name, path in modules.items()
        if "comparisons.cli" in _imports(path, modules) and name != "comparisons.__main__"
    )
    assert importers == []
    assert "comparisons.cli" in _imports(modules["comparisons.__main__"], modules)


def test_the_project_s_import_graph_has_no_cycle():
    """Imports flow one way (scratch <- adapters <- comparisons, and within each package),
    lazy imports inside functions included: bench once imported the CLI that imports it."""
    modules = _project_modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert graph["comparisons.cli"] >= {"comparisons.bench", "comparisons.run"}  # edges found
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            assert state.get(dep) != "open", " -> ".join([*trail, name, dep])
            if dep not in state:
                visit(dep, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


@pytest.mark.crossframework
def test_train_and_bench_agree_where_the_reference_runs_on_a_gpu(monkeypatch, capsys, tmp_path):
    """With a CUDA device (faked for torch) and no CuPy, both commands accept numpy beside
    torch and keep the reference on the CPU; numpy alone on cuda is refused by both, with
    the same words."""
    need("torch")
    monkeypatch.setattr(
        adapters.net_class("torch"), "device_available", staticmethod(lambda d: True)
    )
    assert not adapters.net_class("numpy").device_available("cuda")  # no CuPy here
    config = cli.train_config(cli.parse(["--device", "cuda", "--frameworks", "numpy,torch"]))
    bench_config = cli.bench_config(
        cli.parse(["bench", "--device", "cuda", "--frameworks", "numpy,torch"])
    )
    assert config.device == bench_config.device == "cuda"
    assert config.frameworks == bench_config.frameworks == ("numpy", "torch")
    assert run_module.reference_device("numpy", "cuda") == "cpu"
    assert "numpy device" in run_module.precision_settings(config)
    errors = []
    for argv in (
        ["train", "--device", "cuda", "--frameworks", "numpy", "--out", str(tmp_path / "o")],
        ["bench", "--device", "cuda", "--frameworks", "numpy"],
    ):
        assert cli.main(argv) == 2
        errors.append(capsys.readouterr().err.split(": error: ")[1])
    assert errors[0] == errors[1] and "not available to numpy" in errors[0]


# --------------------------------------------------------------------------- refused before work


@pytest.fixture
def no_training(monkeypatch):
    """Any training makes the test fail: what is refused must be refused before it."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(run_module, "run", refuse)


def refused(argv: list[str], capsys, out: Path | None = None) -> str:
    """The one line a refused command line prints (exit status 2, nothing on stdout)."""
    extra = [] if out is None else ["--out", str(out)]
    assert cli.main([*argv, *extra]) == 2
    stdout, err = capsys.readouterr()
    assert stdout == "" and err.count("\n") == 1 and err.startswith("scratch-parity: error: ")
    assert out is None or not out.exists()
    return err


def test_a_run_beyond_memory_is_refused_before_anything_is_allocated(
    tmp_path, capsys, monkeypatch, no_training
):
    """The issue's --hidden-size 65536 --epochs 100000 (inside the option limits) asked for
    97.7 GiB; the estimate is compared with the memory available before any work."""
    err = refused(["--hidden-size", "65536", "--epochs", "100000"], capsys, tmp_path / "o")
    assert "--hidden-size 65536 for --epochs 100000 needs about" in err and "GiB" in err
    monkeypatch.setattr(cli, "memory_available", lambda: 2**30)  # a 1 GiB machine
    err = refused(["--hidden-size", "4096", "--epochs", "1000"], capsys, tmp_path / "o")
    assert "more than the 1.0 GiB available here" in err
    small = run_module.memory_needed(RunConfig(), adapters.checks.DTYPE_NAMES)
    assert small < 2**30  # the book's run with its whole matrix: the frameworks' own, mostly
    assert run_module.memory_needed(RunConfig(hidden_size=4096, epochs=1000)) > 2**30


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--dtype", "float16", "--optimizer", "adam", "--lr", "1e5"], "--lr 1e+05 does not"),
        (["--dtype", "float16", "--max-grad", "1e6"], "--max-grad 1e+06 does not fit in float16"),
        (["--dtype", "float16", "--lr", "70000"], "(largest 6.55e+04)"),
    ],
)
def test_a_value_the_precision_cannot_hold_is_refused_before_training(
    tmp_path, capsys, no_training, argv, words
):
    """They used to fail with a traceback after the float64 calibration run."""
    err = refused([*argv, "--frameworks", "numpy"], capsys, tmp_path / "o")
    assert words in err and "float16" in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["chek"], "unknown command 'chek': did you mean 'check'?"),
        (["bech", "--steps", "3"], "did you mean 'bench'?"),
        (["--device", "gpu"], "got 'gpu' (did you mean 'cuda'?)"),
        (["bench", "--device", "GPU"], "did you mean 'cuda'?"),
        (["--device", "cuda:²"], "expected cpu, cuda or cuda:N"),
        (["check", "--frameworks", "numpy"], "check compares frameworks with each other"),
        (["drift", "--frameworks", "numpy"], "drift compares torch.optim / optax"),
    ],
)
def test_a_near_miss_gets_a_suggestion_and_a_missing_need_is_named(tmp_path, capsys, argv, words):
    assert words in refused(argv, capsys)


def test_with_numpy_alone_check_and_drift_say_what_they_need(capsys, monkeypatch):
    monkeypatch.setattr(adapters, "available", lambda: ["numpy"])  # a NumPy-only install
    assert "it needs two of numpy, torch, jax" in refused(["check"], capsys)
    assert "scratch-parity[torch]" in refused(["drift"], capsys)


@pytest.mark.parametrize(
    "missing, argv, extra",
    [
        ("matplotlib", ["--frameworks", "numpy"], "plot"),
        ("torch", ["--frameworks", "numpy,torch"], "torch"),
        ("optax", ["--frameworks", "numpy,jax"], "jax"),
        ("torch", ["bench", "--frameworks", "torch"], "torch"),
    ],
)
def test_a_missing_optional_dependency_is_one_line_naming_the_extra(
    tmp_path, capsys, monkeypatch, no_training, missing, argv, extra
):
    monkeypatch.setitem(sys.modules, missing, None)  # as if not installed
    out = None if argv[0] == "bench" else tmp_path / "o"
    err = refused(argv, capsys, out)
    assert f"pip install 'scratch-parity[{extra}]'" in err


def test_help_lists_every_command_and_says_train_options_work_alone(capsys):
    assert cli.main(["--help"]) == 0  # argparse's SystemExit becomes the exit status
    out = capsys.readouterr().out
    for command in cli.COMMANDS:
        assert f"\n    {command} " in out, command
    assert "train is the default command: its options work without the word `train`" in out


def test_every_train_option_has_help_that_shows_its_default():
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    options = [a for a in train._actions if a.option_strings and a.dest != "help"]
    assert len(options) == 23  # every option of train
    for action in options:
        assert action.help, action.dest
        if action.default not in (None, False):
            assert "default" in action.help, action.dest


def test_check_help_offers_only_the_precisions_it_runs(capsys):
    assert cli.main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert "{float64,float32}" in out and "float16" not in out and "bfloat16" not in out


def table_only(monkeypatch) -> None:
    """Judge float64 runs by the table alone: lr 100 amplifies rounding, and the
    reference's rounding twins pass torch there (tests/comparisons/test_rounding.py); the
    tests below need the table's verdict, where the runs part."""
    monkeypatch.setattr(
        rounding, "judge", lambda ref, other, _twins: parity.compare_trajectories(ref, other)
    )


@pytest.mark.crossframework
def test_the_divergence_line_shows_the_values_it_compares(tmp_path, capsys, monkeypatch):
    """With lr 100 the reference (book loss, with its 1e-7) and torch (no epsilon) part at
    step 46 by the table; the line used to show the raw losses 8.59 vs 16.87 beside the
    |d| 3.1e-10 of the epsilon-free ones."""
    need("torch")
    table_only(monkeypatch)
    argv = ["--lr", "100", "--epochs", "5", "--frameworks", "numpy,torch", "--precisions"]
    rc = cli.main([*argv, "none", "--quiet", "--json", "--out", str(tmp_path / "o")])
    verdict = json.loads(capsys.readouterr().out)["verdicts"][0]
    assert rc == 1 and verdict["first_loss"]["step"] == 46
    a, b = verdict["first_loss"]["values"]
    d = verdict["loss_error"][46]
    assert abs(a - b) == pytest.approx(d, rel=1e-6) and d > verdict["loss_allowed"][46]
    assert (
        f"in the loss of step 46 (epsilon-free): {a!r} vs {b!r} (|d| {d:.2g}"
        in (verdict["summary"])
    )


@pytest.mark.crossframework
def test_a_run_to_1e300_draws_every_plot_and_says_what_it_clipped(tmp_path, capsys):
    """Finite weights near 1e300 used to crash matplotlib after loss_curves.png."""
    need("torch")
    argv = ["--lr", "1e300", "--epochs", "1", "--frameworks", "numpy,torch", "--precisions"]
    rc = cli.main([*argv, "none", "--quiet", "--json", "--out", str(tmp_path / "o")])
    payload = json.loads(capsys.readouterr().out)
    assert rc in (0, 1)
    for name in ("loss_curves.png", "differences.png", "decision_boundaries.png"):
        assert (tmp_path / "o" / name).read_bytes()[:4] == b"\x89PNG"
    assert any("drawn at that limit" in n for n in payload["plot_notes"]), payload["plot_notes"]
    assert "drawn at that limit" in (tmp_path / "o" / "report.md").read_text()


# --------------------------------------------------------------------------- the report's words


@pytest.mark.crossframework
def test_the_plots_and_notes_say_what_this_run_did(default_run, monkeypatch):
    """No fixed "the curves lie on top of each other" for a run where they part (lr 100,
    by the table), a loss-gap note measured on the run, backticks as <code> in the HTML,
    and the two losses named apart."""
    from adapters import OptimizerSpec
    from comparisons import plots, report

    need("torch")
    table_only(monkeypatch)
    parted = run_module.run(
        RunConfig(frameworks=("numpy", "torch"), epochs=5, optimizer=OptimizerSpec("sgd", 100))
    )
    assert plots.loss_title(parted) == (
        "Training loss: torch/eager part from the reference after 46 updates"
    )
    agreed = default_run.results  # the book's run: every framework and mode agrees
    assert plots.loss_title(agreed).startswith("Training loss: every framework agrees")
    gap = parted.reference.trajectory.loss_gap
    note = report.loss_note(parted)
    assert f"between {gap.min():.1e} and {gap.max():.1e} a step in this run" in note
    assert report.loss_note(agreed) != note
    images, notes = plots.draw_all(parted)
    assert sorted(images) == sorted(plots.PLOT_NAMES)
    assert all(png.startswith(b"\x89PNG") for png in images.values())
    html = report.html_report(parted, images, notes)
    quote = html.split("<blockquote>")[1].split("</blockquote>")[0]
    assert "<code>F.cross_entropy</code>" in quote and "`" not in quote
    md = report.markdown(parted, notes)
    assert "lie on top" not in md and "train loss (last epoch avg)" in md
    assert "train loss (last epoch avg)" in html


def test_the_two_losses_have_two_names():
    from comparisons import text

    assert text.TRAIN_LOSS in text.RESULT_HEAD and text.FULL_LOSS not in text.RESULT_HEAD
    assert text.FULL_LOSS in text.MATRIX_HEAD and text.TRAIN_LOSS not in text.MATRIX_HEAD
    assert "loss" not in [h.strip() for h in (*text.RESULT_HEAD, *text.MATRIX_HEAD)]


def _drawn(monkeypatch, draw, results, tmp_path):
    """The Figure a plot function draws (captured instead of written)."""
    from comparisons import plots

    figures = []
    monkeypatch.setattr(plots, "_png", lambda fig: figures.append(fig) or b"")
    draw(results)
    return figures[0]


def test_the_decision_regions_take_their_points_colours_and_the_axes_are_named(
    monkeypatch, tmp_path
):
    from matplotlib.colors import to_hex

    from comparisons import plots

    results = run_module.run(RunConfig(frameworks=("numpy",), epochs=30))  # numpy alone: cheap
    fig = _drawn(monkeypatch, plots.decision_boundaries, results, tmp_path)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x[0]", "x[1]")
    regions = ax.collections[0]  # contourf's filled levels 0, 1, 2
    region_colours = [to_hex(c) for c in regions.cmap(regions.norm([0, 1, 2]))]
    point_colours = [to_hex(c.get_facecolor()[0]) for c in ax.collections[1:]]
    assert region_colours == point_colours == plots.CLASS_COLORS
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["class 0", "class 1", "class 2"]


@pytest.mark.crossframework
def test_no_curve_of_the_differences_plot_hides_another(monkeypatch, tmp_path, default_run):
    """jax/scan and jax/step compute the same numbers: drawn in the same style the second
    hid the first; now each has its own line style and markers and says it is equal."""
    from comparisons import plots

    need("torch", "jax")
    results = default_run.results  # the book's run in every framework and mode
    fig = _drawn(monkeypatch, plots.difference_curves, results, tmp_path)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"torch/eager", "jax/scan", "jax/step (= jax/scan)"}
    looks = {(ln.get_linestyle(), ln.get_marker()) for ln in lines.values()}
    assert len(looks) == 3
