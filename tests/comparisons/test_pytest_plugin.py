"""The pytest plugin in a fresh project that installs this package: the `framework`
fixture runs once per installed framework, and --require-all-frameworks turns a skipped
crossframework test, and a missing framework, into failures. And the neighbours: a
project with its own `scratch.py`, `adapters/` and `comparisons.py` still runs pytest
with its own modules, and a clash with another distribution's `adapters` is one clear
ImportError (scratch_parity/neighbours.py)."""

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
    import scratch_parity.pytest_plugin as plugin

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
    for package in ("scratch", "adapters", "comparisons", "scratch_parity"):
        shutil.copytree(ROOT / package, src / package, ignore=skip)
    site = base / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    pip += ["--no-compile", "--disable-pip-version-check", "--target", str(site), str(src)]
    subprocess.run(pip, check=True, capture_output=True, cwd=base)
    return site


def user_env(site: Path, **extra: str) -> dict[str, str]:
    """The environment of a project beside the install: only `site` on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.update(PYTHONPATH=str(site), PARITY_SITE=str(site), **extra)
    return env


def run_user_project(
    site: Path,
    tmp_path: Path,
    *args: str,
    hide: str = "",
    tests: str = USER_TESTS,
    launcher: tuple[str, ...] = ("-m", "pytest"),
) -> tuple:
    """pytest in a new project beside the install: (exit status, output, frameworks run)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_user.py").write_text(tests)
    (project / "conftest.py").write_text(USER_CONFTEST)
    log = tmp_path / f"ran{len(list(tmp_path.glob('ran*')))}.txt"
    log.touch()
    env = user_env(site, PARITY_LOG=str(log), HIDE=hide)
    cmd = [sys.executable, *launcher, "-q", "-rs", "-p", "no:cacheprovider", *args]
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
    # the skip's place and reason as pytest prints them, not a raw (path, line, text) tuple
    line = 1 + USER_TESTS.splitlines().index(
        '    pytest.skip("pretend the other framework is missing")'
    )
    assert (
        "cross-framework test skipped under --require-all-frameworks: "
        f"test_user.py:{line}: skipped: pretend the other framework is missing"
    ) in out, out
    assert "('" not in out
    assert "1 failed, 4 passed" in out

    # jax is installed when `jax` is: optax missing skips nothing of the fixture
    rc, out, ran = run_user_project(installed, tmp_path, hide="optax")
    assert rc == 0, out
    assert ran == everything

    rc, out, ran = run_user_project(installed, tmp_path, "--require-all-frameworks", hide="jax")
    assert rc == pytest.ExitCode.USAGE_ERROR, out
    assert "--require-all-frameworks: jax not installed" in out and ran == []


# A project of its own whose modules have this package's generic names.
OWN_MODULES = {
    "scratch.py": "WHOSE = 'mine'\n",
    "adapters/__init__.py": "WHOSE = 'mine'\n",
    "comparisons.py": "WHOSE = 'mine'\n",
}

OWN_TESTS = """
import adapters
import comparisons
import scratch


def test_my_modules_are_mine():
    assert scratch.WHOSE == adapters.WHOSE == comparisons.WHOSE == "mine"


def test_the_fixture_still_works(framework):
    assert framework in ("numpy", "torch", "jax")
"""


def test_a_project_with_its_own_scratch_adapters_and_comparisons_runs_pytest(installed, tmp_path):
    """The plugin loads in every pytest run of the environment: it must not import this
    package's `scratch`, `adapters` or `comparisons`, which these local names shadow."""
    project = tmp_path / "project"
    for name, text in OWN_MODULES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    # `python -m pytest` puts the project first on sys.path; a script run from elsewhere
    # reaches the project's modules through rootdir's conftest (rootdir-relative imports)
    for launcher in (("-m", "pytest"), ("-c", "import sys, pytest; sys.exit(pytest.main())")):
        rc, out, _ = run_user_project(installed, tmp_path, tests=OWN_TESTS, launcher=launcher)
        assert rc == 0, out
        assert "4 passed" in out, out  # 1 + the fixture's three frameworks (all installed)
        assert "Error while loading plugin" not in out
    # and the plugin module is this package's, loaded by its entry point
    env = user_env(installed)
    code = (
        "import importlib.metadata as m; print([e.value for e in "
        "m.entry_points(group='pytest11') if e.name == 'scratch_parity'])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "['scratch_parity.pytest_plugin']", out.stderr


def fake_distribution(site: Path, name: str, version: str, files: list[str]) -> None:
    """Another distribution's metadata in `site`, as pip leaves it (no top_level.txt,
    as wheels built by hatchling or poetry have none: RECORD alone names its files)."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/RECORD"]))


def test_another_distribution_claiming_adapters_is_one_clear_import_error(installed, tmp_path):
    """AdapterHub's library is imported as `adapters` too; pip installs both into one
    folder, each overwriting the other's files. Importing any of this package's three
    names then says so, names the other distribution, and gives the way out."""
    site = tmp_path / "site"
    shutil.copytree(installed, site, ignore=shutil.ignore_patterns("__pycache__"))
    fake_distribution(site, "adapters", "1.1.0", ["adapters/__init__.py", "adapters/heads.py"])
    for module in ("scratch", "adapters", "comparisons.parity"):
        code = f"import {module}"
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=user_env(site),
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1, (module, out.stdout, out.stderr)
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("ImportError: scratch-parity shares package names"), last
        assert "'adapters' also by adapters 1.1.0" in last and "virtual environment" in last
    # the same site without the other distribution imports cleanly
    code = "import comparisons.parity, scratch, adapters; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=user_env(installed),
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_a_local_adapters_folder_shadowing_ours_is_one_clear_import_error(installed, tmp_path):
    """Run from a folder holding its own `adapters/`, `comparisons` would import that one
    and fail somewhere inside; instead it says which `adapters` it found and why not."""
    (tmp_path / "adapters").mkdir()
    (tmp_path / "adapters" / "__init__.py").write_text("WHOSE = 'mine'\n")
    for argv in (["-c", "import comparisons.parity"], ["-m", "comparisons", "--help"]):
        out = subprocess.run(
            [sys.executable, *argv],
            cwd=tmp_path,
            env=user_env(installed),
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1, out.stdout
        last = out.stderr.strip().splitlines()[-1]
        assert "comparisons needs scratch-parity's 'adapters'" in last, last
        assert str(tmp_path / "adapters" / "__init__.py") in last
        assert "a module of your own, found first on sys.path" in last
