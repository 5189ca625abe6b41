"""The OTLP/JSON reader on files written by opentelemetry-sdk (tests/data/formats/otel*), hostile files.

Expected numbers are recomputed here from the raw files with the standard library: per-task pass counts
(a failed run's root span has status ERROR), tokens, costs and root durations in exact nanoseconds.
"""

from __future__ import annotations

import base64
import gc
import io
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from kalibra_action import cli
from kalibra_action.errors import InputError
from kalibra_action.traces.convert import convert_lines
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from kalibra_action.traces.where import parse_matcher

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
FIELDS = FieldMap(task_id="app.task.id", cost="app.cost_usd")
SIDES = ("baseline", "current")


# ── an independent reading of the raw files ───────────────────────────────────────────────────────


def _requests(path: Path) -> list[dict]:
    text = path.read_text()
    if path.suffix == ".json":
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _plain(value: dict) -> object:
    (key, x), = value.items()
    return int(x) if key == "intValue" else x


def _otlp_runs(paths: list[Path]) -> dict[str, dict]:
    """trace id → {task, failed, in, out, cost, ns} from OTLP requests (any id spelling, either nesting)."""
    runs: dict[str, dict] = defaultdict(lambda: {"in": 0, "out": 0})
    for path in paths:
        for request in _requests(path):
            for rs in request["resourceSpans"]:
                for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", [])):
                    for span in ss["spans"]:
                        attrs = {a["key"]: _plain(a["value"]) for a in span.get("attributes", [])}
                        run = runs[span["traceId"]]
                        run["in"] += attrs.get("gen_ai.usage.input_tokens", 0)
                        run["out"] += attrs.get("gen_ai.usage.output_tokens", 0)
                        if not span.get("parentSpanId"):
                            run["task"] = attrs["app.task.id"]
                            run["cost"] = attrs["app.cost_usd"]
                            run["failed"] = span["status"].get("code") in (2, "STATUS_CODE_ERROR")
                            run["ns"] = int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])
    return runs


def _console_runs(path: Path) -> dict[str, dict]:
    text, pos, decoder = path.read_text(), 0, json.JSONDecoder()
    runs: dict[str, dict] = defaultdict(lambda: {"in": 0, "out": 0})
    while text[pos:].strip():
        span, end = decoder.raw_decode(text, pos + len(text[pos:]) - len(text[pos:].lstrip()))
        pos = end
        attrs = span["attributes"]
        run = runs[span["context"]["trace_id"]]
        run["in"] += attrs.get("gen_ai.usage.input_tokens", 0)
        run["out"] += attrs.get("gen_ai.usage.output_tokens", 0)
        if span["parent_id"] is None:
            run["task"], run["cost"] = attrs["app.task.id"], attrs["app.cost_usd"]
            run["failed"] = span["status"]["status_code"] == "ERROR"
            run["start"], run["end"] = span["start_time"], span["end_time"]
    return runs


def per_task(pop) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for code, outcome in zip(pop.task, pop.outcome, strict=True):
        k, n = out.get(pop.task_names[code], (0, 0))
        out[pop.task_names[code]] = (k + int(outcome == 1), n + 1)
    return out


def expected_tasks(runs: dict[str, dict]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for run in runs.values():
        k, n = out.get(run["task"], (0, 0))
        out[run["task"]] = (k + (not run["failed"]), n + 1)
    return out


def check(pop, runs: dict[str, dict]) -> None:
    assert pop.format == "otlp"
    assert per_task(pop) == expected_tasks(runs)
    assert pop.input_tokens.sum() == sum(r["in"] for r in runs.values())
    assert pop.output_tokens.sum() == sum(r["out"] for r in runs.values())
    assert pop.cost.sum() == pytest.approx(sum(r["cost"] for r in runs.values()), rel=1e-12)


LAYOUTS = {
    "collector": lambda side: [DATA / "otel" / f"{side}.collector.jsonl"],
    "pretty-base64": lambda side: [DATA / "otel" / f"{side}.otlp.json"],
    "split": lambda side: sorted((DATA / "otel" / "split" / side).glob("*.jsonl")),
    "legacy": lambda side: [DATA / "otel-legacy" / f"{side}.collector.jsonl"],
}


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_otlp_layouts_read_with_no_format_flag(layout: str, side: str) -> None:
    paths = LAYOUTS[layout](side)
    runs = _otlp_runs(paths)
    pop = load_population([str(p) for p in paths], label=side, fields=FIELDS)
    check(pop, runs)
    assert len(pop) == len(runs) == 24
    # durations are the root spans' exact nanosecond differences, in seconds
    assert sorted(pop.duration) == sorted(r["ns"] / 1e9 for r in runs.values())
    assert list(pop.n_spans) == [3] * 24


@pytest.mark.parametrize("side", SIDES)
def test_console_exporter_output_reads_as_is(side: str) -> None:
    path = DATA / "otel" / f"{side}.console.txt"
    runs = _console_runs(path)
    pop = load_population([str(path)], label=side, fields=FIELDS)
    check(pop, runs)


    def secs(run: dict) -> float:
        delta = datetime.fromisoformat(run["end"]) - datetime.fromisoformat(run["start"])
        return (delta.days * 86400 + delta.seconds) * 1e9 + delta.microseconds * 1000

    assert sorted(pop.duration) == sorted(secs(r) / 1e9 for r in runs.values())


def test_the_same_trace_ids_in_every_spelling() -> None:
    """Base64 (naive MessageToJson), hex (Collector) and 0x hex (console) name the same traces."""
    b64 = load_population([str(DATA / "otel/baseline.otlp.json")], label="b")
    hexa = load_population([str(DATA / "otel/baseline.collector.jsonl")], label="b")
    console = load_population([str(DATA / "otel/baseline.console.txt")], label="b")
    raw = next(iter(_otlp_runs([DATA / "otel/baseline.otlp.json"])))
    assert base64.b64decode(raw).hex() in set(b64.trace_id)
    assert set(b64.trace_id) == set(hexa.trace_id) == set(console.trace_id)


def test_resource_attributes_reach_where_and_fields() -> None:
    paths = [str(DATA / "otel" / f"{side}.collector.jsonl") for side in SIDES]
    pop = load_population(paths, label="both", fields=FieldMap(task_id="service.version"),
                          where=[parse_matcher("service.version=1.5.0-rc.1")])
    assert len(pop) == 24 and pop.total_before_filter == 48
    assert set(pop.task_names) == {"1.5.0-rc.1"}
    scoped = load_population(paths[:1], label="b", where=[parse_matcher("otel.scope.name=fixture.agent")])
    assert len(scoped) == 24


@pytest.mark.parametrize("layout", ["collector", "pretty-base64", "legacy"])
def test_convert_to_jsonl_gives_the_same_numbers(layout: str, tmp_path: Path) -> None:
    paths = [str(p) for p in LAYOUTS[layout]("current")]
    native = load_population(paths, label="c", fields=FIELDS)
    out = tmp_path / "converted.jsonl"
    out.write_text("".join(convert_lines(paths)))
    again = load_population([str(out)], label="c", fields=FIELDS)
    assert again.format == "otel-genai"
    assert per_task(again) == per_task(native)
    for column in ("input_tokens", "output_tokens", "cost", "duration", "n_spans", "span_duration"):
        np.testing.assert_array_equal(getattr(again, column), getattr(native, column))


# ── the root span's ERROR wins over its LLM calls' finish reasons (every span format) ──────────────


def test_root_error_wins_over_stop_finish_reasons_in_plain_otel_genai_jsonl(tmp_path: Path) -> None:
    spans = []
    for run, root_status in (("a", "ERROR"), ("b", "UNSET"), ("c", "OK")):
        spans.append({"context": {"trace_id": run, "span_id": f"{run}0"}, "parent_id": None,
                      "name": "invoke_agent", "status": {"status_code": root_status},
                      "attributes": {"gen_ai.operation.name": "invoke_agent", "task": run}})
        spans.append({"context": {"trace_id": run, "span_id": f"{run}1"}, "parent_id": f"{run}0",
                      "name": "chat", "attributes": {"gen_ai.operation.name": "chat",
                                                     "gen_ai.response.finish_reasons": ["stop"]}})
    path = tmp_path / "spans.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in spans))
    pop = load_population([str(path)], label="b")
    assert dict(zip(pop.trace_id, pop.outcome.tolist(), strict=True)) == {"a": 0, "b": 1, "c": 1}


# ── hand-written variants ─────────────────────────────────────────────────────────────────────────


def _span(**over) -> dict:
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "run",
            "kind": 1, "startTimeUnixNano": "1768471200987654321", "endTimeUnixNano": "1768471201497654321",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}],
            "status": {}}
    span.update(over)
    return span


def _request(*spans: dict, resource: list | None = None) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": resource or []},
                               "scopeSpans": [{"scope": {"name": "s"}, "spans": list(spans)}]}]}


def _write(tmp_path: Path, *requests: dict, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in requests))
    return path


def test_nanoseconds_are_exact_and_never_guessed_by_magnitude(tmp_path: Path) -> None:
    path = _write(tmp_path,
                  _request(_span(startTimeUnixNano="1768471201013154321",
                                 endTimeUnixNano="1768471201013154444")),
                  _request(_span(traceId="1" * 32, startTimeUnixNano="1000", endTimeUnixNano="2000000000")))
    pop = load_population([str(path)], label="b")
    assert sorted(pop.duration.tolist()) == [123 / 1e9, 1999999000 / 1e9]


def test_typed_values_and_status_names(tmp_path: Path) -> None:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "9007199254740993"}},
             {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 7}},
             {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "x"},
                                                                 {"boolValue": True}]}}},
             {"key": "meta", "value": {"kvlistValue": {"values": [{"key": "task",
                                                                  "value": {"stringValue": "t1"}}]}}},
             {"key": "blob", "value": {"bytesValue": "AAE="}}, {"key": "empty", "value": {}}]
    span = _span(attributes=attrs, status={"code": "STATUS_CODE_ERROR"}, kind="SPAN_KIND_CLIENT")
    path = _write(tmp_path, _request(span))
    pop = load_population([str(path)], label="b", fields=FieldMap(task_id="meta.task"),
                          where=[parse_matcher("blob=AAE=")])
    assert pop.task_names == ("t1",) and pop.outcome.tolist() == [0]
    assert pop.input_tokens.tolist() == [float(9007199254740993)] and pop.output_tokens.tolist() == [7.0]
    obj = json.loads(next(convert_lines([str(path)])))
    assert obj["attributes"]["gen_ai.usage.input_tokens"] == 9007199254740993
    assert obj["attributes"]["tags"] == ["x", True] and obj["kind"] == "CLIENT"
    assert obj["status"] == {"status_code": "ERROR"}


def test_a_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, _request(_span()))
    with path.open("a") as f:
        f.write(json.dumps(_request(_span(traceId="2" * 32)))[:80])
    pop = load_population([str(path)], label="b")
    assert len(pop) == 1
    assert any("truncated" in w for w in pop.warnings)


HOSTILE = {
    "bad trace id": (_request(_span(traceId="not-an-id")), "traceId 'not-an-id' is not a 16-byte id"),
    "short base64 id": (_request(_span(spanId="AAAA")), "spanId 'AAAA' is not a 8-byte id"),
    "zero id": (_request(_span(traceId="0" * 32)), "traceId is all zeros"),
    "no trace id": (_request({k: v for k, v in _span().items() if k != "traceId"}), "no traceId"),
    "intValue not a number": (_request(_span(attributes=[{"key": "n", "value": {"intValue": "12x"}}])),
                              "attributes['n']: intValue '12x' is not a 64-bit integer"),
    "float nanos": (_request(_span(startTimeUnixNano="1.7e18")), "startTimeUnixNano '1.7e18' is not a whole"),
    "huge nanos": (_request(_span(endTimeUnixNano="9" * 30)), f"endTimeUnixNano {'9' * 30} is outside"),
    "negative nanos": (_request(_span(endTimeUnixNano=-5)), "endTimeUnixNano -5 is outside 0..2^64-1"),
    "resourceSpans not a list": ({"resourceSpans": {"spans": []}}, "resourceSpans is a dict, not a list"),
    "scopeSpans a string": ({"resourceSpans": [{"scopeSpans": "x"}]}, "resourceSpans[0].scopeSpans is a str"),
    "span not an object": ({"resourceSpans": [{"scopeSpans": [{"spans": [3]}]}]},
                           "resourceSpans[0].scopeSpans[0].spans[0] is a int, not an object"),
    "bad status": (_request(_span(status={"code": 7})), "status.code '7' is not one of UNSET, OK, ERROR"),
    "bad kind": (_request(_span(kind="SPAN_KIND_WHATEVER")), "kind 'SPAN_KIND_WHATEVER' is not one of"),
    "attribute list an object": (_request(_span(attributes={"a": 1})), "attributes is a dict, not a list"),
    "attribute value not typed": (_request(_span(attributes=[{"key": "a", "value": 3}])),
                                  "attributes['a']: a int, not a typed value object"),
    "not a request": ({"hello": "world"}, "not an OTLP/JSON request (no resourceSpans)"),
    # an id is checked once per request and remembered by its text: the same text is still checked for the
    # size each place needs (a trace id is 16 bytes, a span id 8), whichever place it was met in first
    "trace id text as parent id": (_request(_span(traceId="4" * 32),
                                            _span(traceId="4" * 32, spanId="1" * 16, parentSpanId="4" * 32)),
                                   f"spans[1]: parentSpanId '{'4' * 32}' is not a 8-byte id"),
    "parent id text as trace id": (_request(_span(spanId="1" * 16, parentSpanId="5" * 16),
                                            _span(traceId="5" * 16)),
                                   f"spans[1]: traceId '{'5' * 16}' is not a 16-byte id"),
    "full-width digits in intValue": (_request(_span(attributes=[{"key": "n",
                                                                  "value": {"intValue": "１２"}}])),
                                      "intValue '１２' is not a 64-bit integer"),
    "intValue past 64 bits": (_request(_span(attributes=[{"key": "n", "value": {"intValue": "9" * 20}}])),
                              f"intValue '{'9' * 20}' is not a 64-bit integer"),
    # int() refuses more than 4,300 digits with a ValueError: an error naming the place, never a traceback
    "a time of 5,000 digits": (_request(_span(startTimeUnixNano="9" * 5000)),
                               f"startTimeUnixNano {'9' * 40}... is outside 0..2^64-1"),
    "bool status code": (_request(_span(status={"code": True})), "status.code 'True' is not one of"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_requests_exit_2_naming_file_and_place(case: str, tmp_path: Path) -> None:
    request, message = HOSTILE[case]
    path = _write(tmp_path, _request(_span(traceId="3" * 32)), request, name="x.jsonl")
    with pytest.raises(InputError) as err:
        load_population([str(path)], label="b", fmt="otlp")
    text = str(err.value)
    assert "x.jsonl" in text and "line 2" in text
    assert message in text


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    value: dict = {"stringValue": "x"}
    for _ in range(40):
        value = {"arrayValue": {"values": [value]}}
    path = _write(tmp_path, _request(_span(attributes=[{"key": "deep", "value": value}])))
    with pytest.raises(InputError, match="nested deeper than 32 levels"):
        load_population([str(path)], label="b")
    path.write_text('{"resourceSpans":' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(InputError, match="line 1: JSON nested too deeply"):
        load_population([str(path)], label="b")


def test_cli_reads_collector_files_and_exits_2_on_a_bad_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    base, cur = (DATA / "otel" / f"{side}.collector.jsonl" for side in SIDES)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["compare", str(base), str(cur), "--task-id", "app.task.id", "--format", "json",
                     "--resamples", "200", "-q"], out=out, err=err)
    report = json.loads(out.getvalue())
    assert code == 0, err.getvalue()
    rates = report["metrics"]["success_rate"]
    for side, path in zip(SIDES, (base, cur), strict=True):
        runs = _otlp_runs([path])
        assert rates[side]["successes"] == sum(not r["failed"] for r in runs.values())
    bad = _write(tmp_path, _request(_span(spanId="zz")), name="bad.jsonl")
    err = io.StringIO()
    code = cli.main(["compare", str(bad), str(cur), "-q"], out=io.StringIO(), err=err)
    assert code == 2
    assert "bad.jsonl: line 1: resourceSpans[0].scopeSpans[0].spans[0]: spanId 'zz'" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_integers_status_codes_and_kinds_in_every_shape(tmp_path: Path) -> None:
    """The common shapes (read on a fast path) and the rarer ones give the values the OTLP spec says."""
    attrs = [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "9223372036854775807"}},
             {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "-5"}},
             {"key": "small", "value": {"intValue": "007"}},
             {"key": "two keys", "value": {"intValue": "3", "unknownField": 1}}]
    spans = [_span(traceId=f"{i + 1:032x}", status=status, kind=kind, attributes=attrs)
             for i, (status, kind) in enumerate([({"code": 2}, 3), ({"code": 0}, 0), ({}, None),
                                                 ({"code": 1, "message": "fine"}, "SPAN_KIND_SERVER"),
                                                 ({"code": "STATUS_CODE_OK"}, 5)])]
    path = _write(tmp_path, _request(*spans))
    objs = [json.loads(line) for line in convert_lines([str(path)])]
    assert [o["status"] for o in objs] == [{"status_code": "ERROR"}, {"status_code": "UNSET"},
                                           {"status_code": "UNSET"},
                                           {"status_code": "OK", "description": "fine"},
                                           {"status_code": "OK"}]
    assert [o["kind"] for o in objs] == ["CLIENT", "UNSPECIFIED", "UNSPECIFIED", "SERVER", "CONSUMER"]
    assert objs[0]["attributes"]["gen_ai.usage.input_tokens"] == 2 ** 63 - 1
    assert objs[0]["attributes"]["gen_ai.usage.output_tokens"] == -5
    assert objs[0]["attributes"]["small"] == 7 and objs[0]["attributes"]["two keys"] == 3
    pop = load_population([str(path)], label="b")
    assert pop.outcome.tolist() == [0, -1, -1, 1, 1]  # ERROR fails, OK passes, unset says nothing


def test_one_trace_across_lines_and_files_with_its_resource(tmp_path: Path) -> None:
    """A trace's spans in two files and three requests are one trace: tokens summed, and the root's resource
    attributes (whichever request carried the root) reach `where` and `fields`."""
    tid, root = "ab" * 16, "cd" * 8

    def chat(n: int, tokens: int) -> dict:
        return _span(traceId=tid, spanId=f"{n:016x}", parentSpanId=root, name="chat",
                     attributes=[{"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(tokens)}}])

    version = [{"key": "service.version", "value": {"stringValue": "2.1.0"}}]
    other = _span(traceId="ef" * 16, spanId="12" * 8,
                  attributes=[{"key": "app.task.id", "value": {"stringValue": "t-other"}}])
    first = _write(tmp_path, _request(chat(1, 10), other), name="a.jsonl")
    second = _write(tmp_path, _request(chat(2, 20)),
                    _request(_span(traceId=tid, spanId=root, attributes=[
                        {"key": "app.task.id", "value": {"stringValue": "t-7"}}]), resource=version),
                    name="b.jsonl")
    pop = load_population([str(first), str(second)], label="b", fields=FieldMap(task_id="app.task.id"),
                          where=[parse_matcher("service.version=2.1.0")])
    assert list(pop.trace_id) == [tid] and pop.task_names == ("t-7",)
    assert pop.n_spans.tolist() == [3] and pop.input_tokens.tolist() == [30.0]


def test_gen_ai_attributes_nested_as_kvlists_are_read_by_path(tmp_path: Path) -> None:
    usage = {"kvlistValue": {"values": [{"key": "input_tokens", "value": {"intValue": "11"}},
                                        {"key": "output_tokens", "value": {"intValue": "4"}}]}}
    reasons = {"arrayValue": {"values": [{"stringValue": "length"}]}}
    gen_ai = {"kvlistValue": {"values": [{"key": "usage", "value": usage},
                                         {"key": "response", "value": {"kvlistValue": {"values": [
                                             {"key": "finish_reasons", "value": reasons}]}}}]}}
    path = _write(tmp_path, _request(_span(attributes=[{"key": "gen_ai", "value": gen_ai}])))
    pop = load_population([str(path)], label="b")
    assert pop.input_tokens.tolist() == [11.0] and pop.output_tokens.tolist() == [4.0]
    assert pop.outcome.tolist() == [0]  # cut short by length


@pytest.mark.parametrize("was_enabled", [True, False])
def test_the_cycle_collector_is_as_it_was_after_a_load(was_enabled: bool, tmp_path: Path) -> None:
    """Span files are read with the cycle collector paused; after the load, good or bad, it is as before."""
    good = _write(tmp_path, _request(_span()), name="good.jsonl")
    bad = _write(tmp_path, _request(_span()), {"hello": "world"}, name="bad.jsonl")
    before = gc.isenabled()
    (gc.enable if was_enabled else gc.disable)()
    try:
        load_population([str(good)], label="b")
        assert gc.isenabled() is was_enabled
        with pytest.raises(InputError):
            load_population([str(bad)], label="b")
        assert gc.isenabled() is was_enabled
    finally:
        (gc.enable if before else gc.disable)()


def test_a_json_number_past_the_digit_limit_is_an_error_naming_the_line(tmp_path: Path) -> None:
    """The JSON decoder raises a plain ValueError (not a JSONDecodeError) for an integer of more than 4,300
    digits: it must be one error naming the file and line, not a traceback."""
    path = _write(tmp_path, _request(_span()), name="x.jsonl")
    with path.open("a") as f:
        f.write('{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": '
                + "9" * 5000 + "}]}]}]}\n")
    with pytest.raises(InputError) as err:
        load_population([str(path)], label="b")
    assert "x.jsonl" in str(err.value) and "line 2: not valid JSON" in str(err.value)
