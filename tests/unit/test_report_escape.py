"""The `md` filter makes hostile text inert, checked by rendering through cmark-gfm (GitHub's parser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kalibra_action.report.escape import md, one_line, plain

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
