"""Workflow commands and file commands, with the runner's escaping rules and limits.

Annotations: `::error title=T::msg`; data escapes `%`, CR, LF; properties also `:` and `,`. At most 10 per
level per step are shown, so the 10th says how many more there are. Outputs use `name<<DELIM` heredocs with a
random delimiter. The step summary is capped at 1 MiB (GitHub drops a larger one whole).

Every piece of text reaching stdout goes through `report.escape.for_log` (log lines, group titles) or
`clean` plus the runner's escaping (annotation messages and properties): only the commands written here
are commands. Output values are cut down to a character set that is inert in a shell (`output_value`).
"""

from __future__ import annotations

import re
import sys
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TextIO

from kalibra_action.limits import SUMMARY_MAX_BYTES
from kalibra_action.report.escape import clean, for_log, one_line

Level = Literal["error", "warning", "notice"]
MAX_ANNOTATIONS = 10
_SUMMARY_CUT = (
    "\n\n> [!NOTE]\n> The summary was cut to fit GitHub's 1 MiB limit; the JSON report has everything.\n"
)


# Inert in a shell even where an output is pasted unquoted into `run:`: no `$`, backtick, quote, backslash,
# `;`, `&`, `|`, `<`, `>`, parentheses, glob or newline. `#` stays for comment URLs' anchors.
_OUTPUT_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:/%+\-_=#@]")


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def output_is_safe(value: str) -> bool:
    """True if `value` goes into an output unchanged (`output_value` would not touch it)."""
    return not _OUTPUT_UNSAFE.search(value)


def output_value(value: object) -> str:
    """A step output's value on one line of shell-inert characters: dashes become `-`, others `_`."""
    text = " ".join(clean("" if value is None else value).split())
    text = "".join("-" if unicodedata.category(c) == "Pd" else c for c in text)
    return _OUTPUT_UNSAFE.sub("_", text)


class Commands:
    """Writes workflow commands to the log (stdout), counting annotations per level."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.counts: dict[str, int] = {"error": 0, "warning": 0, "notice": 0}

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def log(self, message: str) -> None:
        """Plain log lines; none of them reads as a workflow command (see `for_log`)."""
        self._write(for_log(message))

    def command(self, name: str, message: str = "", **props: str | int | None) -> None:
        """`::name k=v,…::message`: message and properties cleaned, then escaped by the runner's rules."""
        values = {k: one_line(v, None, show_hidden=False) for k, v in props.items() if v is not None}
        given = ",".join(f"{k}={escape_property(v)}" for k, v in values.items() if v)
        self._write(f"::{name}{' ' + given if given else ''}::{escape_data(clean(message))}")

    def annotate(self, level: Level, message: str, *, title: str | None = None,
                 file: str | None = None, line: int | None = None) -> bool:
        """One annotation; past the runner's 10 per level it becomes a plain log line. True if annotated."""
        if self.counts[level] >= MAX_ANNOTATIONS:
            self.log(f"{level}: {title + ': ' if title else ''}{message}")
            return False
        self.counts[level] += 1
        self.command(level, message, file=file, line=line, title=title)
        return True

    def annotate_many(self, level: Level, items: Sequence[tuple[str, str]], *, more: str = "") -> None:
        """(title, message) pairs; when they would pass the limit, the last slot summarises the rest."""
        room = MAX_ANNOTATIONS - self.counts[level]
        if len(items) > room > 0:
            shown, rest = items[: room - 1], items[room - 1:]
        else:
            shown, rest = items, []
        for title, message in shown:
            self.annotate(level, message, title=title)
        if rest:
            names = "; ".join(t for t, _ in rest)
            self.annotate(level, f"{len(rest)} more: {names}. {more}".strip(), title=f"… {len(rest)} more")

    def error(self, message: str, **kw: str | int | None) -> bool:
        return self.annotate("error", message, **kw)  # type: ignore[arg-type]

    def warning(self, message: str, **kw: str | int | None) -> bool:
        return self.annotate("warning", message, **kw)  # type: ignore[arg-type]

    def notice(self, message: str, **kw: str | int | None) -> bool:
        return self.annotate("notice", message, **kw)  # type: ignore[arg-type]

    def mask(self, value: str) -> None:
        if value:
            self._write(f"::add-mask::{escape_data(value)}")

    def debug(self, message: str) -> None:
        self.command("debug", message)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.command("group", one_line(title, None, show_hidden=False))
        try:
            yield
        finally:
            self._write("::endgroup::")


def format_outputs(values: Mapping[str, object]) -> str:
    """`name<<DELIM` heredocs, one random delimiter per value, never one that occurs in the value.

    Values pass through `output_value`: an output may reach a shell, so it carries no raw untrusted text.
    """
    chunks = []
    for name, value in values.items():
        text = output_value(value)
        delim = f"ghadelimiter_{uuid.uuid4()}"
        while delim in text:  # pragma: no cover - a 122-bit collision
            delim = f"ghadelimiter_{uuid.uuid4()}"
        chunks.append(f"{name}<<{delim}\n{text}\n{delim}\n")
    return "".join(chunks)


def write_outputs(path: Path | None, values: Mapping[str, object]) -> None:
    if path is None:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(format_outputs(values))


def _utf8_prefix(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[: max(0, max_bytes)].decode("utf-8", errors="ignore")


def fit_summary(markdown: str, budget: int) -> str:
    """Markdown of at most `budget` UTF-8 bytes: cut at a line, open blocks closed, a note added."""
    if len(markdown.encode("utf-8")) <= budget:
        return markdown
    tail_room = len(_SUMMARY_CUT.encode("utf-8")) + 4096
    if budget < 2 * tail_room:
        return ""
    cut = _utf8_prefix(markdown, budget - tail_room)
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    closing = "\n```" if cut.count("```") % 2 else ""
    closing += "\n</details>" * max(0, cut.count("<details") - cut.count("</details>"))
    return cut + closing + _SUMMARY_CUT


def append_summary(path: Path | None, markdown: str, limit: int = SUMMARY_MAX_BYTES) -> bool:
    """Append to the step summary within the 1 MiB the step may use. Returns True if it was cut."""
    if path is None:
        return False
    used = path.stat().st_size if path.exists() else 0
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    fitted = fit_summary(text, limit - used)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(fitted)
    return fitted != text
