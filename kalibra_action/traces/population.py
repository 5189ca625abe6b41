"""Population: one side of a comparison, held as numpy columns (no Python object per span).

Per trace (length T) and per span (length S) arrays. Missing numeric values are NaN
("not measured"), 0 is "measured as zero". Strings (task ids, span names) are stored once
in a tuple and referenced by int32 codes; trace ids are one string plus end offsets (TraceIds).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat

import numpy as np

from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.values import BadValues, error_flag, number, raw_ns, span_times

__all__ = ["OUTCOME_FAILURE", "OUTCOME_SUCCESS", "OUTCOME_UNKNOWN", "Population", "PopulationBuilder",
           "SpanRow", "TraceIds"]

_F = np.float64
# The builder turns its lists into numpy chunks once this many spans (or traces) are pending, so the
# Python objects of one chunk are freed (and their memory reused) instead of living until build().
SPAN_CHUNK = 1 << 13
TRACE_CHUNK = 1 << 12


class TraceIds(Sequence[str]):
    """Trace ids as one string and the end offset of each id: ~1 byte a character plus 8 an id, where a
    numpy object array holds a 50-80 byte str object per trace (and pickles far slower)."""

    __slots__ = ("_ends", "_text")

    def __init__(self, text: str = "", ends: np.ndarray | None = None) -> None:
        self._text = text
        self._ends = np.zeros(0, dtype=np.int64) if ends is None else ends

    @classmethod
    def of(cls, ids: Iterable[str]) -> TraceIds:
        ids = [i if i.__class__ is str else str(i) for i in ids]
        return cls("".join(ids), np.cumsum(np.fromiter(map(len, ids), np.int64, count=len(ids))))

    def __len__(self) -> int:
        return int(self._ends.shape[0])

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        ends = self._ends
        end = int(ends[index])
        start = int(ends[index - 1]) if (index if index >= 0 else index + len(ends)) > 0 else 0
        return self._text[start:end]

    def __iter__(self) -> Iterator[str]:
        text = self._text
        start = 0
        for end in self._ends.tolist():
            yield text[start:end]
            start = end

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TraceIds):
            return self._text == other._text and np.array_equal(self._ends, other._ends)
        if isinstance(other, Sequence | np.ndarray) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self[:3])
        return f"TraceIds([{head}{', ...' if len(self) > 3 else ''}], n={len(self)})"

    def lengths(self) -> np.ndarray:
        """Length of each id in characters (0 = the trace has no id)."""
        return np.diff(self._ends, prepend=0)

    def to_array(self) -> np.ndarray:
        """The ids as a numpy object array of str."""
        out = np.empty(len(self), dtype=object)
        out[:] = list(self)
        return out

    @classmethod
    def concat(cls, parts: Sequence[TraceIds]) -> TraceIds:
        ends = []
        offset = 0
        for part in parts:
            ends.append(part._ends + offset)
            offset += len(part._text)
        return cls("".join(p._text for p in parts), np.concatenate(ends) if ends else None)


@dataclass(frozen=True, eq=False)
class Population:
    """One side (baseline or current) as columns. Build it with PopulationBuilder."""

    label: str
    files: tuple[str, ...]
    format: str  # "flat" | "openinference" | "otel-genai" (or "mixed" across files)
    filters: tuple[str, ...]  # the `where` expressions applied, as written
    total_before_filter: int  # traces read before `where`
    # per trace
    trace_id: TraceIds  # a read-only sequence of str
    task: np.ndarray  # int32 code into task_names
    task_names: tuple[str, ...]
    outcome: np.ndarray  # int8: 1 success, 0 failure, -1 unknown
    cost: np.ndarray  # float64, NaN = not measured (span sum, else trace-level value)
    input_tokens: np.ndarray  # float64, NaN = not measured
    output_tokens: np.ndarray  # float64, NaN = not measured
    duration: np.ndarray  # float64 seconds, NaN = not measured
    n_spans: np.ndarray  # int32
    steps: np.ndarray  # int32: leaf-span count (0 when the trace has no spans)
    # per span
    span_trace: np.ndarray  # int32: index of the owning trace
    span_name: np.ndarray  # int32 code into span_names, -1 = unnamed
    span_names: tuple[str, ...]
    span_cost: np.ndarray  # float64, NaN = not measured
    span_input_tokens: np.ndarray  # float64, NaN
    span_output_tokens: np.ndarray  # float64, NaN
    span_duration: np.ndarray  # float64 seconds, NaN when start or end is missing
    span_error: np.ndarray  # bool
    warnings: tuple[str, ...] = ()
    # span formats: where the task ids came from (a task_id path, a root attribute, "root span name",
    # "trace id") → how many traces
    task_sources: tuple[tuple[str, int], ...] = ()

    def __len__(self) -> int:
        return int(self.outcome.shape[0])

    @property
    def n_traces(self) -> int:
        return len(self)

    @cached_property
    def tokens(self) -> np.ndarray:
        """Input + output tokens per trace; NaN when neither was measured (computed once, read-only)."""
        return _token_sum(self.input_tokens, self.output_tokens)

    @cached_property
    def span_tokens(self) -> np.ndarray:
        """Input + output tokens per span; NaN when neither was measured (computed once, read-only:
        span_breakdown asks for it once per span name and side)."""
        return _token_sum(self.span_input_tokens, self.span_output_tokens)

    @property
    def has_spans(self) -> np.ndarray:
        return self.n_spans > 0


@dataclass
class SpanRow:
    """One span as the readers hand it to the builder (a plain record, not kept)."""

    span_id: str | None
    parent_id: str | None
    name: str
    cost: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    error: bool = False


class PopulationBuilder:
    """Appends traces and their spans into column lists, flushed to numpy chunks as they fill up.

    Readers append to the public lists directly (the hot path) and call `maybe_flush` between traces;
    `add_trace` is the convenient, slower way. Lists hold raw JSON values (None = missing, timestamps
    0 = missing); `flush` converts them, turning unusable values into "not measured" with one warning
    per file and field. A trace's spans are appended together, so span_trace never decreases. The lists
    are cleared in place by a flush (readers may hold their bound methods), and `t_base`/`s_base` count
    the traces/spans already flushed: the global index of a pending span is s_base + its list index.
    """

    def __init__(self, label: str, files: tuple[str, ...] = (), format: str = "flat",
                 filters: tuple[str, ...] = (), total_before_filter: int = 0,
                 warnings: list[str] | None = None) -> None:
        self.label = label
        self.files = files
        self.format = format
        self.filters = filters
        self.total_before_filter = total_before_filter
        self.warnings: list[str] = warnings if warnings is not None else []
        self.bad = BadValues()
        # (file name, first trace index, first span index): attributes bad raw values to files
        self.segments: list[tuple[str, int, int]] = []
        self.task_codes: dict[str, int] = {}
        self.name_codes: dict[str, int] = {}
        self.span_chunk, self.trace_chunk = SPAN_CHUNK, TRACE_CHUNK
        self.t_base = 0  # traces already flushed to chunks
        self.s_base = 0  # spans already flushed to chunks
        # per trace; t_* hold trace-level values, used where no span carries the value
        self.trace_id: list[str] = []
        self.task: list[int] = []
        self.outcome: list[int] = []
        self.t_cost: list[float] = []
        self.t_in: list[float] = []
        self.t_out: list[float] = []
        self.t_dur: list[float] = []
        self.n_spans: list[int] = []
        self.steps: list[int] = []
        # per span: the span objects themselves (the owning trace follows from n_spans: a trace's spans are
        # appended together), read column by column at flush. Keys read: name, cost, input_tokens,
        # output_tokens, start_ns/end_ns (a span without start_ns goes by start_time/end_time/duration_s;
        # one without end_ns ends at its start), error. Readers append raw JSON span objects as they are.
        self.spans: list[dict] = []
        self.s_dur: dict[int, float] = {}  # global span index → explicit duration in s (rare)
        self._columns: dict[str, np.ndarray] = {}
        self._ids: list[TraceIds] = []

    def start_file(self, name: str) -> None:
        """Mark that the rows appended from now on come from this file (for value warnings)."""
        self.segments.append((name, len(self), self.s_base + len(self.spans)))

    def task_code(self, task_id: str) -> int:
        code = self.task_codes.get(task_id)
        if code is None:
            code = self.task_codes[task_id] = len(self.task_codes)
        return code

    def task_column(self, tasks: list[str]) -> list[int]:
        """task_code of each task, in order (the tasks met for the first time coded once each)."""
        for task in dict.fromkeys(tasks):
            if task not in self.task_codes:
                self.task_code(task)
        return list(map(self.task_codes.__getitem__, tasks))

    def name_code(self, name: object) -> int:
        if not name:
            return -1
        if name.__class__ is not str:
            name = str(name)
        code = self.name_codes.get(name)
        if code is None:
            code = self.name_codes[name] = len(self.name_codes)
        return code

    def add_trace(
        self,
        trace_id: str,
        task_id: str,
        outcome: int,
        *,
        cost: float | None = None,
        input_tokens: float | None = None,
        output_tokens: float | None = None,
        duration: float | None = None,
        spans: list[SpanRow] | tuple[SpanRow, ...] = (),
    ) -> None:
        """Add one trace. Trace-level cost/tokens/duration are used where the spans carry none.

        Aggregation (Kalibra's, with its bug 3 fixed): cost and tokens are the sum over spans that
        carry them, else the trace-level value; duration is the explicit trace value, else
        max(end) - min(start) over spans that have both.
        """
        self.trace_id.append(trace_id)
        self.task.append(self.task_code(task_id))
        self.outcome.append(outcome)
        self.t_cost.append(cost)
        self.t_in.append(input_tokens)
        self.t_out.append(output_tokens)
        self.t_dur.append(duration)
        parents = {s.parent_id for s in spans if s.parent_id is not None}
        self.spans.extend({"name": s.name, "cost": s.cost, "input_tokens": s.input_tokens,
                           "output_tokens": s.output_tokens, "start_ns": s.start_ns or 0,
                           "end_ns": s.end_ns or 0, "error": bool(s.error)} for s in spans)
        self.n_spans.append(len(spans))
        self.steps.append(sum(1 for s in spans if s.span_id is None or s.span_id not in parents))
        self.maybe_flush()

    def __len__(self) -> int:
        return self.t_base + len(self.outcome)

    def maybe_flush(self) -> None:
        """Flush when enough rows are pending (call between traces)."""
        if len(self.spans) >= self.span_chunk or len(self.outcome) >= self.trace_chunk:
            self.flush()

    def flush(self) -> None:
        """Convert the pending rows to numpy chunks and clear the lists (in place)."""
        n, s = len(self.outcome), len(self.spans)
        if not n and not s:
            return
        bad = self.bad
        current_file = bad.file  # the fallbacks below set it per segment; the reader's must survive
        t_seg = _chunk_segments(self.segments, 1, self.t_base, n)
        s_seg = _chunk_segments(self.segments, 2, self.s_base, s)
        put = self._put
        put("n_spans", np.array(self.n_spans, dtype=np.int32), self.t_base)
        put("steps", np.array(self.steps, dtype=np.int32), self.t_base)
        put("task", np.array(self.task, dtype=np.int32), self.t_base)
        put("outcome", np.array(self.outcome, dtype=np.int8), self.t_base)
        put("t_cost", _float_column(self.t_cost, "cost", t_seg, bad), self.t_base)
        put("t_in", _float_column(self.t_in, "input_tokens", t_seg, bad), self.t_base)
        put("t_out", _float_column(self.t_out, "output_tokens", t_seg, bad), self.t_base)
        put("t_dur", _float_column(self.t_dur, "duration", t_seg, bad), self.t_base)
        if s:
            self._flush_spans(s_seg)
        self._ids.append(TraceIds.of(self.trace_id))
        bad.file = current_file
        for column in (self.trace_id, self.task, self.outcome, self.t_cost, self.t_in, self.t_out, self.t_dur,
                       self.n_spans, self.steps, self.spans):
            column.clear()
        self.t_base += n
        self.s_base += s

    def _flush_spans(self, segments: list[tuple[str, int]]) -> None:
        """The pending spans' columns: one pass over all of them per key (no per-trace overhead)."""
        spans, bad, base = self.spans, self.bad, self.s_base
        get = dict.get
        starts = list(map(get, spans, repeat("start_ns")))
        ends = list(map(get, spans, repeat("end_ns")))
        if None in starts or None in ends:
            self._fill_times(spans, starts, ends, segments)
        put = self._put
        put("s_name", self._name_column(list(map(get, spans, repeat("name")))), base)
        put("s_cost", _float_column(list(map(get, spans, repeat("cost"))), "span cost", segments, bad), base)
        put("s_in", _float_column(list(map(get, spans, repeat("input_tokens"))), "span input_tokens",
                                  segments, bad), base)
        put("s_out", _float_column(list(map(get, spans, repeat("output_tokens"))), "span output_tokens",
                                   segments, bad), base)
        put("s_start", _ns_column(starts, "span start", segments, bad), base)
        put("s_end", _ns_column(ends, "span end", segments, bad), base)
        put("s_err", _flag_column(list(map(get, spans, repeat("error")))), base)

    def _name_column(self, raw_names: list) -> np.ndarray:
        """The spans' name codes (name_code of each, in order): when all are text, each distinct name once."""
        try:
            distinct = dict.fromkeys(raw_names)
            if set(map(type, distinct)) == {str}:
                for name in distinct:
                    if name not in self.name_codes:
                        self.name_code(name)
            codes = list(map(self.name_codes.get, raw_names))
        except TypeError:  # an unhashable name
            codes = [None] * len(raw_names)
        if None in codes:
            name_code = self.name_code
            codes = [name_code(raw) if code is None else code
                     for raw, code in zip(raw_names, codes, strict=True)]
        return np.array(codes, dtype=np.int32)

    def add_columns(self, trace_id: list[str], task: list[int], outcome: np.ndarray, n_spans: np.ndarray,
                    steps: np.ndarray, *, name_codes: np.ndarray, start: np.ndarray, end: np.ndarray,
                    cost: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray,
                    error: np.ndarray) -> None:
        """Append whole traces at once (the span pipeline's fast lane, traces/span_columns.py): per trace
        its id, task code, outcome, span count and steps; per span, in trace order (the first n_spans[0]
        spans are the first trace's), its name code (name_code), exact start/end ns (0 = missing), cost
        and tokens (NaN = missing) and error flag. The values are checked already: nothing here is counted
        as bad."""
        self.flush()
        n, s = len(trace_id), len(name_codes)
        put = self._put
        put("n_spans", np.asarray(n_spans, dtype=np.int32), self.t_base)
        put("steps", np.asarray(steps, dtype=np.int32), self.t_base)
        put("task", np.array(task, dtype=np.int32), self.t_base)
        put("outcome", np.asarray(outcome, dtype=np.int8), self.t_base)
        for column in ("t_cost", "t_in", "t_out", "t_dur"):
            put(column, np.full(n, np.nan), self.t_base)
        if s:
            put("s_name", np.asarray(name_codes, dtype=np.int32), self.s_base)
            put("s_cost", np.asarray(cost, dtype=_F), self.s_base)
            put("s_in", np.asarray(input_tokens, dtype=_F), self.s_base)
            put("s_out", np.asarray(output_tokens, dtype=_F), self.s_base)
            put("s_start", np.asarray(start, dtype=np.int64), self.s_base)
            put("s_end", np.asarray(end, dtype=np.int64), self.s_base)
            put("s_err", np.asarray(error, dtype=np.bool_), self.s_base)
        self._ids.append(TraceIds.of(trace_id))
        self.t_base += n
        self.s_base += s

    def _fill_times(self, spans: list[dict], starts: list, ends: list,
                    segments: list[tuple[str, int]]) -> None:
        """Spans without start_ns (start_time/end_time, else duration_s) or without end_ns (their start)."""
        bad = self.bad
        for name, a, b in _bounds(segments, len(spans)):
            bad.file = name
            for i in range(a, b):
                if starts[i] is None:
                    starts[i], ends[i], duration = span_times(spans[i], bad)
                    if duration is not None:
                        seconds = number(duration, "span duration_s", bad)
                        if seconds == seconds:
                            self.s_dur[self.s_base + i] = seconds
                elif ends[i] is None and "end_ns" not in spans[i]:
                    ends[i] = starts[i]

    def _put(self, name: str, chunk: np.ndarray, base: int) -> None:
        """Write a chunk at rows [base, base + len) of the column, growing it in place when full.

        A column is one array that doubles by realloc (mremap for big ones: no copy, and pages not yet
        written take no memory), so build() needs no concatenation and no second copy of the columns.
        """
        column = self._columns.get(name)
        stop = base + chunk.shape[0]
        if column is None:
            column = self._columns[name] = np.empty(max(stop, 2 * chunk.shape[0]), dtype=chunk.dtype)
        elif column.shape[0] < stop:
            column.resize(max(stop, 2 * column.shape[0]), refcheck=False)
        column[base:stop] = chunk

    def _take(self, name: str, dtype: type, size: int) -> np.ndarray:
        column = self._columns.pop(name, None)
        if column is None:
            return np.zeros(size, dtype=dtype)
        column.resize(size, refcheck=False)  # shrinks in place
        return column

    def build(self) -> Population:
        """Freeze the columns: span durations, per-trace sums and durations are computed here."""
        self.flush()
        n, n_span_rows = self.t_base, self.s_base

        def take(name: str, dtype: type) -> np.ndarray:
            return self._take(name, dtype, n_span_rows if name.startswith("s_") else n)

        n_spans = take("n_spans", np.int32)
        s_trace = np.repeat(np.arange(n, dtype=np.int32), n_spans)
        s_cost = take("s_cost", _F)
        s_in = np.trunc(take("s_in", _F))
        s_out = np.trunc(take("s_out", _F))
        start = take("s_start", np.int64)
        end = take("s_end", np.int64)
        timed = (start != 0) & (end != 0)
        if timed.all():  # the common case: no masked copies of the big columns
            span_wall = _span_wall_time(s_trace, start, end, n)
        else:
            span_wall = _span_wall_time(s_trace[timed], start[timed], end[timed], n)
        np.subtract(end, start, out=end)  # in place: end now holds the span's length in ns
        del start
        s_dur = np.divide(end, 1e9, dtype=_F)
        del end
        s_dur[~timed] = np.nan
        del timed
        for index, seconds in self.s_dur.items():  # explicit durations win over timestamps
            s_dur[index] = seconds

        cost = _span_sum_else(s_trace, s_cost, take("t_cost", _F), n)
        t_in = np.trunc(take("t_in", _F))
        t_out = np.trunc(take("t_out", _F))
        span_in = _span_sum_else(s_trace, s_in, np.full(n, np.nan), n)
        span_out = _span_sum_else(s_trace, s_out, np.full(n, np.nan), n)
        no_span_tokens = np.isnan(span_in) & np.isnan(span_out)
        input_tokens = np.where(no_span_tokens, t_in, span_in)
        output_tokens = np.where(no_span_tokens, t_out, span_out)
        duration = take("t_dur", _F)
        duration = np.where(np.isnan(duration), span_wall, duration)

        warnings = list(self.warnings) + self.bad.warnings()
        for name, col in (("cost", cost), ("input tokens", input_tokens),
                          ("output tokens", output_tokens), ("duration", duration)):
            inf = np.isinf(col)
            if inf.any():
                col[inf] = np.nan
                warnings.append(f"{self.label}: {int(inf.sum())} trace(s) have a {name} too large to "
                                "add up; counted as not measured")
        ids, self._ids = self._ids, []
        return Population(
            label=self.label,
            files=tuple(self.files),
            format=self.format,
            filters=tuple(self.filters),
            total_before_filter=self.total_before_filter,
            trace_id=ids[0] if len(ids) == 1 else TraceIds.concat(ids),
            task=take("task", np.int32),
            task_names=tuple(self.task_codes),
            outcome=take("outcome", np.int8),
            cost=cost,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            duration=duration,
            n_spans=n_spans,
            steps=take("steps", np.int32),
            span_trace=s_trace,
            span_name=take("s_name", np.int32),
            span_names=tuple(self.name_codes),
            span_cost=s_cost,
            span_input_tokens=s_in,
            span_output_tokens=s_out,
            span_duration=s_dur,
            span_error=take("s_err", np.bool_),
            warnings=tuple(warnings),
        )


def _chunk_segments(segments: list[tuple[str, int, int]], which: int, base: int,
                    size: int) -> list[tuple[str, int]]:
    """The file segments overlapping rows [base, base + size), as (name, start within the chunk).

    Segments (one per file) are in row order; the walk starts at the last one that begins at or before
    `base` (a binary search), not at the first: a flush per file made a scan from the start quadratic in
    the number of files (20,000 one-line files took longer than ten minutes)."""
    out: list[tuple[str, int]] = []
    first = max(bisect.bisect_right(segments, base, key=lambda seg: seg[which]) - 1, 0)
    for i in range(first, len(segments)):
        seg = segments[i]
        start = seg[which]
        if start >= base + size and out:
            break
        following = segments[i + 1][which] if i + 1 < len(segments) else None
        if following is not None and following <= base:
            continue  # ends before the chunk
        out.append((seg[0], max(start - base, 0)))
    return out or [("", 0)]


def _token_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_missing = np.isnan(a) & np.isnan(b)
    with np.errstate(over="ignore"):  # two values near 1e308 sum to inf: the metrics drop it as not finite
        total = np.nan_to_num(a) + np.nan_to_num(b)
    total[both_missing] = np.nan
    total.setflags(write=False)
    return total


def _bounds(segments: list[tuple[str, int]], size: int) -> list[tuple[str, int, int]]:
    ends = [start for _, start in segments[1:]] + [size]
    return [(name, start, stop) for (name, start), stop in zip(segments, ends, strict=True)]


def _float_column(values: list, field: str, segments: list[tuple[str, int]], bad: BadValues) -> np.ndarray:
    """Raw values (numbers, None, numeric text, anything) → float64; unusable ones NaN and counted."""
    try:
        arr = np.array(values, dtype=_F)
    except (TypeError, ValueError, OverflowError):
        arr = np.empty(len(values), dtype=_F)
        for name, a, b in _bounds(segments, len(values)):
            bad.file = name
            arr[a:b] = [number(v, field, bad) for v in values[a:b]]
        return arr
    if arr.ndim != 1:  # a list of equal-length lists became 2-D
        return _float_column([*values, "x"], field, segments, bad)[:-1]
    finite = np.isfinite(arr)
    if not finite.all():
        for name, a, b in _bounds(segments, len(values)):
            n_bad = int((~finite[a:b]).sum()) - values[a:b].count(None)
            if n_bad > 0:
                bad.counts[(name, field)] += n_bad
        arr[~finite] = np.nan
    return arr


def _ns_column(values: list, field: str, segments: list[tuple[str, int]], bad: BadValues) -> np.ndarray:
    """Raw nanosecond values → int64; unusable ones 0 (missing) and counted."""
    try:
        arr = np.array(values, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        arr = np.empty(len(values), dtype=np.int64)
        for name, a, b in _bounds(segments, len(values)):
            bad.file = name
            arr[a:b] = [raw_ns(v, field, bad) for v in values[a:b]]
        return arr
    if arr.ndim != 1:
        return _ns_column([*values, "x"], field, segments, bad)[:-1]
    return arr


def _flag_column(values: list) -> np.ndarray:
    """Raw `error` values → bool: true, non-zero numbers and text other than false/0/no/ok are errors."""
    # list.count compares by identity first, and 1/0/1.0/0.0 (== True/False) convert the same way
    if values.count(False) + values.count(True) + values.count(None) == len(values):
        return np.array(values, dtype=bool)
    return np.array([error_flag(v) for v in values], dtype=bool)


def _span_sum_else(s_trace: np.ndarray, values: np.ndarray, fallback: np.ndarray, n: int) -> np.ndarray:
    """Per trace: the sum over its spans that carry a value, else the fallback."""
    if values.size == 0:
        return fallback.copy()
    have = ~np.isnan(values)
    count = np.bincount(s_trace[have], minlength=n)
    total = np.bincount(s_trace[have], weights=values[have], minlength=n)
    return np.where(count > 0, total, fallback)


def _span_wall_time(trace: np.ndarray, start: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """Per trace: (max end - min start) in seconds over timed spans; NaN for traces without any."""
    out = np.full(n, np.nan)
    if trace.size == 0:
        return out
    if np.all(trace[1:] >= trace[:-1]):
        heads = np.flatnonzero(np.diff(trace, prepend=-1))
        first = np.minimum.reduceat(start, heads)
        last = np.maximum.reduceat(end, heads)
        idx = trace[heads]
    else:  # spans not grouped by trace: slower scatter
        idx = np.unique(trace)
        first = np.full(n, np.iinfo(np.int64).max)
        last = np.full(n, np.iinfo(np.int64).min)
        np.minimum.at(first, trace, start)
        np.maximum.at(last, trace, end)
        first, last = first[idx], last[idx]
    out[idx] = (last - first) / 1e9
    return out
