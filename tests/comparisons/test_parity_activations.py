"""Which layer diverges first: named activations of a NumPy, torch or JAX model, compared
in the reference's order, and `Report.first_failure()` naming the first diverging layer.

The model is docs/own-model.md's 3-layer net, Affine-ReLU-Affine-Sigmoid-Affine, with
non-square sizes (4 inputs, 6 and 5 hidden, 3 outputs) so a missing transpose fails.
"""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from comparisons.parity import activations, compare, tap, torch_activations
from tests.comparisons.parity_helpers import SIZES, forward, inputs, params
from tests.helpers import need

LAYERS = ["affine1", "relu", "affine2", "sigmoid", "affine3"]


def test_tap_records_in_order_and_is_the_identity_outside_activations():
    w, x = params(), inputs()
    acts = activations(forward, w, x)
    assert list(acts) == LAYERS
    assert acts["affine3"].shape == (7, 3)
    np.testing.assert_array_equal(forward(w, x), acts["affine3"])  # no collector: identity


def test_the_first_diverging_layer_is_named():
    w, x = params(), inputs()
    bad = dict(w, b2=w["b2"] + np.array([0, 0, 1e-6, 0, 0]))  # layer 2 is wrong
    report = compare(activations(forward, w, x), activations(forward, bad, x))
    assert report.first_failure().name == "affine2"
    assert [e.passed for e in report.entries] == [True, True, False, False, False]
    assert "first diverging: affine2" in report.summary()
    assert report.table().splitlines()[-1] == "FAIL: 3 of 5 differ; first diverging: affine2"


def test_activations_refuses_bad_input():
    with pytest.raises(TypeError, match="fn must be callable"):
        activations(3)
    with pytest.raises(ValueError, match="recorded nothing"):
        activations(lambda x: x, 1.0)

    def twice(x):
        tap("h", x)
        return tap("h", x)

    with pytest.raises(ValueError, match="'h' recorded twice"):
        activations(twice, np.ones(2))


@pytest.mark.crossframework
def test_torch_activations_find_the_first_diverging_layer():
    need("torch")
    import torch
    from torch import nn

    class Net(nn.Module):  # declared in the order it runs
        def __init__(self) -> None:
            super().__init__()
            self.affine1 = nn.Linear(SIZES[0], SIZES[1], dtype=torch.float64)
            self.relu = nn.ReLU()
            self.affine2 = nn.Linear(SIZES[1], SIZES[2], dtype=torch.float64)
            self.sigmoid = nn.Sigmoid()
            self.affine3 = nn.Linear(SIZES[2], SIZES[3], dtype=torch.float64)

        def forward(self, x):
            return self.affine3(self.sigmoid(self.affine2(self.relu(self.affine1(x)))))

    w, x = params(), inputs()
    with torch.random.fork_rng(devices=[]):  # Linear's initial draw leaves torch's RNG alone
        net = Net()
    with torch.no_grad():
        for i in (1, 2, 3):
            layer = getattr(net, f"affine{i}")
            layer.weight.copy_(torch.from_numpy(w[f"W{i}"].T))  # (in, out) -> Linear's (out, in)
            layer.bias.copy_(torch.from_numpy(w[f"b{i}"]))
    ref = activations(forward, w, x)
    got = torch_activations(net, torch.from_numpy(x))
    assert list(got) == LAYERS
    assert compare(ref, got, names=("numpy", "torch")).passed
    with torch.no_grad():
        net.affine2.bias[3] += 1e-6
    report = compare(ref, torch_activations(net, torch.from_numpy(x)), names=("numpy", "torch"))
    assert report.first_failure().name == "affine2"
    assert "first diverging: affine2" in report.summary()
    only = torch_activations(net, torch.from_numpy(x), names=["affine3", "relu"])
    assert list(only) == ["relu", "affine3"]  # the order they ran


@pytest.mark.crossframework
def test_torch_activations_record_a_reused_module_each_time():
    need("torch")
    import torch
    from torch import nn

    relu = nn.ReLU()
    with torch.random.fork_rng(devices=[]):  # Linear's initial draw leaves torch's RNG alone
        net = nn.Sequential(nn.Linear(4, 3), relu, nn.Linear(3, 2), relu)
    got = torch_activations(net, torch.ones(2, 4))
    assert list(got) == ["0", "1", "2", "1#2"]
    assert all(isinstance(v, np.ndarray) for v in got.values())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        torch_activations(forward, torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"\['head'\] are not submodules"):
        torch_activations(net, torch.ones(2, 4), names=["head"])


@pytest.mark.crossframework
def test_jax_activations_under_jit_find_the_first_diverging_layer():
    need("jax")
    adapters.net_class("jax")  # imports jax with NumPy's global generator kept
    import jax
    import jax.numpy as jnp

    w, x = params(), inputs()
    ref = activations(forward, w, x)
    step = jax.jit(lambda w, x: forward(w, x, jnp))  # taps are the identity under jit
    with jax.enable_x64(True):
        jw = {k: jnp.asarray(v) for k, v in w.items()}
        np.testing.assert_allclose(step(jw, x), ref["affine3"], rtol=1e-12)
        got = activations(step, jw, x)  # jit is off while recording
        assert list(got) == LAYERS
        assert compare(ref, got, names=("numpy", "jax")).passed
        jw["W3"] = jw["W3"].at[4, 2].add(1e-6)
        report = compare(ref, activations(step, jw, x), names=("numpy", "jax"))
    assert report.first_failure().name == "affine3" and "first diverging: affine3" in str(report)
    with pytest.raises(ValueError, match="traced"):
        activations(jax.vmap(lambda row: tap("row", row)), x)
