"""`make help` lists every target with a line saying what it does; `make` alone still
sets up .venv, and `make demo` and `make test` run what they always ran (`make -n`
prints the commands without running them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.docs.markdown import ROOT

TARGETS = ("demo", "test", "check", "rosetta", "bench", "lint", "clean")


def make(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    done = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_help_lists_every_target_with_a_description():
    lines = make("help").splitlines()
    for target in TARGETS:
        described = [line for line in lines if re.match(rf"\s*make {target}\s+\S", line)]
        assert described, f"make help does not describe {target}:\n" + "\n".join(lines)
    # the targets a user runs are the .PHONY ones (a `define` block of Python also has
    # lines like `try:`)
    (phony,) = re.findall(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    declared = phony.split()
    listed = set(re.findall(r"^\s*make (\w+)", "\n".join(lines), re.M))
    assert set(declared) <= listed, f"targets without a help line: {set(declared) - listed}"


def test_make_alone_is_still_the_set_up_not_the_help():
    assert "usage: make" not in make("-n")
    assert "usage: make" in make("-n", "help")  # -n prints the help's commands


def test_make_demo_and_make_test_run_what_they_ran():
    assert re.search(r"^\.venv/bin/python -m comparisons$", make("-n", "demo"), re.M)
    test = make("-n", "test")
    assert "-m pytest --require-all-frameworks -n 2 --dist loadfile" in test
