"""comparisons.rosetta: the catalogue is tied to the book and to tests that exist, and the
three renderings (terminal, Markdown, HTML) show every snippet whole, in both languages."""

from __future__ import annotations

import ast
import html
import importlib
import re
from pathlib import Path

import pytest

from comparisons import rosetta
from comparisons.rosetta import CONCEPTS, FRAMEWORKS, code, concept
from comparisons.rosetta.render import display_width, wrap

REPO = Path(__file__).resolve().parents[2]
ORDER = (  # the reader's order: data, net, layers, loss, gradients, updates, use, speed
    "data",
    "weights",
    "affine",
    "sigmoid",
    "softmax_loss",
    "backward",
    "sgd",
    "optimizers",
    "clipping",
    "train_step",
    "training_loop",
    "predict",
    "precision",
    "gpu",
)
BOOK_FILES = {  # chapter 1's files in oreilly-japan/deep-learning-from-scratch-2
    "dataset/spiral.py",
    "ch01/two_layer_net.py",
    "ch01/train_custom_loop.py",
    "common/layers.py",
    "common/functions.py",
    "common/optimizer.py",
    "common/util.py",
    "common/trainer.py",
    "common/base_model.py",
    "common/config.py",
    "common/np.py",
}
JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")


def test_concepts_follow_the_chapter_and_name_the_books_section_and_file():
    assert tuple(c.id for c in CONCEPTS) == ORDER
    sections = {c.id: c.section for c in CONCEPTS}
    assert sections["precision"] == "§1.5.1" and sections["gpu"] == "§1.5.2"
    assert sections["sgd"] == "§1.3.6" and sections["weights"] == "§1.4.2"
    for c in CONCEPTS:
        assert c.section.startswith("§6.1.4" if c.id == "clipping" else "§1."), c.id
        assert c.book and all(b.split()[0] in BOOK_FILES for b in c.book), c.id
        assert set(c.code) == set(FRAMEWORKS) and all(c.code.values()), c.id
        assert c.adapters and c.tests, c.id


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
    assert "データのシャッフル" in shown["data", "numpy"]  # the book's own comments
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
    code_set = set(_code_lines(CONCEPTS, ("numpy",)))
    for ln in lines:  # longer only for a whole code line, or one name (a test id)
        assert display_width(ln) <= width or ln in code_set or " " not in ln.strip(), ln


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


@pytest.mark.parametrize(
    "kwargs", [{"frameworks": ("numpy", "tf")}, {"frameworks": ()}, {"lang": "fr"}]
)
def test_a_bad_framework_or_language_is_refused(kwargs):
    with pytest.raises(ValueError):
        rosetta.render_text(**kwargs)


def test_list_names_every_id_and_title():
    every = rosetta.catalogue.ALL  # chapter 1's concepts, then chapters 2-4's
    assert every[: len(CONCEPTS)] == CONCEPTS
    for lang in ("en", "ja"):
        listing = rosetta.render_list(lang).splitlines()
        assert len(listing) == 1 + len(every)
        for c, line in zip(every, listing[1:], strict=True):
            assert line.split()[0] == c.id and c.title[lang] in line and c.section in line


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
    cells = re.findall(r"<pre><code>(.*?)</code></pre>", page, flags=re.S)
    assert [html.unescape(cell) for cell in cells] == [
        code(c, fw) for c in CONCEPTS for fw in FRAMEWORKS
    ]
    assert all("<" not in cell for cell in cells)
    whole = rosetta.render_html([concept("affine")], ("torch",), "ja", page=True)
    assert whole.startswith("<!DOCTYPE html>") and '<html lang="ja">' in whole
    assert "Affine レイヤ" in whole and "nn.Linear" in whole and "np.dot" not in whole
