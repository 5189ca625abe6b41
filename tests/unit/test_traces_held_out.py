"""Held-out-style variants of the files the real tools wrote (tests/data/formats), per format: what a
newer or older version of each tool writes (fields added, optional fields missing, deprecated fields
instead of new ones), empty files, a side mixing two tools, a directory with one unreadable file, a JSON
array of records. Each either reads to the numbers of the original file or exits 2 with one line that
names the file and the format it saw: never a silent pass, never a traceback.

The "right numbers" of a variant are those of the unmodified fixture, which each reader's own test
module checks against numbers recomputed from the raw lines.
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces.load import load_population
from tests.fixtures.cli import call
from tests.unit.test_convert_parity import PHOENIX, load, per_task

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
NEW = {"zz_added_in_a_later_version": {"nested": [1, "two", None], "flag": True}}

Record = Callable[[dict], dict]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_lines(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def rewrite_jsonl(source: Path, target: Path, change: Record) -> str:
    return write_lines(target, [change(dict(row)) for row in lines(source)])


def rewrite_page(source: Path, target: Path, change: Record) -> str:
    """A Langfuse page with every item changed (pretty, as the API client writes it)."""
    page = json.loads(source.read_text(encoding="utf-8"))
    page = {**page, "data": [change(dict(item)) for item in page["data"]]}
    target.write_text(json.dumps(page, indent=2), encoding="utf-8")
    return str(target)


def added(row: dict) -> dict:
    return {**row, **NEW}


def without(*keys: str) -> Record:
    return lambda row: {k: v for k, v in row.items() if k not in keys}


def assert_reads_the_same(variant, original) -> None:
    assert len(variant) == len(original) > 0
    assert per_task(variant) == per_task(original)


# --- fields added by a newer version --------------------------------------------------------------------


def _otlp_added(row: dict) -> dict:
    for resource in row["resourceSpans"]:
        resource.update(NEW)
        for scope in resource["scopeSpans"]:
            scope["spans"] = [added(span) for span in scope["spans"]]
    return added(row)


def _inspect_added(source: Path, target: Path) -> str:
    log = json.loads(source.read_text(encoding="utf-8"))
    log = added({**log, "samples": [added(sample) for sample in log["samples"]]})
    target.write_text(json.dumps(log, indent=2), encoding="utf-8")
    return str(target)


def _eval_set_log(part: int) -> Path:
    return next((DATA / "inspect" / "eval-set" / "current").glob(f"*part{part}_*.json"))


def each_line(*names: str, change: Record = added) -> Callable[[Path], list[str]]:
    """A variant maker: the fixture files `names` (under DATA), every line changed, written into a dir."""
    return lambda d: [rewrite_jsonl(DATA / name, d / Path(name).name, change) for name in names]


LS = ("langsmith/current.runs.jsonl", "langsmith/current.feedback.jsonl", "langsmith/examples.jsonl")
LF = ("langfuse/current.observations.json", "langfuse/current.scores.jsonl")
PHX_FRAME = ("phoenix/current.spans-dataframe.jsonl", "phoenix/current.annotations-dataframe.jsonl")
PHX_REST = ("phoenix/current.spans-rest.jsonl", "phoenix/current.annotations-rest.jsonl")
OTLP = {"--task-id": "app.task.id", "--cost": "app.cost_usd"}

# case → (original paths under DATA, a function writing the variant's files into a directory, options)
ADDED = {
    "langsmith": (LS, each_line(*LS), {}),
    "langfuse": (LF, lambda d: [rewrite_page(DATA / LF[0], d / "obs.json", added), *each_line(LF[1])(d)],
                 {"--outcome-annotation": "correctness"}),
    "phoenix-dataframe": (PHX_FRAME, each_line(*PHX_FRAME), PHOENIX),
    "phoenix-rest": (PHX_REST, each_line(*PHX_REST), PHOENIX),
    "promptfoo": (("promptfoo/current.jsonl",), each_line("promptfoo/current.jsonl"), {}),
    "inspect-json": ((str(_eval_set_log(1)), str(_eval_set_log(2))),
                     lambda d: [_inspect_added(_eval_set_log(i), d / f"part{i}.json") for i in (1, 2)],
                     {}),
    "otlp": (("otel/current.collector.jsonl",), each_line("otel/current.collector.jsonl", change=_otlp_added),
             OTLP),
}


@pytest.mark.parametrize("case", list(ADDED))
def test_fields_a_newer_version_adds_change_nothing(tmp_path: Path, case: str) -> None:
    originals, make, options = ADDED[case]
    original = load([str(DATA / p) for p in originals], options, None)
    assert_reads_the_same(load(make(tmp_path), options, None), original)


# --- fields an older version did not write --------------------------------------------------------------

_LANGSMITH_NEWER = ("dotted_order", "child_run_ids", "child_runs", "parent_run_ids", "app_path",
                    "attachments", "manifest_id", "feedback_stats", "first_token_time", "in_dataset",
                    "prompt_token_details", "completion_token_details", "prompt_cost_details",
                    "completion_cost_details", "total_tokens", "events", "serialized", "prompt_cost",
                    "completion_cost")


def _langfuse_v2(obs: dict) -> dict:
    """An observation as Langfuse servers before usageDetails/costDetails returned it: `usage` with the
    token counts and `calculatedTotalCost`, no `totalCost`, `environment` or `costDetails`."""
    old = {k: v for k, v in obs.items()
           if k not in ("usageDetails", "costDetails", "totalCost", "environment", "isRootObservation")}
    details = obs.get("usageDetails") or {}
    if details:
        old["usage"] = {"input": details.get("input"), "output": details.get("output"),
                        "total": details.get("total"), "unit": "TOKENS"}
    if obs.get("costDetails"):
        old["calculatedTotalCost"] = obs["costDetails"]["total"]
    return old


def test_langsmith_runs_without_the_newer_fields_read_the_same(tmp_path: Path) -> None:
    names = ("current.runs.jsonl", "current.feedback.jsonl")
    variant = [rewrite_jsonl(DATA / "langsmith" / names[0], tmp_path / names[0], without(*_LANGSMITH_NEWER)),
               str(DATA / "langsmith" / names[1])]
    assert_reads_the_same(load_population(variant, label="c"),
                          load_population([str(DATA / "langsmith" / n) for n in names], label="c"))


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_langfuse_observations_of_an_older_server_read_the_same(tmp_path: Path, side: str) -> None:
    """Tokens from `usage`, cost from `calculatedTotalCost`: the deprecated fields older servers return."""
    scores = str(DATA / "langfuse" / f"{side}.scores.jsonl")
    options = {"--outcome-annotation": "correctness"}
    page = DATA / "langfuse" / f"{side}.observations.json"
    variant = [rewrite_page(page, tmp_path / "obs.json", _langfuse_v2), scores]
    original = load([str(DATA / "langfuse" / f"{side}.observations.json"), scores], options, None)
    assert_reads_the_same(load(variant, options, None), original)
    assert all(row["cost"] is not None for row in per_task(original).values())


def test_langfuse_cost_types_without_a_total_are_summed(tmp_path: Path) -> None:
    def no_total(obs: dict) -> dict:
        costs = obs.pop("costDetails", None)
        obs.pop("totalCost", None)
        if costs:
            obs["costDetails"] = {k: v for k, v in costs.items() if k != "total"}
        return obs

    scores = str(DATA / "langfuse" / "current.scores.jsonl")
    options = {"--outcome-annotation": "correctness"}
    page = DATA / "langfuse/current.observations.json"
    variant = [rewrite_page(page, tmp_path / "obs.json", no_total), scores]
    want = per_task(load([str(DATA / "langfuse/current.observations.json"), scores], options, None))
    got = per_task(load(variant, options, None))
    assert got.keys() == want.keys()
    for task, row in want.items():
        assert got[task]["cost"] == pytest.approx(row["cost"], rel=1e-12)


def test_promptfoo_rows_before_failure_reason_read_the_same(tmp_path: Path) -> None:
    """promptfoo before `failureReason`: the provider error is told by response.error."""
    original = load_population([str(DATA / "promptfoo/current.jsonl")], label="c")
    variant = rewrite_jsonl(DATA / "promptfoo/current.jsonl", tmp_path / "old.jsonl",
                            without("failureReason", "namedScores", "metadata", "promptId", "tokenUsage"))
    assert_reads_the_same(load_population([variant], label="c"), original)


def test_phoenix_dataframe_without_cost_and_events_keeps_outcomes_and_tokens(tmp_path: Path) -> None:
    spans = DATA / "phoenix/current.spans-dataframe.jsonl"
    variant = rewrite_jsonl(spans, tmp_path / "spans.jsonl",
                            without("attributes.llm.cost.total", "events", "status_message"))
    got, want = per_task(load([variant], PHOENIX, None)), per_task(load([str(spans)], PHOENIX, None))
    assert {t: (r["k"], r["n"], r["errors"], r["in"], r["out"], r["duration"]) for t, r in got.items()} == \
        {t: (r["k"], r["n"], r["errors"], r["in"], r["out"], r["duration"]) for t, r in want.items()}
    assert all(r["cost"] is None for r in got.values())


# --- files that cannot be read: exit 2, one line, the file and the format named -----------------------


def one_line_error(argv: list[str]) -> str:
    code, out, err = call("compare", *argv, "-q")
    assert code == 2 and not out, (code, err)
    found = [line for line in err.splitlines() if line.strip()]
    assert len(found) == 1 and "Traceback" not in err, err
    return found[0]


EMPTY = [
    ("empty.eval", b"", "Inspect AI log"),
    ("empty.jsonl", b"", "no traces"),
    ("blank.jsonl", b"\n  \n\r\n", "no traces"),
    ("page.json", b'{"data": [], "meta": {"page": 1, "totalItems": 0}}\n', "Langfuse"),
    ("export.json", b'{"evalId": "eval-1", "results": {"version": 3, "results": []}}\n', "promptfoo"),
    ("spans.jsonl", b'{"resourceSpans": []}\n', "otlp"),
]


@pytest.mark.parametrize(("name", "content", "what"), EMPTY, ids=[e[0] for e in EMPTY])
def test_an_empty_file_exits_2_naming_it(tmp_path: Path, name: str, content: bytes, what: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    line = one_line_error([str(path), str(path)])
    assert name in line and what in line, line


MIXED = [
    ("langsmith/current.runs.jsonl", "promptfoo/current.jsonl", ("LangSmith", "promptfoo")),
    ("langfuse/current.observations.json", "phoenix/current.spans-dataframe.jsonl", ("Langfuse", "Phoenix")),
    ("promptfoo/current.json", "inspect/current.eval", ("promptfoo", "Inspect AI")),
]


@pytest.mark.parametrize(("first", "second", "tools"), MIXED, ids=[m[0] for m in MIXED])
def test_a_side_mixing_two_tools_files_exits_2_naming_both(tmp_path: Path, first: str, second: str,
                                                           tools: tuple[str, str]) -> None:
    side = tmp_path / "side"
    side.mkdir()
    for name in (first, second):
        shutil.copy(DATA / name, side / Path(name).name)
    line = one_line_error([str(side), str(DATA / "promptfoo/current.jsonl")])
    assert all(tool in line for tool in tools) and "mixes" in line, line
    assert Path(first).name in line and Path(second).name in line


BROKEN = [
    ("broken.jsonl.gz", lambda: gzip.compress(b'{"trace_id": "t__r__1"}\n')[:25], "cannot read"),
    ("cut.eval", lambda: (DATA / "inspect/current.eval").read_bytes()[:2000], "Inspect AI log"),
    ("latin1.jsonl", lambda: '{"run_type": "chain", "name": "caf\xe9"}\n'.encode("latin-1"), "UTF-8"),
    ("garbage.jsonl", lambda: b"\x00\x01\x02 not json\n", "JSON"),
]


@pytest.mark.parametrize(("name", "content", "why"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_directory_with_one_unreadable_file_exits_2_naming_that_file(tmp_path: Path, name: str, content,
                                                                       why: str) -> None:
    side = tmp_path / "side"
    side.mkdir()
    for part in ("runs", "feedback"):
        shutil.copy(DATA / "langsmith" / f"current.{part}.jsonl", side)
    (side / name).write_bytes(content())
    line = one_line_error([str(side), str(DATA / "langsmith/baseline.runs.jsonl")])
    assert name in line and why in line, line


ARRAYS = [
    ("langsmith/current.runs.jsonl", "LangSmith runs", "langsmith"),
    ("phoenix/current.spans-dataframe.jsonl", "Phoenix spans dataframe", "phoenix"),
    ("promptfoo/current.jsonl", "promptfoo result rows", "promptfoo"),
    ("langfuse/current.scores.jsonl", "Langfuse scores", None),
    ("phoenix/current.spans-rest.jsonl", "Phoenix REST spans", "openinference"),
]


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize(("source", "what", "reader"), ARRAYS, ids=[a[0] for a in ARRAYS])
def test_a_json_array_of_a_tools_records_names_the_tool(tmp_path: Path, source: str, what: str,
                                                        reader: str | None, indent: int | None) -> None:
    """`json.dump(rows)` / `to_json(orient="records")`: one array, not JSON Lines; the error says whose
    records these are and how to make the JSON Lines its reader takes."""
    path = tmp_path / "records.json"
    path.write_text(json.dumps(lines(DATA / source), indent=indent), encoding="utf-8")
    line = one_line_error([str(path), str(path)])
    assert "records.json" in line and what in line and "jq -c" in line, line
    assert reader is None or f"the {reader} reader" in line


def test_feedback_records_in_a_runs_file_are_read_not_refused(tmp_path: Path) -> None:
    """One file holding runs and their feedback (a hand-merged export) reads like the two files."""
    merged = write_lines(tmp_path / "merged.jsonl", lines(DATA / "langsmith/current.runs.jsonl")
                         + lines(DATA / "langsmith/current.feedback.jsonl"))
    two = [str(DATA / "langsmith/current.runs.jsonl"), str(DATA / "langsmith/current.feedback.jsonl")]
    assert_reads_the_same(load_population([merged], label="c"), load_population(two, label="c"))


def test_a_forced_reader_on_another_tools_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_population([str(DATA / "promptfoo/current.jsonl")], label="c", fmt="langsmith")
    assert "current.jsonl" in str(caught.value) and "langsmith" in str(caught.value)


def test_langsmith_runs_from_before_trace_id_group_by_their_root(tmp_path: Path) -> None:
    """Runs written before LangSmith had `trace_id` (nor `dotted_order`): the trace is the topmost run
    reached through `parent_run_id`; split over two files as well."""
    def old(row: dict) -> dict:
        return {**without("trace_id", "dotted_order")(row), "execution_order": 1}

    rows = [old(row) for row in lines(DATA / "langsmith/current.runs.jsonl")]
    halves = [write_lines(tmp_path / f"runs-{i}.jsonl", rows[i::2]) for i in range(2)]
    feedback = str(DATA / "langsmith/current.feedback.jsonl")
    original = load_population([str(DATA / "langsmith/current.runs.jsonl"), feedback], label="c")
    variant = load_population([*halves, feedback], label="c")
    assert_reads_the_same(variant, original)
    assert not [w for w in variant.warnings if "no root" in w]


# --- Phoenix, no flags but the task: the root span's status decides over its LLM calls' finish reasons


def _phoenix_root_view(span: dict, layout: str) -> tuple[str | None, str, str]:
    """(parent, status, task) of one raw span line."""
    if layout == "dataframe":
        task = (span.get("attributes.metadata") or {}).get("task")
    else:
        task = span["attributes"].get("metadata.task")
    return span["parent_id"], span["status_code"], task


@pytest.mark.parametrize("layout", ["dataframe", "rest"])
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_phoenix_spans_without_annotations_fail_on_the_root_error(tmp_path: Path, side: str,
                                                                  layout: str) -> None:
    """Every failed run of the fixture is a root ERROR over LLM calls that stopped normally: with no
    annotation the root's status is the outcome, in whatever order the spans come."""
    rows = lines(DATA / "phoenix" / f"{side}.spans-{layout}.jsonl")
    want: dict = {}
    for parent, status, task in map(lambda s: _phoenix_root_view(s, layout), rows):
        if parent is None:
            k, n, errors = want.get(task, (0, 0, 0))
            want[task] = (k + (status == "OK"), n + 1, errors + (status == "ERROR"))
    assert any(k < n for k, n, _ in want.values())  # the fixture has failed runs
    for order, arranged in (("as written", rows), ("reversed", rows[::-1])):
        path = write_lines(tmp_path / f"{order}.jsonl", arranged)
        got = per_task(load([path], PHOENIX, None))
        assert {task: (r["k"], r["n"], r["errors"]) for task, r in got.items()} == want, order


# --- categorical verdicts: labels, not numbers ----------------------------------------------------------


def test_langsmith_categorical_feedback_reads_its_label(tmp_path: Path) -> None:
    """Feedback with a `value` label (correct / incorrect) and no score reads like the 1 / 0 scores."""
    def categorical(row: dict) -> dict:
        return {**row, "score": None, "value": "correct" if row["score"] >= 1 else "Incorrect"}

    runs = str(DATA / "langsmith/current.runs.jsonl")
    feedback = rewrite_jsonl(DATA / "langsmith/current.feedback.jsonl", tmp_path / "fb.jsonl", categorical)
    assert_reads_the_same(load_population([runs, feedback], label="c"),
                          load_population([runs, str(DATA / "langsmith/current.feedback.jsonl")], label="c"))


def test_langsmith_feedback_label_that_is_no_verdict_is_an_error(tmp_path: Path) -> None:
    feedback = rewrite_jsonl(DATA / "langsmith/current.feedback.jsonl", tmp_path / "fb.jsonl",
                             lambda row: {**row, "score": None, "value": "maybe"})
    with pytest.raises(InputError) as caught:
        load_population([str(DATA / "langsmith/current.runs.jsonl"), feedback], label="c")
    assert "fb.jsonl: line 1" in str(caught.value) and "maybe" in str(caught.value)


def test_langfuse_categorical_score_without_a_configured_number_reads_its_label(tmp_path: Path) -> None:
    """A CATEGORICAL score's number comes from a score config (0 without one): its stringValue decides."""
    def unmapped(row: dict) -> dict:
        return {**row, "value": 0} if row["dataType"] == "CATEGORICAL" else row

    observations = str(DATA / "langfuse/current.observations.json")
    scores = rewrite_jsonl(DATA / "langfuse/current.scores.jsonl", tmp_path / "scores.jsonl", unmapped)
    by_label = load([observations, scores], {"--outcome-annotation": "verdict"}, None)
    by_number = load([observations, str(DATA / "langfuse/current.scores.jsonl")],
                     {"--outcome-annotation": "correctness"}, None)
    assert_reads_the_same(by_label, by_number)


def test_inspect_describes_two_tools_files_that_compare_refuses() -> None:
    """`inspect` is there to find out: it names each file's reader, where `compare` refuses the mix."""
    files = [str(DATA / "langsmith/baseline.runs.jsonl"), str(DATA / "langsmith/baseline.feedback.jsonl"),
             str(DATA / "promptfoo/baseline.jsonl")]
    code, out, err = call("inspect", *files)
    assert code == 0 and "Traceback" not in err, err
    assert "Format: mixed" in out and "LangSmith runs:" in out and "promptfoo results:" in out


def test_langfuse_traces_with_several_top_level_observations_are_one_run(tmp_path: Path) -> None:
    """SDK v2 traces often hold generations right under the trace, with no wrapping span: the trace is
    the run (first start to last end, tokens and cost of its observations, the trace's score)."""
    page = json.loads((DATA / "langfuse/current.observations.json").read_text(encoding="utf-8"))
    roots = {o["id"]: o for o in page["data"] if not o.get("parentObservationId")}
    flat = [{**o, "parentObservationId": None, "metadata": roots[o["parentObservationId"]]["metadata"]}
            for o in page["data"] if o.get("parentObservationId")]
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({**page, "data": flat}, indent=2), encoding="utf-8")
    scores = str(DATA / "langfuse/current.scores.jsonl")
    options = {"--outcome-annotation": "correctness"}
    got = per_task(load([str(path), scores], options, None))
    want = per_task(load([str(DATA / "langfuse/current.observations.json"), scores], options, None))
    assert {t: (r["k"], r["n"], r["in"], r["out"]) for t, r in got.items()} == \
        {t: (r["k"], r["n"], r["in"], r["out"]) for t, r in want.items()}
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for o in flat:
        spans.setdefault(o["traceId"], []).append((datetime.fromisoformat(o["startTime"]),
                                                   datetime.fromisoformat(o["endTime"])))
    by_task: dict[str, list[float]] = {}
    for o in roots.values():
        times = spans[o["traceId"]]
        seconds = (max(end for _, end in times) - min(start for start, _ in times)).total_seconds()
        by_task.setdefault(o["metadata"]["dataset_item_id"], []).append(seconds)
    for task, durations in by_task.items():
        assert got[task]["duration"] == pytest.approx(statistics.median(durations), rel=1e-9)
        assert got[task]["cost"] == pytest.approx(want[task]["cost"], rel=1e-12)


def test_langsmith_feedback_on_a_child_run_is_the_traces_verdict(tmp_path: Path) -> None:
    """An evaluator that scored the LLM call inside each run: its feedback decides the run's outcome."""
    runs = lines(DATA / "langsmith/current.runs.jsonl")
    child = {}
    for run in runs:
        if run["parent_run_id"] is not None:
            child.setdefault(run["parent_run_id"], run["id"])
    feedback = rewrite_jsonl(DATA / "langsmith/current.feedback.jsonl", tmp_path / "fb.jsonl",
                             lambda row: {**row, "run_id": child[row["run_id"]]})
    original = str(DATA / "langsmith/current.feedback.jsonl")
    runs_file = str(DATA / "langsmith/current.runs.jsonl")
    assert_reads_the_same(load_population([runs_file, feedback], label="c"),
                          load_population([runs_file, original], label="c"))


@pytest.mark.parametrize("tool", ["langsmith", "langfuse"])
def test_scores_of_the_other_side_warn_that_no_run_has_an_outcome(tool: str) -> None:
    """The baseline's feedback given with the current runs joins nothing: the report says so."""
    if tool == "langsmith":
        paths = ["langsmith/current.runs.jsonl", "langsmith/baseline.feedback.jsonl"]
        options: dict[str, str] = {}
    else:
        paths = ["langfuse/current.observations.json", "langfuse/baseline.scores.jsonl"]
        options = {"--outcome-annotation": "correctness"}
    pop = load([str(DATA / p) for p in paths], options, None)
    assert all(r["n"] == 0 for r in per_task(pop).values())
    assert any("refers to a" in w and "no" in w for w in pop.warnings), pop.warnings


@pytest.mark.parametrize("indent", [None, 2])
def test_a_phoenix_rest_page_of_spans_names_them_and_the_jq_that_lists_them(tmp_path: Path,
                                                                             indent: int | None) -> None:
    """The REST API's own response, saved as it came: `{"data": [spans], "next_cursor": ...}`."""
    path = tmp_path / "page.json"
    page = {"data": lines(DATA / "phoenix/current.spans-rest.jsonl"), "next_cursor": None}
    path.write_text(json.dumps(page, indent=indent), encoding="utf-8")
    line = one_line_error([str(path), str(path)])
    assert "page.json" in line and "Phoenix REST spans" in line and "jq -c '.data[]'" in line, line


def test_promptfoo_tests_sharing_a_description_warn_that_they_are_pooled(tmp_path: Path) -> None:
    """Two different tests (different vars) under one description count as one task: the report says so."""
    rows = lines(DATA / "promptfoo/current.jsonl")
    for row in rows:
        row["testCase"]["description"] = "the same description"
    pop = load_population([write_lines(tmp_path / "same.jsonl", rows)], label="c")
    assert list(per_task(pop)) == ["the same description"]
    assert any("pooled into one task" in w and "same.jsonl" in w for w in pop.warnings), pop.warnings
    plain = load_population([str(DATA / "promptfoo/current.jsonl")], label="c")
    assert not any("pooled" in w for w in plain.warnings)
