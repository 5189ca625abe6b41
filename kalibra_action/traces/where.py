"""`where` filters: `field == value`, `!=`, `=~` / `!~` (whole-string regex), `=` alias of `==`.

STUB: interface fixed; the traces work fills in parsing and matching rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Matcher:
    raw: str
    field: str
    op: str
    value: str

    def matches(self, actual: object) -> bool:  # pragma: no cover - stub
        raise NotImplementedError


def parse_matcher(expr: str) -> Matcher:
    """Parse one expression; raises ValueError with a one-line reason when it is malformed."""
    raise NotImplementedError
