"""What the native readers of JSON tools share: strict values from untrusted rows, ISO times as exact
nanoseconds, trace ids that carry the task, and the choice of the score that is the outcome.

A value of the wrong type or an implausible size is an error naming the file and the record (`fail`
makes it), never a guess: these readers decide pass/fail and the numbers the gates see.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from kalibra_action.errors import InputError
from kalibra_action.traces.fields import FAILURE_WORDS, SUCCESS_WORDS, task_from_trace_id
from kalibra_action.traces.source import TraceFile, open_text

if TYPE_CHECKING:
    from kalibra_action.traces.registry import ReadOptions

Fail = Callable[[str], InputError]

# Evaluation labels that are a verdict (Phoenix annotations, LangSmith and Langfuse categorical scores).
PASS_LABELS = SUCCESS_WORDS | {"correct", "yes", "accurate", "factual"}
FAIL_LABELS = FAILURE_WORDS | {"incorrect", "no", "wrong", "inaccurate", "hallucinated"}

MAX_TOKENS = 10**12
MAX_COST = 1e9  # USD
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null", int: "number",
          float: "number"}


def kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    return _KINDS.get(type(value), type(value).__name__)


def show(value: object) -> str:
    """A value as it appears in a message: JSON, cut to 40 characters."""
    text = repr(value) if isinstance(value, float) else json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def first_row(tf: TraceFile) -> dict | None:
    """The file's first line as a JSON object, or None when it is not one (for sniffing)."""
    try:
        with open_text(tf) as f:
            line = f.readline(tf.limits.max_line_bytes + 1)
        row = json.loads(line)
    except (OSError, EOFError, zlib.error, ValueError, RecursionError, InputError):
        return None  # not this format: the JSON Lines reader names the problem
    return row if isinstance(row, dict) else None


def is_pretty_document(tf: TraceFile) -> bool:
    """Whether the file is one indented JSON object (its first line is a lone `{`)."""
    try:
        with open_text(tf) as f:
            first = f.readline(64)
    except (OSError, EOFError, zlib.error, ValueError):
        return False  # the JSON Lines reader names the problem
    return first.strip() == "{"


def document(tf: TraceFile, what: str, hint: str | None = None) -> dict:
    """The whole file as one JSON object, at most limits.max_line_bytes characters (it is one record);
    errors name the file and `what` it should be."""
    limit = tf.limits.max_line_bytes
    try:
        with open_text(tf) as f:
            content = f.read(limit + 1)
    except UnicodeDecodeError as exc:
        raise InputError(f"{what}: not UTF-8 ({exc.reason})", file=tf.name) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read: {exc}", file=tf.name) from None
    if len(content) > limit:
        raise InputError(f"{what}: longer than {limit:,} characters (limits.max_line_bytes)", file=tf.name,
                         hint=hint)
    try:
        doc = json.loads(content)
    except RecursionError:
        raise InputError(f"{what}: JSON nested too deeply", file=tf.name) from None
    except ValueError as exc:
        raise InputError(f"{what}: not valid JSON: {exc}", file=tf.name) from None
    if not isinstance(doc, dict):
        raise InputError(f"{what}: a JSON {kind(doc)}, not an object", file=tf.name)
    return doc


def amount(value: object, what: str, limit: float, fail: Fail, *, decimal_text: bool = False) -> float | None:
    """A finite number in [0, limit] (with decimal_text, also a decimal string, as Python's Decimal fields
    are written); None when absent."""
    if value is None:
        return None
    if decimal_text and value.__class__ is str:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise fail(f"{what} is {show(value)}, not a number") from None
        value = float(number) if number.is_finite() else math.inf
    if value.__class__ not in (int, float) or not (0 <= value <= limit) or not math.isfinite(value):
        raise fail(f"{what} is {show(value)}, not a number from 0 to {limit:g}")
    return float(value)


def count(value: object, what: str, fail: Fail) -> int | None:
    """A token count: a non-negative whole number up to MAX_TOKENS; None when absent."""
    if value is None:
        return None
    if value.__class__ is float and value.is_integer():
        value = int(value)
    if value.__class__ is not int or not 0 <= value <= MAX_TOKENS:
        raise fail(f"{what} is {show(value)}, not a token count (0 to {MAX_TOKENS:,})")
    return value


def iso_ns(value: object, what: str, fail: Fail) -> int | None:
    """Exact nanoseconds since the epoch of an ISO 8601 time (naive = UTC); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(f"{what} is {show(value)}, not an ISO 8601 time")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"{what} is {show(value)}, not an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def text(value: object, what: str, fail: Fail) -> str | None:
    """Text, or None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(f"{what} is {show(value)}, not text")
    return value


def trace_id(tf: TraceFile, task: str, run: str, position: int, make_error) -> str:
    """`TASK__RUN__N`: Kalibra's trace id rule (traces/fields.py) gives TASK back, so the task needs no
    mapping and survives `convert`. A task it cannot give back (one ending in `_`, which merges with the
    `__`) is an error, not a silent merge with another task."""
    trace = f"{task}__{run}__{position}"
    if task_from_trace_id(trace) != task:
        raise make_error(tf, "task", f"the task {task!r} cannot be a Kalibra task id (it ends in '_' next "
                                     "to the id's '__' separator)", hint="rename it without a trailing '_'")
    return trace


def choose_score(tf: TraceFile, names: Iterable[str], chosen: str | None, what: str, fmt: str) -> str | None:
    """The score / feedback name that is the outcome: the chosen one (which must exist), else the only one;
    several and none chosen is an error listing them. None when there are no scores at all."""
    present = sorted(set(names))
    if chosen is not None:
        if chosen not in present:
            listed = ", ".join(present) or "none"
            raise InputError(f"{fmt}: no {what} named {chosen!r}; the side's files have: {listed}",
                             file=tf.name)
        return chosen
    if len(present) > 1:
        raise InputError(f"{fmt}: {len(present)} {what}s could be the outcome: {', '.join(present)}",
                         file=tf.name,
                         hint=f"choose one with `read: {{outcome_annotation: {present[0]}}}` in kalibra.yml "
                              f"or --outcome-annotation {present[0]}")
    return present[0] if present else None


def score(value: object, what: str, fail: Fail) -> float | None:
    """A score: a finite number (true/false count as 1/0); None when absent."""
    if value is None:
        return None
    if value.__class__ is bool:
        return float(value)
    if value.__class__ not in (int, float) or not math.isfinite(value) or abs(value) > 1e300:
        raise fail(f"{what} is {show(value)}, not a finite number")
    return float(value)


def label_score(label: object) -> float | None:
    """1.0 / 0.0 for a label that is a pass / fail word (any case), else None."""
    if not isinstance(label, str):
        return None
    word = label.strip().lower()
    return 1.0 if word in PASS_LABELS else 0.0 if word in FAIL_LABELS else None


def score_outcome(scores: list[float], threshold: float) -> str | None:
    """success when the mean score reaches the threshold, failure below it; None without scores."""
    if not scores:
        return None
    return "success" if sum(scores) / len(scores) >= threshold else "failure"


Record = tuple[TraceFile, str, dict]  # (file, location in it, object)


def rooted_traces(records: Sequence[Record], *, trace_key: str, is_root: Callable[[dict], bool], what: str,
                  warnings: list[str],
                  several_roots: bool = False) -> Iterator[tuple[int, str, Record, list[Record]]]:
    """(position, trace id, root record, every record of the trace) for each trace of a side's `records`
    grouped by `trace_key` across its files (an export split in two, a directory), as OTLP spans are.

    A record without a text trace id, or a second root in a trace (unless `several_roots`: then the first
    root stands for the trace and the caller reads the others from the group), is an error naming `what`
    (e.g. "langsmith run"); a record whose `id` its trace already holds (overlapping exports) is read
    once, with a warning; traces without a root on the side are left out with one warning."""
    from kalibra_action.traces import registry  # the registry imports the readers, which import this

    reader, noun = what.split()[0], what.split()[-1]
    by_trace: dict[str, list[Record]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    repeated = 0
    for record in records:
        tf, location, row = record
        trace = row.get(trace_key)
        if not isinstance(trace, str) or not trace:
            raise registry.reader_error(tf, location, f"{what}: {trace_key} is {show(trace)}, not an id")
        own = row.get("id")
        if isinstance(own, str) and own:
            if (trace, own) in seen:
                repeated += 1
                continue
            seen.add((trace, own))
        by_trace[trace].append(record)
    rootless = 0
    for position, (trace, group) in enumerate(by_trace.items(), 1):
        roots = [record for record in group if is_root(record[2])]
        if not roots:
            rootless += 1
            continue
        if len(roots) > 1 and not several_roots:
            raise registry.reader_error(roots[1][0], roots[1][1],
                                        f"{what}: a second root {noun} in trace {show(trace)}")
        yield position, trace, roots[0], group
    names = files_named(records)
    if repeated:
        warnings.append(f"{names}: {repeated} {reader} {noun}(s) appear twice (same id in the same trace); "
                        "each is read once")
    if rootless:
        warnings.append(f"{names}: {rootless} {reader} trace(s) have no root {noun} on this side; left out")


def files_named(records: Iterable[Record], most: int = 3) -> str:
    """The files the records come from, for a warning: the first `most` names, then how many more."""
    names = list(dict.fromkeys(tf.name for tf, _, _ in records))
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def score_threshold(options: ReadOptions) -> float:
    """The score at or above which a trace passes: `read: score_threshold`, else 1."""
    return 1.0 if options.score_threshold is None else options.score_threshold

