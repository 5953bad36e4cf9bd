"""The notebooks under notebooks/ run from top to bottom without an error (their exercise
answers are assertions), in one kernel, and are stored with the outputs of a real run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import need

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
JAPANESE = ("の", "を", "は")


def test_the_bilingual_notebooks_are_stored_with_their_outputs():
    import nbformat

    assert [p.name for p in NOTEBOOKS] == [
        "1_numpy_book.ipynb", "2_pytorch.ipynb", "3_jax.ipynb", "4_word2vec.ipynb",
        "5_rnnlm.ipynb",
    ]  # fmt: skip
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        prose = [c for c in nb.cells if c.cell_type == "markdown"]
        assert all(c.execution_count for c in code), path.name  # every cell was run
        assert [c.execution_count for c in code] == sorted(c.execution_count for c in code)
        outputs = [o for c in code for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert any("image/png" in o.get("data", {}) for o in outputs), path.name  # the plots
        assert all(any(w in c.source for w in JAPANESE) for c in prose), path.name  # EN + JA
        answers = [c for c in code if c.source.startswith("# Answer / 解答")]
        assert 2 <= len(answers) <= 3 and all("assert " in c.source for c in answers), path.name


@pytest.mark.crossframework
def test_every_notebook_runs_without_an_error():
    need("torch", "jax")
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env["MPLBACKEND"] = "agg"
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(REPO), env=env)
    kc = km.client()  # one kernel and one client for all: frameworks imported once
    kc.start_channels()
    ran = 0
    try:
        kc.wait_for_ready(timeout=120)
        for path in NOTEBOOKS:
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, km=km, timeout=300)
            client.kc = kc  # not a constructor argument: set, it is used instead of a new one
            client.execute()  # raises CellExecutionError on any error
            ran += sum(c.cell_type == "code" for c in nb.cells)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert ran >= 25
