"""Native files that only feed a join, and records of one trace split over several files of a side.

- A side of feedback, scores, annotations, examples or an eval set's index alone (the join's input
  without the runs / spans / logs), or a native file that holds no record at all, exits 2 with one line
  naming the file and the format it looks like, never the generic "no traces".
- An auxiliary file on a side where nothing takes its join (LangSmith feedback beside promptfoo rows) is
  an error too, not silently dropped.
- LangSmith runs and Langfuse observations of one trace, written to two files of a side (or a directory),
  form one trace, as OTLP spans do; the expected numbers are those of the unsplit fixture, recomputed from
  its raw lines by the reader's own test module (standard library only).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kalibra_action.traces.load import load_population
from tests.fixtures.cli import call
from tests.unit import test_traces_langfuse as langfuse_truth
from tests.unit import test_traces_langsmith as langsmith_truth

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- a side with the join's input only --------------------------------------------------------------

AUXILIARY_ONLY = [
    ("langsmith/baseline.feedback.jsonl", "LangSmith feedback", "runs"),
    ("langsmith/examples.jsonl", "LangSmith dataset examples", "runs"),
    ("langfuse/baseline.scores.jsonl", "Langfuse scores", "observations"),
    ("phoenix/baseline.annotations-dataframe.jsonl", "Phoenix span annotations", "spans"),
    ("phoenix/baseline.annotations-rest.jsonl", "Phoenix span annotations", "spans"),
    ("inspect/eval-set/baseline/logs.json", "Inspect AI eval set's index", "logs"),
    ("inspect/eval-set/baseline/eval-set.json", "Inspect AI eval set's index", "logs"),
]


@pytest.mark.parametrize(("name", "what", "missing"), AUXILIARY_ONLY)
def test_a_side_of_join_input_only_names_its_format_and_what_to_add(name: str, what: str,
                                                                     missing: str) -> None:
    good = str(DATA / "langsmith" / "current.runs.jsonl")
    code, _out, err = call("compare", str(DATA / name), good, "-q")
    line = one_line_error(code, err)
    assert name in line and f"this looks like {'an ' if what.startswith('I') else ''}{what}" in line, line
    assert f"give the {missing}" in line, line
    assert "no traces in" not in line


def test_a_directory_of_annotations_only_names_the_format(tmp_path: Path) -> None:
    for side in ("baseline", "current"):
        shutil.copy(DATA / "phoenix" / f"{side}.annotations-rest.jsonl", tmp_path)
    code, _out, err = call("compare", str(tmp_path), str(tmp_path), "-q")
    assert "Phoenix span annotations" in one_line_error(code, err)


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _inspect_log_without_samples(path: Path) -> str:
    log = next(p for p in (DATA / "inspect" / "eval-set" / "baseline").glob("*.json")
               if p.name not in ("logs.json", "eval-set.json"))
    doc = json.loads(log.read_text(encoding="utf-8"))
    doc["samples"] = []
    return _write(path, json.dumps(doc, indent=2))


EMPTY_NATIVE = [
    ("results.json", lambda p: _write(p, '{"evalId": "e-1", "results": {"version": 3, "results": []}}\n'),
     "promptfoo results"),
    ("log.json", _inspect_log_without_samples, "Inspect AI log"),
    ("spans.jsonl", lambda p: _write(p, '{"resourceSpans": []}\n'), "otlp"),
]


@pytest.mark.parametrize(("name", "make", "what"), EMPTY_NATIVE, ids=[e[0] for e in EMPTY_NATIVE])
def test_a_native_file_without_records_names_its_format(tmp_path: Path, name: str, make, what: str) -> None:
    path = make(tmp_path / name)
    code, _out, err = call("compare", path, path, "-q")
    line = one_line_error(code, err)
    assert name in line and "this looks like" in line and what in line, line


def test_feedback_beside_another_tools_traces_is_an_error_not_dropped() -> None:
    side = [str(DATA / "promptfoo" / "baseline.jsonl"), str(DATA / "langsmith" / "baseline.feedback.jsonl")]
    with pytest.raises(Exception) as caught:
        load_population(side, label="baseline")
    message = str(caught.value)
    assert "baseline.feedback.jsonl" in message and "LangSmith feedback" in message


def test_other_tools_logs_and_traces_exports_name_what_they_are(tmp_path: Path) -> None:
    logs = _write(tmp_path / "logs.jsonl", '{"resourceLogs": [{"resource": {}, "scopeLogs": []}]}\n')
    code, _out, err = call("compare", logs, logs, "-q")
    assert "resourceLogs" in one_line_error(code, err)
    traces = _write(tmp_path / "traces.jsonl", json.dumps(
        {"id": "t1", "timestamp": "2025-01-01T00:00:00Z", "name": "agent", "htmlPath": "/project/p/traces/t1",
         "observations": ["o1"], "scores": [], "latency": 1.5, "totalCost": 0.01}) + "\n")
    code, _out, err = call("compare", traces, traces, "-q")
    assert "Langfuse traces" in one_line_error(code, err)


# --- one trace over several files ---------------------------------------------------------------------


def _split_lines(source: Path, into: Path, parts: int = 2) -> None:
    """The source's lines dealt round-robin into `parts` files: a root run and its children land apart."""
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    into.mkdir(exist_ok=True)
    for i in range(parts):
        (into / f"{source.stem}.part-{i + 1}.jsonl").write_text(
            "".join(line + "\n" for line in lines[i::parts]), encoding="utf-8")


def _without_errors(numbers: dict) -> dict:
    """The per-task numbers but the error count, which the truth modules tell by span order."""
    return {task: {**values, "errors": 0} for task, values in numbers.items()}


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_langsmith_runs_of_one_trace_in_two_files_are_one_trace(tmp_path: Path, side: str) -> None:
    run_dir = tmp_path / side
    _split_lines(DATA / "langsmith" / f"{side}.runs.jsonl", run_dir)
    shutil.copy(DATA / "langsmith" / f"{side}.feedback.jsonl", run_dir)
    shutil.copy(DATA / "langsmith" / "examples.jsonl", run_dir)
    pop = load_population([str(run_dir)], label=side)
    want = langsmith_truth.raw_numbers(side)
    assert len(pop) == sum(len(t["durations"]) for t in want.values())
    langsmith_truth.assert_same(_without_errors(langsmith_truth.pop_numbers(pop)), _without_errors(want))
    assert not [w for w in pop.warnings if "no root" in w]


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_langfuse_observations_of_one_trace_in_two_pages_are_one_trace(tmp_path: Path, side: str) -> None:
    observations = langfuse_truth.observations(side)
    pages = [_write(tmp_path / f"{side}.page-{i + 1}.json",
                    json.dumps({"data": observations[i::2], "meta": {"page": i + 1}}, indent=2))
             for i in range(2)]
    pop = load_population([*pages, str(DATA / "langfuse" / f"{side}.scores.jsonl")], label=side,
                          options=langfuse_truth.CHOSEN)
    want = langfuse_truth.raw_numbers(side)
    langfuse_truth.assert_same(_without_errors(langfuse_truth.pop_numbers(pop)), _without_errors(want))


def test_the_same_runs_in_two_files_are_read_once_with_a_warning(tmp_path: Path) -> None:
    for copy in ("a", "b"):
        shutil.copy(DATA / "langsmith" / "baseline.runs.jsonl", tmp_path / f"runs-{copy}.jsonl")
    shutil.copy(DATA / "langsmith" / "baseline.feedback.jsonl", tmp_path)
    pop = load_population([str(tmp_path)], label="baseline")
    langsmith_truth.assert_same(langsmith_truth.pop_numbers(pop), langsmith_truth.raw_numbers("baseline"))
    assert any("appear twice" in w for w in pop.warnings)


def test_feedback_in_a_later_file_joins_runs_of_an_earlier_one(tmp_path: Path) -> None:
    """Feedback given before or after the runs on the command line: the outcome is the same."""
    runs, feedback = (str(DATA / "langsmith" / f"current.{kind}.jsonl") for kind in ("runs", "feedback"))
    first = load_population([feedback, runs], label="c")
    last = load_population([runs, feedback], label="c")
    assert langsmith_truth.pop_numbers(first) == langsmith_truth.pop_numbers(last)
    langsmith_truth.assert_same(langsmith_truth.pop_numbers(last), langsmith_truth.raw_numbers("current"))


def test_an_eval_set_directory_reads_its_logs_and_says_nothing_of_its_index() -> None:
    """logs.json and eval-set.json come with the logs: no "no traces in this file" about them."""
    directory = DATA / "inspect" / "eval-set" / "current"
    pop = load_population([str(directory)], label="current")
    logs = [p for p in directory.glob("*.json") if p.name not in ("logs.json", "eval-set.json")]
    assert len(pop) == sum(len(json.loads(p.read_text(encoding="utf-8"))["samples"]) for p in logs)
    assert pop.format == "inspect" and pop.warnings == ()
