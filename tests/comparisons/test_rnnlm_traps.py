"""The traps of porting the book's recurrent language models, each planted in the torch
twin and caught by the harness (`comparisons.parity.record` and `compare_trajectories`)
at the first step it matters, naming the weight.

The reference is scratch's Rnnlm / BetterRnnlm in float64 on the default corpus, trained
as RnnlmTrainer trains it; the twin is adapters/rnnlm/torch_adapter.py with one thing done the
way a port gets it wrong. Without a plant the two agree to the float64 trajectory
tolerance (the first test), so every divergence below is the plant's. Where the records
prove why (comparisons/parity/hints.py), the test asserts the hint too: `permuted` for
gates read back in the book's order, `scaled` by 2 for the second bias, by T for a loss
summed over time, by the clip factor for the tied weight clipped twice.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from comparisons.parity import compare_trajectories, pinned_precision, record
from scratch import small_corpus
from scratch.better_rnnlm import BetterRnnlm
from scratch.optimizers import SGD
from scratch.rnnlm import Rnnlm
from scratch.time_layers import dropout_mask
from scratch.trainer import clip_grads, remove_duplicate, rnnlm_batches
from tests.helpers import need

pytestmark = pytest.mark.crossframework

N, T, D, H, STEPS, LR = 10, 5, 16, 24, 8, 5.0
MAX_GRAD = 0.1  # below the first gradient norm (0.25): the first update is clipped
SEED, MASK_SEED = 1984, 7


def corpus() -> tuple[np.ndarray, np.ndarray, int]:
    words = small_corpus.load_data()[0][:1000]
    return words[:-1], words[1:], int(words.max()) + 1


def schedule() -> np.ndarray:
    """(steps, N*T): each row one block of positions, RnnlmTrainer's order."""
    xs, _, _ = corpus()
    return rnnlm_batches(len(xs), N, T, STEPS).reshape(STEPS, N * T)


def initial_weights(model: str) -> dict:
    _, _, V = corpus()
    rng = np.random.RandomState(SEED)
    if model == "rnnlm":
        return Rnnlm(V, D, H, rng=rng, dtype=np.float64).weights()
    return BetterRnnlm(V, H, H, 0.5, rng=rng, dtype=np.float64).weights()


@functools.cache
def reference(model: str, max_grad: float | None):
    """The reference's run, recorded: forward, backward, remove_duplicate, clip, SGD
    (made once per model and max_grad; the tests only read it)."""
    xs, ts, V = corpus()
    w0 = initial_weights(model)
    if model == "rnnlm":
        net = Rnnlm(V, D, H, weights=w0, dtype=np.float64)
    else:
        net = BetterRnnlm(
            V, H, H, 0.5, weights=w0, rng=np.random.RandomState(MASK_SEED), dtype=np.float64
        )
    optimizer = SGD(LR)

    def step(rows):
        rows = rows.reshape(N, T)
        loss = net.forward(xs[rows], ts[rows])
        net.backward()
        params, grads = remove_duplicate(net.params, net.grads)
        if max_grad is not None:
            clip_grads(grads, max_grad)
        optimizer.update(params, grads)
        return loss

    return record(step, lambda: net.named, schedule(), framework="numpy")


def twin(model: str, max_grad: float | None, *, plant=None, step_plant=None, view=None):
    """The torch twin's run, recorded through its correct map back to the book's layout
    (`book_view`, or `view`); `plant(module)` changes the module once loaded, `step_plant`
    replaces the training step."""
    import torch

    from adapters.optimizer_spec import OptimizerSpec
    from adapters.rnnlm import torch_adapter as tr
    from adapters.rnnlm.contract import check_weights
    from adapters.torch_adapter import tiny_net_threads

    xs, ts, V = corpus()
    x, t = torch.from_numpy(xs), torch.from_numpy(ts)
    module = tr.to_module(model, check_weights(model, initial_weights(model)), "float64", "cpu")
    if plant is not None:
        plant(module)
    params = tr.trainable(module)
    optimizer = tr.make_optimizer(OptimizerSpec("sgd", LR), module)
    masks = np.random.RandomState(MASK_SEED)
    carried = {"state": tr.initial_state(module)}
    train_step = step_plant or tr.train_step

    def step(rows):
        rows = torch.from_numpy(rows.reshape(N, T))
        m = None
        if model == "better_rnnlm":  # the reference's masks, drawn in its order
            m = [
                torch.from_numpy(dropout_mask(masks, (N, T, H), 0.5, np.float64)) for _ in range(3)
            ]
        loss, carried["state"] = train_step(
            module, optimizer, params, x[rows], t[rows], carried["state"], m, max_grad
        )
        return loss

    # one intra-op thread for a net this small, as the adapters train it
    with pinned_precision("torch", "float64"), tiny_net_threads((D, 4 * H, V), N * T, "cpu"):
        weights = view or tr.book_view
        return record(step, lambda: weights(module), schedule(), framework="torch")


def test_the_twin_without_a_plant_agrees_with_the_reference():
    need("torch")
    for model, max_grad in (("rnnlm", None), ("better_rnnlm", MAX_GRAD)):
        report = compare_trajectories(reference(model, max_grad), twin(model, max_grad))
        assert report.passed, report.summary()
        assert report.steps == STEPS and report.error_curve.size == STEPS + 1


def test_gates_left_in_the_books_order_are_caught_before_the_first_step():
    """nn.LSTM loaded with the book's f, g, i, o blocks as they are (transposed, not
    reordered): read back through the right map, Wx and Wh are permuted at record 0, and
    the loss of step 0 differs (each gate does another's job). No hint can prove the
    permutation: from step 1 on the twin trains another function, so its blocks are no
    longer the reference's (the next test reads a right run back wrong: that one is)."""
    need("torch")
    import torch

    w0 = initial_weights("rnnlm")

    def book_order(module):
        with torch.no_grad():
            module.lstm.weight_ih_l0.copy_(torch.from_numpy(w0["lstm_Wx"].T))
            module.lstm.weight_hh_l0.copy_(torch.from_numpy(w0["lstm_Wh"].T))

    report = compare_trajectories(reference("rnnlm", None), twin("rnnlm", None, plant=book_order))
    assert report.first_step == 0 and report.first.step == 0
    assert report.first.weight in ("lstm_Wx", "lstm_Wh"), report.summary()
    assert report.first_loss is not None and report.first_loss.step == 0  # another function
    # the same numbers, moved: every block of H columns is another gate's
    got = twin_weights_at_start(book_order)
    assert not np.array_equal(got, w0["lstm_Wx"])
    assert sorted(got.ravel()) == sorted(w0["lstm_Wx"].ravel())


def test_gates_read_back_in_the_books_order_are_named_permuted():
    """The twin trains right, but its weights are read back without reordering the gates
    (nn.LSTM's i, f, g, o taken for the book's f, g, i, o): every record holds the
    reference's blocks in another order, and the harness says which."""
    need("torch")
    from adapters.rnnlm import torch_adapter as tr
    from adapters.rnnlm.contract import book_to_framework_gates

    def unreordered(module):  # book_view, then the gates put back in torch's order
        view = tr.book_view(module)
        return {
            k: book_to_framework_gates(v) if k.startswith("lstm_") else v for k, v in view.items()
        }

    report = compare_trajectories(reference("rnnlm", None), twin("rnnlm", None, view=unreordered))
    assert report.first_step == 0 and report.first.weight in ("lstm_Wx", "lstm_Wh")
    named = {(h.kind, h.name) for h in report.hints}
    assert {("permuted", "lstm_Wx"), ("permuted", "lstm_Wh")} <= named, report.summary()
    assert "f, g, i, o read as nn.LSTM's i, f, g, o" in report.hints[0].detail


def twin_weights_at_start(plant) -> np.ndarray:
    from adapters.rnnlm import torch_adapter as tr
    from adapters.rnnlm.contract import check_weights

    module = tr.to_module(
        "rnnlm", check_weights("rnnlm", initial_weights("rnnlm")), "float64", "cpu"
    )
    plant(module)
    return tr.from_module(module)["lstm_Wx"]


def test_a_trainable_second_bias_doubles_the_bias_update_at_the_first_step():
    """bias_ih and bias_hh both trainable: each gets b's whole gradient, so b = their sum
    moves twice as far. Only lstm_b differs after the first update, by a factor 2."""
    need("torch")
    ref = reference("rnnlm", None)
    got = twin("rnnlm", None, plant=lambda m: m.lstm.bias_hh_l0.requires_grad_(True))
    report = compare_trajectories(ref, got)
    assert report.first is not None and report.first.step == 1, report.summary()
    assert report.first.weight == "lstm_b"
    assert report.hints[0][:2] == ("scaled", "lstm_b") and "2 times" in report.hints[0].detail
    moved_ref = ref.weights["lstm_b"][1] - ref.weights["lstm_b"][0]
    moved = got.weights["lstm_b"][1] - got.weights["lstm_b"][0]
    np.testing.assert_allclose(moved, 2 * moved_ref, rtol=1e-12, atol=1e-15)
    for name in ref.weights:  # nothing else has moved apart yet
        if name != "lstm_b":
            np.testing.assert_allclose(got.weights[name][1], ref.weights[name][1], atol=1e-15)


def test_a_state_not_detached_between_batches_stops_torch_at_the_second_step():
    """The carried state still hangs on the first batch's graph, which backward() freed:
    torch refuses the second step's backward (the book's truncation made explicit)."""
    need("torch")
    from adapters.rnnlm import torch_adapter as tr

    steps = []

    def no_detach(module, optimizer, params, xs, ts, state, masks, max_grad):
        steps.append(len(steps))
        optimizer.zero_grad()
        scores, state = module(xs, state, masks)
        tr.loss_fn(scores, ts).backward()
        optimizer.step()
        return tr.loss_fn(scores, ts).detach(), state  # state still attached

    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        twin("rnnlm", None, step_plant=no_detach)
    assert steps == [0, 1]  # the first step went through; the second is where it matters


def test_a_state_reset_every_batch_is_caught_at_the_second_steps_loss():
    """The opposite mistake, silent: every batch from zeros (stateful=False). The first
    batch is the same; the second starts from another state."""
    need("torch")
    from adapters.rnnlm import torch_adapter as tr

    def reset(module, optimizer, params, xs, ts, state, masks, max_grad):
        return tr.train_step(module, optimizer, params, xs, ts, None, masks, max_grad)

    report = compare_trajectories(reference("rnnlm", None), twin("rnnlm", None, step_plant=reset))
    assert report.first_loss is not None and report.first_loss.step == 1
    assert report.first_step == 1 and report.first.step == 2, report.summary()


def test_a_loss_summed_over_time_scales_every_update_by_t():
    """Each time step's mean cross-entropy, summed over T (not averaged over N*T): every
    gradient, so every SGD update, is T times the book's."""
    need("torch")
    import torch.nn.functional as F

    from adapters.rnnlm import torch_adapter as tr

    def summed(module, optimizer, params, xs, ts, state, masks, max_grad):
        optimizer.zero_grad()
        scores, state = module(xs, state, masks)
        loss = sum(F.cross_entropy(scores[:, t], ts[:, t]) for t in range(ts.shape[1]))
        loss.backward()
        optimizer.step()
        return loss.detach() / ts.shape[1], tr.detach(state)  # reported as the mean

    ref = reference("rnnlm", None)
    got = twin("rnnlm", None, step_plant=summed)
    report = compare_trajectories(ref, got)
    assert report.first.step == 1 and report.first_loss.step == 1, report.summary()
    assert report.first.weight in ref.weights
    scaled = {h.name for h in report.hints if h.kind == "scaled"}
    assert scaled == set(ref.weights) and f"is {T} times" in report.hints[0].detail
    for name in ref.weights:
        moved_ref = ref.weights[name][1] - ref.weights[name][0]
        moved = got.weights[name][1] - got.weights[name][0]
        np.testing.assert_allclose(moved, T * moved_ref, rtol=1e-9, atol=1e-15)


def test_the_tied_weight_counted_twice_in_clipping_is_caught_at_the_first_update():
    """clip_grad_norm_ handed [embed.weight, ..., affine.weight] built by hand: the tied
    weight's gradient enters the norm twice and is scaled twice, so after the first
    (clipped) update embed_W has moved by the clip factor less than the book's, while
    every other weight is off only by the slightly larger norm."""
    need("torch")
    from torch import nn

    from adapters.rnnlm import torch_adapter as tr

    def clip_twice(module, optimizer, params, xs, ts, state, masks, max_grad):
        optimizer.zero_grad()
        scores, state = module(xs, state, masks)
        loss = tr.loss_fn(scores, ts)
        loss.backward()
        nn.utils.clip_grad_norm_([*params, module.affine.weight], max_grad)  # tied: again
        optimizer.step()
        return loss.detach(), tr.detach(state)

    ref = reference("better_rnnlm", MAX_GRAD)
    got = twin("better_rnnlm", MAX_GRAD, step_plant=clip_twice)
    report = compare_trajectories(ref, got)
    assert report.first.step == 1 and report.first.weight == "embed_W", report.summary()
    assert report.first_loss.step == 1
    assert report.hints[0][:2] == ("scaled", "embed_W")  # the most telling: the tied weight

    def ratio(name):  # the twin's first update over the reference's, where it moved
        moved_ref = ref.weights[name][1] - ref.weights[name][0]
        moved = got.weights[name][1] - got.weights[name][0]
        big = np.abs(moved_ref) > 1e-12
        return moved[big] / moved_ref[big]

    tied = ratio("embed_W")
    assert np.ptp(tied) < 1e-9 and tied[0] < 0.5  # scaled once more by the clip factor
    others = np.concatenate([ratio(name) for name in ref.weights if name != "embed_W"])
    assert np.all((others < 1) & (others > 1 - 1e-3))  # the norm, a little larger
