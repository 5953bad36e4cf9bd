"""Data-parallel training in PyTorch: N processes, `torch.distributed` and
`DistributedDataParallel`, each rank on its shard of every batch.

The launcher (`train`) starts one process per rank, exactly as `torchrun` does: each gets
MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK in its environment and runs
`python -m adapters.torch_ddp JOB_DIR`, whose `run` calls
`torch.distributed.init_process_group` from those variables (gloo on the CPU, NCCL on
GPUs), wraps the adapter's nn.Module in `DistributedDataParallel` and trains with the
adapter's own optimizer and `train_step`. DDP's backward hooks all-reduce the gradients
(their mean over the ranks) before `clip_grad_norm_` and `optimizer.step()` see them, so
clipping applies to the all-reduced gradient, as in the single run. Rank 0's recorded
weights and the mean of the ranks' losses come back as the usual Trajectory.

Under torchrun across machines, the same worker runs unchanged:
`torchrun --nnodes 2 --nproc-per-node 4 ... -m adapters.torch_ddp JOB_DIR` (docs/data-parallel.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from adapters import data_parallel, torch_adapter
from adapters.contract import TrainInputs


def max_workers(device: str) -> tuple[int, str]:
    """Ranks this device allows: one per GPU under NCCL; on the CPU, the processes this
    machine can run (data_parallel.process_limit: cores, and memory at RANK_BYTES a rank:
    each rank is a process that imports torch)."""
    if device.startswith("cuda"):
        return torch.cuda.device_count(), "the CUDA devices torch sees (one rank per GPU)"
    return data_parallel.process_limit(data_parallel.RANK_BYTES, "torch can start")


_GROUPS: dict = {}  # (n, device) -> the WorkerGroup of an open `ranks` block


@contextlib.contextmanager
def ranks(n: int, device: str = "cpu"):
    """Start n ranks once for every `Net.train(..., data_parallel=n)` on `device` inside
    the block (a rank's start, `import torch` and the process group cost seconds; a short
    run, milliseconds). Without it each data-parallel run starts and stops its own."""
    key = (n, device)
    if key in _GROUPS:
        raise ValueError(f"ranks({n}, {device!r}) is already open")
    _GROUPS[key] = _start(n, device)
    try:
        yield _GROUPS[key]
    finally:
        _GROUPS.pop(key).close()  # the group now open: a run whose rank died started another


def _start(n: int, device: str) -> data_parallel.WorkerGroup:
    port = str(data_parallel.free_port())
    envs = [
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "RANK": str(rank),
            "WORLD_SIZE": str(n),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(n),
        }
        for rank in range(n)
    ]
    setup = {"device": device, "timeout": data_parallel.COLLECTIVE_TIMEOUT_S}
    return data_parallel.WorkerGroup("torch", __name__, setup, envs)


def train(net, inputs: TrainInputs, n: int):
    """Run `inputs` on n ranks (those of an open `ranks` block, else fresh ones); return
    (losses, weights, gap) as `Net._run` does and leave `net` at rank 0's final weights."""
    job = {"weights": net.weights(), "dtype": net.dtype, "tf32": net.tf32, "inputs": inputs}
    key = (n, net.device)
    if key not in _GROUPS:
        with _start(n, net.device) as group:
            losses, weights, gap = group.run(job)
    else:
        if _GROUPS[key].closed:  # a rank died in an earlier run of this ranks() block
            _GROUPS[key] = _start(n, net.device)
        losses, weights, gap = _GROUPS[key].run(job)
    net._load({k: v[-1] for k, v in weights.items()})
    return losses, weights, gap


def write_book_job(
    job_dir: str, epochs: int = 300, device: str = "cpu", record_every: int = 10
) -> None:
    """A job directory holding the book's run (ch01: spiral, batch 30, hidden 10, SGD lr
    1.0) for `torchrun --nproc-per-node N -m adapters.torch_ddp JOB_DIR`; rank 0 writes
    (losses, weights, None) to JOB_DIR/result.0.pkl. docs/data-parallel.md."""
    from adapters.optimizer_spec import OptimizerSpec
    from adapters.trajectory import record_steps
    from scratch import init_weights, spiral
    from scratch.trainer import shuffled_batches

    rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=rng)
    weights = init_weights(2, 10, 3, rng=rng)
    schedule = shuffled_batches(len(x), 30, epochs, rng)
    inputs = TrainInputs(
        x=x, t=t.argmax(axis=1), schedule=schedule, optimizer=OptimizerSpec("sgd", 1.0),
        max_grad=None, record_steps=record_steps(len(schedule), record_every),
        record_every=record_every, mode="eager",
    )  # fmt: skip
    job = {"weights": weights, "dtype": "float64", "tf32": False, "inputs": inputs}
    setup = {"device": device, "timeout": data_parallel.COLLECTIVE_TIMEOUT_S}
    path = Path(job_dir)
    path.mkdir(parents=True, exist_ok=True)
    data_parallel.write_jobs(path, setup, [job])


class _Counted:
    """The DDP module, called once per step by `torch_adapter.train_step`; says which step
    this rank is on before each forward (data_parallel.Progress)."""

    def __init__(self, module: DistributedDataParallel, progress, rank: int) -> None:
        self.module, self.progress, self.rank, self.step = module, progress, rank, 0

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        self.progress.at(self.rank, self.step)
        self.step += 1
        return self.module(xb)


def start(setup: dict) -> dict:
    """One rank joins the group, from the environment (our launcher's or torchrun's)."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    device = setup["device"]
    cuda = device.startswith("cuda")
    if cuda:
        device = f"cuda:{local}"
        torch.cuda.set_device(device)
    else:  # the machine's cores shared between the ranks on it
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    dist.init_process_group(
        "nccl" if cuda else "gloo", timeout=timedelta(seconds=setup["timeout"])
    )  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    return {"rank": rank, "world": world, "local": local, "device": device, "cuda": cuda}


def run(rank: dict, job: dict, progress) -> tuple[np.ndarray, dict, None]:
    """One run on this rank's shard of every batch; the losses come back all-reduced."""
    r, world, device = rank["rank"], rank["world"], rank["device"]
    net = torch_adapter.Net(job["weights"], dtype=job["dtype"], device=device, tf32=job["tf32"])
    inputs = job["inputs"]
    edges = data_parallel.bounds(inputs.schedule.shape[1], world)
    mine = dataclasses.replace(  # this rank's shard of every step: (steps, batch / N)
        inputs, schedule=inputs.schedule[:, edges[r] : edges[r + 1]]
    )
    ddp = DistributedDataParallel(net.module, device_ids=[rank["local"]] if rank["cuda"] else None)
    losses, weights, gap, _ = net._run(mine, net._training(mine, module=_Counted(ddp, progress, r)))
    total = torch.from_numpy(losses).to(device)
    dist.all_reduce(total)  # one collective for every step's loss, after the run
    return (total / world).cpu().numpy(), weights, gap  # the mean of the shard losses


def stop(rank: dict) -> None:
    dist.destroy_process_group()


if __name__ == "__main__":
    data_parallel.worker_main(start, run, stop)
