"""The notebooks under notebooks/: bilingual, stored with the outputs of one run of the
current code (`make notebooks`), and every exercise a cell for the reader's answer that
`check` judges, followed by the authors' solution in a hidden cell tagged `solution`.
The tests run the notebooks with those solutions in them, so the answers stay right."""

from __future__ import annotations

import re

import numpy as np
import pytest

from comparisons.rosetta.notebooks import execute, paths
from tests.helpers import need

NOTEBOOKS = paths()
JAPANESE = ("の", "を", "は")
JAPANESE_CHARACTER = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
CHECK = re.compile(r'check\("([a-z0-9]+-\d+)", answer\)')


def read(path):
    import nbformat

    return nbformat.read(path, as_version=4)


def text(cell) -> str:
    """What a code cell printed (its streams and plain-text results)."""
    out = []
    for o in cell.outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif "text/plain" in o.get("data", {}):
            out.append(o["data"]["text/plain"])
    return "".join(out)


def exercises(nb) -> list[tuple[str, object, object]]:
    """(exercise id, the reader's cell, the solution cell) in the notebook's order."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    found = []
    for cell, after in zip(code, code[1:], strict=False):
        if "answer = ...\n" in cell.source:
            (exercise,) = CHECK.findall(cell.source)
            found.append((exercise, cell, after))
    return found


def test_the_bilingual_notebooks_stored_with_the_outputs_of_one_run():
    numbers = [int(p.name.split("_")[0]) for p in NOTEBOOKS]  # 1_numpy_book ... 5_rnnlm
    assert numbers == list(range(1, len(NOTEBOOKS) + 1)) and len(NOTEBOOKS) >= 5
    for path in NOTEBOOKS:
        nb = read(path)
        code = [c for c in nb.cells if c.cell_type == "code"]
        prose = [c for c in nb.cells if c.cell_type == "markdown"]
        counts = [c.execution_count for c in code]
        assert counts == list(range(1, len(code) + 1)), path.name  # one run, top to bottom
        outputs = [o for c in code for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert not [o for o in outputs if o.get("name") == "stderr"], path.name  # no warning
        assert any("image/png" in o.get("data", {}) for o in outputs), path.name  # the plots
        assert all(any(w in c.source for w in JAPANESE) for c in prose), path.name  # EN + JA
        for cell in prose:  # the Japanese says 1.2.2節, as the book does, never §1.2.2
            for paragraph in cell.source.split("\n\n"):
                if JAPANESE_CHARACTER.search(paragraph):
                    assert "§" not in paragraph, (path.name, paragraph[:80])


def test_each_exercise_has_a_cell_for_the_reader_and_a_hidden_solution():
    from comparisons.rosetta.exercises import EXERCISES

    prefixes, every = [], []
    for path in NOTEBOOKS:
        nb = read(path)
        found = exercises(nb)
        prefix = found[0][0].rsplit("-", 1)[0] if found else path.name
        assert [e for e, *_ in found] == [f"{prefix}-{k}" for k in (1, 2, 3)], path.name
        prefixes.append(prefix)
        every += [e for e, *_ in found]
        for exercise, attempt, solution in found:
            assert "solution" not in attempt.metadata.get("tags", [])
            assert not attempt.metadata.get("jupyter", {}).get("source_hidden")
            assert solution.metadata["tags"] == ["solution"], exercise
            assert solution.metadata["jupyter"]["source_hidden"] is True, exercise
            assert CHECK.findall(solution.source) == [exercise]
            assert "answer = ...\n" not in solution.source
            assert f"{exercise}: no answer yet" in text(attempt)  # as a reader first sees it
            assert f"{exercise}: right." in text(solution), text(solution)
        solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
        assert len(solutions) == len(found)
    assert len(set(prefixes)) == len(NOTEBOOKS)  # one set of exercises per notebook
    assert every == list(EXERCISES)  # each judged by comparisons/rosetta/exercises, in order


@pytest.mark.crossframework
def test_check_says_right_or_not_yet_with_a_hint(capsys):
    need("torch", "jax")
    from comparisons.rosetta.exercises import EXERCISES, check, right

    right_answers = {
        "numpy-1": (2, 10),
        "numpy-2": False,
        "numpy-3": 9,
        "torch-1": lambda x, fc: x @ fc.weight.T + fc.bias,
        "torch-2": 2,
        "torch-3": 1,
        "jax-1": 1,
        "jax-2": False,
        "jax-3": 1,
        "word2vec-1": 61,
        "word2vec-2": 1.6946,  # to 4 digits
        "word2vec-3": (10, 2),
        "rnnlm-1": 293,
        "rnnlm-2": 54,
        "rnnlm-3": [2, 0, 1, 3],
    }
    wrong_answers = {  # the likely mistakes
        "numpy-1": (10, 2),
        "numpy-2": True,
        "numpy-3": 291,  # the ones it gets right
        "torch-1": lambda x, fc: x @ fc.weight + fc.bias,  # the layout forgotten
        "torch-2": 1,
        "torch-3": 2,
        "jax-1": 10,
        "jax-2": "no",
        "jax-3": None,
        "word2vec-1": 39,  # the ids that are distinct
        "word2vec-2": 1 / 1.6946,  # the factor upside down
        "word2vec-3": (5, 2),  # W_out counted once
        "rnnlm-1": 198,  # the offset alone
        "rnnlm-2": np.log(54),  # the mean loss, not its exp
        "rnnlm-3": [1, 2, 0, 3],  # the map the other way
    }
    assert set(right_answers) == set(wrong_answers) == set(EXERCISES)
    for exercise in EXERCISES:
        assert right(exercise, right_answers[exercise]), exercise
        assert not right(exercise, wrong_answers[exercise]), exercise
        assert not right(exercise, ...)
        check(exercise, wrong_answers[exercise])
        said = capsys.readouterr().out
        assert f"{exercise}: not right yet. Hint: " in said and "ヒント: " in said, said
        check(exercise, right_answers[exercise])
        assert f"{exercise}: right." in capsys.readouterr().out
    with pytest.raises(ValueError, match="exercise"):
        check("numpy-4", 1)


def digits_masked(cell) -> str:
    """A cell's text with every run of digits as #: the last digits of a max |dW| may
    differ on another machine, the words and the verdicts may not."""
    return re.sub(r"\d+", "#", text(cell))


@pytest.mark.crossframework
def test_the_notebooks_run_with_their_solutions_and_print_what_is_stored():
    need("torch", "jax")
    ran = execute()  # one kernel, top to bottom; raises at the first cell that fails
    assert list(ran) == NOTEBOOKS
    for path, fresh in ran.items():
        stored = read(path)
        fresh_code = [c for c in fresh.cells if c.cell_type == "code"]
        stored_code = [c for c in stored.cells if c.cell_type == "code"]
        assert [c.source for c in fresh_code] == [c.source for c in stored_code]
        for exercise, _, solution in exercises(fresh):
            assert f"{exercise}: right." in text(solution)  # the authors' answers hold
        for new, old in zip(fresh_code, stored_code, strict=True):  # stored = current code's
            assert digits_masked(new) == digits_masked(old), (path.name, new.source[:60])
    assert sum(len(nb.cells) for nb in ran.values()) >= 60
