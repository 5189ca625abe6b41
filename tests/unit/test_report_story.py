"""Issue 10: the comment tells the story — checked rendered with cmark-gfm, on the motivating story's traces.

The story (tests/fixtures/story.py): 25 tasks, 10 broken by truncated answers with far fewer tokens, easy
tasks slightly better and run more often. Every number is the metrics' own; tests of data from before
issue 10 strip its fields (`before_issue_10`).
"""

from __future__ import annotations

import copy
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from kalibra_action.limits import COMMENT_BUDGET
from kalibra_action.report import story
from kalibra_action.report.json import to_dict
from kalibra_action.report.render import render_markdown, render_terminal
from tests.fixtures import report_schema
from tests.fixtures.sample import sample_result
from tests.fixtures.story import BROKEN, story_result


def gfm(text: str) -> str:
    return cmarkgfm.markdown_to_html_with_extensions(
        text, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "strikethrough", "autolink"])


class Lines(HTMLParser):
    """The rendered comment as the lines a reader sees: one per paragraph, heading, table row, summary."""

    BLOCKS: ClassVar = {"p", "h1", "h2", "h3", "h4", "tr", "summary", "li", "blockquote", "details"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.depth = 0  # <details> nesting
        self.folded: list[bool] = []  # per line: inside a <details>

    def _flush(self) -> None:
        text = " ".join("".join(self.cur).split())
        if text:
            self.lines.append(text)
            self.folded.append(self.depth > 0)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self._flush()
        if tag == "details":
            self.depth += 1
        if tag == "td":
            self.cur.append(" | ")

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self._flush()
        if tag == "details":
            self.depth -= 1

    def handle_data(self, data):
        self.cur.append(data)


def lines_of(markdown: str) -> Lines:
    parser = Lines()
    parser.feed(gfm(markdown))
    parser._flush()
    return parser


@pytest.fixture(scope="module")
def told(tmp_path_factory) -> tuple:
    result = story_result(tmp_path_factory.mktemp("story"))
    return result, render_markdown(result)


def test_the_first_screen_names_the_broken_tasks_with_their_cis_and_the_savings(told):
    result, text = told
    seen = lines_of(text)
    first = seen.lines[:25]
    screen = "\n".join(first)
    last = max(i for i, line in enumerate(first) if line.startswith(f"| {BROKEN[-1]} |"))
    assert not any(seen.folded[:last + 1])  # none of it is folded
    per_task = {i["task_id"]: i for i in result.observations["trace_breakdown"].metadata["per_task"]}
    for task in BROKEN:
        [row] = [line for line in first if line.startswith(f"| {task} |")]
        lo, hi = per_task[task]["delta_ci_pp"]
        assert f"[{round(lo):+d}, {round(hi):+d}]".replace("-", "−") in row, row
        assert row.count("%") == 3  # the task's change in median tokens, cost and duration
    assert "the savings come from the tasks that broke" in screen
    # the token saving, with the metric's own numbers: its fall and the regressed tasks' share of it
    tokens = result.observations["task_attribution"].metadata["decomposition"]["tokens"]
    fall, share = tokens["aggregate"]["change_pct"], tokens["groups"]["regressed"]["share_pct"]
    assert fall < -50 and share > 50
    said = f"tokens {fall:+.0f} %: {share:.0f} % of the drop comes from the {len(BROKEN)} significantly"
    assert said.replace("-", "\u2212") in screen.split("Quality gates")[0].replace("\u2060", ""), screen[:600]
    assert "regressed tasks" in screen.split("Quality gates")[0]  # said before the gates
    assert screen.index("Quality gates") < screen.index(f"| {BROKEN[0]} |")


def test_structure_rendered_regressed_section_before_any_details(told):
    _, text = told
    out = gfm(text)
    assert "<table>" in out and out.count("<details>") >= 1
    first_details = out.index("<details")
    regressed = out.index("<h4>Regressed tasks")
    assert regressed < first_details
    assert out.index("<h3>Quality gates") < regressed
    # nothing of the Markdown source leaks as text: no table pipes, emphasis or headings unrendered
    visible = re.sub(r"<code>.*?</code>", "", out, flags=re.S)
    text_only = html.unescape(re.sub(r"<[^>]+>", "", visible))
    assert not re.search(r"^\s*\|.*\|\s*$|\*\*|^#{1,6} |^\|?-{3}", text_only, re.M), text_only[:400]
    assert out.count("<details") == out.count("</details>")


def test_where_the_change_came_from_adds_up(told):
    result, text = told
    section = text[text.index("### Where the change came from"):text.index("### Metrics")]
    parts = result.observations["task_attribution"].metadata["decomposition"]["tokens"]
    reg = parts["groups"]["regressed"]
    row = next(line for line in section.splitlines() if line.startswith("| Tokens |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4].startswith(f"−{abs(reg['contribution']):,.0f} ({reg['share_pct']:.0f} %)")
    assert "10 tasks" in cells[4] and "15 tasks" in cells[5]


def test_more_than_ten_regressed_tasks_fold_the_rest(tmp_path):
    result = sample_result(n_regressed=40)
    for item in result.observations["trace_breakdown"].metadata["per_task"]:
        if item["task_id"].startswith("task-"):  # 4/4 → (i % 4)/4: make every drop significant
            item["verdict"] = "regressed" if item["delta_pp"] < 0 else item["verdict"]
    text = render_markdown(result)
    seen = lines_of(text)
    top = [line for line, folded in zip(seen.lines, seen.folded, strict=True)
           if line.startswith("| task-") and not folded]
    assert len(top) == story.TOP_REGRESSED
    assert all("−100" in line for line in top)
    assert "<summary>30 more regressed tasks</summary>" in text


def before_issue_10(result):
    """`result` as data from before issue 10: the per-task items without their CI and medians (the real
    trace_breakdown metric now gives both), and no task_attribution observation."""
    for item in result.observations["trace_breakdown"].metadata.get("per_task", []):
        for key in ("delta_ci_pp", "ci_method", "medians"):
            item.pop(key, None)
    result.observations.pop("task_attribution", None)
    return result


def test_absent_contract_fields_degrade_cleanly():
    """Data from before issue 10: no headline, no attribution section, CIs and medians as n/a."""
    text = render_markdown(before_issue_10(sample_result()))
    assert "⚠️" not in text.split("### Quality gates")[0]
    assert "### Where the change came from" not in text
    head = next(line for line in text.splitlines() if line.startswith("| Task | Baseline k/n |"))
    assert head == "| Task | Baseline k/n | Current k/n | Change (pp) | q |"  # no column of n/a
    row = next(line for line in text.splitlines() if line.startswith("| task-00000 |"))
    assert row == "| task-00000 | 4/4 | 0/4 | **−100** | 0.078 |"
    assert "━" not in text and "Change per task\n" in text  # the chart shows the points only
    assert lines_of(text).lines  # renders


def test_the_chart_is_folded_only_past_25_tasks():
    few = render_markdown(sample_result(n_regressed=3))
    assert "#### Change per task with its 95% CI\n" in few and "<summary>Chart:" not in few
    many = render_markdown(sample_result(n_regressed=30))
    assert "<summary>Chart: change per task with its 95% CI (31 tasks" in many
    assert "#### Change per task" not in many


@pytest.mark.parametrize(("delta", "ci", "expected"), [
    (0.0, None, "············●············"),
    (-50.0, (-100.0, -25.0), "━━━━━━●━━━··│············"),
    (80.0, (60.0, 200.0), "············│······━━━●━━"),  # clamped at the scale's edge
])
def test_range_bar(delta, ci, expected):
    assert story.range_bar(delta, ci, 100) == expected


def test_range_bar_marks_zero_the_interval_and_the_point():
    bar = story.range_bar(-30, (-45, -12), 50)
    assert len(bar) == story.BAR_WIDTH and bar[story.BAR_WIDTH // 2] == "│"
    assert bar.index("●") < bar.index("│") and set(bar) == {"·", "━", "●", "│"}
    assert bar.index("━") < bar.index("●") < bar.rindex("━") < bar.index("│")


def test_hostile_task_ids_and_texts_stay_inert(told):
    result, _ = told
    result = copy.deepcopy(result)
    per_task = result.observations["trace_breakdown"].metadata["per_task"]
    per_task[0]["task_id"] = "x | `y` <img src=x> @octocat **b** [l](https://e.vil)"
    per_task[0]["delta_ci_pp"] = ["-5", float("nan")]  # not numbers: shown as n/a, never crash
    per_task[1]["medians"] = {"tokens": {"delta_pct": "lots"}, "cost": None}
    broken = result.observations["task_attribution"].metadata["savings_from_broken"]
    broken["text"] = "<script>x</script> @all"
    out = gfm(render_markdown(result))
    assert "<img" not in out and "<script" not in out and 'href="https://e.vil' not in out
    assert "@octocat" not in html.unescape(out)  # a word joiner splits the mention
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", out, re.S) if "octocat" in r]
    assert rows and all(r.count("<td") in (4, 8, 9) for r in rows)


def test_thousands_of_regressed_tasks_fit_the_comment_budget():
    result = sample_result(n_regressed=3000)
    for item in result.observations["trace_breakdown"].metadata["per_task"]:
        if item["delta_pp"] < 0:
            item["verdict"], item["delta_ci_pp"] = "regressed", [-99.0, -1.0]
            item["medians"] = {m: {"baseline": 1.0, "current": 0.5, "delta_pct": -50.0}
                               for m in ("tokens", "cost", "duration")}
    text = render_markdown(result)
    assert len(text) <= COMMENT_BUDGET
    assert "#### Regressed tasks" in text and text.count("<details") == text.count("</details>")


def test_terminal_tells_the_same_story(told):
    result, _ = told
    text = render_terminal(result)
    assert "\x1b[" not in text
    head = text[:text.index("Metrics")]
    assert "the savings come from the tasks that broke" in head
    for task in BROKEN:
        assert re.search(rf"{task}\s+45/50\s+7/20\s+−55\s+\[−\d+, −\d+\]", head), task
    assert "Where the change came from" in head
    coloured = render_terminal(result, color=True)
    assert "\x1b[1m" in coloured and "\x1b[33m" in coloured


def test_every_report_validates_and_a_renamed_field_does_not(told):
    result, _ = told
    data = to_dict(result)
    assert data["schema_version"] == 1
    report_schema.check(data)
    report_schema.check(to_dict(sample_result(per_task=False)))
    for path, new in ((("metrics", "trace_breakdown", "metadata", "per_task", 0), "delta_ci"),
                      (("gates", 0), "actuals"), (("baseline",), "cnt"), ((), "schemaVersion")):
        broken = copy.deepcopy(data)
        node = broken
        for key in path:
            node = node[key]
        old = {"delta_ci": "delta_ci_pp", "actuals": "actual", "cnt": "count",
               "schemaVersion": "schema_version"}[new]
        node[new] = node.pop(old)
        assert report_schema.errors(broken), (path, new)


def test_the_schema_file_is_valid_json_schema():
    assert report_schema.validator()
    assert Path(report_schema.SCHEMA).read_text(encoding="utf-8").strip().startswith("{")


def _flags(result, *, broken: dict | None, mix: dict | None):
    result = copy.deepcopy(result)
    result.observations["task_attribution"].metadata["savings_from_broken"] = broken
    result.observations["success_rate"].metadata["mix_shift"] = mix
    return result


def test_the_headline_says_only_what_is_flagged(told):
    result, _ = told

    def head(r) -> str:  # what is said between the title (its icon is the gates' verdict) and the gates
        text = render_markdown(r)
        return text[text.index("\n"):text.index("### Quality gates")]

    quiet = head(_flags(result, broken={"flag": False, "text": "x"}, mix={"flag": False, "text": "y"}))
    assert "⚠️" not in quiet and "> " not in quiet
    mix_only = head(_flags(result, broken=None, mix={"flag": True, "pooled_delta_pp": 1.3,
                                                       "task_weighted_delta_pp": -14.2}))
    assert "pooled change +1.3 pp, task-weighted −14.2 pp" in html.unescape(mix_only).replace("\u2060", "")
    assert "the task mix differs" in mix_only and "broke" not in mix_only
    built = head(_flags(result, broken={"flag": True, "metric": "cost", "share_pct": 83.4, "n_regressed": 4},
                        mix={"flag": "yes"}))  # a flag must be true, not truthy
    assert "cost&#58;&#8288; 83 % of the drop comes from the 4 regressed tasks" in built
    assert "task mix" not in built


def test_significant_improvements_are_folded(told):
    result, _ = told
    result = copy.deepcopy(result)
    item = next(i for i in result.observations["trace_breakdown"].metadata["per_task"]
                if i["task_id"].startswith("easy-"))
    item["verdict"], item["q"] = "improved", 0.04
    out = gfm(render_markdown(result))
    at = out.index("<summary>Improved significantly (1)</summary>")
    assert out.rfind("<details>", 0, at) > out.index("<h4>Regressed tasks")
    assert f"<td>{item['task_id']}</td>" in out[at:out.index("</details>", at)]


@pytest.mark.parametrize(("block", "piece"), [
    ("story", "the savings come from the tasks that broke"),
    ("regressed_tasks", "#### Regressed tasks"),
    ("all_tasks", "<summary>Per-task table"),
    ("attribution", "### Where the change came from"),
])
def test_each_new_block_replaces_its_section_only(told, tmp_path, block, piece):
    result, text = told
    assert text.count(piece) == 1
    tpl = tmp_path / "comment.md.j2"
    tpl.write_text(f'{{% extends "markdown.md.j2" %}}{{% block {block} %}}<<{block}>>\n{{% endblock %}}')
    custom = render_markdown(result, template=tpl, root=tmp_path)
    assert f"<<{block}>>" in custom and piece not in custom
    assert "### Quality gates" in custom and "### Metrics" in custom


def test_decomposition_shows_new_and_missing_only_when_present(told):
    result, _ = told
    result = copy.deepcopy(result)
    parts = result.observations["task_attribution"].metadata["decomposition"]
    assert "| Metric | Baseline | Current | Change | Regressed tasks | Unchanged tasks | Improved tasks |\n" \
        in render_markdown(result)
    parts["success_rate"] = {"aggregate": {"baseline": 0.876, "current": 0.824, "change": -0.052,
                                           "change_pct": -5.9},
                             "quantity": "pooled pass rate",
                             "groups": {"regressed": {"tasks": 10, "contribution": -0.07, "share_pct": 134.6},
                                        "unchanged": {"tasks": 14, "contribution": 0.02, "share_pct": -38.5},
                                        "new": {"tasks": 1, "contribution": -0.002, "share_pct": 3.9}}}
    text = render_markdown(result)
    row = next(line for line in text.splitlines() if line.startswith("| Success rate | 87.6% |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:] == ["82.4%", "**−5.2 pp** (−6%)", "−7.0 pp (135 %) · 10 tasks",
                         "+2.0 pp (−38 %) · 14 tasks", "—", "−0.2 pp (4 %) · 1 task", "—"]
    note = text[text.index("<sub>Each task group's contribution"):]
    note = note[:note.index("</sub>")]
    # each quantity as the metric names it, grouped by quantity
    for said in ("Tokens: mean tokens per trace", "Cost: mean cost per trace",
                 "Duration: mean duration per trace &#40;seconds&#41;", "Success rate: pooled pass rate"):
        assert said in note, note


def test_the_task_weighted_success_rate_sits_beside_the_pooled_one(told):
    from kalibra_action.result import FieldValue

    result, _ = told
    result = copy.deepcopy(result)
    sr = result.observations["success_rate"]
    sr.fields["task_weighted_success_rate"] = FieldValue(63.2)
    sr.fields["task_weighted_success_rate_delta"] = FieldValue(-19.8, True, True, (-27.5, -12.1))
    text = render_markdown(result)
    assert ("- **Success rate:** task-weighted (each task counts once): 63.2%, change −19.8 pp "
            "[−27.5, −12.1] pp; `success_rate_delta` gates on the pooled change") in text


def test_an_unchanged_task_is_charted_only_with_its_interval():
    result = sample_result()
    per_task = result.observations["trace_breakdown"].metadata["per_task"]
    steady = next(i for i in per_task if i["task_id"] == "steady-00000")
    lo, hi = steady["delta_ci_pp"]  # the metric's own interval for 3/4 → 3/4
    assert 46 < -lo < 54 and 46 < hi < 54
    next(i for i in per_task if i["task_id"] == "steady-00001").pop("delta_ci_pp")  # a task without one
    text = render_markdown(result)
    chart = text[text.index("#### Change per task"):text.index("<sub>● the change")]
    # scale ±100 pp (other tasks moved 100 pp) over 25 columns: ±46..54 pp spans columns 6 to 18, zero is 12
    ci = f"[{round(lo):+d}, {round(hi):+d}]".replace("-", "−")
    assert f"| — steady-00000 | 0 | {ci} | `······━━━━━━●━━━━━━······` |" in chart
    assert "steady-00001" not in chart  # no interval: nothing to draw but a dot at zero


def test_a_pooled_report_validates_and_its_renamed_keys_do_not(tmp_path):
    """The history key (issue 12) and the flags' shapes are in the schema, strictly: a pooled report with a
    flaky task validates, and renaming any of its keys does not."""
    import json

    from tests.fixtures.cli import call

    def write(name: str, flip: int) -> str:
        # the task id is the trace id's prefix before "__"
        rows = [{"trace_id": f"{t}__{name}__{r}", "outcome": "success" if t != "flip" or r < flip
                 else "failure", "input_tokens": 100, "output_tokens": 10} for t in
                [f"task-{i}" for i in range(10)] + ["flip"] for r in range(4)]
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")
        return str(path)

    runs = [a for i in range(8) for a in ("--baseline-run", write(f"run{i}", 4 if i % 2 == 0 else 0))]
    code, out, err = call("compare", "--format", "json", "-q", *runs, write("cur", 0))  # validates
    assert code in (0, 1), err
    data = json.loads(out)
    assert data["history"]["flaky_tasks"] == ["flip"]
    per_task = data["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert next(i for i in per_task if i["task_id"] == "flip")["flaky"] is True
    for path, old in ((("history",), "n_flaky"), (("history", "runs", 0), "pooled"),
                      (("history", "mde_pp"), "one_run"), ((), "history"),
                      (("metrics", "trace_breakdown", "metadata", "per_task"), "flaky"),
                      (("metrics", "task_attribution", "metadata", "savings_from_broken"), "shares"),
                      (("metrics", "success_rate", "metadata", "mix_shift"), "difference_ci_95")):
        broken = copy.deepcopy(data)
        node = broken
        for key in path:
            node = node[key]
        if old == "flaky":  # the flaky task's item
            node = next(i for i in node if "flaky" in i)
        node[old + "_renamed"] = node.pop(old)
        assert report_schema.errors(broken), (path, old)


def test_the_ci_methods_line_names_the_cluster_robust_interval(told):
    result, text = told
    assert result.observations["success_rate"].metadata["ci_method"] == "cluster-tasks"
    note = html.unescape(next(line for line in text.splitlines() if line.startswith("<sub>95% CIs"))).replace(
        "\u2060", "")
    assert "Success rate: cluster-robust over 25 tasks (runs of a task as one cluster)" in note, note
    assert "cluster-tasks" not in note
