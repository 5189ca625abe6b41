"""The sticky PR comment: found by a hidden marker on its first line, then created, updated or recreated.

A comment is ours only when its body *starts with* the exact marker `<!-- kalibra-action:{id} -->` **and** the
token's own identity wrote it (kalibra_action.github.identity). A human quoting or forging the marker,
another bot, another tool's comment or another `comment-id` is never edited or deleted: a forged look-alike
is left as it is and reported back, and the action posts (then keeps updating) its own comment. The
identity is looked up only when some comment carries the marker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kalibra_action.github.client import GitHubClient, GitHubError
from kalibra_action.github.identity import Identity, cached_identity
from kalibra_action.limits import COMMENT_MAX_CHARS

_TRUNCATED = (
    "\n\n… the comment was cut to fit GitHub's size limit; the job summary and the JSON report "
    "are complete.\n"
)

Action = Literal["created", "updated", "unchanged", "recreated"]


def marker_for(comment_id: str) -> str:
    return f"<!-- kalibra-action:{comment_id} -->"


def with_marker(body: str, marker: str) -> str:
    """The body with the marker as its first line (added when the template did not put it there)."""
    return body if body.lstrip().startswith(marker) else f"{marker}\n{body}"


def has_marker(comment: dict[str, Any], marker: str) -> bool:
    body = comment.get("body")
    return isinstance(body, str) and body.lstrip().startswith(marker)


def author_of(comment: dict[str, Any]) -> str:
    """The comment's author for a log line: a login's characters only, whatever the API answered."""
    user = comment.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return "".join(c for c in str(login or "?") if (c.isascii() and c.isalnum()) or c in "-[]")[:50] or "?"


def _size(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # counts astral characters twice, to be safe


def _prefix(text: str, units: int) -> str:
    """The longest prefix of `text` of at most `units` UTF-16 code units (never half an astral character)."""
    return text.encode("utf-16-le")[: 2 * max(0, units)].decode("utf-16-le", errors="ignore")


def _fence_line(line: str) -> tuple[str, str] | None:
    """(fence, rest) for a line that starts a code fence: at most 3 spaces, then 3+ backticks or tildes."""
    body = line.lstrip(" ")
    if len(line) - len(body) > 3 or body[:1] not in ("`", "~"):
        return None
    run = len(body) - len(body.lstrip(body[0]))
    return (body[:run], body[run:]) if run >= 3 else None


def _open_fence(text: str) -> str | None:
    """The fence (``` or ~~~, three or more) of a code block still open at the end of `text`, else None.

    CommonMark's rule: a block closes only on a line of the same character, at least as long, with nothing
    after it; so a cut inside a ```` block or a ~~~ block needs that same fence, not a ``` line.
    """
    fence = None
    for line in text.split("\n"):
        found = _fence_line(line)
        if found is None:
            continue
        run, rest = found
        if fence is None:
            if not (run[0] == "`" and "`" in rest):  # a backtick fence's info string has no backtick
                fence = run
        elif run[0] == fence[0] and len(run) >= len(fence) and not rest.strip():
            fence = None
    return fence


def _closing(cut: str) -> str:
    """What the cut text needs at its end: the open code fence, then one `</details>` per open one."""
    fence = _open_fence(cut)
    opened = cut.count("<details") - cut.count("</details>")
    return (f"\n{fence}" if fence else "") + "\n</details>" * max(0, opened)


def fit_body(body: str, limit: int = COMMENT_MAX_CHARS) -> str:
    """A last guard under the renderer's budget: cut, close open `<details>` and code fences, add a note.

    Sizes are UTF-16 code units (astral characters count twice), the unit GitHub's limit is checked in.
    The cut ends at a line end and shrinks until the closing tags and the note fit too.
    """
    if _size(body) <= limit:
        return body
    cut, room = body, limit - _size(_TRUNCATED)
    while True:  # each pass cuts strictly shorter, down to the note alone
        cut = _prefix(cut, room)
        cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
        closing = _closing(cut)
        if _size(cut + closing + _TRUNCATED) <= limit or not cut:
            return cut + closing + _TRUNCATED
        room = limit - _size(closing + _TRUNCATED)


def _normalise(body: str) -> str:
    return body.replace("\r\n", "\n").strip()


@dataclass(frozen=True)
class CommentResult:
    action: Action
    url: str
    id: int
    ignored: tuple[dict[str, Any], ...] = field(default=(), compare=False)  # look-alikes by someone else


class StickyComment:
    """One report's comment on one PR."""

    def __init__(self, client: GitHubClient, repository: str, number: int, marker: str,
                 author: Callable[[], Identity] | None = None) -> None:
        self.client = client
        self.repository = repository
        self.number = number
        self.marker = marker
        self.author = author or cached_identity(client)

    def find_all(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(ours, look-alikes): comments with the marker by the token's identity and by anyone else, oldest
        first, over all pages."""
        path = f"repos/{self.repository}/issues/{self.number}/comments"
        marked = [c for c in self.client.paginate(path) if isinstance(c, dict) and has_marker(c, self.marker)]
        if not marked:
            return [], []
        me = self.author()
        return [c for c in marked if me.wrote(c)], [c for c in marked if not me.wrote(c)]

    def create(self, body: str) -> dict[str, Any]:
        return self.client.json("POST", f"repos/{self.repository}/issues/{self.number}/comments",
                                json={"body": body})

    def update(self, comment_id: int, body: str) -> dict[str, Any]:
        return self.client.json("PATCH", f"repos/{self.repository}/issues/comments/{comment_id}",
                                json={"body": body})

    def delete(self, comment_id: int) -> None:
        try:
            self.client.request("DELETE", f"repos/{self.repository}/issues/comments/{comment_id}")
        except GitHubError as err:
            if err.status != 404:  # already gone
                raise

    def publish(self, body: str, mode: Literal["update", "recreate"] = "update") -> CommentResult:
        """Post the report: edit ours in place (no request when unchanged), or delete ours and post anew.
        Look-alikes by anyone else are never touched; they come back in `ignored`."""
        body = fit_body(with_marker(body, self.marker))
        existing, ignored = self.find_all()
        skipped = tuple(ignored)
        if mode == "recreate":
            for comment in existing:
                self.delete(comment["id"])
            made = self.create(body)
            return CommentResult("recreated" if existing else "created", made.get("html_url", ""), made["id"],
                                 skipped)
        if existing:
            ours = existing[0]
            if _normalise(ours["body"]) == _normalise(body):  # has_marker: a str body
                return CommentResult("unchanged", ours.get("html_url", ""), ours["id"], skipped)
            made = self.update(ours["id"], body)
            return CommentResult("updated", made.get("html_url", ours.get("html_url", "")), ours["id"],
                                 skipped)
        made = self.create(body)
        return CommentResult("created", made.get("html_url", ""), made["id"], skipped)
