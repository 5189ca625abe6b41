"""`python -m kalibra_action` as a subprocess on Kalibra's demo traces: exit codes, streams, formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "data" / "kalibra-examples" / "demo_data"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def json_run() -> subprocess.CompletedProcess[str]:
    return run("compare", str(DEMO / "baseline.jsonl"), str(DEMO / "current.jsonl"), "--format", "json",
               "--task-id", "metadata.task_id", "-r", "regressions <= 2", "-r", "success_rate_delta >= -5",
               "--resamples", "500")


def test_json_is_pure_on_stdout_and_gate_fails(json_run) -> None:
    assert json_run.returncode == 1
    data = json.loads(json_run.stdout, parse_constant=lambda t: pytest.fail(f"non-JSON token {t}"))
    assert data["passed"] is False and data["exit_code"] == 1
    assert [g["passed"] for g in data["gates"]] == [False, True]
    assert data["baseline"]["count"] == 100
    assert "Loading" in json_run.stderr


def test_passing_gates_exit_0() -> None:
    r = run("compare", str(DEMO / "baseline.jsonl"), str(DEMO / "current.jsonl"), "--format", "markdown",
            "--task-id", "metadata.task_id", "-r", "regressions <= 10", "--resamples", "500", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("## ✅") and r.stderr == ""


def test_missing_file_exit_2_one_line() -> None:
    r = run("compare", "nope.jsonl", str(DEMO / "current.jsonl"), "--format", "json", "-q")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "nope.jsonl" in r.stderr
    assert r.stderr.startswith("kalibra-action: error: ")


def test_usage_error_exit_2() -> None:
    r = run("compare", "--format", "yaml")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_bad_config_exit_2(tmp_path: Path) -> None:
    (tmp_path / "kalibra.yml").write_text("require: [\n")
    r = run("compare", "a", "b", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("kalibra-action: error: kalibra.yml:")


def test_demo_prints_markdown_and_exits_0(tmp_path: Path) -> None:
    r = run("demo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("## ❌") and "| regressions &#60;&#61; 2 | 5 | ❌ **FAIL**" in r.stdout
    assert "the demo exits 0" in r.stderr
    assert list(tmp_path.iterdir()) == []  # writes nothing


def test_inspect_suggests_fields() -> None:
    r = run("inspect", str(DEMO / "baseline.jsonl"), "--suggest")
    assert r.returncode == 0, r.stderr
    assert "fields:" in r.stdout and "task_id" in r.stdout
