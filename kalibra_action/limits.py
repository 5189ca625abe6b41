"""Resource limits on untrusted input: defaults, hard maxima, and the `limits:` section of kalibra.yml.

The files under judgement come from the pull request, and so may its kalibra.yml: a limit can be lowered or
raised within reason, never past its hard maximum, so a crafted input cannot make the run use unbounded
memory or time. Each limit, when hit, is an InputError (exit 2) naming the file and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class LimitSpec:
    """One limit: its key in `limits:`, the default, the allowed range, and what it bounds."""

    key: str
    default: int
    low: int
    high: int
    what: str


SPECS: tuple[LimitSpec, ...] = (
    LimitSpec("max_line_bytes", 64 * MIB, 1024, 1 * GIB, "characters in one JSON Lines line"),
    LimitSpec("max_decompressed_bytes", 2 * GIB, MIB, 16 * GIB, "bytes a compressed trace file unpacks to"),
    LimitSpec("max_tasks", 10_000, 10, 1_000_000,
              "tasks with full per-task data in the report (the rest are counted and summarised)"),
    LimitSpec("max_span_names", 1_000, 10, 100_000,
              "distinct span names compared one by one (the most frequent ones)"),
)
BY_KEY = {s.key: s for s in SPECS}

YAML_MAX_ALIAS_NODES = 10_000
"""YAML nodes an alias may add to the config when expanded. Fixed: it guards the reading of the config
itself, and a real kalibra.yml has a few hundred nodes in all."""

MAX_GATES = 200
"""Gates from one source (kalibra.yml's `require`, the `require` input, `--require`). Fixed: a real list has
a handful, and each gate is a row the comment, the summary and the annotations render."""

CONFIG_MAX_BYTES = 1 * MIB
"""Size of kalibra.yml. Fixed, for the same reason."""


@dataclass(frozen=True)
class Limits:
    """The limits of one run; `Limits()` is the defaults."""

    max_line_bytes: int = BY_KEY["max_line_bytes"].default
    max_decompressed_bytes: int = BY_KEY["max_decompressed_bytes"].default
    max_tasks: int = BY_KEY["max_tasks"].default
    max_span_names: int = BY_KEY["max_span_names"].default


DEFAULT_LIMITS = Limits()


def check_limit(key: str, value: object) -> str | None:
    """Why `value` is not allowed for limit `key` (None when it is)."""
    spec = BY_KEY[key]
    if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
        return f"must be an integer between {spec.low:,} and {spec.high:,} ({spec.what})"
    return None
