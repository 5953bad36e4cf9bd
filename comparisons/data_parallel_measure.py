"""Measure data-parallel training: `python -m comparisons.data_parallel_measure [--quick]`.

1. Agreement: the book's 3000 steps (SGD lr 1.0, and Adam) in float64 with each batch split
   over N = 2 and 3 workers, in every framework and mode: the final max |dW| against the
   reference in one process.
2. Time: seconds per step with N = 1 and N = 2 at the book's size (hidden 10, batch 30)
   and the benchmark's medium size (hidden 1000, batch 1024), and the communication share:
   the time of one all-reduce of the gradient (gloo between two processes for torch, a
   `pmean` over two host devices for JAX) over the time of one data-parallel step. The
   torch ranks are started before timing (`torch_ddp.ranks`), so the times are per step,
   not per process start. NumPy's workers take turns in one process (the reference is
   for following the arithmetic, not for speed).

A script, not a test: it takes minutes. It sets JAX_NUM_CPU_DEVICES=3 for itself before
JAX starts, so JAX's mesh runs in this process.
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "3")  # before anything imports jax

import argparse  # noqa: E402
import contextlib  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

import numpy as np  # noqa: E402

import adapters  # noqa: E402
from adapters import OptimizerSpec, torch_ddp  # noqa: E402
from comparisons.bench import SIZES, make_problem  # noqa: E402
from comparisons.run import RunConfig, book_data  # noqa: E402

RUNS = [("numpy", "eager"), ("torch", "eager"), ("jax", "scan"), ("jax", "step")]


def agreement(steps_epochs: int = 300) -> list[tuple]:
    x, t, w, schedule = book_data(RunConfig(epochs=steps_epochs))
    rows = []
    for spec in (OptimizerSpec("sgd", 1.0), OptimizerSpec("adam", 0.01)):
        ref = adapters.build("numpy", w).train(x, t, schedule, spec, record_every=100)
        for n in (2, 3):
            with torch_ddp.ranks(n):
                for framework, mode in RUNS:
                    net = adapters.build(framework, w)
                    other = net.train(
                        x, t, schedule, spec, mode=mode, record_every=100, data_parallel=n
                    )
                    dw = max(np.abs(ref.weights[k][-1] - other.weights[k][-1]).max() for k in w)
                    gap = 0.0 if other.loss_gap is None else other.loss_gap  # epsilon-free
                    dl = np.abs((ref.losses + ref.loss_gap) - (other.losses + gap)).max()
                    rows.append((spec.name, n, f"{framework}/{mode}", dw, dl))
    return rows


def per_step(
    problem, framework: str, mode: str, n: int, repeats: int, dtype: str = "float64"
) -> float:
    """Best seconds per step over `repeats` runs (after one warm-up run: compiles)."""
    spec = OptimizerSpec("sgd", problem.size.lr)
    best = float("inf")
    for _ in range(repeats + 1):
        net = adapters.build(framework, problem.weights, dtype=dtype)
        traj = net.train(
            problem.x, problem.t, problem.schedule, spec, mode=mode,
            record_every=problem.record_every, data_parallel=n,
        )  # fmt: skip
        best = min(best, traj.seconds / traj.steps)
    return best


def _gloo_allreduce(
    rank: int, world: int, size: int, calls: int, port: int, out, dtype: str = "float64"
) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    buf = torch.ones(size, dtype=getattr(torch, dtype))
    for _ in range(20):
        dist.all_reduce(buf)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(calls):
        dist.all_reduce(buf)
    if rank == 0:
        out.value = (time.perf_counter() - start) / calls
    dist.destroy_process_group()


def torch_allreduce_seconds(size: int, calls: int = 2000, dtype: str = "float64") -> float:
    """Two gloo processes time `calls` all-reduces of `size` elements of `dtype`. They
    start with SIGINT blocked (a mask survives the start of a process), so that Ctrl-C stops
    this process alone, with one line, and it ends them: no traceback of theirs."""
    import torch.multiprocessing as mp

    from adapters import data_parallel

    ctx = mp.get_context("spawn")
    out = ctx.Value("d", 0.0)
    port = data_parallel.free_port()
    procs = [
        ctx.Process(target=_gloo_allreduce, args=(r, 2, size, calls, port, out, dtype))
        for r in range(2)
    ]
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for p in procs:
                p.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for p in procs:
            p.join(120)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    return out.value


def jax_pmean_seconds(size: int, calls: int = 2000, dtype: str = "float64") -> float:
    """One `pmean` of `size` numbers of `dtype` over 2 host devices, inside one program (a
    scan of `calls` of them), as the data-parallel step does it."""
    import jax
    import jax.numpy as jnp

    mesh = jax.sharding.Mesh(np.array(jax.devices("cpu")[:2]), ("data",))
    P = jax.sharding.PartitionSpec

    def many(v):  # (size,) on each device
        def body(c, _):
            mean = jax.lax.pmean(c, "data") * 1.0000001  # a new value every time
            return jax.lax.pcast(mean, "data", to="varying"), None

        return jax.lax.scan(body, v, None, length=calls)[0]

    with jax.enable_x64(dtype == "float64"):
        f = jax.jit(jax.shard_map(many, mesh=mesh, in_specs=P("data"), out_specs=P("data")))
        v = jax.device_put(
            jnp.ones(2 * size, getattr(jnp, dtype)), jax.sharding.NamedSharding(mesh, P("data"))
        )
        jax.block_until_ready(f(v))
        start = time.perf_counter()
        jax.block_until_ready(f(v))
        return (time.perf_counter() - start) / calls


def timing(
    quick: bool = False,
    steps: int | None = None,
    sizes: tuple[str, ...] = ("book", "medium"),
    frameworks: tuple[str, ...] = ("numpy", "torch", "jax"),
    dtypes: tuple[str, ...] = ("float64",),
    repeats: int | None = None,
) -> list[tuple]:
    """(size, dtype, framework/mode, seconds a step with N=1, with N=2, one all-reduce,
    its share of an N=2 step) at each of `sizes` and `dtypes`, for the runs of
    `frameworks`; `steps` (or 300 when `quick`) per run instead of each size's own, the
    best of `repeats` runs (default: 3, or 1 with `steps`)."""
    rows = []
    steps = 300 if quick and steps is None else steps
    repeats = repeats or (1 if steps is not None else 3)
    runs = [(fw, mode) for fw, mode in RUNS if fw in frameworks]
    for name in sizes:
        size = SIZES[name]
        problem = make_problem(size, steps)
        params = 2 * size.hidden + size.hidden + size.hidden * 3 + 3
        calls = 2000 if steps is None else 50  # all-reduces timed, for their mean
        for dtype in dtypes:
            comm = {"numpy": 0.0}
            if "torch" in frameworks:
                comm["torch"] = torch_allreduce_seconds(params, calls, dtype)
            if "jax" in frameworks:
                comm["jax"] = jax_pmean_seconds(params, calls, dtype)
            with torch_ddp.ranks(2) if "torch" in frameworks else contextlib.nullcontext():
                for framework, mode in runs:
                    one = per_step(problem, framework, mode, 1, repeats, dtype)
                    two = per_step(problem, framework, mode, 2, repeats, dtype)
                    share = comm[framework] / two if framework != "numpy" else float("nan")
                    run = f"{framework}/{mode}"
                    rows.append((name, dtype, run, one, two, comm[framework], share))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="timing: fewer steps and repeats")
    parser.add_argument("--timing-only", action="store_true", help="skip the agreement part")
    args = parser.parse_args()
    if not args.timing_only:
        print("agreement, float64, the book's 3000 steps (final max |dW|, max |dloss|):")
        for opt, n, run, dw, dl in agreement():
            print(f"  {opt:5s} x {n} workers  {run:12s}  |dW| {dw:.2e}  |dloss| {dl:.2e}")
    print("\nseconds per step, N=1 vs N=2 (comm: one all-reduce of the gradient):")
    for size, _dtype, run, one, two, comm, share in timing(args.quick):
        print(
            f"  {size:6s} {run:12s}  N=1 {one * 1e3:8.3f} ms  N=2 {two * 1e3:8.3f} ms  "
            f"x{two / one:5.2f}  comm {comm * 1e3:7.3f} ms ({100 * share:4.1f}% of a step)"
        )


if __name__ == "__main__":
    main()
