"""Make untrusted text (task ids, span names, file names, trace warnings) inert.

`md` is for GitHub-flavoured Markdown, `plain` for a terminal. Both collapse whitespace to one line and
cap the length, so one hostile value can neither break a table row nor blow the size budget. They show a
format character (zero-width, bidi, BOM…) as `<U+200B>`, so two ids that differ only by one never look
alike. `for_log` is the one sanitiser for everything written to stdout/stderr, where the Actions runner
reads workflow commands; it drops format characters.

What the runner parses (actions/runner, ActionCommand.TryParseV2 / TryParse, fed one line at a time by
StreamReader.ReadLine, which ends a line at LF, CR or CRLF, on stdout and stderr alike):
- `::name props::data` when the line starts with `::` after String.TrimStart() (any Unicode white space:
  Zs, U+2028, U+2029, TAB…CR, U+0085, NBSP). Python's `str.isspace` covers all of those.
- `##[name props]data` with `##[` *anywhere* in the line.
A registered name (add-mask, stop-commands, error, group, …) then acts. `for_log` therefore turns every
line break into LF, other control characters into spaces, drops format characters, and in each line turns
`##[` into `## [` and puts `> ` before a line whose first non-space character is `:` (stricter than `::`, so
a character the runner's culture-aware comparison ignores cannot sneak a second colon in).
"""

from __future__ import annotations

import re
import unicodedata

# Characters that start Markdown or HTML syntax, autolinks, math or emoji shortcodes. Numeric entities are
# decoded to literal text by the Markdown parser, never re-read as syntax (a `|` entity does not split a
# table cell, a `<` entity opens no tag, a `:` entity starts no `https://` autolink).
_ENTITY = {c: f"&#{ord(c)};" for c in "&<>\"'`|[]()*_~\\!:{}$=+^@#"}
# GitHub links references in the rendered text (`#1`, `GH-1`, `@user`, `org/repo#1`, 7+ hex digits of a
# commit, `:emoji:`) after Markdown, where entities are already plain characters.
# A U+2060 WORD JOINER, written as an entity so no tool strips it from the source, splits each such token in
# the text node: it is invisible, joins no glyphs (unlike U+200D before an emoji) and allows no line break.
_BREAK = "&#8288;"
_BREAK_AFTER = re.compile(r"[#@:]|(?i:www)\.|(?i:gh)-(?=\d)")
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{7,}")
_HEX_PIECE = 6  # a SHA reference needs 7 hex digits in a row
# Every character some reader ends a line at (LF, CR, VT, FF, FS/GS/RS, NEL, LS, PS): Python's splitlines()
# breaks on all of them, the runner on LF and CR; turned into LF so the caller decides what a line is.
_LINE_ENDS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LOG_DEFUSE = "> "  # visible, not white space: a line starting with it is no workflow command
_LIST_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_WWW = re.compile(r"(?i)(www)\.")

DEFAULT_MAX = 300


def _visible_char(c: str, show_hidden: bool) -> str:
    """One character of untrusted text as shown: a control becomes a space, a format character goes (or is
    named, `<U+200B>`)."""
    if c == "\n":
        return c
    category = unicodedata.category(c)
    if category == "Cc":  # tab, NUL, ESC (ANSI sequences)…: a space keeps the words apart
        return " "
    if category == "Cf":  # zero-width, bidi overrides and isolates, BOM, U+061C, soft hyphen…
        return f"<U+{ord(c):04X}>" if show_hidden else ""
    if category == "Cs":  # a lone surrogate (an undecodable file name) cannot even be encoded
        return "\ufffd"
    return c


def clean(value: object, *, show_hidden: bool = False) -> str:
    """str(value) with LF for every line break, other controls as spaces, no format (Cf) characters.

    Stripping Cf means two names that differ only by invisible characters read as what they show, and no
    zero-width or bidi character can hide a `::` or `##[` from a check that looks for it.
    """
    text = _LINE_ENDS.sub("\n", "" if value is None else str(value))
    return "".join(_visible_char(c, show_hidden) for c in text)


def _log_line(line: str) -> str:
    line = line.replace("##[", "## [")
    return _LOG_DEFUSE + line if line.lstrip().startswith(":") else line


def for_log(value: object) -> str:
    """Text for stdout/stderr (the job log): no line of it is a workflow command. Lines joined by LF."""
    return "\n".join(_log_line(line) for line in clean(value).split("\n"))


def one_line(value: object, max_len: int | None = DEFAULT_MAX, *, show_hidden: bool = True) -> str:
    """str(value) on one line: controls as spaces, whitespace collapsed, format characters named (or dropped
    with show_hidden=False), capped."""
    text = " ".join(clean(value, show_hidden=show_hidden).split())
    if max_len is not None and max_len > 0 and len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def md(value: object, max_len: int | None = DEFAULT_MAX) -> str:
    """Escape text for a GitHub Markdown paragraph or table cell: it renders as the literal characters."""
    text = one_line(value, max_len)
    breaks = _reference_breaks(text)
    out = []
    for i, c in enumerate(text):
        if i in breaks:
            out.append(_BREAK)
        out.append(_ENTITY.get(c, c))
    escaped = "".join(out)
    escaped = _WWW.sub(r"\1&#46;", escaped)  # `www.x.com` autolinks even without a scheme
    escaped = _LIST_START.sub(lambda m: m.group(1) + f"&#{ord(m.group(2))};", escaped)
    if escaped[:1] == "-":  # a leading `-` could start a list or a setext underline
        escaped = "&#45;" + escaped[1:]
    return escaped


def _reference_breaks(text: str) -> set[int]:
    """Where a word joiner goes (before text[i]) so no GitHub reference, mention or autolink matches."""
    breaks = {m.end() for m in _BREAK_AFTER.finditer(text)}
    for run in _HEX_RUN.finditer(text):
        breaks.update(range(run.start() + _HEX_PIECE, run.end(), _HEX_PIECE))
    return breaks  # a break at len(text) (after a final `#`) is never reached: md inserts before text[i]


def plain(value: object, max_len: int | None = DEFAULT_MAX) -> str:
    """Text for a terminal: one line, no control characters (no ANSI escape injection)."""
    return one_line(value, max_len)
