"""The Rosetta's concepts of chapters 2-4 (word vectors and word2vec): the nearest words,
the weight several layers share, the Embedding layer and negative sampling.

Each entry holds the fields of a `catalogue.Concept`; catalogue.py makes them into
Concepts and sorts them into the one book-ordered `CONCEPTS` by their first section.
Their snippets live in `snippets/word2vec/` (the book's NumPy, idiomatic PyTorch,
idiomatic JAX, 64 columns wide), and tests/learn/test_word2vec_snippets.py runs each
against the reference; the adapters prove the same at scale in adapters/word2vec/.
"""

from __future__ import annotations

from typing import Any

SNIPPETS = {
    "numpy": "comparisons.rosetta.snippets.word2vec.book",
    "torch": "comparisons.rosetta.snippets.word2vec.torch_code",
    "jax": "comparisons.rosetta.snippets.word2vec.jax_code",
}
SNIPPET_TEST = "tests/learn/test_word2vec_snippets.py"
_PARITY = "tests/adapters/test_word2vec_parity.py"

CONCEPTS: tuple[dict[str, Any], ...] = (
    dict(
        id="similarity",
        title={"en": "Cosine similarity and the nearest words", "ja": "コサイン類似度と類似単語"},
        section="§2.3.5, §2.3.6",
        book=("common/util.py cos_similarity", "common/util.py most_similar"),
        code={
            "numpy": ("cos_similarity", "most_similar"),
            "torch": (None, "most_similar"),
            "jax": (None, "most_similar"),
        },
        differs={
            "en": "The book adds eps = 1e-8 to each vector's norm; F.cosine_similarity clamps "
            "the product of the norms at 1e-8 instead, so its similarities differ by about "
            "1e-8 relative and the ranking is the same. torch's topk and JAX's lax.top_k "
            "replace the book's loop over argsort.",
            "ja": "本は各ベクトルのノルムに eps = 1e-8 を足します。F.cosine_similarity はノルム"
            "の積を 1e-8 で下から抑えるので、類似度は相対 1e-8 程度ずれますが、順位は同じです。"
            "本の argsort のループは、PyTorch の topk と JAX の lax.top_k に置き換わります。",
        },
        adapters=("comparisons.word2vec.run.nearest",),
        tests=(
            "tests/scratch/test_word2vec_util.py::test_cos_similarity_and_most_similar_print_the_books_values",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="embedding",
        title={"en": "Embedding layer", "ja": "Embedding レイヤ"},
        section="§4.1",
        book=("common/layers.py Embedding",),
        code={
            "numpy": ("Embedding",),
            "torch": ("embedding", "one_hot_matmul"),
            "jax": ("embedding", "one_hot_matmul"),
        },
        differs={
            "en": "W[ids] is one_hot(ids) @ W without the one-hot matrix: nn.Embedding keeps the "
            "book's (V, H) layout, while nn.Linear on one-hot rows stores it transposed. A "
            "repeated id must get the sum of its gradients: np.add.at in the book, autograd's "
            "scatter-add in torch and JAX (dW[ids] += dout would keep only one).",
            "ja": "W[ids] は one-hot 行列を作らずに one_hot(ids) @ W と同じ行を取り出します。"
            "nn.Embedding は重みを本と同じ (V, H) の形で持ち、one-hot 表現に掛ける nn.Linear "
            "は転置して持ちます。ミニバッチに同じ単語IDが何度も現れるときは、その勾配をすべて"
            "足す必要があります。本は np.add.at で、PyTorch と JAX は自動微分で足し合わせます"
            "（dW[ids] += dout では1つしか残りません）。",
        },
        adapters=(
            "adapters.word2vec.torch_adapter.CBOW",
            "adapters.word2vec.jax_adapter.cbow",
        ),
        tests=(
            "tests/comparisons/test_word2vec_dropped_add_at.py::test_a_fancy_index_add_is_caught_at_step_1_on_the_rows_of_repeated_ids",
            f"{_PARITY}::test_whole_runs_agree_to_1e_10_in_float64",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="shared_weights",
        title={"en": "Shared weights", "ja": "複数のレイヤで共有する重み"},
        section="§3.2.1, §4.3",
        book=(
            "common/trainer.py remove_duplicate",
            "ch03/simple_cbow.py SimpleCBOW",
            "ch04/negative_sampling_layer.py NegativeSamplingLoss",
        ),
        code={
            "numpy": ("remove_duplicate",),
            "torch": ("shared_gradient",),
            "jax": ("shared_gradient",),
        },
        differs={
            "en": "The book gives every layer its own gradient of a shared weight (W_in in each "
            "context's layer, W_out in CBOW's 1 + 5 EmbeddingDot layers) and adds them before "
            "the update (remove_duplicate). In torch one module used twice, in JAX one leaf "
            "read twice: autograd adds the gradients of every use, the same sum.",
            "ja": "本は共有する重み（コンテキストごとのレイヤの W_in、CBOW の 1 + 5 個の "
            "EmbeddingDot レイヤの W_out）の勾配をレイヤごとに持ち、更新の前に足し合わせます"
            "（remove_duplicate）。PyTorch では1つのモジュールを2回使い、JAX では1つの配列を"
            "2回読みます。自動微分がすべての使用箇所の勾配を足すので、同じ和になります。",
        },
        adapters=(
            "scratch.trainer.remove_duplicate",
            "adapters.word2vec.torch_adapter.SimpleCBOW",
        ),
        tests=(f"{_PARITY}::test_remove_duplicate_sums_what_autograd_sums_for_a_reused_weight",),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="negative_sampling",
        title={"en": "Negative sampling", "ja": "Negative Sampling（負例のサンプリング）"},
        section="§4.2",
        book=(
            "ch04/negative_sampling_layer.py UnigramSampler",
            "ch04/negative_sampling_layer.py NegativeSamplingLoss",
        ),
        code={
            "numpy": ("get_negative_sample", "negative_sampling_loss"),
            "torch": (None, "negative_sampling_loss"),
            "jax": (None, "negative_sampling_loss"),
        },
        differs={
            "en": "The book's loss adds 1e-7 inside each log; F.binary_cross_entropy_with_logits "
            "and optax.sigmoid_binary_cross_entropy work from the scores without it. The "
            "samples are drawn by the book's sampler and handed to torch and JAX: their own "
            "draws (torch.multinomial, jax.random.choice) would be other words.",
            "ja": "本の損失は各 log の中に 1e-7 を足します。F.binary_cross_entropy_with_logits と"
            " optax.sigmoid_binary_cross_entropy はスコアから直接計算し、1e-7 はありません。"
            "負例は本のサンプラーで引いて PyTorch と JAX に渡します。各フレームワークで引く"
            "（torch.multinomial、jax.random.choice）と別の単語になります。",
        },
        adapters=(
            "adapters.word2vec.data.sample_negatives",
            "adapters.word2vec.torch_adapter.negative_sampling_loss",
            "adapters.word2vec.jax_adapter.negative_sampling_loss",
        ),
        tests=(
            "tests/scratch/test_negative_sampling.py::test_samples_are_the_books_after_seeding_and_never_the_target",
            f"{_PARITY}::test_whole_runs_agree_to_1e_10_in_float64",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
)
