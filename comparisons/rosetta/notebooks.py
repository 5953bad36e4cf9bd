"""Run the learning path's notebooks (notebooks/*.ipynb) from top to bottom, and store
them with the outputs of that one run: `make notebooks`, which is
`python -m comparisons.rosetta.notebooks --write`.

One kernel runs the three in turn, its namespace cleared before each (as a reader's
fresh kernel would start), so the frameworks are imported once. The tests run the same
function and compare what they get with what is stored. Needs the `dev` extra (nbclient,
nbformat, ipykernel) and a checkout of the repository, where notebooks/ lives.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
RESET = "%reset -f"  # a fresh namespace for the next notebook


def paths() -> list[Path]:
    """The notebooks, in the reader's order (1_numpy_book, 2_pytorch, 3_jax)."""
    found = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks under {NOTEBOOKS} (a checkout of the repository)")
    return found


def execute(notebooks: list[Path] | None = None, *, timeout: int = 300) -> dict[Path, object]:
    """Each notebook run from top to bottom in one kernel (working directory notebooks/,
    the repository on PYTHONPATH, matplotlib's inline backend): path -> the executed
    notebook. Raises nbclient's CellExecutionError at the first cell that fails."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend: plots go into the notebook
    done = {}
    with tempfile.TemporaryDirectory() as sockets:  # local sockets, not a TCP port
        km = KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel")
        km.start_kernel(cwd=str(NOTEBOOKS), env=env)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            for path in notebooks or paths():
                kc.execute_interactive(RESET, timeout=60)
                nb = nbformat.read(path, as_version=4)
                client = NotebookClient(
                    nb, km=km, timeout=timeout, record_timing=False, coalesce_streams=True
                )  # one stream output per cell and name: stored runs differ only where they must
                client.kc = kc  # not a constructor argument: set, it is used instead of a new one
                client.execute()
                done[path] = nb
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m comparisons.rosetta.notebooks",
        description="Run notebooks/*.ipynb from top to bottom in one kernel.",
    )
    parser.add_argument(
        "--write", action="store_true", help="store each notebook with the outputs of this run"
    )
    args = parser.parse_args(argv)
    import nbformat

    for path, nb in execute().items():
        if args.write:
            nbformat.write(nb, path)
        cells = sum(c.cell_type == "code" for c in nb.cells)
        print(f"{path.name}: {cells} code cells ran" + (", stored" if args.write else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
