"""common/trainer.py's remove_duplicate: shared weights once, their gradients summed."""

from __future__ import annotations

import numpy as np

from scratch.trainer import remove_duplicate


def arrays(rng: np.random.RandomState, *shapes) -> list[np.ndarray]:
    return [rng.randn(*shape) for shape in shapes]


def test_a_weight_shared_by_several_layers_appears_once_with_the_summed_gradient():
    rng = np.random.RandomState(0)
    W_in, W_out = rng.randn(7, 3), rng.randn(7, 3)  # CBOW's layout: both (V, H)
    params = [W_in, W_in, W_in, W_out, W_out]
    grads = arrays(rng, (7, 3), (7, 3), (7, 3), (7, 3), (7, 3))
    originals = [g.copy() for g in grads]
    first_in, first_out = grads[0], grads[3]

    merged_params, merged_grads = remove_duplicate(params, grads)

    assert merged_params[0] is W_in and merged_params[1] is W_out and len(merged_params) == 2
    assert merged_grads[0] is first_in and merged_grads[1] is first_out  # summed in place
    assert np.array_equal(first_in, (originals[0] + originals[1]) + originals[2])
    assert np.array_equal(first_out, originals[3] + originals[4])
    assert len(params) == len(grads) == 5  # the model's own lists are left as they were


def test_the_sum_runs_left_to_right_as_the_books_loop_does():
    W = np.zeros(3, dtype=np.float32)
    grads = [np.full(3, v, dtype=np.float32) for v in (1.0, 1e8, -1e8)]
    _, merged = remove_duplicate([W, W, W], grads)
    assert merged[0].tolist() == [0.0, 0.0, 0.0]  # (1 + 1e8) - 1e8 in float32; 1 + 0 is 1


def test_a_weight_tied_as_its_transpose_adds_the_transposed_gradient():
    rng = np.random.RandomState(1)
    embed = rng.randn(7, 3)  # (V, H)
    affine_W = embed.T.copy()  # (H, V): another array, equal to the transpose (§6.5.3)
    b = rng.randn(7)
    g_embed, g_affine, g_b = arrays(rng, (7, 3), (3, 7), (7,))
    want = g_embed + g_affine.T

    params, grads = remove_duplicate([embed, affine_W, b], [g_embed, g_affine, g_b])

    assert [p is q for p, q in zip(params, [embed, b], strict=True)] == [True, True]
    assert np.array_equal(grads[0], want) and grads[1] is g_b


def test_a_transposed_shape_with_other_values_is_not_shared():
    rng = np.random.RandomState(2)
    W_in, W_out = rng.randn(7, 3), rng.randn(3, 7)  # SimpleCBOW: (V, H) and (H, V)
    grads = arrays(rng, (7, 3), (7, 3), (3, 7))
    originals = [g.copy() for g in grads]
    params, merged = remove_duplicate([W_in, W_in, W_out], grads)
    assert len(params) == 2 and params[1] is W_out
    assert np.array_equal(merged[0], originals[0] + originals[1])
    assert np.array_equal(merged[1], originals[2])


def test_without_shared_weights_the_lists_are_copies_with_the_same_arrays():
    rng = np.random.RandomState(3)
    params, grads = arrays(rng, (2, 4), (4,)), arrays(rng, (2, 4), (4,))
    new_params, new_grads = remove_duplicate(params, grads)
    assert new_params is not params and new_grads is not grads
    assert all(a is b for a, b in zip(new_params + new_grads, params + grads, strict=True))


class SharedTwice:
    """y = x @ W + x @ W with one W in two MatMul-like slots, drawing from rng as it runs."""

    def __init__(self, W: np.ndarray, rng: np.random.RandomState) -> None:
        self.params = [W, W]
        self.grads = [np.zeros_like(W), np.zeros_like(W)]
        self.rng, self.draws = rng, []

    def forward(self, x, t):
        self.x = x
        self.draws.append(self.rng.rand())  # a draw in the middle of an epoch
        return float(np.sum(x @ self.params[0]))

    def backward(self, dout=1):
        self.grads[0][...] = self.x.sum(axis=0)[:, None]  # d sum(x @ W) / dW
        self.grads[1][...] = self.x.sum(axis=0)[:, None]


def test_the_trainer_updates_a_shared_weight_once_with_both_gradients():
    from scratch.optimizers import SGD
    from scratch.trainer import Trainer

    x, t = np.arange(12.0).reshape(6, 2), np.zeros(6, dtype=int)
    W = np.zeros((2, 3))
    model = SharedTwice(W, np.random.RandomState(5))
    Trainer(model, SGD(lr=0.1)).fit(
        x, t, max_epoch=2, batch_size=3, rng=model.rng, eval_interval=None
    )
    # each epoch's two batches cover every row once: 2 epochs see sum(x) twice, doubled
    assert np.allclose(W, -0.1 * 2 * 2 * x.sum(axis=0)[:, None])

    book = np.random.RandomState(5)  # the book's single stream: perm, draws, perm, draws
    expected = []
    for _ in range(2):
        book.permutation(6)
        expected += [book.rand(), book.rand()]
    assert model.draws == expected
