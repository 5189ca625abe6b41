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


def _cli_workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout the user does not trust (`ws`) and a directory beside it with a file to protect."""
    ws, out = tmp_path / "ws", tmp_path / "out"
    ws.mkdir()
    out.mkdir()
    for name in ("baseline.jsonl", "current.jsonl"):
        (ws / name).write_bytes((DEMO / name).read_bytes())
        (out / name).write_bytes((DEMO / name).read_bytes())
    (out / "victim").write_text("precious")
    return ws, out


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run("compare", *args, "--resamples", "200", cwd=cwd)


def test_output_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    ws, out = _cli_workspace(tmp_path)
    (ws / "report.json").symlink_to(out / "victim")
    done = _cli(ws, "baseline.jsonl", "current.jsonl", "--format", "json", "-o", "report.json")
    assert done.returncode in (0, 1), done.stderr
    assert (out / "victim").read_text() == "precious"
    assert not (ws / "report.json").is_symlink() and json.loads((ws / "report.json").read_text())


@pytest.mark.parametrize("args", [["../out/baseline.jsonl", "current.jsonl"],
                                  ["baseline.jsonl", "current.jsonl", "-o", "../out/victim"],
                                  ["baseline.jsonl", "current.jsonl", "--config", "../out/victim"],
                                  ["baseline.jsonl", "link/*.jsonl"]])
def test_root_confines_reads_and_writes(tmp_path: Path, args: list[str]) -> None:
    ws, out = _cli_workspace(tmp_path)
    (ws / "link").symlink_to(out, target_is_directory=True)
    done = _cli(ws, *args, "--root", ".")
    assert done.returncode == 2, done.stderr
    [error] = [line for line in done.stderr.splitlines() if line.startswith("kalibra-action: error")]
    assert "outside" in error and "Traceback" not in done.stderr
    assert (out / "victim").read_text() == "precious"
    assert _cli(ws, "baseline.jsonl", "current.jsonl", "--root", ".").returncode in (0, 1)
