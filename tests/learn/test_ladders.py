"""Every rung of both ladders runs and ends in its parity assertion against the
reference; each rung changes one thing; a wrong rung is caught by that assertion."""

from __future__ import annotations

import difflib
import importlib
import inspect
import itertools

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
    assert line.startswith(f"{name}: 20 steps in "), line


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
