"""Make untrusted text (task ids, span names, file names, trace warnings) inert.

`md` is for GitHub-flavoured Markdown, `plain` for a terminal. Both collapse whitespace to one line and
cap the length, so one hostile value can neither break a table row nor blow the size budget.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that start Markdown or HTML syntax, autolinks, math or emoji shortcodes. Numeric entities are
# decoded to literal text by the Markdown parser, never re-read as syntax (a `|` entity does not split a
# table cell, a `<` entity opens no tag, a `:` entity starts no `https://` autolink).
_ENTITY = {c: f"&#{ord(c)};" for c in "&<>\"'`|[]()*_~\\!:{}$=+^"}
_JOINER = "\u200d"  # zero-width joiner: `@x` and `#1` stop matching GitHub's mention / issue-link rules
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_LIST_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_WWW = re.compile(r"(?i)(www)\.")

DEFAULT_MAX = 300


def one_line(value: object, max_len: int | None = DEFAULT_MAX) -> str:
    """str(value) on one line: control and format characters dropped, whitespace collapsed, capped."""
    text = "" if value is None else str(value)
    text = _BIDI.sub("", text)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(text.split())
    if max_len is not None and max_len > 0 and len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def md(value: object, max_len: int | None = DEFAULT_MAX) -> str:
    """Escape text for a GitHub Markdown paragraph or table cell: it renders as the literal characters."""
    text = one_line(value, max_len)
    out = []
    for c in text:
        if c in _ENTITY:
            out.append(_ENTITY[c])
        elif c == "@":
            out.append("&#64;" + _JOINER)
        elif c == "#":
            out.append("&#35;" + _JOINER)
        else:
            out.append(c)
    escaped = "".join(out)
    escaped = _WWW.sub(r"\1&#46;", escaped)  # `www.x.com` autolinks even without a scheme
    escaped = _LIST_START.sub(lambda m: m.group(1) + f"&#{ord(m.group(2))};", escaped)
    if escaped[:1] == "-":  # a leading `-` could start a list or a setext underline
        escaped = "&#45;" + escaped[1:]
    return escaped


def plain(value: object, max_len: int | None = DEFAULT_MAX) -> str:
    """Text for a terminal: one line, no control characters (no ANSI escape injection)."""
    return one_line(value, max_len)
