"""Property tests: whatever text reaches the log, the runner finds only the commands our code writes."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kalibra_action.cli import LogStream
from kalibra_action.github.commands import Commands, output_is_safe, output_value
from kalibra_action.report.escape import clean, for_log, one_line
from tests.runner_commands import commands, parse, runner_lines

# Text rich in what matters: command syntax, every kind of white space and line break, format characters.
PIECES = st.sampled_from([
    "::", ":", "##[", "#", "[", "]", "add-mask", "error", "stop-commands", "group", "title=x", "=", ",", ";",
    " ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u00a0", "\u1680", "\u2000",
    "\u2028", "\u2029", "\u202f", "\u3000", "\u200b", "\u200d", "\u2060", "\ufeff", "\u061c", "\u202e",
    "\u2066", "\u00ad", "\x00", "\x1b[31m", "%0A", "%25", "\ud800", "x",
])
HOSTILE = st.one_of(st.text(), st.lists(PIECES, max_size=12).map("".join))
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(HOSTILE)
@example("##[error title=forged]x .jsonl")
@example("x\u2028\u00a0::add-mask::Kalibra")
@example("\u200b::stop-commands::t")
def test_no_logged_line_is_a_command(text):
    out = io.StringIO()
    Commands(out).log(text)
    assert commands(out.getvalue()) == []
    assert commands(for_log(text)) == []


@PROFILE
@given(level=st.sampled_from(["error", "warning", "notice"]), message=HOSTILE, title=HOSTILE, file=HOSTILE,
       line=st.one_of(st.none(), st.integers(1, 10**6)))
@example(level="error", message="", title="", file="None", line=None)
def test_an_annotation_is_exactly_one_command_with_our_properties(level, message, title, file, line):
    out = io.StringIO()
    Commands(out).annotate(level, message, title=title, file=file, line=line)
    [cmd] = commands(out.getvalue())
    assert len(runner_lines(out.getvalue())) == 1
    assert cmd.name == level and cmd.form == "v2" and cmd.at_column_0
    expected = {"title": one_line(title, None, show_hidden=False),
                "file": one_line(file, None, show_hidden=False), "line": "" if line is None else str(line)}
    # an empty property is left out; a file or title that reads "None" is still a name (hypothesis found it)
    assert cmd.properties == {k: v for k, v in expected.items() if v != ""}
    assert cmd.data == clean(message)


@PROFILE
@given(HOSTILE, HOSTILE)
def test_a_group_is_one_group_and_one_endgroup(title, inside):
    out = io.StringIO()
    cmd = Commands(out)
    with cmd.group(title):
        cmd.log(inside)
    assert [c.name for c in commands(out.getvalue())] == ["group", "endgroup"]


@PROFILE
@given(st.lists(HOSTILE, max_size=5))
def test_the_cli_stream_lets_no_command_through_however_it_is_written(chunks):
    raw = io.StringIO()
    stream = LogStream(raw)
    for chunk in chunks:
        stream.write(chunk)
    stream.close()
    assert commands(raw.getvalue()) == []


def test_for_log_keeps_ordinary_text_and_our_line_breaks():
    assert for_log("reading traces/a.jsonl\n2 files") == "reading traces/a.jsonl\n2 files"
    assert for_log("a\r\nb\u2028c") == "a\nb\nc"  # every break a reader honours is a line of ours
    assert for_log("x##[error]y") == "x## [error]y"
    assert for_log("\u00a0 ::add-mask::k") == "> \u00a0 ::add-mask::k"
    assert for_log("a\u200bb\u202ec\ufeff") == "abc"


def test_the_model_finds_what_the_runner_finds():  # the oracle itself must be able to fail
    assert parse("\u00a0\u2003::add-mask::k").name == "add-mask"
    assert parse("text ##[error title=t]m").name == "error"
    assert parse("::nope::x") is None and parse("> ::add-mask::k") is None
    assert len(runner_lines("a\rb\r\nc\nd")) == 4


@PROFILE
@given(st.text())
@example("ERROR: traces/$(curl x|sh)`id`.jsonl:3: bad\nline")
def test_output_values_are_inert_in_a_shell(text):
    value = output_value(text)
    assert output_is_safe(value)
    assert not set(value) & set("$`'\"\\;|&<>()*?[]{}!~\n\r")
    assert output_value(value) == value
