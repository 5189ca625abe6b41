"""The motivating story through entrypoint.py (runner environment, fake GitHub): the posted comment names the
broken tasks unfolded right under the gates, says the token saving comes from them, and every number it
shows for them is the one in the JSON report the same run wrote.
"""

from __future__ import annotations

import html
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
    assert run.code == 1, run.log  # the task-weighted success rate fell: 10 tasks broke
    [comment] = ours(fake_github)
    body = comment["body"]
    assert body.startswith(MARKER)
    report = json.loads((run.workspace / "kalibra-report.json").read_text(encoding="utf-8"))
    assert report["schema_version"] == 1
    status = {g["field"]: g["status"] for g in report["gates"]}
    assert status == {"success_rate_delta": "inconclusive", "task_weighted_success_rate_delta": "fail",
                      "token_delta_pct": "pass"}
    seen = html.unescape(body).replace("\u2060", "")  # as a reader sees it (escapes and joiners gone)
    gate_rows = seen[seen.index("### Quality gates"):seen.index("### Per-task results")]
    for gate in report["gates"]:
        [row] = [line for line in gate_rows.splitlines() if line.startswith(f"| {gate['expr']} |")]
        unit = report["fields"][gate["field"]]
        assert fmt.ci(unit["ci"], "pp" if "success" in gate["field"] else "%") in row, row

    per_task = {t["task_id"]: t for t in report["metrics"]["trace_breakdown"]["metadata"]["per_task"]}
    top = seen[seen.index("#### Regressed tasks"):]
    top = top[:top.index("<sub>")]
    assert "<details" not in body[:body.index("#### Regressed tasks")]
    assert body.index("### Quality gates") < body.index("#### Regressed tasks")
    header = next(line for line in top.splitlines() if line.startswith("| Task |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == ["Task", "Baseline k/n", "Current k/n", "Change (pp)", "95% CI (pp)", "q", "Tokens",
                       "Cost", "Duration"]
    for task in BROKEN:
        item = per_task[task]
        assert item["verdict"] == "regressed"
        [row] = re.findall(rf"^\| {re.escape(task)} \|.*$", top, re.M)
        cell = dict(zip(columns, (c.strip() for c in row.strip("|").split("|")), strict=True))
        assert cell["Baseline k/n"] == f"{item['baseline']['success']}/{item['baseline']['total']}"
        assert cell["Current k/n"] == f"{item['current']['success']}/{item['current']['total']}"
        assert cell["Change (pp)"].strip("*") == fmt.change(item["delta_pp"], 0), row
        assert cell["95% CI (pp)"] == fmt.ci(item["delta_ci_pp"], "", 0), row
        assert cell["q"] == fmt.pvalue(item["q"]), row
        for metric in ("tokens", "cost", "duration"):
            change = item["medians"][metric]["delta_pct"]
            assert cell[metric.capitalize()] == fmt.pct(change, 0), (metric, row)

    attribution = report["metrics"]["task_attribution"]["metadata"]
    broken = attribution["savings_from_broken"]
    headline = seen[:seen.index("### Quality gates")]
    assert broken["flag"] is True and broken["text"] in headline
    tokens = attribution["decomposition"]["tokens"]
    fall, share = tokens["aggregate"]["change_pct"], tokens["groups"]["regressed"]["share_pct"]
    assert f"tokens {fall:+.0f} %: {share:.0f} % of the drop comes from the 10 ".replace("-", "−") in headline
    where = seen[seen.index("### Where the change came from"):seen.index("### Metrics")]
    [row] = [line for line in where.splitlines() if line.startswith("| Tokens |")]
    reg = tokens["groups"]["regressed"]
    assert f"| −{abs(reg['contribution']):,.0f} ({reg['share_pct']:.0f} %) · 10 tasks |" in row, row
