"""Population: one side of a comparison, held as numpy columns (no Python object per span).

Per trace (length T) and per span (length S) arrays. Missing numeric values are NaN
("not measured"), 0 is "measured as zero". Strings (task ids, span names) are stored once
in a tuple and referenced by int32 codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kalibra_action.traces.values import BadValues, error_flag, number, raw_ns

OUTCOME_UNKNOWN = -1
OUTCOME_FAILURE = 0
OUTCOME_SUCCESS = 1

_F = np.float64


@dataclass(frozen=True, eq=False)
class Population:
    """One side (baseline or current) as columns. Build it with PopulationBuilder."""

    label: str
    files: tuple[str, ...]
    format: str  # "flat" | "openinference" | "otel-genai" (or "mixed" across files)
    filters: tuple[str, ...]  # the `where` expressions applied, as written
    total_before_filter: int  # traces read before `where`
    # per trace
    trace_id: np.ndarray  # object (str)
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

    def __len__(self) -> int:
        return int(self.outcome.shape[0])

    @property
    def n_traces(self) -> int:
        return len(self)

    @property
    def tokens(self) -> np.ndarray:
        """Input + output tokens per trace; NaN when neither was measured."""
        both_missing = np.isnan(self.input_tokens) & np.isnan(self.output_tokens)
        total = np.nan_to_num(self.input_tokens) + np.nan_to_num(self.output_tokens)
        return np.where(both_missing, np.nan, total)

    @property
    def span_tokens(self) -> np.ndarray:
        """Input + output tokens per span; NaN when neither was measured."""
        both_missing = np.isnan(self.span_input_tokens) & np.isnan(self.span_output_tokens)
        total = np.nan_to_num(self.span_input_tokens) + np.nan_to_num(self.span_output_tokens)
        return np.where(both_missing, np.nan, total)

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
    """Appends traces and their spans into growing column lists, then freezes them to numpy.

    Readers append to the public lists directly (the hot path); `add_trace` is the convenient,
    slower way. Lists hold raw JSON values (None = missing, timestamps 0 = missing); `build`
    converts them, turning unusable values into "not measured" with one warning per file and field.
    A trace's spans are appended together, so span_trace never decreases.
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
        # per span (the owning trace follows from n_spans: a trace's spans are appended together)
        self.s_name: list[int] = []
        self.s_cost: list[float] = []
        self.s_in: list[float] = []
        self.s_out: list[float] = []
        self.s_start: list[int] = []  # ns, 0 = missing
        self.s_end: list[int] = []  # ns, 0 = missing
        self.s_dur: dict[int, float] = {}  # span index → explicit duration in s (rare)
        self.s_err: list[object] = []  # raw `error` values or bools

    def start_file(self, name: str) -> None:
        """Mark that the rows appended from now on come from this file (for value warnings)."""
        self.segments.append((name, len(self.outcome), len(self.s_name)))

    def task_code(self, task_id: str) -> int:
        code = self.task_codes.get(task_id)
        if code is None:
            code = self.task_codes[task_id] = len(self.task_codes)
        return code

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
        for s in spans:
            self.s_name.append(self.name_code(s.name))
            self.s_cost.append(s.cost)
            self.s_in.append(s.input_tokens)
            self.s_out.append(s.output_tokens)
            self.s_start.append(s.start_ns or 0)
            self.s_end.append(s.end_ns or 0)
            self.s_err.append(bool(s.error))
        self.n_spans.append(len(spans))
        self.steps.append(sum(1 for s in spans if s.span_id is None or s.span_id not in parents))

    def __len__(self) -> int:
        return len(self.outcome)

    def build(self) -> Population:
        """Freeze the columns: span durations, per-trace sums and durations are computed here."""
        n = len(self.outcome)
        t_seg = [(name, t) for name, t, _ in self.segments] or [("", 0)]
        s_seg = [(name, sp) for name, _, sp in self.segments] or [("", 0)]
        bad = self.bad
        n_spans = np.array(self.n_spans, dtype=np.int32)
        s_trace = np.repeat(np.arange(n, dtype=np.int32), n_spans)
        s_cost = _float_column(self.s_cost, "span cost", s_seg, bad)
        s_in = np.trunc(_float_column(self.s_in, "span input_tokens", s_seg, bad))
        s_out = np.trunc(_float_column(self.s_out, "span output_tokens", s_seg, bad))
        start = _ns_column(self.s_start, "span start", s_seg, bad)
        end = _ns_column(self.s_end, "span end", s_seg, bad)
        timed = (start != 0) & (end != 0)
        s_dur = np.full(len(self.s_name), np.nan)
        if self.s_dur:
            s_dur[list(self.s_dur)] = list(self.s_dur.values())
        from_ts = np.isnan(s_dur) & timed
        s_dur[from_ts] = (end[from_ts] - start[from_ts]) / 1e9

        cost = _span_sum_else(s_trace, s_cost, _float_column(self.t_cost, "cost", t_seg, bad), n)
        t_in = np.trunc(_float_column(self.t_in, "input_tokens", t_seg, bad))
        t_out = np.trunc(_float_column(self.t_out, "output_tokens", t_seg, bad))
        span_in = _span_sum_else(s_trace, s_in, np.full(n, np.nan), n)
        span_out = _span_sum_else(s_trace, s_out, np.full(n, np.nan), n)
        no_span_tokens = np.isnan(span_in) & np.isnan(span_out)
        input_tokens = np.where(no_span_tokens, t_in, span_in)
        output_tokens = np.where(no_span_tokens, t_out, span_out)
        duration = _float_column(self.t_dur, "duration", t_seg, bad)
        span_wall = _span_wall_time(s_trace[timed], start[timed], end[timed], n)
        duration = np.where(np.isnan(duration), span_wall, duration)

        warnings = list(self.warnings) + bad.warnings()
        for name, col in (("cost", cost), ("input tokens", input_tokens),
                          ("output tokens", output_tokens), ("duration", duration)):
            inf = np.isinf(col)
            if inf.any():
                col[inf] = np.nan
                warnings.append(f"{self.label}: {int(inf.sum())} trace(s) have a {name} too large to "
                                "add up; counted as not measured")

        return Population(
            label=self.label,
            files=tuple(self.files),
            format=self.format,
            filters=tuple(self.filters),
            total_before_filter=self.total_before_filter,
            trace_id=np.array(self.trace_id, dtype=object),
            task=np.array(self.task, dtype=np.int32),
            task_names=tuple(self.task_codes),
            outcome=np.array(self.outcome, dtype=np.int8),
            cost=cost,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            duration=duration,
            n_spans=n_spans,
            steps=np.array(self.steps, dtype=np.int32),
            span_trace=s_trace,
            span_name=np.array(self.s_name, dtype=np.int32),
            span_names=tuple(self.name_codes),
            span_cost=s_cost,
            span_input_tokens=s_in,
            span_output_tokens=s_out,
            span_duration=s_dur,
            span_error=_flag_column(self.s_err),
            warnings=tuple(warnings),
        )


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
    if set(map(type, values)) <= {bool, type(None)}:
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
