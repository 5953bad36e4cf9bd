"""`make`'s install, run for real against a stand-in virtual environment: its python is a
script that records every `pip` call (failing the ones a test says fail, as an index that
cannot be reached does) and runs everything else with a stand-in `torch` module that
reports the build a test chose. No network, no download: what is tested is the Makefile.

The default install once took the 6.2 GB CUDA build silently when PyTorch's CPU index
could not be reached (145 retries over 4 minutes, then PyPI's default build). Now torch
comes from the chosen index only, fails after one retry, and the build that arrived is
checked against TORCH: one line naming the way out, and no stamp."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "$*" >> "$FAKE_PIP_LOG"
    case "$*" in
        *"$FAKE_PIP_FAILS"*)
            echo "ERROR: No matching distribution found for torch" >&2
            exit 1 ;;
    esac
    exit 0
fi
exec "$REAL_PYTHON" "$@"
"""
FAKE_TORCH = """import os
from types import SimpleNamespace

__version__ = os.environ["FAKE_TORCH_VERSION"]
version = SimpleNamespace(cuda=os.environ.get("FAKE_TORCH_CUDA") or None)
"""


@pytest.fixture
def checkout(tmp_path):
    """The Makefile and pyproject.toml in a folder whose .venv is the stand-in."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    (tmp_path / "fake" / "torch").mkdir(parents=True)
    (tmp_path / "fake" / "torch" / "__init__.py").write_text(FAKE_TORCH)
    return tmp_path


def make(checkout: Path, *variables: str, build: str = "", fails: str = "never"):
    """`make .venv/.installed-stamp` with `variables`; torch arrives as `build` ("" is the
    CPU-only build, else its CUDA version); a pip call containing `fails` fails.
    Returns (exit status, stderr lines, the pip calls)."""
    log = checkout / "pip.log"
    env = {
        **os.environ,
        "FAKE_PIP_LOG": str(log),
        "FAKE_PIP_FAILS": fails,
        "REAL_PYTHON": sys.executable,
        "PYTHONPATH": str(checkout / "fake"),
        "FAKE_TORCH_VERSION": "2.13.0" + ("+cpu" if not build else ""),
        "FAKE_TORCH_CUDA": build,
    }
    # run from `make test` (as .ci/run does), the outer make's level and its command-line
    # variables (TORCH, TORCH_SPEC, TORCH_INDEX) arrive in the environment: drop them
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PY", "JOBS"):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("TORCH")]:
        env.pop(name)
    proc = subprocess.run(
        ["make", "--no-print-directory", ".venv/.installed-stamp", *variables],
        cwd=checkout,
        env=env,
        capture_output=True,
        timeout=60,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    ours = [line for line in proc.stderr.decode().splitlines() if not line.startswith("make: ***")]
    return proc.returncode, ours, calls


def torch_call(calls: list[str]) -> str:
    (call,) = [c for c in calls if "torch" in c and "-e" not in c.split()]
    return call


def test_the_cpu_build_comes_from_the_cpu_index_alone_and_is_checked(checkout):
    status, err, calls = make(checkout, "TORCH=cpu")
    assert status == 0 and err == []
    call = torch_call(calls)
    assert f"--index-url {CPU_INDEX} --retries 1 --timeout 15" in call
    assert "--extra-index-url" not in call  # pip's own index is never a fallback
    assert calls[-1].endswith("-e .[all,dev]") and (checkout / ".venv/.installed-stamp").exists()


def test_an_unreachable_index_stops_at_once_with_one_line_naming_the_way_out(checkout):
    status, err, calls = make(checkout, "TORCH=cpu", fails="--index-url")
    assert status != 0
    assert err[0] == "ERROR: No matching distribution found for torch"  # pip's own word
    assert len(err) == 2 and err[1].startswith(f"make: cannot install torch from {CPU_INDEX}")
    assert "make TORCH_INDEX= TORCH_SPEC='torch==VERSION'" in err[1]
    assert not any("-e" in c.split() for c in calls)  # nothing installed after it
    assert not (checkout / ".venv/.installed-stamp").exists()


def test_a_failure_from_pip_s_own_index_says_so(checkout):
    status, err, _ = make(checkout, "TORCH=cuda", fails="torch")
    assert status != 0 and len(err) == 2
    assert err[1].startswith("make: cannot install torch from your pip index (TORCH=cuda)")


@pytest.mark.parametrize(
    "torch, build, words",
    [
        ("cpu", "12.8", "make: TORCH=cpu, but torch 2.13.0 arrived as a CUDA 12.8 build"),
        ("cuda", "", "make: TORCH=cuda, but torch 2.13.0+cpu arrived as the CPU-only build"),
    ],
)
def test_a_build_other_than_torch_names_stops_with_one_line(checkout, torch, build, words):
    """What pip's configuration (an extra index, find-links) or a torch already in .venv
    can bring in, whatever the index."""
    status, err, _ = make(checkout, f"TORCH={torch}", build=build)
    assert status != 0 and len(err) == 1, err
    assert err[0].startswith(words) and "`make clean`" in err[0]
    assert "TORCH_INDEX=" in err[0] and f"keep it: TORCH={'cuda' if build else 'cpu'}" in err[0]
    assert not (checkout / ".venv/.installed-stamp").exists()


def test_ci_s_mirror_with_the_cpu_wheel_installs_from_pip_s_own_index(checkout):
    """.ci/run: TORCH=cpu TORCH_SPEC='torch==2.13.0' TORCH_INDEX= (this machine's mirror
    holds 2.13.0+cpu)."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test TORCH=cpu TORCH_SPEC='torch==2.13.0' TORCH_INDEX=" in ci
    status, err, calls = make(checkout, "TORCH=cpu", "TORCH_SPEC=torch==2.13.0", "TORCH_INDEX=")
    assert status == 0 and err == []
    assert torch_call(calls).split() == ["-m", "pip", "install", "-q", "torch==2.13.0"]


def test_cuda_takes_the_default_build_from_pip_s_index(checkout):
    status, err, calls = make(checkout, "TORCH=cuda", build="12.8")
    assert status == 0 and err == []
    assert torch_call(calls).split() == ["-m", "pip", "install", "-q", "torch"]


def test_a_torch_that_does_not_import_is_one_line(checkout):
    (checkout / "fake" / "torch" / "__init__.py").write_text("raise OSError('libtorch.so')\n")
    status, err, _ = make(checkout, "TORCH=cpu")
    assert status != 0 and err == ["make: torch was installed but does not import: libtorch.so"]
