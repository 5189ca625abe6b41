"""`where` filters: `field == value`, `!=`, `=~` / `!~` (whole-string regex), `=` alias of `==`.

Matching rules (Kalibra's, with its bug 14 fixed):
- a missing field never matches, whatever the operator;
- values compare in their JSON spelling (`true`, `false`, `null`), and numerically when both sides
  are finite numbers (`cost == 0.5` matches 0.50);
- quotes around the value are dropped; the operator is the one that occurs first in the
  expression (the longest one at that position), so `a = x!=y` compares `a` with `x!=y`.
"""

from __future__ import annotations

import math
import re
import signal
import threading
from dataclasses import dataclass, field

from kalibra_action.errors import InputError
from kalibra_action.traces.fields import MISSING, text_form

OPERATORS = ("==", "=~", "!~", "!=", "=")
_EQUAL_OPS = ("==", "=")
# Operators people write that `where` does not have: refused by name, never read as `=` with a field
# named `cost <` (what `cost <= 1` would otherwise be).
_UNSUPPORTED = re.compile(r"<=|>=|=<|=>|~=|===|!==|<>|<|>|\s(?:not\s+in|in|contains|like|is)\s",
                          re.IGNORECASE)

REGEX_SECONDS = 10.0
"""Time all `=~` / `!~` matching of one process may take. Both the pattern (kalibra.yml) and the text (the
traces) may come from the pull request, and a pattern such as `(a+)+b` backtracks for ages on 30 characters;
Python's regex engine checks for signals while it matches, so a timer can stop it."""
_CACHE_SIZE = 1 << 16


class _RegexClock:
    """The process's regex time budget, enforced with ITIMER_REAL while a `where` regex runs.

    Only in the main thread (signal handlers live there), only when no one else has installed a SIGALRM
    handler or armed the timer; otherwise matching runs unguarded. Each distinct text is matched once per
    matcher (a bounded cache), so the two timer calls a match costs are paid per distinct value.
    """

    def __init__(self) -> None:
        self.left = REGEX_SECONDS
        self.active = False
        self.usable: bool | None = None  # decided on first use

    def _on_alarm(self, _signum: int, _frame: object) -> None:
        if self.active:
            raise _RegexTimeout

    def _can_guard(self) -> bool:
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return False
        if self.usable is None:
            self.usable = signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
            if self.usable:
                signal.signal(signal.SIGALRM, self._on_alarm)
        return self.usable

    def fullmatch(self, regex: re.Pattern[str], text: str) -> bool:
        if not self._can_guard():
            return regex.fullmatch(text) is not None
        if self.left <= 0:
            raise _RegexTimeout
        pending, interval = signal.setitimer(signal.ITIMER_REAL, self.left)
        if pending:  # someone else's timer: put it back and match unguarded
            signal.setitimer(signal.ITIMER_REAL, pending, interval)
            return regex.fullmatch(text) is not None
        self.active = True
        try:
            return regex.fullmatch(text) is not None
        finally:
            self.active = False
            self.left = signal.setitimer(signal.ITIMER_REAL, 0)[0]


class _RegexTimeout(Exception):
    """The regex time budget ran out."""


_CLOCK = _RegexClock()


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Matcher:
    """One parsed `where` expression."""

    raw: str
    field: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _number: float | None = field(default=None, init=False, repr=False, compare=False)
    _seen: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(self.value))
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r} in {self.raw!r}: {exc}") from None
        object.__setattr__(self, "_number", _as_number(self.value))

    def matches(self, value: object) -> bool:
        """Whether a trace's resolved value passes; `value` is MISSING when the trace lacks the field."""
        if value is MISSING:
            return False
        actual = text_form(value)
        if self._regex is not None:
            found = self._regex_matches(actual)
            return found if self.op == "=~" else not found
        equal = actual == self.value
        if not equal and self._number is not None and not isinstance(value, bool):
            number = _as_number(actual)
            equal = number is not None and number == self._number
        return equal if self.op in _EQUAL_OPS else not equal


    def _regex_matches(self, text: str) -> bool:
        """fullmatch within the process's regex time budget (see REGEX_SECONDS); cached per text."""
        found = self._seen.get(text)
        if found is None:
            assert self._regex is not None
            try:
                found = _CLOCK.fullmatch(self._regex, text)
            except _RegexTimeout:
                raise InputError(f"where: the regex in '{self.raw[:200]}' ran past the time limit of "
                                 f"{REGEX_SECONDS:g} s", hint="a pattern with nested or overlapping "
                                 "repetition such as (a+)+ backtracks without end; simplify it") from None
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            self._seen[text] = found
        return found


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in ("'", '"'):
        return text[1:-1]
    return text


def _unsupported(expr: str, before: int) -> ValueError | None:
    """The error for an operator `where` lacks that starts before position `before` (or anywhere)."""
    found = _UNSUPPORTED.search(expr, 0, before + 3)
    if found is None or found.start() > before:
        return None
    op = found.group(0).strip()
    return ValueError(f"unsupported operator {op!r} in where expression {expr!r}; where supports "
                      f"{', '.join(OPERATORS)} (comparisons such as <= or > belong in require gates)")


def parse_matcher(expr: str) -> Matcher:
    """Parse one expression; raises ValueError with a one-line reason when it is malformed or uses an
    operator `where` does not have (`<=`, `>`, `in`, `~=` ...)."""
    if not isinstance(expr, str):
        raise ValueError(f"a where expression must be text, got {type(expr).__name__}: {expr!r}")
    best: tuple[int, str] | None = None
    for op in OPERATORS:
        pos = expr.find(op)
        if pos != -1 and (best is None or pos < best[0] or (pos == best[0] and len(op) > len(best[1]))):
            best = (pos, op)
    bad = _unsupported(expr, len(expr) if best is None else best[0])
    if bad is not None:
        raise bad
    if best is None:
        raise ValueError(f"no operator in where expression {expr!r}; use one of {', '.join(OPERATORS)}")
    pos, op = best
    name = _unquote(expr[:pos].strip())
    value = _unquote(expr[pos + len(op):].strip())
    if not name:
        raise ValueError(f"missing field name in where expression {expr!r}")
    return Matcher(raw=expr, field=name, op=op, value=value)
