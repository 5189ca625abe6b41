"""SpanBatch, the columns a reader hands the span pipeline (traces/span_batch.py).

A batch holds its spans' attributes either as a dict per span or as flat key/value columns (AttrItems), and
its kinds and statuses either as names or as their codes; each form is made from the other when asked for.
These tests pin that every way of building a batch gives the same entries, written out here by hand.
"""

from __future__ import annotations

import numpy as np

from kalibra_action.traces.span_batch import KINDS, STATUSES, AttrItems, SpanBatch

T = "ab" * 16
EXTRA = {"service.version": "1.0", "gen_ai.system": "x"}

# (trace_id, span_id, parent_id, name, kind, start, end, attrs, status, message), as the pipeline reads them
ENTRIES = [
    (T, "01" * 8, None, "root", "SERVER", 1, 9, {**EXTRA, "gen_ai.system": "own", "task": "t1"}, "ERROR",
     "boom"),
    (T, "02" * 8, "01" * 8, "chat", "CLIENT", 2, 3, {"n": 2}, "UNSET", None),
    (T, "03" * 8, "01" * 8, "", "INTERNAL", 4, 5, {}, "OK", None),
]


def _items_batch() -> SpanBatch:
    """ENTRIES as a reader's column path builds them: flat attributes (the root's resource attributes
    apart, its own `gen_ai.system` written twice: the last counts), kinds and statuses as codes, the times
    as one array (the starts, then the ends)."""
    items = AttrItems(keys=["gen_ai.system", "task", "gen_ai.system", "n"], values=["first", "t1", "own", 2],
                      counts=[3, 1, 0], extra={0: EXTRA})
    return SpanBatch.coded([T] * 3, ["01" * 8, "02" * 8, "03" * 8], [None, "01" * 8, "01" * 8],
                           ["root", "chat", ""], [2, 3, 1], np.array([1, 2, 4, 9, 3, 5], dtype=np.int64),
                           items, [2, 0, 1], ["boom", None, None])


def test_a_batch_of_flat_columns_and_codes_gives_the_entries() -> None:
    batch = _items_batch()
    assert list(batch.entries()) == ENTRIES
    assert batch.kind == ["SERVER", "CLIENT", "INTERNAL"]
    assert batch.status == ["ERROR", "UNSET", "OK"]
    assert batch.status_codes == [2, 0, 1]
    assert batch.start == [1, 2, 4] and batch.end == [9, 3, 5]
    assert all(type(t) is int for t in batch.start + batch.end)  # Python ints, as the entries carry them
    assert len(batch) == 3


def test_a_batch_of_entries_gives_its_flat_columns_and_codes() -> None:
    batch = SpanBatch.of_entries(ENTRIES)
    assert batch.items == AttrItems(
        keys=["service.version", "gen_ai.system", "task", "n"], values=["1.0", "own", "t1", 2],
        counts=[3, 1, 0], extra={})
    assert batch.status_codes == [2, 0, 1]
    assert batch == _items_batch()
    other = SpanBatch.of_entries([*ENTRIES[:2], (*ENTRIES[2][:8], "NOT A STATUS", None)])
    assert other.status_codes == [2, 0, -1]
    assert other != batch


def test_an_empty_batch_has_a_list_per_column() -> None:
    batch = SpanBatch.of_entries([])
    batch.trace_id.append(T)
    assert batch.span_id == [] and batch.attrs == [] and batch.status == []
    assert KINDS.index("CLIENT") == 3 and STATUSES.index("ERROR") == 2  # the OTLP codes
