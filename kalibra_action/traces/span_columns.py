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
from itertools import compress, filterfalse, repeat
from operator import is_, is_not

import numpy as np

from kalibra_action.traces import otel_genai
from kalibra_action.traces.fields import text_form
from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.roots import Root, count, takes_over, task_and_source, verdict
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

_INPUT, _OUTPUT, _FINISH, _TASK, _OTHER = 1, 2, 3, 4, 5
_WANTED = {INPUT_TOKENS: _INPUT, OUTPUT_TOKENS: _OUTPUT, FINISH_REASONS: _FINISH,
           **dict.fromkeys(OTHER_READING, _OTHER)}
_UNRESOLVED = -2
_OK, _ERROR = STATUSES.index("OK"), STATUSES.index("ERROR")


class _Gathered:
    """What the lane reads of a side's span batches, taken from each batch while it is fresh (a pass over
    300k spans' values long after they were made costs several times more), and no more: per batch, as
    arrays, each span's trace (its number, trace ids numbered first met first), its span id (the 8 bytes
    of its hex), whether it is parentless, its parent within the batch, times, token values, status and
    name (an unnamed span named by otel_genai) as numbers; the spans with finish reasons and their finish;
    and for parentless spans only, their task (a root's task is all the lane reads of its attributes) and,
    when verdicts are joined, their span id. Attributes are read from the batch's flat key/value columns
    (SpanBatch.items: no dict per span is made), and the batch itself, id strings included, is let go: the
    side is held in a fraction of the memory, with a Python object per trace, not per span.
    """

    def __init__(self, task_path: str | None, verdicts: Mapping[str, str] | None) -> None:
        self.task_path = task_path
        self.verdicts = verdicts
        # the keys looked at here, as numbers (a task path that is one of the others: from root dicts)
        self.wanted = {**({task_path: _TASK} if task_path else {}), **_WANTED}
        self.n = 0
        self.trace_codes: dict[str, int] = {}  # trace id → its number, first met first
        self.trace: list[np.ndarray] = []  # per batch, each span's: trace number
        self.span_key: list[np.ndarray] = []  # span id as a uint64 (its 8 bytes)
        self.is_root: list[np.ndarray] = []  # parentless
        self.parent: list[np.ndarray] = []  # parent's span index if in the span's batch, else _UNRESOLVED
        self.starts: list[np.ndarray] = []
        self.ends: list[np.ndarray] = []
        self.inputs: list[np.ndarray] = []  # token counts, NaN: none
        self.outputs: list[np.ndarray] = []
        self.status: list[np.ndarray] = []  # its place in STATUSES
        self.name_id: list[np.ndarray] = []  # its number in name_ids
        self.name_ids: dict[object, int] = {}  # name → its number, in the order read
        self.stray: dict[int, str] = {}  # span index → its parent's id, for parents not in the span's batch
        self.finished: list[int] = []  # the spans with finish reasons, and their finish
        self.finish: list[bool | None] = []
        self.root_task: dict[int, str | tuple[str, str]] = {}  # parentless span index → _root_tasks
        self.root_span: dict[int, str] = {}  # parentless span index → span id (with verdicts only)

    def __len__(self) -> int:
        return self.n

    def add(self, batch: SpanBatch) -> bool:
        """Take a batch; False when it has what the lane does not read (the side is declined)."""
        items = batch.items  # the attributes as flat columns: no dict per span (AttrItems)
        keys, values = items.keys, items.values
        if not all(map(_WANTED.keys().isdisjoint, items.extra.values())):
            return False  # a resource attribute would reach a root's tokens, finish or kind
        m = len(batch)
        # each attribute's key as a number (_WANTED; 0: not read here), and its span
        code = np.fromiter(map(self.wanted.get, keys, repeat(0)), dtype=np.int8, count=len(keys))
        if (code == _OTHER).any():
            return False
        span_of = np.repeat(np.arange(m), _small_ints(items.counts))
        inputs = _token_column(code == _INPUT, span_of, values, m)
        outputs = _token_column(code == _OUTPUT, span_of, values, m)
        try:  # (bytes: far quicker than numpy's reading of a list; a code of -1, not a status, stops it)
            status = np.frombuffer(bytes(batch.status_codes), dtype=np.int8)
        except ValueError:
            return False
        finish_at = np.flatnonzero(code == _FINISH)
        finish_spans = span_of[finish_at]
        if inputs is None or outputs is None or _repeated(finish_spans):
            return False  # a value read one by one elsewhere
        try:  # ids are lowercase hex (SpanBatch): 8 bytes a span id
            span_keys = np.frombuffer(bytes.fromhex("".join(batch.span_id)), dtype=np.uint64)
        except ValueError:
            return False
        if len(span_keys) != m:
            return False
        base = self.n
        self.n += m
        self.span_key.append(span_keys)
        self.inputs.append(inputs)
        self.outputs.append(outputs)
        self.status.append(status)
        if batch.times is None:
            self.starts.append(np.array(batch.start, dtype=np.int64))
            self.ends.append(np.array(batch.end, dtype=np.int64))
        else:  # the reader's array of the starts, then the ends
            self.starts.append(batch.times[:m])
            self.ends.append(batch.times[m:])
        tids = batch.trace_id
        codes = self.trace_codes
        fresh = list(filterfalse(codes.__contains__, dict.fromkeys(tids)))
        codes.update(zip(fresh, range(len(codes), len(codes) + len(fresh)), strict=True))
        self.trace.append(np.fromiter(map(codes.__getitem__, tids), dtype=np.int64, count=m))

        parents = batch.parent_id
        roots = list(map(is_, parents, repeat(None)))
        is_root = np.frombuffer(bytes(roots), dtype=bool)
        self.is_root.append(is_root)
        here = dict(zip(batch.span_id, range(base, base + m), strict=True))
        found = np.fromiter(map(here.get, parents, repeat(_UNRESOLVED)), dtype=np.int64, count=m)
        self.parent.append(found)
        stray = np.flatnonzero((found == _UNRESOLVED) & ~is_root).tolist()
        if stray:
            at = (np.array(stray) + base).tolist()
            self.stray.update(zip(at, map(parents.__getitem__, stray), strict=True))

        if len(finish_at):
            reasons = list(map(values.__getitem__, finish_at.tolist()))
            given = list(map(is_not, reasons, repeat(None)))
            self.finished += (finish_spans[np.array(given, dtype=bool)] + base).tolist()
            self.finish += _finishes(list(compress(reasons, given)))
        names = batch.name
        if not all(names):  # a span without a name is named by its operation and model (otel_genai)
            names = [name or _span_name(name, a) for name, a in zip(names, batch.attrs, strict=True)]
        ids = self.name_ids
        for name in dict.fromkeys(names).keys() - ids.keys():
            ids[name] = len(ids)
        self.name_id.append(np.fromiter(map(ids.__getitem__, names), dtype=np.int64, count=m))
        if any(roots):
            at = list(compress(range(base, base + m), roots))
            task_at = np.flatnonzero(code == _TASK)
            on_root = is_root[span_of[task_at]]
            tasks = _root_values(span_of[task_at[on_root]], np.flatnonzero(is_root), values, task_at[on_root])
            if tasks is not None:  # the common case: every root has the task path's text, once
                self.root_task.update(zip(at, tasks, strict=True))
            else:
                self._root_tasks(at, list(compress(batch.attrs, roots)), compress(names, roots),
                                 compress(tids, roots))
            if self.verdicts:
                self.root_span.update(zip(at, compress(batch.span_id, roots), strict=True))
        return True

    def _root_tasks(self, at: list[int], attrs: list[dict], names: Iterable, tids: Iterable) -> None:
        """The task of each parentless span, were it its trace's root, read from its attributes: the task
        path's text value, else (task, where it came from) as roots.task_and_source gives it."""
        path = self.task_path
        values = list(map(dict.get, attrs, repeat(path))) if path else [None] * len(at)
        for i, value, a, name, tid in zip(at, values, attrs, names, tids, strict=True):
            if value.__class__ is str:
                self.root_task[i] = value
            elif value is not None:
                self.root_task[i] = (text_form(value), path)
            else:
                root = Root(0, a, "", "", OUTCOME_UNKNOWN, name)
                self.root_task[i] = task_and_source(tid, root, (a,), path)


def add_side(batches: Iterable[SpanBatch], sink: Sink, verdicts: Mapping[str, str] | None) -> int | None:
    """Append every trace of the side's span batches to the builder, as spans._add_entries and
    spans._add_traces would; the number of root spans with a verdict (for the caller's warning), or None
    when the lane declines (nothing appended, nothing counted; it may stop reading at the first batch it
    declines)."""
    side = _Gathered(sink.fields.task_id, verdicts)
    for batch in batches:
        if not side.add(batch):
            return None
    n = len(side)
    if not n:
        return 0
    keys = np.concatenate(side.span_key)
    by_key = np.argsort(keys)
    sorted_keys = keys[by_key]
    if (sorted_keys[1:] == sorted_keys[:-1]).any():  # a span id met twice (the span-by-span reading drops it)
        return None
    order = side.trace_codes  # the span-by-span grouping's order
    if not sink.seen.isdisjoint(order):  # a trace id already met (another format's files)
        return None
    trace = np.concatenate(side.trace)
    n_traces = len(order)
    status = np.concatenate(side.status)
    starts = np.concatenate(side.starts)
    root, joined = _roots(trace, n_traces, np.concatenate(side.is_root), starts, side.root_span, verdicts)
    outcome = _outcomes(trace, n_traces, side, root, status, verdicts)
    tasks = _tasks(order, root, side, sink)

    # steps: spans that are nobody's parent in their own trace
    parent = _parents(np.concatenate(side.parent), side.stray, sorted_keys, by_key)
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
    ids = np.concatenate(side.name_id)[by_trace]
    distinct, first = np.unique(ids, return_index=True)
    code = np.empty(len(side.name_ids), dtype=np.int32)
    names = list(side.name_ids)
    for i in distinct[np.argsort(first)].tolist():
        code[i] = sink.builder.name_code(names[i])
    return code[ids]


def _parents(found: np.ndarray, stray: dict[int, str], sorted_keys: np.ndarray,
             by_key: np.ndarray) -> np.ndarray:
    """Each span's parent span (its index; -1 for a root or a parent not read), from the parents found in
    the span's own batch and, for the others (stray: span index → parent id), looked up among all spans
    by their span ids' 8 bytes (sorted_keys, by_key: sorted, and the spans in that order; ids distinct)."""
    parent = found.copy()
    if stray:
        at = np.fromiter(stray.keys(), dtype=np.int64, count=len(stray))
        wanted = np.frombuffer(bytes.fromhex("".join(stray.values())), dtype=np.uint64)
        pos = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
        parent[at] = np.where(sorted_keys[pos] == wanted, by_key[pos], -1)
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


def _token_column(mask: np.ndarray, span_of: np.ndarray, values: list, m: int) -> np.ndarray | None:
    """The token counts of the attributes in mask (one key's) at their spans, NaN where a span has none;
    None when a span has the key twice (its last value counts) or a value needs reading one by one
    (_tokens)."""
    out = np.full(m, np.nan)
    at = np.flatnonzero(mask)
    if len(at):
        spans = span_of[at]
        tokens = None if _repeated(spans) else _tokens(list(map(values.__getitem__, at.tolist())))
        if tokens is None:
            return None
        out[spans] = tokens
    return out


def _finishes(reasons: list) -> list[bool | None]:
    """otel_genai.finish of each span's finish reasons, worked out once per distinct value (a side's chat
    spans share a few: ["stop"], ["length"], ...)."""
    try:  # a value's type, items and their types as its key (a list and a text of the same letters, or
        # [1] and [True], differ); a number, or a list holding lists or objects, stops here
        keys = list(zip(map(type, reasons), map(tuple, reasons), map(tuple, map(map, repeat(type), reasons)),
                        strict=True))
        by_key = dict(zip(keys, reasons, strict=True))
    except TypeError:  # a value that is not a list or a text, or a list of objects: one by one
        return [otel_genai.finish({FINISH_REASONS: value}) for value in reasons]
    finish = {key: otel_genai.finish({FINISH_REASONS: value}) for key, value in by_key.items()}
    return list(map(finish.__getitem__, keys))


def _small_ints(values: list[int]) -> np.ndarray:
    """Whole numbers as an array; through bytes (far quicker than numpy's reading of a list) when all are
    in 0..255."""
    try:
        return np.frombuffer(bytes(values), dtype=np.uint8)
    except ValueError:
        return np.array(values, dtype=np.int64)


def _repeated(spans: np.ndarray) -> bool:
    """Whether a span appears twice among ascending span numbers."""
    return len(spans) > 1 and not (spans[1:] > spans[:-1]).all()


def _root_values(spans: np.ndarray, roots: np.ndarray, values: list, at: np.ndarray) -> list | None:
    """The task path's value of each root, in order, when every root has it once as text (spans: the
    roots' spans with the key, at: where its values are), else None."""
    if len(spans) != len(roots) or not (spans == roots).all():
        return None
    out = list(map(values.__getitem__, at.tolist()))
    return out if set(map(type, out)) == {str} else None


def _roots(trace: np.ndarray, n_traces: int, is_root: np.ndarray, start: np.ndarray,
           root_span: dict[int, str], verdicts: Mapping[str, str] | None) -> tuple[np.ndarray, int]:
    """(each trace's root span, -1 if none; how many times a root with a verdict was taken) by the
    span-by-span rule (roots.takes_over), in C for the traces with one parentless span."""
    candidates = np.flatnonzero(is_root)
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
    return root, sum(verdict(None, root_span[i], verdicts) != OUTCOME_UNKNOWN for i in taken)


def _outcomes(trace: np.ndarray, n_traces: int, side: _Gathered, root: np.ndarray, status: np.ndarray,
              verdicts: Mapping[str, str] | None) -> np.ndarray:
    """spans._outcome for every trace: the root's verdict, else its ERROR, else the spans' finish (one cut
    short fails the trace), else its OK."""
    finished = np.array(side.finished, dtype=np.int64)
    has_finish = np.zeros(n_traces, dtype=bool)
    cut_short = np.zeros(n_traces, dtype=bool)
    has_finish[trace[finished[np.array([f is not None for f in side.finish], dtype=bool)]]] = True
    cut_short[trace[finished[np.array([f is False for f in side.finish], dtype=bool)]]] = True
    outcome = np.where(has_finish, np.where(cut_short, OUTCOME_FAILURE, OUTCOME_SUCCESS), OUTCOME_UNKNOWN)
    rooted = root >= 0
    root_status = np.where(rooted, status[root], -1)
    outcome[(root_status == _OK) & ~has_finish] = OUTCOME_SUCCESS
    outcome[root_status == _ERROR] = OUTCOME_FAILURE
    if verdicts:
        for t in np.flatnonzero(rooted).tolist():
            code = verdict(None, side.root_span[root[t]], verdicts)
            if code != OUTCOME_UNKNOWN:
                outcome[t] = code
    return outcome.astype(np.int8)


def _tasks(order: dict, root: np.ndarray, side: _Gathered, sink: Sink) -> list[int]:
    """Each trace's task code, as spans._add_traces reads it (its root's task: the mapped task id, else
    the default chain; a trace without a root, the default chain of its id), counted by where it came
    from, in the same order."""
    path = sink.fields.task_id
    counts = sink.task_sources
    roots = root.tolist()
    of_root = side.root_task
    if min(roots) >= 0:  # every trace has its root
        values = list(map(of_root.__getitem__, roots))
    else:
        values = [of_root[i] if i >= 0 else task_and_source(tid, None, ({},), path)
                  for tid, i in zip(order, roots, strict=True)]
    if set(map(type, values)) == {str}:  # the common case: every root has the task path's text
        tasks = values
        counts[path] = counts.get(path, 0) + len(values)
    else:
        tasks = []
        for value in values:
            if value.__class__ is str:
                count(counts, path)
                tasks.append(value)
            else:
                count(counts, value[1])
                tasks.append(value[0])
    return sink.builder.task_column(tasks)


def _span_name(name: object, attrs: dict) -> object:
    """otel_genai.span_values's name for a span without one."""
    return otel_genai.span_values({"name": name}, attrs, "")[0]

