"""The span pipeline's column lane (traces/span_columns.py) against the span-by-span grouping.

OTLP spans reach the span pipeline as SpanBatch columns. When nothing asks for single spans the lane
groups a whole side with set/dict passes and numpy; when it declines, the batches already read are
replayed to the span-by-span grouping (spans._add_entries → _add_traces); and the reader's span objects
through the generic pipeline are the oracle. All three must give the same population, every column of
it (traces and spans), the same task sources and the same warnings, on files made to hit each rule the
lane reimplements: roots (none, several, with and without start times), parents in other traces or
nowhere, finish reasons, unnamed spans, tokens missing or huge, traces split over requests and files,
the task chain, annotations joined as verdicts.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces import load, otlp, roots, span_columns
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.registry import ReadOptions

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
T0 = 1_768_471_200_000_000_000


def _attr(key: str, value: object) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def _span(tid: str, sid: str, parent: str, name: str, start: int, end: int, attrs: dict,
          status: dict) -> dict:
    return {"traceId": tid, "spanId": sid, "parentSpanId": parent, "name": name,
            "kind": 1 if not parent else 3, "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
            "attributes": [_attr(k, v) for k, v in attrs.items()], "status": status}


def _trace(rng: random.Random, t: int) -> list[dict]:
    """One run's spans, drawn to cover the lane's rules (see the module docstring)."""
    tid = f"{rng.getrandbits(128) | 1:032x}"
    start = T0 + t * 10**10 + rng.randrange(10**6)
    root_id = f"{rng.getrandbits(64) | 1:016x}"
    root_attrs: dict = {"gen_ai.operation.name": "invoke_agent"}
    task_kind = rng.random()
    if task_kind < 0.5:
        root_attrs["app.task.id"] = f"task-{t % 4}"
    elif task_kind < 0.6:
        root_attrs["app.task.id"] = t % 3  # a number: text_form
    elif task_kind < 0.7:
        root_attrs["task.id"] = f"other-{t % 2}"  # the default chain's attribute
    status = rng.choice([{}, {"code": 1}, {"code": 2, "message": "boom"}, {"code": 0}])
    spans = []
    root_shape = rng.random()
    if root_shape < 0.8:
        root_start = 0 if rng.random() < 0.1 else start  # now and then a root without a start
        spans.append(_span(tid, root_id, "", rng.choice(["invoke_agent", ""]), root_start, start + 9 * 10**8,
                           root_attrs, status))
    if 0.7 < root_shape < 0.9:  # a second parentless span: earlier, later, at the same time, without a start
        other = rng.choice([start - 10**6, start + 10**6, 0, start])
        spans.append(_span(tid, f"{rng.getrandbits(64) | 1:016x}", "", "side", other, other + 10**6,
                           {"app.task.id": "second-root"}, rng.choice([{}, {"code": 2}])))
    for k in range(rng.randint(0, 3)):
        attrs: dict = {"gen_ai.operation.name": "chat", "gen_ai.request.model": rng.choice(["m1", "m2"])}
        if rng.random() < 0.8:
            attrs["gen_ai.usage.input_tokens"] = rng.choice([rng.randrange(1, 500), 2**53 + 1, 0])
        if rng.random() < 0.7:
            attrs["gen_ai.usage.output_tokens"] = rng.randrange(0, 80)
        if rng.random() < 0.1:
            attrs["app.task.id"] = "on-a-child"  # the task path on a span that is not a root
        if rng.random() < 0.4:
            attrs["gen_ai.response.finish_reasons"] = rng.choice([["stop"], ["length"], ["stop", "length"],
                                                                  '["max_tokens"]', "stop", [], 7, "length"])
        parent = rng.choice([root_id] * 6 + [f"{rng.getrandbits(64) | 1:016x}"])  # or a parent never seen
        s = start + (k + 1) * 10**8
        spans.append(_span(tid, f"{rng.getrandbits(64) | 1:016x}", parent, rng.choice(["chat", "chat", ""]),
                           s, s + rng.randrange(10**8), attrs, rng.choice([{}, {}, {"code": 2}])))
    return spans


def _write(folder: Path, seed: int, annotate: bool = False) -> list[str]:
    """Files of Collector-style requests: traces shuffled over requests and files, some parents in
    another trace, a logs-only line, and now and then a file without spans; with `annotate`, a Phoenix
    annotations file judging some of the runs (verdicts joined onto root spans)."""
    rng = random.Random(seed)
    spans = [s for t in range(rng.randint(1, 40)) for s in _trace(rng, t)]
    for _ in range(rng.randint(0, 2)):  # a child whose parent is a span of another trace
        if len(spans) > 2:
            a, b = rng.sample(range(len(spans)), 2)
            spans[a] = {**spans[a], "parentSpanId": spans[b]["spanId"]}
    rng.shuffle(spans)
    resource = {"attributes": [_attr("service.version", f"1.{seed % 3}.0")]}
    paths = []
    n_files = rng.randint(1, 3)
    for f in range(n_files):
        part = spans[f::n_files]
        lines = []
        step = rng.randint(1, 25)
        for i in range(0, len(part), step):
            chunk = part[i:i + step]
            cut, split = rng.randint(0, len(chunk)), rng.random()
            if split < 0.2:  # two resources (another service.version), the first with two scopes
                other = {"attributes": [_attr("service.version", "2.0.0"), _attr("host.name", "h")]}
                lines.append({"resourceSpans": [
                    {"resource": resource, "scopeSpans": [
                        {"scope": {"name": "agent", "version": "0.1"}, "spans": chunk[:cut // 2]},
                        {"scope": {"name": "tools"}, "spans": chunk[cut // 2:cut]}]},
                    {"resource": other, "scopeSpans": [{"scope": {}, "spans": chunk[cut:]}]}]})
            else:
                lines.append({"resourceSpans": [{"resource": resource, "scopeSpans": [
                    {"scope": {"name": "agent", "version": "0.1"}, "spans": chunk}]}]})
        if rng.random() < 0.2:
            lines.append({"resourceLogs": [{"scopeLogs": []}]})
        path = folder / f"part{f}.otlp.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        paths.append(str(path))
    if annotate:  # Phoenix annotations of some parentless spans (and of a child, and of no span)
        template = json.loads((DATA / "phoenix" / "baseline.annotations-dataframe.jsonl").read_text()
                              .splitlines()[0])
        judged = [s["spanId"] for s in spans if not s["parentSpanId"] or rng.random() < 0.05]
        notes = [{**template, "span_id": sid, "result.label": rng.choice(["correct", "incorrect"]),
                  "result.score": None} for sid in rng.sample(judged, k=len(judged) * 2 // 3)]
        notes.append({**template, "span_id": "feedfacefeedface"})
        path = folder / "notes.annotations.jsonl"
        path.write_text("".join(json.dumps(note) + "\n" for note in notes))
        paths.append(str(path))
    return paths


def _population(paths: list[str], **kwargs: object) -> object:
    try:
        pop = load_population(paths, label="side", strict=False, **kwargs)  # type: ignore[arg-type]
    except InputError as exc:
        return f"error: {exc}"
    return {name: getattr(pop, name) for name in pop.__dataclass_fields__} | {"trace_id": list(pop.trace_id)}


def _three_ways(monkeypatch: pytest.MonkeyPatch, paths: list[str], **kwargs: object) -> tuple[list, int]:
    """(the lane, the lane declined and the batches replayed, span objects), and how often the lane took a
    side."""
    taken = []
    add_side = span_columns.add_side

    def counted(*args: object) -> int | None:
        result = add_side(*args)  # type: ignore[arg-type]
        taken.append(result is not None)
        return result

    def declined(batches: object, *_args: object) -> None:
        for _batch in batches:  # type: ignore[attr-defined]  # read to the end, as the lane does
            pass

    with monkeypatch.context() as m:
        m.setattr(span_columns, "add_side", counted)
        lane = _population(paths, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(span_columns, "add_side", declined)
        replayed = _population(paths, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(load, "entry_sources", lambda *_args: {})
        objects = _population(paths, **kwargs)
    return [lane, replayed, objects], sum(taken)


def _assert_same(results: list) -> None:
    first = results[0]
    for other in results[1:]:
        if isinstance(first, str) or isinstance(other, str):
            assert first == other
            continue
        assert first.keys() == other.keys()
        for key, value in first.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, other[key], err_msg=key)
                assert value.dtype == other[key].dtype, key
            else:
                assert value == other[key], key


@pytest.mark.parametrize("seed", range(60))
def test_generated_sides_read_the_same_three_ways(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  seed: int) -> None:
    annotate = seed % 4 == 3
    paths = _write(tmp_path, seed, annotate)
    fields = [FieldMap(), FieldMap(task_id="app.task.id"), FieldMap(task_id="service.version")][seed % 3]
    options = ReadOptions(outcome_annotation="correctness") if annotate else ReadOptions()
    results, taken = _three_ways(monkeypatch, paths, fields=fields, options=options)
    _assert_same(results)
    assert not isinstance(results[0], str), results[0]
    assert taken == 1  # these sides are all the lane's


def test_the_lane_takes_the_benchmark_shape_and_declines_what_it_does_not_reimplement(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A side is the lane's unless a span repeats, a trace id was met before, a value needs reading one
    by one, or an attribute asks for another reading; each such side still reads the same three ways."""
    rng = random.Random(7)
    # (spans as the Collector writes them, every start a 19-digit time: the reader's column path)
    base = [s for t in range(12) for s in _trace(rng, t) if s["startTimeUnixNano"] != "0"]
    request = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": base}]}]}
    assert otlp._entries(request, otlp._scope_columns) == otlp._entries(request, otlp._checked_spans)

    def side(name: str, spans: list[dict]) -> list[str]:
        path = tmp_path / f"{name}.otlp.jsonl"
        request = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}
        path.write_text(json.dumps(request) + "\n")
        return [str(path)]

    def with_attr(span: dict, key: str, value: dict) -> dict:
        return {**span, "attributes": [*span["attributes"], {"key": key, "value": value}]}

    def without(span: dict, key: str) -> dict:
        return {**span, "attributes": [a for a in span["attributes"] if a["key"] != key]}

    def twice(span: dict, key: str, first: dict, last: dict) -> dict:
        return with_attr(with_attr(span, key, first), key, last)

    chat = next(i for i, s in enumerate(base) if s["parentSpanId"])
    first_root, second_root = [s for s in base if not s["parentSpanId"]][:2]
    last_chat = max(i for i, s in enumerate(base)
                    if s["parentSpanId"] and s["traceId"] != base[chat]["traceId"])
    finish = "gen_ai.response.finish_reasons"
    cases = {
        "plain": (base, True),
        "repeated span": ([*base, base[chat]], False),
        "token as text": ([with_attr(s, "gen_ai.usage.output_tokens", {"stringValue": "12"}) if i == chat
                           else s for i, s in enumerate(base)], False),
        "token as a float": ([with_attr(s, "gen_ai.usage.input_tokens", {"doubleValue": 1.5}) if i == chat
                              else s for i, s in enumerate(base)], False),
        "openinference kind": ([with_attr(s, "openinference.span.kind", {"stringValue": "LLM"}) if i == chat
                                else s for i, s in enumerate(base)], False),
        "nested gen_ai": ([with_attr(s, "gen_ai", {"kvlistValue": {"values": [_attr("usage", "x")]}})
                           if i == chat else s for i, s in enumerate(base)], False),
        # a key twice in one span: its last value counts (a dict's reading), so tokens and finish reasons
        # are read span by span; a root's task path twice is read from the root's dict in the lane
        "tokens twice": ([twice(s, "gen_ai.usage.input_tokens", {"intValue": "7"}, {"intValue": "9"})
                          if i == chat else s for i, s in enumerate(base)], False),
        "finish twice": ([twice(s, "gen_ai.response.finish_reasons", {"stringValue": "stop"},
                                {"stringValue": "length"}) if i == chat else s for i, s in enumerate(base)],
                         False),
        "task twice": ([with_attr(s, "app.task.id", {"stringValue": "again"}) if not s["parentSpanId"]
                        else s for s in base], True),
        # as many task values as roots, but one root has two and another none
        "task twice on one root, none on another": (
            [twice(without(s, "app.task.id"), "app.task.id", {"stringValue": "a"}, {"stringValue": "b"})
             if s is first_root else without(s, "app.task.id") if s is second_root
             else with_attr(without(s, "app.task.id"), "app.task.id", {"stringValue": "t"})
             if not s["parentSpanId"] else s for s in base], True),
        # finish reasons without a value on one trace's span, then cut short on another trace's span
        "finish without a value": ([with_attr(without(s, finish), finish, {}) if i == chat
                                    else with_attr(without(s, finish), finish, {"stringValue": "length"})
                                    if i == last_chat else without(s, finish) if s["parentSpanId"] else s
                                    for i, s in enumerate(base)], True),
        "token without a value": ([with_attr(without(s, "gen_ai.usage.output_tokens"),
                                             "gen_ai.usage.output_tokens", {}) if i == chat else s
                                   for i, s in enumerate(base)], True),
    }
    for name, (spans, lane) in cases.items():
        results, taken = _three_ways(monkeypatch, side(name, spans), fields=FieldMap(task_id="app.task.id"))
        _assert_same(results)
        assert taken == lane, name
    # a resource attribute that a root span would read as its own tokens, finish or kind
    for key, value, lane in [("gen_ai.usage.input_tokens", {"intValue": "5"}, False),
                             ("gen_ai.response.finish_reasons", {"stringValue": "length"}, False),
                             ("openinference.span.kind", {"stringValue": "CHAIN"}, False),
                             ("app.task.id", {"stringValue": "from-the-resource"}, True)]:
        path = tmp_path / f"resource-{key}.otlp.jsonl"
        request = {"resourceSpans": [{"resource": {"attributes": [{"key": key, "value": value}]},
                                      "scopeSpans": [{"scope": {}, "spans": base}]}]}
        path.write_text(json.dumps(request) + "\n")
        for fields in (FieldMap(), FieldMap(task_id="app.task.id")):
            results, taken = _three_ways(monkeypatch, [str(path)], fields=fields)
            _assert_same(results)
            assert taken == lane, key
    # a trace id met before, in an earlier file of another format on the same side
    flat = tmp_path / "flat.jsonl"
    flat.write_text(json.dumps({"trace_id": base[0]["traceId"], "outcome": "success"}) + "\n")
    results, taken = _three_ways(monkeypatch, [str(flat), *side("after-flat", base)])
    _assert_same(results)
    assert taken == 0


def test_annotations_joined_onto_otlp_roots_read_the_same_three_ways(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Phoenix annotations beside the OTLP spans they judge (the same runs' span ids): the lane takes
    the verdicts as the span-by-span grouping does, and counts them for its warning the same way."""
    for side in ("baseline", "current"):
        paths = [str(DATA / "otel" / f"{side}.collector.jsonl"),
                 str(DATA / "phoenix" / f"{side}.annotations-dataframe.jsonl")]
        options = ReadOptions(outcome_annotation="correctness")
        results, taken = _three_ways(monkeypatch, paths, options=options)
        _assert_same(results)
        assert taken == 1
        assert not isinstance(results[0], str)
        assert len(set(results[0]["outcome"].tolist())) > 1  # the verdicts decide, not all alike


@pytest.mark.parametrize("path", sorted(str(p) for p in (DATA / "otel").rglob("*") if p.is_file()),
                         ids=lambda p: Path(p).name)
def test_real_otlp_files_read_the_same_three_ways(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    for fields in (FieldMap(), FieldMap(task_id="app.task.id")):
        results, _taken = _three_ways(monkeypatch, [path], fields=fields)
        _assert_same(results)


@pytest.mark.parametrize(("start", "root_start", "expected"), [
    (5, None, True),  # the first parentless span met is the root
    (0, None, True),  # ... even without a start
    (4, 5, True),  # a later one that starts earlier takes over
    (5, 5, False),  # one that starts at the same time does not
    (6, 5, False),  # nor one that starts later
    (7, 0, True),  # one with a start takes over from one without
    (0, 5, False),  # one without a start never does
    (0, 0, False),
])
def test_which_parentless_span_is_the_root(start: int, root_start: int | None, expected: bool) -> None:
    assert roots.takes_over(start, root_start) is expected


def test_a_root_verdict_is_its_own_outcome_else_the_joined_one() -> None:
    joined = {"a1": "success", "b2": "failure"}  # as the annotation readers hand them over
    assert roots.verdict("failure", "a1", joined) == OUTCOME_FAILURE  # its own outcome wins
    assert roots.verdict(None, "a1", joined) == OUTCOME_SUCCESS
    assert roots.verdict(None, "b2", joined) == OUTCOME_FAILURE
    assert roots.verdict(None, "c3", joined) == OUTCOME_UNKNOWN
    assert roots.verdict(None, "a1", None) == OUTCOME_UNKNOWN


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "span by span"])
def test_two_parentless_spans_at_the_same_time_the_first_met_is_the_root(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lane: bool) -> None:
    """Both groupings take the task from the root the rule picks: the first met of two that start together,
    the earlier of two that do not, one with a start over one without."""
    cases = {"same time": ((T0, "first"), (T0, "second"), "first"),
             "earlier later": ((T0, "first"), (T0 - 5, "second"), "second"),
             "no start first": ((0, "first"), (T0, "second"), "second")}
    spans = []
    for k, ((start_a, task_a), (start_b, task_b), _want) in enumerate(cases.values()):
        tid = f"{k + 1:032x}"
        for j, (start, task) in enumerate(((start_a, task_a), (start_b, task_b))):
            spans.append(_span(tid, f"{10 * k + j + 1:016x}", "", "run", start, T0 + 10**9,
                               {"app.task.id": task}, {}))
    path = tmp_path / "roots.otlp.jsonl"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
    if not lane:
        monkeypatch.setattr(load, "entry_sources", lambda *_args: {})
    pop = load_population([str(path)], label="side", fields=FieldMap(task_id="app.task.id"))
    tasks = [pop.task_names[code] for code in pop.task]
    assert tasks == [want for *_pair, want in cases.values()]
