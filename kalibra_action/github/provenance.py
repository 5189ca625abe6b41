"""The baseline artifact's provenance for the report: run link, commit, age (provenance.md.j2 shows it)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from kalibra_action.github.artifacts import STALE_DAYS, BaselineProvenance

_HEX_SHA = re.compile(r"^[0-9a-f]{40}$")


def safe_url(url: object) -> str:
    """An http(s) URL fit for a Markdown link destination (nothing that could end the link), else ''."""
    text = str(url or "")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in text):
        return ""
    return quote(text, safe=":/?#&=%-._~+,;@!$*")


def age_text(days: float) -> str:
    if days < 1:
        return "less than a day"
    whole = int(days)
    return f"{whole} day{'s' if whole != 1 else ''}"


def provenance_extra(p: BaselineProvenance, *, server_url: str, repository: str) -> dict[str, Any]:
    """`extra["baseline_provenance"]` for the templates (provenance.md.j2) and the JSON report."""
    commit = p.commit.lower()
    commit_url = (safe_url(f"{server_url}/{repository}/commit/{commit}")
                  if _HEX_SHA.match(commit) and repository.count("/") == 1 else "")
    return {
        "artifact": p.artifact, "workflow": p.workflow, "branch": p.branch,
        "run_id": p.run_id, "run_number": p.run_number if p.run_number is not None else p.run_id,
        "run_url": safe_url(p.run_url), "commit": p.commit, "commit_short": p.commit[:7],
        "commit_url": commit_url, "created_at": p.created_at, "age_days": p.age_days,
        "age": age_text(p.age_days), "stale": p.stale, "stale_days": STALE_DAYS,
    }
