"""comparisons.rosetta: every concept is there, every source resolves to real code of its
framework, every test it names exists, and the three renderings hold that code intact."""

from __future__ import annotations

import html
import re
import sys

import pytest

from comparisons import rosetta
from comparisons.rosetta import CONCEPTS, FRAMEWORKS, Concept, source_of

REQUIRED = (  # the learner's order: data, weights, layers, loss, gradients, updates, use
    "Data",
    "Weight layout and initialisation",
    "Affine",
    "Sigmoid",
    "Softmax with loss",
    "Backward pass",
    "SGD update",
    "Other optimizers",
    "Gradient clipping",
    "Training step",
    "Prediction",
    "Bit precision (§1.5.2)",  # the book's speed-ups, last, as in the chapter
    "The GPU (§1.5.3)",
)
KEYWORDS = {"torch": ("torch", "nn.", "F."), "jax": ("jax", "optax", "jnp")}
OWN_MODULES = {
    "numpy": ("scratch.", "adapters.numpy_adapter."),
    "torch": ("adapters.torch_adapter.",),
    "jax": ("adapters.jax_adapter.",),
}


def by_name(name: str) -> Concept:
    return next(c for c in CONCEPTS if c.name == name)


def test_every_required_concept_is_present_in_order_with_a_source_per_framework():
    assert tuple(c.name for c in CONCEPTS) == REQUIRED
    for c in CONCEPTS:
        assert c.summary and "\n" not in c.summary, c.name
        assert set(c.sources) == set(FRAMEWORKS), c.name
        for fw, paths in c.sources.items():
            assert paths, f"{c.name}: no {fw} source"
            assert all(p.startswith(OWN_MODULES[fw]) for p in paths), (c.name, fw, paths)
        assert c.tests and all(re.fullmatch(r"tests/\S+\.py::test_\w+", t) for t in c.tests)


def test_numpy_sources_resolve_to_non_empty_code():
    for c in CONCEPTS:
        for path in c.sources["numpy"]:
            text = source_of(path)
            assert text.strip() and not text.startswith("("), path
            assert text == text.lstrip(), f"{path}: not dedented"


@pytest.mark.crossframework
def test_torch_and_jax_sources_resolve_to_their_frameworks_code():
    from tests.conftest import need

    need("torch", "jax")
    resolved = 0
    for c in CONCEPTS:
        for fw, words in KEYWORDS.items():
            texts = [source_of(path) for path in c.sources[fw]]
            for path, text in zip(c.sources[fw], texts, strict=True):
                assert text.strip() and "not installed" not in text, path
                assert text == text.lstrip(), f"{path}: not dedented"
                resolved += 1
            joined = "\n".join(texts)
            assert any(w in joined for w in words), f"{c.name}: no {words} in the {fw} code"
    assert resolved == sum(len(c.sources[fw]) for c in CONCEPTS for fw in KEYWORDS)


@pytest.mark.crossframework
def test_other_optimizers_show_nesterov_and_adam_in_every_framework():
    from tests.conftest import need

    need("torch", "jax")
    concept = by_name("Other optimizers")
    for fw in FRAMEWORKS:
        column = rosetta._column(concept, fw).lower()
        assert "nesterov" in column and "adam" in column, fw


@pytest.mark.crossframework
def test_a_jitted_function_shows_the_line_that_makes_it():
    from tests.conftest import need

    need("jax")
    assert source_of("adapters.jax_adapter._grad") == "_grad = jax.jit(jax.grad(loss_fn))"


def test_a_method_is_dedented_and_a_wrong_path_raises():
    assert source_of("scratch.layers.Affine.forward").startswith("def forward(self, x")
    with pytest.raises(AttributeError, match="no attribute 'Afine'"):
        source_of("scratch.layers.Afine")
    with pytest.raises(ModuleNotFoundError):
        source_of("no_such_package.thing")


@pytest.mark.parametrize(
    "module, path, extra",
    [
        ("torch", "adapters.torch_adapter.train_step", "torch"),
        ("jax", "adapters.jax_adapter.predict", "jax"),
        ("optax", "adapters.jax_adapter.loss_fn", "jax"),
    ],
)
def test_a_missing_framework_gives_a_one_line_placeholder(monkeypatch, module, path, extra):
    adapter = path.rsplit(".", 1)[0]
    monkeypatch.setitem(sys.modules, module, None)  # `import <module>` now fails
    monkeypatch.delitem(sys.modules, adapter, raising=False)
    expected = f"({extra} not installed: pip install 'scratch-parity[{extra}]')"
    assert source_of(path) == expected
    # the column shows the placeholder once, and the page still renders
    assert (
        rosetta._column(by_name("Training step" if extra == "torch" else "Prediction"), extra)
        == expected
    )
    assert f"({extra} not installed" in rosetta.render_terminal(150)  # wrapped in a column


def test_every_named_test_exists():
    assert rosetta.missing_tests() == []


def test_missing_tests_finds_a_renamed_test_and_a_missing_file(monkeypatch):
    real = "tests/scratch/test_layers.py::test_affine_backward_matches_numerical_gradient"
    renamed = "tests/scratch/test_layers.py::test_affine_backward_is_right"
    gone = "tests/scratch/test_no_such_file.py::test_anything"
    fake = Concept(
        "Affine", "one line", {"numpy": ("scratch.layers.Affine",)}, (real, renamed, gone)
    )
    monkeypatch.setattr(rosetta, "CONCEPTS", (fake,))
    assert rosetta.missing_tests() == [renamed, gone]


def test_terminal_at_width_150_fits_and_names_every_concept():
    text = rosetta.render_terminal(150)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 150
    for c in CONCEPTS:
        assert c.name in text
        assert all(t in text for t in c.tests), c.name
    # three columns of (150 - 2 * 3) // 3 = 48, the separators always in the same place
    rows = [line.ljust(150) for line in lines if " │ " in line]
    assert rows and all(row[48:51] == row[99:102] == " │ " for row in rows)


def test_terminal_wraps_long_code_lines_with_a_mark():
    text = rosetta.render_terminal(80, frameworks=("numpy", "jax"))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" in text
    labels = next(line for line in text.splitlines() if line.startswith("NumPy (the book)"))
    assert labels.split() == ["NumPy", "(the", "book)", "│", "JAX"]


def test_wrap_keeps_every_character_but_spaces_at_breaks():
    line = "        x = np.array([radius * np.sin(theta), radius * np.cos(theta)])  # (2,)"
    for width in (20, 30, 47):
        pieces = rosetta._wrap(line, width)
        assert len(pieces) > 1 and all(len(p) <= width for p in pieces)
        assert all(p.endswith("…") for p in pieces[:-1])
        kept = "".join(p.removesuffix("…") for p in pieces)
        assert kept.replace(" ", "") == line.replace(" ", "")
    assert rosetta._wrap("short", 20) == ["short"]


@pytest.mark.parametrize(
    "kwargs", [{"width": 40}, {"frameworks": ("numpy", "tf")}, {"frameworks": ()}]
)
def test_terminal_refuses_a_bad_width_or_framework(kwargs):
    with pytest.raises(ValueError):
        rosetta.render_terminal(**{"width": 150, **kwargs})


def test_html_is_one_escaped_section_holding_every_source_intact():
    page = rosetta.render_html()
    assert page.count('<section id="rosetta">') == 1 and page.count("</section>") == 1
    assert page.count("<table>") == len(CONCEPTS)
    cells = re.findall(r"<td><pre>(.*?)</pre></td>", page, flags=re.S)
    assert len(cells) == 3 * len(CONCEPTS)
    assert all("<" not in cell and ">" not in cell for cell in cells)
    assert "if rate &lt; 1:" in page  # clip_grads, escaped
    expected = [rosetta._column(c, fw) for c in CONCEPTS for fw in FRAMEWORKS]
    assert [html.unescape(cell) for cell in cells] == expected


def test_markdown_is_a_rosetta_section_holding_every_source_intact():
    text = rosetta.render_markdown()
    assert text.startswith("## Rosetta: ")
    assert text.count("\n### ") == len(CONCEPTS)
    for c in CONCEPTS:
        assert f"### {REQUIRED.index(c.name) + 1}. {c.name}" in text
        for fw in FRAMEWORKS:
            assert f"```python\n{rosetta._column(c, fw)}\n```" in text, (c.name, fw)
