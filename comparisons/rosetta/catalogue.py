"""The concepts of the book, in the book's order, each tied to the book.

A `Concept` names the book's sections and the file and class of the book's repository it
mirrors (oreilly-japan/deep-learning-from-scratch-2), the functions of `snippets/` that
show it in NumPy, PyTorch and JAX, one to three sentences (English and Japanese) on what
differs between the frameworks and why, and where the adapters prove the same thing at
scale: the adapter code and the tests that train whole runs (chapter 1's 3000 steps, the
later models' runs).

Chapter 1's concepts are written here; those of chapters 2-4 (word2vec.py) and 5-6
(recurrent.py) are the same fields in their own files. `CONCEPTS` holds them all, sorted
by each concept's first section (`section_key`), so a concept added for any chapter takes
its place in `--list`, the terminal card and the HTML by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from comparisons.rosetta.recurrent import CONCEPTS as RECURRENT
from comparisons.rosetta.word2vec import CONCEPTS as WORD2VEC

FRAMEWORKS = ("numpy", "torch", "jax")
LANGS = ("en", "ja")
SNIPPET_MODULES = {  # framework -> the module its snippets live in
    "numpy": "comparisons.rosetta.snippets.book",
    "torch": "comparisons.rosetta.snippets.torch_code",
    "jax": "comparisons.rosetta.snippets.jax_code",
}
LABELS = {
    "en": {"numpy": "NumPy (the book)", "torch": "PyTorch", "jax": "JAX"},
    "ja": {"numpy": "NumPy（本のコード）", "torch": "PyTorch", "jax": "JAX"},
}

_PAIRS = "tests/adapters/test_forward_gradient_parity.py::test_pairs_agree_in_float64"
_RUN = "tests/adapters/test_trajectories.py::test_books_run_agrees_with_the_reference_in_float64"

# One place in a book: "§1.2.2" or "Appendix A" of this book, "book 1 §6.1" or
# "book 1 Appendix A" of the first (ゼロから作るDeep Learning, which this book calls 前作).
_PLACE = re.compile(
    r"(?P<book1>book 1 )?(?:§(?P<section>\d+(?:\.\d+)*)|Appendix (?P<appendix>[A-Z]))"
)


@dataclass(frozen=True)
class Concept:
    """One piece of the book.

    `section` lists the places in the book, ", "-separated, in the form `_PLACE` reads
    ("§1.3.1, §1.3.5, book 1 Appendix A"); the first is this book's section that decides
    where the concept stands. `code` maps each framework to names in its snippet module
    ("Affine", "TwoLayerNet.backward"), one per step: the k-th names of the frameworks do
    the same step and are shown side by side; None leaves a framework's step empty, and a
    framework with fewer names lets its last one run on beside the others' later steps.
    `adapters` are dotted paths of the adapter code that does the same at scale; `tests`
    are pytest ids of the tests proving it over a whole run. `snippets` maps each
    framework to its snippet module and `snippet_test` is the file whose
    `test_<id>_snippets_agree_with_the_reference` runs them (chapter 1's by default; the
    later chapters' concepts, in word2vec.py and recurrent.py, have their own).
    """

    id: str
    title: dict[str, str]
    section: str
    book: tuple[str, ...]  # "file Class" in the book's repository
    code: dict[str, tuple[str | None, ...]]
    differs: dict[str, str]
    adapters: tuple[str, ...]
    tests: tuple[str, ...]
    snippets: dict[str, str] = field(default_factory=lambda: dict(SNIPPET_MODULES))
    snippet_test: str = "tests/learn/test_snippets.py"


def places(section: str) -> list[re.Match]:
    """The places of a `section` string; ValueError naming the part that is not one."""
    found = []
    for part in section.split(", "):
        match = _PLACE.fullmatch(part)
        if match is None:
            raise ValueError(
                f"section part {part!r} is not '§1.2.2', 'Appendix A', 'book 1 §6.1' or "
                f"'book 1 Appendix A' (in {section!r})"
            )
        found.append(match)
    return found


def section_key(c: Concept) -> tuple[int, ...]:
    """Where `c` stands in the book: its first place, as numbers (1.2.2 -> (1, 2, 2));
    this book's appendices after every chapter. The first place must be this book's."""
    first = places(c.section)[0]
    if first["book1"]:
        raise ValueError(f"{c.id}: the first section must be this book's, got {c.section!r}")
    if first["appendix"]:
        return (1000, ord(first["appendix"]))
    return tuple(int(n) for n in first["section"].split("."))


def section_text(section: str, lang: str) -> str:
    """The places as a reader of that language reads them: "§1.2.2, Appendix A" and
    "§6.1 of book 1"; "1.2.2節、付録A" and "前作の6.1節"."""
    out = []
    for m in places(section):
        if lang == "ja":
            here = f"{m['section']}節" if m["section"] else f"付録{m['appendix']}"
            out.append(f"前作の{here}" if m["book1"] else here)
        else:
            here = f"§{m['section']}" if m["section"] else f"Appendix {m['appendix']}"
            out.append(f"{here} of book 1" if m["book1"] else here)
    return ("、" if lang == "ja" else ", ").join(out)


CHAPTERS = {  # this book's chapter titles, as the book gives them and in English
    1: {"en": "A review of neural networks", "ja": "ニューラルネットワークの復習"},
    2: {
        "en": "Natural language and distributed representations of words",
        "ja": "自然言語と単語の分散表現",
    },
    3: {"en": "word2vec", "ja": "word2vec"},
    4: {"en": "Speeding up word2vec", "ja": "word2vecの高速化"},
    5: {"en": "Recurrent neural networks (RNN)", "ja": "リカレントニューラルネットワーク（RNN）"},
    6: {"en": "Gated RNNs", "ja": "ゲート付きRNN"},
    7: {"en": "Generating text with RNNs", "ja": "RNNによる文章生成"},
    8: {"en": "Attention", "ja": "Attention"},
}


def chapter_title(number: int, lang: str) -> str:
    """ "Chapter 4: Speeding up word2vec"; "第4章 word2vecの高速化"."""
    if lang == "ja":
        return f"第{number}章 {CHAPTERS[number]['ja']}"
    return f"Chapter {number}: {CHAPTERS[number]['en']}"


def chapters_text(concepts: Iterable[Concept], lang: str) -> str:
    """The chapters the concepts stand in, three or more in a row as a range: "chapter 1",
    "chapters 1 and 3", "chapters 1-6"; "第1章", "第1・3章", "第1〜6章"."""
    numbers = sorted({section_key(c)[0] for c in concepts if section_key(c)[0] < 1000})
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    dash = "〜" if lang == "ja" else "-"
    parts = [
        part
        for run in runs
        for part in ([f"{run[0]}{dash}{run[-1]}"] if len(run) >= 3 else map(str, run))
    ]
    if lang == "ja":
        return "第" + "・".join(parts) + "章"
    if len(parts) == 1:
        return f"chapter {parts[0]}" if len(numbers) == 1 else f"chapters {parts[0]}"
    return "chapters " + ", ".join(parts[:-1]) + f" and {parts[-1]}"


_CHAPTER_1: tuple[Concept, ...] = (
    Concept(
        id="data",
        title={"en": "The data and its mini-batches", "ja": "データとミニバッチ"},
        section="§1.4.1, §1.4.3",
        book=("dataset/spiral.py load_data", "ch01/train_custom_loop.py"),
        code={"numpy": ("load_batches",), "torch": ("load_batches",), "jax": ("load_batches",)},
        differs={
            "en": "The book shuffles with NumPy's global generator and slices; torch lets a "
            "DataLoader cut a TensorDataset, JAX stacks the batches into one array for "
            "lax.scan. Their own shuffles (shuffle=True, jax.random.permutation) draw other "
            "numbers, so for parity the book's permutation is handed in; F.cross_entropy "
            "and optax take class indices, not the book's one-hot t.",
            "ja": "本は NumPy のグローバルな乱数でシャッフルしてスライスします。PyTorch は "
            "TensorDataset を DataLoader で切り分け、JAX は lax.scan のためにミニバッチを"
            "1つの配列に積みます。各フレームワーク自身のシャッフル（shuffle=True、"
            "jax.random.permutation）は別の乱数列なので、同じ数値を得るには本の並べ替えを"
            "渡します。F.cross_entropy と optax は one-hot ではなくクラス番号を受け取ります。",
        },
        adapters=("scratch.trainer.shuffled_batches", "adapters.contract.NetBase.train"),
        tests=(
            "tests/scratch/test_trainer.py::test_shuffled_batches_are_the_rows_the_books_loop_sees",
            _RUN,
        ),
    ),
    Concept(
        id="weights",
        title={"en": "Weight layout and initialisation", "ja": "重みの形と初期化"},
        section="§1.4.2",
        book=("ch01/two_layer_net.py TwoLayerNet.__init__",),
        code={
            "numpy": ("TwoLayerNet.__init__",),
            "torch": ("two_layer_net",),
            "jax": ("init_params",),
        },
        differs={
            "en": "The book draws W = 0.01 * randn as (in, out) and computes x @ W + b. "
            "nn.Linear stores its weight as (out, in) and computes x @ W.T + b, so the "
            "book's W goes in transposed; JAX keeps the book's layout in a plain dict and "
            "draws from an explicit key (jax.random.split), never from a global seed.",
            "ja": "本は W = 0.01 * randn を (入力, 出力) の形で作り、x @ W + b を計算します。"
            "nn.Linear は重みを (出力, 入力) の形で持ち x @ W.T + b を計算するので、本の W は"
            "転置して入れます。JAX は本と同じ形のまま普通の dict に入れ、グローバルなシード"
            "ではなく明示的なキー（jax.random.split）から乱数を引きます。",
        },
        adapters=("adapters.torch_adapter.to_module", "adapters.jax_adapter.to_module"),
        tests=(
            "tests/adapters/test_forward_gradient_parity.py::test_weights_round_trip_bit_for_bit",
        ),
    ),
    Concept(
        id="affine",
        title={"en": "Affine layer", "ja": "Affine レイヤ"},
        section="§1.2.2, §1.3.5",
        book=("common/layers.py Affine",),
        code={"numpy": ("Affine",), "torch": ("affine",), "jax": ("affine",)},
        differs={
            "en": "out = x @ W + b in all three. nn.Linear holds the book's W transposed, "
            "(out, in); JAX writes the book's formula on the book's layout. The book's "
            "hand-written backward (dx = dout @ W.T, dW = x.T @ dout, db = sum of dout) is "
            "what autograd derives in torch and JAX.",
            "ja": "3つとも out = x @ W + b です。nn.Linear は本の W を転置した (出力, 入力) の"
            "形で持ち、JAX は本の式を本の形のまま書きます。本が手で書いた逆伝播"
            "（dx = dout @ W.T、dW = x.T @ dout、db = dout の和）は、PyTorch と JAX では"
            "自動微分が導きます。",
        },
        adapters=("adapters.torch_adapter.TwoLayerNet", "adapters.jax_adapter.predict"),
        tests=(
            _PAIRS,
            "tests/scratch/test_layers.py::test_affine_backward_matches_numerical_gradient",
        ),
    ),
    Concept(
        id="sigmoid",
        title={"en": "Sigmoid layer", "ja": "Sigmoid レイヤ"},
        section="§1.2.2, §1.3.5, Appendix A",
        book=("common/layers.py Sigmoid",),
        code={"numpy": ("Sigmoid",), "torch": ("sigmoid",), "jax": ("sigmoid",)},
        differs={
            "en": "The book keeps its output y and multiplies dout by y * (1 - y) on the way "
            "back (the derivative is worked out in Appendix A); torch.sigmoid and "
            "jax.nn.sigmoid give the same y, and autograd (y.backward(dout), jax.vjp) finds "
            "the same derivative from the forward code.",
            "ja": "本は出力 y を覚えておき、逆伝播で dout に y * (1 - y) を掛けます（この導関数"
            "は付録Aで導出しています）。torch.sigmoid と jax.nn.sigmoid は同じ y を返し、"
            "導関数は自動微分（y.backward(dout)、jax.vjp）が順伝播のコードから同じものを"
            "求めます。",
        },
        adapters=("adapters.torch_adapter.TwoLayerNet.forward", "adapters.jax_adapter.predict"),
        tests=(
            _PAIRS,
            "tests/scratch/test_layers.py::test_sigmoid_backward_matches_numerical_gradient",
        ),
    ),
    Concept(
        id="softmax_loss",
        title={"en": "Softmax with Loss", "ja": "Softmax with Loss レイヤ"},
        section="§1.3.1, §1.3.5, book 1 Appendix A",
        book=(
            "common/layers.py SoftmaxWithLoss",
            "common/functions.py softmax, cross_entropy_error",
        ),
        code={
            "numpy": ("softmax", "cross_entropy_error", "SoftmaxWithLoss"),
            "torch": (None, None, "softmax_with_loss"),
            "jax": (None, None, "softmax_with_loss"),
        },
        differs={
            "en": "F.cross_entropy and optax's softmax_cross_entropy_with_integer_labels fuse "
            "softmax and cross-entropy, take class indices and have no 1e-7 in the log: "
            "their loss is above the book's by mean(log(1 + 1e-7 / p)), 3.0e-7 at the "
            "first step (every p near 1/3) and 1.0e-7 to 5.9e-7 over the 3000. The gradient "
            "(y - t) / N is the same: the book's backward is the exact gradient of the loss "
            "without the 1e-7.",
            "ja": "F.cross_entropy と optax の softmax_cross_entropy_with_integer_labels は "
            "softmax と交差エントロピーを1つにまとめ、クラス番号を受け取り、log の中に 1e-7 "
            "がありません。そのため損失は本の値より mean(log(1 + 1e-7 / p)) だけ大きく、"
            "最初のステップ（どの p も 1/3 に近い）で 3.0e-7、3000ステップを通して 1.0e-7 "
            "から 5.9e-7 です。勾配 (y - t) / N は同じです。本の逆伝播は 1e-7 を含まない"
            "損失の正確な勾配だからです。",
        },
        adapters=("adapters.torch_adapter.train_step", "adapters.jax_adapter.loss_fn"),
        tests=(
            "tests/adapters/test_forward_gradient_parity.py::"
            "test_book_epsilon_explains_the_loss_difference",
            "tests/scratch/test_layers.py::"
            "test_softmax_with_loss_backward_is_the_gradient_of_the_epsilon_free_loss",
        ),
    ),
    Concept(
        id="backward",
        title={"en": "The backward pass", "ja": "逆伝播"},
        section="§1.3.4, §1.3.5, §1.4.2",
        book=("ch01/two_layer_net.py TwoLayerNet.backward",),
        code={
            "numpy": ("TwoLayerNet.backward", "gradients"),
            "torch": (None, "gradients"),
            "jax": ("loss_fn", "gradients"),
        },
        differs={
            "en": "The book calls each layer's backward in reverse and each writes into the "
            "grads list it shares with params. loss.backward() fills every p.grad from the "
            "recorded forward pass (zero_grad first: grads add up); jax.value_and_grad turns "
            "the loss function into one that also returns a dict of gradients shaped like "
            "params. torch's dW is (out, in), the book's transposed.",
            "ja": "本は各レイヤの backward を逆順に呼び、各レイヤは params と共有している "
            "grads のリストに書き込みます。loss.backward() は記録された順伝播からすべての "
            "p.grad を埋めます（勾配は足し込まれるので先に zero_grad）。"
            "jax.value_and_grad は損失関数を、params と同じ形の勾配の dict も返す関数に"
            "変えます。PyTorch の dW は (出力, 入力)、本の転置です。",
        },
        adapters=("adapters.torch_adapter.train_step", "adapters.jax_adapter.make_train_step"),
        tests=(
            _PAIRS,
            "tests/scratch/test_two_layer_net.py::test_whole_net_gradient_matches_numerical_gradient",
        ),
    ),
    Concept(
        id="sgd",
        title={"en": "SGD", "ja": "SGD（確率的勾配降下法）"},
        section="§1.3.6",
        book=("common/optimizer.py SGD",),
        code={
            "numpy": ("SGD",),
            "torch": ("make_sgd", "sgd_update"),
            "jax": ("make_sgd", "sgd_update"),
        },
        differs={
            "en": "W <- W - lr * dW everywhere, with the optimizer made once, before the "
            "loop: Momentum, AdaGrad, RMSprop and Adam keep state in it (optax: in opt_state) "
            "that a new one would reset at every step. The book and torch.optim.SGD change "
            "the arrays in place; optax returns updates that optax.apply_updates adds into "
            "a new dict, because JAX arrays never change.",
            "ja": "どれも W <- W - lr * dW です。最適化手法はループの前に1回だけ作ります。"
            "Momentum、AdaGrad、RMSprop、Adam はその中（optax では opt_state）に状態を持つので、"
            "毎ステップ作り直すと状態が消えてしまいます。本と torch.optim.SGD は配列をその場で"
            "書き換え、optax は更新量を返し、optax.apply_updates が新しい dict を作ります。"
            "JAX の配列は書き換えられないからです。",
        },
        adapters=("adapters.torch_adapter.make_optimizer", "adapters.jax_adapter.make_optimizer"),
        tests=(_RUN, "tests/scratch/test_optimizers.py::test_sgd_first_three_steps_by_hand"),
    ),
    Concept(
        id="optimizers",
        title={"en": "Momentum, AdaGrad, RMSprop, Adam", "ja": "Momentum、AdaGrad、RMSprop、Adam"},
        section="§1.3.6, book 1 §6.1",
        book=("common/optimizer.py Momentum, Nesterov, AdaGrad, RMSprop, Adam",),
        code={
            "numpy": ("Momentum", "Adam"),
            "torch": ("make_optimizer",),
            "jax": ("make_optimizer",),
        },
        differs={
            "en": "Momentum is the book's rule in torch and optax (their buffer is -v / lr), "
            "RMSprop too with eps=1e-7 outside the sqrt and decay 0.99 (optax's default: "
            "0.9), AdaGrad in torch only. The book's Adam adds 1e-7 before the bias "
            "correction, torch and optax after. Their Nesterov takes the velocity from "
            "before the step: at lr 0.1, m 0.9, g 1 its first step is -0.19, the book's "
            "-0.271 (m**2 * lr * g more).",
            "ja": "Momentum は PyTorch でも optax でも本と同じ更新です（内部の値は -v / lr）。"
            "RMSprop も eps=1e-7 を sqrt の外に置き、減衰率を本の 0.99 にすれば同じです"
            "（optax の既定は 0.9）。AdaGrad は PyTorch のみ同じです。本の Adam は 1e-7 を"
            "バイアス補正の前に足し、PyTorch と optax は補正の後に足します。両者の Nesterov "
            "は更新前の速度を使うので、lr 0.1、m 0.9、g 1 での最初のステップは -0.19、"
            "本では -0.271 です（差は m**2 * lr * g）。",
        },
        adapters=("adapters.torch_adapter.BookAdam", "adapters.jax_adapter.book_adam"),
        tests=(
            "tests/adapters/test_trajectories.py::test_stock_optimizers_that_are_the_books_math_agree",
            "tests/comparisons/test_cli.py::test_drift_rows_come_from_real_runs",
            _RUN,
        ),
    ),
    Concept(
        id="clipping",
        title={"en": "Gradient clipping", "ja": "勾配クリッピング"},
        section="§1.4.4, §6.1.4",
        book=("common/util.py clip_grads",),
        code={"numpy": ("clip_grads",), "torch": ("clip_grads",), "jax": ("clip_grads",)},
        differs={
            "en": "The Trainer of §1.4.4 takes max_grad; §6.1.4 explains it. All three scale "
            "every gradient by max_norm over the global norm when the norm is larger. "
            "torch's clip_grad_norm_ is the book's formula, 1e-6 included; "
            "optax.clip_by_global_norm divides by the norm alone, a relative difference of "
            "about 1e-6 / norm.",
            "ja": "1.4.4節の Trainer は max_grad を受け取り、6.1.4節がそれを説明します。"
            "3つとも、全勾配のノルムが max_norm を超えたら max_norm / ノルム を掛けます。"
            "PyTorch の clip_grad_norm_ は 1e-6 も含めて本と同じ式です。"
            "optax.clip_by_global_norm はノルムだけで割るので、相対的に 1e-6 / ノルム ほど"
            "違います。",
        },
        adapters=("adapters.torch_adapter.train_step", "adapters.jax_adapter.book_clip"),
        tests=(
            "tests/scratch/test_trainer.py::test_clip_grads_rescales_in_place_to_max_norm_when_above",
            _RUN,
        ),
    ),
    Concept(
        id="train_step",
        title={"en": "One training step", "ja": "学習の1ステップ"},
        section="§1.4.3, §1.4.4",
        book=("common/trainer.py Trainer.fit", "ch01/train_custom_loop.py"),
        code={"numpy": ("train_step",), "torch": ("train_step",), "jax": ("make_train_step",)},
        differs={
            "en": "Forward, backward, clip, update in all three. torch needs "
            "optimizer.zero_grad() because .grad accumulates; JAX's step is a pure function "
            "(parameters and optimizer state in, new ones out), which is what lets jax.jit "
            "compile it.",
            "ja": "3つとも順伝播、逆伝播、クリッピング、更新の順です。PyTorch は .grad が"
            "足し込まれるので optimizer.zero_grad() が必要です。JAX の1ステップは純粋関数"
            "（パラメータと最適化手法の状態を受け取り、新しいものを返す）で、だからこそ "
            "jax.jit でコンパイルできます。",
        },
        adapters=("adapters.torch_adapter.train_step", "adapters.jax_adapter.make_train_step"),
        tests=(
            _RUN,
            "tests/adapters/test_trajectories.py::test_the_reference_trajectory_is_the_books_run",
        ),
    ),
    Concept(
        id="training_loop",
        title={"en": "The whole training loop", "ja": "学習ループ全体"},
        section="§1.4.3",
        book=("ch01/train_custom_loop.py",),
        code={"numpy": ("train",), "torch": ("train",), "jax": ("train",)},
        differs={
            "en": "The book reshuffles every epoch and averages the loss every 10 iterations; "
            "torch iterates a DataLoader; JAX runs all steps in one lax.scan, compiled once, "
            "with no Python between steps. Fed the same batches, all three follow the same "
            "trajectory: the adapters' 3000-step runs agree within 1e-10 in float64.",
            "ja": "本はエポックごとにシャッフルし、10イテレーションごとに損失の平均を取ります。"
            "PyTorch は DataLoader を回し、JAX は全ステップを1つの lax.scan で実行します"
            "（1回だけコンパイルされ、ステップの間に Python が入りません）。同じミニバッチを"
            "与えれば3つは同じ軌跡をたどり、アダプタの3000ステップの学習は float64 で "
            "1e-10 以内で一致します。",
        },
        adapters=("adapters.jax_adapter.compiled_run", "adapters.torch_adapter.Net"),
        tests=(
            _RUN,
            "tests/adapters/test_trajectories.py::test_jax_scan_and_step_modes_give_the_same_trajectory",
        ),
    ),
    Concept(
        id="predict",
        title={"en": "Prediction and accuracy", "ja": "推論と正解率"},
        section="§1.2.2, §1.4.3",
        book=("ch01/two_layer_net.py TwoLayerNet.predict", "ch01/train_custom_loop.py"),
        code={
            "numpy": ("TwoLayerNet.predict", "accuracy"),
            "torch": (None, "accuracy"),
            "jax": ("predict", "accuracy"),
        },
        differs={
            "en": "Scores before the softmax; argmax picks the class (a softmax would not "
            "change it). torch calls the model under torch.no_grad() so that no graph is "
            "recorded; in JAX it is a pure function of params and x. The book's t is one-hot, "
            "the frameworks' t holds class indices.",
            "ja": "softmax の前のスコアを返し、argmax でクラスを選びます（softmax を通しても"
            "結果は変わりません）。PyTorch は torch.no_grad() の下でモデルを呼び、計算グラフを"
            "記録しません。JAX では params と x の純粋関数です。本の t は one-hot、"
            "フレームワークの t はクラス番号です。",
        },
        adapters=("adapters.torch_adapter.TwoLayerNet.forward", "adapters.jax_adapter.predict"),
        tests=(
            _PAIRS,
            "tests/scratch/test_book_reproduction.py::test_trained_net_classifies_97_percent_of_the_spiral",
        ),
    ),
    Concept(
        id="precision",
        title={"en": "Bit precision", "ja": "ビット精度"},
        section="§1.5.1",
        book=("common/base_model.py BaseModel.save_params",),
        code={"numpy": ("half_storage",), "torch": ("half_storage",), "jax": ("half_storage",)},
        differs={
            "en": "NumPy computes in float64 by default, torch and JAX in float32; JAX makes "
            "no float64 array at all unless jax_enable_x64 is on. Storing float32 weights in "
            "float16 and back is bit-identical in all three. On Ampere and newer GPUs float32 "
            "matmuls may use TF32 (torch's allow_tf32, JAX's default precision); parity pins "
            "full float32.",
            "ja": "NumPy の既定は float64、PyTorch と JAX は float32 です。JAX は "
            "jax_enable_x64 を有効にしない限り float64 の配列を作りません。float32 の重みを "
            "float16 で保存して戻す往復は、3つともビット単位で同じです。Ampere 以降の GPU では"
            " float32 の行列積に TF32 が使われることがあります（PyTorch の allow_tf32、JAX の"
            "既定の精度）。一致の検証では完全な float32 に固定します。",
        },
        adapters=(
            "adapters.precision.pinned_precision",
            "adapters.torch_adapter.Net.tf32_capable",
        ),
        tests=(
            "tests/adapters/test_weights_file.py::test_float16_storage_as_the_book_saves_params",
            "tests/comparisons/test_tf32.py::test_tf32_is_set_inside_the_call_and_restored_after",
        ),
    ),
    Concept(
        id="gpu",
        title={"en": "The GPU (CuPy)", "ja": "GPU（CuPy）"},
        section="§1.5.2",
        book=("common/config.py GPU", "common/np.py"),
        code={"numpy": ("to_device",), "torch": ("to_device",), "jax": ("to_device",)},
        differs={
            "en": "The book switches the whole program to CuPy (GPU = True makes common/np.py "
            "import cupy as np). torch moves the model and every batch with .to(device) and "
            "refuses to mix devices; JAX puts new arrays on its default device, the GPU when "
            "there is one, and jax.device_put moves a whole pytree.",
            "ja": "本は GPU = True でプログラム全体を CuPy に切り替えます（common/np.py が "
            "import cupy as np する）。PyTorch はモデルとすべてのミニバッチを .to(device) で"
            "移し、デバイスの混在を許しません。JAX は新しい配列を既定のデバイス（あれば GPU）"
            "に置き、jax.device_put で pytree ごと移します。",
        },
        adapters=("adapters.torch_adapter.Net.device_available", "adapters.jax_adapter.jax_device"),
        tests=(
            "tests/scratch/test_array_module.py::test_the_network_trains_unchanged_on_cupy_arrays",
            "tests/gpu/test_gpu.py::test_float64_on_the_gpu_matches_the_cpu_reference",
        ),
    ),
)

_LATER = tuple(Concept(**fields) for fields in WORD2VEC + RECURRENT)  # chapters 2-4, 5-6
# the book's order; sorted() keeps the written order where two share a first section
CONCEPTS: tuple[Concept, ...] = tuple(sorted(_CHAPTER_1 + _LATER, key=section_key))
IDS = tuple(c.id for c in CONCEPTS)


def concept(concept_id: str) -> Concept:
    """The concept with this id; ValueError naming the known ids otherwise."""
    for c in CONCEPTS:
        if c.id == concept_id:
            return c
    raise ValueError(f"unknown concept {concept_id!r} (choose from {', '.join(IDS)})")
