"""Population: one side of a comparison, held as numpy columns (no Python object per span).

Per trace (length T) and per span (length S) arrays. Missing numeric values are NaN
("not measured"), 0 is "measured as zero". Strings (task ids, span names) are stored once
in a tuple and referenced by int32 codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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


@dataclass
class PopulationBuilder:
    """Appends traces and their spans into growing column lists, then freezes them to numpy."""

    label: str
    files: tuple[str, ...] = ()
    format: str = "flat"
    filters: tuple[str, ...] = ()
    total_before_filter: int = 0
    warnings: list[str] = field(default_factory=list)
    _trace_id: list = field(default_factory=list)
    _task: list = field(default_factory=list)
    _task_codes: dict = field(default_factory=dict)
    _outcome: list = field(default_factory=list)
    _cost: list = field(default_factory=list)
    _in: list = field(default_factory=list)
    _out: list = field(default_factory=list)
    _dur: list = field(default_factory=list)
    _n_spans: list = field(default_factory=list)
    _steps: list = field(default_factory=list)
    _s_trace: list = field(default_factory=list)
    _s_name: list = field(default_factory=list)
    _name_codes: dict = field(default_factory=dict)
    _s_cost: list = field(default_factory=list)
    _s_in: list = field(default_factory=list)
    _s_out: list = field(default_factory=list)
    _s_dur: list = field(default_factory=list)
    _s_err: list = field(default_factory=list)

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
        idx = len(self._outcome)
        self._trace_id.append(trace_id)
        code = self._task_codes.get(task_id)
        if code is None:
            code = self._task_codes[task_id] = len(self._task_codes)
        self._task.append(code)
        self._outcome.append(outcome)

        s_cost = s_in = s_out = None
        first_start = last_end = None
        parents = set()
        for s in spans:
            if s.parent_id is not None:
                parents.add(s.parent_id)
        leaves = 0
        for s in spans:
            self._s_trace.append(idx)
            if s.name:
                ncode = self._name_codes.get(s.name)
                if ncode is None:
                    ncode = self._name_codes[s.name] = len(self._name_codes)
            else:
                ncode = -1
            self._s_name.append(ncode)
            self._s_cost.append(s.cost)
            self._s_in.append(s.input_tokens)
            self._s_out.append(s.output_tokens)
            self._s_err.append(bool(s.error))
            if s.start_ns and s.end_ns:
                self._s_dur.append((s.end_ns - s.start_ns) / 1e9)
                first_start = s.start_ns if first_start is None else min(first_start, s.start_ns)
                last_end = s.end_ns if last_end is None else max(last_end, s.end_ns)
            else:
                self._s_dur.append(None)
            if s.cost is not None:
                s_cost = s.cost if s_cost is None else s_cost + s.cost
            if s.input_tokens is not None:
                s_in = s.input_tokens if s_in is None else s_in + s.input_tokens
            if s.output_tokens is not None:
                s_out = s.output_tokens if s_out is None else s_out + s.output_tokens
            if s.span_id is None or s.span_id not in parents:
                leaves += 1

        if s_in is None and s_out is None:
            s_in, s_out = input_tokens, output_tokens
        self._cost.append(s_cost if s_cost is not None else cost)
        self._in.append(s_in)
        self._out.append(s_out)
        if duration is None and first_start is not None:
            duration = (last_end - first_start) / 1e9
        self._dur.append(duration)
        self._n_spans.append(len(spans))
        self._steps.append(leaves)

    def __len__(self) -> int:
        return len(self._outcome)

    def build(self) -> Population:
        def floats(values: list) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=_F)

        return Population(
            label=self.label,
            files=tuple(self.files),
            format=self.format,
            filters=tuple(self.filters),
            total_before_filter=self.total_before_filter,
            trace_id=np.array(self._trace_id, dtype=object),
            task=np.array(self._task, dtype=np.int32),
            task_names=tuple(self._task_codes),
            outcome=np.array(self._outcome, dtype=np.int8),
            cost=floats(self._cost),
            input_tokens=floats(self._in),
            output_tokens=floats(self._out),
            duration=floats(self._dur),
            n_spans=np.array(self._n_spans, dtype=np.int32),
            steps=np.array(self._steps, dtype=np.int32),
            span_trace=np.array(self._s_trace, dtype=np.int32),
            span_name=np.array(self._s_name, dtype=np.int32),
            span_names=tuple(self._name_codes),
            span_cost=floats(self._s_cost),
            span_input_tokens=floats(self._s_in),
            span_output_tokens=floats(self._s_out),
            span_duration=floats(self._s_dur),
            span_error=np.array(self._s_err, dtype=bool),
            warnings=tuple(self.warnings),
        )
