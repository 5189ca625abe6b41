"""Field mapping (which key holds trace_id, task_id, outcome, ...), dot paths and outcome words."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace

from kalibra_action.traces.outcomes import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_UNKNOWN

FIELD_NAMES = ("trace_id", "task_id", "outcome", "cost", "input_tokens", "output_tokens", "duration")

SUCCESS_WORDS = frozenset({"success", "true", "1", "pass", "passed", "resolved"})
FAILURE_WORDS = frozenset({"failure", "false", "0", "fail", "failed", "error"})


class _Missing:
    """The value of a field a trace does not have (distinct from JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


@dataclass(frozen=True)
class OutcomeMap:
    """How a mapped outcome's values read when they are not outcome words (config
    `outcome: {path, pass: [...], fail: [...], threshold: X}`): Inspect's `C`/`I`, a 0-1 score.

    A value in `pass` / `fail` (compared in its JSON spelling) decides; with only one list given, any
    other value is the opposite. Else a number (or numeric text) at or above `threshold` passes, below
    fails. Anything else is unknown: an unlisted word never silently counts as a pass or a fail.
    """

    pass_values: frozenset[str] | None = None
    fail_values: frozenset[str] | None = None
    threshold: float | None = None

    def classify(self, value: object) -> int:
        if value is None or value is MISSING:
            return OUTCOME_UNKNOWN
        text = text_form(value).strip()
        if self.pass_values is not None and text in self.pass_values:
            return OUTCOME_SUCCESS
        if self.fail_values is not None and text in self.fail_values:
            return OUTCOME_FAILURE
        if self.threshold is not None and not isinstance(value, bool | dict | list):
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if number == number:
                return OUTCOME_SUCCESS if number >= self.threshold else OUTCOME_FAILURE
        if self.fail_values is None and self.pass_values is not None:
            return OUTCOME_FAILURE
        if self.pass_values is None and self.fail_values is not None:
            return OUTCOME_SUCCESS
        return OUTCOME_UNKNOWN


@dataclass(frozen=True)
class FieldMap:
    """Dot paths naming where each canonical field lives in a trace; None = the format's default."""

    trace_id: str | None = None
    task_id: str | None = None
    outcome: str | None = None
    cost: str | None = None
    input_tokens: str | None = None
    output_tokens: str | None = None
    duration: str | None = None
    outcome_values: OutcomeMap | None = None  # how the mapped outcome's values read (None: outcome words)

    def merge(self, override: FieldMap | None) -> FieldMap:
        """A new map where the override's set values win (an outcome path brings its own value map)."""
        if override is None:
            return self
        changes = {f.name: getattr(override, f.name) for f in fields(self) if getattr(override, f.name)}
        if override.outcome:
            changes["outcome_values"] = override.outcome_values
        return replace(self, **changes)

    def outcome_code(self, value: object) -> int:
        """The outcome code of the mapped outcome field's value."""
        if self.outcome_values is not None:
            return self.outcome_values.classify(value)
        return classify_outcome(value)

    @property
    def span_paths(self) -> bool:
        """True when a span-level value (cost or tokens) is mapped."""
        return bool(self.cost or self.input_tokens or self.output_tokens)


def _maybe_json(value: object) -> object:
    """A string holding a JSON object or array, parsed; anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def resolve_path(obj: object, path: str) -> object:
    """The value at a dot path: the whole path as a flat key first, then nested keys.

    Nested traversal also accepts dotted keys at any level ({"a": {"b.c": 1}} for "a.b.c"),
    list indices ("spans.0.name") and JSON strings that hold objects. Returns MISSING when absent.
    """
    if not isinstance(obj, dict):
        return MISSING
    if path in obj:
        return obj[path]
    if "." not in path:
        return MISSING
    return _walk(obj, path.split("."), 0)


def _walk(obj: object, parts: list[str], i: int) -> object:
    obj = _maybe_json(obj)
    if isinstance(obj, list):
        part = parts[i]
        if not part.isdigit() or int(part) >= len(obj):
            return MISSING
        value = obj[int(part)]
        return value if i + 1 == len(parts) else _walk(value, parts, i + 1)
    if not isinstance(obj, dict):
        return MISSING
    for j in range(len(parts), i, -1):  # longest dotted key first
        key = ".".join(parts[i:j]) if j - i > 1 else parts[i]
        if key in obj:
            value = obj[key]
            if j == len(parts):
                return value
            found = _walk(value, parts, j)
            if found is not MISSING:
                return found
    return MISSING


def resolve_first(sources: tuple[object, ...], path: str) -> object:
    """The first non-null value at path across sources; None if only nulls were found; else MISSING."""
    seen_null = False
    for src in sources:
        value = resolve_path(src, path)
        if value is None:
            seen_null = True
        elif value is not MISSING:
            return value
    return None if seen_null else MISSING


def classify_outcome(value: object) -> int:
    """Outcome code for a raw value: booleans, numbers 1/0 and the outcome words; else unknown."""
    if value is True:
        return OUTCOME_SUCCESS
    if value is False:
        return OUTCOME_FAILURE
    if value is None or value is MISSING:
        return OUTCOME_UNKNOWN
    if isinstance(value, int | float):
        return OUTCOME_SUCCESS if value == 1 else OUTCOME_FAILURE if value == 0 else OUTCOME_UNKNOWN
    word = str(value).strip().lower()
    if word in SUCCESS_WORDS:
        return OUTCOME_SUCCESS
    if word in FAILURE_WORDS:
        return OUTCOME_FAILURE
    return OUTCOME_UNKNOWN


def text_form(value: object) -> str:
    """The string a value compares as: JSON spelling for true/false/null, str() otherwise."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def task_from_trace_id(trace_id: str) -> str:
    """Kalibra's task rule: `task__model__3` (3+ `__` parts, digits last) → all but the last two parts."""
    if "__" not in trace_id:
        return trace_id
    if "___" not in trace_id:  # every "__" stands alone: two right partitions split as split() does
        head, _, last = trace_id.rpartition("__")
        if last.isdigit():
            task, sep, _ = head.rpartition("__")
            if sep:
                return task
        return trace_id
    parts = trace_id.split("__")
    if len(parts) >= 3 and parts[-1].isdigit():
        return "__".join(parts[:-2])
    return trace_id
