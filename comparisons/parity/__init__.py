"""Parity checks: do two implementations agree, and if not, where do they part?

The library to import in your own tests. Every comparison reports, for each named array,
the largest absolute and relative error, the distance in ULPs, the worst element and
both values there, against one tolerance table. NumPy only at import: torch and jax are
imported by the helpers that need them, when called.

    traj = record(step, weights, schedule, framework="torch")  # your model's run
    compare_trajectories(reference_traj, traj).summary()        # where they first part

- `tolerances`: `TOLERANCES`, `tolerance(dtype, quantity)`, `lower_precision`;
- `ulps`: `ulp_distance`;
- `comparison`: `compare`, `assert_close`, `Report`, `Entry` (`Report.first_failure()`
  is the first diverging layer when the arrays are a model's activations in order);
- `losses`: the book's loss against an epsilon-free one (`book_loss_gap`, `compare_losses`);
- `threeway`: every pair among the frameworks (`compare_all`, `ThreeWayReport`);
- `trajectories`: two training runs (`compare_trajectories`, `TrajectoryReport`: where
  they part, the phase, a table of every weight there);
- `hints`: why they part, as claims the records prove (`Hint`: another schedule, a
  transpose, a gate order, a lag, a constant factor, a few rows, a dtype);
- `recorded`: any model's training run as the adapters record theirs (`record`, its
  gradients too), to be run under `pinned_precision(framework, dtype)`
  (adapters/precision.py, re-exported here);
- `taps`: a model's named intermediate values (`torch_activations` by forward
  hooks, `tap`/`activations` for a NumPy or JAX function), to find its first diverging
  layer;
- `layout`: the same weights in every framework, in your layout (`to_torch`/`from_torch`,
  nn.Linear transposed; `to_jax`/`from_jax`, a pytree by key paths).
"""

from adapters.precision import pinned_precision
from comparisons.parity.comparison import Entry, Report, assert_close, compare
from comparisons.parity.hints import Hint
from comparisons.parity.layout import from_jax, from_torch, to_jax, to_torch
from comparisons.parity.losses import book_loss_gap, compare_losses
from comparisons.parity.recorded import record
from comparisons.parity.taps import activations, tap, torch_activations
from comparisons.parity.threeway import ThreeWayReport, compare_all
from comparisons.parity.tolerances import (
    CALIBRATION_FACTOR,
    QUANTITIES,
    TOLERANCES,
    Tolerance,
    lower_precision,
    tolerance,
)
from comparisons.parity.trajectories import (
    Divergence,
    GradientDivergence,
    LossDivergence,
    TrajectoryReport,
    compare_trajectories,
)
from comparisons.parity.ulps import ulp_distance

__all__ = [
    "CALIBRATION_FACTOR",
    "QUANTITIES",
    "TOLERANCES",
    "Divergence",
    "Entry",
    "GradientDivergence",
    "Hint",
    "LossDivergence",
    "Report",
    "ThreeWayReport",
    "Tolerance",
    "TrajectoryReport",
    "activations",
    "assert_close",
    "book_loss_gap",
    "compare",
    "compare_all",
    "compare_losses",
    "compare_trajectories",
    "from_jax",
    "from_torch",
    "lower_precision",
    "pinned_precision",
    "record",
    "tap",
    "to_jax",
    "to_torch",
    "tolerance",
    "torch_activations",
    "ulp_distance",
]
