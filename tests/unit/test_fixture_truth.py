"""The planted per-task pass counts (tests/data/formats/README.md) are in the files the tools wrote.

Recomputed from the raw files with the standard library, one small walk per layout, so a generator that
stops planting what the README says is caught before any reader is tested against it. Tokens are checked
where each run's total is a plain sum: they must agree between the layouts of one tool.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

FORMATS = Path(__file__).resolve().parents[1] / "data" / "formats"
TASKS = ("capital-fr", "sum-17-25", "reverse-word", "color-sky", "planet-red", "square-12")
PASSES = {"baseline": (4, 4, 1, 3, 4, 2), "current": (1, 1, 4, 3, 4, 2)}
ERRORED_TASK = "square-12"  # repeat 3 on the current side, where a file plants the error


def expected(side: str) -> dict[str, int]:
    return dict(zip(TASKS, PASSES[side], strict=True))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def concatenated(text: str) -> list[dict]:
    """Pretty JSON objects one after another, as the SDK's ConsoleSpanExporter writes them."""
    decoder, pos, items = json.JSONDecoder(), 0, []
    while text[pos:].strip():
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        item, pos = decoder.raw_decode(text, pos)
        items.append(item)
    return items


def attrs(items: list[dict]) -> dict:
    """OTLP typed attribute list → plain values (intValue is a string)."""
    out = {}
    for item in items:
        (kind, value), = item["value"].items()
        out[item["key"]] = int(value) if kind == "intValue" else value
    return out


def otlp_spans(requests: list[dict]) -> list[dict]:
    return [span for request in requests for rs in request["resourceSpans"]
            for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans")) for span in ss["spans"]]


def otlp_passes(spans: list[dict], error_code) -> tuple[Counter, Counter]:
    """(passes, runs) per task: a root span (no parent) passes unless its status is ERROR."""
    passes, runs = Counter(), Counter()
    for span in spans:
        if span.get("parentSpanId"):
            continue
        task = attrs(span["attributes"])["app.task.id"]
        runs[task] += 1
        passes[task] += span.get("status", {}).get("code") != error_code
    return passes, runs


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_otel_layouts_hold_the_plan(side: str) -> None:
    otel = FORMATS / "otel"
    naive = otlp_spans([json.loads((otel / f"{side}.otlp.json").read_text())])
    collector = otlp_spans(lines(otel / f"{side}.collector.jsonl"))
    split = otlp_spans([r for part in sorted((otel / "split" / side).glob("*.jsonl")) for r in lines(part)])
    legacy_lines = lines(FORMATS / "otel-legacy" / f"{side}.collector.jsonl")
    assert all("instrumentationLibrarySpans" in r["resourceSpans"][0] for r in legacy_lines)
    legacy = otlp_spans(legacy_lines)
    for spans, error in ((naive, "STATUS_CODE_ERROR"), (collector, 2), (split, 2), (legacy, 2)):
        passes, runs = otlp_passes(spans, error)
        assert passes == expected(side) and set(runs.values()) == {4}
    assert len(naive) == len(collector) == len(split) == 72
    naive_ids = {base64.b64decode(s["traceId"]).hex() for s in naive}
    assert naive_ids == {s["traceId"] for s in collector} == {s["traceId"] for s in split}
    assert [s["traceId"] for s in legacy] == [s["traceId"] for s in collector]
    console = concatenated((otel / f"{side}.console.txt").read_text())
    roots = Counter(s["attributes"]["app.task.id"] for s in console
                    if s["parent_id"] is None and s["status"]["status_code"] != "ERROR")
    assert roots == expected(side) and len(console) == 72


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_promptfoo_layouts_hold_the_plan(side: str) -> None:
    pf = FORMATS / "promptfoo"
    layouts = {
        "json": json.loads((pf / f"{side}.json").read_text())["results"]["results"],
        "jsonl": lines(pf / f"{side}.jsonl"),
        "vars-only": lines(pf / "vars-only" / f"{side}.jsonl"),
        "two-providers": [r for r in lines(pf / "two-providers.jsonl")
                          if r["provider"]["id"].endswith("1.5.0-rc.1") == (side == "current")],
    }
    for name, rows in layouts.items():
        passes = Counter(r["vars"]["task"] for r in rows if r["success"])
        errors = [r["vars"]["task"] for r in rows if r["failureReason"] == 2]
        assert {t: passes[t] for t in TASKS} == expected(side), name
        assert errors == ([ERRORED_TASK] if side == "current" else []), name
        assert len(rows) == 24, name
    described = Counter(r["testCase"]["description"] for r in layouts["json"])
    assert described == dict.fromkeys(TASKS, 4)


def test_promptfoo_two_prompts_are_two_whole_populations() -> None:
    rows = lines(FORMATS / "promptfoo" / "two-prompts.jsonl")
    for prompt in (0, 1):
        own = [r for r in rows if r["promptIdx"] == prompt]
        passes = Counter(r["vars"]["task"] for r in own if r["success"])
        assert {t: passes[t] for t in TASKS} == expected("current") and len(own) == 24
        assert [r["vars"]["task"] for r in own if r["failureReason"] == 2] == [ERRORED_TASK]


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_phoenix_layouts_hold_the_plan(side: str) -> None:
    phx = FORMATS / "phoenix"
    rest = [s for s in lines(phx / f"{side}.spans-rest.jsonl") if s["parent_id"] is None]
    frame = [s for s in lines(phx / f"{side}.spans-dataframe.jsonl") if s["parent_id"] is None]
    task_of = {s["context"]["span_id"]: s["attributes"]["metadata.task"] for s in rest}
    status = Counter(task_of[s["context"]["span_id"]] for s in rest if s["status_code"] != "ERROR")
    assert {t: status[t] for t in TASKS} == expected(side)
    assert {s["context.span_id"] for s in frame} == set(task_of)
    for name, key in (("annotations-rest", "span_id"), ("annotations-dataframe", "span_id")):
        notes = lines(phx / f"{side}.{name}.jsonl")
        score = "result.score" if "dataframe" in name else None
        correct = Counter(task_of[n[key]] for n in notes
                          if (n[score] if score else n["result"]["score"]) == 1.0)
        assert {t: correct[t] for t in TASKS} == expected(side), name
        assert len(notes) == (23 if side == "current" else 24), name


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_langsmith_and_langfuse_hold_the_plan(side: str) -> None:
    ls = FORMATS / "langsmith"
    example_task = {e["id"]: e["metadata"]["task"] for e in lines(ls / "examples.jsonl")}
    runs = {r["id"]: r for r in lines(ls / f"{side}.runs.jsonl")}
    feedback = lines(ls / f"{side}.feedback.jsonl")
    scored = Counter(example_task[runs[f["run_id"]]["reference_example_id"]]
                     for f in feedback if f["score"] == 1)
    assert {t: scored[t] for t in TASKS} == expected(side)
    crashed = [example_task[r["reference_example_id"]] for r in runs.values() if r["status"] == "error"]
    assert crashed == ([ERRORED_TASK] if side == "current" else [])
    assert len(feedback) == 24 - len(crashed)
    roots = [r for r in runs.values() if r["parent_run_id"] is None]
    children = [r for r in runs.values() if r["parent_run_id"] is not None]
    assert sum(r["total_tokens"] for r in roots) == sum(r["total_tokens"] for r in children)

    lf = FORMATS / "langfuse"
    observations = json.loads((lf / f"{side}.observations.json").read_text())["data"]
    task_of = {o["traceId"]: o["metadata"]["task"] for o in observations if o.get("isRootObservation")}
    scores = [s for s in lines(lf / f"{side}.scores.jsonl") if s["name"] == "correctness"]
    correct = Counter(task_of[s["traceId"]] for s in scores if s["value"] == 1.0)
    assert {t: correct[t] for t in TASKS} == expected(side)
    errors = [o["metadata"]["task"] for o in observations if o.get("level") == "ERROR"]
    assert errors == crashed and len(scores) == 24 - len(errors)
    langfuse_tokens = sum(o["usageDetails"]["total"] for o in observations if o["type"] == "GENERATION")
    assert langfuse_tokens == sum(r["total_tokens"] for r in roots)


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_inspect_eval_set_holds_the_plan(side: str) -> None:
    logs = sorted((FORMATS / "inspect" / "eval-set" / side).glob("*_fixture-qa-part*.json"))
    samples = [s for log in logs for s in json.loads(log.read_text())["samples"]]
    passes = Counter(s["id"] for s in samples if s["scores"]["match"]["value"] == "C")
    assert len(logs) == 2 and len(samples) == 24
    assert {t: passes[t] for t in TASKS} == expected(side)


def iso_ms(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_tools_agree_on_tokens_and_durations(side: str) -> None:
    """The same planted tokens and root durations, read from each tool's own fields and units."""
    collector = otlp_spans(lines(FORMATS / "otel" / f"{side}.collector.jsonl"))
    rest = lines(FORMATS / "phoenix" / f"{side}.spans-rest.jsonl")
    runs = lines(FORMATS / "langsmith" / f"{side}.runs.jsonl")
    observations = json.loads((FORMATS / "langfuse" / f"{side}.observations.json").read_text())["data"]
    logs = sorted((FORMATS / "inspect" / "eval-set" / side).glob("*_fixture-qa-part*.json"))
    samples = [s for log in logs for s in json.loads(log.read_text())["samples"]]
    tokens = {
        "otel": sum(attrs(s["attributes"]).get("gen_ai.usage.input_tokens", 0) for s in collector),
        "phoenix": sum(s["attributes"].get("llm.token_count.prompt", 0) for s in rest),
        "langsmith": sum(r["prompt_tokens"] for r in runs if r["parent_run_id"] is not None),
        "langfuse": sum(o["usageDetails"]["input"] for o in observations if o["type"] == "GENERATION"),
        "inspect": sum(u["input_tokens"] for s in samples for u in s["model_usage"].values()),
    }
    assert len(set(tokens.values())) == 1, tokens
    durations = {
        "otel": sorted(round((int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e6)
                       for s in collector if not s["parentSpanId"]),
        "phoenix": sorted(round(iso_ms(s["start_time"], s["end_time"])) for s in rest
                          if s["parent_id"] is None),
        "langsmith": sorted(round(iso_ms(r["start_time"], r["end_time"])) for r in runs
                            if r["parent_run_id"] is None),
        "langfuse": sorted(round(o["latency"] * 1000) for o in observations if o.get("isRootObservation")),
    }
    assert len({tuple(d) for d in durations.values()}) == 1, durations
