"""Every rung of both ladders runs and ends in its parity assertion against the
reference; each rung changes one thing; a wrong rung is caught by that assertion."""

from __future__ import annotations

import difflib
import importlib
import inspect
import itertools
import re

import pytest

from comparisons.rosetta.ladder import RUNGS
from comparisons.rosetta.ladder.reference import book_problem, check
from tests.helpers import need

pytestmark = pytest.mark.crossframework
ALL = tuple(dict.fromkeys(RUNGS["torch"] + RUNGS["jax"]))


def rung(name: str):
    need("torch", "jax")
    from comparisons.rosetta.snippets import jax_code  # noqa: F401  (jax imported, RNG restored)

    return importlib.import_module(f"comparisons.rosetta.ladder.{name}")


@pytest.mark.parametrize("name", ALL)
def test_every_rung_runs_and_agrees_with_the_reference(name, capsys):
    rung(name).main(epochs=2)  # 20 steps; main asserts parity before it reports
    line = capsys.readouterr().out.strip()
    found = re.fullmatch(
        rf"{name}: 20 steps in \d+\.\d s \(the training alone\), last loss \d\.\d{{6}}, "
        r"matches the reference \(max \|dW\| (\S+)\)",
        line,
    )
    assert found, line
    assert 0 <= float(found.group(1)) < 1e-12 or name == "numpy_0_book"


def test_the_clock_starts_after_the_imports_and_stops_before_the_check(monkeypatch, capsys):
    import sys
    import time

    from comparisons.rosetta.ladder import reference

    module = rung("torch_5_optim")
    clock = iter(range(100))  # each perf_counter call one "second" later
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(clock)))
    module.main(epochs=2)
    assert "torch._dynamo" in sys.modules  # preloaded: the first torch.optim needs it
    assert " steps in 1.0 s " in capsys.readouterr().out  # start, stop: nothing between
    assert reference.preload("numpy") is None  # nothing to load for the book's rung


def test_the_functions_backward_is_checked_by_gradcheck_and_a_wrong_one_fails():
    torch = pytest.importorskip("torch")
    module = rung("torch_2_function")
    module.check_backward()  # the rung's own: passes
    gen = torch.Generator().manual_seed(1)
    x, W, b = (
        torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)
        for shape in ((5, 3), (3, 4), (4,))
    )
    ours = torch.autograd.grad(module.Affine.apply(x, W, b).square().sum(), (x, W, b))
    theirs = torch.autograd.grad((x @ W + b).square().sum(), (x, W, b))  # autograd's own
    for a, c in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, c, rtol=0, atol=1e-12)

    class Transposed(module.Affine):  # dW as (out, in): the transpose the book avoids
        @staticmethod
        def backward(ctx, dout):
            dx, dW, db = module.Affine.backward(ctx, dout)
            return dx, dW.T.reshape(dW.shape), db

    from torch.autograd.gradcheck import GradcheckError

    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(Transposed.apply, (x, W, b))


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_each_rung_changes_one_thing(framework):
    sizes = []
    for before, after in itertools.pairwise(RUNGS[framework]):
        a, b = (inspect.getsource(rung(n).train).splitlines() for n in (before, after))
        changed = [
            ln
            for ln in difflib.unified_diff(a, b, lineterm="", n=0)
            if ln[:1] in "+-" and ln[:3] not in ("+++", "---")
        ]
        sizes.append(len(changed))
    assert all(1 <= n <= 30 for n in sizes), dict(zip(RUNGS[framework][1:], sizes, strict=True))


def test_a_rung_that_drifts_fails_its_assertion():
    module = rung("torch_1_tensors")
    x, t, weights, schedule = book_problem(2)
    losses, trained = module.train(x, t, weights, schedule, lr=1.0 + 1e-9)
    with pytest.raises(AssertionError, match="W1"):
        check(losses, trained, 2)
