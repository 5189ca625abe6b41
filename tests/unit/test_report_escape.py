"""The `md` filter makes hostile text inert, checked by rendering through cmark-gfm (GitHub's parser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kalibra_action.report.escape import DEFAULT_MAX, clean, for_log, md, one_line, plain

HOSTILE = [
    "a|b|c",
    "pipe at end |",
    "`code` and ``double``",
    "<script>alert(1)</script>",
    "</details><details open>",
    "<img src=x onerror=alert(1)>",
    "<!-- comment -->",
    "@someone please look",
    "cc @org/team",
    "fixes #123",
    "GH-12 and owner/repo#5",
    "line1\nline2\r\nline3\u2028line4",
    "[x](javascript:alert(1))",
    "[ref]: https://evil.example",
    "![img](https://evil.example/p.png)",
    "https://evil.example/path",
    "http://evil.example",
    "www.evil.example",
    "<https://evil.example>",
    "mail me: someone@evil.example",
    "*bold* _it_ __strong__ ~~strike~~ ~single~",
    "> quoted",
    "- list item",
    "+ plus item",
    "# heading",
    "1. ordered",
    "3) ordered",
    "=== setext",
    "\\*escaped\\*",
    "&lt;b&gt; &amp; &#64;x",
    "$x^2$ math",
    ":smile: emoji",
    "text\u202eevil\u202c bidi",
    "tab\tand\x1b[31mansi",
    "{{ 7*7 }} {% raw %}",
    "GH-1 gh-22 Gh-3",
    "#12",
    "see deadbeefcafe1234567890abcdef0123456789ab",
    "abc1234 and DEADBEE",
    "ftp://x.example ssh://git@x.example/r irc://x mailto:a@b.example",
    "a\u200bb\u061cc\ufeffd\u2066e\u180ef\u2060g",
]

GFM = ["table", "strikethrough", "autolink"]  # no tagfilter: raw HTML would come through


def gfm(text: str) -> str:
    return cmarkgfm.markdown_to_html_with_extensions(text, options=Options.CMARK_OPT_UNSAFE, extensions=GFM)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[int] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append(0)
        if tag in ("td", "th"):
            self.rows[-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append("!--")


def parse(out: str) -> Tags:
    p = Tags()
    p.feed(out)
    return p


MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9]")
ISSUE = re.compile(r"#\d")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_table_cell_is_inert(hostile: str) -> None:
    doc = f"| name | other |\n|---|---|\n| {md(hostile)} | z |\n"
    p = parse(gfm(doc))
    assert set(p.tags) <= {"table", "thead", "tbody", "tr", "th", "td"}, p.tags
    assert p.rows == [2, 2]
    text = "".join(p.text)
    assert not MENTION.search(text)
    assert not ISSUE.search(text)
    # what is displayed is the input itself (on one line), only with invisible joiners added
    cell = "".join(p.text).replace("\u2060", "").replace("name", "", 1)
    assert one_line(hostile) in cell


@pytest.mark.parametrize("hostile", HOSTILE)
def test_paragraph_and_list_item_are_inert(hostile: str) -> None:
    for doc in (md(hostile), f"- **{md(hostile)}**: 1/4", f"Warnings: {md(hostile)}"):
        p = parse(gfm(doc))
        assert set(p.tags) <= {"p", "ul", "li", "strong"}, (doc, p.tags)
        text = "".join(p.text)
        assert not MENTION.search(text)
        assert not ISSUE.search(text)


def test_newlines_and_controls_collapse() -> None:
    assert one_line("a\n\n b\r\tc\x00d") == "a b c d"
    assert "\n" not in md("x\ny")
    assert "\x1b" not in plain("red\x1b[31m")
    assert "\u202e" not in md("a\u202eb")


def test_length_is_capped() -> None:
    assert len(one_line("x" * 10_000)) == 300
    assert one_line("x" * 10_000).endswith("…")
    assert len(md("y" * 50, max_len=10)) == 10
    assert len(one_line("z" * 10_000, None)) == 10_000


def test_plain_text_is_left_readable() -> None:
    assert md("parse-invoice") == "parse-invoice"
    assert md("version 1.2.3") == "version 1.2.3"
    assert md(None) == ""
    assert md(42) == "42"


# What GitHub links in rendered text after Markdown, besides cmark-gfm's own autolinks.
REFERENCES = {
    "issue": re.compile(r"(?<![\w&])#\d"),
    "gh": re.compile(r"(?i)\bgh-\d"),
    "mention": MENTION,
    "sha": re.compile(r"(?i)(?<![0-9a-z])[0-9a-f]{7,40}(?![0-9a-z])"),
    "scheme": re.compile(r"[A-Za-z][\w+.-]*:/"),
    "www": re.compile(r"(?i)www\.\w"),
    "emoji": re.compile(r":[\w+-]+:"),
}
TAGFILTER = ["table", "strikethrough", "autolink", "tagfilter"]
PIECES = st.sampled_from(["#", "@", "GH-", "gh-", "1", "12", "deadbeef", "cafe123", "www.", "http", "://",
                          ":", "x", "/", "_", "*", "|", "<", ">", "&", "amp;", "#35;", "[", "]", "(", ")",
                          "`", "~", "\\", "!", "-", ".", " ", "\n", "\u200b", "\u200d", "\u2060", "\u202e",
                          "\u061c", "\ufeff", "\u00a0", "\u3000", "\x00", "\x1b[1m", "a@b.example"])
HOSTILE_TEXT = st.one_of(st.text(), st.lists(PIECES, max_size=16).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT)
@example("GH-123 #12 owner/repo#9 @user deadbeefcafe1234 https://x.example www.y.example a@b.example :+1:")
def test_any_text_renders_as_itself_without_links(text: str) -> None:
    out = cmarkgfm.markdown_to_html_with_extensions(md(text), options=Options.CMARK_OPT_UNSAFE,
                                                    extensions=TAGFILTER)
    p = parse(out)
    assert set(p.tags) <= {"p"}, (text, out)
    shown = "".join(p.text).strip("\n")
    assert shown.replace("\u2060", "") == one_line(text)  # the documented normalisation, nothing else
    for name, pattern in REFERENCES.items():
        assert not pattern.search(shown), (name, text, shown)


def test_look_alikes_stay_distinguishable() -> None:
    names = ["GH-1", "GH\u200b-1", "GH-\u20601", "\u202eGH-1", "GH\u00ad-1"]
    assert len({md(n) for n in names}) == len(names)
    assert all(not re.search("[\u200b\u202e\u00ad]", md(n)) for n in names)
    assert one_line("a\u200bb") == "a<U+200B>b"


# ── Each rule pinned on its own, at its boundaries (docs/mutation.md) ────────
# The cmark-gfm tests above prove the output renders as the literal text; these pin *how*: which characters
# become entities, where a word joiner goes, where the length cap cuts, which characters end a line.
# Expected strings are written from the rules in escape.py's docstrings, by hand.
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
    assert one_line("ab", 1) == "…"  # a cap of 1 leaves room for the ellipsis alone
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
