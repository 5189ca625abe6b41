"""The motivating story through entrypoint.py (runner environment, fake GitHub): the posted comment names the
broken tasks unfolded right under the gates, with the numbers of the JSON report the same run wrote.

The per-task CI, the medians and the attribution come from the statistics (issue 10's contract); whatever
of them the JSON report carries must be in the comment, and what it lacks must read `n/a`, never a made-up
number. So this test checks the whole story once the statistics are there, and the fallback until then.
"""

from __future__ import annotations

import json
import re

from kalibra_action.report import format as fmt
from tests.e2e.conftest import Layout
from tests.e2e.test_entrypoint import MARKER, ours
from tests.fixtures.story import BROKEN, write_story


def test_the_story_comment_names_the_broken_tasks_under_the_gates(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_story(layout.workspace)
    run = run_action(layout=layout, inputs={"INPUT_BASELINE": "baseline.jsonl",
                                            "INPUT_CURRENT": "current.jsonl"})
    assert run.code == 1, run.log  # success_rate_delta >= -5 fails: 10 tasks broke
    [comment] = ours(fake_github)
    body = comment["body"]
    assert body.startswith(MARKER)
    report = json.loads((run.workspace / "kalibra-report.json").read_text(encoding="utf-8"))
    assert report["schema_version"] == 1
    per_task = {t["task_id"]: t for t in report["metrics"]["trace_breakdown"]["metadata"]["per_task"]}
    top = body[body.index("#### Regressed tasks"):]
    top = top[:top.index("<sub>")]
    assert "<details" not in body[:body.index("#### Regressed tasks")]
    assert body.index("### Quality gates") < body.index("#### Regressed tasks")
    has_ci = any(t.get("delta_ci_pp") for t in per_task.values())
    has_medians = any(t.get("medians") for t in per_task.values())
    header = next(line for line in top.splitlines() if line.startswith("| Task |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert ("95% CI (pp)" in columns) is has_ci and ("Tokens" in columns) is has_medians
    for task in BROKEN:
        item = per_task[task]
        assert item["verdict"] == "regressed"
        [row] = re.findall(rf"^\| {re.escape(task)} \|.*$", top, re.M)
        cell = dict(zip(columns, (c.strip() for c in row.strip("|").split("|")), strict=True))
        assert cell["Baseline k/n"] == f"{item['baseline']['success']}/{item['baseline']['total']}"
        assert cell["Current k/n"] == f"{item['current']['success']}/{item['current']['total']}"
        if has_ci:
            assert cell["95% CI (pp)"] == fmt.ci(item.get("delta_ci_pp"), "", 0), row
        for metric in ("tokens", "cost", "duration") if has_medians else ():
            change = ((item.get("medians") or {}).get(metric) or {}).get("delta_pct")
            assert cell[metric.capitalize()] == fmt.pct(change, 0), (metric, row)
    broken = (report["metrics"].get("task_attribution") or {}).get("metadata", {}).get("savings_from_broken")
    headline = body[:body.index("### Quality gates")]
    assert ("the savings come from the tasks that broke" in headline) is bool(broken and broken.get("flag"))
