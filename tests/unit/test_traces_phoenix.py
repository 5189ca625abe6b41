"""Phoenix exports (tests/data/formats/phoenix): get_spans_dataframe JSONL and REST spans, with span
annotations (dataframe and REST) as the outcome.

The expected numbers come from the raw lines with the standard library: a run is a root span (parent_id
null); its task is the root's metadata.task; it passes when the root's `correctness` annotation label is
`correct`, and a root without the annotation (the planted crash) fails on its ERROR status and counts as
an error; tokens and cost are the sums over the LLM spans; its duration is the root's end − start
(epoch milliseconds in the dataframe, ISO text in the REST export).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces.convert import convert_lines
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from kalibra_action.traces.outcomes import OUTCOME_SUCCESS
from kalibra_action.traces.registry import ReadOptions
from tests.fixtures.cli import call
from tests.fixtures.task_numbers import assert_same_numbers, task_numbers

DIR = Path(__file__).resolve().parents[1] / "data" / "formats" / "phoenix"
TASK = FieldMap(task_id="metadata.task")
LAYOUTS = ("dataframe", "rest")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def side_files(side: str, layout: str) -> list[str]:
    return [str(DIR / f"{side}.spans-{layout}.jsonl"), str(DIR / f"{side}.annotations-{layout}.jsonl")]


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _span_view(span: dict, layout: str) -> dict:
    """(trace, id, parent, status, task, in, out, cost, seconds) of one raw span line."""
    if layout == "dataframe":
        attrs = {k[len("attributes."):]: v for k, v in span.items() if k.startswith("attributes.")}
        trace, sid = span["context.trace_id"], span["context.span_id"]
        seconds = (span["end_time"] - span["start_time"]) / 1000
        task = (attrs.get("metadata") or {}).get("task")
    else:
        attrs = span["attributes"]
        trace, sid = span["context"]["trace_id"], span["context"]["span_id"]
        seconds = (datetime.fromisoformat(span["end_time"])
                   - datetime.fromisoformat(span["start_time"])).total_seconds()
        task = attrs.get("metadata.task")
    return {"trace": trace, "id": sid, "parent": span["parent_id"], "status": span["status_code"],
            "task": task, "in": attrs.get("llm.token_count.prompt") or 0,
            "out": attrs.get("llm.token_count.completion") or 0, "cost": attrs.get("llm.cost.total") or 0,
            "seconds": seconds}


def raw_numbers(side: str, layout: str) -> dict:
    spans = [_span_view(s, layout) for s in lines(DIR / f"{side}.spans-{layout}.jsonl")]
    labels = {}
    for note in lines(DIR / f"{side}.annotations-{layout}.jsonl"):
        name = note.get("annotation_name", note.get("name"))
        label = note["result.label"] if layout == "dataframe" else note["result"]["label"]
        if name == "correctness":
            labels[note["span_id"]] = label
    out: dict = defaultdict(lambda: {"k": 0, "n": 0, "errors": 0, "in": 0, "out": 0, "cost": 0.0,
                                     "durations": []})
    children = defaultdict(list)
    for s in spans:
        if s["parent"] is not None:
            children[s["trace"]].append(s)
    for root in (s for s in spans if s["parent"] is None):
        t = out[root["task"]]
        t["n"] += 1
        if root["id"] in labels:
            t["k"] += labels[root["id"]] == "correct"
        else:  # the planted crash: no annotation, so the root's ERROR status decides
            assert root["status"] == "ERROR"
        t["errors"] += root["status"] == "ERROR"
        for child in children[root["trace"]]:
            t["in"] += int(child["in"])
            t["out"] += int(child["out"])
            t["cost"] += child["cost"]
        t["durations"].append(root["seconds"])
    for t in out.values():
        t["durations"].sort()
    return dict(out)


def pop_numbers(pop) -> dict:
    errored: dict[int, bool] = defaultdict(bool)
    names = [pop.span_names[code] if code >= 0 else "" for code in pop.span_name]
    for trace, error, name in zip(pop.span_trace, pop.span_error, names, strict=True):
        errored[int(trace)] |= bool(error) and name == "fixture-agent"
    return task_numbers(pop, errored)

def assert_same(got: dict, want: dict) -> None:
    assert_same_numbers(got, want, cost_rel=1e-9, duration_rel=1e-9)

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_spans_joined_with_annotations_read_to_the_numbers_in_the_lines(side: str, layout: str) -> None:
    pop = load_population(side_files(side, layout), label=side, fields=TASK)
    assert pop.format == ("phoenix" if layout == "dataframe" else "openinference")
    want = raw_numbers(side, layout)
    assert_same(pop_numbers(pop), want)
    unannotated = {t for t, w in want.items() if w["n"] > 0} and sum(
        1 for s in lines(DIR / f"{side}.spans-{layout}.jsonl") if s["parent_id"] is None) - len(
        lines(DIR / f"{side}.annotations-{layout}.jsonl"))
    assert unannotated == (1 if side == "current" else 0)  # the planted crash is read, not dropped
    assert pop.warnings == ()


def test_durations_are_seconds_from_epoch_milliseconds() -> None:
    pop = load_population(side_files("baseline", "dataframe"), label="b", fields=TASK)
    roots = [s for s in lines(DIR / "baseline.spans-dataframe.jsonl") if s["parent_id"] is None]
    assert sorted(float(d) for d in pop.duration) == pytest.approx(
        sorted((s["end_time"] - s["start_time"]) / 1000 for s in roots))
    assert 0.3 < float(max(pop.duration)) < 10  # seconds: not ms read as seconds, nor ns


def test_the_annotation_wins_over_an_ok_status_and_stop_finish_reasons(tmp_path: Path) -> None:
    """Flip every annotation: the outcome follows the annotations, not the roots' status."""
    notes = lines(DIR / "baseline.annotations-dataframe.jsonl")
    for note in notes:
        note["result.label"] = "incorrect" if note["result.label"] == "correct" else "correct"
        note["result.score"] = 1.0 - note["result.score"]
    path = write(tmp_path / "notes.jsonl", notes)
    pop = load_population([str(DIR / "baseline.spans-dataframe.jsonl"), path], label="b", fields=TASK)
    flipped = {t: (w["n"] - w["k"], w["n"]) for t, w in raw_numbers("baseline", "dataframe").items()}
    got = {t: (g["k"], g["n"]) for t, g in pop_numbers(pop).items()}
    assert got == flipped


def test_without_annotations_the_root_status_is_the_outcome() -> None:
    pop = load_population([str(DIR / "current.spans-dataframe.jsonl")], label="c", fields=TASK)
    roots = [s for s in lines(DIR / "current.spans-dataframe.jsonl") if s["parent_id"] is None]
    assert int((pop.outcome == OUTCOME_SUCCESS).sum()) == sum(s["status_code"] == "OK" for s in roots)


def test_convert_to_jsonl_reads_back_to_the_same_numbers(tmp_path: Path) -> None:
    layout = "dataframe"
    converted = tmp_path / "converted.jsonl"
    converted.write_text("".join(convert_lines(side_files("current", layout))), encoding="utf-8")
    again = load_population([str(converted)], label="oi", fields=TASK)
    assert again.format == "openinference"
    assert_same(pop_numbers(again), raw_numbers("current", layout))


@pytest.mark.parametrize("flag", [(), ("--outcome-annotation", "correctness")])
def test_compare_finds_the_planted_regressions(flag: tuple[str, ...]) -> None:
    base, cur = raw_numbers("baseline", "dataframe"), raw_numbers("current", "dataframe")
    dropped = {task for task in base if cur[task]["k"] / cur[task]["n"] < base[task]["k"] / base[task]["n"]}
    code, out, err = call("compare", str(DIR / "baseline.*-dataframe.jsonl"),
                          str(DIR / "current.*-dataframe.jsonl"), "--task-id", "metadata.task", *flag,
                          "--format", "json", "--resamples", "200", "-q")
    assert code == 0, err
    report = json.loads(out)
    assert report["current"]["format"] == "phoenix"
    per_task = report["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert {t["task_id"] for t in per_task if t["naive"] == "regressed"} == dropped and len(dropped) == 2


def _two_names(tmp_path: Path) -> list[str]:
    notes = lines(DIR / "baseline.annotations-rest.jsonl")
    extra = [{**n, "name": "helpfulness", "result": {"label": None, "score": 0.5}} for n in notes]
    return [str(DIR / "baseline.spans-rest.jsonl"), write(tmp_path / "notes.jsonl", notes + extra)]


def test_several_annotation_names_are_an_error_listing_them_until_one_is_chosen(tmp_path: Path) -> None:
    files = _two_names(tmp_path)
    with pytest.raises(InputError) as err:
        load_population(files, label="b", fields=TASK)
    assert "phoenix" in str(err.value) and "correctness" in str(err.value) and "helpfulness" in str(err.value)
    assert "--outcome-annotation" in (err.value.hint or "")
    chosen = load_population(files, label="b", fields=TASK,
                             options=ReadOptions(outcome_annotation="helpfulness"))
    assert int((chosen.outcome == OUTCOME_SUCCESS).sum()) == 0  # 0.5 < the default threshold 1
    lowered = load_population(files, label="b", fields=TASK,
                              options=ReadOptions(outcome_annotation="helpfulness", score_threshold=0.5))
    annotated = len(lines(DIR / "baseline.annotations-rest.jsonl"))
    assert int((lowered.outcome == OUTCOME_SUCCESS).sum()) == annotated


def test_an_annotation_name_that_is_not_there_is_an_error_listing_the_names() -> None:
    code, _, err = call("compare", str(DIR / "baseline.*-dataframe.jsonl"),
                        str(DIR / "current.*-dataframe.jsonl"), "--outcome-annotation", "nope", "-q")
    assert code == 2 and "'nope'" in err and "correctness" in err and "Traceback" not in err


def _frame_rows() -> list[dict]:
    return lines(DIR / "baseline.spans-dataframe.jsonl")


@pytest.mark.parametrize(("key", "value", "says"), [
    ("start_time", "yesterday", "start_time"),
    ("start_time", [1], "start_time"),
    ("attributes.llm.token_count.prompt", -3, "llm.token_count.prompt"),
    ("attributes.llm.token_count.prompt", 10.5, "llm.token_count.prompt"),
    ("attributes.llm.cost.total", "cheap", "llm.cost.total"),
    ("context.trace_id", 17, "context.trace_id"),
    ("status_code", "MAYBE", "status_code"),
])
def test_a_wrong_value_is_an_error_naming_file_line_and_field(tmp_path: Path, key: str, value: object,
                                                              says: str) -> None:
    rows = _frame_rows()
    rows[4][key] = value
    path = write(tmp_path / "spans.jsonl", rows)
    code, _, err = call("compare", path, path, "-q")
    assert code == 2, err
    assert "spans.jsonl" in err and "line 5" in err and says in err and "phoenix" in err
    assert "Traceback" not in err


def test_an_end_before_its_start_is_an_error(tmp_path: Path) -> None:
    rows = _frame_rows()
    rows[0]["end_time"] = rows[0]["start_time"] - 1
    path = write(tmp_path / "spans.jsonl", rows)
    with pytest.raises(InputError, match="line 1: phoenix span: end_time is before start_time"):
        load_population([path], label="b")


def test_a_label_that_is_no_verdict_without_a_score_is_an_error(tmp_path: Path) -> None:
    notes = lines(DIR / "baseline.annotations-dataframe.jsonl")
    notes[2]["result.label"], notes[2]["result.score"] = "meh", None
    files = [str(DIR / "baseline.spans-dataframe.jsonl"), write(tmp_path / "notes.jsonl", notes)]
    want = "line 3: phoenix annotation .correctness.: label \"meh\" is not a pass/fail word"
    with pytest.raises(InputError, match=want):
        load_population(files, label="b")


def test_a_bad_annotation_score_is_an_error_naming_its_line(tmp_path: Path) -> None:
    notes = lines(DIR / "baseline.annotations-rest.jsonl")
    notes[6]["result"]["score"] = "high"
    files = [str(DIR / "baseline.spans-rest.jsonl"), write(tmp_path / "notes.jsonl", notes)]
    with pytest.raises(InputError, match="line 7: phoenix annotation: score"):
        load_population(files, label="b")


def test_a_line_that_is_no_phoenix_record_is_an_error(tmp_path: Path) -> None:
    rows: list[dict] = [*_frame_rows()[:3], {"hello": "world"}]
    path = write(tmp_path / "spans.jsonl", rows)
    with pytest.raises(InputError, match="line 4: not a phoenix span or span annotation"):
        load_population([path], label="b")


def test_a_truncated_export_is_an_error_or_warning_never_a_silent_pass(tmp_path: Path) -> None:
    text = (DIR / "baseline.spans-dataframe.jsonl").read_text(encoding="utf-8")
    path = tmp_path / "cut.jsonl"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    pop = load_population([str(path)], label="b", fields=TASK)
    assert pop.format == "phoenix" and any("cut.jsonl" in w for w in pop.warnings)


def test_a_first_span_with_a_long_stacktrace_is_still_recognised(tmp_path: Path) -> None:
    """Its context.* columns come after the events, far past the first 4 KB."""
    rows = _frame_rows()
    rows[0]["events"] = [{"name": "exception", "attributes": {"exception.stacktrace": "x\n" * 6000}}]
    path = write(tmp_path / "spans.jsonl", rows)
    pop = load_population([path, str(DIR / "baseline.annotations-dataframe.jsonl")], label="b", fields=TASK)
    assert pop.format == "phoenix"
    got = {t: (g["k"], g["n"]) for t, g in pop_numbers(pop).items()}
    assert got == {t: (w["k"], w["n"]) for t, w in raw_numbers("baseline", "dataframe").items()}


def test_annotations_that_match_no_root_span_warn(tmp_path: Path) -> None:
    files = [str(DIR / "baseline.spans-rest.jsonl"), str(DIR / "current.annotations-rest.jsonl")]
    pop = load_population(files, label="b", fields=TASK)
    assert any("annotation" in w and "no root span" in w for w in pop.warnings)
