"""dataset/spiral.py: shapes, layout, geometry, seeding, and no global side effects."""

from __future__ import annotations

import numpy as np

from scratch import spiral
from tests.scratch.helpers import same_rng_state


def test_shapes_and_dtypes():
    x, t = spiral.load_data()
    assert x.shape == (300, 2) and x.dtype == np.float64
    assert t.shape == (300, 3) and np.issubdtype(t.dtype, np.integer)
    assert set(np.unique(t).tolist()) == {0, 1}
    assert np.all(t.sum(axis=1) == 1)  # one-hot


def test_rows_are_grouped_by_class():
    _, t = spiral.load_data()
    assert np.array_equal(t.argmax(axis=1), np.repeat([0, 1, 2], 100))


def test_radius_of_point_i_in_each_class_is_i_over_100():
    x, _ = spiral.load_data()
    radius = np.hypot(x[:, 0], x[:, 1]).reshape(3, 100)  # (class, i)
    for j in range(3):
        np.testing.assert_allclose(radius[j], np.arange(100) / 100, rtol=0, atol=1e-15)


def test_angle_is_the_arm_plus_one_normal_draw_per_point_in_row_order():
    x, _ = spiral.load_data(rng=np.random.RandomState(11))
    draws = np.random.RandomState(11).standard_normal(300)  # (300,), one per point
    j, i = np.divmod(np.arange(300), 100)
    theta = j * 4.0 + 4.0 * (i / 100) + 0.2 * draws
    angle = np.arctan2(x[:, 0], x[:, 1])  # x = (r sin theta, r cos theta)
    wrapped = np.angle(np.exp(1j * (angle - theta)))  # difference modulo 2 pi
    np.testing.assert_allclose(wrapped[i > 0], 0.0, atol=1e-12)  # radius 0 has no angle


def test_default_seed_1984_equals_a_randomstate_1984():
    x, t = spiral.load_data()
    x_rng, t_rng = spiral.load_data(rng=np.random.RandomState(1984))
    assert np.array_equal(x, x_rng) and np.array_equal(t, t_rng)
    x_seed, _ = spiral.load_data(seed=5)
    assert np.array_equal(x_seed, spiral.load_data(rng=np.random.RandomState(5))[0])
    assert not np.array_equal(x_seed, x)


def test_same_seed_twice_gives_identical_data():
    (x1, t1), (x2, t2) = spiral.load_data(seed=7), spiral.load_data(seed=7)
    assert np.array_equal(x1, x2) and np.array_equal(t1, t2)


def test_load_data_leaves_numpys_global_random_state_alone():
    before = np.random.get_state()
    spiral.load_data()
    spiral.load_data(seed=3)
    assert same_rng_state(before, np.random.get_state())
