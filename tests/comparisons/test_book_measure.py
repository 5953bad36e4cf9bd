"""bench --model M --book-code DIR: the NumPy reference timed against the book's own code.

The book's code is not part of this project, so these tests write a stand-in for its
folder: modules with the book's file names and signatures (`SimpleCBOW(V, H)`, a Trainer
without `rng`) that draw from NumPy's global generator, as the book's do, by way of
scratch's classes. That is enough to prove the machinery: the import from the folder
leaves sys.path and sys.modules as they were, the global random state is restored, both
sides were timed, a run whose weights differ from scratch's is refused, and a folder
that is not the book's is refused before any work.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from comparisons import book_measure, cli

COMMON = {
    "common/__init__.py": "",
    "common/layers.py": "",
    "common/optimizer.py": "from scratch.optimizers import SGD, Adam  # noqa: F401\n",
    "common/trainer.py": """\
import numpy as np
from scratch import trainer


class Trainer(trainer.Trainer):  # the book's signature: the global generator shuffles
    def fit(self, x, t, max_epoch=10, batch_size=32, max_grad=None, eval_interval=20):
        rng = np.random.mtrand._rand
        super().fit(x, t, max_epoch, batch_size, max_grad, eval_interval, rng, verbose=False)


class RnnlmTrainer(trainer.RnnlmTrainer):
    pass
""",
}
SIMPLE_CBOW = """\
import numpy as np
from scratch import simple_cbow


class SimpleCBOW(simple_cbow.SimpleCBOW):  # the book's signature: the global generator draws
    def __init__(self, vocab_size, hidden_size):
        super().__init__(vocab_size, hidden_size, rng={rng})
"""


def stand_in(root, rng: str = "np.random.mtrand._rand"):
    for name, text in {**COMMON, "ch03/simple_cbow.py": SIMPLE_CBOW.format(rng=rng)}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_reference_is_timed_beside_the_books_code_on_the_same_run(tmp_path, capsys):
    root = stand_in(tmp_path)
    path, modules = sys.path[:], set(sys.modules)
    argv = ["bench", "--model", "simple_cbow", "--book-code", str(root), "--repeats", "1"]
    assert cli.main([*argv, "--json", "--quiet"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert sys.path == path and not {"common", "ch03"} & (set(sys.modules) - modules)
    assert row["model"] == "simple_cbow" and row["steps"] == 2000  # ch03/train.py's run
    assert len(row["book_runs_s"]) == len(row["scratch_runs_s"]) == 1
    assert row["book_per_step_s"] > 0 and row["scratch_per_step_s"] > 0
    assert row["ratio"] == pytest.approx(row["scratch_per_step_s"] / row["book_per_step_s"])
    assert row["met"] == (row["ratio"] <= book_measure.LIMIT)
    text = book_measure.format_rows([row])
    assert "simple_cbow" in text and "same bits" in text


def test_a_book_run_that_ends_elsewhere_is_not_timed(tmp_path):
    root = stand_in(tmp_path, rng="np.random.RandomState(0)")  # not the run's seed
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    with pytest.raises(ValueError, match="did not end with the same weights"):
        book_measure.timing("simple_cbow", root, repeats=1)
    assert (np.random.get_state()[1] == state).all()  # noqa: NPY002 - restored


def test_the_default_runs_are_the_ones_the_side_by_side_runs_train():
    assert book_measure.default_run("cbow").steps == 258
    assert book_measure.default_run("skip_gram").steps == 258
    assert book_measure.default_run("simple_skip_gram").steps == 2000
    for model in ("simple_rnnlm", "rnnlm", "better_rnnlm"):
        assert book_measure.default_run(model).steps == 228
    assert len(book_measure.default_run("better_rnnlm").model_args) == 4  # + dropout ratio
    assert set(book_measure.BOOK_MODELS) == set(book_measure.SCRATCH_MODELS)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--book-code", "."], "give --model"),  # chapter 1
        (["--model", "cbow", "--book-code", "{tmp}/none"], "not a folder"),
        (["--model", "cbow", "--book-code", "{tmp}"], "no common/trainer.py there"),
        (["--model", "cbow", "--book-code", "{book}"], "no ch04/cbow.py there"),
        (["--model", "cbow", "--book-code", "{book}", "--dtypes", "float64"], "drop --dtypes"),
        (["--model", "rnnlm", "--book-code", "{book}", "--frameworks", "jax"], "drop --frameworks"),
    ],
)
def test_a_folder_that_is_not_the_books_code_is_refused_before_any_work(
    options, message, tmp_path, capsys
):
    book = stand_in(tmp_path / "book")
    argv = [o.format(tmp=tmp_path, book=book) for o in options]
    assert cli.main(["bench", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("scratch-parity: error: ")
    assert message in err
