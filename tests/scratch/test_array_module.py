"""The book's GPU switch (§1.5.3, common/np.py), done by the arrays: scratch code handed
CuPy arrays computes with CuPy, and NumPy arrays never see CuPy.

No GPU here: `fake_cupy` poses as CuPy and refuses every NumPy function called on its
arrays, so a single `np.dot(W, ...)` left in the layers fails these tests. On a GPU
machine comparisons/gpu_check.py runs the same code on real CuPy when it is installed.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from scratch import init_weights, optimizers
from scratch.trainer import Trainer, clip_grads
from scratch.two_layer_net import WEIGHT_NAMES, TwoLayerNet
from scratch.xp import array_module, cupy_available, to_numpy
from tests.scratch import fake_cupy


def problem(seed: int = 3):
    rng = np.random.RandomState(seed)
    weights = {k: 40 * v for k, v in init_weights(4, 7, 3, rng=rng).items()}  # lively
    weights["b1"] = rng.standard_normal(7)
    x = rng.standard_normal((60, 4))
    t = rng.randint(0, 3, 60)
    return weights, x, t


def test_numpy_arrays_get_numpy_and_cupy_is_never_imported():
    assert array_module(np.zeros(3), np.ones(2)) is np
    assert array_module() is np
    a = np.arange(3.0)
    assert to_numpy(a) is a
    if importlib.util.find_spec("cupy") is None:
        assert "cupy" not in sys.modules
        assert not cupy_available()


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_the_network_trains_unchanged_on_cupy_arrays(name):
    weights, x, t = problem()
    host = TwoLayerNet(4, 7, 3, weights=weights)
    with fake_cupy.installed() as cupy:
        gpu = TwoLayerNet(4, 7, 3, weights={k: cupy.asarray(v) for k, v in weights.items()})
        opt_host, opt_gpu = optimizers.OPTIMIZERS[name](), optimizers.OPTIMIZERS[name]()
        for step in range(5):
            rows = slice(12 * step, 12 * step + 12)
            loss_host = host.forward(x[rows], t[rows])
            loss_gpu = gpu.forward(cupy.asarray(x[rows]), cupy.asarray(t[rows]))
            host.backward()
            gpu.backward()
            clip_grads(host.grads, 0.5)
            clip_grads(gpu.grads, 0.5)
            opt_host.update(host.params, host.grads)
            opt_gpu.update(gpu.params, gpu.grads)
            assert float(loss_gpu) == float(loss_host)
        for p in gpu.params + gpu.grads:
            assert isinstance(p, cupy.ndarray), "an array fell back to the host"
        assert cupy.calls["dot"] > 0 and cupy.calls["arange"] > 0  # made by CuPy
    for k, p_host, p_gpu in zip(WEIGHT_NAMES, host.params, gpu.params, strict=True):
        assert np.array_equal(p_gpu.get(), p_host), k  # bit for bit: the same operations


def test_trainer_fit_runs_on_cupy_data():
    weights, x, t = problem()
    with fake_cupy.installed() as cupy:
        model = TwoLayerNet(4, 7, 3, weights={k: cupy.asarray(v) for k, v in weights.items()})
        trainer = Trainer(model, optimizers.SGD(lr=0.5))
        trainer.fit(
            cupy.asarray(x), cupy.asarray(t), max_epoch=2, batch_size=20,
            rng=np.random.RandomState(0), verbose=False, eval_interval=1,
        )  # fmt: skip
        assert all(isinstance(p, cupy.ndarray) for p in model.params)
    host = TwoLayerNet(4, 7, 3, weights=weights)
    host_trainer = Trainer(host, optimizers.SGD(lr=0.5))
    host_trainer.fit(
        x, t, max_epoch=2, batch_size=20, rng=np.random.RandomState(0), verbose=False,
        eval_interval=1,
    )  # fmt: skip
    assert len(trainer.loss_list) == 6 and trainer.loss_list == host_trainer.loss_list
    for p_host, p_gpu in zip(host.params, model.params, strict=True):
        assert np.array_equal(p_gpu.get(), p_host)


def test_the_numpy_adapter_runs_the_reference_on_cuda_through_cupy():
    weights, x, t = problem()
    schedule = np.random.RandomState(1).randint(0, 60, (20, 12))
    ref = adapters.build("numpy", weights)
    ref_traj = ref.train(x, t, schedule, OptimizerSpec("adam", 0.05), max_grad=1.0)
    with fake_cupy.installed() as cupy:
        net = adapters.build("numpy", weights, device="cuda")
        assert net.device == "cuda" and isinstance(net.module.params[0], cupy.ndarray)
        traj = net.train(x, t, schedule, OptimizerSpec("adam", 0.05), max_grad=1.0)
        out = {"predict": net.predict(x), **net.activations(x, t), **net.gradients(x, t)}
        assert all(type(v) is np.ndarray for v in out.values())  # NumPy out, as always
        assert net.loss(x, t) == ref.loss(x, t)
    assert np.array_equal(traj.losses, ref_traj.losses)
    assert np.array_equal(traj.loss_gap, ref_traj.loss_gap)
    for k in WEIGHT_NAMES:
        assert np.array_equal(traj.weights[k], ref_traj.weights[k]), k


def test_cuda_without_cupy_is_refused_before_any_work():
    if cupy_available():
        pytest.skip("CuPy with a GPU is installed here")
    weights, _, _ = problem()
    with pytest.raises(ValueError, match="cuda.*not available"):
        adapters.build("numpy", weights, device="cuda")


def test_a_cuda_run_keeps_the_reference_on_the_cpu_without_cupy():
    """`--device cuda` compares torch and JAX on the GPU with the float64 reference on the
    CPU when the reference cannot follow (no CuPy); with CuPy it goes to the GPU too."""
    from comparisons.run import RunConfig, precision_settings, reference_device

    assert reference_device("torch", "cuda") == "cuda"  # only numpy falls back
    if not cupy_available():
        assert reference_device("numpy", "cuda:0") == "cpu"
        settings = precision_settings(RunConfig(device="cuda"))
        assert settings["numpy device"].startswith("cpu (CuPy not installed")
    with fake_cupy.installed():
        assert reference_device("numpy", "cuda") == "cuda"
