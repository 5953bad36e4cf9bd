"""The learning view: each piece of the book's network next to its PyTorch and JAX twin.

`python -m comparisons rosetta` prints, concept by concept (data, weights, the layers,
the loss, the backward pass, the optimizers, clipping, the training step, prediction),
the reference's code and the adapters' equivalents side by side. Nothing is copied:
every column is read from the source as it is now with `inspect.getsource`, so it never
goes stale, and every concept names the tests that prove its pieces compute the same
numbers (`missing_tests()` reports any that no longer exist).

This module only reads source code; it computes nothing. A framework that is not installed
shows a one-line placeholder instead of its column.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import itertools
import re
import shutil
import textwrap
from pathlib import Path
from typing import NamedTuple

FRAMEWORKS = ("numpy", "torch", "jax")
LABELS = {"numpy": "NumPy (the book)", "torch": "PyTorch", "jax": "JAX"}
TITLE = "Rosetta: the book's network piece by piece, in NumPy, PyTorch and JAX"
INTRO = (
    "Each concept shows the reference's code and its PyTorch and JAX equivalents, read "
    "from the source as it is now; the tests named under it prove the pieces compute "
    "the same numbers."
)
REPO_ROOT = Path(__file__).resolve().parent.parent  # test ids are relative to it
_EXTRAS = {"torch": "torch", "jax": "jax", "jaxlib": "jax", "optax": "jax"}  # module -> extra
_SEPARATOR = " │ "
_MIN_COLUMN = 20  # narrower columns would be mostly continuation marks


class Concept(NamedTuple):
    """One row of the Rosetta: what a learner reads first, the code, and its proof.

    `sources` maps "numpy" / "torch" / "jax" to dotted object paths
    ("scratch.layers.Affine", "adapters.jax_adapter.predict"); `tests` are pytest node
    ids ("tests/adapters/test_trajectories.py::test_...") relative to the repository.
    """

    name: str
    summary: str
    sources: dict[str, tuple[str, ...]]
    tests: tuple[str, ...]


_PAIRS_AGREE = "tests/adapters/test_forward_gradient_parity.py::test_pairs_agree_in_float64"
_BOOKS_RUN = (
    "tests/adapters/test_trajectories.py::test_books_run_agrees_with_the_reference_in_float64"
)

CONCEPTS: tuple[Concept, ...] = (
    Concept(
        name="Data",
        summary=(
            "One spiral data set and one batch schedule, made in NumPy, feed every "
            "framework: the adapters only convert arrays (no DataLoader, no jax.random)."
        ),
        sources={
            "numpy": ("scratch.spiral.load_data", "scratch.trainer.shuffled_batches"),
            "torch": ("adapters.torch_adapter.Net._tensor",),
            "jax": ("adapters.jax_adapter.Net._array",),
        },
        tests=(
            "tests/scratch/test_spiral.py::test_default_seed_1984_equals_a_randomstate_1984",
            "tests/scratch/test_trainer.py::test_shuffled_batches_are_the_rows_the_books_loop_sees",
            "tests/adapters/test_trajectories.py::test_the_reference_trajectory_is_the_books_run",
        ),
    ),
    Concept(
        name="Weight layout and initialisation",
        summary=(
            "The book draws W = 0.01 * randn as (in, out); nn.Linear stores W as (out, in), "
            "so the torch adapter transposes; the JAX pytree keeps the book's layout."
        ),
        sources={
            "numpy": ("scratch.two_layer_net.init_weights",),
            "torch": (
                "adapters.torch_adapter.TwoLayerNet.__init__",
                "adapters.torch_adapter.book_layout",
                "adapters.torch_adapter.to_module",
            ),
            "jax": ("adapters.jax_adapter.to_module",),
        },
        tests=(
            "tests/adapters/test_forward_gradient_parity.py::test_weights_round_trip_bit_for_bit",
            "tests/scratch/test_two_layer_net.py::test_init_weights_draws_w1_then_w2_as_0_01_randn",
            "tests/adapters/test_weights_file.py::test_one_file_feeds_every_framework",
        ),
    ),
    Concept(
        name="Affine",
        summary=(
            "out = x @ W + b: nn.Linear computes x @ W.T + b on its (out, in) weight; "
            "JAX writes the book's formula on the book's layout."
        ),
        sources={
            "numpy": ("scratch.layers.Affine",),
            "torch": ("adapters.torch_adapter.TwoLayerNet",),
            "jax": ("adapters.jax_adapter.predict",),
        },
        tests=(
            _PAIRS_AGREE,
            "tests/scratch/test_layers.py::test_affine_backward_matches_numerical_gradient",
        ),
    ),
    Concept(
        name="Sigmoid",
        summary=(
            "1 / (1 + exp(-x)) with a hand-written y * (1 - y) backward; torch.sigmoid and "
            "jax.nn.sigmoid, whose derivative autodiff finds."
        ),
        sources={
            "numpy": ("scratch.functions.sigmoid", "scratch.layers.Sigmoid"),
            "torch": ("adapters.torch_adapter.Net._activations",),
            "jax": ("adapters.jax_adapter.activations",),
        },
        tests=(
            _PAIRS_AGREE,
            "tests/scratch/test_layers.py::test_sigmoid_backward_matches_numerical_gradient",
        ),
    ),
    Concept(
        name="Softmax with loss",
        summary=(
            "Softmax + cross-entropy, backward (y - t) / N; F.cross_entropy and optax's "
            "integer-label cross-entropy fuse the same, without the book's 1e-7 in the log."
        ),
        sources={
            "numpy": (
                "scratch.functions.softmax",
                "scratch.functions.cross_entropy_error",
                "scratch.layers.SoftmaxWithLoss",
            ),
            "torch": ("adapters.torch_adapter.Net._loss",),
            "jax": ("adapters.jax_adapter.loss_fn",),
        },
        tests=(
            _PAIRS_AGREE,
            "tests/adapters/test_forward_gradient_parity.py::"
            "test_book_epsilon_explains_the_loss_difference",
            "tests/scratch/test_layers.py::"
            "test_softmax_with_loss_backward_is_the_gradient_of_the_epsilon_free_loss",
        ),
    ),
    Concept(
        name="Backward pass",
        summary=(
            "The book chains each layer's hand-written backward in reverse; "
            "torch.autograd.grad and jax.grad derive the same gradients from the forward code."
        ),
        sources={
            "numpy": (
                "scratch.two_layer_net.TwoLayerNet.backward",
                "scratch.layers.Affine.backward",
                "scratch.layers.Sigmoid.backward",
                "scratch.layers.SoftmaxWithLoss.backward",
            ),
            "torch": ("adapters.torch_adapter.Net._gradients",),
            "jax": ("adapters.jax_adapter._grad", "adapters.jax_adapter.Net._gradients"),
        },
        tests=(
            _PAIRS_AGREE,
            "tests/scratch/test_two_layer_net.py::"
            "test_whole_net_gradient_matches_numerical_gradient",
        ),
    ),
    Concept(
        name="SGD update",
        summary=(
            "W <- W - lr * dW: torch.optim.SGD and optax.sgd are the book's rule as they "
            "stand (so are Momentum, and RMSprop with eps=1e-7)."
        ),
        sources={
            "numpy": ("scratch.optimizers.SGD",),
            "torch": ("adapters.torch_adapter.make_optimizer",),
            "jax": ("adapters.jax_adapter.make_optimizer",),
        },
        tests=(
            _BOOKS_RUN,
            "tests/scratch/test_optimizers.py::test_sgd_first_three_steps_by_hand",
            "tests/adapters/test_trajectories.py::"
            "test_stock_optimizers_that_are_the_books_math_agree",
        ),
    ),
    Concept(
        name="Other optimizers",
        summary=(
            "The book's Nesterov and Adam (its eps sits before the bias correction) are not "
            "torch's or optax's: each adapter carries a small one (optax needs AdaGrad too)."
        ),
        sources={
            "numpy": (
                "scratch.optimizers.Nesterov",
                "scratch.optimizers.AdaGrad",
                "scratch.optimizers.Adam",
            ),
            "torch": ("adapters.torch_adapter.BookNesterov", "adapters.torch_adapter.BookAdam"),
            "jax": (
                "adapters.jax_adapter.book_nesterov",
                "adapters.jax_adapter.book_adagrad",
                "adapters.jax_adapter.book_adam",
            ),
        },
        tests=(
            _BOOKS_RUN,
            "tests/scratch/test_optimizers.py::test_nesterov_first_three_steps_by_hand",
            "tests/scratch/test_optimizers.py::test_adam_first_three_steps_by_hand",
            "tests/adapters/test_trajectories.py::"
            "test_stock_optimizers_that_differ_from_the_book_are_caught",
        ),
    ),
    Concept(
        name="Gradient clipping",
        summary=(
            "Scale all gradients by max_norm / (norm + 1e-6) when below 1: torch's "
            "clip_grad_norm_ is exactly that; optax.clip_by_global_norm drops the 1e-6."
        ),
        sources={
            "numpy": ("scratch.trainer.clip_grads",),
            "torch": ("adapters.torch_adapter.train_step",),
            "jax": ("adapters.jax_adapter.book_clip",),
        },
        tests=(
            _BOOKS_RUN,
            "tests/scratch/test_trainer.py::"
            "test_clip_grads_rescales_in_place_to_max_norm_when_above",
        ),
    ),
    Concept(
        name="Training step",
        summary=(
            "forward, backward, clip, update: zero_grad / backward / step in torch; "
            "value_and_grad, then optax's update and apply_updates in a pure JAX function."
        ),
        sources={
            "numpy": ("adapters.numpy_adapter.train_step",),
            "torch": ("adapters.torch_adapter.train_step",),
            "jax": ("adapters.jax_adapter.make_train_step",),
        },
        tests=(
            _BOOKS_RUN,
            "tests/adapters/test_trajectories.py::test_the_reference_trajectory_is_the_books_run",
            "tests/adapters/test_trajectories.py::"
            "test_jax_scan_and_step_modes_give_the_same_trajectory",
        ),
    ),
    Concept(
        name="Prediction",
        summary=(
            "Scores before the softmax: the book's predict, the nn.Module's forward under "
            "no_grad, a jitted pure function in JAX; both pin matmul precision (no TF32)."
        ),
        sources={
            "numpy": ("scratch.two_layer_net.TwoLayerNet.predict",),
            "torch": (
                "adapters.torch_adapter.TwoLayerNet.forward",
                "adapters.torch_adapter.Net._predict",
            ),
            "jax": ("adapters.jax_adapter._predict", "adapters.jax_adapter.Net._predict"),
        },
        tests=(
            _PAIRS_AGREE,
            "tests/adapters/test_forward_gradient_parity.py::"
            "test_float32_matches_the_reference_within_the_calibrated_table",
        ),
    ),
    Concept(
        name="Bit precision (§1.5.2)",
        summary=(
            "The book computes in float32 and stores weights in float16. Every Net takes "
            "dtype float64/32/16 (bfloat16 in torch and JAX, carried in NumPy as the float32 "
            "it is); parity mode pins full-precision matmuls, and --tf32 opens the trap."
        ),
        sources={
            "numpy": ("scratch.two_layer_net.TwoLayerNet.__init__",),
            "torch": ("adapters.torch_adapter.Net._tensor", "adapters.torch_adapter.to_numpy"),
            "jax": ("adapters.jax_adapter.to_module", "adapters.jax_adapter.to_numpy"),
        },
        tests=(
            "tests/comparisons/test_precision.py::test_the_table_holds_twice_the_measured_error",
            "tests/comparisons/test_precision.py::test_round_bfloat16_is_the_rounding_torch_and_jax_do",
            "tests/adapters/test_weights_file.py::test_float16_storage_as_the_book_saves_params",
            "tests/comparisons/test_tf32.py::test_tf32_is_set_inside_the_call_and_restored_after",
        ),
    ),
    Concept(
        name="The GPU (§1.5.3)",
        summary=(
            "The book swaps NumPy for CuPy globally; here the arrays decide (CuPy arrays "
            "compute with CuPy), and device='cuda' puts the torch module or the JAX pytree "
            "on the GPU."
        ),
        sources={
            "numpy": ("scratch.xp.array_module", "adapters.numpy_adapter.to_module"),
            "torch": (
                "adapters.torch_adapter.Net.device_available",
                "adapters.torch_adapter.Net.tf32_capable",
            ),
            "jax": ("adapters.jax_adapter.jax_device", "adapters.jax_adapter.Net.tf32_capable"),
        },
        tests=(
            "tests/scratch/test_array_module.py::test_the_network_trains_unchanged_on_cupy_arrays",
            "tests/scratch/test_array_module.py::"
            "test_the_numpy_adapter_runs_the_reference_on_cuda_through_cupy",
            "tests/gpu/test_gpu.py::test_float64_on_the_gpu_matches_the_cpu_reference",
        ),
    ),
)


# --------------------------------------------------------------------------- source


def _placeholder(extra: str) -> str:
    return f"({extra} not installed: pip install 'scratch-parity[{extra}]')"


_PLACEHOLDERS = frozenset(_placeholder(extra) for extra in set(_EXTRAS.values()))


def _missing_framework(error: ImportError) -> str | None:
    """The extra to install when `error` is a framework that is not installed."""
    top = (error.name or "").split(".")[0]
    return _EXTRAS.get(top)


def _assignment_source(module, name: str) -> str | None:
    """The text of the top-level `name = ...` in `module`, or None when there is none.

    `_grad = jax.jit(jax.grad(loss_fn))` has no source of its own (getsource would
    unwrap it to `loss_fn`); the line that makes it is what a learner wants to see.
    """
    text = inspect.getsource(module)
    for node in ast.parse(text).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.get_source_segment(text, node)
    return None


def source_of(path: str) -> str:
    """The dedented source of the object at dotted `path` ("scratch.layers.Affine").

    The longest importable prefix is the module; the rest is looked up with getattr.
    A module-level name bound by an assignment (a jitted function, a constant) shows
    that assignment. When the object's framework is not installed, a one-line
    placeholder says how to install it. An unknown path raises.
    """
    parts = path.split(".")
    module, i = None, 0
    while i < len(parts) and (module is None or hasattr(module, "__path__")):
        name = ".".join(parts[: i + 1])  # packages only: a plain module has no submodules
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            extra = _missing_framework(error)
            if extra is not None:
                return _placeholder(extra)
            if module is None or error.name != name:
                raise
            break  # not a submodule: an attribute of the package
        i += 1

    obj, attrs = module, parts[i:]
    for k, attr in enumerate(attrs):
        if not hasattr(obj, attr):
            owner = ".".join(parts[: i + k])
            raise AttributeError(f"source_of: {owner} has no attribute {attr!r} ({path})")
        obj = getattr(obj, attr)
    if len(attrs) == 1:
        text = _assignment_source(module, attrs[0])
        if text is not None:
            return text
    if not attrs or inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj)):
        return textwrap.dedent(inspect.getsource(obj)).rstrip("\n")
    raise TypeError(f"source_of: {path} ({type(obj).__name__}) has no source of its own")


def _column(concept: Concept, framework: str) -> str:
    """Every source of one framework for one concept, each under a `# path` line; just
    the placeholder when the framework is not installed."""
    blocks = []
    for path in concept.sources.get(framework, ()):
        text = source_of(path)
        if text in _PLACEHOLDERS:
            return text
        blocks.append(f"# {path}\n{text}")
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------- the tests named


def _test_names(file: Path) -> set[str]:
    """`name` and `Class::name` for every test function defined in `file`."""
    names = set()
    for node in ast.parse(file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{sub.name}")
    return {n for n in names if n.rsplit("::", 1)[-1].startswith("test_")}


def missing_tests() -> list[str]:
    """The test ids named by CONCEPTS that do not exist: no such file, or no such
    `def test_...` in it (read with `ast`; the test modules are not imported)."""
    found: dict[Path, set[str]] = {}
    missing = []
    for test_id in dict.fromkeys(t for c in CONCEPTS for t in c.tests):
        file_part, _, name = test_id.partition("::")
        name = name.split("[", 1)[0]  # a parametrised id names the same function
        file = REPO_ROOT / file_part
        if file not in found:
            found[file] = _test_names(file) if file.is_file() else set()
        if name not in found[file]:
            missing.append(test_id)
    return missing


# --------------------------------------------------------------------------- terminal


def _wrap(line: str, width: int) -> list[str]:
    """`line` in pieces of at most `width` characters. A broken piece ends with '…' (at
    the last space that leaves it at least half full, else mid-word); the rest goes on
    the next line, indented two past the line's own indentation."""
    line = line.expandtabs(4).rstrip()
    indent = " " * (min(len(line) - len(line.lstrip()), width // 2) + 2)
    pieces = []
    while len(line) > width:
        cut = line.rfind(" ", width // 2, width - 1)
        if cut == -1 or not line[:cut].strip():
            pieces.append(line[: width - 1] + "…")
            line = indent + line[width - 1 :]
        else:
            pieces.append(line[:cut] + "…")
            line = indent + line[cut + 1 :]
    pieces.append(line)
    return pieces


def _check_frameworks(frameworks) -> tuple[str, ...]:
    frameworks = tuple(frameworks)
    unknown = [fw for fw in frameworks if fw not in FRAMEWORKS]
    if not frameworks or unknown or len(set(frameworks)) != len(frameworks):
        raise ValueError(
            f"frameworks must be distinct names among {', '.join(FRAMEWORKS)}, got {frameworks}"
        )
    return frameworks


def render_terminal(width: int | None = None, frameworks=FRAMEWORKS) -> str:
    """Every concept as a header (name, summary, the tests that prove it) over the
    sources in columns side by side, no line longer than `width` (the terminal's width,
    at least 120, by default). Long code lines wrap, the break marked with '…'."""
    frameworks = _check_frameworks(frameworks)
    if width is None:
        width = max(120, shutil.get_terminal_size().columns)
    n = len(frameworks)
    minimum = n * _MIN_COLUMN + (n - 1) * len(_SEPARATOR)
    if width < minimum:
        raise ValueError(f"width must be at least {minimum} for {n} columns, got {width}")
    col = (width - (n - 1) * len(_SEPARATOR)) // n

    out = [*_wrap(TITLE, width), *textwrap.wrap(INTRO, width), ""]
    for number, concept in enumerate(CONCEPTS, 1):
        out.append(f"━━ {number}. {concept.name} ".ljust(width, "━")[:width])
        out += textwrap.wrap(concept.summary, width)
        lead = "proved by: "
        for k, test_id in enumerate(concept.tests):
            prefix = lead if k == 0 else " " * len(lead)
            out += _wrap(prefix + test_id, width)
        out.append("")
        columns = [
            [piece for line in _column(concept, fw).splitlines() for piece in _wrap(line, col)]
            for fw in frameworks
        ]
        out.append(_SEPARATOR.join(LABELS[fw].ljust(col) for fw in frameworks).rstrip())
        out.append("─┼─".join("─" * col for _ in frameworks))
        for row in itertools.zip_longest(*columns, fillvalue=""):
            out.append(_SEPARATOR.join(cell.ljust(col) for cell in row).rstrip())
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- markdown, html


def _slug(name: str) -> str:
    return "rosetta-" + "-".join(name.lower().split())


def render_markdown() -> str:
    """The Rosetta as a "## Rosetta: ..." section for report.md: per concept a heading,
    the summary, the tests, and one fenced code block per framework."""
    out = [f"## {TITLE}", "", INTRO, ""]
    for number, concept in enumerate(CONCEPTS, 1):
        out += [f"### {number}. {concept.name}", "", concept.summary, "", "Proved by:", ""]
        out += [f"- `{test_id}`" for test_id in concept.tests]
        out.append("")
        for fw in FRAMEWORKS:
            code = _column(concept, fw)
            fence = "`" * max(3, 1 + max(map(len, re.findall("`+", code)), default=0))
            out += [f"**{LABELS[fw]}**", "", f"{fence}python", code, fence, ""]
    return "\n".join(out)


def render_html() -> str:
    """The Rosetta as an HTML fragment for report.html: one <section id="rosetta">, per
    concept a heading, the summary, the tests and a table whose three cells hold the
    html-escaped sources in <pre>. No external CSS or JS."""
    esc = html.escape
    out = ['<section id="rosetta">', f"<h2>{esc(TITLE)}</h2>", f"<p>{esc(INTRO)}</p>"]
    for number, concept in enumerate(CONCEPTS, 1):
        out.append(f'<h3 id="{_slug(concept.name)}">{number}. {esc(concept.name)}</h3>')
        out.append(f"<p>{esc(concept.summary)}</p>")
        items = "".join(f"<li><code>{esc(test_id)}</code></li>" for test_id in concept.tests)
        out.append(f"<p>Proved by:</p><ul>{items}</ul>")
        heads = "".join(f"<th>{esc(LABELS[fw])}</th>" for fw in FRAMEWORKS)
        cells = "".join(f"<td><pre>{esc(_column(concept, fw))}</pre></td>" for fw in FRAMEWORKS)
        out.append(
            f"<table><thead><tr>{heads}</tr></thead>"
            f'<tbody><tr style="vertical-align: top">{cells}</tr></tbody></table>'
        )
    out.append("</section>")
    return "\n".join(out)
