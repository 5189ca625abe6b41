"""The CLI's stdout and stderr may be a CI job's log: hostile task and file names forge no command there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runner_commands import commands

ROOT = Path(__file__).resolve().parents[2]
TASKS = ["##[error title=forged]t", "x\u2028\u00a0::add-mask::Kalibra", "\u200b::stop-commands::tok",
         "y\r::warning::w", "z\u0085##[group]g"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                                       "PYTHONPATH": str(ROOT)})


def write_traces(ws: Path) -> None:
    for side, outcome in (("baseline", "success"), ("current", "failure")):
        rows = [{"trace_id": f"{side}-{i}-{k}", "outcome": outcome, "metadata": {"task_id": task},
                 "spans": [{"span_id": f"s{i}{k}", "name": task, "start_ns": 0, "end_ns": 10**9, "cost": 0.01,
                            "input_tokens": 10, "output_tokens": 5, "error": False}]}
                for i, task in enumerate(TASKS) for k in range(4)]
        (ws / f"{side}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "json"])
def test_hostile_task_names_forge_no_command(tmp_path, fmt):
    write_traces(tmp_path)
    r = run("compare", "baseline.jsonl", "current.jsonl", "--task-id", "metadata.task_id", "--format", fmt,
            "--resamples", "200", "-r", "regressions <= 0", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert commands(r.stdout) == [] and commands(r.stderr) == []
    if fmt == "json":  # the JSON on stdout still holds the names exactly
        assert set(TASKS) <= set(strings(json.loads(r.stdout)))


def strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def test_hostile_file_name_in_an_error_forges_no_command(tmp_path):
    bad = "##[error title=forged]x\u2028\u00a0::add-mask::Kalibra.jsonl"
    (tmp_path / bad).write_text("{not json\n")
    (tmp_path / "ok.jsonl").write_text('{"trace_id": "a", "outcome": "success"}\n')
    r = run("compare", "ok.jsonl", bad, cwd=tmp_path)
    assert r.returncode == 2
    assert "forged" in r.stderr  # the name is there, defused
    assert commands(r.stdout) == [] and commands(r.stderr) == []
