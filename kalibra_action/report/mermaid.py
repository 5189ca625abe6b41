"""A Mermaid `xychart-beta` bar chart of per-task changes, safe to put in a ```mermaid fence.

Task ids are untrusted: a label keeps letters, digits and ` -_./+` only (every other character becomes `_`),
so it can close neither the quoted Mermaid string, the `[...]` list, the fence (no backticks), nor start a
Mermaid comment, directive or entity (`%`, `{`, `#`, `;`). Labels are short and unique. Letters and
digits of any script are kept.

xychart draws every bar up from the bottom of the plot, never from zero, so a negative value would read as a
short bar. The chart therefore shows the size of each change and marks its sign in the label (▼ drop,
▲ rise) and significance with `*`.
"""

from __future__ import annotations

import math
import re

from kalibra_action.report.escape import one_line

MAX_BARS = 30
LABEL_MAX = 18
_KEEP = frozenset(" -_./+")
_RUNS = re.compile(r"[_ ]{2,}")


def label(text: object, max_len: int = LABEL_MAX) -> str:
    """A Mermaid-safe, short x-axis label for an untrusted task id (never empty)."""
    raw = one_line(text, None, show_hidden=False)  # labels are made unique below
    safe = "".join(c if (c.isalnum() and c.isprintable()) or c in _KEEP else "_" for c in raw)
    safe = _RUNS.sub(lambda m: m.group(0)[0], safe).strip(" _")
    if len(safe) > max_len:
        safe = safe[: max_len - 1].rstrip(" _") + "…"
    return safe or "task"


def _unique(labels: list[str]) -> list[str]:
    """Mermaid merges equal categories; number the repeats (`x`, `x 2`, `x 3`, ...)."""
    taken: set[str] = set()
    out = []
    for lab in labels:
        name, n = lab, 1
        while name in taken:
            n += 1
            name = f"{lab} {n}"
        taken.add(name)
        out.append(name)
    return out


def pick(rows: list[dict], limit: int = MAX_BARS) -> list[dict]:
    """At most `limit` rows with a change: the largest |change| (ties: drops, then significant, then p);
    shown drops first (largest first), then rises."""
    changed = [r for r in rows if isinstance(r.get("_delta"), int | float) and math.isfinite(r["_delta"])
               and r["_delta"] != 0]
    changed.sort(key=lambda r: (-abs(r["_delta"]), r["_delta"] > 0, not r["significant"], r["_p"],
                                str(r["task_id"])))
    chosen = changed[: max(0, limit)]
    chosen.sort(key=lambda r: (r["_delta"] > 0, -abs(r["_delta"]), not r["significant"], r["_p"],
                               str(r["task_id"])))
    return chosen


def bar_chart(rows: list[dict], limit: int = MAX_BARS) -> str:
    """Mermaid source of the chart (without the fence); "" when no task changed."""
    chosen = pick(rows, limit)
    if not chosen:
        return ""
    labels = _unique([("▼ " if r["_delta"] < 0 else "▲ ") + label(r["task_id"]) + (" *" if r["significant"]
                                                                                    else "")
                      for r in chosen])
    values = [round(abs(float(r["_delta"])), 1) for r in chosen]
    top = max(10, math.ceil(max(values) / 10) * 10)
    x_axis = ", ".join(f'"{lab}"' for lab in labels)
    bars = ", ".join(f"{v:.1f}" for v in values)
    return "\n".join([
        "xychart-beta",
        '    title "Pass-rate change per task in pp - ▼ drop, ▲ rise, * significant"',
        f"    x-axis [{x_axis}]",
        f'    y-axis "size of the change (pp)" 0 --> {top}',
        f"    bar [{bars}]",
    ])
