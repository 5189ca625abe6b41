"""Flat JSON Lines (Kalibra's own format): one trace per line, spans nested in `spans`.

Trace keys: trace_id, outcome, metadata{}, attributes{}, spans[], cost, input_tokens, output_tokens,
start_ns/end_ns, start_time/end_time, duration_s; other keys are metadata. Span keys: span_id,
parent_id, name, cost, input_tokens, output_tokens, start_ns/end_ns or start_time/end_time, error,
attributes{}. A mapped field path is looked up in the trace's attributes, the line itself, then
`metadata` (so both `task_name` and `metadata.task_name` work: Kalibra bug 1).
"""

from __future__ import annotations

import json
from itertools import repeat

from kalibra_action.traces.fields import (
    MISSING,
    classify_outcome,
    resolve_first,
    resolve_path,
    task_from_trace_id,
    text_form,
)
from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.population import PopulationBuilder
from kalibra_action.traces.sink import Sink
from kalibra_action.traces.source import ObjectSource, TraceFile, iter_objects
from kalibra_action.traces.values import BadValues, number, raw_ns, timestamp_ns
from kalibra_action.traces.values import span_times as _span_times

_FAST_OUTCOME = {"success": OUTCOME_SUCCESS, "failure": OUTCOME_FAILURE,
                 "pass": OUTCOME_SUCCESS, "fail": OUTCOME_FAILURE}


def _as_dict(value: object) -> dict | None:
    if value.__class__ is dict:
        return value
    if isinstance(value, str) and value[:1] == "{":
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _as_list(value: object) -> list:
    if isinstance(value, str) and value[:1] == "[":
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def _id_text(value: object) -> str | None:
    return None if value is None else text_form(value)


def trace_duration(row: dict, bad: BadValues) -> float | None:
    """Explicit trace duration: end - start (ns or timestamps), else duration_s; None when absent."""
    if "start_ns" in row or "end_ns" in row:
        start = raw_ns(row.get("start_ns"), "start_ns", bad)
        end = raw_ns(row.get("end_ns"), "end_ns", bad)
        if start and end:
            return (end - start) / 1e9
    elif "start_time" in row or "end_time" in row:
        start = timestamp_ns(row.get("start_time"), "start_time", bad)
        end = timestamp_ns(row.get("end_time"), "end_time", bad)
        if start and end:
            return (end - start) / 1e9
    if "duration_s" in row:
        value = number(row["duration_s"], "duration_s", bad)
        return value if value == value else None
    return None


def _outcome(value: object) -> int:
    if value is None:
        return OUTCOME_UNKNOWN
    if value.__class__ is str:
        code = _FAST_OUTCOME.get(value)
        if code is not None:
            return code
    return classify_outcome(value)


def _present(value: object) -> bool:
    return value is not MISSING and value is not None


def _by_start(spans: list) -> list[dict]:
    dicts = [s for s in spans if isinstance(s, dict)]
    return sorted(dicts, key=lambda s: s.get("start_ns") if isinstance(s.get("start_ns"), int) else 0)


class _Mapped:
    """Per-trace values that need lookups: the `where` decision and mapped fields."""

    __slots__ = ("cost", "duration", "input_tokens", "keep", "outcome", "output_tokens", "task")

    def __init__(self, row: dict, spans: list, trace_id: str, sink: Sink, bad: BadValues) -> None:
        fm = sink.fields
        sources = tuple(s for s in (_as_dict(row.get("attributes")), row, _as_dict(row.get("metadata")))
                        if s is not None)
        if sink.on_trace is not None:
            sink.on_trace("flat", (row,))
        self.keep = True
        if sink.where:
            root = next((s for s in spans if isinstance(s, dict) and s.get("parent_id") is None), None)
            fallback = (_as_dict(root.get("attributes")) or {}, root) if root is not None else ()
            self.keep = sink.keep(sources, fallback)
            if not self.keep:
                return
        self.task = sink.task(trace_id, sources)
        self.outcome = _outcome(row.get("outcome"))
        if fm.outcome:
            value = resolve_first(sources, fm.outcome)
            if not _present(value):
                for span in _by_start(spans):
                    value = resolve_first((_as_dict(span.get("attributes")) or {}, span), fm.outcome)
                    if _present(value):
                        break
            code = fm.outcome_code(value)
            if code != OUTCOME_UNKNOWN:
                self.outcome = code
        self.cost = row.get("cost")
        self.input_tokens = row.get("input_tokens")
        self.output_tokens = row.get("output_tokens")
        for name in ("cost", "input_tokens", "output_tokens"):
            path = getattr(fm, name)
            if path:
                value = resolve_first(sources, path)
                if _present(value):
                    setattr(self, name, value)
        self.duration = None
        if fm.duration:
            value = resolve_first(sources, fm.duration)
            if _present(value):
                seconds = number(value, "duration", bad) * sink.duration_scale
                self.duration = seconds if seconds == seconds else None
        if self.duration is None:
            self.duration = trace_duration(row, bad)


def _add_spans(spans: list, b: PopulationBuilder, span_paths: tuple, bad: BadValues) -> tuple[int, int, int]:
    """Append a trace's spans one by one (any shape of data); (spans added, leaf spans, duplicates)."""
    n = dups = 0
    seen: set = set()
    ids: list = []
    pids: set = set()
    for sp in spans:
        if not isinstance(sp, dict):
            continue
        g = sp.get
        sid = g("span_id", "")
        if sid.__class__ is not str:
            sid = _id_text(sid)
        if sid:
            if sid in seen:
                dups += 1
                continue
            seen.add(sid)
        pid = g("parent_id")
        if pid is not None:
            pids.add(pid if pid.__class__ is str else _id_text(pid))
        ids.append(sid)
        row = {"name": g("name"), "error": g("error")}
        attrs = _as_dict(g("attributes")) or {}
        for path, key in zip(span_paths, ("cost", "input_tokens", "output_tokens"), strict=True):
            value = resolve_first((attrs, sp), path) if path else MISSING
            row[key] = value if _present(value) else g(key)
        start = g("start_ns")
        if start is None:
            start, end, duration = _span_times(sp, bad)
            if duration is not None:
                seconds = number(duration, "span duration_s", bad)
                if seconds == seconds:
                    b.s_dur[b.s_base + len(b.spans)] = seconds
        else:
            end = g("end_ns", start)
        row["start_ns"] = start
        row["end_ns"] = end
        b.spans.append(row)
        n += 1
    return n, sum(1 for s in ids if s not in pids), dups


def read_flat(tf: TraceFile, sink: Sink, warnings: list[str], objects: ObjectSource = iter_objects) -> None:
    """Append every trace of a flat file to the sink's builder.

    `objects(tf, warnings)` gives the file's trace objects: its JSON lines by default, or what a native
    reader (traces/registry.py) made of a file in another tool's format.

    The common shape (spans are objects with unique span ids, no mapped span fields) takes a fast path:
    the span objects go to the builder as they are, which reads them a chunk at a time; anything else goes
    span by span (duplicate span ids dropped, mapped fields resolved) into normalised span objects.
    """
    b = sink.builder
    b.start_file(tf.name)
    bad = b.bad
    bad.file = tf.name
    fm = sink.fields
    id_path = fm.trace_id if fm.trace_id and fm.trace_id != "trace_id" else None
    span_paths = (fm.cost, fm.input_tokens, fm.output_tokens)
    fast_spans = not fm.span_paths
    lookups = sink.lookups
    task_path = fm.task_id if lookups and sink.task_only else None
    seen = sink.seen
    seen_add = seen.add
    total = 0
    task_code = b.task_code
    dget = dict.get
    t_id, t_task, t_outcome = b.trace_id.append, b.task.append, b.outcome.append
    t_cost, t_in, t_out, t_dur = b.t_cost.append, b.t_in.append, b.t_out.append, b.t_dur.append
    t_nspans, t_steps = b.n_spans.append, b.steps.append
    add_spans = b.spans.extend
    k_id, k_parent = repeat("span_id"), repeat("parent_id")
    dup_spans = 0
    fast_outcome = _FAST_OUTCOME.get
    pending_spans, pending_traces = b.spans, b.outcome
    span_chunk, trace_chunk = b.span_chunk, b.trace_chunk

    for _where, row in objects(tf, warnings):
        tid = row.get("trace_id")
        if id_path is not None:
            mapped_id = resolve_path(row, id_path)
            if _present(mapped_id):
                tid = mapped_id
        if tid.__class__ is not str:
            tid = "" if tid is None else text_form(tid)
        if tid:
            if tid in seen:
                sink.dup_traces += 1
                continue
            seen_add(tid)
        else:
            sink.no_trace_id += 1
        total += 1
        spans = row.get("spans")
        if spans.__class__ is not list:
            spans = _as_list(spans)
        if lookups and (task_path is None or "attributes" in row):
            m = _Mapped(row, spans, tid, sink, bad)
            if not m.keep:
                continue
            task, outcome = m.task, m.outcome
            cost, in_tok, out_tok, duration = m.cost, m.input_tokens, m.output_tokens, m.duration
        else:
            task = tid
            mapped_task = False
            if task_path is not None:  # only task_id is mapped: _Mapped's lookup, without the rest
                value = resolve_path(row, task_path)
                if value is None or value is MISSING:
                    meta = _as_dict(row.get("metadata"))
                    value = MISSING if meta is None else resolve_path(meta, task_path)
                if value is not None and value is not MISSING:
                    task, mapped_task = text_form(value), True
            if not mapped_task and "__" in tid:  # task_from_trace_id, inlined for the common case
                if "___" in tid:
                    task = task_from_trace_id(tid)
                else:
                    head, _, last = tid.rpartition("__")
                    if last.isdigit():
                        head, sep, _ = head.rpartition("__")
                        if sep:
                            task = head
            outcome = row.get("outcome")
            outcome = (fast_outcome(outcome, OUTCOME_UNKNOWN) if outcome.__class__ is str
                       else _outcome(outcome))
            if outcome == OUTCOME_UNKNOWN:
                outcome = _outcome(row.get("outcome"))
            cost, in_tok, out_tok = row.get("cost"), row.get("input_tokens"), row.get("output_tokens")
            duration = (trace_duration(row, bad)
                        if "start_ns" in row or "start_time" in row or "duration_s" in row
                        or "end_ns" in row or "end_time" in row else None)

        n = len(spans)
        slow = not fast_spans
        if n and not slow:
            try:
                ids = set(map(dget, spans, k_id))
                if len(ids) != n:
                    raise TypeError
                parents = set(map(dget, spans, k_parent))
            except TypeError:  # not all objects, unhashable or repeated span ids
                slow = True
            else:
                parents.discard(None)
                steps = n - len(parents.intersection(ids)) if parents else n
                add_spans(spans)  # the builder reads their values (a chunk at a time)
        if slow:
            n, steps, dups = _add_spans(spans, b, span_paths, bad)
            dup_spans += dups
        elif not n:
            steps = 0

        t_id(tid)
        t_task(task_code(task))
        t_outcome(outcome)
        t_cost(cost)
        t_in(in_tok)
        t_out(out_tok)
        t_dur(duration)
        t_nspans(n)
        t_steps(steps)
        if len(pending_spans) >= span_chunk or len(pending_traces) >= trace_chunk:
            b.flush()
    b.flush()  # a chunk holds one file's rows: bad values are told per file
    sink.dup_spans += dup_spans
    sink.total += total
