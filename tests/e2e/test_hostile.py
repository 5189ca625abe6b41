"""Hostile task ids travel from the traces to the posted comment and come out as inert text."""

from __future__ import annotations

import html
import json
import re

from tests.e2e.conftest import Layout, github_view

MARKER = "<!-- kalibra-action:kalibra -->"
HOSTILE = [
    "a|b|c",
    "`code` ``` fence",
    "<script>alert(1)</script>",
    "@someone please",
    "#123",
    "line\nbreak",
    "</details><details open>",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "**bold** _em_ ~~del~~",
]


def write_hostile(ws, n: int = 4, tasks: list[str] = HOSTILE) -> None:
    (ws / "traces").mkdir(parents=True)
    for side, outcome in (("baseline", "success"), ("current", "failure")):
        rows = []
        for i, task in enumerate(tasks):
            for k in range(n):
                rows.append({"trace_id": f"{side}-{i}-{k}", "outcome": outcome, "metadata": {"task_id": task},
                             "spans": [{"span_id": f"s{i}{k}", "name": task, "start_ns": 0,
                                        "end_ns": 1_000_000_000, "cost": 0.01, "input_tokens": 10,
                                        "output_tokens": 5, "error": False}]})
        (ws / "traces" / f"{side}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (ws / "kalibra.yml").write_text(
        "baseline:\n  path: traces/baseline.jsonl\ncurrent:\n  path: traces/current.jsonl\n"
        "fields:\n  task_id: metadata.task_id\nrequire:\n  - regressions <= 0\n")


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("\u2060", "")


def test_hostile_task_ids_render_inert(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_hostile(layout.workspace)
    run = run_action(layout=layout)
    assert run.code == 1, run.log
    [comment] = [c for c in fake_github.comments[42] if c["body"].startswith(MARKER)]
    page = github_view(comment["body"])
    assert "<script" not in page and "<img" not in page and 'href="javascript' not in page
    assert page.count("<details") == page.count("</details>")
    tables = re.findall(r"<table>(.*?)</table>", page, re.S)
    assert tables
    for table in tables:  # no `|` or newline split a row: every row has its header's cell count
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        width = len(re.findall(r"<th\b", rows[0]))
        assert all(len(re.findall(r"<td\b", row)) == width for row in rows[1:]), table
    task_table = next(t for t in tables if "a|b|c" in text_of(t))
    shown = text_of(task_table)
    for task in HOSTILE:
        assert " ".join(task.split()) in shown, task
    assert "<strong>bold" not in task_table and "<del>" not in task_table and "<code>" not in task_table
    if "```mermaid" in comment["body"]:  # a chart survives as a mermaid code block
        assert re.search(r'<pre lang="mermaid"|class="language-mermaid"', page)
    # the annotations cannot be hijacked either
    assert not re.search(r"^::(?!add-mask|group|endgroup|error|warning|notice|debug)", run.stdout, re.M)


# Each links or cross-references on GitHub as plain text; the last two look like the first without the fix.
REFERENCES = ["GH-1", "#12", "octo/demo#3", "deadbeefcafe1234567890abcdef0123456789ab", "@octocat",
              "https://evil.example", "GH\u200b-1", "GH-1\u061c"]


def test_references_and_look_alikes_render_unlinked_and_distinct(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_hostile(layout.workspace, tasks=REFERENCES)
    run = run_action(layout=layout)
    assert run.code == 1, run.log
    [comment] = [c for c in fake_github.comments[42] if c["body"].startswith(MARKER)]
    page = github_view(comment["body"])
    task_table = next(t for t in re.findall(r"<table>(.*?)</table>", page, re.S) if "GH" in t)
    assert "<a" not in task_table
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", task_table)]
    shown = [c for c in cells if "GH" in c or "#" in c or "@" in c or "dead" in c or "evil" in c]
    assert len(set(shown)) == len(REFERENCES)  # the look-alikes read differently
    text = " ".join(shown)
    assert not re.search(r"(?<![\w&])#\d|(?i:\bgh-\d)|@\w|[0-9a-f]{7}|://|[\u200b\u061c]", text), text
    assert {c.replace("\u2060", "") for c in shown} >= {"GH-1", "#12", "GH<U+200B>-1"}
