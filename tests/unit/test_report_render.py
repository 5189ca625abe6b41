"""Markdown and terminal rendering on hand-built Results: content, GFM validity, size budget, sandbox."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from kalibra_action.errors import InputError
from kalibra_action.report import format as fmt
from kalibra_action.report.render import (
    hard_cut,
    render_markdown,
    render_starter_config,
    render_summary,
    render_terminal,
)
from kalibra_action.result import Direction, GateStatus
from tests.fixtures.oracle import newcombe_pp, per_task_expected
from tests.fixtures.sample import design, sample_result


def gfm(text: str) -> str:
    return cmarkgfm.markdown_to_html_with_extensions(
        text, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "strikethrough", "autolink"])


class Doc(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.tables: list[list[int]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href", ""))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markdown: str) -> Doc:
    d = Doc()
    d.feed(gfm(markdown))
    return d


def details_balanced(text: str) -> bool:
    depth = 0
    for m in re.finditer(r"<(/?)details\b", text):
        depth += -1 if m.group(1) else 1
        if depth < 0:
            return False
    return depth == 0


SAFE_TAGS = {"h2", "h3", "h4", "blockquote",
             "p", "strong", "em", "table", "thead", "tbody", "tr", "th", "td", "details",
             "summary", "sub", "ul", "li", "a", "code", "pre"}


def test_markdown_content() -> None:
    text = render_markdown(sample_result(), extra={"run_url": "https://github.com/o/r/actions/runs/7"})
    assert text.splitlines()[0].startswith("## ❌") and "FAILED" in text.splitlines()[0]
    chance = per_task_expected(design([f"task-{i:05d}" for i in range(3)], 0, 20))["chance"]
    gate = ("| regressions &#60;&#61; 2 | 3 | ❌ **FAIL** "
            f"(1 significant at FDR 0.10, ≈{chance:.1f} expected by chance) |")
    assert gate in text
    assert "INCONCLUSIVE" in text and "MDE ±6%" in text and "underpowered" in text
    # 4/4 → 0/4: p = 2^-8 (only that table is as extreme, sup π⁴(1−π)⁴ at ½); q = 20 · 2^-8 over 20 tasks;
    # its CI is Newcombe's interval (computed independently by the oracle)
    ci = fmt.ci(newcombe_pp(4, 4, 0, 4), "", 0)
    assert f"| task-00000 | 4/4 | 0/4 | −100 | {ci} | 0.0039 | 0.078 | ▼ **regressed** |" in text
    # the BCa interval, not Kalibra's percentile one (metadata ci_95 [-53.9, -20.3])
    assert "| Cost &#40;median&#41; | $0.0357 | $0.0213 | −40.5% | [−55.0, −21.1]% | ▲ improved |" in text
    assert "100 of 120 read" in text and "model &#61;&#61; gpt-4o" in text
    doc = parse(text)
    assert doc.links == ["https://github.com/o/r/actions/runs/7"]
    assert set(doc.tags) <= SAFE_TAGS
    for table in doc.tables:
        assert len(set(table)) == 1, table  # every row has the header's cell count
    assert details_balanced(text)


@pytest.mark.parametrize(("index", "status", "headline"), [
    (1, GateStatus.PASS, "✅ Kalibra · PASSED — all 3 gates passed"),
    (0, GateStatus.INCONCLUSIVE, "⚠️ Kalibra · PASSED with 2 inconclusive gates"),
    (0, GateStatus.PASS, "⚠️ Kalibra · PASSED with 1 inconclusive gate"),
])
def test_verdicts(index: int, status: GateStatus, headline: str) -> None:
    r = sample_result(passed=True)
    r.gates[index].status = status
    assert render_markdown(r).splitlines()[0] == f"## {headline}"


def test_verdict_without_gates_and_inconclusive_counted_as_failure() -> None:
    r = sample_result(passed=True)
    r.gates = []
    assert render_markdown(r).splitlines()[0] == "## ▼ Kalibra · No gates — overall regressed"
    r = sample_result(passed=True)
    r.gates[1].passed = False
    r.passed = False
    text = render_markdown(r)
    assert "FAILED — 1 of 3 gates failed" in text and "counted as a failure" in text


def test_marker_and_no_run_link_for_non_https() -> None:
    text = render_markdown(sample_result(), extra={"marker": "<!-- kalibra-action:x -->",
                                                   "run_url": "javascript:alert(1)"})
    assert text.startswith("<!-- kalibra-action:x -->\n")
    assert "javascript" not in text


def test_hostile_text_everywhere_stays_inert() -> None:
    evil = ["a|b", "<script>x</script>", "</details>", "@octocat", "#1", "[x](javascript:y)",
            "https://evil.example", "line\nbreak", "`tick`"]
    r = sample_result(task_ids=evil)
    r.warnings = list(evil)
    r.baseline.label = "@octocat|</details>"
    r.current.files = ["</details><script>", "www.evil.example"]
    r.current.filters = ["model =~ <b>.*|x"]
    span = r.observations["span_breakdown"].metadata["regressions"][0]
    span["span_name"] = "<img src=x>|@team"
    r.gates[0].warning = "field `x` <b>bold</b> @here"
    text = render_markdown(r)
    doc = parse(text)
    assert doc.links == []
    assert set(doc.tags) <= SAFE_TAGS - {"a"}
    assert "script" not in doc.tags and "img" not in doc.tags and "b" not in doc.tags
    for table in doc.tables:
        assert len(set(table)) == 1, table
    shown = "".join(doc.text)
    assert not re.search(r"(?<![\w@])@[A-Za-z0-9]", shown)
    assert not re.search(r"#\d", shown)
    assert details_balanced(text)


def test_budget_with_5000_regressed_tasks() -> None:
    r = sample_result(task_ids=[f"task-{i:05d}-{'x' * 40}" for i in range(5000)], n_warnings=2000)
    full = render_markdown(r, limit=10**9)
    assert len(full) > 65_536
    text = render_markdown(r)
    assert len(text) <= 65_000
    assert details_balanced(text)
    assert text.splitlines()[0].startswith("## ❌")
    assert "| regressions &#60;&#61; 2 | 5,000 | ❌ **FAIL** (" in text
    full = text[text.index("<summary>Per-task table"):]
    more = re.search(r"… ([\d,]+) more — the job summary", full)
    assert more is not None
    shown = len(re.findall(r"^\| (task-\d{5}|improved-1)", full[:full.index("</details>")], re.M))
    # 5000 drops; the one rise is not listed: its p = 2^-8 is not significant among 5001 tasks
    # (q = 5001 · 2^-8 > 0.10)
    assert shown + int(more.group(1).replace(",", "")) == 5000
    assert "task-00000" in text  # the worst first: 4/4 → 0/4
    doc = parse(text)
    for table in doc.tables:
        assert len(set(table)) == 1
    # the "more" line sits inside the <details> of the list
    block = text[text.index("<summary>Per-task table"):]
    assert block.index("more — the job summary") < block.index("</details>")


def test_budget_shrinks_until_it_fits_tiny_limits() -> None:
    r = sample_result(n_regressed=300)
    for limit in (20_000, 5_000, 2_500):
        text = render_markdown(r, limit=limit)
        assert len(text) <= limit
        assert details_balanced(text)
        assert "FAILED" in text and "regressions &#60;&#61; 2" in text


def test_hard_cut_closes_details() -> None:
    text = "# head\n<details><summary>x</summary>\n\n" + "- line\n" * 1000 + "</details>\n"
    out = hard_cut(text, 1000)
    assert len(out) <= 1000 and details_balanced(out) and "Report truncated" in out


def test_summary_counts_bytes_and_is_verbose() -> None:
    r = sample_result(task_ids=["é" * 200 + str(i) for i in range(2000)])
    text = render_summary(r, limit=100_000)
    assert len(text.encode()) <= 100_000
    assert "Per-task results" in text and "more — the JSON report has everything" in text
    old = render_summary(sample_result(task_ids=["é" * 200 + str(i) for i in range(200)], per_task=False),
                         limit=100_000)
    assert "Improved tasks" in old
    assert details_balanced(text)


def test_user_template_renders_in_sandbox(tmp_path: Path) -> None:
    tpl = tmp_path / "t.md.j2"
    tpl.write_text("{{ verdict.title }}|{{ gates|length }}|{{ data.current.count }}|{{ extra.pr }}|"
                   "{{ sides[0].label|md }}|{{ 0.25|pct }}|{% include 'markdown.md.j2' %}")
    text = render_markdown(sample_result(), template=tpl, extra={"pr": 7}, root=tmp_path)
    assert text.startswith("FAILED — 1 of 3 gates failed|3|100|7|baseline.jsonl|+0.2%|")
    assert "### Quality gates" in text


@pytest.mark.parametrize("body", [
    "{{ result.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ result.baseline.__dict__ }}",
    "{{ data.__class__.__init__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{% for x in range(10**9) %}{% endfor %}",
])
def test_sandbox_blocks_escapes(tmp_path: Path, body: str) -> None:
    tpl = tmp_path / "evil.j2"
    tpl.write_text(body)
    try:
        text = render_markdown(sample_result(), template=tpl, root=tmp_path)
    except InputError as exc:  # blocked with a one-line error naming the template
        assert str(exc).startswith(str(tpl))
    else:  # or rendered as nothing: the unsafe attribute is undefined in the sandbox
        assert text == ""


def test_user_template_errors_name_file_and_line(tmp_path: Path) -> None:
    tpl = tmp_path / "bad.j2"
    tpl.write_text("ok\n{% if %}\n")
    with pytest.raises(InputError) as exc:
        render_markdown(sample_result(), template=tpl, root=tmp_path)
    assert exc.value.file == str(tpl) and exc.value.line == 2
    with pytest.raises(InputError):
        render_markdown(sample_result(), template=tmp_path / "missing.j2", root=tmp_path)


def test_terminal_plain_and_color() -> None:
    r = sample_result(task_ids=["bad\x1b[31mid", "ok"])
    text = render_terminal(r)
    assert "\x1b" not in text
    assert "FAILED — 1 of 3 gates failed" in text
    assert re.search(r"Success rate\s+50%\s+75%\s+\+25\.0 pp", text)
    assert "FAIL" in text and "regressions <= 2" in text
    colored = render_terminal(r, color=True)
    assert "\x1b[31m" in colored and "\x1b[31mid" not in colored


def test_terminal_caps_lists_unless_verbose() -> None:
    r = sample_result(n_regressed=100)
    # 100 drops (the rise's q = 101 · 2^-8 > 0.10 is not significant, so not listed), 20 shown
    assert "… 80 more (-v shows all)" in render_terminal(r)
    assert "more (-v shows all)" not in render_terminal(r, verbose=True)


def test_metric_rows_handle_missing_values() -> None:
    r = sample_result()
    obs = r.observations["duration"]
    obs.baseline, obs.current, obs.delta, obs.metadata = {}, {}, None, {}
    obs.fields = {}
    obs.direction = Direction.NA
    text = render_markdown(r)
    assert "| Duration &#40;median&#41; | n/a | n/a | n/a | n/a | – n/a |" in text


def test_number_filters() -> None:
    assert fmt.pct(12.345) == "+12.3%" and fmt.pct(-0.01) == "0.0%" and fmt.pct(None) == "n/a"
    assert fmt.pct(float("nan")) == "n/a" and fmt.pct(float("inf")) == "+∞%"
    assert fmt.pp(-2) == "−2.0 pp"
    assert fmt.money(0.0357) == "$0.0357" and fmt.money(1234.5) == "$1,234.50" and fmt.money(-2) == "−$2.00"
    assert fmt.ci((-1.25, 3.0), "%") == "[−1.2, +3.0]%" and fmt.ci(None) == "n/a"
    assert fmt.ci([1, float("nan")]) == "n/a"
    assert fmt.num(1234567) == "1,234,567" and fmt.num("x") == "n/a" and fmt.num(True) == "n/a"
    assert fmt.rate(0.5) == "50%" and fmt.seconds(7.632) == "7.63 s"
    assert fmt.delta(3, "$") == "+$3.00" and fmt.value(2.5, "s") == "2.50 s"


def test_starter_config_quotes_paths() -> None:
    import yaml

    text = render_starter_config("a: b.jsonl", "runs/*.jsonl")
    data = yaml.safe_load(text)
    assert data["baseline"] == {"path": "a: b.jsonl"} and data["current"] == {"path": "runs/*.jsonl"}
    assert "significant_regressions <= 0" in data["require"]
