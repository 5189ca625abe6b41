"""The comment's History block: pooled provenance, flaky marks, the MDE and the trend, from a real
comparison of several baseline runs; untrusted task names and run sources stay inert Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from kalibra_action.history import summarize, write_summary
from kalibra_action.report.history import sparkline
from kalibra_action.report.render import render_markdown
from kalibra_action.run import RunRequest, execute
from kalibra_action.traces.load import load_population

EVIL = "flip|<img src=x onerror=alert(1)>`@admin"


def _write(path: Path, rates: dict[str, tuple[int, int]], tokens: int) -> str:
    with path.open("w") as fh:
        for task, (k, n) in rates.items():
            for r in range(n):
                fh.write(json.dumps({"trace_id": f"{task}__{path.stem}__{r}",
                                     "outcome": "success" if r < k else "failure",
                                     "input_tokens": tokens, "output_tokens": 1}) + "\n")
    return str(path)


def _result(tmp_path: Path, *, extra_runs: tuple[str, ...] = ()):
    runs = []
    for i in range(6):
        rates = {f"t{j}": (4, 4) for j in range(6)} | {EVIL: (4 if i % 2 else 0, 4)}
        runs.append(_write(tmp_path / f"run{i}.jsonl", rates, 100 + 10 * i))
    cur = _write(tmp_path / "cur.jsonl", {f"t{j}": (4, 4) for j in range(6)} | {EVIL: (0, 4)}, 500)
    return execute(RunRequest(baseline_runs=(*extra_runs, *runs), current=cur, config_path=None))


def test_history_block_shows_provenance_flaky_tasks_and_trend(tmp_path: Path) -> None:
    text = render_markdown(_result(tmp_path))
    block = text.split("### History", 1)[1].split("###", 1)[0]
    assert "**Baseline pooled 6 of 6 base-branch runs** (168 traces)" in block
    assert "Pooling 6 runs: this PR can detect" in block
    assert "in this PR; the base branch was" in block and "over its last 6 pooled runs." in block
    assert "1 flaky task" in block and "not counted toward" in block
    trend = next(line for line in block.splitlines() if line.startswith("| Median tokens"))
    assert "▁▂▃▅▆▇█" in trend or trend.count("█") == 1  # rising base runs, then this PR’s 501 on top
    assert "101 – 151 (6 runs)" in trend and "| 501 |" in trend
    assert "<img" not in text and "`@admin" not in text  # the hostile name is escaped everywhere
    assert "🎲 flaky" in text  # the per-task table marks it


def test_left_out_runs_are_named_with_the_reason(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    src = _write(other / "old.jsonl", {"t0": (4, 4)}, 1)
    evil_name = tmp_path / "x|<b>y.history.json"
    write_summary(evil_name, summarize(load_population([src], label="old"), run_id="41",
                                       config_hash="e" * 64))
    text = render_markdown(_result(tmp_path, extra_runs=(str(evil_name),)))
    assert "6 of 7 base-branch runs" in text
    assert "Left out: run 41 (config changed" in text and "x|<b>" not in text


def test_no_history_block_without_several_runs(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", {"t": (1, 2)}, 1)
    text = render_markdown(execute(RunRequest(baseline=a, current=a)))
    assert "### History" not in text


def test_sparkline_scales_and_marks_gaps() -> None:
    assert sparkline([0.0, 1.0, None, 0.5]) == "▁█·▅"
    assert sparkline([2.0, 2.0]) == "▄▄"
    assert sparkline([None]) == ""


def test_a_custom_template_can_replace_the_history_block(tmp_path: Path) -> None:
    result = _result(tmp_path)
    tpl = tmp_path / "t.md.j2"
    tpl.write_text('{% extends "markdown.md.j2" %}{% block history %}<<ours: {{ history.n_flaky }}>>\n'
                   "{% endblock %}")
    text = render_markdown(result, template=tpl, root=tmp_path)
    assert "<<ours: 1>>" in text and "### History" not in text and "### Per-task results" in text


def test_the_terminal_report_has_the_history_section(tmp_path: Path) -> None:
    """The same provenance, MDE, flaky tasks and trend as the comment, as plain lines: the hostile task
    name and run file name inert (one line, no control character), no ANSI colour when not a TTY."""
    from kalibra_action.report.render import render_terminal

    other = tmp_path / "other"
    other.mkdir()
    src = _write(other / "old.jsonl", {"t0": (4, 4)}, 1)
    evil_file = tmp_path / "x\x1b[31mred\nline.history.json"
    write_summary(evil_file, summarize(load_population([src], label="old"), config_hash="e" * 64))
    text = render_terminal(_result(tmp_path, extra_runs=(str(evil_file),)))
    assert "\x1b" not in text
    section = text[text.index("  History"):]
    assert section.startswith("  History  baseline pooled 6 of 7 base-branch runs, 168 traces")
    assert "Pooling 6 runs: this PR can detect a" in section
    left = next(line for line in section.splitlines() if "left out:" in line)
    assert "config changed" in left and "x [31m" in left  # the ESC became a space
    assert all(not line or line.startswith("  ") for line in section.splitlines())  # the newline too
    flaky = next(line for line in section.splitlines() if "flaky task" in line)
    assert flaky.startswith("  1 flaky task: flip|<img")  # plain text: shown as it is, on one line
    assert "1 of them dropped" in section and "not counted toward" in section
    trend = next(line for line in section.splitlines() if line.lstrip().startswith("Median tokens"))
    assert "base 101 – 151 over 6 runs, this PR 501" in trend
