"""The OTLP reader's fast paths against its span-by-span path: the same values, the same errors.

The reader reads a scope's spans a column at a time (otlp._scope_columns) and hands the span pipeline
ready-made span entries (otlp.span_entries → spans._add_entries) instead of span objects. Both are only
faster ways to the values of the span-by-span path (otlp._checked_spans, the span objects of
otlp.objects through the generic span pipeline), which stays the reader for anything uncommon and the
oracle here: on the real tools' files and on generated hostile requests, both ways must agree exactly,
values and errors.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import numpy as np
import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces import load, otlp
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from kalibra_action.traces.values import NS_LIMIT
from kalibra_action.traces.where import parse_matcher

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
OTLP_FILES = sorted(str(p) for p in (DATA / "otel").rglob("*") if p.is_file()) + sorted(
    str(p) for p in (DATA / "otel-legacy").glob("*"))
T0 = 1_768_471_200_000_000_000


def _attr(key: str, value: object) -> dict:
    typed = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}
    return {"key": key, "value": typed}


def _request(seed: int, traces: int = 6) -> dict:
    """A Collector-style request: a root and two chat spans a trace, in an order that mixes traces."""
    rng = random.Random(seed)
    spans = []
    for t in range(traces):
        tid = f"{rng.getrandbits(128) | 1:032x}"
        root = f"{rng.getrandbits(64) | 1:016x}"
        start = T0 + t * 10**9
        spans.append({"traceId": tid, "spanId": root, "parentSpanId": "", "name": "invoke_agent", "kind": 1,
                      "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 9 * 10**8),
                      "attributes": [_attr("app.task.id", f"task-{t % 3}"),
                                     _attr("gen_ai.operation.name", "invoke_agent")],
                      "status": {"code": 2, "message": "wrong"} if t % 2 else {"code": 1}})
        for k in range(2):
            spans.append({"traceId": tid, "spanId": f"{rng.getrandbits(64) | 1:016x}", "parentSpanId": root,
                          "name": "chat", "kind": 3, "startTimeUnixNano": str(start + (k + 1) * 10**8),
                          "endTimeUnixNano": str(start + (k + 2) * 10**8),
                          "attributes": [_attr("gen_ai.operation.name", "chat"),
                                         _attr("gen_ai.usage.input_tokens", 10 + t + k),
                                         _attr("gen_ai.usage.output_tokens", 3 + k)],
                          "status": {}})
    rng.shuffle(spans)
    scope = {"scope": {"name": "agent", "version": "0.1"}, "spans": spans}
    return {"resourceSpans": [{"resource": {"attributes": [_attr("service.version", "1.2.0")]},
                               "scopeSpans": [scope]}]}


# Values a hostile or merely unusual writer puts in a span's fields: other spellings the reader accepts
# (and must read to the same values either way) and values it refuses (with the same error either way).
_HOSTILE: dict[str, list] = {
    "traceId": ["ABCDEF0123456789ABCDEF0123456789", "0x" + "ab" * 16, "q83vASNFZ4mrze8BI0VniQ==", "0" * 32,
                "ab" * 15, 12, None, ["ab" * 16], {"a": 1}, "", "ab" * 16 + "\n", "ᵃ" * 32],
    "spanId": ["ABCDEF0123456789", "0x" + "cd" * 8, "q83vASNFZ4k=", "0" * 16, "cd" * 7, 5, None, [1], "",
               "cd" * 9],
    "parentSpanId": ["", None, "0" * 16, "EF" * 8, "ef" * 7, 0, False, [], "x", "7" * 16],
    "startTimeUnixNano": [str(T0), T0, "0", "", None, "12", "1" * 20, "9" * 19, "-1" + "0" * 17, "1.5e18",
                          1.5e18, "١" * 19, " " + "1" * 18, str(T0) + "0", True, str(NS_LIMIT),
                          str(NS_LIMIT - 1), str(NS_LIMIT + 10**17)],
    "endTimeUnixNano": [str(T0 + 5), None, "9" * 19, "abc", 7, "0" * 19],
    "name": [None, "", 7, ["n"], "ü-name"],
    "kind": [None, 0, 5, 6, -1, True, "SPAN_KIND_CLIENT", "client", "SpanKind.CLIENT", 2.0],
    "status": [None, {}, {"code": 0}, {"code": 2, "message": "m"}, {"code": "STATUS_CODE_ERROR"},
               {"code": True}, {"code": 3}, {"message": "x"}, {"code": 1, "message": ""}, [], "ok",
               {"code": 2, "message": 5}, {"code": None, "message": "y"}],
    "attributes": [None, [], {}, [1], [{"key": 1, "value": {"stringValue": "x"}}], [{"value": {}}],
                   [_attr("a", 1), _attr("a", "again")], [{"key": "k"}], [{"key": "k", "value": None}],
                   [{"key": "k", "value": {}}], [{"key": "k", "value": {"intValue": "-5"}}],
                   [{"key": "k", "value": {"intValue": "1" * 19}}],
                   [{"key": "k", "value": {"intValue": "1e3"}}],
                   [{"key": "k", "value": {"intValue": "1" * 20}}], [{"key": "k", "value": {"intValue": ""}}],
                   [{"key": "k", "value": {"intValue": "١٢"}}], [{"key": "k", "value": {"intValue": 12}}],
                   [{"key": "k", "value": {"doubleValue": 1.5}}],
                   [{"key": "k", "value": {"boolValue": True}}],
                   [{"key": "k", "value": {"stringValue": 3}}],
                   [{"key": "k", "value": {"stringValue": "a", "intValue": "3"}}],
                   [{"key": "k", "value": {"arrayValue": {"values": [{"stringValue": "s"}]}}}],
                   [{"key": "k", "value": {"kvlistValue": {"values": [_attr("x", 1)]}}}],
                   [{"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "12"}}],
                   [{"key": "openinference.span.kind", "value": {"stringValue": "LLM"}}],
                   [{"key": "k", "value": {"bytesValue": "AAE="}}], "attrs"],
}
_SNAKE = {"traceId": "trace_id", "spanId": "span_id", "parentSpanId": "parent_span_id",
          "startTimeUnixNano": "start_time_unix_nano", "endTimeUnixNano": "end_time_unix_nano"}


def _mutate(request: dict, rng: random.Random) -> dict:
    request = copy.deepcopy(request)
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(spans))
        choice = rng.random()
        if choice < 0.05:
            spans[k] = rng.choice([None, [], "span", 3])
            continue
        if not isinstance(spans[k], dict):
            continue
        key = rng.choice(sorted(_HOSTILE))
        if choice < 0.15 and key in _SNAKE:  # the protobuf spelling, alone or beside the JSON one
            value = spans[k].get(key) if rng.random() < 0.5 else rng.choice(_HOSTILE[key])
            if rng.random() < 0.5:
                spans[k].pop(key, None)
            spans[k][_SNAKE[key]] = value
        elif choice < 0.2:
            spans[k].pop(key, None)
        else:
            spans[k][key] = copy.deepcopy(rng.choice(_HOSTILE[key]))
    return request


def _read(request: dict, read_scope: otlp._ScopeReader) -> object:
    try:
        return otlp._entries(request, read_scope)
    except otlp._Bad as exc:
        return f"error: {exc}"


def _split(request: dict) -> dict:
    """The request's spans under two resources (their own attributes), the first with two scopes."""
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    a, b = len(spans) // 3, 2 * len(spans) // 3
    other = {"attributes": [_attr("service.version", "2.0.0"), _attr("service.name", "other")]}
    return {"resourceSpans": [
        {"resource": request["resourceSpans"][0]["resource"],
         "scopeSpans": [{"scope": {"name": "agent", "version": "0.1"}, "spans": spans[:a]},
                        {"scope": {"name": "tools"}, "spans": spans[a:b]}]},
        {"resource": other, "scopeSpans": [{"scope": {"name": "io"}, "spans": spans[b:]}]}]}


def test_the_column_reader_is_taken_on_the_common_shape() -> None:
    """Else the comparisons below would compare the span-by-span path with itself; also with spans under
    several resources and scopes (each root gets its own resource's and scope's attributes)."""
    for seed in range(5):
        for request in (_request(seed), _split(_request(seed))):
            columns = otlp._entries(request, otlp._scope_columns)
            assert columns == otlp._entries(request, otlp._checked_spans)
    assert len(columns) == 3  # a batch per scope
    roots = [entry[7] for batch in columns for entry in batch.entries() if entry[2] is None]
    assert {(a["service.version"], a.get("otel.scope.name")) for a in roots} == {
        ("1.2.0", "agent"), ("1.2.0", "tools"), ("2.0.0", "io")}


@pytest.mark.parametrize("seed", range(400))
def test_hostile_requests_read_the_same_both_ways(seed: int) -> None:
    rng = random.Random(seed)
    request = _mutate(_request(seed), rng)
    try:
        fast = otlp._request_entries(request)
    except otlp._Bad as exc:
        fast = f"error: {exc}"
    assert fast == _read(request, otlp._checked_spans)


def _columns(pop: object) -> dict:
    out = {name: getattr(pop, name) for name in ("outcome", "task", "cost", "input_tokens", "output_tokens",
                                                  "duration", "n_spans", "steps")}
    out["trace_id"] = list(pop.trace_id)
    out["tasks"] = list(pop.task_names)
    out["warnings"] = list(pop.warnings)
    return out


def _load_both(monkeypatch: pytest.MonkeyPatch, paths: list[str], **kwargs: object) -> tuple[object, object]:
    """(through span entries, through span objects) of the same files."""
    def load_once() -> object:
        try:
            return _columns(load_population(paths, label="side", **kwargs))  # type: ignore[arg-type]
        except InputError as exc:
            return f"error: {exc}"
    fast = load_once()
    with monkeypatch.context() as m:
        m.setattr(load, "entry_sources", lambda *_args: {})
        slow = load_once()
    return fast, slow


def _assert_same(fast: object, slow: object) -> None:
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
        return
    assert fast.keys() == slow.keys()
    for key in fast:
        if isinstance(fast[key], np.ndarray):
            np.testing.assert_array_equal(fast[key], slow[key], err_msg=key)
        else:
            assert fast[key] == slow[key], key


@pytest.mark.parametrize("path", OTLP_FILES, ids=lambda p: str(Path(p).relative_to(DATA)))
@pytest.mark.parametrize("fields", [FieldMap(), FieldMap(task_id="app.task.id")], ids=["plain", "task"])
def test_real_files_load_the_same_both_ways(monkeypatch: pytest.MonkeyPatch, path: str,
                                            fields: FieldMap) -> None:
    _assert_same(*_load_both(monkeypatch, [path], fields=fields, strict=False))


@pytest.mark.parametrize("seed", range(40))
def test_hostile_files_load_the_same_both_ways(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              seed: int) -> None:
    """Requests over several lines and files: a trace's spans split across them, repeated span and trace
    ids, mutated fields; loaded with the common options (a task path, `where`, duplicates)."""
    rng = random.Random(seed)
    requests = [_request(seed * 10 + i) for i in range(4)]
    requests = [_mutate(r, rng) if rng.random() < 0.5 else r for r in requests]
    if rng.random() < 0.5:  # a trace continued in the next request, and a span repeated
        spans = requests[1]["resourceSpans"][0]["scopeSpans"][0]["spans"]
        spans.extend(copy.deepcopy(requests[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][:3]))
    half = len(requests) // 2
    paths = []
    for i, chunk in enumerate((requests[:half], requests[half:])):
        path = tmp_path / f"part{i}.otlp.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in chunk))
        paths.append(str(path))
    options = rng.choice([{}, {"fields": FieldMap(task_id="app.task.id")},
                          {"where": [parse_matcher("app.task.id == task-1")]},
                          {"fields": FieldMap(task_id="service.version")}])
    _assert_same(*_load_both(monkeypatch, paths, strict=False, **options))
