"""comparisons.bench: every framework and mode trains and gets a row, the hand-written
loops (comparisons.baselines) do the adapters' work, `--json` parses, the progress line
says the time left, bad options end in one line and exit 2, and a size beyond memory is
refused before anything is allocated.

Correctness only: no timing is asserted (the machine is shared, the numbers are noise).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import adapters
from comparisons import baselines, bench, cli
from comparisons.run import RunConfig, book_data, process_bytes
from scratch import spiral
from tests.helpers import FRAMEWORKS, framework_modes, need

QUICK = ["--sizes", "book", "--steps", "30", "--repeats", "1"]
ROWS = set(framework_modes())
# off the record grid (10 steps, a record every 4), small and non-square (2-5-3)
TINY = bench.Size("tiny", hidden=5, batch=7, points=60, steps=10, record_every=4, lr=0.5)


@pytest.fixture(autouse=True)
def no_collection_before_each_timing(monkeypatch):
    """bench collects garbage before each timed run to steady its numbers; in this suite's
    heap (torch, jax, every earlier test) each collection takes ~0.2 s, and nothing here
    asserts a time."""
    monkeypatch.setattr(bench.gc, "collect", lambda *_args: 0)


def bench_config(*options: str) -> bench.BenchConfig:
    """The BenchConfig the CLI builds from `bench OPTIONS`."""
    return cli.bench_config(cli.parse(["bench", *options]))


def test_spiral_data_with_100_points_per_class_is_the_books_data_set():
    x, t = bench.spiral_data(100, np.random.RandomState(1984))
    x_book, t_book = spiral.load_data(1984)
    np.testing.assert_allclose(x, x_book, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(t, t_book.argmax(axis=1))


def test_the_book_size_is_the_books_run():
    problem = bench.make_problem(bench.SIZES["book"])
    x, t, weights, schedule = book_data(RunConfig())
    np.testing.assert_allclose(problem.x, x, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(problem.t, t)
    np.testing.assert_array_equal(problem.schedule, schedule)
    for name, w in weights.items():
        np.testing.assert_array_equal(problem.weights[name], w)


def test_bigger_sizes_keep_the_recipe_and_the_step_count():
    size = bench.SIZES["medium"]
    problem = bench.make_problem(size, steps=40)
    assert problem.x.shape == (30_000, 2) and problem.t.shape == (30_000,)
    assert np.bincount(problem.t).tolist() == [10_000] * 3
    assert problem.schedule.shape == (40, 1024)
    assert problem.weights["W1"].shape == (2, 1000) and problem.weights["W2"].shape == (1000, 3)


def assert_same_work(framework: str, mode: str, dtype: str) -> None:
    """The hand-written loop gives the adapter's losses and recorded weights."""
    problem = bench.make_problem(TINY)
    traj = bench.adapter_run(problem, framework, mode, dtype, "cpu")
    losses, weights = traj.losses, traj.weights
    baseline = baselines.BASELINES[framework, mode]
    hand_losses, hand_weights = baseline(problem, traj.record_steps, dtype, "cpu")
    assert losses.shape == hand_losses.shape == (10,)
    assert set(hand_weights) == set(weights)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(hand_losses, losses, rtol=tol, atol=tol)
    for name, w in weights.items():
        assert w.shape[0] == 4, name  # records after 0, 4, 8 and 10 steps
        assert hand_weights[name].shape == w.shape and hand_weights[name].dtype == w.dtype
        np.testing.assert_allclose(hand_weights[name], w, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("dtype", bench.DTYPES)
def test_the_fused_numpy_loop_does_the_references_work(dtype):
    assert_same_work("numpy", "eager", dtype)
    problem = bench.make_problem(TINY)
    traj = bench.adapter_run(problem, "numpy", "eager", dtype, "cpu")
    ref_losses, ref_weights = baselines.scratch_reference(problem, traj.record_steps, dtype, "cpu")
    np.testing.assert_array_equal(ref_losses, traj.losses)
    for name, w in traj.weights.items():
        np.testing.assert_array_equal(ref_weights[name], w)


@pytest.mark.crossframework
@pytest.mark.parametrize("framework, mode", framework_modes(FRAMEWORKS[1:]))
@pytest.mark.parametrize("dtype", bench.DTYPES)
def test_the_hand_written_loops_do_the_adapters_work(framework, mode, dtype):
    need(framework)
    assert_same_work(framework, mode, dtype)


def test_a_numpy_row_times_the_adapter_the_fused_loop_and_the_reference():
    config = bench.BenchConfig(sizes=("book",), frameworks=("numpy",), repeats=2, steps=30)
    results = bench.bench_results(config)
    rows = results["rows"]
    assert [(r["dtype"], r["framework"], r["mode"]) for r in rows] == [
        ("float64", "numpy", "eager"),
        ("float32", "numpy", "eager"),
    ]
    for r in rows:
        runs, hand, reference = r["runs_s"], r["hand_runs_s"], r["reference_runs_s"]
        assert r["steps"] == 30 and len(runs) == len(hand) == len(reference) == 2
        assert min(runs + hand + reference) > 0 and r["run_s"] == pytest.approx(np.mean(runs))
        assert r["overhead"] == pytest.approx(np.mean(np.divide(runs, hand)))  # paired runs
        assert r["per_step_s"] == pytest.approx(r["run_s"] / 30)
        assert r["vs_fastest"] == 1.0  # alone at its size and dtype
        assert r["max_loss_diff"] == 0.0  # the same arithmetic, in the same order
    # a shortened book run checks the ratios only, not the targets of the 3000-step run
    assert {t["what"].split(": ", 1)[1] for t in results["targets"]} == {
        "adapter / hand-written",
        "scratch reference / fused loop",
        "adapter / scratch reference",
    }
    assert "numpy/eager" in bench.format_table(results)


@pytest.mark.crossframework
def test_every_framework_and_mode_gets_a_row_and_json_parses(capsys):
    need("torch", "jax")
    code = cli.main(["bench", "--json", "--quiet", "--dtypes", "float64", *QUICK])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    results = json.loads(out)
    rows = results["rows"]
    assert {(r["framework"], r["mode"]) for r in rows} == ROWS and len(rows) == len(ROWS)
    for r in rows:
        assert (r["size"], r["dtype"], r["steps"], r["device"]) == ("book", "float64", 30, "cpu")
        assert r["run_s"] > 0 and r["first_call_s"] > 0 and r["overhead"] > 0
        assert r["max_loss_diff"] < 1e-12, r  # the hand-written loop did the same work
    assert min(r["vs_fastest"] for r in rows) == 1.0
    assert results["machine"]["cpus"] >= 1 and results["config"]["repeats"] == 1


def test_the_table_and_the_progress_go_to_stdout_and_stderr(capsys):
    code = cli.main(["bench", "--frameworks", "numpy", "--dtypes", "float32", *QUICK])
    out, err = capsys.readouterr()
    assert code == 0
    assert "numpy/eager" in out and "adapter/hand" in out and "targets:" in out
    assert "book float32 numpy/eager (1/1): repeat 1/1" in err and "100%" in err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--sizes", "huge"], "unknown size 'huge' (choose from book, medium, large)"),
        (["--sizes", "book,book"], "listed twice"),
        (["--sizes", ","], "expected a comma-separated list of sizes"),
        (["--dtypes", "float16"], "unknown dtype 'float16'"),
        (["--repeats", "0"], "positive integer"),
        (["--steps", "-3"], "positive integer"),
        (["--frameworks", "numpy,numpy"], "listed twice"),
        (["--device", "tpu"], "expected cpu, cuda or cuda:N, got 'tpu'"),
        (["--device", "gpu"], "did you mean 'cuda'?"),
        (["--record", "--data-parallel"], "two benchmarks: choose one"),
        (["--record", "--frameworks", "numpy"], "add torch or jax to --frameworks"),
        (["--record", "--sizes", "medium"], "the book's size in float64 on the CPU"),
        (["--record", "--dtypes", "float32"], "drop --sizes, --dtypes and --device"),
    ],
)
def test_bad_options_end_in_one_line_and_exit_2(options, message, capsys):
    assert cli.main(["bench", *options]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("scratch-parity: error: ")
    assert message in err


def test_the_default_bench_is_the_books_size_only_the_bigger_ones_when_asked():
    config = bench_config()
    assert config.sizes == ("book",)  # minutes on 2 cores: medium and large when named
    assert config.dtypes == ("float64", "float32") and config.device == "cpu"
    assert config.repeats == bench.DEFAULT_REPEATS and config.steps is None
    assert bench_config("--sizes", "medium,large").sizes == ("medium", "large")


def test_large_runs_on_the_cpu_only_when_asked_for():
    assert bench_config("--sizes", "large").sizes == ("large",)
    numpy_only = bench.BenchConfig(sizes=("large",), frameworks=("numpy",), device="cpu")
    assert bench.plan(numpy_only)[0] == [
        ("large", "float64", "numpy", "eager"),
        ("large", "float32", "numpy", "eager"),
    ]


def test_the_progress_line_says_how_long_is_left():
    assert bench.progress_line(0, 8, 0.0, "book float64 numpy/eager (1/2): first call ...") == (
        "[                    ]   0%   -:-- left  book float64 numpy/eager (1/2): first call ..."
    )
    line = bench.progress_line(2, 8, 30.0, "x")  # 15 s a run, 6 runs to go
    assert line == "[#####               ]  25%   1:30 left  x"


@pytest.mark.parametrize("options", [["--steps", "2000000000"], ["--sizes", "large,book"]])
def test_a_bench_beyond_memory_is_refused_before_anything_is_allocated(
    options, capsys, monkeypatch
):
    """The issue's `bench --steps 2000000000` asked for 447 GiB: the estimate is made from
    the sizes alone and compared with the memory available, before any data exists."""
    monkeypatch.setattr(cli, "memory_available", lambda: 2 * 2**30)  # a 2 GiB machine
    monkeypatch.setattr(bench, "make_problem", None)  # nothing may be built
    assert cli.main(["bench", "--frameworks", "numpy", *options]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "GiB of memory, more than the 2.0 GiB available here" in err, err


def test_the_memory_estimate_covers_the_schedule_and_the_records():
    huge = bench.BenchConfig(frameworks=("numpy",), steps=2_000_000_000)
    assert bench.memory_needed(huge) > 447 * 2**30  # the schedule alone: 2e9 x 30 int64
    book = bench.BenchConfig(frameworks=("numpy", "jax"))
    assert 3000 * 30 * 8 < bench.memory_needed(book) - process_bytes(book.frameworks) < 50 * 2**20


@pytest.mark.crossframework
def test_a_missing_gpu_is_refused_with_exit_2(capsys, monkeypatch):
    need("torch", "jax")
    for framework in ("torch", "jax"):  # as on a machine without one, wherever this runs
        net_class = adapters.net_class(framework)
        monkeypatch.setattr(net_class, "device_available", staticmethod(lambda d: d == "cpu"))
    assert cli.main(["bench", "--device", "cuda", *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device 'cuda' is not available to torch" in err


@pytest.mark.crossframework
def test_the_torch_baseline_follows_the_adapters_thread_rule_and_gives_the_threads_back(
    monkeypatch,
):
    """A net this small runs on one thread in the adapter (tiny_net_threads): so does the
    baseline it is timed against, and the process's thread count is back afterwards."""
    need("torch")
    import torch

    tiny = bench.Size("tiny", hidden=5, batch=7, points=60, steps=4, record_every=2, lr=0.5)
    problem = bench.make_problem(tiny)
    seen = []
    before = torch.get_num_threads()
    original = torch.nn.functional.cross_entropy

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    losses, weights = baselines.torch_plain(problem, np.array([0, 2, 4]), "float64", "cpu")
    assert seen == [1] * 4 and torch.get_num_threads() == before
    assert losses.shape == (4,) and weights["W1"].shape == (3, 2, 5)


@pytest.mark.crossframework
def test_bench_data_parallel_times_one_and_two_workers_in_every_framework(capsys):
    """bench --data-parallel: per step with N=1 and N=2 in every framework and mode, and the
    all-reduce's share (a short run at the book's size: the numbers are not asserted, that
    they were measured is; the medium size is the same code with other shapes)."""
    need("torch", "jax")
    argv = ["bench", "--data-parallel", "--sizes", "book", "--steps", "4", "--json", "--quiet"]
    assert cli.main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    runs = {(r["size"], r["run"]) for r in rows}
    assert runs == {("book", run) for run in ("numpy/eager", "torch/eager", "jax/scan", "jax/step")}
    for r in rows:
        assert r["n1_seconds"] > 0 and r["n2_seconds"] > 0
        if not r["run"].startswith("numpy"):
            assert r["allreduce_seconds"] > 0 and 0 < r["comm_share"] < 1


@pytest.mark.crossframework
def test_bench_record_times_a_torch_and_a_jax_loop_bare_and_recorded(capsys):
    """bench --record: record()'s cost on the loops a user writes, at record_every 1 and
    100 (a short run: the ratios are not asserted, that both sides were timed and that the
    ratio is theirs is)."""
    need("torch", "jax")
    from comparisons import record_measure

    argv = ["bench", "--record", "--steps", "12", "--repeats", "1", "--json", "--quiet"]
    assert cli.main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["framework"], r["record_every"]) for r in rows} == set(record_measure.LIMITS)
    for r in rows:
        assert r["bare_per_step_s"] > 0 and r["recorded_per_step_s"] > 0 and r["first_record_s"] > 0
        # the ratio of the best runs
        assert r["ratio"] == pytest.approx(r["recorded_per_step_s"] / r["bare_per_step_s"])
        assert r["limit"] == record_measure.LIMITS[(r["framework"], r["record_every"])]
        assert r["grads_per_step_s"] > 0  # record(..., grads=) timed at the same record_every
        assert r["grads_extra_per_step_s"] == pytest.approx(
            r["grads_per_step_s"] - r["recorded_per_step_s"]
        )


def test_the_record_loops_train_the_books_net_as_the_reference_does():
    """The loops bench --record times do the book's work: after 12 SGD steps their weights,
    and the gradients they hand `grads=`, are the reference's (so the ratio compares
    record against real training)."""
    need("torch", "jax")
    from comparisons import record_measure
    from comparisons.parity import compare_trajectories, pinned_precision, record

    problem = bench.make_problem(bench.SIZES["book"], 12)
    ref = adapters.build("numpy", problem.weights).train(
        problem.x,
        problem.t,
        problem.schedule,
        adapters.OptimizerSpec("sgd", problem.lr),
        grads=True,
    )
    for framework, loop in record_measure.LOOPS.items():
        with pinned_precision(framework):
            reset, step, weights, grads = loop(problem)
            reset()
            got = record(step, weights, problem.schedule, framework=framework, grads=grads)
        report = compare_trajectories(ref, got)
        assert report.passed and report.steps == 12, report.summary()
        assert got.grads.keys() == ref.grads.keys()  # and so the gradients were compared
        assert report.record_steps.tolist() == list(range(13))
