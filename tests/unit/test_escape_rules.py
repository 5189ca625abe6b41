"""Each escape rule pinned on its own, at its boundaries (docs/mutation.md).

The cmark-gfm tests (test_report_escape.py) prove the output renders as the literal text; these pin *how*:
which characters become entities, where a word joiner goes, where the length cap cuts, which characters end
a line. Expected strings are written from the rules in escape.py's docstrings, by hand.
"""

from __future__ import annotations

import pytest

from kalibra_action.report.escape import DEFAULT_MAX, clean, for_log, md, one_line, plain

WJ = "&#8288;"  # the word joiner md puts inside a reference token

SYNTAX = "&<>\"'`|[]()*_~\\!:{}$=+^@#"


@pytest.mark.parametrize("c", list(SYNTAX))
def test_every_syntax_character_becomes_its_numeric_entity(c: str) -> None:
    out = md(f"a{c}b")
    entity = f"&#{ord(c)};"
    assert out.startswith(f"a{entity}") and out.endswith("b")
    assert out.replace(WJ, "") == f"a{entity}b"


@pytest.mark.parametrize("c", list("abcXYZ019 ,;?/%.-"))
def test_ordinary_characters_stay(c: str) -> None:
    assert md(f"a{c}b") == f"a{c}b"


@pytest.mark.parametrize(("text", "want"), [
    ("#1", f"&#35;{WJ}1"),
    ("@u", f"&#64;{WJ}u"),
    ("a:b", f"a&#58;{WJ}b"),
    ("GH-1", f"GH-{WJ}1"),
    ("gh-2", f"gh-{WJ}2"),
    ("Gh-x", "Gh-x"),  # GH- links only before a digit
    ("www.x", f"www.{WJ}x".replace("www.", "www&#46;")),
    ("WWW.x", f"WWW.{WJ}x".replace("WWW.", "WWW&#46;")),
    ("#", "&#35;"),  # no joiner after the last character
])
def test_reference_breaks(text: str, want: str) -> None:
    assert md(text) == want


@pytest.mark.parametrize(("digits", "breaks"), [
    ("abcdef", []),  # six hex digits: no SHA reference, nothing to break
    ("abcdef0", [6]),  # seven: a joiner after the sixth
    ("abcdef012345", [6]),  # twelve: after the sixth only (the end needs none)
    ("abcdef0123456", [6, 12]),  # thirteen: after the sixth and the twelfth
])
def test_hex_runs_broken_every_six_digits(digits: str, breaks: list[int]) -> None:
    want = "".join((WJ if i in breaks else "") + c for i, c in enumerate(digits))
    assert md(digits) == want
    assert md(f"x {digits} y") == f"x {want} y"


@pytest.mark.parametrize(("text", "want"), [
    ("1. a", "1&#46; a"),
    ("3) a", "3&#41; a"),
    ("123456. a", "123456&#46; a"),  # six digits: still a list number (CommonMark allows up to nine)
    # seven or more digits are a hex run: the joiner after the sixth already ends the number
    ("1234567. a", f"123456{WJ}7. a"),
    ("1.", "1&#46;"),  # a marker at the end of the line starts an (empty) item too
    ("1.5", "1.5"),  # no space after the dot: not a list
    ("a 1. b", "a 1. b"),  # only at the start
    ("-", "&#45;"),
    ("- a", "&#45; a"),
    ("a - b", "a - b"),
    ("--x", "&#45;-x"),
])
def test_line_start_rules(text: str, want: str) -> None:
    assert md(text) == want


def test_length_cap_boundaries() -> None:
    assert DEFAULT_MAX == 300
    assert one_line("x" * 300) == "x" * 300
    assert one_line("x" * 301) == "x" * 299 + "…"
    assert one_line("abcd", 4) == "abcd"
    assert one_line("abcde", 4) == "abc…"
    assert one_line("ab cd", 4) == "ab…"  # the cut drops the trailing space before the ellipsis
    assert one_line("abcde", 0) == "abcde"  # 0 means no cap
    assert one_line("abcde", None) == "abcde"
    assert md("abcde", 3) == "ab…"
    assert plain("abcde", 3) == "ab…"


@pytest.mark.parametrize("sep", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
                                 "\u2028", "\u2029"])
def test_every_line_end_becomes_one_lf(sep: str) -> None:
    assert clean(f"a{sep}b") == "a\nb"


def test_controls_format_and_surrogates() -> None:
    assert clean("a\tb\x00c\x1bd\x7fe") == "a b c d e"
    assert clean("a\u200bb\u202ec\ufeffd") == "abcd"
    assert clean("a\u200bb", show_hidden=True) == "a<U+200B>b"
    assert clean("a\u00adb", show_hidden=True) == "a<U+00AD>b"
    assert clean("a\ud800b") == "a\ufffdb"
    assert clean(None) == "" and clean(7) == "7"
    assert one_line("a\u200bb") == "a<U+200B>b"
    assert one_line("a\u200bb", show_hidden=False) == "ab"
    assert plain("a\u200bb") == "a<U+200B>b"
    assert one_line("  a \n\t b  ") == "a b"


@pytest.mark.parametrize(("text", "want"), [
    ("::error::x", "> ::error::x"),
    ("  ::x", ">   ::x"),
    (":x", "> :x"),
    ("a::b", "a::b"),
    ("##[error]x", "## [error]x"),
    ("a ##[group]b ##[x", "a ## [group]b ## [x"),
    ("ok\n::warning::x\rmore", "ok\n> ::warning::x\nmore"),
    ("\u2028::x", "\n> ::x"),
    ("\u200b::x", "> ::x"),  # a format character cannot hide the colons
    ("a\tb", "a b"),
    ("", ""),
])
def test_for_log(text: str, want: str) -> None:
    assert for_log(text) == want
