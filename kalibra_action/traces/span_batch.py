"""SpanBatch: a reader's spans handed over as columns (traces/otlp.py → the span pipeline).

Kept apart from traces/span_columns.py, which groups them with numpy: the readers are imported when the
CLI starts (for format detection), numpy only when a side is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# A span's status as a SpanBatch holds it; a status's place here is its OTLP status code.
STATUSES = ("UNSET", "OK", "ERROR")


class SpanBatch(NamedTuple):
    """Span entries as columns (lists of equal length), one entry per index: ids are valid lowercase hex,
    parent None for a root, times exact integer ns, attributes a dict, status UNSET / OK / ERROR."""

    trace_id: list
    span_id: list
    parent_id: list
    name: list
    kind: list
    start: list
    end: list
    attrs: list
    status: list
    message: list

    @classmethod
    def empty(cls) -> SpanBatch:
        return cls([], [], [], [], [], [], [], [], [], [])

    @classmethod
    def of_entries(cls, entries: Sequence[tuple]) -> SpanBatch:
        batch = cls.empty()
        if entries:
            for column, values in zip(batch, zip(*entries, strict=True), strict=True):
                column.extend(values)
        return batch

    def extend(self, other: SpanBatch) -> None:
        for column, values in zip(self, other, strict=True):
            column.extend(values)

    def entries(self) -> zip:
        """The entries one by one: (trace_id, span_id, parent_id, name, kind, start, end, attrs, status,
        message)."""
        return zip(*self, strict=True)

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.trace_id)


# What the column lane (traces/span_columns.py) reads of a span's attributes besides the task path: OTel
# GenAI token counts and finish reasons; a key that asks for another reading (OpenInference spans keep
# their own semantics, nested `gen_ai` objects are looked up by path) makes it decline the side.
INPUT_TOKENS, OUTPUT_TOKENS = "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
OTHER_READING = frozenset({"openinference.span.kind", "openinference", "gen_ai"})
