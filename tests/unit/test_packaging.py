"""The CLI as PyPI gets it: an sdist and a wheel built from a copy of the source, `twine check`ed, the wheel
installed into a fresh venv and its console script run there (what `pip install kalibra-action` and
`pipx run kalibra-action` give a user).

All offline: the build runs without isolation on the pinned setuptools of the dev venv, and the fresh venv
sees the locked runtime dependencies of the dev venv through a .pth file instead of downloading them, while
`pip check` there proves the wheel's declared requirements are what those satisfy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from kalibra_action import __version__
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel built from a copy of what the sdist needs (the worktree is left untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "kalibra_action", src / "kalibra_action",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    proc = run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_sdist_and_wheel_carry_the_one_version_and_pass_twine_check(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"kalibra_action-{__version__}-py3-none-any.whl", f"kalibra_action-{__version__}.tar.gz"]
    proc = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_wheel_ships_templates_demo_data_and_the_console_script(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        files = set(zf.namelist())
        entry_points = zf.read(f"kalibra_action-{__version__}.dist-info/entry_points.txt").decode()
    assert "kalibra-action = kalibra_action.cli:main" in entry_points
    assert any(f.startswith("kalibra_action/report/templates/") and f.endswith(".j2") for f in files)
    assert "kalibra_action/demo_data/baseline.jsonl" in files
    assert not any(f.startswith(("tests/", "scripts/")) for f in files)


def test_pyproject_reads_the_version_from_the_package_only() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in meta["project"] and meta["project"]["dynamic"] == ["version"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "kalibra_action.__version__"}


def test_the_installed_wheel_runs_its_console_script(dist: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # The dev venv's locked dependencies, seen by the fresh venv after its own site-packages.
    (site / "zz-locked-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    [wheel] = dist.glob("*.whl")
    install = run(sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "--no-deps",
                  "--quiet", wheel)
    assert install.returncode == 0, install.stdout + install.stderr
    check = run(sys.executable, "-m", "pip", "--python", py, "check")
    assert check.returncode == 0, check.stdout + check.stderr  # every Requires-Dist of the wheel is met

    script = env_dir / "bin" / "kalibra-action"
    version = run(script, "--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"kalibra-action {__version__}")
    where = run(py, "-c", "import kalibra_action; print(kalibra_action.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(site), where  # the wheel's copy, not the worktree's
    demo = run(script, "demo", "--format", "markdown", cwd=tmp_path)  # templates and demo data in the wheel
    assert demo.returncode in (0, 1) and "kalibra-action" in demo.stdout, demo.stderr
