"""The per-task part of the report: the table, the chance / untestable sentences, gate notes, the Mermaid
chart, metric notes (BCa, mean vs median, paired) and the starter kalibra.yml."""

from __future__ import annotations

import html
import re
from pathlib import Path

import cmarkgfm
import pytest
import yaml
from cmarkgfm.cmark import Options

from kalibra_action.report import format as fmt
from kalibra_action.report import mermaid
from kalibra_action.report.context import Caps, build
from kalibra_action.report.render import render_markdown, render_starter_config, render_terminal
from kalibra_action.result import FieldValue, GateStatus
from tests.fixtures import oracle
from tests.fixtures.oracle import per_task_expected
from tests.fixtures.sample import design, sample_result
from tests.unit.test_report_render import SAFE_TAGS, details_balanced, parse

TABLE_HEAD = "| Task | Baseline k/n | Current k/n | Change (pp) | 95% CI (pp) | p | q | Verdict |"
# The Mermaid chart (`tasks.chart`) is for custom templates now; the built-in one draws ranges with CIs.
MERMAID = ('{% extends "markdown.md.j2" %}{% block all_tasks %}{{ super() }}'
           "<details><summary>Chart: change per task</summary>\n\n```mermaid\n{{ tasks.chart }}\n```\n\n"
           "</details>\n\n{% endblock %}")


def with_mermaid(result, tmp_path: Path, **kw) -> str:
    """The comment of a custom template that adds the Mermaid chart back."""
    (tmp_path / "mermaid.md.j2").write_text(MERMAID)
    return render_markdown(result, template=tmp_path / "mermaid.md.j2", root=tmp_path, **kw)


def gfm(text: str, *, pre_lang: bool = False) -> str:
    opts = Options.CMARK_OPT_UNSAFE | (Options.CMARK_OPT_GITHUB_PRE_LANG if pre_lang else 0)
    return cmarkgfm.markdown_to_html_with_extensions(text, options=opts,
                                                     extensions=["table", "strikethrough", "autolink"])


def ci(bk: int, bn: int, ck: int, cn: int) -> str:
    """A task's 95 % CI cell, from the independent Newcombe interval (tests/fixtures/oracle.py)."""
    return fmt.ci(oracle.newcombe_pp(bk, bn, ck, cn), "", 0)


def expected(n_regressed: int = 3, n_untestable: int = 0) -> dict:
    """The sample's per-task numbers worked out by the independent oracle (not by the code under test)."""
    ids = [f"task-{i:05d}" for i in range(n_regressed)]
    return per_task_expected(design(ids, n_untestable, max(20, n_regressed + n_untestable + 1)))


def no_significant(r):
    """The sample with every significant regression turned into a non-significant drop."""
    tb = r.observations["trace_breakdown"]
    for row in tb.metadata["per_task"]:
        if row["verdict"] == "regressed":
            row["verdict"], row["q"] = "unchanged", 0.2
    tb.fields["significant_regressions"] = FieldValue(0.0)
    return r


def section(text: str) -> str:
    """The folded table of every changed task."""
    part = text[text.index("<summary>Per-task table"):text.index("### Metrics")]
    head = text[text.index("### Per-task results"):text.index("#### Regressed")]
    return head + part[:part.index("</details>")]


def test_per_task_table_headline_and_sentences() -> None:
    # 20 tasks: 4/4 → 0/4, 1/4, 2/4; two 2/2 → 1/2; 0/4 → 4/4; 14 steady 3/4 → 3/4. Only the extreme
    # tables are significant: p = 2^-8 in either direction, q = 20 · 2^-8 ≈ 0.078 ≤ 0.10.
    ex = expected(n_untestable=2)
    text = render_markdown(sample_result(n_untestable=2))
    part = section(text)
    assert "**1 task regressed significantly**, **1** improved significantly" in part
    assert (f"5 naive regressions (Kalibra's count), about {ex['chance']:.1f} expected by chance; "
            "1 significant at FDR 0.10.") in part
    assert (f"**2 untestable tasks:** 2 runs a side can never reach significance; about {ex['runs']} runs a "
            "side are needed to detect a 30 pp drop.") in part
    assert TABLE_HEAD in part
    rows = re.findall(r"^\| (?!Task |---)(.*) \|$", part, re.M)
    assert [r.split(" | ")[0] for r in rows] == [  # significant drops, other drops, rises
        "task-00000", "task-00001", "task-00002", "flaky-0", "flaky-1", "improved-1"]
    p, q = fmt.pvalue(ex["p_reg"]["task-00000"]), fmt.pvalue(ex["q_reg"]["task-00000"])
    assert (p, q) == (fmt.pvalue(2**-8), fmt.pvalue(20 * 2**-8))
    assert rows[0] == f"task-00000 | 4/4 | 0/4 | −100 | {ci(4, 4, 0, 4)} | {p} | {q} | ▼ **regressed**"
    assert rows[1].endswith("| ▽ not significant")
    # 2/2 → 1/2: the region is the tables 2/2 → 0/2, 2/2 → 1/2, 1/2 → 0/2, probability
    # π²(1−π)² + 2π³(1−π) + 2π(1−π)³, symmetric in π and largest at ½: 1/16 + 2/16 + 2/16 = 5/16
    assert ex["p_reg"]["flaky-0"] == pytest.approx(5 / 16, rel=1e-9)
    p, q = fmt.pvalue(5 / 16), fmt.pvalue(ex["q_reg"]["flaky-0"])
    assert rows[3] == (f"flaky-0 | 2/2 | 1/2 | −50 | {ci(2, 2, 1, 2)} | {p} | {q} | "
                       "▽ not significant (untestable)")
    assert rows[5].endswith("| ▲ improved")
    doc = parse(text)
    assert set(doc.tags) <= SAFE_TAGS
    assert all(len(set(t)) == 1 for t in doc.tables)
    assert details_balanced(text)


def test_headline_when_nothing_is_significant_and_gate_note_names_the_alternative() -> None:
    r = no_significant(sample_result())
    chance = expected()["chance"]
    text = render_markdown(r)
    assert "**No task regressed significantly**" in text
    assert (f"3 naive regressions (Kalibra's count), about {chance:.1f} expected by chance; "
            "0 significant") in text
    row = next(line for line in text.splitlines() if line.startswith("| regressions &#60;&#61; 2 |"))
    assert (f"❌ **FAIL** (the count is within what chance produces (≈{chance:.1f} expected); consider "
            "`significant_regressions <= 0`) |") in row
    assert "<code>significant_regressions &lt;= 0</code>" in gfm(text)
    term = render_terminal(r)
    assert "consider `significant_regressions <= 0`" in term
    # a passing regressions gate gets no such advice; nor does a gate on another field
    r.gates[2].status, r.gates[2].passed = GateStatus.PASS, True
    assert "consider `significant_regressions" not in render_markdown(r)


def test_gate_note_without_per_task_data_is_absent() -> None:
    text = render_markdown(sample_result(per_task=False))
    assert "| regressions &#60;&#61; 2 | 3 | ❌ **FAIL** |" in text
    assert "### Regressed tasks" in text and "```mermaid" not in text and "Per-task results" not in text


def test_mde_footnote_and_underpowered_flag() -> None:
    text = render_markdown(sample_result())
    assert "MDE ±17.5 pp" in text and "MDE ±6%" in text
    assert "underpowered: the threshold is below what this sample can detect" in text
    assert "80% power" in text


def test_older_or_partial_per_task_data_renders() -> None:
    r = sample_result()
    tb = r.observations["trace_breakdown"]
    tb.metadata["per_task"] = [
        {"task_id": "bare", "baseline": {"success": 3, "total": 3}, "current": {"success": 1, "total": 3}},
        {"task_id": "nan", "baseline": {"success": 3, "total": 3}, "current": {"success": 2, "total": 3},
         "p": float("nan"), "q": None, "verdict": "weird"},
        "not a mapping",
    ]
    older = ("n_tested", "significant_regressions", "significant_improvements", "n_significant_regressions",
             "n_significant_improvements", "n_untestable")  # keys older data does not have
    for key in older:
        tb.metadata.pop(key)
    tb.metadata["untestable"] = ["bare"]  # a list of ids instead of a count
    del tb.metadata["expected_regressions"], tb.fields["expected_regressions"], tb.fields["untestable_tasks"]
    tb.metadata.pop("fdr")
    text = render_markdown(r)
    assert "| bare | 3/3 | 1/3 | −66.7 | n/a | n/a | ▽ not tested |" in text
    assert "| nan | 3/3 | 2/3 | −33.3 | n/a | n/a | ▽ not tested |" in text
    assert "3 naive regressions (Kalibra's count); 1 significant." in text
    assert "**1 untestable task:** too few runs to ever reach significance." in text
    assert details_balanced(text)
    render_terminal(r)


def test_only_regressions_and_significant_rises_unless_verbose() -> None:
    r = sample_result()
    tb = r.observations["trace_breakdown"]
    tb.metadata["per_task"].append({"task_id": "slightly-up", "baseline": {"success": 3, "total": 4},
                                    "current": {"success": 4, "total": 4}, "delta_pp": 25.0, "p": 0.4,
                                    "q": 0.9, "verdict": "unchanged", "naive": "improved"})
    assert "| slightly-up |" not in render_markdown(r)  # (the chart still shows it)
    row = "| slightly-up | 3/4 | 4/4 | +25 | n/a | 0.40 | 0.90 | △ not significant |"  # an item without a CI
    assert row in render_markdown(r, verbose=True)
    verbose = render_markdown(r, verbose=True)
    table = verbose[verbose.index("<summary>Per-task table"):]
    table = table[:table.index("</details>")]
    assert "| slightly-up |" in table and "steady-" not in table  # unchanged tasks are never listed
    assert "steady-" not in verbose.split("#### Change per task")[0]  # (the CI chart draws their ranges)


def test_without_trace_breakdown() -> None:
    r = sample_result()
    del r.observations["trace_breakdown"]
    text = render_markdown(r, verbose=True)
    assert "Per-task results" not in text and "Regressed tasks" not in text and "```mermaid" not in text
    assert "| regressions &#60;&#61; 2 | 3 | ❌ **FAIL** |" in text
    assert "Tasks" not in render_terminal(r)


def test_missing_and_new_tasks_line() -> None:
    r = sample_result()
    tb = r.observations["trace_breakdown"]
    tb.fields["missing_tasks"], tb.fields["new_tasks"] = FieldValue(2.0), FieldValue(1.0)
    assert "2 tasks only in the baseline, 1 only in current (not tested)." in render_markdown(r)


# ---- the Mermaid chart ----------------------------------------------------------------------------

HOSTILE = ['a"b', "x`y", "```", "~~~", "</details>", "<script>alert(1)</script>", "a[1], b]",
           "%%{init: {}}%%", "#quot;", "semi;colon", "line\nbreak\n```\n# head", "x-axis [1]", "bar [1, 2]",
           "é中文-ok", "",
           "a" * 200, "a" * 200 + "b", "@octocat", "\\", "--> 5"]
LINE = {
    "x": re.compile(r'^    x-axis \[("[^"`%#{};\[\],\n]*")(, "[^"`%#{};\[\],\n]*")*\]$'),
    "y": re.compile(r'^    y-axis "[^"]*" 0 --> \d+$'),
    "bar": re.compile(r"^    bar \[\d+\.\d(, \d+\.\d)*\]$"),
}


def chart_of(text: str) -> str:
    m = re.search(r"^```mermaid\n(.*?)\n```$", text, re.S | re.M)
    assert m is not None
    return m.group(1)


def check_chart(source: str) -> list[str]:
    lines = source.split("\n")
    assert len(lines) == 5 and lines[0] == "xychart-beta"
    assert re.fullmatch(r'    title "[^"`%#{}]*"', lines[1])
    assert LINE["x"].match(lines[2]), lines[2]
    assert LINE["y"].match(lines[3]) and LINE["bar"].match(lines[4])
    labels = re.findall(r'"([^"]*)"', lines[2])
    assert len(labels) == len(set(labels)) == lines[4].count(",") + 1
    assert all(0 < len(lab) <= mermaid.LABEL_MAX + 6 for lab in labels)
    return labels


def test_chart_is_a_mermaid_code_block_inside_details(tmp_path: Path) -> None:
    text = with_mermaid(sample_result(), tmp_path)
    block = text[text.index("<details><summary>Chart"):]
    block = block[: block.index("</details>")]
    assert "```mermaid\nxychart-beta\n" in block
    labels = check_chart(chart_of(text))
    assert labels == ["▼ task-00000 *", "▼ task-00001", "▼ task-00002", "▲ improved-1 *"]
    assert "bar [100.0, 75.0, 50.0, 100.0]" in text
    for pre_lang in (False, True):
        out = gfm(text, pre_lang=pre_lang)
        assert ('<pre lang="mermaid"><code>' if pre_lang else '<code class="language-mermaid">') in out
        assert out.count("<pre") == 1
        code = re.search(r"<code[^>]*>(.*?)</code>", out[out.index("<pre"):], re.S).group(1)
        assert html.unescape(code).rstrip("\n") == chart_of(text)
        assert out.count("<details") == out.count("</details>")
        assert out.index("<pre") > out.index("Chart: change per task")


def test_hostile_task_ids_cannot_break_the_chart_or_the_fence(tmp_path: Path) -> None:
    r = sample_result(task_ids=HOSTILE)
    text = with_mermaid(r, tmp_path)
    labels = check_chart(chart_of(text))
    assert len(labels) == len(HOSTILE) + 1
    bare = [lab.removesuffix(" *") for lab in labels]
    assert "▼ é中文-ok" in bare and "▼ task" in bare  # an empty id still gets a label
    assert len([lab for lab in labels if lab.startswith("▼ aaaa")]) == 2  # long ids stay distinct
    assert text.count("```") == 2  # one fence open, one close: no id added a fence
    out = gfm(text)
    assert out.count("<pre") == 1 and out.count("<details") == out.count("</details>")
    assert details_balanced(text)
    doc = parse(text)
    assert set(doc.tags) <= SAFE_TAGS - {"a"} and "script" not in doc.tags
    assert all(len(set(t)) == 1 for t in doc.tables)
    assert "x`y" in html.unescape(out.replace("\u2060", ""))  # the table still shows the real id


def test_chart_picks_at_most_30_largest_changes_regressions_first(tmp_path: Path) -> None:
    r = sample_result(n_regressed=50)
    ex = expected(n_regressed=50)
    labels = check_chart(chart_of(with_mermaid(r, tmp_path, verbose=True)))
    assert len(labels) == 30

    def label(task: str, arrow: str = "▼") -> str:
        q = ex["q_reg" if arrow == "▼" else "q_imp"][task]
        return f"{arrow} {task}" + (" *" if q <= 0.10 else "")

    # 13 tasks dropped 4/4 → 0/4 (q = 52/13 · 2^-8, significant), then the 13 drops 4/4 → 1/4, then the
    # 50 pp drops fill up to 29; the one rise 0/4 → 4/4 comes last (q = 52 · 2^-8 ≈ 0.2: not significant)
    assert labels[:13] == [f"▼ task-{i:05d} *" for i in range(0, 50, 4)]
    assert labels[13:26] == [label(f"task-{i:05d}") for i in range(1, 50, 4)]
    assert all(lab.startswith("▼") for lab in labels[:29]) and labels[29] == label("improved-1", "▲")
    assert labels[29] == "▲ improved-1"
    ctx = build(r)["tasks"]
    assert (ctx["chart_bars"], ctx["n_changed"]) == (30, 51)


def test_chart_scale_and_budget() -> None:
    rows = [{"task_id": "a", "_delta": -12.5, "significant": False, "_p": 0.3},
            {"task_id": "b", "_delta": 0.0, "significant": False, "_p": 1.0},
            {"task_id": "c", "_delta": float("nan"), "significant": False, "_p": 1.0}]
    src = mermaid.bar_chart(rows)
    assert src.endswith('    y-axis "size of the change (pp)" 0 --> 20\n    bar [12.5]')
    assert mermaid.bar_chart(rows[1:]) == ""
    assert build(sample_result(), caps=Caps(0))["tasks"]["chart"] == ""
    assert len(build(sample_result(n_regressed=40), caps=Caps(5))["tasks"]["chart"].split(", ")) > 1


@pytest.mark.parametrize(("raw", "expected"), [
    ('a"b', "a_b"), ("x`y`z", "x_y_z"), ("[1], 2", "1_2"), ("%%{init}%%", "init"), ("#quot;", "quot"),
    ("   ", "task"), ("a/b.c-d+e_f", "a/b.c-d+e_f"), ("x" * 40, "x" * 17 + "…"), ("é中", "é中"),
    ("a\u202eb", "ab"), ("a  b", "a b"),
])
def test_mermaid_label(raw: str, expected: str) -> None:
    assert mermaid.label(raw) == expected


# ---- metrics: BCa, mean vs median, paired ---------------------------------------------------------

def test_metric_notes_bca_mean_and_paired() -> None:
    text = render_markdown(sample_result())
    assert "| Duration &#40;median&#41; | 7.63 s | 7.72 s | +1.2% | [−3.2, +5.0]% | — unchanged |" in text
    assert ("- **Duration &#40;median&#41;:** mean +9.8% [+2.1, +17.5]% is significant but the median's "
            "change is not") in text
    assert ("- **Cost &#40;median&#41;:** paired by task over 20 tasks: −41.2% [−47.9, −33.8]%") in text
    assert "t-interval over 20 per-task changes" in text and "BCa bootstrap" in text
    term = render_terminal(sample_result())
    assert "Duration (median): mean +9.8%" in term and "95% CIs: " in term


def test_metric_without_new_keys_falls_back_to_kalibra_ci() -> None:
    r = sample_result(per_task=False)
    for obs in r.observations.values():
        for key in ("ci_95_bca", "mean_ci_95", "paired_ratio_pct", "ci_method"):
            obs.metadata.pop(key, None)
    r.observations["cost"].fields = {}
    text = render_markdown(r)
    assert "| Cost &#40;median&#41; | $0.0357 | $0.0213 | −40.5% | [−53.9, −20.3]% | ▲ improved |" in text
    assert "paired by task" not in text and "95% CIs" not in text


def test_mean_not_significant_while_median_is() -> None:
    r = sample_result()
    r.observations["cost"].metadata["mean_ci_95"] = [-60.0, 4.0]
    text = render_markdown(r)
    assert "mean −39.1% [−60.0, +4.0]% is not significant although the median's change is" in text


# ---- terminal -------------------------------------------------------------------------------------

def test_terminal_per_task() -> None:
    ex = expected(n_untestable=1)
    text = render_terminal(sample_result(n_untestable=1))
    assert "Tasks  1 regressed significantly, 1 improved significantly (FDR 0.10)" in text
    assert f"4 naive regressions (Kalibra's count), about {ex['chance']:.1f} expected by chance" in text
    assert f"1 untestable: 2 runs a side can never reach significance; about {ex['runs']} runs a side" in text
    assert re.search(r"task\s+baseline\s+current\s+change pp\s+95% CI\s+p\s+q\s+verdict\s+"
                     r"−100 pp ← 0 → \+100 pp", text)
    assert re.search(rf"task-00000\s+4/4\s+0/4\s+−100\s+{re.escape(ci(4, 4, 0, 4))}\s+0\.0039\s+0\.\d+\s+"
                     r"▼ regressed\s+●━+·+│", text)
    assert f"(1 significant at FDR 0.10, ≈{ex['chance']:.1f} expected by chance)" in text


# ---- numbers --------------------------------------------------------------------------------------

def test_pvalue_and_change_filters() -> None:
    assert [fmt.pvalue(x) for x in (0.00001, 0.0039, 0.038, 0.16, 0.5, 0.999, None, -1, float("nan"))] == [
        "<0.0001", "0.0039", "0.038", "0.16", "0.50", "1", "n/a", "n/a", "n/a"]
    assert [fmt.change(x) for x in (-100.0, 33.333, -0.01, 0, None)] == ["−100", "+33.3", "0", "0", "n/a"]


def test_p_below_1e4_is_escaped_in_markdown() -> None:
    r = sample_result()
    r.observations["trace_breakdown"].metadata["per_task"][0]["p"] = 1e-9
    text = render_markdown(r)
    assert "| &#60;0.0001 |" in text and "<0.0001" in html.unescape(gfm(text))


# ---- the starter kalibra.yml ----------------------------------------------------------------------

def test_starter_config_gates_use_significant_fields() -> None:
    from kalibra_action.gates import parse_gates
    from kalibra_action.metrics import all_fields

    data = yaml.safe_load(render_starter_config("base.jsonl", "cur.jsonl"))
    assert data["require"] == ["significant_regressions <= 0", "success_rate_delta_lo >= -10",
                               "cost_delta_pct_lo <= 30"]
    gates = parse_gates(data["require"], all_fields())  # every field is registered by the metrics
    assert [g.field for g in gates] == ["significant_regressions", "success_rate_delta_lo",
                                        "cost_delta_pct_lo"]
    assert data["per_task"] == {"fdr": 0.10}
    assert data["on_inconclusive"] == "warn"


def test_starter_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kalibra_action.config import load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "kalibra.yml").write_text(render_starter_config("base.jsonl", "cur.jsonl"))
    config = load_config("kalibra.yml", required=True)
    assert config.require[0].expr == "significant_regressions <= 0" and config.on_inconclusive == "warn"
    # until config.py knows `per_task`, it is an unknown-key warning — never an error
    assert all("per_task" in w for w in config.warnings)


# ---- the shared OTel GenAI example: which of Kalibra's 14 "regressions" are significant -----------

def test_otel_genai_example_names_the_significant_regressions(examples: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kalibra_action.run import RunRequest, execute

    (tmp_path / "examples").symlink_to(examples)  # the config's paths are relative to examples/..
    monkeypatch.chdir(tmp_path)
    result = execute(RunRequest(config_path="examples/otel_genai/kalibra.yml", config_required=True,
                                metrics=("success_rate", "token_usage", "trace_breakdown"),
                                resamples=200))
    text = render_markdown(result)
    assert "14 naive regressions (Kalibra's count)" in text
    assert "**14 tasks regressed significantly**" in text and "; 14 significant at FDR 0.10." in text
    cell = re.escape(ci(4, 4, 0, 4))
    regressed = re.findall(rf"^\| ([a-z]+) \| 4/4 \| 0/4 \| −100 \| {cell} \| [^|]+ \| [^|]+ \| "
                           r"▼ \*\*regressed\*\* \|$", text, re.M)
    assert len(regressed) == 14
    gate = next(line for line in text.splitlines() if line.startswith("| regressions &#60;&#61; 2"))
    assert "14 significant at FDR 0.10" in gate
    check_chart(build(result)["tasks"]["chart"])
