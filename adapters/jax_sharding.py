"""Data-parallel training in JAX: a mesh of N devices, the batch sharded over them, the
parameters replicated, the gradient averaged with `jax.lax.pmean`.

The adapter's own run (jax_adapter.run_functions: the whole run in one `lax.scan`, or a
jitted step in a Python loop) is wrapped in `jax.shard_map` over a one-axis mesh
("data"): the schedule's batch axis is split into N contiguous shards, everything else is
replicated. Inside, each device computes the loss and gradient of its shard; `pmean`
over "data" is the all-reduce; the adapter's optax transformation (book clipping first,
so it applies to the all-reduced gradient) then updates the replicated parameters.

Devices. On GPUs the mesh takes the first N GPUs JAX sees. On the CPU the devices are
host devices, and their number is fixed when JAX's backend starts (1 by default;
`JAX_NUM_CPU_DEVICES` or `XLA_FLAGS=--xla_force_host_platform_device_count` set it
before). When this process has N CPU devices the run happens here; when it has fewer,
it cannot be changed without changing the caller's own JAX, so the run goes to a fresh
process started with N host devices (`python -m adapters.jax_sharding`, a JAX start-up
and a compile more) and its result comes back; this process's JAX is untouched.

Across machines: call `jax.distributed.initialize()` in each process first; `jax.devices()`
then lists every process's devices and the same mesh spans them (docs/data-parallel.md).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from adapters import data_parallel, jax_adapter
from adapters.contract import TrainInputs
from adapters.jax_adapter import jax, jnp, optax

P = jax.sharding.PartitionSpec
_RUNS: dict = {}  # (optimizer, max_grad, mode, record_every, padded, devices) -> run


def max_workers(device: str) -> tuple[int, str]:
    """Devices a mesh can have: the GPUs JAX sees; on the CPU the host devices of this
    process, or WORKERS_PER_CORE per core in a fresh one (host devices are threads of one
    process: the cores bound them, not the memory)."""
    if device.startswith("cuda"):
        try:
            return len(jax.devices("gpu")), "the GPUs JAX sees"
        except RuntimeError:
            return 0, "the GPUs JAX sees"
    here, cores = len(jax.devices("cpu")), data_parallel.cores()
    per_core, few = data_parallel.WORKERS_PER_CORE, data_parallel.FEW_WORKERS
    return max(here, few, per_core * cores), (
        f"the host devices JAX can run on this machine ({per_core} per core on {cores} "
        f"cores, at least {few}, or the {here} this process has)"
    )


def masked_loss(params: dict, xb: jax.Array, tb: jax.Array) -> jax.Array:
    """`jax_adapter.loss_fn` for a padded shard: the mean over the rows whose label is not
    -1 (the padding that evens out unequal shards, see `_padded`)."""
    valid = tb >= 0
    per_row = optax.softmax_cross_entropy_with_integer_labels(
        jax_adapter.predict(params, xb), jnp.where(valid, tb, 0)
    )  # (rows,)
    return jnp.sum(jnp.where(valid, per_row, 0)) / jnp.sum(valid)


def all_reduced(loss):
    """value_and_grad of `loss` on this device's shard, then the all-reduce: the mean of the
    shard losses and of the shard gradients over the mesh axis "data".

    The replicated parameters are first cast to "varying" (each device's own copy):
    differentiated as replicated values, their gradient would come back already summed
    over the devices (the transpose of a broadcast is a sum), and the all-reduce would be
    implicit; this way it is the explicit `pmean`, as in DDP and the NumPy reference.
    """
    value_and_grad = jax.value_and_grad(loss)

    def fn(params, xb, tb):
        mine = jax.lax.pcast(params, "data", to="varying")
        return jax.lax.pmean(value_and_grad(mine, xb, tb), "data")

    return fn


def sharded_run(spec, max_grad, mode: str, record_every: int, padded: bool, devices: tuple):
    """jax_adapter's run for these settings under `shard_map` on a mesh of `devices`."""
    key = (spec, max_grad, mode, record_every, padded, devices)
    if key in _RUNS:
        return _RUNS[key]
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    tx = jax_adapter.make_optimizer(spec, max_grad)
    loss = masked_loss if padded else jax_adapter.loss_fn
    train_step = jax_adapter.make_train_step(tx, all_reduced(loss))
    run = jax_adapter.run_functions(train_step, tx, mode, record_every)
    rep, batch = P(), P(None, "data")  # replicated; the schedule (steps, batch) split by batch
    if mode == "scan":
        _RUNS[key] = jax.jit(
            jax.shard_map(run, mesh=mesh, in_specs=(rep, rep, rep, batch), out_specs=rep)
        )
    else:
        start, step = run
        _RUNS[key] = (
            jax.jit(
                start,
                static_argnums=(1, 2),
                out_shardings=jax.sharding.NamedSharding(mesh, rep),
            ),
            jax.jit(
                jax.shard_map(step, mesh=mesh, in_specs=(*[rep] * 6, batch), out_specs=rep),
                donate_argnums=(1, 2),
            ),
        )
    return _RUNS[key]


def _padded(inputs: TrainInputs, n: int) -> tuple[TrainInputs, bool]:
    """Unequal shards made equal for `shard_map`: each shard is padded to the largest with
    a row that points at an extra sample of label -1, which `masked_loss` leaves out, so
    each device's loss is the mean over its own rows, as a DDP rank's is."""
    steps, batch = inputs.schedule.shape
    if batch % n == 0:
        return inputs, False
    edges = data_parallel.bounds(batch, n)
    width = int(np.diff(edges).max())
    pad = inputs.x.shape[0]  # the index of the extra sample
    schedule = np.full((steps, n * width), pad, dtype=inputs.schedule.dtype)
    for k in range(n):
        size = edges[k + 1] - edges[k]
        schedule[:, k * width : k * width + size] = inputs.schedule[:, edges[k] : edges[k + 1]]
    x = np.concatenate([inputs.x, np.zeros_like(inputs.x[:1])])  # (n + 1, I)
    t = np.concatenate([inputs.t, [-1]]).astype(inputs.t.dtype)  # (n + 1,)
    return dataclasses.replace(inputs, x=x, t=t, schedule=schedule), True


def train_here(net, inputs: TrainInputs, n: int, progress=None):
    """The run on a mesh of this process's first n devices of the net's kind."""
    kind = "gpu" if net.device.startswith("cuda") else "cpu"
    devices = tuple(jax.devices(kind)[:n])
    inputs, padded = _padded(inputs, n)
    run = sharded_run(
        inputs.optimizer, inputs.max_grad, inputs.mode, inputs.record_every, padded, devices
    )
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    everywhere = jax.sharding.NamedSharding(mesh, P())
    split = jax.sharding.NamedSharding(mesh, P(None, "data"))

    def put(params, x, t, schedule):
        return (
            jax.device_put(params, everywhere),
            jax.device_put(x, everywhere),
            jax.device_put(t, everywhere),
            jax.device_put(schedule, split),
        )

    if inputs.mode == "step":
        start, step = run

        def step_and_wait(carry, losses, records, i, *data):
            """One step, waited for. XLA's CPU devices meet at each all-reduce on a shared
            thread pool; with many steps queued, the pool can fill with devices waiting for
            a peer that has no thread left to arrive (and XLA aborts the process after 40 s),
            so one step at a time. (A worker process also says which step it is on.)"""
            if progress is not None:
                progress.at(0, i)
            return jax.block_until_ready(step(carry, losses, records, i, *data))

        run = (start, step_and_wait)
    elif progress is not None:
        progress.at(0, 0)  # the whole run is one program: no step to report beyond that
    return net._run(inputs, run=run, put=put)[:3]  # no gradients


def train(net, inputs: TrainInputs, n: int):
    """Run `inputs` on n devices: here when this process has them, else in a fresh process
    with n host devices (the CPU only; the net is then left at its final weights)."""
    kind = "gpu" if net.device.startswith("cuda") else "cpu"
    if len(jax.devices(kind)) >= n:
        return train_here(net, inputs, n)
    job = {"weights": net.weights(), "dtype": net.dtype, "tf32": net.tf32, "inputs": inputs}
    flags = [  # the count is ours to set there; an XLA flag inherited from here would clash
        f
        for f in os.environ.get("XLA_FLAGS", "").split()
        if not f.startswith("--xla_force_host_platform_device_count")
    ]
    env = {
        "JAX_NUM_CPU_DEVICES": str(n),
        "JAX_PLATFORMS": "cpu",
        "WORLD_SIZE": "1",
        "XLA_FLAGS": " ".join(flags),
    }
    with data_parallel.WorkerGroup("jax", __name__, {}, [env]) as group:
        losses, weights, gap = group.run(job)
    net._load({k: v[-1] for k, v in weights.items()})
    return losses, weights, gap


def start(setup: dict) -> None:
    return None


def run(state: None, job: dict, progress):
    """The fresh process: n host devices, the same mesh run as `train_here`."""
    net = jax_adapter.Net(job["weights"], dtype=job["dtype"], device="cpu", tf32=job["tf32"])
    n = len(jax.devices("cpu"))
    return train_here(net, job["inputs"], n, progress)


def stop(state: None) -> None:
    return None


if __name__ == "__main__":
    data_parallel.worker_main(start, run, stop)
