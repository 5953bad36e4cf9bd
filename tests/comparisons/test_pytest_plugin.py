"""The pytest plugin in a fresh project that installs this package: the `framework`
fixture runs once per installed framework, and --require-all-frameworks turns a skipped
crossframework test, and a missing framework, into failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import adapters
from tests.helpers import need

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
import os

import pytest


def test_each_framework(framework):
    with open(os.environ["PARITY_LOG"], "a") as log:
        log.write(framework + "\\n")


@pytest.mark.crossframework
def test_a_comparison_that_skips():
    pytest.skip("pretend the other framework is missing")


def test_the_plugin_is_the_installed_copy(request):
    import comparisons.parity.pytest_plugin as plugin

    assert request.config.pluginmanager.get_plugin("scratch_parity") is plugin
    assert plugin.__file__.startswith(os.environ["PARITY_SITE"])
"""

# a framework listed in HIDE is "not installed" for this project (find_spec sees None)
USER_CONFTEST = """
import os
import sys

for name in os.environ.get("HIDE", "").split():
    sys.modules[name] = None
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """This package installed (pip, its own pyproject.toml) into a fresh directory."""
    base = tmp_path_factory.mktemp("plugin")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("scratch", "adapters", "comparisons"):
        shutil.copytree(ROOT / package, src / package, ignore=skip)
    site = base / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    pip += ["--no-compile", "--disable-pip-version-check", "--target", str(site), str(src)]
    subprocess.run(pip, check=True, capture_output=True, cwd=base)
    return site


def run_user_project(site: Path, tmp_path: Path, *args: str, hide: str = "") -> tuple:
    """pytest in a new project beside the install: (exit status, output, frameworks run)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_user.py").write_text(USER_TESTS)
    (project / "conftest.py").write_text(USER_CONFTEST)
    log = tmp_path / f"ran{len(list(tmp_path.glob('ran*')))}.txt"
    log.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.update(PYTHONPATH=str(site), PARITY_LOG=str(log), PARITY_SITE=str(site), HIDE=hide)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr, log.read_text().split()


@pytest.mark.crossframework
def test_the_plugin_works_in_a_fresh_project_that_installs_this_package(installed, tmp_path):
    need("torch", "jax")
    everything = list(adapters.FRAMEWORKS)

    rc, out, ran = run_user_project(installed, tmp_path, hide="jax optax")
    assert rc == 0, out
    assert ran == ["numpy", "torch"]  # jax's turn is skipped: "not installed"
    assert "3 passed, 2 skipped" in out and "jax not installed" in out

    rc, out, ran = run_user_project(installed, tmp_path, "--require-all-frameworks")
    assert rc == 1, out
    assert ran == everything
    assert "cross-framework test skipped under --require-all-frameworks" in out
    assert "1 failed, 4 passed" in out

    rc, out, ran = run_user_project(installed, tmp_path, "--require-all-frameworks", hide="jax")
    assert rc == pytest.ExitCode.USAGE_ERROR, out
    assert "--require-all-frameworks: jax not installed" in out and ran == []
