"""Issue 9 item 7: never pass on data that was not understood.

Each tool's own file (tests/data/formats/, written by the real tools) handed to the CLI as it is: on
main they loaded as "flat" traces holding nothing, every metric "no data", exit 0 (a PASS). Now each
exits 2 with one line naming the file and what it looks like. Hand-written variants check that the
rule is about what the population holds, not about these examples.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ROOT / "tests" / "data" / "formats"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def assert_refused(proc: subprocess.CompletedProcess[str], file: str, *words: str) -> str:
    """Exit 2, one error line (no traceback) that names the file and says what it looks like."""
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert file in errors[0], errors[0]
    for word in words:
        assert word.lower() in errors[0].lower(), errors[0]
    return errors[0]


# Files that no registered reader reads as a side of its own: refused, naming what they look like and
# what is missing.
UNREAD_FILES = [
    ("langsmith/baseline.feedback.jsonl", "langsmith/current.feedback.jsonl",
     ("LangSmith feedback only", "give the runs export too")),
    ("langfuse/baseline.scores.jsonl", "langfuse/current.scores.jsonl",
     ("Langfuse scores only", "give the observations export too")),
    ("phoenix/baseline.annotations-rest.jsonl", "phoenix/current.annotations-rest.jsonl", ("annotation",)),
    ("phoenix/baseline.annotations-dataframe.jsonl", "phoenix/current.annotations-dataframe.jsonl",
     ("annotation",)),
]

# Files that loaded as empty flat traces on main and now have a native reader: (baseline, current, the
# reader's format name, words the error must contain when the file is forced through the flat reader).
READ_FILES = [
    ("otel/baseline.collector.jsonl", "otel/current.collector.jsonl", "otlp", ("OTLP", "resourceSpans")),
    ("otel-legacy/baseline.collector.jsonl", "otel-legacy/current.collector.jsonl", "otlp", ("OTLP",)),
    ("promptfoo/baseline.jsonl", "promptfoo/current.jsonl", "promptfoo", ("promptfoo",)),
    ("promptfoo/vars-only/baseline.jsonl", "promptfoo/vars-only/current.jsonl", "promptfoo", ("promptfoo",)),
    ("langsmith/baseline.runs.jsonl", "langsmith/current.runs.jsonl", "langsmith", ("LangSmith", "run_type")),
    ("phoenix/baseline.spans-dataframe.jsonl", "phoenix/current.spans-dataframe.jsonl", "phoenix",
     ("Phoenix", "context.trace_id")),
]


@pytest.mark.parametrize(("baseline", "current", "words"), UNREAD_FILES, ids=[t[0] for t in UNREAD_FILES])
def test_tool_files_no_reader_takes_exit_2_naming_what_they_are(baseline: str, current: str, words) -> None:
    proc = run("compare", str(FORMATS / baseline), str(FORMATS / current), "--format", "json", "-q")
    assert_refused(proc, baseline, *words)
    assert not proc.stdout  # no report, no verdict


@pytest.mark.parametrize(("baseline", "current", "fmt", "words"), READ_FILES, ids=[t[0] for t in READ_FILES])
def test_tool_files_are_read_by_their_reader_and_refused_as_flat(baseline: str, current: str, fmt: str,
                                                                 words) -> None:
    proc = run("compare", str(FORMATS / baseline), str(FORMATS / current), "--format", "json", "-q")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["baseline"]["format"] == fmt and report["current"]["format"] == fmt
    forced = run("compare", str(FORMATS / baseline), str(FORMATS / current), "--trace-format", "flat", "-q")
    assert_refused(forced, baseline, *words)


def test_otlp_forced_as_flat_is_refused_too() -> None:
    proc = run("compare", str(FORMATS / "otel/baseline.collector.jsonl"),
               str(FORMATS / "otel/current.collector.jsonl"), "--trace-format", "flat", "-q")
    assert_refused(proc, "baseline.collector.jsonl", "OTLP")


def test_split_otlp_directory_is_read_as_one_side() -> None:
    """A directory of OTLP parts whose traces cross files: read by the OTLP reader, not passed as empty."""
    proc = run("compare", str(FORMATS / "otel/split/baseline"), str(FORMATS / "otel/split/current"),
               "--format", "json", "-q")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["baseline"]["format"] == "otlp" and report["baseline"]["count"] > 0


def assert_read_or_refused(proc: subprocess.CompletedProcess[str], file: str, fmt: str, word: str) -> None:
    """A tool's file reformatted by `jq -c`: its own reader reads it, or it is refused naming the tool."""
    if proc.returncode == 2:
        assert_refused(proc, file, word)
        return
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["baseline"]["format"] == fmt


def _compact(src: Path, dest: Path) -> Path:
    """`jq -c . FILE`, which the pretty-JSON error's hint suggests."""
    dest.write_text(json.dumps(json.loads(src.read_text(encoding="utf-8")), separators=(",", ":")) + "\n")
    return dest


def test_inspect_json_log_after_jq_is_refused(tmp_path: Path) -> None:
    logs = sorted(p for p in (FORMATS / "inspect/eval-set/baseline").glob("*.json")
                  if "samples" in json.loads(p.read_text(encoding="utf-8")))
    base = _compact(logs[0], tmp_path / "base.jsonl")
    cur = _compact(logs[1], tmp_path / "cur.jsonl")
    proc = run("compare", str(base), str(cur), "--format", "json", "-q")
    assert_read_or_refused(proc, "base.jsonl", "inspect", "Inspect")


def test_promptfoo_json_after_jq_is_refused(tmp_path: Path) -> None:
    base = _compact(FORMATS / "promptfoo/baseline.json", tmp_path / "b.jsonl")
    cur = _compact(FORMATS / "promptfoo/current.json", tmp_path / "c.jsonl")
    proc = run("compare", str(base), str(cur), "--format", "json", "-q")
    assert_read_or_refused(proc, "b.jsonl", "promptfoo", "promptfoo")


def test_langfuse_page_after_jq_is_refused(tmp_path: Path) -> None:
    base = _compact(FORMATS / "langfuse/baseline.observations.json", tmp_path / "b.jsonl")
    cur = _compact(FORMATS / "langfuse/current.observations.json", tmp_path / "c.jsonl")
    proc = run("compare", str(base), str(cur), "--format", "json", "-q")
    assert_read_or_refused(proc, "b.jsonl", "langfuse", "Langfuse")


def test_a_planted_outcome_line_does_not_make_otlp_pass(tmp_path: Path) -> None:
    """One Kalibra-looking line in front of an OTLP file: the rest still looks like OTLP (read as flat)."""
    lines = (FORMATS / "otel/baseline.collector.jsonl").read_text().splitlines()
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps({"trace_id": "t1", "outcome": "success"}), *lines]) + "\n")
    proc = run("compare", str(path), str(path), "--trace-format", "flat", "-q")
    assert_refused(proc, "mixed.jsonl", "OTLP")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("rows", [
    [{"foo": 1}, {"bar": "x"}],  # unknown keys only
    [{"trace_id": f"t{i}", "task": "a", "meta": {"ok": True}} for i in range(5)],  # ids but no data
    [{"trace_id": "a", "outcome": "maybe", "cost": "n/a", "duration_s": None}],  # values it cannot read
], ids=["unknown-keys", "ids-only", "unreadable-values"])
def test_a_side_with_no_readable_value_exits_2(tmp_path: Path, rows: list[dict]) -> None:
    good = _write(tmp_path / "good.jsonl", [{"trace_id": f"g{i}", "outcome": "success", "cost": 1.0}
                                            for i in range(5)])
    bad = _write(tmp_path / "bad.jsonl", rows)
    for args in ((good, bad), (bad, good)):
        proc = run("compare", str(args[0]), str(args[1]), "-q")
        line = assert_refused(proc, "bad.jsonl", "none of its")
        assert "outcome, cost, tokens, duration or spans" in line


def test_a_mapped_field_that_finds_nothing_is_refused(tmp_path: Path) -> None:
    """Mapping fields skips the look-alike check (the user says how to read it), never the data check."""
    path = FORMATS / "otel/baseline.collector.jsonl"
    proc = run("compare", str(path), str(path), "--trace-format", "flat", "--outcome", "status.ok", "-q")
    assert_refused(proc, "baseline.collector.jsonl", "none of its")


def test_some_empty_traces_are_a_warning_not_an_error(tmp_path: Path) -> None:
    rows = [{"trace_id": f"t{i}", "outcome": "success", "cost": 0.5} for i in range(4)] + [{"trace_id": "x"}]
    path = _write(tmp_path / "t.jsonl", rows)
    proc = run("compare", str(path), str(path), "--format", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["baseline"]["warnings"]
    assert any("1 of 5 traces have no outcome" in w for w in warnings), warnings


def test_inspect_still_reads_what_compare_refuses() -> None:
    """`inspect` is how a user finds the mapping: it must not refuse the file it is asked about."""
    proc = run("inspect", "--trace-format", "flat", str(FORMATS / "otel/baseline.collector.jsonl"))
    assert proc.returncode == 0, proc.stderr
    looks = proc.stdout.split("Looks like", 1)[1]
    assert "OpenTelemetry OTLP/JSON" in looks.splitlines()[1] and "--trace-format otlp" in looks
