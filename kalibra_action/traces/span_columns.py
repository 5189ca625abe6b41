"""A side's span entries grouped into traces a column at a time: the fast lane of the span pipeline.

A native reader that hands over span entries (traces/otlp.py) gives them as SpanBatch columns, a batch
per request. When nothing asks for a look at single spans or traces (no `where`, no mapped field but the
task id, no hook) and the spans are as a well-behaved exporter writes them (distinct span ids, plain
numbers, OTel GenAI attributes), add_side() groups all of a side's spans into traces with a few passes in
C and numpy, and appends whole columns to the builder. It gives exactly what traces/spans.py gives span
by span (the differential tests check it); whenever anything is off it declines (returns None) before
it has changed anything, and the span-by-span reading decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain, compress, repeat
from operator import is_, is_not

import numpy as np

from kalibra_action.traces import otel_genai
from kalibra_action.traces.fields import classify_outcome, text_form
from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.roots import Root, trace_task
from kalibra_action.traces.sink import Sink
from kalibra_action.traces.span_batch import (
    FINISH_REASONS,
    INPUT_TOKENS,
    OTHER_READING,
    OUTPUT_TOKENS,
    SpanBatch,
)
from kalibra_action.traces.values import FLOAT_LIMIT

_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
_UNRESOLVED = -2
_OK, _ERROR = _STATUS["OK"], _STATUS["ERROR"]


class _Gathered:
    """A side's span batches put together, with what the lane reads of each batch taken while the batch is
    fresh (a pass over 300k spans' values long after they were made costs several times more): token
    values, the spans with finish reasons, whether any key asks for another reading, each span's parent
    within its batch, its name (an unnamed span named by otel_genai) as a number, the task path's value."""

    def __init__(self, task_path: str | None) -> None:
        self.spans = SpanBatch([], [], [], None, None, [], [], [], [], None)
        self.task_path = task_path
        self.input_tokens: list = []
        self.output_tokens: list = []
        self.with_reasons: list[int] = []
        self.other_reading = False
        self.parent: list[int] = []  # each span's parent span (its index), _UNRESOLVED if not in its batch
        self.trace_ids: dict[str, None] = {}  # first met first
        self.span_ids: set[str] = set()
        self.names: list = []
        self.name_ids: dict[object, int] = {}  # name → its number, in the order read
        self.name_id: list[int] = []
        self.task_value: list = []

    def add(self, batch: SpanBatch) -> None:
        attrs = batch.attrs
        base = len(self.spans.trace_id)
        for column, values in zip(self.spans, batch, strict=True):
            if column is not None:  # the names (see self.names), kinds and messages are not read here
                column.extend(values)
        self.input_tokens += map(dict.get, attrs, repeat(INPUT_TOKENS))
        self.output_tokens += map(dict.get, attrs, repeat(OUTPUT_TOKENS))
        reasons = map(dict.get, attrs, repeat(FINISH_REASONS))
        self.with_reasons += compress(range(base, base + len(attrs)), map(is_not, reasons, repeat(None)))
        if not self.other_reading:
            self.other_reading = not OTHER_READING.isdisjoint(chain.from_iterable(attrs))
        here = dict(zip(batch.span_id, range(base, base + len(attrs)), strict=True))
        self.parent += map(here.get, batch.parent_id, repeat(_UNRESOLVED))
        self.trace_ids.update(zip(batch.trace_id, repeat(None)))
        self.span_ids.update(batch.span_id)
        names = batch.name
        if not all(names):  # a span without a name is named by its operation and model (otel_genai)
            names = [name if name else _span_name(name, a) for name, a in zip(names, attrs, strict=True)]
        self.names += names
        ids = self.name_ids
        for name in dict.fromkeys(names).keys() - ids.keys():
            ids[name] = len(ids)
        self.name_id += map(ids.__getitem__, names)
        if self.task_path:
            self.task_value += map(dict.get, attrs, repeat(self.task_path))


def add_side(batches: Iterable[SpanBatch], sink: Sink, verdicts: Mapping[str, str] | None) -> int | None:
    """Append every trace of the side's span batches to the builder, as spans._add_entries and
    spans._add_traces would; the number of root spans with a verdict (for the caller's warning), or None
    when the lane declines (nothing appended, nothing counted). The batches are always read to the end."""
    side = _Gathered(sink.fields.task_id)
    for batch in batches:
        side.add(batch)
    spans = side.spans
    n = len(spans.trace_id)
    if not n:
        return 0
    if side.other_reading:
        return None
    tids, sids, parents, _names, _kinds, starts, ends, attrs, statuses, _messages = spans
    in_tok, out_tok = _tokens(side.input_tokens), _tokens(side.output_tokens)
    if in_tok is None or out_tok is None:  # a value that needs reading one by one
        return None
    if len(side.span_ids) != n:  # a span id met twice (a span repeated: the span-by-span reading drops it)
        return None
    order = side.trace_ids  # the span-by-span grouping's order
    if not sink.seen.isdisjoint(order):  # a trace id already met (another format's files)
        return None
    index = dict(zip(order, range(len(order)), strict=True))
    trace = np.fromiter(map(index.__getitem__, tids), dtype=np.int64, count=n)
    n_traces = len(order)

    status = np.fromiter(map(_STATUS.get, statuses, repeat(-1)), dtype=np.int8, count=n)
    if (status < 0).any():
        return None
    root, joined = _roots(trace, n_traces, parents, starts, sids, verdicts)
    outcome = _outcomes(trace, n_traces, attrs, side.with_reasons, root, status, sids, verdicts)
    names = side.names
    tasks = _tasks(order, root, side.task_value, attrs, names, starts, statuses, sink)

    # steps: spans that are nobody's parent in their own trace
    parent = _parents(side.parent, parents, sids)
    child = np.flatnonzero(parent >= 0)
    parent = parent[child]
    is_parent = np.zeros(n, dtype=bool)
    is_parent[parent[trace[parent] == trace[child]]] = True
    n_spans = np.bincount(trace, minlength=n_traces)
    steps = n_spans - np.bincount(trace[is_parent], minlength=n_traces)

    by_trace = np.argsort(trace, kind="stable")
    sink.seen.update(order)
    sink.total += n_traces
    sink.builder.add_columns(
        list(order), tasks, outcome, n_spans, steps,
        name_codes=_name_codes(side, by_trace, sink),
        start=np.array(starts, dtype=np.int64)[by_trace], end=np.array(ends, dtype=np.int64)[by_trace],
        cost=np.full(n, np.nan), input_tokens=in_tok[by_trace], output_tokens=out_tok[by_trace],
        error=(status == _ERROR)[by_trace])
    return joined


def _name_codes(side: _Gathered, by_trace: np.ndarray, sink: Sink) -> np.ndarray:
    """The builder's name code of each span in trace order; names new to the builder are coded in the
    order they first appear in that order, as its span-by-span intake codes them."""
    ids = np.array(side.name_id, dtype=np.int64)[by_trace]
    distinct, first = np.unique(ids, return_index=True)
    code = np.empty(len(side.name_ids), dtype=np.int32)
    names = list(side.name_ids)
    for i in distinct[np.argsort(first)].tolist():
        code[i] = sink.builder.name_code(names[i])
    return code[ids]


def _parents(found: list[int], parents: list, sids: list) -> np.ndarray:
    """Each span's parent span (its index; -1 for a root or a parent not read), from the parents found in
    the span's own batch and, for the others, looked up among all spans (span ids are distinct here)."""
    parent = np.array(found, dtype=np.int64)
    unresolved = parent == _UNRESOLVED
    unresolved &= np.fromiter(map(is_not, parents, repeat(None)), dtype=bool, count=len(parents))
    if unresolved.any():
        position = dict(zip(sids, range(len(sids)), strict=True))
        for i in np.flatnonzero(unresolved).tolist():
            parent[i] = position.get(parents[i], -1)
    parent[parent == _UNRESOLVED] = -1
    return parent


def _tokens(values: list) -> np.ndarray | None:
    """Token counts (whole numbers or None) as floats, NaN where absent; None when any value would need
    traces/values.number's per-value reading (text, a bool, a float, a number past a float)."""
    if not set(map(type, values)) <= {int, type(None)}:
        return None
    try:
        out = np.array(values, dtype=np.float64)  # None → NaN
    except OverflowError:
        return None
    return None if (np.abs(out) >= FLOAT_LIMIT).any() else out


def _roots(trace: np.ndarray, n_traces: int, parents: list, starts: list, sids: list,
           verdicts: Mapping[str, str] | None) -> tuple[np.ndarray, int]:
    """(each trace's root span, -1 if none; how many times a root with a verdict was taken) by the
    span-by-span rule: the first parentless span met, unless a later one has a start and starts earlier
    (or the one taken has none)."""
    candidates = np.flatnonzero(np.fromiter(map(is_, parents, repeat(None)), dtype=bool, count=len(parents)))
    per_trace = np.bincount(trace[candidates], minlength=n_traces)
    alone = per_trace[trace[candidates]] == 1
    root = np.full(n_traces, -1, dtype=np.int64)
    root[trace[candidates[alone]]] = candidates[alone]
    taken = candidates[alone].tolist()
    for i in candidates[~alone].tolist():  # traces with several parentless spans, in the order met
        t = trace[i]
        r = root[t]
        if r < 0 or (starts[i] and (not starts[r] or starts[i] < starts[r])):
            root[t] = i
            taken.append(i)
    if not verdicts:
        return root, 0
    return root, sum(classify_outcome(verdicts[sids[i]]) != OUTCOME_UNKNOWN
                     for i in taken if sids[i] in verdicts)


def _outcomes(trace: np.ndarray, n_traces: int, attrs: list[dict], with_reasons: list[int], root: np.ndarray,
              status: np.ndarray, sids: list, verdicts: Mapping[str, str] | None) -> np.ndarray:
    """spans._outcome for every trace: the root's verdict, else its ERROR, else the finish reasons (of the
    spans `with_reasons`; one cut short fails the trace, otel_genai.finish), else its OK."""
    finish = [otel_genai.finish(attrs[i]) for i in with_reasons]
    spans = np.array(with_reasons, dtype=np.int64)
    has_finish = np.zeros(n_traces, dtype=bool)
    cut_short = np.zeros(n_traces, dtype=bool)
    has_finish[trace[spans[np.array([f is not None for f in finish], dtype=bool)]]] = True
    cut_short[trace[spans[np.array([f is False for f in finish], dtype=bool)]]] = True
    outcome = np.where(has_finish, np.where(cut_short, OUTCOME_FAILURE, OUTCOME_SUCCESS), OUTCOME_UNKNOWN)
    rooted = root >= 0
    root_status = np.where(rooted, status[root], -1)
    outcome[(root_status == _OK) & ~has_finish] = OUTCOME_SUCCESS
    outcome[root_status == _ERROR] = OUTCOME_FAILURE
    if verdicts:
        for t in np.flatnonzero(rooted).tolist():
            sid = sids[root[t]]
            verdict = classify_outcome(verdicts[sid]) if sid in verdicts else OUTCOME_UNKNOWN
            if verdict != OUTCOME_UNKNOWN:
                outcome[t] = verdict
    return outcome.astype(np.int8)


def _tasks(order: dict, root: np.ndarray, task_value: list, attrs: list, names: list, starts: list,
           statuses: list, sink: Sink) -> list[int]:
    """Each trace's task code, as spans._add_traces reads it (the mapped task id: each span's is in
    task_value; else the default chain), counted by where it came from, in the same order."""
    path = sink.fields.task_id
    counts = sink.task_sources
    roots = root.tolist()
    if path and min(roots, default=0) >= 0:  # every trace has its root: the values in C
        values = list(map(task_value.__getitem__, roots))
    else:
        values = [None if i < 0 else task_value[i] for i in roots] if path else [None] * len(roots)
    if path and values and set(map(type, values)) == {str}:  # the common case: every root has the task
        tasks = values
        counts[path] = counts.get(path, 0) + len(values)
    else:
        tasks = [_task(tid, i, value, path, attrs, names, starts, statuses, sink)
                 for tid, i, value in zip(order, roots, values, strict=True)]
    return sink.builder.task_column(tasks)


def _task(tid: str, i: int, value: object, path: str | None, attrs: list, names: list, starts: list,
          statuses: list, sink: Sink) -> str:
    """One trace's task: the mapped task id `value` of its root span (i, -1 if none), else the default
    chain (roots.trace_task)."""
    if value is not None:
        counts = sink.task_sources
        counts[path] = counts.get(path, 0) + 1
        return value if value.__class__ is str else text_form(value)
    if i < 0:
        return trace_task(tid, None, ({},), sink)
    return trace_task(tid, Root(starts[i], attrs[i], statuses[i], "", OUTCOME_UNKNOWN, names[i]), (attrs[i],),
                      sink)


def _span_name(name: object, attrs: dict) -> object:
    """otel_genai.span_values's name for a span without one."""
    return otel_genai.span_values({"name": name}, attrs, "")[0]

