"""OpenTelemetry GenAI spans (`gen_ai.*`: Langfuse, Datadog, OTel exporters): detection and per-span values.

Tokens `gen_ai.usage.input_tokens/output_tokens`; no standard cost attribute (map one with fields.cost);
a span failed when `gen_ai.response.finish_reasons` holds length, max_tokens, content_filter, safety or
recitation.
"""

from __future__ import annotations

import json

from kalibra_action.traces.attrs import OI_SPAN_KINDS, attr

NAME = "otel-genai"
METADATA_SKIP = ("gen_ai.input.", "gen_ai.output.", "gen_ai.usage.", "gen_ai.request.")
_FAILURE_REASONS = frozenset({"length", "max_tokens", "content_filter", "safety", "recitation"})


def detect(item: dict) -> bool:
    """A span with gen_ai.operation.name, gen_ai.system or gen_ai.request.model and no OpenInference kind."""
    attrs = item.get("attributes")
    if not isinstance(attrs, dict):
        return False
    if all(attr(attrs, key) is None
           for key in ("gen_ai.operation.name", "gen_ai.system", "gen_ai.request.model")):
        return False
    return attr(attrs, "openinference.span.kind") is None and item.get("span_kind") not in OI_SPAN_KINDS


def _reasons(raw: object) -> list | None:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            return [raw]
        return parsed if isinstance(parsed, list) else [raw]
    return None


def finish(attrs: dict) -> bool | None:
    """False when a finish reason says the response was cut short, True for other reasons, None if none."""
    reasons = _reasons(attr(attrs, "gen_ai.response.finish_reasons"))
    if not reasons:
        return None
    return not any(str(r).lower() in _FAILURE_REASONS for r in reasons)


def span_values(row: dict, attrs: dict, kind: str) -> tuple[object, object, object, object, bool | None]:
    """(name, cost, input tokens, output tokens, finish) of one span; values raw."""
    name = row.get("name")
    if not name:
        operation = attr(attrs, "gen_ai.operation.name") or ""
        model = attr(attrs, "gen_ai.request.model") or ""
        name = f"{operation} {model}".strip() or "unknown"
    if "gen_ai" in attrs:  # attributes nested as objects ({"gen_ai": {"usage": ...}}): look them up by path
        return (name, None, attr(attrs, "gen_ai.usage.input_tokens"),
                attr(attrs, "gen_ai.usage.output_tokens"), finish(attrs))
    reasons = attrs.get("gen_ai.response.finish_reasons")  # the common flat keys, without a path lookup
    return (name, None, attrs.get("gen_ai.usage.input_tokens"), attrs.get("gen_ai.usage.output_tokens"),
            None if reasons is None else finish(attrs))
