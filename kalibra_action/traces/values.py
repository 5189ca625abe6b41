"""Safe conversion of raw JSON values: numbers, timestamps, error flags.

Nothing here raises on bad data: a value that is not a finite number is "not measured" (NaN for
floats, 0 for nanosecond timestamps, as Kalibra treats a zero timestamp) and is counted in a
BadValues tally so the loader can warn once per file and field.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

NAN = math.nan
# Timestamps are kept as int nanoseconds; beyond this they are not plausible and would overflow int64.
NS_LIMIT = 1 << 62
FLOAT_LIMIT = 1 << 1023
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadValues:
    """Counts values that were present but unusable, per (file, field)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.file = ""

    def add(self, field: str) -> None:
        self.counts[(self.file, field)] += 1

    def warnings(self) -> list[str]:
        return [
            f"{file}: {n} value(s) of {field} were not finite numbers and count as not measured"
            for (file, field), n in sorted(self.counts.items())
        ]


def number(value: object, field: str, bad: BadValues) -> float:
    """A finite float from a JSON number or numeric string; NaN when null, absent or unusable."""
    if value is None:
        return NAN
    cls = value.__class__
    if cls is float:
        if value - value == 0.0:  # finite
            return value
    elif cls is int:
        if -FLOAT_LIMIT < value < FLOAT_LIMIT:
            return float(value)
    elif cls is str:
        try:
            result = float(value.strip())
        except ValueError:
            result = NAN
        if result - result == 0.0:
            return result
    bad.add(field)
    return NAN


def timestamp_ns(value: object, field: str, bad: BadValues) -> int:
    """Nanoseconds since the epoch from ISO 8601 text or a number in s, ms, µs or ns; 0 when unusable.

    Numbers follow Kalibra's magnitude rule: < 1e12 seconds, < 1e15 ms, < 1e18 µs, else ns.
    """
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        text = value.strip()
        try:
            return iso_ns(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                bad.add(field)
                return 0
    value = _finite(value, field, bad)
    if value is None:
        return 0
    if abs(value) < 1e12:
        ns = value * 1e9
    elif abs(value) < 1e15:
        ns = value * 1e6
    elif abs(value) < 1e18:
        ns = value * 1e3
    else:
        ns = value
    if not -NS_LIMIT < ns < NS_LIMIT:
        bad.add(field)
        return 0
    return int(ns)


def _finite(value: object, field: str, bad: BadValues) -> int | float | None:
    """The value when it is a finite int or float (not a bool); else None, noting the field as bad."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)):
        bad.add(field)
        return None
    return value


def raw_ns(value: object, field: str, bad: BadValues) -> int:
    """A `start_ns`/`end_ns` value as int nanoseconds (numeric strings accepted); 0 when unusable."""
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                bad.add(field)
                return 0
    value = _finite(value, field, bad)
    if value is None:
        return 0
    if not -NS_LIMIT < value < NS_LIMIT:
        bad.add(field)
        return 0
    return int(value)


def iso_ns(text: str) -> int:
    """Exact integer nanoseconds of an ISO 8601 timestamp (naive means UTC)."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def error_flag(value: object) -> bool:
    """Whether a span's `error` value means an error: true, non-zero, non-empty text other than false/0/no."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "null", "ok")
    if isinstance(value, int | float):
        return value != 0
    return bool(value)


def span_times(span: dict, bad: BadValues) -> tuple[int, int, object]:
    """(start ns, end ns, explicit duration) of a span that has no start_ns."""
    if "start_time" in span:
        start = span["start_time"]
        end = span.get("end_time", start)
        return timestamp_ns(start, "span start_time", bad), timestamp_ns(end, "span end_time", bad), None
    return 0, 0, span.get("duration_s")
