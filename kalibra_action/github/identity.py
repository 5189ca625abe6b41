"""Who the token writes as, so that the sticky comment is only ever found among the token's own comments.

A comment that starts with the marker is not enough to be ours: anyone can post the marker. Ours is the
marker *and* the author being the token's identity, found once per run, in this order:

1. the `comment-author` input, when the workflow names the identity (a GitHub App's `slug[bot]`): no request;
2. `GET /user` → `login`: a personal access token (skipped for `ghs_` installation tokens, which answer 403);
3. GraphQL `query { viewer { login } }` at GITHUB_GRAPHQL_URL: the default GITHUB_TOKEN and app installation
   tokens (`github-actions[bot]`, `my-app[bot]`);
4. `github-actions[bot]`, the default token's author on github.com and GHES.

A login ending in `[bot]` is an app's bot: only a comment whose `user.type` is `Bot` matches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kalibra_action.github.client import GitHubClient, GitHubError

DEFAULT_BOT = "github-actions[bot]"
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:\[bot\])?")  # use fullmatch
_VIEWER = "query { viewer { login } }"


@dataclass(frozen=True)
class Identity:
    """The token's login and how it was found (`input`, `user`, `graphql` or `fallback`)."""

    login: str
    source: str

    @property
    def is_bot(self) -> bool:
        return self.login.lower().endswith("[bot]")

    def wrote(self, comment: dict[str, Any]) -> bool:
        """The comment's author is this identity: same login (case-insensitive), and a Bot for a bot login."""
        user = comment.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("login"), str):
            return False
        if user["login"].casefold() != self.login.casefold():
            return False
        return user.get("type") == "Bot" if self.is_bot else True


def _login(data: Any, *keys: str) -> str | None:
    """The login at `keys` in a JSON answer, when it has a login's shape; else None."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, str) and LOGIN.fullmatch(data) else None


def _why(err: Exception) -> str:
    status = err.status if isinstance(err, GitHubError) else None
    return str(status) if status else "no usable answer"


def resolve_identity(client: GitHubClient, explicit: str | None = None,
                     log: Callable[[str], None] = lambda _msg: None) -> Identity:
    """The token's identity (see the module docstring); never raises: the last step is the default bot."""
    if explicit:
        return Identity(explicit, "input")
    if not client.installation_token:
        try:
            login = _login(client.json("GET", "user"), "login")
        except (GitHubError, ValueError) as err:
            log(f"comment author: GET /user failed ({_why(err)}); asking GraphQL")
        else:
            if login:
                return Identity(login, "user")
    try:
        login = _login(client.graphql(_VIEWER), "viewer", "login")
    except (GitHubError, ValueError) as err:
        log(f"comment author: the GraphQL viewer query failed ({_why(err)}); assuming {DEFAULT_BOT}")
        login = None
    if login:
        return Identity(login, "graphql")
    return Identity(DEFAULT_BOT, "fallback")


def cached_identity(client: GitHubClient, explicit: str | None = None,
                    log: Callable[[str], None] = lambda _msg: None) -> Callable[[], Identity]:
    """A function that finds the identity on its first call and remembers it (one lookup per run)."""
    found: list[Identity] = []

    def get() -> Identity:
        if not found:
            found.append(resolve_identity(client, explicit, log))
            log(f"comment author: {found[0].login} (from {found[0].source})")
        return found[0]

    return get
