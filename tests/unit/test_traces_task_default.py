"""The task of a span trace with no flags: OTLP and Phoenix files as the real tools write them.

With no `--task-id`, a span trace's task is the first root attribute of a documented list (`task.id`,
`task_id`, `task`, `app.task.id`, `eval.task`, `eval.task_id`, `metadata.task_id`, `metadata.task`,
`session.id`; an OTLP root carries its resource's attributes too), else a Kalibra `task__model__N` trace
id's task, else the root span's name, else the trace id; `inspect` says which it used. Expected per-task
pass counts are recomputed here from the raw files with the standard library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.inspect import inspect_paths
from kalibra_action.traces.load import load_population
from tests.fixtures.cli import call

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
OTEL, PHOENIX = DATA / "otel", DATA / "phoenix"
SIDES = ("baseline", "current")


def _per_task(pop) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for code, outcome in zip(pop.task, pop.outcome, strict=True):
        k, n = out.get(pop.task_names[code], (0, 0))
        out[pop.task_names[code]] = (k + int(outcome == 1), n + int(outcome != -1))
    return out


def _count(runs: list[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for task, passed in runs:
        k, n = out.get(task, (0, 0))
        out[task] = (k + passed, n + 1)
    return out


def _otlp_roots(paths: list[Path]) -> list[tuple[str, bool]]:
    """(app.task.id, passed) of each root span of Collector-layout OTLP/JSON lines."""
    runs = []
    for path in paths:
        for line in path.read_text().splitlines():
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", [])):
                    for span in ss["spans"]:
                        if not span.get("parentSpanId"):
                            attrs = {a["key"]: a["value"].get("stringValue") for a in span["attributes"]}
                            runs.append((attrs["app.task.id"], span.get("status", {}).get("code") != 2))
    return runs


def _phoenix_roots(side: str) -> list[tuple[str, bool]]:
    """(metadata task, passed) of each root span of the dataframe export: the annotation's label, else
    (no annotation: the planted crash) the root's status."""
    notes = {}
    for line in (PHOENIX / f"{side}.annotations-dataframe.jsonl").read_text().splitlines():
        note = json.loads(line)
        notes[note["span_id"]] = note["result.label"] == "correct"
    runs = []
    for line in (PHOENIX / f"{side}.spans-dataframe.jsonl").read_text().splitlines():
        span = json.loads(line)
        if span["parent_id"] is None:
            metadata = span["attributes.metadata"]
            task = (json.loads(metadata) if isinstance(metadata, str) else metadata)["task"]
            runs.append((task, notes.get(span["context.span_id"], span["status_code"] == "OK")))
    return runs


OTLP_LAYOUTS = {
    "collector": lambda side: [OTEL / f"{side}.collector.jsonl"],
    "split": lambda side: sorted((OTEL / "split" / side).glob("*.jsonl")),
    "legacy": lambda side: [DATA / "otel-legacy" / f"{side}.collector.jsonl"],
}


@pytest.mark.parametrize("layout", OTLP_LAYOUTS)
@pytest.mark.parametrize("side", SIDES)
def test_otlp_tasks_with_no_flags(side: str, layout: str) -> None:
    paths = OTLP_LAYOUTS[layout](side)
    pop = load_population([str(p) for p in paths], label=side)
    want = _count(_otlp_roots(paths))
    assert len(want) == 6 and all(n == 4 for _k, n in want.values())  # the fixture's plan, as a sanity check
    assert _per_task(pop) == want


@pytest.mark.parametrize("layout", ["pretty-base64", "console"])
def test_otlp_other_layouts_give_the_collector_layouts_tasks(layout: str) -> None:
    name = "otlp.json" if layout == "pretty-base64" else "console.txt"
    for side in SIDES:
        pop = load_population([str(OTEL / f"{side}.{name}")], label=side)
        assert _per_task(pop) == _count(_otlp_roots([OTEL / f"{side}.collector.jsonl"]))


@pytest.mark.parametrize("side", SIDES)
def test_phoenix_tasks_with_no_flags(side: str) -> None:
    files = [str(PHOENIX / f"{side}.spans-dataframe.jsonl"),
             str(PHOENIX / f"{side}.annotations-dataframe.jsonl")]
    pop = load_population(files, label=side)
    assert _per_task(pop) == _count(_phoenix_roots(side))


def test_phoenix_rest_spans_get_the_same_tasks() -> None:
    files = [str(PHOENIX / "current.spans-rest.jsonl"), str(PHOENIX / "current.annotations-rest.jsonl")]
    assert _per_task(load_population(files, label="c")) == _count(_phoenix_roots("current"))


def test_inspect_names_where_the_tasks_came_from() -> None:
    otlp = inspect_paths([str(OTEL / "baseline.collector.jsonl")])
    assert otlp.task_from == {"app.task.id": len(_otlp_roots([OTEL / "baseline.collector.jsonl"]))}
    phoenix = inspect_paths([str(PHOENIX / "baseline.spans-dataframe.jsonl")])
    assert phoenix.task_from == {"metadata.task": len(_phoenix_roots("baseline"))}
    code, out, err = call("inspect", str(OTEL / "baseline.collector.jsonl"))
    assert code == 0, err
    assert "Task from" in out and "app.task.id" in out


def test_compare_with_no_flags_finds_the_planted_regressions() -> None:
    base = _count(_otlp_roots([OTEL / "baseline.collector.jsonl"]))
    cur = _count(_otlp_roots([OTEL / "current.collector.jsonl"]))
    dropped = {t for t in base if cur[t][0] / cur[t][1] < base[t][0] / base[t][1]}
    code, out, err = call("compare", str(OTEL / "baseline.collector.jsonl"),
                          str(OTEL / "current.collector.jsonl"), "--format", "json", "--resamples", "200",
                          "-q")
    assert code == 0, err
    per_task = json.loads(out)["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert {t["task_id"] for t in per_task if t["naive"] == "regressed"} == dropped and len(dropped) == 2


def _otlp_line(traces: list[tuple[str, str, dict, dict]]) -> str:
    """One request: per trace (trace id, root name, root attributes, resource attributes)."""
    resource_spans = []
    for i, (tid, name, attrs, resource) in enumerate(traces):
        def typed(items: dict) -> list:
            return [{"key": k, "value": {"stringValue": v}} for k, v in items.items()]
        span = {"traceId": tid, "spanId": f"{i + 1:016x}", "name": name, "kind": 1,
                "startTimeUnixNano": "1768471200000000000", "endTimeUnixNano": "1768471201000000000",
                "attributes": typed(attrs), "status": {"code": 1}}
        resource_spans.append({"resource": {"attributes": typed(resource)},
                               "scopeSpans": [{"scope": {"name": "s"}, "spans": [span]}]})
    return json.dumps({"resourceSpans": resource_spans}) + "\n"


def test_the_chain_in_order(tmp_path: Path) -> None:
    """Each link wins over the ones after it: a listed attribute (in list order, resource attributes
    too) over the root name; the root name over a bare trace id; an empty value is no task."""
    path = tmp_path / "chain.otlp.jsonl"
    path.write_text(_otlp_line([
        ("a" * 32, "root-a", {"task_id": "second", "task.id": "first"}, {}),
        ("b" * 32, "root-b", {"app.task.id": "app"}, {"eval.task": "later"}),
        ("c" * 32, "root-c", {}, {"eval.task": "from-resource"}),
        ("d" * 32, "root-d", {"unrelated": "x", "task": ""}, {}),
        ("e" * 32, "root-e", {"metadata": json.dumps({"task": "nested"})}, {}),
        ("f" * 32, "root-f", {"session.id": "sess"}, {}),
    ]))
    pop = load_population([str(path)], label="s", strict=False)
    tasks = dict(zip(pop.trace_id, (pop.task_names[c] for c in pop.task), strict=True))
    assert tasks == {"a" * 32: "first", "b" * 32: "app", "c" * 32: "from-resource", "d" * 32: "root-d",
                     "e" * 32: "nested", "f" * 32: "sess"}
    assert dict(pop.task_sources) == {"task.id": 1, "app.task.id": 1, "eval.task": 1, "root span name": 1,
                                      "metadata.task": 1, "session.id": 1}


def test_a_given_task_id_wins_and_kalibra_trace_ids_keep_their_rule(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    rows = [{"context": {"trace_id": f"capital-fr__gpt__{i}", "span_id": f"s{i}"}, "parent_id": None,
             "name": "agent", "span_kind": "AGENT", "status": {"status_code": "OK"},
             "attributes": {"openinference.span.kind": "AGENT", "custom.case": f"case-{i % 2}"}}
            for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _per_task(load_population([str(path)], label="s")) == {"capital-fr": (4, 4)}
    mapped = load_population([str(path)], label="s", fields=FieldMap(task_id="custom.case"))
    assert _per_task(mapped) == {"case-0": (2, 2), "case-1": (2, 2)}
    assert dict(mapped.task_sources) == {"custom.case": 4}
