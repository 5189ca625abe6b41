"""A fake GitHub API on 127.0.0.1 (pytest-httpserver) and a client whose waits are recorded, not slept."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer

from kalibra_action.github.client import GitHubClient

TOKEN = "ghs_contractTestToken123"
REPO = "octo/demo"
PR = 7


@pytest.fixture
def gh(httpserver_ipv4: HTTPServer) -> HTTPServer:
    """The fake GitHub API; every test ends by checking no handler raised."""
    yield httpserver_ipv4
    httpserver_ipv4.check_assertions()
    httpserver_ipv4.check_handler_errors()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(gh: HTTPServer, sleeps: Sleeps) -> Callable[..., GitHubClient]:
    def make(**kw) -> GitHubClient:
        kw.setdefault("sleep", sleeps)
        kw.setdefault("clock", lambda: 1_700_000_000.0)
        return GitHubClient(TOKEN, gh.url_for("/").rstrip("/"), **kw)

    return make


def comments_path(number: int = PR) -> str:
    return f"/repos/{REPO}/issues/{number}/comments"


def comment(cid: int, body: str, login: str = "github-actions[bot]", kind: str = "Bot") -> dict:
    return {"id": cid, "body": body, "user": {"login": login, "type": kind},
            "html_url": f"https://github.com/{REPO}/pull/{PR}#issuecomment-{cid}"}


def requests_made(gh: HTTPServer, method: str | None = None) -> list:
    return [req for req, _ in gh.log if method is None or req.method == method]
