"""The comment cutter `fit_body` pinned rule by rule, and which of several own comments is updated.

fit_body is the last guard before GitHub's 65,536-character limit (counted in UTF-16 code units, so an
astral character such as an emoji counts twice). A cut body must stay under the limit with its closing
tags and note, end at a line end, close the code block it cut into with that block's own fence, and
close every `<details>` it left open, so that the note renders as text after the report.
"""

from __future__ import annotations

import re

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from kalibra_action.github.comments import StickyComment, fit_body, marker_for
from kalibra_action.limits import COMMENT_MAX_CHARS as MAX_BODY
from tests.contract.conftest import PR, REPO, comment, comments_path, requests_made

NOTE = "the comment was cut to fit GitHub's size limit"


def units(text: str) -> int:
    """Length in UTF-16 code units, counted by encoding (independent of the module's helper)."""
    return len(text.encode("utf-16-le")) // 2


def html(text: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)


def kept_part(body: str, out: str) -> str:
    """The part of `body` that `out` starts with, before what fit_body added (which starts a new line)."""
    assert NOTE in out[-300:]
    end = 0
    while end < min(len(body), len(out)) and body[end] == out[end]:
        end += 1
    return out[:end].removesuffix("\n")


# ---- the size rule -------------------------------------------------------------------------------

def test_a_body_at_the_limit_is_kept_and_one_unit_more_is_cut():
    assert fit_body("x" * MAX_BODY) == "x" * MAX_BODY
    assert NOTE in fit_body("x" * (MAX_BODY + 1))


def test_astral_characters_count_twice():
    # 32,768 emoji are 65,536 code units: at the limit. One more is over it although it is 32,769 characters.
    assert fit_body("😀" * (MAX_BODY // 2)) == "😀" * (MAX_BODY // 2)
    out = fit_body("😀" * (MAX_BODY // 2 + 1))
    assert NOTE in out and units(out) <= MAX_BODY
    assert "\ud83d" not in out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


LINE = "| task-0001 | 4/4 | 2/4 | −50 |\n"
BODIES = {
    "table": "## Report\n\n" + LINE * 4000,
    "emoji lines": "## Report\n\n" + "| 😀 task | ▼ 😀😀 |\n" * 8000,
    "one long line": "x" * 80_000,
    "thirty open details": "<details><summary>s</summary>\n\n" * 30 + LINE * 4000,
}


@pytest.mark.parametrize("name", BODIES)
def test_the_cut_body_with_its_closing_tags_and_note_fits(name):
    body = BODIES[name]
    out = fit_body(body)
    assert units(out) <= MAX_BODY
    kept = kept_part(body, out)
    if "\n" in body:  # cut at a line end
        assert body[len(kept)] == "\n"
    assert out.count("<details") == out.count("</details>")


def test_the_cut_uses_the_room_it_has():
    # uniform lines: the kept part is short of the limit by less than two lines plus the note
    out = fit_body(BODIES["table"])
    assert MAX_BODY - units(out) < 2 * units(LINE)


# ---- code fences ---------------------------------------------------------------------------------

FENCED = {
    "backticks": ("```text\n", "```"),
    "four backticks": ("````\n```\nnot a close: too short\n", "````"),
    "backticks with a text after a fence inside": ("```\n``` text\nnot a close: text after it\n", "```"),
    "tildes": ("~~~ mermaid\n", "~~~"),
    "tildes with a longer backtick line inside": ("~~~\n````\n", "~~~"),
    "long tildes with a shorter tilde line inside": ("~~~~\n~~~\n", "~~~~"),
}


@pytest.mark.parametrize("name", FENCED)
def test_a_code_block_cut_open_is_closed_with_its_own_fence(name):
    opening, fence = FENCED[name]
    body = "## Report\n\n" + opening + "line of code\n" * 8000
    out = fit_body(body)
    kept = kept_part(body, out)
    assert out[len(kept):].startswith(f"\n{fence}\n")
    rendered = html(out)
    assert rendered.count("<pre") == rendered.count("</pre>") == 1
    assert rendered.rindex("cut to fit") > rendered.index("</pre>")  # the note is text after the block


def test_a_closed_code_block_gets_no_extra_fence():
    body = "```\na\n```\n\n~~~\nb\n~~~\n\n" + LINE * 4000
    out = fit_body(body)
    kept = kept_part(body, out)
    assert "```" not in out[len(kept):] and "~~~" not in out[len(kept):]
    assert html(out).count("<pre") == 2


@pytest.mark.parametrize("line", [
    "``` a ` b",  # a backtick fence's info string may not hold a backtick
    "`` two",  # two are not a fence
    "~~",
    "    ```",  # four spaces: indented code, not a fence
])
def test_a_line_that_is_not_a_fence_opens_no_block(line):
    body = f"{line}\n\n" + LINE * 4000
    out = fit_body(body)
    assert out[len(kept_part(body, out)):].startswith("\n\n…")  # the note right after the cut
    assert "<pre" not in html(out[len(line):])


# ---- details -------------------------------------------------------------------------------------

def test_open_details_are_closed_after_the_fence_and_closed_ones_are_not():
    body = ("<details><summary>done</summary>\n\nx\n</details>\n\n<details><summary>a</summary>\n\n"
            "<details><summary>b</summary>\n\n```\n" + "code\n" * 20_000)
    out = fit_body(body)
    tail = out[len(kept_part(body, out)):]
    assert re.match(r"\n```\n</details>\n</details>\n", tail)
    assert out.count("<details") == out.count("</details>") == 3


# ---- which of several own comments is updated ----------------------------------------------------

def test_the_oldest_of_several_own_comments_is_the_one_updated(gh, make_client):
    # the API lists comments oldest first; three carry our marker (duplicates left by an old race)
    marker = marker_for("kalibra")
    gh.expect_request(comments_path(), method="GET").respond_with_json([
        comment(5, "LGTM", "alice", "User"), comment(10, f"{marker}\nfirst"),
        comment(11, f"{marker}\nsecond"), comment(12, f"{marker}\nthird")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/10", method="PATCH").respond_with_json(
        comment(10, f"{marker}\nnew"))
    done = StickyComment(make_client(), REPO, PR, marker).publish("new")
    assert done.action == "updated" and done.id == 10
    assert [(r.method, r.path) for r in requests_made(gh)][1:] == [
        ("PATCH", f"/repos/{REPO}/issues/comments/10")]


def test_an_oldest_own_comment_already_up_to_date_sends_nothing(gh, make_client):
    marker = marker_for("kalibra")
    gh.expect_request(comments_path(), method="GET").respond_with_json([
        comment(10, f"{marker}\nsame"), comment(11, f"{marker}\nstale")])
    done = StickyComment(make_client(), REPO, PR, marker).publish("same")
    assert done.action == "unchanged" and done.id == 10
    assert [r.method for r in requests_made(gh)] == ["GET"]


# ---- the cutter's pieces at their boundaries (docs/mutation.md) ----------------------------------

from kalibra_action.github.comments import _TRUNCATED, _open_fence, _prefix  # noqa: E402


@pytest.mark.parametrize(("text", "fence"), [
    ("   ```\ncode", "```"),  # three spaces of indent: still a fence
    ("    ```\ncode", None),  # four: an indented code line
    ("\t```\ncode", None),  # a tab is not a space here
    ("  ~~~~ x\ncode", "~~~~"),
    ("X```\ncode", None),
])
def test_fence_indent_rules(text, fence):
    assert _open_fence(text) == fence


def test_prefix_never_keeps_half_a_surrogate_pair():
    assert _prefix("😀b", 1) == "" and _prefix("😀b", 2) == "😀" and _prefix("😀b", 3) == "😀b"
    assert _prefix("ab", 0) == "" and _prefix("ab", -3) == ""


def test_a_limit_below_the_note_leaves_the_note_alone():
    assert fit_body("abc\ndef", limit=5) == _TRUNCATED


def test_a_single_long_line_is_cut_at_the_room_left():
    note = units(_TRUNCATED)
    assert fit_body("x" * 1000, limit=note + 10) == "x" * 10 + _TRUNCATED


def test_a_second_pass_makes_room_for_the_closing_fence():
    """room 20: the first cut '```' + 8 lines of x keeps 19 units, + '\\n```' is 23 > 20; the second pass has
    20 − 4 = 16 units: '```' and 6 lines of x (15 units), + 4 = 19 ≤ 20."""
    body = "```\n" + "x\n" * 500
    out = fit_body(body, limit=units(_TRUNCATED) + 20)
    assert out == "```\n" + "\n".join(["x"] * 6) + "\n```" + _TRUNCATED


def test_the_first_cut_is_measured_against_the_room_after_the_note():
    """room 10: 'a' lines only (9 units) fit with no closing; a longer first cut would reach the fence."""
    body = "a\n" * 5 + "```\n" + "c" * 1000
    assert fit_body(body, limit=units(_TRUNCATED) + 10) == "a\na\na\na\na" + _TRUNCATED


def test_a_single_line_that_needs_closing_tags_shrinks_to_fit_them():
    """room 20: '<details>' + 11 x (no line end) + '\\n</details>' (11) is 31 > 20; the second pass has
    20 − 11 = 9 units: '<details>', + 11 = 20 ≤ 20."""
    out = fit_body("<details>" + "x" * 1000, limit=units(_TRUNCATED) + 20)
    assert out == "<details>\n</details>" + _TRUNCATED
