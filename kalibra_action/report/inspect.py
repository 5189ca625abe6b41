"""Text and JSON for `inspect`: field coverage, metadata keys, suggested mappings, warnings.

The InspectReport is rendered generically from its dataclass fields, so new fields show up without changes
here; values from traces go through `plain` (one line, no control characters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from kalibra_action.report.escape import plain
from kalibra_action.report.json import plain as jsonable


def _scalar(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.0%}" if 0 <= value <= 1 else f"{value:,.2f}"
    if isinstance(value, Mapping) and {"count", "share"} <= value.keys():
        return f"{value['count']:,} ({_scalar(value['share'])})"
    if isinstance(value, Mapping):
        return ", ".join(f"{plain(k, 80)}={_scalar(v)}" for k, v in value.items())
    if isinstance(value, list):
        more = f" … {len(value) - 10} more" if len(value) > 10 else ""
        return ", ".join(_scalar(v) for v in value[:10]) + more
    return plain(value, 200)


def _section(title: str, value: object) -> list[str]:
    head = title.replace("_", " ").capitalize()
    if isinstance(value, Mapping):
        if not value:
            return []
        width = min(40, max(len(plain(k, 40)) for k in value))
        return [head, *(f"  {plain(k, 40).ljust(width)}  {_scalar(v)}" for k, v in value.items()), ""]
    if isinstance(value, list):
        if not value:
            return []
        return [head, *(f"  - {_scalar(v)}" for v in value), ""]
    return [f"{head}: {_scalar(value)}", ""]


def _suggestions(data: Mapping) -> Mapping:
    for key, value in data.items():
        if "suggest" in key and isinstance(value, Mapping):
            return value
    return {}


def _best(candidates: object) -> str | None:
    if isinstance(candidates, str):
        return candidates
    if isinstance(candidates, list) and candidates:
        first = candidates[0]
        if isinstance(first, Mapping):
            first = first.get("path") or first.get("field") or first.get("name")
        return None if first is None else str(first)
    return None


def _outcome_map_lines(spec: object) -> list[str]:
    """`outcome:` as a mapping (path, pass/fail values or a threshold), when the values need one."""
    if not isinstance(spec, Mapping) or "path" not in spec:
        return []
    return ["  outcome:", *(f"    {plain(k, 20)}: {json.dumps(v)}" for k, v in spec.items())]


def suggest_block(data: Mapping) -> str:
    """A `fields:` block for kalibra.yml from the best suggestion of each field."""
    outcome_map = _outcome_map_lines(data.get("suggested_outcome_map"))
    lines = []
    for field, cands in _suggestions(data).items():
        if field == "outcome" and outcome_map:
            lines += outcome_map
        elif best := _best(cands):
            lines.append(f"  {plain(field, 40)}: {json.dumps(best)}")
    if not lines:
        return "# no field mappings to suggest: the defaults find everything\n"
    return "\n".join(["fields:", *lines]) + "\n"


def render_inspect(report: object, *, fmt: str = "terminal", suggest: bool = False) -> str:
    data = jsonable(report)
    if not isinstance(data, Mapping):
        data = {"report": data}
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    lines: list[str] = []
    for key, value in data.items():
        if suggest or "suggest" not in key:
            lines += _section(key, value)
    text = "\n".join(lines).rstrip() + "\n"
    if suggest:
        text += "\nAdd to kalibra.yml:\n\n" + suggest_block(data)
    return text
