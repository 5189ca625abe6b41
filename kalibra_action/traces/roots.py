"""A span trace's root (its earliest parentless span) and its task: one rule for both span readings
(traces/spans.py span by span, traces/span_columns.py a column at a time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from kalibra_action.traces.attrs import attr
from kalibra_action.traces.fields import (
    MISSING,
    classify_outcome,
    resolve_first,
    task_from_trace_id,
    text_form,
)
from kalibra_action.traces.outcomes import OUTCOME_UNKNOWN
from kalibra_action.traces.sink import Sink


class Root(NamedTuple):
    """The root span of a trace as far as read: the earliest parentless span. A tuple, not an object:
    the cycle collector stops tracking a tuple of plain values, and a side holds one per trace."""

    start: int
    attrs: dict
    status: str
    kind: str
    verdict: int
    name: object


def takes_over(start: int, root_start: int | None) -> bool:
    """Whether a parentless span starting at `start` (0: no start) becomes its trace's root in place of
    the one taken so far (root_start; None: none yet): the first met, unless a later one has a start and
    starts earlier, or the one taken has none."""
    return root_start is None or bool(start and (not root_start or start < root_start))


def verdict(own: object, span_id: str, verdicts: Mapping[str, str] | None) -> int:
    """A root span's verdict: its own `outcome` when it says one, else the one joined onto its span id from
    the side's other files (annotations), else unknown."""
    code = classify_outcome(own)
    if code == OUTCOME_UNKNOWN and verdicts and span_id in verdicts:
        code = classify_outcome(verdicts[span_id])
    return code


# The task of a span trace when no task_id is mapped (or the trace lacks it): the first of these root-span
# attributes that is set (an OTLP root carries its resource's attributes too); else a Kalibra trace id
# `task__model__N`'s task; else the root span's name; else the trace id.
TASK_ATTRIBUTES = ("task.id", "task_id", "task", "app.task.id", "eval.task", "eval.task_id",
                   "metadata.task_id", "metadata.task", "session.id")
TASK_FROM_RULE = "trace id (task__model__N)"
TASK_FROM_NAME = "root span name"
TASK_FROM_ID = "trace id"


def default_task(tid: str, root: Root | None) -> tuple[str, str]:
    """(task, where it came from) by the chain above (documented in the README, Trace formats)."""
    attrs = root.attrs if root is not None else None
    if attrs:
        for key in TASK_ATTRIBUTES:
            value = attr(attrs, key)
            if value is not None and value != "":
                return text_form(value), key
    task = task_from_trace_id(tid)
    if task != tid:
        return task, TASK_FROM_RULE
    if root is not None and root.name:
        return text_form(root.name), TASK_FROM_NAME
    return tid, TASK_FROM_ID


def count(counts: dict[str, int], source: str) -> None:
    counts[source] = counts.get(source, 0) + 1


def task_and_source(tid: str, root: Root | None, sources: tuple[object, ...],
                    path: str | None) -> tuple[str, str]:
    """(the trace's task, where it came from): the mapped task_id (path) when the trace has it, else
    default_task."""
    if path:
        value = resolve_first(sources, path)
        if value is not MISSING and value is not None:
            return text_form(value), path
    return default_task(tid, root)


def trace_task(tid: str, root: Root | None, sources: tuple[object, ...], sink: Sink) -> str:
    """The trace's task (task_and_source), counted by where it came from (for `inspect`)."""
    task, source = task_and_source(tid, root, sources, sink.fields.task_id)
    count(sink.task_sources, source)
    return task
