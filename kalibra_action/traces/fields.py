"""Field mapping (which key holds trace_id, task_id, outcome, ...) and safe value parsing.

STUB: interface fixed; the traces work fills in value parsing (dot paths, outcome words, safe numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

FIELD_NAMES = ("trace_id", "task_id", "outcome", "cost", "input_tokens", "output_tokens", "duration")


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

    def merge(self, override: FieldMap | None) -> FieldMap:
        """A new map where the override's set values win."""
        if override is None:
            return self
        changes = {f.name: getattr(override, f.name) for f in fields(self) if getattr(override, f.name)}
        return replace(self, **changes)
