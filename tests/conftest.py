"""Shared test set-up: the parity plugin, framework fixtures and the global-state guard.

- The `framework` fixture, the `crossframework` marker and `--require-all-frameworks`
  (passed by `make test`, hence by CI: every skipped `crossframework` test fails, and so
  does the session when a framework is missing) come from the package's pytest plugin,
  scratch_parity/pytest_plugin.py. It is registered by the package's `pytest11`
  entry point; until the environment's install has that entry point (an editable
  install made before it existed), it is loaded from here instead.
- Every test is checked for side effects on global numerics state: NumPy's global
  generator, torch's generator, default dtype, TF32 flags and matmul precision, and
  JAX's x64 and matmul-precision flags must be as they were before the test.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

# JAX's data-parallel tests need a mesh of host devices, whose number is fixed when JAX's
# backend starts: 3 here, before anything imports jax (adapters/jax_sharding.py).
os.environ.setdefault("JAX_NUM_CPU_DEVICES", "3")

from tests.helpers import INSTALLED, PAIRS, changed, need, snapshot  # noqa: E402

PLUGIN = "scratch_parity.pytest_plugin"
if not any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
    pytest_plugins = [PLUGIN]


# The files whose tests read a session run (default_run, check_run below). Under
# pytest-xdist (`make test` runs `-n 2 --dist loadfile`: each worker runs whole files)
# they go to one worker together, so that each run is computed once.
SESSION_RUNS = ("default_run", "check_run")
SESSION_RUN_FILES = (
    "tests/adapters/test_global_state.py",
    "tests/comparisons/test_cli.py",
    "tests/comparisons/test_precision.py",
)


def pytest_collection_modifyitems(items) -> None:
    """Keep SESSION_RUN_FILES true: a test elsewhere that reads a session run is refused."""
    for item in items:
        file = item.nodeid.split("::", 1)[0]
        used = set(SESSION_RUNS) & set(getattr(item, "fixturenames", ()))
        if used and file not in SESSION_RUN_FILES:
            raise pytest.UsageError(
                f"{item.nodeid} reads {', '.join(sorted(used))}: add {file} to "
                "SESSION_RUN_FILES in tests/conftest.py"
            )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with SESSION_RUN_FILES as one unit of work."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SessionRunsTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return "the session runs" if file in SESSION_RUN_FILES else file

    return SessionRunsTogether(config, log)


@pytest.fixture(params=PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def pair(request) -> tuple[str, str]:
    need(*request.param)
    return request.param


@dataclass
class DefaultRun:
    """What `python -m comparisons --out DIR` gave: status, streams, the set, the results."""

    returncode: int
    stdout: str
    stderr: str
    out: Path
    results: object  # comparisons.run.RunResults, with its precision matrix as .matrix
    changed: list[str] | None  # the wider state (tests/helpers.snapshot) it changed; None
    # without torch and JAX, whose state the snapshot reads


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> DefaultRun:
    """The README's main command with its defaults (the book's 3000 steps in every
    installed framework and mode, then the precision matrix), run once, in this process,
    for every test that only reads what it printed, wrote or computed, and for the test
    of the state it leaves (tests/adapters/test_global_state.py). The process
    boundary of `python -m comparisons` is tested in tests/comparisons/test_streams.py
    and test_output_set.py."""
    from comparisons import cli, plots

    out = tmp_path_factory.mktemp("cli") / "comparison-output"
    drawn = []
    stdout, stderr = io.StringIO(), io.StringIO()
    wide = snapshot() if {"torch", "jax"} <= set(INSTALLED) else None
    before = _global_state()  # a session fixture runs outside the per-test guard below
    with pytest.MonkeyPatch.context() as mp:  # the RunResults the plots are drawn from
        draw_all = plots.draw_all
        mp.setattr(plots, "draw_all", lambda results: drawn.append(results) or draw_all(results))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = cli.main(["--out", str(out)])
    moved = _changed(before, _global_state())
    assert not moved, f"the default run changed global numerics state: {', '.join(moved)}"
    results = drawn[0] if drawn else None
    wider = None if wide is None else changed(wide, snapshot())
    return DefaultRun(rc, stdout.getvalue(), stderr.getvalue(), out, results, wider)


@dataclass
class CheckRun:
    """What `python -m comparisons check` gave: status, stdout, and the global numerics
    state (tests/helpers.snapshot) it changed."""

    returncode: int
    stdout: str
    changed: list[str]


@pytest.fixture(scope="session")
def check_run() -> CheckRun:
    """`check` with every installed framework (its data-parallel part starts torch's ranks),
    run once, in this process, for the test of its output (tests/comparisons/test_cli.py)
    and the one of the state it leaves (tests/adapters/test_global_state.py)."""
    from comparisons import cli

    need("torch", "jax")
    stdout = io.StringIO()
    before = snapshot()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        rc = cli.main(["check"])
    return CheckRun(rc, stdout.getvalue(), changed(before, snapshot()))


FP32_OPS = ["all", "matmul", "conv", "rnn"]


def _global_state() -> dict:
    state = {"numpy_rng": np.random.get_state()}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        state.update(
            torch_rng=torch.get_rng_state(),
            torch_dtype=torch.get_default_dtype(),
            tf32=(torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32),
            torch_precision=torch.get_float32_matmul_precision(),
        )
        fp32 = getattr(torch._C, "_get_fp32_precision_getter", None)  # torch >= 2.9
        if fp32 is not None:  # the new API's settings, as read
            state["torch_fp32_precision"] = [
                fp32(backend, op)
                for backend, ops in (("generic", ["all"]), ("cuda", FP32_OPS), ("mkldnn", FP32_OPS))
                for op in ops
            ]
    if "jax" in sys.modules:
        jax = sys.modules["jax"]
        state.update(
            jax_x64=jax.config.jax_enable_x64,
            jax_precision=jax.config.jax_default_matmul_precision,
        )
    return state


def _same(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "numpy") and hasattr(b, "numpy"):  # torch tensors
        return bool((a == b).all())
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def _changed(before: dict, after: dict) -> list[str]:
    return [k for k in before if k in after and not _same(before[k], after[k])]


@pytest.fixture(autouse=True)
def no_global_side_effects():
    before = _global_state()
    yield
    changed = _changed(before, _global_state())
    assert not changed, f"the test changed global numerics state: {', '.join(changed)}"
