"""Weights on disk: a round trip is exact, and anything else is refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from tests.adapters.helpers import problem

W, X, T = problem(5, 4, 7, 3)


def test_round_trip_is_bit_for_bit(tmp_path):
    path = adapters.save_weights(tmp_path / "w.npz", W)
    back = adapters.load_weights(path)
    for k in W:
        np.testing.assert_array_equal(back[k], W[k])
        assert back[k].dtype == W[k].dtype


@pytest.mark.crossframework
def test_one_file_feeds_every_framework(tmp_path, framework):
    path = adapters.save_weights(tmp_path / "w.npz", W)
    net = adapters.build(framework, adapters.load_weights(path))
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, W[k])


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, W1=np.array([{"a": 1}], dtype=object), b1=W["b1"], W2=W["W2"], b2=W["b2"])
    with pytest.raises(ValueError, match="pickled"):
        adapters.load_weights(path)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"b2": None}, "exactly W1, b1, W2, b2"),
        ({"W2": np.zeros((3, 3))}, "W2"),
        ({"W1": np.full((4, 7), np.nan)}, "NaN"),
    ],
)
def test_wrong_contents_are_refused(tmp_path, change, words):
    arrays = {k: v for k, v in {**W, **change}.items() if v is not None}
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=words):
        adapters.load_weights(path)


def test_not_an_npz_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    path.write_text("W1,b1\n1,2\n")
    with pytest.raises(ValueError, match="not an .npz"):
        adapters.load_weights(path)
    with pytest.raises(ValueError, match="does not exist"):
        adapters.load_weights(tmp_path / "missing.npz")


def test_a_failed_save_keeps_the_previous_file(tmp_path):
    path = adapters.save_weights(tmp_path / "w.npz", W)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        adapters.save_weights(path, {**W, "b1": np.zeros(2)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temp file left


def test_float16_storage_as_the_book_saves_params(tmp_path, framework):
    """Stored in float16 (half the bytes), read back as float16, computed with in float32
    by every framework: only the storage rounded."""
    path = adapters.save_weights(tmp_path / "w16.npz", W, dtype="float16")
    back = adapters.load_weights(path)
    assert all(v.dtype == np.float16 for v in back.values())
    full = adapters.save_weights(tmp_path / "w64.npz", W).stat().st_size
    assert path.stat().st_size < full  # the arrays take a quarter of the bytes
    net = adapters.build(framework, back, dtype="float32")
    for k, v in net.weights().items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, back[k].astype(np.float32))
        np.testing.assert_allclose(v, W[k], rtol=2.0**-11, atol=2.0**-25)


@pytest.mark.parametrize(
    "dtype, weights, words",
    [
        ("bfloat16", W, "dtype must be one of float64, float32, float16"),
        ("float16", {**W, "W1": W["W1"] + 1e5}, "does not fit in float16"),
    ],
)
def test_a_storage_dtype_that_cannot_hold_them_is_refused(tmp_path, dtype, weights, words):
    with pytest.raises(ValueError, match=words):
        adapters.save_weights(tmp_path / "w.npz", weights, dtype=dtype)
    assert not (tmp_path / "w.npz").exists()
