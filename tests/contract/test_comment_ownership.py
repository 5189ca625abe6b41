"""Who owns the sticky comment, against the stateful fake GitHub on 127.0.0.1: the marker alone is not enough,
the token's own identity (GET /user, GraphQL viewer, or github-actions[bot]) must have written it."""

from __future__ import annotations

import pytest

from kalibra_action.github.client import GitHubClient
from kalibra_action.github.comments import StickyComment, marker_for
from kalibra_action.github.identity import Identity, _login, cached_identity, resolve_identity
from tests.contract.conftest import PR, REPO
from tests.e2e.fake_github import FakeGitHub

MARKER = marker_for("kalibra")
FORGED = f"{MARKER}\n## ✅ Kalibra · PASSED\n\nAll gates passed."
PAT = "ghp_contractPersonalToken0123456789"
INSTALLATION = "ghs_contractInstallationToken0123"


@pytest.fixture
def fake(gh) -> FakeGitHub:
    return FakeGitHub(gh, repo=REPO)


def client_for(fake: FakeGitHub, token: str = INSTALLATION, graphql: bool = True) -> GitHubClient:
    return GitHubClient(token, fake.api_url, sleep=lambda _s: None,
                        graphql_url=fake.graphql_url if graphql else None)


def sticky(fake: FakeGitHub, **kw) -> StickyComment:
    client = client_for(fake, **kw)
    return StickyComment(client, REPO, PR, MARKER, author=cached_identity(client))


def paths(fake: FakeGitHub, method: str) -> list[str]:
    return [r.path for r in fake.requests(method)]


def test_a_humans_forged_marker_comment_is_never_patched(fake):
    human = fake.seed(PR, FORGED, "mallory", "User")
    first = sticky(fake).publish("## ❌ Kalibra · FAILED")
    assert first.action == "created" and first.id != human["id"]
    assert [c["id"] for c in first.ignored] == [human["id"]]
    assert human["body"] == FORGED and fake.written_by_others() == []
    second = sticky(fake).publish("## ❌ Kalibra · FAILED, again")
    assert second.action == "updated" and second.id == first.id
    assert paths(fake, "PATCH") == [f"/repos/{REPO}/issues/comments/{first.id}"]
    assert human["body"] == FORGED and len(fake.comments[PR]) == 2


def test_recreate_deletes_only_our_own_comments(fake):
    human = fake.seed(PR, FORGED, "mallory", "User")
    ours = fake.seed(PR, f"{MARKER}\nold report", "github-actions[bot]", "Bot")
    done = sticky(fake).publish("fresh", mode="recreate")
    assert done.action == "recreated"
    assert paths(fake, "DELETE") == [f"/repos/{REPO}/issues/comments/{ours['id']}"]
    assert fake.written_by_others() == [] and human in fake.comments[PR]


def test_recreate_with_only_a_lookalike_creates_and_deletes_nothing(fake):
    human = fake.seed(PR, FORGED, "mallory", "User")
    done = sticky(fake).publish("fresh", mode="recreate")
    assert done.action == "created" and fake.requests("DELETE") == []
    assert human in fake.comments[PR]


@pytest.mark.parametrize(("login", "kind"), [
    ("evil-app[bot]", "Bot"),            # another app's bot
    ("github-actions", "User"),          # a user named like the bot
    ("github-actions[bot]", "User"),     # the bot's login with the wrong type
    ("GitHub-Actions[bot]x", "Bot"),
])
def test_lookalikes_by_anyone_else_are_not_ours(fake, login, kind):
    other = fake.seed(PR, FORGED, login, kind)
    done = sticky(fake).publish("report")
    assert done.action == "created" and fake.written_by_others() == []
    assert other["body"] == FORGED


def test_the_login_matches_case_insensitively(fake):
    mine = fake.seed(PR, f"{MARKER}\nold", "GitHub-Actions[bot]", "Bot")
    assert sticky(fake).publish("new").id == mine["id"]


def test_pat_identity_comes_from_get_user(fake):
    fake.viewer, fake.viewer_type, fake.pat = "release-bot", "User", True
    fake.seed(PR, FORGED, "github-actions[bot]", "Bot")  # the default token's comment is not this PAT's
    mine = fake.seed(PR, f"{MARKER}\nold", "release-bot", "User")
    done = sticky(fake, token=PAT).publish("new")
    assert done.action == "updated" and done.id == mine["id"]
    assert paths(fake, "GET").count("/user") == 1 and fake.requests("POST") == []
    assert fake.written_by_others() == []


def test_installation_token_identity_comes_from_graphql_viewer(fake):
    fake.viewer = "kalibra-app[bot]"
    fake.seed(PR, FORGED, "github-actions[bot]", "Bot")
    mine = fake.seed(PR, f"{MARKER}\nold", "kalibra-app[bot]", "Bot")
    done = sticky(fake).publish("new")
    assert done.id == mine["id"] and fake.written_by_others() == []
    assert "/user" not in paths(fake, "GET")  # a ghs_ token cannot read /user: not even asked
    assert paths(fake, "POST") == ["/graphql"]


def test_an_unprefixed_token_asks_user_then_graphql(fake):
    fake.viewer = "kalibra-app[bot]"
    client = client_for(fake, token="0123456789abcdef0123456789abcdef01234567")  # a GHES-style token
    assert resolve_identity(client) == Identity("kalibra-app[bot]", "graphql")
    assert [(r.method, r.path) for r in fake.requests()] == [("GET", "/user"), ("POST", "/graphql")]


@pytest.mark.parametrize("graphql", [True, False])
def test_fallback_is_the_github_actions_bot(fake, graphql):
    fake.graphql_ok = False
    fake.viewer = "github-actions[bot]"
    mine = fake.seed(PR, f"{MARKER}\nold", "github-actions[bot]", "Bot")
    fake.seed(PR, FORGED, "github-actions[bot]", "User")
    client = client_for(fake, token=PAT, graphql=graphql)
    assert resolve_identity(client) == Identity("github-actions[bot]", "fallback")
    done = StickyComment(client, REPO, PR, MARKER).publish("new")
    assert done.id == mine["id"] and fake.written_by_others() == []


def test_graphql_url_on_another_host_never_gets_the_token(fake):
    client = GitHubClient(INSTALLATION, fake.api_url, graphql_url="http://localhost:1/graphql",
                          sleep=lambda _s: None)
    assert resolve_identity(client).source == "fallback"
    assert fake.requests() == []


def test_explicit_comment_author_needs_no_request(fake):
    client = client_for(fake)
    assert resolve_identity(client, "kalibra-app[bot]") == Identity("kalibra-app[bot]", "input")
    assert fake.requests() == []


def test_identity_is_looked_up_once_and_only_when_a_marker_exists(fake):
    client = client_for(fake)
    author = cached_identity(client)
    StickyComment(client, REPO, PR, MARKER, author=author).publish("first")  # nothing marked yet
    assert paths(fake, "POST") == [f"/repos/{REPO}/issues/{PR}/comments"]
    StickyComment(client, REPO, PR, MARKER, author=author).publish("second")
    StickyComment(client, REPO, PR, MARKER, author=author).publish("third")
    assert paths(fake, "POST").count("/graphql") == 1


@pytest.mark.parametrize("login", ["release-bot\n", "x\n::add-mask::secret", "", "a b", "bot[bot]\n"])
def test_a_login_of_the_wrong_shape_is_not_taken(fake, login):
    fake.viewer, fake.pat = login, True
    assert resolve_identity(client_for(fake, token=PAT)) == Identity("github-actions[bot]", "fallback")


# ── Pinned for mutation testing (docs/mutation.md) ──


@pytest.mark.parametrize(("login", "ok"), [
    ("a" + "b" * 38, True),  # 39 characters: GitHub's longest login
    ("a" + "b" * 39, False),
    ("a", True),
    ("a-b", True),
    ("-ab", False),
    ("my-app[bot]", True),
    ("my-app[bot]x", False),
    ("a_b", False),
])
def test_login_shape(login, ok):
    assert (_login({"login": login}, "login") == login) is ok
    assert _login({"viewer": {"login": login}}, "viewer", "login") == (login if ok else None)


def test_login_of_a_non_object_answer_is_none():
    assert _login(["x"], "login") is None and _login({"login": 5}, "login") is None
    assert _login({"viewer": "octo"}, "viewer", "login") is None


@pytest.mark.parametrize(("me", "user", "wrote"), [
    ("octo", {"login": "octo", "type": "User"}, True),
    ("octo", {"login": "OCTO", "type": "Bot"}, True),  # a user login matches whatever the type
    ("octo", {"login": "octo2", "type": "User"}, False),
    ("app[bot]", {"login": "App[Bot]", "type": "Bot"}, True),
    ("app[bot]", {"login": "app[bot]", "type": "User"}, False),
    ("app[bot]", {"login": "app[bot]"}, False),
    ("App[BOT]", {"login": "app[bot]", "type": "User"}, False),  # the [bot] suffix in any case is a bot
    ("octo", {"login": None, "type": "User"}, False),
    ("octo", "octo", False),
])
def test_identity_wrote(me, user, wrote):
    assert Identity(me, "input").wrote({"user": user}) is wrote
    assert Identity(me, "input").wrote({}) is False


def test_the_lookup_is_logged_once_with_its_source(fake):
    fake.graphql_ok = False
    logged: list[str] = []
    get = cached_identity(client_for(fake), log=logged.append)
    assert get() == get() == Identity("github-actions[bot]", "fallback")
    assert logged[-1] == "comment author: github-actions[bot] (from fallback)"
    assert len(logged) == 2 and logged[0].startswith("comment author: the GraphQL viewer query failed (")
    assert logged[0].endswith("); assuming github-actions[bot]")


def test_a_failed_user_lookup_is_logged_with_its_status(fake):
    fake.viewer = "kalibra-app[bot]"
    logged: list[str] = []
    ident = resolve_identity(client_for(fake, token="0123456789abcdef0123456789abcdef01234567"),
                             log=logged.append)
    assert ident == Identity("kalibra-app[bot]", "graphql")
    assert logged == ["comment author: GET /user failed (403); asking GraphQL"]  # the fake's non-PAT answer


def test_answers_that_are_not_json_are_logged_as_no_usable_answer(gh):
    gh.expect_request("/user", method="GET").respond_with_data("<html>", content_type="text/html")
    gh.expect_request("/graphql", method="POST").respond_with_data("<html>", content_type="text/html")
    client = GitHubClient(PAT, gh.url_for("/").rstrip("/"), sleep=lambda _s: None,
                          graphql_url=gh.url_for("/graphql"))
    logged: list[str] = []
    assert resolve_identity(client, log=logged.append) == Identity("github-actions[bot]", "fallback")
    assert logged == ["comment author: GET /user failed (no usable answer); asking GraphQL",
                      "comment author: the GraphQL viewer query failed (200); assuming github-actions[bot]"]


def test_a_pat_identity_says_it_came_from_get_user(fake):
    fake.viewer, fake.viewer_type, fake.pat = "release-bot", "User", True
    assert resolve_identity(client_for(fake, token=PAT)) == Identity("release-bot", "user")


def test_cached_identity_passes_the_explicit_author_on(fake):
    logged: list[str] = []
    get = cached_identity(client_for(fake), "kalibra-app[bot]", log=logged.append)
    assert get() == Identity("kalibra-app[bot]", "input") and fake.requests() == []
    assert logged == ["comment author: kalibra-app[bot] (from input)"]
