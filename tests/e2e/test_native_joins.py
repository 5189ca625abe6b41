"""The action (entrypoint.py as the runner starts it) on tool exports whose records are split over files:
a side of LangSmith feedback without its runs is one error naming the format (exit 2, never a verdict);
runs split over two files of a side join up and the per-task verdicts are those of the planted plan.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ROOT
from tests.e2e.conftest import Layout

LANGSMITH = ROOT / "tests" / "data" / "formats" / "langsmith"


def _workspace(layout: Layout, baseline: str, current: str, gates: list[str]) -> None:
    lines = ["baseline:", f"  path: {json.dumps(baseline)}", "current:", f"  path: {json.dumps(current)}",
             "require:"] + [f"  - {json.dumps(g)}" for g in gates]
    (layout.workspace / "kalibra.yml").write_text("\n".join(lines) + "\n")


def _split_runs(source: Path, into: Path) -> None:
    rows = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    into.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        (into / f"runs-{i + 1}.jsonl").write_text("".join(r + "\n" for r in rows[i::2]), encoding="utf-8")


def test_feedback_without_runs_exits_2_naming_langsmith(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    traces = layout.workspace / "ls"
    traces.mkdir()
    for name in ("baseline.feedback.jsonl", "current.runs.jsonl", "current.feedback.jsonl"):
        shutil.copy(LANGSMITH / name, traces)
    _workspace(layout, "ls/baseline.feedback.jsonl", "ls/current.*.jsonl", ["success_rate_delta >= -50"])
    run = run_action(layout=layout)
    assert run.code == 2, run.log
    [error] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "baseline.feedback.jsonl" in error and "LangSmith feedback only" in error, error
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == "2"
    assert "Traceback" not in run.log


def test_runs_split_over_files_compare_by_the_planted_tasks(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    for side in ("baseline", "current"):
        folder = layout.workspace / "ls" / side
        _split_runs(LANGSMITH / f"{side}.runs.jsonl", folder)
        shutil.copy(LANGSMITH / f"{side}.feedback.jsonl", folder)
    _workspace(layout, "ls/baseline", "ls/current", ["success_rate_delta >= -50"])
    run = run_action(layout=layout)
    assert run.code == 0, run.log
    report = json.loads((run.workspace / run.outputs["report"]).read_text())
    per_task = {t["task_id"]: t for t in report["metrics"]["trace_breakdown"]["metadata"]["per_task"]}
    for side in ("baseline", "current"):
        want = _planted(side)
        assert {task: (t[side]["success"], t[side]["total"]) for task, t in per_task.items()} == want, side


def _planted(side: str) -> dict[str, tuple[int, int]]:
    """Per task (passes, runs with an outcome) from the raw lines: a root run passes on feedback score 1;
    an errored root has no outcome."""
    score = {row["run_id"]: row["score"] for row in _lines(LANGSMITH / f"{side}.feedback.jsonl")}
    out: dict[str, tuple[int, int]] = {}
    for root in (r for r in _lines(LANGSMITH / f"{side}.runs.jsonl") if r["parent_run_id"] is None):
        k, n = out.get(root["reference_example_id"], (0, 0))
        known = root["status"] != "error" and root["id"] in score
        out[root["reference_example_id"]] = (k + (known and score[root["id"]] >= 1), n + known)
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
