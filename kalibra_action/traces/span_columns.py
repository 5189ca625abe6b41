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
from kalibra_action.traces.fields import text_form
from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.roots import Root, takes_over, trace_task, verdict
from kalibra_action.traces.sink import Sink
from kalibra_action.traces.span_batch import (
    FINISH_REASONS,
    INPUT_TOKENS,
    OTHER_READING,
    OUTPUT_TOKENS,
    STATUSES,
    SpanBatch,
)
from kalibra_action.traces.values import FLOAT_LIMIT

_STATUS = {name: code for code, name in enumerate(STATUSES)}
_UNRESOLVED = -2
_OK, _ERROR = _STATUS["OK"], _STATUS["ERROR"]


class _Gathered:
    """What the lane reads of a side's span batches, taken from each batch while it is fresh (a pass over
    300k spans' values long after they were made costs several times more), and no more: the ids and
    times, each span's parent within its batch, its token values and finish, its name (an unnamed span
    named by otel_genai) as a number, the task path's value; the attributes of parentless spans only. The
    attribute dicts of the other spans are let go batch by batch."""

    def __init__(self, task_path: str | None) -> None:
        self.task_path = task_path
        self.trace_id: list[str] = []
        self.span_id: list[str] = []
        self.is_root: list[bool] = []  # parentless
        self.starts: list[np.ndarray] = []  # a batch's times, its token counts (NaN: none) as arrays
        self.ends: list[np.ndarray] = []
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []
        self.status: list[str] = []
        self.root_attrs: dict[int, dict] = {}  # span index → attributes, for parentless spans
        self.root_names: dict[int, object] = {}
        self.stray: dict[int, str] = {}  # span index → its parent's id, for parents not in the span's batch
        self.finished: list[int] = []  # the spans with finish reasons, and their finish
        self.finish: list[bool | None] = []
        self.other_reading = False
        self.parent: list[int] = []  # each span's parent span (its index), _UNRESOLVED if not in its batch
        self.trace_ids: dict[str, str] = {}  # first met first
        self.span_ids: set[str] = set()
        self.name_ids: dict[object, int] = {}  # name → its number, in the order read
        self.name_id: list[int] = []
        self.task_value: list = []

    def __len__(self) -> int:
        return len(self.trace_id)

    def add(self, batch: SpanBatch) -> bool:
        """Take a batch; False when it has what the lane does not read (the side is declined)."""
        attrs = batch.attrs
        if not OTHER_READING.isdisjoint(chain.from_iterable(attrs)):
            return False
        base, m = len(self.trace_id), len(attrs)
        # each span's trace id as the one string met first (a trace's spans carry copies of it)
        self.trace_id += map(self.trace_ids.setdefault, batch.trace_id, batch.trace_id)
        self.span_id += batch.span_id
        self.status += batch.status
        inputs = _tokens(list(map(dict.get, attrs, repeat(INPUT_TOKENS))))
        outputs = _tokens(list(map(dict.get, attrs, repeat(OUTPUT_TOKENS))))
        if inputs is None or outputs is None:  # a value that needs reading one by one
            return False
        self.inputs.append(inputs)
        self.outputs.append(outputs)
        self.starts.append(np.array(batch.start, dtype=np.int64))
        self.ends.append(np.array(batch.end, dtype=np.int64))
        roots = list(map(is_, batch.parent_id, repeat(None)))
        self.is_root += roots
        at = list(compress(range(base, base + m), roots))
        self.root_attrs.update(zip(at, compress(attrs, roots), strict=True))
        reasons = list(map(dict.get, attrs, repeat(FINISH_REASONS)))
        for i in compress(range(m), map(is_not, reasons, repeat(None))):
            self.finished.append(base + i)
            self.finish.append(otel_genai.finish(attrs[i]))
        here = dict(zip(batch.span_id, range(base, base + m), strict=True))
        found = list(map(here.get, batch.parent_id, repeat(_UNRESOLVED)))
        if _UNRESOLVED in found:
            for i in compress(range(m), map(is_, found, repeat(_UNRESOLVED))):
                if batch.parent_id[i] is not None:
                    self.stray[base + i] = batch.parent_id[i]
        self.parent += found
        self.span_ids.update(batch.span_id)
        names = batch.name
        if not all(names):  # a span without a name is named by its operation and model (otel_genai)
            names = [name or _span_name(name, a) for name, a in zip(names, attrs, strict=True)]
        self.root_names.update(zip(at, compress(names, roots), strict=True))
        ids = self.name_ids
        for name in dict.fromkeys(names).keys() - ids.keys():
            ids[name] = len(ids)
        self.name_id += map(ids.__getitem__, names)
        if self.task_path:
            self.task_value += map(dict.get, attrs, repeat(self.task_path))
        return True


def add_side(batches: Iterable[SpanBatch], sink: Sink, verdicts: Mapping[str, str] | None) -> int | None:
    """Append every trace of the side's span batches to the builder, as spans._add_entries and
    spans._add_traces would; the number of root spans with a verdict (for the caller's warning), or None
    when the lane declines (nothing appended, nothing counted; it may stop reading at the first batch it
    declines)."""
    side = _Gathered(sink.fields.task_id)
    for batch in batches:
        if not side.add(batch):
            return None
    n = len(side)
    if not n:
        return 0
    tids, sids = side.trace_id, side.span_id
    if len(side.span_ids) != n:  # a span id met twice (a span repeated: the span-by-span reading drops it)
        return None
    order = side.trace_ids  # the span-by-span grouping's order
    if not sink.seen.isdisjoint(order):  # a trace id already met (another format's files)
        return None
    index = dict(zip(order, range(len(order)), strict=True))
    trace = np.fromiter(map(index.__getitem__, tids), dtype=np.int64, count=n)
    n_traces = len(order)

    status = np.fromiter(map(_STATUS.get, side.status, repeat(-1)), dtype=np.int8, count=n)
    if (status < 0).any():
        return None
    starts = np.concatenate(side.starts)
    root, joined = _roots(trace, n_traces, side.is_root, starts, sids, verdicts)
    outcome = _outcomes(trace, n_traces, side, root, status, verdicts)
    tasks = _tasks(order, root, side, starts, sink)

    # steps: spans that are nobody's parent in their own trace
    parent = _parents(side.parent, side.stray, sids)
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
        start=starts[by_trace], end=np.concatenate(side.ends)[by_trace], cost=np.full(n, np.nan),
        input_tokens=np.concatenate(side.inputs)[by_trace],
        output_tokens=np.concatenate(side.outputs)[by_trace],
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


def _parents(found: list[int], stray: dict[int, str], sids: list) -> np.ndarray:
    """Each span's parent span (its index; -1 for a root or a parent not read), from the parents found in
    the span's own batch and, for the others (stray: span index → parent id), looked up among all spans
    (span ids are distinct here)."""
    parent = np.array(found, dtype=np.int64)
    if stray:
        position = dict(zip(sids, range(len(sids)), strict=True))
        for i, parent_id in stray.items():
            parent[i] = position.get(parent_id, -1)
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


def _roots(trace: np.ndarray, n_traces: int, is_root: list[bool], start: np.ndarray, sids: list,
           verdicts: Mapping[str, str] | None) -> tuple[np.ndarray, int]:
    """(each trace's root span, -1 if none; how many times a root with a verdict was taken) by the
    span-by-span rule (roots.takes_over), in C for the traces with one parentless span."""
    candidates = np.flatnonzero(np.array(is_root, dtype=bool))
    per_trace = np.bincount(trace[candidates], minlength=n_traces)
    alone = per_trace[trace[candidates]] == 1
    root = np.full(n_traces, -1, dtype=np.int64)
    root[trace[candidates[alone]]] = candidates[alone]
    taken = candidates[alone].tolist()
    several = candidates[~alone].tolist()
    starts = start.tolist() if several else []
    for i in several:  # traces with several parentless spans, in the order met
        t = trace[i]
        r = root[t]
        if takes_over(starts[i], None if r < 0 else starts[r]):
            root[t] = i
            taken.append(i)
    if not verdicts:
        return root, 0
    return root, sum(verdict(None, sids[i], verdicts) != OUTCOME_UNKNOWN for i in taken)


def _outcomes(trace: np.ndarray, n_traces: int, side: _Gathered, root: np.ndarray, status: np.ndarray,
              verdicts: Mapping[str, str] | None) -> np.ndarray:
    """spans._outcome for every trace: the root's verdict, else its ERROR, else the spans' finish (one cut
    short fails the trace), else its OK."""
    finished = np.array(side.finished, dtype=np.int64)
    has_finish = np.zeros(n_traces, dtype=bool)
    cut_short = np.zeros(n_traces, dtype=bool)
    has_finish[trace[finished[np.array([f is not None for f in side.finish], dtype=bool)]]] = True
    cut_short[trace[finished[np.array([f is False for f in side.finish], dtype=bool)]]] = True
    sids = side.span_id
    outcome = np.where(has_finish, np.where(cut_short, OUTCOME_FAILURE, OUTCOME_SUCCESS), OUTCOME_UNKNOWN)
    rooted = root >= 0
    root_status = np.where(rooted, status[root], -1)
    outcome[(root_status == _OK) & ~has_finish] = OUTCOME_SUCCESS
    outcome[root_status == _ERROR] = OUTCOME_FAILURE
    if verdicts:
        for t in np.flatnonzero(rooted).tolist():
            sid = sids[root[t]]
            code = verdict(None, sid, verdicts)
            if code != OUTCOME_UNKNOWN:
                outcome[t] = code
    return outcome.astype(np.int8)


def _tasks(order: dict, root: np.ndarray, side: _Gathered, starts: np.ndarray, sink: Sink) -> list[int]:
    """Each trace's task code, as spans._add_traces reads it (the mapped task id, else the default chain),
    counted by where it came from, in the same order."""
    path = sink.fields.task_id
    counts = sink.task_sources
    roots = root.tolist()
    task_value = side.task_value
    if path and min(roots, default=0) >= 0:  # every trace has its root: the values in C
        values = list(map(task_value.__getitem__, roots))
    else:
        values = [None if i < 0 else task_value[i] for i in roots] if path else [None] * len(roots)
    if path and values and set(map(type, values)) == {str}:  # the common case: every root has the task
        tasks = values
        counts[path] = counts.get(path, 0) + len(values)
    else:
        tasks = [_task(tid, i, value, path, side, starts, sink)
                 for tid, i, value in zip(order, roots, values, strict=True)]
    return sink.builder.task_column(tasks)


def _task(tid: str, i: int, value: object, path: str | None, side: _Gathered, starts: np.ndarray,
          sink: Sink) -> str:
    """One trace's task: the mapped task id `value` of its root span (i, -1 if none), else the default
    chain (roots.trace_task)."""
    if value is not None:
        counts = sink.task_sources
        counts[path] = counts.get(path, 0) + 1
        return value if value.__class__ is str else text_form(value)
    if i < 0:
        return trace_task(tid, None, ({},), sink)
    attrs = side.root_attrs[i]
    root = Root(int(starts[i]), attrs, side.status[i], "", OUTCOME_UNKNOWN, side.root_names[i])
    return trace_task(tid, root, (attrs,), sink)


def _span_name(name: object, attrs: dict) -> object:
    """otel_genai.span_values's name for a span without one."""
    return otel_genai.span_values({"name": name}, attrs, "")[0]

