"""No global side effects: every public entry point leaves the process's numerics as it
found them, and works the same from a non-default state.

Watched: NumPy's global generator and error state (np.geterr), Python's `random`; torch's
generator, default dtype, TF32 flags (matmul and cuDNN), float32 matmul precision,
thread count and deterministic-algorithms flag; JAX's x64 flag and default matmul
precision. (tests/conftest.py checks the core of this after every test; here each entry
point is called on purpose, and the starting state is also a non-default one.)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

import adapters
from adapters import DivergenceError, OptimizerSpec
from comparisons import cli, parity
from scratch import init_weights
from tests.adapters.helpers import book_run
from tests.adapters.problems import extreme_problem, last_update_problem
from tests.helpers import (
    FRAMEWORKS,
    INSTALLED,
    changed,
    modes,
    need,
    restore_torch_fp32,
    snapshot,
    torch_and_jax,
)

MODES = {fw: modes(fw) for fw in FRAMEWORKS if fw in INSTALLED}


def digest(value) -> str:
    """A hash of arrays, numbers and dicts of them, bit for bit."""
    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, dict):
            for k in sorted(v):
                h.update(str(k).encode())
                feed(v[k])
        else:
            a = np.asarray(v)
            h.update(str(a.dtype).encode() + a.tobytes())

    feed(value)
    return h.hexdigest()


def exercise(out: Path) -> dict[str, str]:
    """Every public entry point of adapters and comparisons.parity, once; the hashes of
    what each computed."""
    rng = np.random.RandomState(11)
    w = {k: 30 * v for k, v in init_weights(4, 6, 3, rng=rng).items()}  # non-square 4-6-3
    x = rng.standard_normal((8, 4))
    t = rng.randint(0, 3, 8)
    schedule = np.stack([rng.permutation(8)[:5] for _ in range(6)])  # (6, 5)
    spec = OptimizerSpec("adam", 0.01)
    assert set(FRAMEWORKS) <= set(adapters.available())
    results, trajectories = {}, {}
    for fw in FRAMEWORKS:
        for dtype in ("float64", "float32"):
            net = adapters.build(fw, w, dtype=dtype)
            key = f"{fw}/{dtype}"
            results[f"{key}/predict"] = digest(net.predict(x))
            results[f"{key}/loss"] = digest(net.loss(x, t))
            results[f"{key}/gradients"] = digest(net.gradients(x, t))
            results[f"{key}/activations"] = digest(net.activations(x, t))
            results[f"{key}/weights"] = digest(net.weights())
            for mode in MODES[fw]:
                trained = adapters.build(fw, w, dtype=dtype)
                traj = trained.train(x, t, schedule, spec, max_grad=1.0, record_every=4, mode=mode)
                trajectories[f"{key}/{mode}"] = traj
                results[f"{key}/{mode}/train"] = digest({"losses": traj.losses, **traj.weights})
                path = adapters.save_weights(out / f"{fw}-{dtype}-{mode}.npz", trained.weights())
                results[f"{key}/{mode}/file"] = digest(adapters.load_weights(path))
        lw, lx, lt = last_update_problem()  # the DivergenceError path
        with pytest.raises(DivergenceError):
            adapters.build(fw, lw).train(
                lx, lt, np.tile(np.arange(4), (1, 1)), OptimizerSpec("sgd", 1e308), mode="step"
            ) if fw == "jax" else adapters.build(fw, lw).train(
                lx, lt, np.tile(np.arange(4), (1, 1)), OptimizerSpec("sgd", 1e308)
            )
    nets = {fw: adapters.build(fw, w) for fw in FRAMEWORKS}
    grads = {fw: n.gradients(x, t) for fw, n in nets.items()}
    assert parity.compare_all(grads, quantity="gradient").passed
    assert parity.compare(grads["numpy"], grads["torch"], quantity="gradient").passed
    parity.assert_close(grads["numpy"], grads["jax"], quantity="gradient")
    probs = nets["numpy"].activations(x, t)["softmax"]
    assert parity.compare_losses(nets["numpy"].loss(x, t), nets["jax"].loss(x, t), probs, t).passed
    parity.book_loss_gap(probs, t)
    parity.ulp_distance(grads["numpy"]["W1"], grads["torch"]["W1"], "float32")
    parity.tolerance("float32", "trajectory")
    ref64, ref32 = trajectories["numpy/float64/eager"], trajectories["numpy/float32/eager"]
    for name in ("torch/float64/eager", "jax/float64/scan", "jax/float64/step"):
        assert parity.compare_trajectories(ref64, trajectories[name]).passed
    for name in ("torch/float32/eager", "jax/float32/scan"):
        report = parity.compare_trajectories(ref32, trajectories[name], calibration=(ref64, ref32))
        report.to_dict()
    return results


def run_cli(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(argv)


@pytest.mark.crossframework
def test_every_entry_point_leaves_global_numerics_state_alone(tmp_path, check_run, default_run):
    need("torch", "jax")
    # `check` and `train` (the default run: every framework and mode, then the precision
    # matrix) ran once for this test and test_cli's (tests/conftest.py), between snapshots
    assert check_run.returncode == 0 and "check: PASS" in check_run.stdout
    assert not check_run.changed, check_run.changed
    assert default_run.returncode == 0 and (default_run.out / "report.md").is_file()
    assert default_run.changed == [], default_run.changed
    before = snapshot()
    exercise(tmp_path)
    assert not changed(before, snapshot())
    assert run_cli(["rosetta", "--width", "150"]) == 0
    assert not changed(before, snapshot()), changed(before, snapshot())


@contextlib.contextmanager
def non_default_state():
    """torch float64 by default, TF32 on, float32 matmuls "medium"; JAX x64 on and bf16
    matmuls; NumPy and Python generators reseeded; NumPy raising on every float error
    except underflow. Everything is put back on exit."""
    torch, jax = torch_and_jax()

    saved = snapshot()
    try:
        torch.set_default_dtype(torch.float64)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("medium")
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_default_matmul_precision", "bfloat16")
        np.random.seed(12345)
        random.seed(12345)
        np.seterr(over="raise", divide="raise", invalid="raise")
        yield
    finally:
        torch.set_default_dtype(saved["torch default dtype"])
        torch.backends.cuda.matmul.allow_tf32 = saved["torch TF32 matmul"]
        torch.backends.cudnn.allow_tf32 = saved["torch TF32 cudnn"]
        torch.set_float32_matmul_precision(saved["torch float32 matmul precision"])
        restore_torch_fp32(torch, saved["torch fp32_precision"])
        jax.config.update("jax_enable_x64", saved["jax x64"])
        jax.config.update("jax_default_matmul_precision", saved["jax matmul precision"])
        np.random.set_state(saved["numpy global generator"])
        random.setstate(saved["python random"])
        np.seterr(**saved["numpy error state"])


@pytest.mark.crossframework
def test_entry_points_work_alike_from_a_non_default_state_and_leave_it_alone():
    need("torch", "jax")
    with tempfile.TemporaryDirectory() as d:
        expected = exercise(Path(d))
    with non_default_state(), tempfile.TemporaryDirectory() as d:
        before = snapshot()
        got = exercise(Path(d))
        argv = ["train", "--epochs", "1", "--dtype", "float32", "--quiet", "--out", d]
        assert run_cli(argv) == 0
        assert not changed(before, snapshot()), changed(before, snapshot())
    differ = [k for k in expected if got[k] != expected[k]]
    assert not differ, f"results changed with the global state: {', '.join(differ)}"


# --------------------------------------------------------------------------- threads


def train_job(framework: str, dtype: str, mode: str, tf32: bool = False):
    """The book's first 20 epochs (200 steps of 30), as one thread would train them."""
    x, t, w, schedule = book_run(max_epoch=20)
    net = adapters.build(framework, w, dtype=dtype, tf32=tf32)
    return net.train(x, t, schedule, OptimizerSpec("sgd", 1.0), mode=mode)


@pytest.mark.crossframework
@pytest.mark.parametrize(
    "jobs",
    [
        (("jax", "float64", "scan"), ("jax", "float32", "scan")),  # was an XLA s32/s64 error
        (("jax", "float64", "step"), ("jax", "float32", "step")),
        (("torch", "float32", "eager", True), ("torch", "float64", "eager")),  # TF32 + not
    ],
    ids=["jax-scan", "jax-step", "torch-tf32"],
)
def test_training_in_two_threads_gives_the_sequential_results(jobs):
    need("torch", "jax")
    before = snapshot()
    sequential = [train_job(*job) for job in jobs]
    for _ in range(3):
        results: list = [None] * len(jobs)
        errors: list[BaseException] = []

        def work(i: int, results=results, errors=errors) -> None:
            try:
                results[i] = train_job(*jobs[i])
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        for got, want in zip(results, sequential, strict=True):
            assert digest({"l": got.losses, **got.weights}) == digest(
                {"l": want.losses, **want.weights}
            ), f"{got.framework} {got.dtype} {got.mode} differs from the sequential run"
    assert not changed(before, snapshot()), changed(before, snapshot())


# --------------------------------------------------------------------------- NumPy error state


def error_state_exercise() -> dict[str, str]:
    """Extreme scores (labels whose probability underflows to 0) through the reference,
    and float16 training (whose small gradients underflow), in every framework."""
    weights, x, labels = extreme_problem(logit=1000.0)
    out = {}
    for fw in FRAMEWORKS:
        net = adapters.build(fw, weights)
        out[f"{fw}/loss"] = digest(net.loss(x, labels["mixed"]))
        out[f"{fw}/gradients"] = digest(net.gradients(x, labels["mixed"]))
        out[f"{fw}/activations"] = digest(net.activations(x, labels["mixed"]))
        schedule = np.tile(np.arange(6), (4, 1))  # (4, 6)
        traj = adapters.build(fw, weights).train(
            x, labels["mixed"], schedule, OptimizerSpec("sgd", 0.1)
        )
        out[f"{fw}/train"] = digest({"l": traj.losses, **traj.weights})
        xb, tb, wb, sb = book_run(max_epoch=2)
        half = adapters.build(fw, wb, dtype="float16").train(
            xb, tb, sb, OptimizerSpec("adam", 0.01)
        )
        out[f"{fw}/float16"] = digest({"l": half.losses, **half.weights})
    return out


@pytest.mark.crossframework
@pytest.mark.parametrize(
    "state", [{"all": "raise"}, {"under": "warn"}, {"under": "raise", "over": "raise"}]
)
def test_results_do_not_depend_on_the_callers_numpy_error_state(state):
    """np.seterr(all="raise") made the reference raise FloatingPointError: underflow where
    torch and JAX returned values, and under="warn" made float16 training warn (an error
    here: warnings fail the suite). Every Net method now computes under NumPy's defaults."""
    need("torch", "jax")
    expected = error_state_exercise()
    with np.errstate(**state):
        callers = np.geterr()
        got = error_state_exercise()
        assert np.geterr() == callers  # the caller's state, untouched
    differ = [k for k in expected if got[k] != expected[k]]
    assert not differ, differ
