"""SpanBatch: a reader's spans handed over as columns (traces/otlp.py → the span pipeline).

Kept apart from traces/span_columns.py, which groups them with numpy: the readers are imported when the
CLI starts (for format detection), numpy only when a side is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, islice, repeat
from typing import Any, NamedTuple

# A span's status and kind as a SpanBatch holds them; a name's place here is its OTLP code.
STATUSES = ("UNSET", "OK", "ERROR")
KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUS_CODES = {name: code for code, name in enumerate(STATUSES)}


class AttrItems(NamedTuple):
    """A batch's span attributes as flat columns: every span's keys and plain values, span after span, and
    how many each span has; `extra`: span index → the attributes a parentless span gets besides its own
    (its resource's and scope's: its own win on a clash). The same attributes as SpanBatch.attrs, without
    a dict per span."""

    keys: list
    values: list
    counts: list[int]
    extra: dict[int, dict]

    @classmethod
    def of_dicts(cls, attrs: list[dict]) -> AttrItems:
        return cls(list(chain.from_iterable(attrs)), list(chain.from_iterable(map(dict.values, attrs))),
                   list(map(len, attrs)), {})

    def dicts(self) -> list[dict]:
        """Each span's attributes as a dict (a key met twice in a span: its last value, as a dict reads)."""
        pairs = zip(self.keys, self.values, strict=True)
        out = list(map(dict, map(islice, repeat(pairs), self.counts)))
        for i, extra in self.extra.items():
            out[i] = {**extra, **out[i]}
        return out


class SpanBatch:
    """Span entries as columns (sequences of equal length), one entry per index: ids are valid lowercase hex,
    parent None for a root, times exact integer ns, attributes a dict, status UNSET / OK / ERROR.

    The attributes are held either as a dict per span (`attrs`) or as flat columns (`items`, AttrItems);
    each is made from the other when first asked for (the column lane reads only the items)."""

    __slots__ = (
        "_attrs",
        "_end",
        "_items",
        "_kind",
        "_kind_codes",
        "_start",
        "_status",
        "_status_codes",
        "message",
        "name",
        "parent_id",
        "span_id",
        "times",
        "trace_id",
    )

    def __init__(self, trace_id: list, span_id: list, parent_id: list, name: list, kind: list, start: list,
                 end: list, attrs: list | AttrItems, status: list, message: list) -> None:
        self.trace_id, self.span_id, self.parent_id, self.name = trace_id, span_id, parent_id, name
        self._start, self._end, self.message, self.times = start, end, message, None
        self._kind, self._kind_codes, self._status, self._status_codes = kind, None, status, None
        self._attrs, self._items = (None, attrs) if isinstance(attrs, AttrItems) else (attrs, None)

    @classmethod
    def coded(cls, trace_id: list, span_id: list, parent_id: list, name: list, kind_codes: list,
              times: Any, attrs: AttrItems, status_codes: list, message: list) -> SpanBatch:
        """A batch whose kinds and statuses are given as their codes (places in KINDS and STATUSES) and
        whose times as one int64 array (`times`: the starts, then the ends), the lists made only when asked
        for."""
        batch = cls(trace_id, span_id, parent_id, name, None, None, None, attrs, None, message)  # type: ignore[arg-type]
        batch._kind_codes, batch._status_codes, batch.times = kind_codes, status_codes, times
        return batch

    @property
    def start(self) -> list[int]:
        if self._start is None:
            self._start = self.times[:len(self.trace_id)].tolist()
        return self._start

    @property
    def end(self) -> list[int]:
        if self._end is None:
            self._end = self.times[len(self.trace_id):].tolist()
        return self._end

    @property
    def kind(self) -> list[str]:
        if self._kind is None:
            self._kind = list(map(KINDS.__getitem__, self._kind_codes))
        return self._kind

    @property
    def status(self) -> list[str]:
        if self._status is None:
            self._status = list(map(STATUSES.__getitem__, self._status_codes))
        return self._status

    @property
    def status_codes(self) -> list[int]:
        """Each span's status as its place in STATUSES (-1: not one of them)."""
        if self._status_codes is None:
            self._status_codes = list(map(_STATUS_CODES.get, self._status, repeat(-1)))
        return self._status_codes

    @property
    def attrs(self) -> list[dict]:
        if self._attrs is None:
            self._attrs = self._items.dicts()
        return self._attrs

    @property
    def items(self) -> AttrItems:
        if self._items is None:
            self._items = AttrItems.of_dicts(self._attrs)
        return self._items

    @classmethod
    def empty(cls) -> SpanBatch:
        return cls([], [], [], [], [], [], [], [], [], [])

    @classmethod
    def of_entries(cls, entries: Sequence[tuple]) -> SpanBatch:
        if not entries:
            return cls.empty()
        return cls(*(list(values) for values in zip(*entries, strict=True)))

    def _span_columns(self) -> tuple[list, ...]:
        return (self.trace_id, self.span_id, self.parent_id, self.name, self.kind, self.start, self.end,
                self.status, self.message)

    def entries(self) -> zip:
        """The entries one by one: (trace_id, span_id, parent_id, name, kind, start, end, attrs, status,
        message)."""
        return zip(self.trace_id, self.span_id, self.parent_id, self.name, self.kind, self.start, self.end,
                   self.attrs, self.status, self.message, strict=True)

    def __len__(self) -> int:
        return len(self.trace_id)

    def __eq__(self, other: object) -> bool:
        """The same spans with the same values, however each holds its attributes."""
        if not isinstance(other, SpanBatch):
            return NotImplemented
        return (list(map(list, self._span_columns())) == list(map(list, other._span_columns()))
                and list(self.attrs) == list(other.attrs))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SpanBatch({', '.join(map(repr, self._span_columns()[:7]))}, {self.attrs!r}, " \
               f"{self.status!r}, {self.message!r})"


# What the column lane (traces/span_columns.py) reads of a span's attributes besides the task path: OTel
# GenAI token counts and finish reasons; a key that asks for another reading (OpenInference spans keep
# their own semantics, nested `gen_ai` objects are looked up by path) makes it decline the side.
INPUT_TOKENS, OUTPUT_TOKENS = "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
OTHER_READING = frozenset({"openinference.span.kind", "openinference", "gen_ai"})
