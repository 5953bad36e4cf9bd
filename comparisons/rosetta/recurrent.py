"""The Rosetta's concepts of chapters 5-6 (the recurrent language models): the state
between batches, the RNN, the loss over time, the LSTM, dropout and weight tying, each with
the trap a port falls into.

Each entry holds the fields of a `catalogue.Concept`; catalogue.py makes them into
Concepts and sorts them into the one book-ordered `CONCEPTS` by their first section.
Their snippets live in `snippets/recurrent/` (the book's NumPy, idiomatic PyTorch,
idiomatic JAX, 64 columns wide), and tests/learn/test_rnnlm_snippets.py runs each against
the reference; the adapters prove the same at scale in adapters/rnnlm/, and
tests/comparisons/test_rnnlm_traps.py plants each trap and shows the harness name it.
"""

from __future__ import annotations

from typing import Any

SNIPPETS = {
    "numpy": "comparisons.rosetta.snippets.recurrent.book",
    "torch": "comparisons.rosetta.snippets.recurrent.torch_code",
    "jax": "comparisons.rosetta.snippets.recurrent.jax_code",
}
SNIPPET_TEST = "tests/learn/test_rnnlm_snippets.py"
_RNN_RUN = (
    "tests/adapters/test_rnnlm_parity.py::test_twins_agree_with_the_reference_over_the_default_run"
)
_TRAPS = "tests/comparisons/test_rnnlm_traps.py::"

CONCEPTS: tuple[dict[str, Any], ...] = (
    dict(
        id="truncated_bptt",
        title={
            "en": "Truncated BPTT: the state between batches",
            "ja": "Truncated BPTT：ミニバッチ間の隠れ状態",
        },
        section="§5.2.4, §5.2.5, §5.5.4",
        book=("common/trainer.py RnnlmTrainer.get_batch", "common/time_layers.py TimeRNN"),
        code={
            "numpy": ("get_batch", "train_rnnlm"),
            "torch": (None, "train"),
            "jax": (None, "make_train_step"),
        },
        differs={
            "en": "Each batch reads on where the last one stopped (the book's offsets and "
            "time_idx) and starts from its hidden state, but backpropagation stops at the "
            "batch's edge. torch carries the state and must detach() it, or the next "
            "backward() runs into a freed graph; in JAX the carry enters the next step as a "
            "value, so the gradient stops there by itself.",
            "ja": "各ミニバッチは前のミニバッチが読み終えたところから続きを読み（本のオフセットと "
            "time_idx）、その隠れ状態から始めますが、逆伝播はミニバッチの境界で止めます。"
            "PyTorch は状態を引き継いで detach() する必要があり、忘れると次の backward() が"
            "解放済みの計算グラフをさかのぼろうとしてエラーになります。JAX では carry が値と"
            "して次のステップに入るので、勾配はそこで自然に止まります。",
        },
        adapters=(
            "scratch.trainer.rnnlm_batches",
            "adapters.rnnlm.torch_adapter.train_step",
            "adapters.rnnlm.jax_adapter.make_train_step",
        ),
        tests=(
            "tests/scratch/test_rnnlm_trainer.py::"
            "test_batches_are_the_books_get_batch_blocks_offsets_and_time_idx",
            _TRAPS + "test_a_state_not_detached_between_batches_stops_torch_at_the_second_step",
            _TRAPS + "test_a_state_reset_every_batch_is_caught_at_the_second_steps_loss",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="rnn",
        title={"en": "The RNN layer over time", "ja": "RNN レイヤと Time RNN レイヤ"},
        section="§5.3.1, §5.3.2",
        book=("common/time_layers.py RNN", "common/time_layers.py TimeRNN"),
        code={
            "numpy": ("RNN", "time_rnn"),
            "torch": (None, "rnn_layer"),
            "jax": ("rnn_cell", "rnn_layer"),
        },
        differs={
            "en": "The book unrolls one RNN layer per time step and keeps W as (in, out). "
            "nn.RNN stores weight_ih transposed, (H, D), and adds two biases (bias_ih + "
            "bias_hh): b goes into one, the other stays 0 and frozen, or b moves twice as "
            "fast. JAX writes the cell as a function and lax.scan runs it over time.",
            "ja": "本の Time RNN レイヤは時刻ごとに RNN レイヤを1つずつ使い、W を (入力, 出力) の"
            "形で持ちます。"
            "nn.RNN は weight_ih を転置した (H, D) で保持し、バイアスを2つ（bias_ih + bias_hh）"
            "足します。b は片方に入れ、もう片方は0のまま固定します（両方を学習すると b が"
            "2倍の速さで動きます）。JAX はセルを関数で書き、lax.scan で時間方向に回します。",
        },
        adapters=(
            "adapters.rnnlm.torch_adapter.SimpleRnnlm",
            "adapters.rnnlm.jax_adapter.rnn_cell",
        ),
        tests=(
            _RNN_RUN,
            _TRAPS + "test_a_trainable_second_bias_doubles_the_bias_update_at_the_first_step",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="time_softmax_loss",
        title={"en": "The loss over N*T positions", "ja": "Time Softmax with Loss レイヤ"},
        section="§5.4.2",
        book=("common/time_layers.py TimeSoftmaxWithLoss",),
        code={
            "numpy": ("TimeSoftmaxWithLoss",),
            "torch": ("time_softmax_loss",),
            "jax": ("time_softmax_loss",),
        },
        differs={
            "en": "TimeSoftmaxWithLoss averages the cross-entropy over all N*T positions: "
            "F.cross_entropy on the (N*T, V) scores and optax's mean over (N, T) give the "
            "same number. Summing each time step's mean instead makes the loss and every "
            "gradient T times larger. No 1e-7 inside the log here, unlike chapter 1.",
            "ja": "Time Softmax with Loss レイヤは N*T 個すべての位置で交差エントロピー誤差の"
            "平均を取ります。スコアを (N*T, V) にした F.cross_entropy も、(N, T) で平均する "
            "optax も同じ値です。時刻ごとの平均を T 個足すと、損失もすべての勾配も T 倍に"
            "なります。第1章と違い、log の中に 1e-7 はありません。",
        },
        adapters=("adapters.rnnlm.torch_adapter.loss_fn", "adapters.rnnlm.jax_adapter.loss_fn"),
        tests=(
            "tests/scratch/test_time_layers.py::"
            "test_time_softmax_loss_is_the_mean_over_n_times_t_and_skips_ignored_labels",
            _TRAPS + "test_a_loss_summed_over_time_scales_every_update_by_t",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="lstm",
        title={"en": "The LSTM and its gate order", "ja": "LSTM とゲートの順序"},
        section="§6.3, §6.3.1",
        book=("common/time_layers.py LSTM", "common/time_layers.py TimeLSTM"),
        code={
            "numpy": (None, "LSTM"),
            "torch": ("book_to_torch", None, "lstm_layer"),
            "jax": ("book_to_jax", "lstm_cell", "lstm_layer"),
        },
        differs={
            "en": "The book's Wx (D, 4H) holds the gates in the order f, g, i, o; nn.LSTM, "
            "flax, Keras and cuDNN use i, f, g, o, and torch stores (4H, D), so the weight "
            "map reorders the four blocks and transposes. Loaded as it is, nothing fails: "
            "each gate just does another's job.",
            "ja": "本の Wx (D, 4H) はゲートを f, g, i, o の順に並べます。nn.LSTM、flax、"
            "Keras、cuDNN は i, f, g, o の順で、PyTorch は (4H, D) の形で保持するので、"
            "重みの対応付けでは4つのブロックを並べ替えて転置します。そのまま読み込んでも"
            "エラーにはならず、各ゲートが別のゲートの仕事をするだけです。",
        },
        adapters=(
            "adapters.rnnlm.contract.book_to_framework_gates",
            "adapters.rnnlm.torch_adapter.to_module",
            "adapters.rnnlm.jax_adapter.lstm_cell",
        ),
        tests=(
            _RNN_RUN,
            _TRAPS + "test_gates_left_in_the_books_order_are_caught_before_the_first_step",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="dropout",
        title={"en": "Dropout and its masks", "ja": "Dropout とマスク"},
        section="§6.5.2",
        book=("common/time_layers.py TimeDropout", "ch06/better_rnnlm.py BetterRnnlm"),
        code={
            "numpy": ("TimeDropout",),
            "torch": ("dropout", "dropout_with_mask"),
            "jax": ("dropout", "dropout_with_mask"),
        },
        differs={
            "en": "The book draws its masks from NumPy's generator and scales the kept "
            "elements by 1 / (1 - ratio); nn.Dropout and jax.random.bernoulli do the same "
            "with their own generators, so no two frameworks drop the same elements. The "
            "parity runs hand the reference's masks to every framework instead.",
            "ja": "本は NumPy の乱数でマスクを作り、残す要素を 1 / (1 - ratio) 倍します。"
            "nn.Dropout と jax.random.bernoulli も同じことをそれぞれの乱数で行うため、"
            "フレームワークごとに落とす要素が違います。一致の検証では、参照実装のマスクを"
            "すべてのフレームワークに渡します。",
        },
        adapters=(
            "scratch.time_layers.dropout_mask",
            "adapters.rnnlm.data.book_data",
            "adapters.rnnlm.torch_adapter.BetterRnnlm.forward",
            "adapters.rnnlm.jax_adapter.better_rnnlm",
        ),
        tests=(
            "tests/scratch/test_time_layers.py::"
            "test_time_dropout_draws_the_books_mask_from_rng_not_the_global_one",
            _RNN_RUN,
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
    dict(
        id="weight_tying",
        title={"en": "Weight tying", "ja": "重み共有（weight tying）"},
        section="§6.5.3",
        book=("ch06/better_rnnlm.py BetterRnnlm", "common/trainer.py remove_duplicate"),
        code={
            "numpy": ("tied_scores", "merge_tied_grads"),
            "torch": ("BetterRnnlm", "tied_gradient", "load_book_weights"),
            "jax": ("better_rnnlm", "tied_gradient", "from_book"),
        },
        differs={
            "en": "The book's output layer uses embed_W.T, a view, and remove_duplicate sums "
            "the two gradients before clip_grads. torch's fc.weight = embed.weight is one "
            "Parameter (Linear's (V, H) is the embedding's own layout), listed once by "
            "parameters(), so clipping counts it once; in JAX one array serves both.",
            "ja": "本の出力層は埋め込みの転置 embed_W.T（ビュー）を使い、remove_duplicate が"
            "2つの勾配を足してから clip_grads します。PyTorch の fc.weight = embed.weight は"
            "1つの Parameter で（Linear の (V, H) は埋め込みと同じ形）、parameters() にも1度"
            "だけ現れるので、勾配クリッピングでも1度だけ数えられます。JAX では1つの配列を"
            "両方で使います。",
        },
        adapters=(
            "scratch.trainer.remove_duplicate",
            "adapters.rnnlm.torch_adapter.BetterRnnlm",
            "adapters.rnnlm.jax_adapter.better_rnnlm",
        ),
        tests=(
            "tests/scratch/test_rnnlm_models.py::"
            "test_better_rnnlm_ties_the_output_layer_to_the_embedding_one_array",
            _TRAPS + "test_the_tied_weight_counted_twice_in_clipping_is_caught_at_the_first_update",
        ),
        snippets=SNIPPETS,
        snippet_test=SNIPPET_TEST,
    ),
)
