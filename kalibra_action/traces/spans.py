"""Span-per-line formats: read spans, group them by `context.trace_id` across files, emit traces.

A trace's outcome is the root span's own `outcome` when it has one (a verdict a native reader joined
onto it, e.g. a Phoenix annotation: it wins over status and finish reasons), else failure when the root
span's status is ERROR (the run failed, whatever its LLM
calls' finish reasons say), else failure when any span's finish reason says it was cut short, success
when spans finished normally, else success when the root's status is OK. Trace metadata (for `where`,
task ids and mapped fields) is the root span's attributes, plus `span_kind`.

Span times are `start_time` / `end_time` (ISO 8601 or a number whose magnitude gives its unit) or, as the
native readers write them, `start_ns` / `end_ns` (exact integer nanoseconds).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from types import ModuleType

from kalibra_action.traces import openinference, otel_genai, span_columns
from kalibra_action.traces.attrs import OI_SPAN_KINDS, as_attrs, span_kind, status_of
from kalibra_action.traces.fields import (
    MISSING,
    resolve_first,
    text_form,
)
from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.roots import Root, takes_over, trace_task, verdict
from kalibra_action.traces.sink import Sink
from kalibra_action.traces.source import ObjectSource, TraceFile, iter_objects
from kalibra_action.traces.span_batch import SpanBatch
from kalibra_action.traces.values import NS_LIMIT, BadValues, number, raw_ns, timestamp_ns

FORMATS: dict[str, ModuleType] = {openinference.NAME: openinference, otel_genai.NAME: otel_genai}

# One span as kept until its trace is complete (a tuple: far smaller than an object per span).
# (span_id, parent_id, name, start_ns, end_ns, cost, in, out, error, finish, mapped outcome value)
_Span = tuple
_OI_KIND = "openinference.span.kind"
_NO_VERDICT = ("{label}: no root span has the outcome annotation (are the annotations from this side?); "
               "outcomes come from span status and finish reasons")
_NO_ROW: dict = {}  # span_kind()'s row for an entry: it has no `span_kind` key
_SPAN_ID, _PARENT_ID, _FINISH = itemgetter(0), itemgetter(1), itemgetter(9)

# A file's spans as a native reader may hand them over ready-made (traces/otlp.py), instead of span
# objects: span entries as columns, a batch at a time (one OTLP scope; see span_batch.SpanBatch).
EntrySource = Callable[[TraceFile, list[str]], Iterable[SpanBatch]]


def _num(value: object, field: str, bad: BadValues) -> float | None:
    if value is None:
        return None
    result = number(value, field, bad)
    return result if result == result else None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a side's spans are read.

    The span formats keep every span until the side is read (a trace's spans may be in any file), and
    each collection pass walks all that is kept: at 100k traces that was a third of the load time. The
    reading makes no reference cycles (JSON values are trees), so nothing is left for the collector; it
    runs again as before once the side is read.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _mapped(attrs: dict, row: dict, path: str | None, default: object) -> object:
    if not path:
        return default
    value = resolve_first((attrs, row), path)
    return default if value is MISSING or value is None else value


def _times(row: dict, bad: BadValues) -> tuple[int, int]:
    """(start, end) in ns from `start_ns`/`end_ns` when the object has them, else from the times (the
    caller has taken exact integer nanoseconds as they are)."""
    if "start_ns" in row:
        return raw_ns(row["start_ns"], "start_ns", bad), raw_ns(row.get("end_ns"), "end_ns", bad)
    return (timestamp_ns(row.get("start_time"), "start_time", bad),
            timestamp_ns(row.get("end_time"), "end_time", bad))


def read_span_files(files: Sequence[TraceFile], fmt: str, sink: Sink, warnings: list[str],
                    objects: ObjectSource = iter_objects, verdicts: Mapping[str, str] | None = None,
                    entries: Mapping[Path, EntrySource] | None = None) -> None:
    """Read every span of the files (one format), then append the grouped traces to the builder (see
    _read_span_files), with the cycle collector paused."""
    with _collector_paused():
        _read_span_files(files, fmt, sink, warnings, objects, verdicts, entries or {})


def _read_span_files(files: Sequence[TraceFile], fmt: str, sink: Sink, warnings: list[str],
                     objects: ObjectSource, verdicts: Mapping[str, str] | None,
                     entries: Mapping[Path, EntrySource]) -> None:
    """Read every span of the files (one format), then append the grouped traces to the builder.

    `objects(tf, warnings)` gives a file's span objects: its JSON lines by default, or what a native reader
    (traces/registry.py) made of a file in another tool's format. `entries`: the files whose reader hands
    over span entries instead (the faster way, used unless a span field is mapped: a mapped path may name
    any key of a span object). `verdicts`: span_id → outcome joined from the side's other files
    (annotations), for root spans without their own `outcome`. When every file hands over entries and
    nothing asks for single traces (no `where`, hook, mapped trace id or duration), the side goes through
    the column lane first (_column_lane; a side it declines is read again and grouped here).
    """
    module = FORMATS[fmt]
    span_values = module.span_values
    # An OpenInference span met in an OTel GenAI file (OTLP sent to Phoenix) keeps its own semantics.
    oi_values = openinference.span_values
    fm = sink.fields
    mapped = bool(fm.cost or fm.input_tokens or fm.output_tokens)
    bad = sink.builder.bad
    groups: dict[str, list[_Span]] = {}  # trace id → its spans, in the order first met
    roots: dict[str, Root] = {}
    skipped = {"no context object": 0, "no context.trace_id": 0}
    joined = 0  # root spans with a verdict of their own or from `verdicts`
    if mapped or fm.outcome:
        entries = {}
    lane = (entries and span_values is otel_genai.span_values and all(tf.path in entries for tf in files)
            and not (sink.where or sink.on_trace is not None or fm.trace_id or fm.duration))
    if lane and _column_lane(files, entries, sink, warnings, verdicts):
        return
    for tf in files:
        bad.file = tf.name
        n_rows = 0
        source = entries.get(tf.path)
        if source is not None:
            n_rows, n_joined = _add_entries(source(tf, warnings), span_values, groups, roots, verdicts, bad)
            joined += n_joined
        for _where, row in () if source is not None else objects(tf, warnings):
            n_rows += 1
            context = row.get("context")
            if context.__class__ is not dict:
                skipped["no context object"] += 1
                continue
            tid = context.get("trace_id")
            if not tid:
                skipped["no context.trace_id"] += 1
                continue
            if tid.__class__ is not str:
                tid = text_form(tid)
            attrs = row.get("attributes")
            if attrs.__class__ is not dict:
                attrs = as_attrs(attrs)
            sid = context.get("span_id") or ""
            if sid.__class__ is not str:
                sid = text_form(sid)
            pid = row.get("parent_id") or None
            if pid is not None and pid.__class__ is not str:
                pid = text_form(pid)
            # span_kind, skipped when nothing names a kind (the common OTel GenAI span)
            kind = row.get("span_kind") or ""
            if kind.__class__ is not str or (not kind and (_OI_KIND in attrs or "openinference" in attrs)):
                kind = span_kind(row, attrs)
            values = oi_values if kind in OI_SPAN_KINDS else span_values
            name, cost, in_tok, out_tok, fin = values(row, attrs, kind)
            status = status_of(row)
            start, end = row.get("start_ns"), row.get("end_ns")
            if not (start.__class__ is int and end.__class__ is int and 0 <= start < NS_LIMIT
                    and 0 <= end < NS_LIMIT):  # exact already (a native reader's), else read by _times
                start, end = _times(row, bad)
            if mapped:
                cost = _mapped(attrs, row, fm.cost, cost)
                in_tok = _mapped(attrs, row, fm.input_tokens, in_tok)
                out_tok = _mapped(attrs, row, fm.output_tokens, out_tok)
            span = (
                sid, pid, name, start, end,
                None if cost is None else _num(cost, "cost", bad),
                None if in_tok is None else _num(in_tok, "input_tokens", bad),
                None if out_tok is None else _num(out_tok, "output_tokens", bad),
                status == "ERROR", fin,
                resolve_first((attrs, row), fm.outcome) if fm.outcome else MISSING,
            )
            group = groups.get(tid)
            if group is None:
                groups[tid] = [span]
            else:
                group.append(span)
            if pid is None:
                root = roots.get(tid)
                if takes_over(start, None if root is None else root.start):
                    code = verdict(row.get("outcome"), sid, verdicts)
                    joined += code != OUTCOME_UNKNOWN
                    roots[tid] = Root(start, attrs, status, kind, code, name)
        if n_rows == 0:
            warnings.append(f"{tf.name}: no spans in this file")
    if verdicts and not joined:
        warnings.append(_NO_VERDICT.format(label=sink.builder.label))
    for reason, count in skipped.items():
        if count:
            warnings.append(f"{sink.builder.label}: skipped {count} span(s) with {reason}")
    _add_traces(groups, roots, sink)


def _column_lane(files: Sequence[TraceFile], entries: Mapping[Path, EntrySource], sink: Sink,
                 warnings: list[str], verdicts: Mapping[str, str] | None) -> bool:
    """The side's traces from its entries a column at a time (traces/span_columns.py), with the warnings
    the span-by-span reading gives; False, with nothing added or said, when that lane declines: the files
    are then read again here, span by span (the lane keeps no more of a batch than it needs, so a side of
    100k traces is held in a fraction of the memory)."""
    counts: dict[Path, int] = {}
    said: dict[Path, list[str]] = {}

    def read() -> Iterator[SpanBatch]:
        for tf in files:
            counts[tf.path] = 0
            for batch in entries[tf.path](tf, said.setdefault(tf.path, [])):
                counts[tf.path] += len(batch)
                yield batch

    joined = span_columns.add_side(read(), sink, verdicts)
    if joined is None:
        return False
    for tf in files:
        warnings += said[tf.path]
        if not counts[tf.path]:
            warnings.append(f"{tf.name}: no spans in this file")
    if verdicts and not joined:
        warnings.append(_NO_VERDICT.format(label=sink.builder.label))
    return True


def _add_entries(batches: Iterable[SpanBatch], span_values: Callable,
                 groups: dict[str, list[_Span]], roots: dict[str, Root],
                 verdicts: Mapping[str, str] | None, bad: BadValues) -> tuple[int, int]:
    """Group span entries as _read_span_files groups span objects, to the same values; (spans read, root
    spans with a verdict). No span field is mapped here, and an entry has no `outcome` of its own."""
    oi_values = openinference.span_values
    n_rows = joined = 0
    for batch in batches:
        n_rows += len(batch)
        for tid, sid, pid, name, _kind, start, end, attrs, status, _message in batch.entries():
            kind = ""
            values = span_values
            if _OI_KIND in attrs or "openinference" in attrs:
                kind = span_kind(_NO_ROW, attrs)
                if kind in OI_SPAN_KINDS:
                    values = oi_values
            name, cost, in_tok, out_tok, fin = values({"name": name}, attrs, kind)
            span = (
                sid, pid, name, start, end,
                None if cost is None else _num(cost, "cost", bad),
                None if in_tok is None else _num(in_tok, "input_tokens", bad),
                None if out_tok is None else _num(out_tok, "output_tokens", bad),
                status == "ERROR", fin, MISSING,
            )
            group = groups.get(tid)
            if group is None:
                groups[tid] = [span]
            else:
                group.append(span)
            if pid is None:
                root = roots.get(tid)
                if takes_over(start, None if root is None else root.start):
                    code = verdict(None, sid, verdicts)
                    joined += code != OUTCOME_UNKNOWN
                    roots[tid] = Root(start, attrs, status, kind, code, name)
    return n_rows, joined


def _dedupe(spans: list[_Span], sink: Sink) -> list[_Span]:
    if len(set(map(_SPAN_ID, spans))) == len(spans):  # the common case, all distinct: one pass in C
        return spans
    ids = [s[0] for s in spans if s[0]]
    if len(set(ids)) == len(ids):
        return spans
    seen: set[str] = set()
    kept = []
    for s in spans:
        if s[0]:
            if s[0] in seen:
                sink.dup_spans += 1
                continue
            seen.add(s[0])
        kept.append(s)
    return kept


def _outcome(spans: list[_Span], root: Root | None) -> int:
    """The root's own verdict wins (an evaluation of the run), then its ERROR (a failed run whose LLM calls
    all stopped normally failed), then the finish reasons, then the root's OK."""
    if root is not None and root.verdict != OUTCOME_UNKNOWN:
        return root.verdict
    if root is not None and root.status == "ERROR":
        return OUTCOME_FAILURE
    finishes = list(map(_FINISH, spans))
    if finishes.count(None) != len(finishes):  # some span has a finish reason
        return OUTCOME_FAILURE if False in finishes else OUTCOME_SUCCESS
    if root is not None and root.status == "OK":
        return OUTCOME_SUCCESS
    return OUTCOME_UNKNOWN


def _add_traces(groups: dict[str, list[_Span]], roots: dict[str, Root], sink: Sink) -> None:
    """Append every grouped trace as _add_trace does; the common case (no `where`, no hook, no mapped
    field but the task id) in one loop, its lookups bound once: a side holds 100k traces and more."""
    fm = sink.fields
    if sink.where or sink.on_trace is not None or fm.trace_id or fm.outcome or fm.duration:
        for tid, spans in groups.items():
            _add_trace(tid, spans, roots.get(tid), sink)
        return
    b = sink.builder
    seen, seen_add = sink.seen, sink.seen.add
    task_path = fm.task_id
    task_code, task_sources = b.task_code, sink.task_sources
    t_id, t_task, t_outcome = b.trace_id.append, b.task.append, b.outcome.append
    t_cost, t_in, t_out, t_dur = b.t_cost.append, b.t_in.append, b.t_out.append, b.t_dur.append
    t_nspans, t_steps, add_spans = b.n_spans.append, b.steps.append, b.spans.extend
    pending_spans, pending_traces = b.spans, b.outcome
    span_chunk, trace_chunk = b.span_chunk, b.trace_chunk
    no_root: dict = {}
    total = 0
    for tid, spans in groups.items():
        n = len(spans)
        if n > 1 and len(set(map(_SPAN_ID, spans))) != n:
            spans = _dedupe(spans, sink)
            n = len(spans)
        if tid:
            if tid in seen:
                sink.dup_traces += 1
                continue
            seen_add(tid)
        else:
            sink.no_trace_id += 1
        total += 1
        root = roots.get(tid)
        attrs = root.attrs if root is not None else no_root
        value = attrs.get(task_path) if task_path else None
        if value is not None:  # the mapped task, the common case of _trace_task
            task = value if value.__class__ is str else text_form(value)
            task_sources[task_path] = task_sources.get(task_path, 0) + 1
        else:
            kind = root.kind if root is not None else ""
            sources = (attrs, {"span_kind": kind}) if kind else (attrs,)
            task = trace_task(tid, root, sources, sink)
        t_id(tid)
        t_task(task_code(task))
        t_outcome(_outcome(spans, root))
        t_cost(None)
        t_in(None)
        t_out(None)
        t_dur(None)
        t_nspans(n)
        parents = set(map(_PARENT_ID, spans))
        parents.discard(None)
        t_steps(n - len(parents.intersection(map(_SPAN_ID, spans))) if parents else n)
        add_spans({"name": s[2], "start_ns": s[3], "end_ns": s[4], "cost": s[5], "input_tokens": s[6],
                   "output_tokens": s[7], "error": s[8]} for s in spans)
        if len(pending_spans) >= span_chunk or len(pending_traces) >= trace_chunk:
            b.flush()
    sink.total += total


def _add_trace(tid: str, spans: list[_Span], root: Root | None, sink: Sink) -> None:
    fm = sink.fields
    b = sink.builder
    if len(spans) > 1:
        spans = _dedupe(spans, sink)
    root_attrs = root.attrs if root is not None else {}
    sources: tuple[object, ...] = (root_attrs,)
    if root is not None and root.kind:
        sources = (root_attrs, {"span_kind": root.kind})
    if fm.trace_id:
        value = resolve_first(sources, fm.trace_id)
        if value is not MISSING and value is not None:
            tid = text_form(value)
    if not sink.is_new(tid):
        return
    if sink.on_trace is not None:
        sink.on_trace("span", sources)
    if sink.where and not sink.keep(sources):
        return
    outcome = _outcome(spans, root)
    if fm.outcome:
        value = resolve_first(sources, fm.outcome)
        if value is MISSING or value is None:
            for s in sorted(spans, key=lambda s: s[3]):
                if s[10] is not MISSING and s[10] is not None:
                    value = s[10]
                    break
        code = fm.outcome_code(value)
        if code != OUTCOME_UNKNOWN:
            outcome = code
    duration = None
    if fm.duration:
        value = resolve_first(sources, fm.duration)
        if value is not MISSING:
            duration = _num(value, "duration", b.bad)
            duration = None if duration is None else duration * sink.duration_scale

    b.trace_id.append(tid)
    b.task.append(b.task_code(trace_task(tid, root, sources, sink)))
    b.outcome.append(outcome)
    b.t_cost.append(None)
    b.t_in.append(None)
    b.t_out.append(None)
    b.t_dur.append(duration)
    b.n_spans.append(len(spans))
    # leaf spans: span ids are distinct here (bar empty ones, never a parent), so count them by sets
    parents = set(map(_PARENT_ID, spans))
    parents.discard(None)
    b.steps.append(len(spans) - len(parents.intersection(map(_SPAN_ID, spans))) if parents else len(spans))
    b.spans.extend({"name": s[2], "start_ns": s[3], "end_ns": s[4], "cost": s[5], "input_tokens": s[6],
                    "output_tokens": s[7], "error": s[8]} for s in spans)
    b.maybe_flush()
