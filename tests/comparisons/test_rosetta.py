"""comparisons.rosetta: the catalogue is tied to the book and to tests that exist, in the
book's order, and the three renderings (terminal, Markdown, HTML) show every snippet whole,
side by side where they fit, in both languages."""

from __future__ import annotations

import ast
import dataclasses
import html
import importlib
import re
from pathlib import Path

import pytest

from comparisons import rosetta
from comparisons.rosetta import CONCEPTS, FRAMEWORKS, catalogue, code, concept
from comparisons.rosetta.catalogue import section_key, section_text
from comparisons.rosetta.render import SNIPPET_TEST, display_width, wrap

REPO = Path(__file__).resolve().parents[2]
BOOK_FILES = set(  # the files of oreilly-japan/deep-learning-from-scratch-2, chapters 1-6
    """
    ch01/forward_net.py ch01/show_spiral_dataset.py ch01/train.py ch01/train_custom_loop.py
    ch01/two_layer_net.py ch02/count_method_big.py ch02/count_method_small.py
    ch02/most_similar.py ch02/ppmi.py ch02/show_ptb.py ch02/similarity.py ch03/cbow_predict.py
    ch03/simple_cbow.py ch03/simple_skip_gram.py ch03/train.py ch04/cbow.py ch04/eval.py
    ch04/negative_sampling_layer.py ch04/skip_gram.py ch04/train.py ch05/simple_rnnlm.py
    ch05/train.py ch05/train_custom_loop.py ch06/better_rnnlm.py ch06/clip_grads.py
    ch06/eval.py ch06/rnn_gradient_graph.py ch06/rnnlm.py ch06/train_better_rnnlm.py
    ch06/train_rnnlm.py common/base_model.py common/config.py common/functions.py
    common/layers.py common/np.py common/optimizer.py common/time_layers.py common/trainer.py
    common/util.py dataset/ptb.py dataset/sequence.py dataset/spiral.py
    """.split()
)
JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")


def test_concepts_follow_the_book_and_name_its_section_and_file():
    ids = [c.id for c in CONCEPTS]
    keys = [section_key(c) for c in CONCEPTS]
    assert len(set(ids)) == len(ids) and keys == sorted(keys)  # the book's order
    chapters = sorted({k[0] for k in keys})
    assert chapters == list(range(1, len(chapters) + 1)) and len(chapters) >= 6  # none skipped
    assert ids[0] == "affine" and keys[0] == (1, 2, 2)
    assert set(chapters) <= set(catalogue.CHAPTERS)  # each chapter's title, for the contents

    def before(a: str, b: str) -> bool:
        return ids.index(a) < ids.index(b)

    assert before("affine", "softmax_loss") and before("softmax_loss", "backward")
    assert before("gpu", "similarity") and before("shared_weights", "embedding")
    assert before("embedding", "negative_sampling") and before("rnn", "lstm")
    sections = {c.id: c.section for c in CONCEPTS}
    assert sections["precision"] == "§1.5.1" and sections["gpu"] == "§1.5.2"
    assert sections["sgd"] == "§1.3.6" and sections["weights"] == "§1.4.2"
    assert sections["embedding"] == "§4.1" and sections["negative_sampling"] == "§4.2"
    assert sections["lstm"].startswith("§6.3") and sections["weight_tying"] == "§6.5.3"
    # this book's 付録A derives sigmoid's derivative; Softmax-with-Loss is book 1's 付録A
    assert "Appendix A" in sections["sigmoid"] and "book 1" not in sections["sigmoid"]
    assert "book 1 Appendix A" in sections["softmax_loss"]
    for c in CONCEPTS:
        here = {m["section"].split(".")[0] for m in catalogue.places(c.section) if m["section"]}
        assert c.book and all(b.split()[0] in BOOK_FILES for b in c.book), c.id
        for b in c.book:  # a chapter's own file only where the concept is in that chapter
            if b.startswith("ch"):
                assert str(int(b[2:4])) in here, (c.id, b)
        assert set(c.code) == set(FRAMEWORKS) and all(any(c.code[fw]) for fw in FRAMEWORKS), c.id
        assert c.adapters and c.tests, c.id


def test_a_new_concept_takes_its_place_by_its_first_section():
    later = dataclasses.replace(concept("data"), id="later", section="§3.1.2, §1.4.1")
    early = dataclasses.replace(concept("data"), id="early", section="§1.2.1")
    order = sorted((*CONCEPTS, later, early), key=section_key)
    ids = [c.id for c in order]
    at = ids.index("later")
    assert ids[:2] == ["early", "affine"] and 0 < at < len(order) - 1
    assert all(section_key(c) <= (3, 1, 2) for c in order[:at])
    assert all(section_key(c) > (3, 1, 2) for c in order[at + 1 :])
    assert catalogue.chapters_text([concept("data"), later], "en") == "chapters 1 and 3"
    assert catalogue.chapters_text([concept("data"), later], "ja") == "第1・3章"
    run = [dataclasses.replace(later, section=f"§{n}.1") for n in (1, 2, 3, 5)]
    assert catalogue.chapters_text(run, "en") == "chapters 1-3 and 5"  # 3 in a row: a range
    assert catalogue.chapters_text(run, "ja") == "第1〜3・5章"
    assert catalogue.chapters_text(run[1:], "en") == "chapters 2, 3 and 5"
    for bad in ("1.2.2", "§1.4.3-4", "§1.3.6 (derived in book 1, §6.1)", "Appendix 1"):
        with pytest.raises(ValueError, match="section"):
            section_key(dataclasses.replace(later, section=bad))
    with pytest.raises(ValueError, match="this book's"):
        section_key(dataclasses.replace(later, section="book 1 §6.1"))


def test_sections_read_in_each_language():
    assert section_text("§1.3.1, §1.3.5, book 1 Appendix A", "en") == (
        "§1.3.1, §1.3.5, Appendix A of book 1"
    )
    assert section_text("§1.3.1, book 1 Appendix A", "ja") == "1.3.1節、前作の付録A"
    assert section_text("§1.3.6, book 1 §6.1", "ja") == "1.3.6節、前作の6.1節"
    assert section_text("§1.2.2, Appendix A", "ja") == "1.2.2節、付録A"


def test_the_japanese_output_has_no_english_where_the_book_has_japanese_terms():
    listing = rosetta.render_list("ja")
    code_lines = {ln for c in CONCEPTS for ln in code(c, "numpy").splitlines()}
    card = "\n".join(  # the card's prose: the code and its comments are the book's
        ln
        for ln in rosetta.render_text(frameworks=("numpy",), lang="ja", width=120).splitlines()
        if ln not in code_lines
    )
    prose = "\n".join(c.differs["ja"] + c.title["ja"] for c in CONCEPTS)
    for text in (listing, card, prose):
        for english in ("§", "Appendix", "book 1", "derived in", "used by", "optimizer の"):
            assert english not in text, english
    assert "前作の付録A" in listing and "付録A" in concept("sigmoid").differs["ja"]
    assert "最適化手法" in prose


def test_every_concept_has_english_and_japanese_text():
    for c in CONCEPTS:
        for field in (c.title, c.differs):
            assert set(field) == {"en", "ja"}, c.id
            assert not JAPANESE.search(field["en"]), c.id
            assert JAPANESE.search(field["ja"]), c.id
        sentences = re.split(r"(?<=\.)\s(?=[A-Z])", c.differs["en"])
        assert 1 <= len(sentences) <= 3 and len(c.differs["en"]) <= 400, c.id  # short


def test_the_differences_the_issue_names_are_said_where_they_live():
    said = {c.id: c.differs["en"] for c in CONCEPTS}
    assert "(out, in)" in said["weights"] and "(out, in)" in said["affine"]
    assert "1e-7" in said["softmax_loss"]
    assert "-v / lr" in said["optimizers"] and "eps" in said["optimizers"]
    assert "float32" in said["precision"] and "jax_enable_x64" in said["precision"]
    assert "TF32" in said["precision"]


def _test_names(file: Path) -> set[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_named_test_exists():
    missing = []
    for c in CONCEPTS:
        for test_id in c.tests:
            file, _, name = test_id.partition("::")
            path = REPO / file
            if not path.is_file() or name not in _test_names(path):
                missing.append(test_id)
    assert missing == []


def test_each_snippet_test_file_runs_the_snippets_of_its_concepts_and_no_others():
    files = {c.snippet_test for c in CONCEPTS}
    assert len(files) >= 3  # chapter 1, word2vec, the recurrent models
    for file in files:
        runs = {
            name
            for name in _test_names(REPO / file)
            if name.endswith("_snippets_agree_with_the_reference")
        }
        assert runs == {
            f"test_{c.id}_snippets_agree_with_the_reference"
            for c in CONCEPTS
            if c.snippet_test == file
        }, file


@pytest.mark.crossframework
def test_every_adapter_path_resolves_to_code():
    from tests.helpers import need

    need("torch", "jax")
    resolved = 0
    for c in CONCEPTS:
        for path in c.adapters:
            parts = path.split(".")
            for i in range(len(parts), 0, -1):  # the longest importable prefix
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                    break
                except ImportError:
                    continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            assert callable(obj), path
            resolved += 1
    assert resolved == sum(len(c.adapters) for c in CONCEPTS)


@pytest.mark.crossframework
def test_snippets_are_what_a_person_writes_not_adapter_plumbing():
    from tests.helpers import need

    need("torch", "jax")
    shown = {(c.id, fw): code(c, fw) for c in CONCEPTS for fw in FRAMEWORKS}
    assert "np.dot(x, W) + b" in shown["affine", "numpy"]
    assert "nn.Linear" in shown["affine", "torch"] and "x @ W + b" in shown["affine", "jax"]
    assert (
        "torch.sigmoid" in shown["sigmoid", "torch"] and "jax.nn.sigmoid" in shown["sigmoid", "jax"]
    )
    assert "F.cross_entropy" in shown["softmax_loss", "torch"]
    assert "loss.backward()" in shown["backward", "torch"]
    assert "jax.value_and_grad" in shown["backward", "jax"]
    assert "torch.optim.SGD" in shown["sgd", "torch"] and "optax.sgd" in shown["sgd", "jax"]
    assert "DataLoader" in shown["data", "torch"] and "TensorDataset" in shown["data", "torch"]
    assert (
        "jax.lax.scan" in shown["training_loop", "jax"] and "jax.jit" in shown["train_step", "jax"]
    )
    assert ".to(device)" in shown["gpu", "torch"] and "jax.device_put" in shown["gpu", "jax"]
    # the book's way with comments of our own, in the book's Japanese terms
    assert "rng.permutation" in shown["data", "numpy"] and "並べ替え" in shown["data", "numpy"]
    for (cid, fw), text in shown.items():
        for plumbing in ("pinned_precision", "_tensor", "to_numpy", "adapters.", "checks."):
            assert plumbing not in text, (cid, fw, plumbing)
        assert text.count("raise ") <= 1 and len(text.splitlines()) <= 45, (cid, fw)


# --------------------------------------------------------------------------- terminal


def _code_lines(concepts, frameworks) -> list[str]:
    return [ln for c in concepts for fw in frameworks for ln in code(c, fw).splitlines() if ln]


@pytest.mark.parametrize("width", [80, 100, 160, 400])
def test_terminal_never_breaks_a_code_line(width):
    text = rosetta.render_text(width=width, frameworks=("numpy",))
    lines = text.splitlines()
    for line in _code_lines(CONCEPTS, ("numpy",)):
        assert any(line in out for out in lines), line
    for ln in lines:  # a test id too long for 80 goes on two lines, split at its ::
        assert display_width(ln) <= width, ln


def test_every_snippet_line_fits_a_third_of_a_wide_screen():
    longest = max(
        (display_width(ln), c.id, fw, ln)
        for c in CONCEPTS
        for fw in FRAMEWORKS
        for ln in code(c, fw).splitlines()
    )
    assert longest[0] <= 64, longest  # comparisons/rosetta/snippets/ruff.toml


def _columns_at(text: str) -> list[int]:
    """For each concept of a terminal card, how many frameworks its first caption row holds."""
    heads = [ln for ln in text.splitlines() if ln.startswith(("NumPy", "── NumPy"))]
    return [ln.count("│") + 1 if "│" in ln else 1 for ln in heads]


@pytest.mark.crossframework
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize(
    "width, fewest, most", [(80, 1, 1), (100, 1, 2), (130, 2, 3), (170, 2, 3), (194, 3, 3)]
)
def test_one_framework_per_screen_at_80_two_from_130_three_from_194(lang, width, fewest, most):
    from tests.helpers import need

    need("torch", "jax")
    text = rosetta.render_text(lang=lang, width=width)
    assert all(display_width(ln) <= width for ln in text.splitlines())
    shown = _columns_at(text)
    assert len(shown) == len(CONCEPTS) and fewest <= min(shown) and max(shown) <= most


@pytest.mark.crossframework
def test_side_by_side_the_snippets_of_one_step_start_on_one_row():
    from tests.helpers import need

    need("torch", "jax")

    def row_of(text: str, start: str) -> int:
        return next(k for k, ln in enumerate(text.splitlines()) if start in ln)

    sgd = rosetta.render_text([concept("sgd")], width=200)
    assert (
        row_of(sgd, "class SGD:")
        == row_of(sgd, "def make_sgd(model")
        == row_of(sgd, "def make_sgd(params")
    )
    assert row_of(sgd, "def sgd_update(optimizer)") == row_of(sgd, "def sgd_update(tx,")
    loss = rosetta.render_text([concept("softmax_loss")], width=200)
    assert row_of(loss, "class SoftmaxWithLoss:") == row_of(loss, "def softmax_with_loss")
    assert row_of(loss, "def softmax(x)") < row_of(loss, "def softmax_with_loss")
    predict = rosetta.render_text([concept("predict")], width=140)  # two, then JAX below
    assert row_of(predict, "def accuracy(model, x, t):") == row_of(predict, "@torch.no_grad()")
    assert "│" not in predict.splitlines()[row_of(predict, "def predict(params, x)")]


@pytest.mark.crossframework
def test_columns_when_they_fit_else_the_frameworks_follow_one_another():
    from tests.helpers import need

    need("torch", "jax")
    sgd = [concept("sgd")]
    wide = rosetta.render_text(sgd, width=300).splitlines()
    head = next(ln for ln in wide if ln.startswith("NumPy (the book)"))
    assert " │ PyTorch" in head and " │ JAX" in head

    def bars(line: str) -> list[int]:  # the screen columns of the separators
        return [display_width(line[:i]) for i, ch in enumerate(line) if ch == "│"]

    rows = [ln for ln in wide if " │ " in ln]
    assert len(rows) > 5 and len(bars(head)) == 2
    assert all(bars(ln) == bars(head)[: len(bars(ln))] for ln in rows)
    narrow = rosetta.render_text(sgd, width=80).splitlines()
    assert [ln for ln in narrow if ln.startswith("── ")] == [
        "── NumPy (the book)",
        "── PyTorch",
        "── JAX",
    ]
    assert not any(" │ " in ln for ln in narrow)
    for line in _code_lines(sgd, FRAMEWORKS):
        assert line in narrow  # a whole line of its own


@pytest.mark.parametrize("width, error", [(79, ValueError), (1001, ValueError), (True, TypeError)])
def test_a_width_outside_80_to_1000_is_refused(width, error):
    with pytest.raises(error, match="width"):
        rosetta.render_text(width=width)


def test_japanese_prose_wraps_by_display_width_and_keeps_every_character():
    text = concept("optimizers").differs["ja"]
    lines = wrap(text, 40)
    assert len(lines) > 3 and all(display_width(ln) <= 40 for ln in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert not any(ln[0] in "、。）" for ln in lines)
    for width in range(41, 121):  # 。or ）never starts a line, （ never ends one, at any width
        for c in CONCEPTS:
            for lang in ("en", "ja"):
                lines = wrap(c.differs[lang], width)
                assert "".join(lines).replace(" ", "") == c.differs[lang].replace(" ", "")
                assert all(display_width(ln) <= width for ln in lines), (c.id, width)
                assert not any(ln[0] in "、。）" or ln[-1] == "（" for ln in lines), (c.id, width)


@pytest.mark.parametrize(
    "kwargs", [{"frameworks": ("numpy", "tf")}, {"frameworks": ()}, {"lang": "fr"}]
)
def test_a_bad_framework_or_language_is_refused(kwargs):
    with pytest.raises(ValueError):
        rosetta.render_text(**kwargs)


def test_list_names_every_id_and_title():
    for lang in ("en", "ja"):
        listing = rosetta.render_list(lang).splitlines()
        assert len(listing) == 1 + len(CONCEPTS)
        for c, line in zip(CONCEPTS, listing[1:], strict=True):
            assert line.split()[0] == c.id and c.title[lang] in line
            assert section_text(c.section, lang) in line


# --------------------------------------------------------------------------- markdown, html


@pytest.mark.crossframework
def test_markdown_holds_every_snippet_intact_in_both_languages():
    from tests.helpers import need

    need("torch", "jax")
    for lang in ("en", "ja"):
        text = rosetta.render_markdown(lang=lang)
        assert text.startswith("## Rosetta")
        assert text.count("\n### ") == len(CONCEPTS)
        for c in CONCEPTS:
            assert c.differs[lang] in text
            for fw in FRAMEWORKS:
                assert f"```python\n{code(c, fw)}\n```" in text, (c.id, fw)


@pytest.mark.crossframework
def test_html_is_one_section_with_every_snippet_escaped_in_a_pre():
    from tests.helpers import need

    need("torch", "jax")
    page = rosetta.render_html()
    assert page.count('<section id="rosetta"') == 1 and page.count("</section>") == 1
    assert "<script" not in page and "white-space: pre;" in page
    parts = re.split(r'<h3 id="rosetta-(\w+)">', page)[1:]  # id, its part of the page, ...
    assert parts[::2] == [c.id for c in CONCEPTS]
    shown: dict[tuple[str, str], list[str]] = {}
    for cid, part in zip(parts[::2], parts[1::2], strict=True):
        cells = re.findall(
            r'<pre data-framework="(\w+)" data-step="(\d+)" style="[^"]*"><code>(.*?)</code></pre>',
            part,
            flags=re.S,
        )
        steps = [int(step) for fw, step, _ in cells]
        assert cells and all("<" not in text for *_, text in cells), cid
        for fw, _, text in cells:
            shown.setdefault((cid, fw), []).append(html.unescape(text))
        for fw in FRAMEWORKS:  # each framework's snippets in the order of their steps
            mine = [s for (f, _, _), s in zip(cells, steps, strict=True) if f == fw]
            assert mine == sorted(mine), (cid, fw)
    assert {k: "\n\n".join(v) for k, v in shown.items()} == {
        (c.id, fw): code(c, fw) for c in CONCEPTS for fw in FRAMEWORKS
    }
    nav = page[page.index("<nav") : page.index("</nav>")]  # the contents, chapter by chapter
    assert re.findall(r'<a href="#rosetta-(\w+)">', nav) == [c.id for c in CONCEPTS]
    chapters = sorted({section_key(c)[0] for c in CONCEPTS})
    heads = [html.unescape(h) for h in re.findall(r"<li><b>(.*?)</b>", nav)]
    assert heads == [catalogue.chapter_title(n, "en") for n in chapters]
    assert heads[3] == "Chapter 4: Speeding up word2vec"
    assert catalogue.chapter_title(6, "ja") == "第6章 ゲート付きRNN"
    markdown = rosetta.render_markdown(lang="ja")
    for c in CONCEPTS:  # every format names the test that runs the snippets
        assert SNIPPET_TEST.format(file=c.snippet_test, id=c.id) in page
        assert SNIPPET_TEST.format(file=c.snippet_test, id=c.id) in markdown
    # three columns of the longest line at 13 px fit a 1600 px window (less its scroll bar
    # and the page's 8 px margins): tests/learn/test_html_in_browser.py measures it
    assert "@container (min-width: 1555px)" in page and "font-size: 13px" in page
    whole = rosetta.render_html([concept("affine")], ("torch",), "ja", page=True)
    assert whole.startswith("<!DOCTYPE html>") and '<html lang="ja">' in whole
    assert "Affine レイヤ" in whole and "nn.Linear" in whole and "np.dot" not in whole
