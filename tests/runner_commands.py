"""A model of how the Actions runner finds workflow commands in a step's output (actions/runner).

The runner reads stdout and stderr with StreamReader.ReadLine (a line ends at LF, CR or CRLF) and tries
ActionCommand.TryParseV2 then TryParse on each line:
- V2: after TrimStart() (Unicode white space) the line starts with `::`; the name runs to the first space
  or the next `::`; `k=v` properties split on `,`; the data follows.
- V1: `##[` anywhere; the name runs to a space or the first `]` after it; properties split on `;`.
A command counts only when its name is registered (case-insensitive). The model trims with Python's
`str.lstrip()`, which removes every character .NET's TrimStart does and a few more, so it errs towards
finding commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REGISTERED = frozenset({
    "add-mask", "add-matcher", "add-path", "debug", "echo", "endgroup", "error", "group", "notice",
    "remove-matcher", "save-state", "set-env", "set-output", "stop-commands", "warning",
})
OUR_COMMANDS = frozenset({"add-mask", "debug", "endgroup", "error", "group", "notice", "warning"})


@dataclass
class Parsed:
    name: str
    form: str  # "v2" (`::name::`) or "v1" (`##[name]`)
    at_column_0: bool
    properties: dict[str, str] = field(default_factory=dict)
    data: str = ""


def runner_lines(text: str) -> list[str]:
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _unescape(value: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for escaped, char in pairs:
        value = value.replace(escaped, char)
    return value


_DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
_PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))


def parse_v2(line: str) -> Parsed | None:
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    name, _, props = info.partition(" ")
    if name.lower() not in REGISTERED:
        return None
    parsed = Parsed(name.lower(), "v2", line.startswith("::"), data=_unescape(message[end + 2:], _DATA))
    for item in props.strip().split(","):
        key, eq, value = item.partition("=")
        if eq and key and value:
            parsed.properties[key] = _unescape(value, _PROPERTY)
    return parsed


def parse_v1(line: str) -> Parsed | None:
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    info = line[start + 3:end]
    name, _, props = info.partition(" ")
    if name.lower() not in REGISTERED:
        return None
    parsed = Parsed(name.lower(), "v1", False, data=line[end + 1:])
    for item in props.split(";"):
        key, eq, value = item.partition("=")
        if eq and key and value:
            parsed.properties[key] = value
    return parsed


def parse(line: str) -> Parsed | None:
    return parse_v2(line) or parse_v1(line)


def commands(text: str) -> list[Parsed]:
    return [p for p in map(parse, runner_lines(text)) if p is not None]


def ours_only(text: str, *, token: str | None = None, words: tuple[str, ...] = ()) -> list[Parsed]:
    """Assert every command in `text` is one the action writes itself: `::name` at column 0, a name it
    uses, a mask only of the token, only the properties it sets and no attacker word in a title (the `file`
    property rightly names the hostile file). Returns the commands."""
    found = commands(text)
    for cmd in found:
        assert cmd.form == "v2" and cmd.at_column_0, cmd
        assert cmd.name in OUR_COMMANDS, cmd
        if cmd.name == "add-mask":
            assert cmd.data == token, cmd
        assert set(cmd.properties) <= {"file", "line", "title"}, cmd
        assert not any(w in cmd.properties.get("title", "") for w in words), cmd
        if cmd.name in ("group", "endgroup"):
            assert not any(w in cmd.data for w in words), cmd
    return found
