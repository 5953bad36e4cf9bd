"""The same weights in every framework: from_torch/to_torch (nn.Linear transposed to and
from (in, out)) and from_jax/to_jax (a pytree flattened by key paths), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from comparisons.parity import from_jax, from_torch, to_jax, to_torch
from tests.comparisons.parity_helpers import SIZES, forward, inputs, params
from tests.helpers import need

TORCH_NAMES = {
    f"{p}{i}": f"affine{i}.{n}" for i in (1, 2, 3) for p, n in (("W", "weight"), ("b", "bias"))
}


def torch_net():
    """The 3-layer net's affine layers in torch, float64, at torch's own initial draw."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # Linear's initial draw leaves torch's RNG alone
        return nn.ModuleDict(
            {
                f"affine{i}": nn.Linear(SIZES[i - 1], SIZES[i], dtype=torch.float64)
                for i in (1, 2, 3)
            }
        )


@pytest.mark.crossframework
def test_torch_round_trip_is_bit_for_bit_and_computes_the_same_forward():
    need("torch")
    import torch

    w, x = params(), inputs()
    net = to_torch(torch_net(), w, names=TORCH_NAMES)
    back = from_torch(net, names=TORCH_NAMES)
    assert list(back) == list(TORCH_NAMES)
    for k in w:
        np.testing.assert_array_equal(np.asarray(back[k]), w[k])  # same shape, same bits
    np.testing.assert_array_equal(net["affine1"].weight.detach().numpy(), w["W1"].T)
    with torch.no_grad():
        h = torch.relu(net["affine1"](torch.from_numpy(x)))
        h = torch.sigmoid(net["affine2"](h))
        out = net["affine3"](h).numpy()
    np.testing.assert_allclose(out, forward(w, x), rtol=1e-12)
    own = from_torch(net)  # torch's names, your layout
    assert own["affine1.weight"].shape == (4, 6) and own["affine1.bias"].shape == (6,)
    with torch.no_grad():
        net["affine1"].weight[2, 1] = 99.0  # a view: it follows the module
    assert back["W1"][1, 2].item() == 99.0 and not back["W1"].requires_grad


@pytest.mark.crossframework
def test_torch_layout_errors_name_the_weight_and_the_layout():
    need("torch")
    w = params()
    net = torch_net()
    with pytest.raises(
        ValueError,
        match=r"weights\['W1'\] for affine1.weight: shape \(6, 4\), "
        r"expected \(4, 6\) \(an nn.Linear weight",
    ):
        to_torch(net, dict(w, W1=w["W1"].T), names=TORCH_NAMES)
    with pytest.raises(ValueError, match=r"every parameter must be named.*affine3.bias"):
        to_torch(net, w, names={k: v for k, v in TORCH_NAMES.items() if k != "b3"})
    with pytest.raises(ValueError, match=r"no parameter \['affine9.bias'\]"):
        from_torch(net, names=dict(TORCH_NAMES, b3="affine9.bias"))
    with pytest.raises(ValueError, match=r"weights: missing \['b2'\]"):
        to_torch(net, {k: v for k, v in w.items() if k != "b2"}, names=TORCH_NAMES)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        from_torch(w)


@pytest.mark.crossframework
def test_jax_round_trip_by_key_paths():
    need("jax")
    adapters.net_class("jax")  # imports jax with NumPy's global generator kept
    import jax
    import jax.numpy as jnp

    w = params()
    with jax.enable_x64(True):
        tree = {
            f"affine{i}": {"W": jnp.zeros(w[f"W{i}"].shape), "b": jnp.zeros(w[f"b{i}"].shape)}
            for i in (1, 2, 3)
        }
        names = {f"{p}{i}": f"affine{i}.{p[0]}" for i in (1, 2, 3) for p in ("W", "b")}
        got = to_jax(tree, w, names=names)
        assert got["affine2"]["W"].dtype == jnp.float64
        back = from_jax(got, names=names)
        assert set(back) == set(w) and all(np.array_equal(np.asarray(back[k]), w[k]) for k in w)
        assert back["W2"] is got["affine2"]["W"]  # the leaves as they are
        assert list(from_jax(got)) == [f"affine{i}.{p}" for i in (1, 2, 3) for p in ("W", "b")]
        as_list = [(w["W1"], w["b1"]), (w["W2"], w["b2"])]
        assert list(from_jax(as_list)) == ["0.0", "0.1", "1.0", "1.1"]
        shapes = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), tree)
        again = to_jax(shapes, w, names=names)
        assert np.array_equal(again["affine3"]["b"], w["b3"])
    with pytest.raises(ValueError, match=r"weights\['W1'\] for affine1.W: shape \(6, 4\)"):
        to_jax(tree, dict(w, W1=w["W1"].T), names=names)
    with pytest.raises(ValueError, match="every leaf must be named"):
        from_jax(tree, names={"W1": "affine1.W"})


@pytest.mark.crossframework
def test_views_taken_once_that_a_step_rebinds_away_from_are_refused_by_record():
    """`p.data = p.data - lr * grad` gives the parameter new memory: a from_torch view taken
    before it still shows the initial weights. record() says so, naming the weight, the
    parameter and the fix; in-place updates (and views taken at each record) record the
    run, the same run both ways."""
    need("torch")
    import torch

    from comparisons.parity import pinned_precision, record

    w, x = params(), torch.from_numpy(inputs())  # (8, 4)
    labels = torch.arange(x.shape[0]) % SIZES[-1]
    schedule = np.arange(12).reshape(6, 2) % x.shape[0]  # (steps, batch)

    def run(update, views_once: bool):
        net = to_torch(torch_net(), w, names=TORCH_NAMES)

        def step(rows):
            h = torch.sigmoid(net["affine2"](torch.relu(net["affine1"](x[rows]))))
            loss = torch.nn.functional.cross_entropy(net["affine3"](h), labels[rows])
            net.zero_grad()
            loss.backward()
            for p in net.parameters():
                update(p)
            return loss.detach()

        views = from_torch(net, TORCH_NAMES)
        weights = (lambda: views) if views_once else (lambda: from_torch(net, TORCH_NAMES))
        with pinned_precision("torch"):
            return record(step, weights, schedule, framework="torch", record_every=2)

    def rebind(p):
        p.data = p.data - 0.5 * p.grad  # new memory under p

    def in_place(p):
        with torch.no_grad():
            p -= 0.5 * p.grad

    with pytest.raises(ValueError) as err:
        run(rebind, views_once=True)
    text = str(err.value)
    assert "weights()['W1'] after 2 steps" in text and "parameter affine1.weight" in text
    assert "p.data = ..." in text and "lambda: from_torch(model, names)" in text
    moved = run(in_place, views_once=True)
    retaken = run(rebind, views_once=False)
    assert moved.weights["W1"].shape == (4, 4, 6)  # records after 0, 2, 4, 6 steps
    assert not np.array_equal(moved.weights["W1"][0], moved.weights["W1"][-1])
    for k in w:
        np.testing.assert_array_equal(moved.weights[k], retaken.weights[k])
