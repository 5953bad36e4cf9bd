"""adapters.precision.pinned_precision: the settings inside, restored after, refused
arguments named, and safe when several threads use it at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from adapters.precision import pinned_precision
from tests.helpers import need


def torch_flags():
    """What cuBLAS, cuDNN and oneDNN are allowed (torch's fp32_precision settings, as
    read), and the legacy matmul getters (which agree with them inside a block)."""
    import torch

    backends = torch.backends
    return (
        backends.cuda.matmul.fp32_precision,
        backends.cudnn.conv.fp32_precision,
        backends.cudnn.rnn.fp32_precision,
        backends.mkldnn.matmul.fp32_precision,
        backends.cuda.matmul.allow_tf32,
        torch.get_float32_matmul_precision(),
    )


PINNED = ("ieee", "ieee", "ieee", "ieee", False, "highest")
TF32 = ("tf32", "tf32", "tf32", "tf32", True, "high")


def jax_flags():
    from adapters.precision import import_jax

    jax = import_jax()
    return jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        (("tensorflow",), {}, "framework"),
        ((None,), {}, "framework"),
        (("torch", "float8"), {}, "dtype"),
        (("jax", None), {}, "dtype"),
        (("torch", "float64"), {"tf32": True}, "tf32"),
        (("jax", "float32"), {"tf32": 1}, "tf32"),
    ],
)
def test_a_bad_argument_is_refused_by_name_before_anything_changes(args, kwargs, named):
    with pytest.raises((ValueError, TypeError), match=named):
        with pinned_precision(*args, **kwargs):
            pass


def test_numpy_needs_nothing_pinned_and_imports_neither_framework():
    code = (
        "import sys\n"
        "from adapters.precision import pinned_precision\n"
        "with pinned_precision('numpy', 'float32'):\n"
        "    pass\n"
        "assert 'torch' not in sys.modules and 'jax' not in sys.modules, sorted(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.crossframework
def test_torch_is_pinned_inside_and_restored_after():
    need("torch")
    before = torch_flags()
    with pinned_precision("torch", "float32"):
        assert torch_flags() == PINNED
        with pinned_precision("torch", "float32", tf32=True):  # nested: re-entrant
            assert torch_flags() == TF32
        assert torch_flags() == PINNED
    assert torch_flags() == before


@pytest.mark.crossframework
def test_jax_gets_x64_exactly_for_float64_and_highest_precision():
    need("jax")
    before = jax_flags()
    with pinned_precision("jax", "float64"):
        assert jax_flags() == (True, "highest")
    with pinned_precision("jax", "float32"):
        assert jax_flags() == (False, "highest")
    with pinned_precision("jax", "float32", tf32=True):
        assert jax_flags() == (False, "tensorfloat32")
    assert jax_flags() == before


@pytest.mark.crossframework
def test_two_threads_hammering_torch_never_leave_tf32_on():
    """Thread A asks for TF32, thread B for parity, 300 times each. Each must see its own
    settings inside, and afterwards the flags are as before (unlocked save/restore let
    A restore B's state and B restore A's TF32, leaving it on for the process)."""
    need("torch")
    before = torch_flags()
    wrong: list[str] = []
    start = threading.Barrier(2)

    def hammer(tf32: bool) -> None:
        start.wait()
        expected = TF32 if tf32 else PINNED
        for _ in range(300):
            with pinned_precision("torch", "float32", tf32=tf32):
                os.sched_yield()  # let the other thread run inside our context
                if torch_flags() != expected:
                    wrong.append(f"tf32={tf32} saw {torch_flags()}")

    threads = [threading.Thread(target=hammer, args=(flag,)) for flag in (True, False)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not wrong, wrong[:3]
    assert torch_flags() == before


@pytest.mark.crossframework
def test_jax_settings_are_per_thread():
    """While one thread computes in float64, another sees x64 off: JAX's config contexts
    are thread-local, so no lock is needed (and none serialises JAX work)."""
    need("jax")
    inside, other_saw = threading.Event(), []
    release = threading.Event()

    def float64_thread() -> None:
        with pinned_precision("jax", "float64"):
            inside.set()
            release.wait(10)

    def float32_thread() -> None:
        inside.wait(10)
        with pinned_precision("jax", "float32"):
            other_saw.append(jax_flags())
        other_saw.append(jax_flags())
        release.set()

    before = jax_flags()
    threads = [threading.Thread(target=f) for f in (float64_thread, float32_thread)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert other_saw == [(False, "highest"), before]
    assert jax_flags() == before
