"""What every reader does with a finished trace: de-duplication, `where`, task ids, counters."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kalibra_action.traces.fields import MISSING, FieldMap, resolve_first, task_from_trace_id, text_form
from kalibra_action.traces.population import PopulationBuilder
from kalibra_action.traces.where import Matcher

# Called once per trace (before `where`) with the format and the dicts its metadata comes from.
TraceHook = Callable[[str, tuple[object, ...]], None]


class Sink:
    """Shared state of one load: the builder, the mapping, the filters and the drop counters."""

    def __init__(self, builder: PopulationBuilder, fields: FieldMap, where: Sequence[Matcher],
                 on_trace: TraceHook | None = None, duration_scale: float = 1.0) -> None:
        self.builder = builder
        self.duration_scale = duration_scale  # seconds per unit of a mapped bare-number duration
        self.fields = fields
        self.where = tuple(where)
        self.on_trace = on_trace
        self.seen: set[str] = set()
        self.total = 0  # distinct traces read, before `where`
        self.dup_traces = 0
        self.dup_spans = 0
        self.no_trace_id = 0
        self.task_sources: dict[str, int] = {}  # where the span formats' task ids came from → traces
        # Whether per-trace lookups in metadata are needed at all (the fast path skips them).
        self.lookups = bool(where or on_trace or fields.task_id or fields.outcome or fields.duration
                            or fields.cost or fields.input_tokens or fields.output_tokens)
        # Only task_id is mapped: the flat reader looks it up without the rest of the per-trace lookups.
        self.task_only = bool(fields.task_id) and not (where or on_trace or fields.outcome or fields.duration
                                                       or fields.cost or fields.input_tokens
                                                       or fields.output_tokens)

    def is_new(self, trace_id: str) -> bool:
        """Count the trace; False (and counted as a duplicate) when its id was seen before."""
        if trace_id:
            if trace_id in self.seen:
                self.dup_traces += 1
                return False
            self.seen.add(trace_id)
        else:
            self.no_trace_id += 1
        self.total += 1
        return True

    def keep(self, sources: tuple[object, ...], fallback: tuple[object, ...] = ()) -> bool:
        """Whether a trace passes every `where` (looked up in sources, then in fallback)."""
        for m in self.where:
            value = resolve_first(sources, m.field)
            if (value is MISSING or value is None) and fallback:
                alt = resolve_first(fallback, m.field)
                if alt is not MISSING:
                    value = alt
            if not m.matches(value):
                return False
        return True

    def task(self, trace_id: str, sources: tuple[object, ...]) -> str:
        """The task id: the mapped field when the trace has it, else Kalibra's rule on the trace id."""
        path = self.fields.task_id
        if path:
            value = resolve_first(sources, path)
            if value is not MISSING and value is not None:
                return text_form(value)
        return task_from_trace_id(trace_id)

    def warnings(self) -> list[str]:
        out = []
        if self.dup_traces:
            out.append(f"{self.builder.label}: {self.dup_traces} trace(s) repeat an earlier trace id; "
                       "kept the first of each")
        if self.dup_spans:
            out.append(f"{self.builder.label}: {self.dup_spans} span(s) repeat an earlier span id in "
                       "their trace; kept the first of each")
        if self.no_trace_id:
            out.append(f"{self.builder.label}: {self.no_trace_id} trace(s) have no trace id")
        return out
