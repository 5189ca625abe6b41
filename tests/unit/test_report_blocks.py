"""The built-in comment template's blocks, and every Markdown kind going through the one render path.

A custom template `{% extends "markdown.md.j2" %}` and replaces one block; everything else must stay the
built-in output byte for byte. The current-only report and the notices are fitted to the comment's limit
like the comparison (before, the current-only report had no size budget at all).
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest

from kalibra_action.cli import main
from kalibra_action.current_only import CurrentOnly
from kalibra_action.report import render
from kalibra_action.report.render import (
    COMMENT_BUDGET,
    SUMMARY_BUDGET,
    render_current_only,
    render_error,
    render_markdown,
    render_summary,
)
from tests.conftest import ROOT
from tests.fixtures.sample import sample_result

RUN_URL = "https://github.com/o/r/actions/runs/7"
EXTRA = {"run_url": RUN_URL, "marker": "<!-- kalibra-action:k -->"}
# One piece of each section that only that section prints (in the sample result's comment).
SECTIONS = {
    "header": "## ❌ Kalibra · FAILED",
    "gates": "### Quality gates",
    "regressed_tasks": "### Per-task results",
    "metrics": "### Metrics",
    "spans": "<summary>Spans that changed",
    "warnings": "<summary>Warnings (",
    "provenance": "<summary>Provenance</summary>",
    "footer": f"[Workflow run]({RUN_URL})",
}


def custom(tmp_path: Path, body: str) -> Path:
    tpl = tmp_path / "comment.md.j2"
    tpl.write_text('{% extends "markdown.md.j2" %}\n' + body)
    return tpl


def test_every_section_shows_in_the_built_in_comment():
    text = render_markdown(sample_result(), extra=EXTRA)
    for piece in SECTIONS.values():
        assert text.count(piece) == 1, piece


def test_overriding_the_footer_keeps_everything_else_byte_for_byte(tmp_path):
    result = sample_result()
    built_in = render_markdown(result, extra=EXTRA)
    last_line = built_in.rstrip("\n").rsplit("\n", 1)[1]
    assert last_line.startswith(f"[Workflow run]({RUN_URL}) · <sub>kalibra-action ")
    tpl = custom(tmp_path, "{% block footer %}Made by our team, run {{ extra.run_url }}\n{% endblock %}")
    text = render_markdown(result, template=tpl, extra=EXTRA, root=tmp_path)
    assert text == built_in[: -len(last_line) - 1] + f"Made by our team, run {RUN_URL}\n"


@pytest.mark.parametrize("block", sorted(SECTIONS))
def test_each_block_replaces_its_section_only(tmp_path, block):
    tpl = custom(tmp_path, f"{{% block {block} %}}<<{block} replaced>>\n{{% endblock %}}")
    text = render_markdown(sample_result(), template=tpl, extra=EXTRA, root=tmp_path)
    assert text.count(f"<<{block} replaced>>") == 1
    for name, piece in SECTIONS.items():
        assert (piece in text) is (name != block), (name, piece)


def test_super_keeps_the_built_in_block(tmp_path):
    tpl = custom(tmp_path, "{% block metrics %}{{ super() }}Our note on costs.\n{% endblock %}")
    text = render_markdown(sample_result(), template=tpl, extra=EXTRA, root=tmp_path)
    built_in = render_markdown(sample_result(), extra=EXTRA)
    at = built_in.index("<details><summary>Spans that changed")
    assert text == built_in[:at] + "Our note on costs.\n" + built_in[at:]


def test_an_unknown_block_is_harmless(tmp_path):
    tpl = custom(tmp_path, "{% block no_such_block %}never shown{% endblock %}outside any block")
    text = render_markdown(sample_result(), template=tpl, extra=EXTRA, root=tmp_path)
    assert text == render_markdown(sample_result(), extra=EXTRA)


def test_an_extending_template_stays_in_the_sandbox(tmp_path):
    """Blocks do not open the sandbox: an override that reaches for internals is refused."""
    tpl = custom(tmp_path, "{% block footer %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}")
    with pytest.raises(Exception, match="template error"):
        render_markdown(sample_result(), template=tpl, extra=EXTRA, root=tmp_path)


def test_the_example_comment_is_the_demo_output():
    """docs/example-comment.md is what `make demo` prints: the built-in template's output, kept in sync."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["demo", "--format", "markdown"], out=out, err=err) == 0
    assert out.getvalue() == (ROOT / "docs" / "example-comment.md").read_text(encoding="utf-8")


# ---- the current-only report and the notices go through the same fitting --------------------------------

def hostile_current_only(n: int = 20) -> CurrentOnly:
    """Values of `#` escape to 12 characters each (`&#35;` plus a word joiner): the longest expansion."""
    long = "#" * 600
    return CurrentOnly(
        reason=long, policy="warn", label=long, files=tuple(long + str(i) for i in range(n)), format="flat",
        filters=(long,), count=3, total_before_filter=3, tasks=1, successes=1, known_outcomes=2,
        median_cost=None, median_tokens=None, median_duration=None,
        gates=tuple(long + str(i) for i in range(n)), warnings=tuple(long + str(i) for i in range(n)),
        looked_for={"artifact": long, "workflow": long, "branch": long})


def test_a_huge_current_only_report_is_cut_to_the_comment_limit():
    text = render_current_only(hostile_current_only(), extra=EXTRA)
    assert len(text) <= COMMENT_BUDGET
    assert text.startswith(EXTRA["marker"] + "\n## ⚠️ Kalibra · No baseline")
    assert "**Report truncated** to fit 65,000 characters" in text
    assert text.count("<details>") == text.count("</details>")  # the cut closes what it left open


def test_the_current_only_summary_keeps_to_the_summary_limit_in_bytes(monkeypatch):
    monkeypatch.setattr(render, "SUMMARY_BUDGET", 10_000)
    text = render_current_only(hostile_current_only(), extra={}, summary=True)
    assert len(text.encode()) <= 10_000 < len(render_current_only(hostile_current_only(), extra={}))
    assert "**Report truncated** to fit 10,000 characters" in text


def test_a_small_current_only_report_is_whole():
    text = render_current_only(hostile_current_only(2), extra={})
    assert "Report truncated" not in text and text.endswith("</sub>\n")
    assert "##" not in text.split("\n", 1)[1]  # every `#` of the values escaped


def test_the_error_notice_escapes_and_links_the_run_safely():
    text = render_error("bad `x` in **file** @octo #3\n- item", title="the traces could not be compared",
                        extra={"marker": "<!-- m -->", "run_url": "https://h.test/r (1)"})
    assert text.startswith("<!-- m -->\n## ⚠️ Kalibra · ERROR — the traces could not be compared\n\n")
    body = text.split("\n")[3]
    assert html.unescape(body) == "bad `x` in **file** @\u2060octo #\u20603 - item"  # shown as typed
    assert re.fullmatch(r"[\w &#;-]+", body)  # only entities: no Markdown or HTML syntax left
    assert text.endswith("exit code 2 ([the run](https://h.test/r%20(1%29)).\n")
    assert render_error("x", title="t", extra={"marker": "m", "run_url": "javascript:alert(1)"}).endswith(
        "exit code 2.\n")


def test_the_summary_limit_is_in_bytes():
    result = sample_result(task_ids=["é" * 200 + str(i) for i in range(200)], per_task=False)
    text = render_summary(result, limit=20_000)
    assert len(text.encode()) <= 20_000 and SUMMARY_BUDGET > 20_000


# ---- the README documents what a template can use --------------------------------------------------------

def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("#### Changing one part of the built-in comment")
    return text[start:text.index("\n### ", start)]


def test_the_readme_example_overrides_the_footer(tmp_path):
    example = re.search(r"```jinja\n(.*?)```", readme_section(), re.S).group(1)
    tpl = tmp_path / "comment.md.j2"
    tpl.write_text(example)
    text = render_markdown(sample_result(), template=tpl, extra=EXTRA, root=tmp_path)
    assert text.endswith(f"Questions about this check: #eval-team · [the run]({RUN_URL})\n")
    assert "### Quality gates" in text and "<sub>kalibra-action" not in text


def test_the_readme_names_every_block_and_every_context_variable():
    from kalibra_action.report.context import build

    section = readme_section()
    source = (render.TEMPLATES / render.MARKDOWN).read_text(encoding="utf-8")
    blocks = set(re.findall(r"{% block (\w+) %}", source))
    assert blocks >= set(SECTIONS)
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert blocks <= documented
    variables = set(build(sample_result(), extra=EXTRA))
    rows = re.findall(r"^\| (`\w+`(?:, `\w+`)*) \|", section, re.M)
    named = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    assert variables <= named, variables - named
