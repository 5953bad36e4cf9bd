"""Parity for your own model runs as written: the code blocks of docs/own-model.md are
executed in order, the three frameworks agree, and a learning rate 0.1% off in torch is
caught at step 1 with the weight named. The README's section of that name shows the
page's parity block, word for word."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import adapters
from tests.helpers import need

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "own-model.md"
README = ROOT / "README.md"
HEADING = "## Parity for your own model"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def section_code() -> list[str]:
    """The page's Python code blocks, in order."""
    return python_blocks(PAGE.read_text(encoding="utf-8"))


def run(blocks: list[str], namespace: dict) -> dict:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a net this small runs fastest on one thread
    try:
        with torch.random.fork_rng(devices=[]):  # the page's nn.Linear draws its own init
            for block in blocks:
                exec(compile(block, str(PAGE), "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    return namespace


@pytest.fixture(scope="module")
def readme() -> dict:
    """The namespace the page's code leaves behind."""
    need("torch", "jax")
    adapters.net_class("jax")  # imports jax with NumPy's global generator kept
    return run(section_code(), {"__name__": "readme"})


def test_the_readme_shows_the_pages_parity_block_word_for_word():
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md lost its section {HEADING!r}"
    shown = python_blocks(text.split(HEADING, 1)[1].split("\n## ", 1)[0])
    assert shown == section_code()[-1:], "README.md's parity block differs from docs/own-model.md's"


@pytest.mark.crossframework
def test_the_readme_example_runs_and_every_framework_agrees(readme):
    blocks = section_code()
    assert len(blocks) == 5  # data, numpy, torch, jax, parity
    parity_lines = [line for line in blocks[-1].splitlines() if line.strip()]
    assert len(parity_lines) <= 30, len(parity_lines)
    compare = readme["compare_trajectories"]
    for name in ("mine", "twin"):
        report = compare(readme["ref"], readme[name])
        assert report.passed and report.steps == 200, report.summary()
        assert readme[name].weights["W2"].shape == (201, 10, 8)  # (in, out) at every step


@pytest.mark.crossframework
def test_a_learning_rate_off_by_a_tenth_of_a_percent_is_caught_at_step_1(readme):
    blocks = section_code()
    torch_block = blocks[2]
    assert "lr=LR)" in torch_block
    blocks[2] = torch_block.replace("lr=LR)", "lr=LR * 1.001)")  # the planted bug
    planted = run(blocks, {"__name__": "readme"})
    compare = planted["compare_trajectories"]
    report = compare(planted["ref"], planted["mine"])
    assert not report.passed and report.first_step == 1
    assert report.first.step == 1 and report.first.weight in planted["w0"]
    summary = report.summary()
    assert f"first diverge after 1 update at {report.first.weight}[" in summary
    hint = report.hints[0]  # why: every weight's first update is 1.001 times the reference's
    assert (hint.kind, hint.name) == ("scaled", "W1") and "1.001 times" in hint.detail
    assert "; hint (scaled, W1): torch/record's update of W1 at step 0 is 1.001 times" in summary
    assert "the same for b1, W2, b2, W3 and b3" in summary
    assert compare(planted["ref"], planted["twin"]).passed  # only torch has the bug
