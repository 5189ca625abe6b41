"""The sticky comment against a fake API: create, update across pages, recreate, leave others alone."""

from __future__ import annotations

import json

import pytest
from werkzeug import Request, Response

from kalibra_action.github.client import GitHubError
from kalibra_action.github.comments import (
    StickyComment,
    author_of,
    fit_body,
    has_marker,
    marker_for,
    with_marker,
)
from kalibra_action.limits import COMMENT_MAX_CHARS as MAX_BODY
from tests.contract.conftest import PR, REPO, comment, comments_path, requests_made

MARKER = marker_for("kalibra")


def sticky(client, comment_id: str = "kalibra") -> StickyComment:
    return StickyComment(client, REPO, PR, marker_for(comment_id))


def created(request: Request) -> Response:
    body = request.get_json()["body"]
    if len(body) > MAX_BODY:
        return Response(json.dumps({"message": "Validation Failed",
                                    "errors": [{"message": "body is too long"}]}), status=422)
    return Response(json.dumps(comment(900, body)), status=201, content_type="application/json")


def patched(request: Request) -> Response:
    cid = int(request.path.rsplit("/", 1)[1])
    return Response(json.dumps(comment(cid, request.get_json()["body"])), status=200,
                    content_type="application/json")


def test_marker_is_the_first_line():
    assert MARKER == "<!-- kalibra-action:kalibra -->"
    assert with_marker("## Report", MARKER) == f"{MARKER}\n## Report"
    assert with_marker(f"{MARKER}\n## Report", MARKER) == f"{MARKER}\n## Report"


def test_create_when_none_exists(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json([comment(1, "LGTM", "alice", "User")])
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    done = sticky(make_client()).publish("## Kalibra")
    assert done.action == "created" and done.id == 900 and done.url.endswith("#issuecomment-900")
    posted = requests_made(gh, "POST")[0].get_json()["body"]
    assert posted.startswith(MARKER + "\n")
    assert requests_made(gh, "PATCH") == [] and requests_made(gh, "DELETE") == []


def test_update_when_the_marker_is_on_page_two(gh, make_client):
    page2 = gh.url_for(comments_path()) + "?per_page=100&page=2"
    gh.expect_request(comments_path(), method="GET", query_string={"per_page": "100"}).respond_with_json(
        [comment(i, f"comment {i}", "alice", "User") for i in range(1, 101)],
        headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'})
    gh.expect_request(comments_path(), method="GET", query_string={"per_page": "100", "page": "2"}
                      ).respond_with_json([comment(150, f"{MARKER}\nold report"), comment(151, "thanks")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/150", method="PATCH").respond_with_handler(patched)
    done = sticky(make_client()).publish("new report")
    assert done.action == "updated" and done.id == 150
    assert [r.path for r in requests_made(gh, "PATCH")] == [f"/repos/{REPO}/issues/comments/150"]
    assert requests_made(gh, "PATCH")[0].get_json() == {"body": f"{MARKER}\nnew report"}
    assert requests_made(gh, "POST") == []


def test_unchanged_body_sends_no_patch(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json(
        [comment(150, f"{MARKER}\r\nsame report\r\n")])
    done = sticky(make_client()).publish("same report\n")
    assert done.action == "unchanged" and done.id == 150
    assert [r.method for r in requests_made(gh)] == ["GET"]


@pytest.mark.parametrize("mode", ["update", "recreate"])
def test_other_comments_are_left_alone(gh, make_client, mode):
    others = [
        comment(20, "<!-- other-bot:report -->\n## Coverage", "codecov[bot]"),
        comment(21, f"<!-- some-bot -->\nI echo things: {MARKER}", "echo[bot]"),
        comment(22, f"Why does the bot write `{MARKER}`?\n\n> {MARKER}", "carol", "User"),
        comment(23, "<!-- kalibra-action:kalibra-nightly -->\nanother report id"),
        comment(24, f"quoting: {MARKER}", "dave", "User"),
    ]
    gh.expect_request(comments_path(), method="GET").respond_with_json(others)
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    done = sticky(make_client()).publish("report", mode=mode)
    assert done.action == "created"
    assert requests_made(gh, "PATCH") == [] and requests_made(gh, "DELETE") == []


def test_recreate(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json(
        [comment(10, f"{MARKER}\nold"), comment(11, "human", "bob", "User")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/10", method="DELETE").respond_with_data("", 204)
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    done = sticky(make_client()).publish("fresh", mode="recreate")
    assert done.action == "recreated" and done.id == 900
    assert [(r.method, r.path) for r in requests_made(gh)][1:] == [
        ("DELETE", f"/repos/{REPO}/issues/comments/10"), ("POST", comments_path())]


def test_recreate_tolerates_an_already_deleted_comment(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json([comment(10, f"{MARKER}\nold")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/10", method="DELETE").respond_with_json(
        {"message": "Not Found"}, status=404)
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    assert sticky(make_client()).publish("fresh", mode="recreate").action == "recreated"


def test_comment_ids_keep_reports_apart(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json(
        [comment(30, f"{marker_for('kalibra')}\nmain report"), comment(31, f"{marker_for('nightly')}\nold")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/31", method="PATCH").respond_with_handler(patched)
    done = sticky(make_client(), "nightly").publish("new nightly")
    assert done.action == "updated" and done.id == 31


def test_an_over_long_body_never_reaches_422(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json([])
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    huge = "<details><summary>tasks</summary>\n\n" + "| task | 1/2 |\n" * 20_000
    done = sticky(make_client()).publish(huge)
    assert done.action == "created"
    body = requests_made(gh, "POST")[0].get_json()["body"]
    assert len(body) <= MAX_BODY and body.count("<details>") == body.count("</details>")
    assert "job summary" in body


def test_fit_body_counts_astral_characters_twice():
    body = "😀" * 40_000  # 80,000 UTF-16 units
    fitted = fit_body(body)
    assert len(fitted.encode("utf-16-le")) // 2 <= MAX_BODY
    assert fit_body("short") == "short"


def test_fork_token_403_on_create_is_raised_once(gh, make_client, sleeps):
    gh.expect_request(comments_path(), method="GET").respond_with_json([])
    gh.expect_request(comments_path(), method="POST").respond_with_json(
        {"message": "Resource not accessible by integration"}, status=403)
    with pytest.raises(GitHubError) as info:
        sticky(make_client()).publish("report")
    assert info.value.not_permitted
    assert len(requests_made(gh, "POST")) == 1 and sleeps == []


def test_rate_limited_create_then_201(gh, make_client, sleeps):
    gh.expect_request(comments_path(), method="GET").respond_with_json([])
    gh.expect_oneshot_request(comments_path(), method="POST").respond_with_json(
        {"message": "You have exceeded a secondary rate limit"}, status=403, headers={"Retry-After": "2"})
    gh.expect_oneshot_request(comments_path(), method="POST").respond_with_json(
        {"message": "rate"}, status=429, headers={"Retry-After": "1"})
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    assert sticky(make_client()).publish("report").action == "created"
    assert sleeps == [2.0, 1.0]


# ── Pinned for mutation testing (docs/mutation.md) ──


def test_a_marker_after_leading_white_space_is_still_the_marker():
    assert has_marker({"body": f"\n  {MARKER}\nreport"}, MARKER)
    assert has_marker({"body": f"{MARKER}  \n"}, MARKER)
    assert not has_marker({"body": f"x{MARKER}"}, MARKER)
    assert not has_marker({"body": None}, MARKER) and not has_marker({}, MARKER)
    assert with_marker(f"\n {MARKER}\nbody", MARKER) == f"\n {MARKER}\nbody"


@pytest.mark.parametrize(("user", "shown"), [
    ({"login": "octo-cat"}, "octo-cat"),
    ({"login": "my-app[bot]"}, "my-app[bot]"),
    ({"login": "e\x1b[31mvil::x\n"}, "e[31mvilx"),  # a login's characters only
    ({"login": "é"}, "?"),
    ({"login": ""}, "?"),
    ({"login": None}, "?"),
    ("not a dict", "?"),
    ({"login": "a" * 60}, "a" * 50),
    ({"login": 12}, "12"),
])
def test_author_of_keeps_a_logins_characters_only(user, shown):
    assert author_of({"user": user}) == shown
    assert author_of({}) == "?"


def test_recreate_reports_the_new_url_and_the_lookalikes(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json(
        [comment(10, f"{MARKER}\nold"), comment(11, f"{MARKER}\nforged", "mallory", "User")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/10", method="DELETE").respond_with_data("", 204)
    gh.expect_request(comments_path(), method="POST").respond_with_handler(created)
    done = sticky(make_client()).publish("fresh", mode="recreate")
    assert (done.action, done.id) == ("recreated", 900) and done.url.endswith("#issuecomment-900")
    assert [c["id"] for c in done.ignored] == [11]


@pytest.mark.parametrize(("method", "path", "call"), [
    ("POST", comments_path(), lambda s: s.create("x")),
    ("PATCH", f"/repos/{REPO}/issues/comments/5", lambda s: s.update(5, "x")),
    ("DELETE", f"/repos/{REPO}/issues/comments/5", lambda s: s.delete(5)),
])
def test_a_refused_write_names_its_method(gh, make_client, method, path, call):
    gh.expect_request(path, method=method).respond_with_json({"message": "Forbidden"}, status=403)
    with pytest.raises(GitHubError) as info:
        call(sticky(make_client()))
    assert info.value.method == method and str(info.value).startswith(f"{method} ")


def _no_url(c: dict) -> dict:
    return {k: v for k, v in c.items() if k != "html_url"}


def url_of(cid: int) -> str:
    return comment(cid, "")["html_url"]


@pytest.mark.parametrize("mode", ["update", "recreate"])
def test_an_answer_without_a_url_gives_an_empty_url(gh, make_client, mode):
    gh.expect_request(comments_path(), method="GET").respond_with_json([])
    posted = _no_url(comment(900, "x"))
    gh.expect_request(comments_path(), method="POST").respond_with_json(posted, status=201)
    done = sticky(make_client()).publish("x", mode=mode)
    assert (done.action, done.id, done.url) == ("created", 900, "")


def test_recreate_answer_without_a_url(gh, make_client):
    gh.expect_request(comments_path(), method="GET").respond_with_json([comment(10, f"{MARKER}\nold")])
    gh.expect_request(f"/repos/{REPO}/issues/comments/10", method="DELETE").respond_with_data("", 204)
    posted = _no_url(comment(900, "x"))
    gh.expect_request(comments_path(), method="POST").respond_with_json(posted, status=201)
    done = sticky(make_client()).publish("x", mode="recreate")
    assert (done.action, done.id, done.url) == ("recreated", 900, "")


@pytest.mark.parametrize("with_url", [True, False])
def test_unchanged_reports_our_url_and_the_lookalikes(gh, make_client, with_url):
    ours = comment(150, f"{MARKER}\nsame")
    gh.expect_request(comments_path(), method="GET").respond_with_json(
        [ours if with_url else _no_url(ours), comment(151, f"{MARKER}\nforged", "mallory", "User")])
    done = sticky(make_client()).publish("same")
    assert (done.action, done.id, done.url) == ("unchanged", 150, url_of(150) if with_url else "")
    assert [c["id"] for c in done.ignored] == [151]


@pytest.mark.parametrize(("patch_url", "own_url", "want"), [
    (True, True, "patch"), (False, True, "own"), (False, False, ""),
])
def test_updated_url_comes_from_the_answer_then_from_our_comment(gh, make_client, patch_url, own_url, want):
    ours = comment(150, f"{MARKER}\nold")
    gh.expect_request(comments_path(), method="GET").respond_with_json(
        [ours if own_url else _no_url(ours), comment(151, f"{MARKER}\nforged", "mallory", "User")])
    answer = {**comment(150, "new"), "html_url": "https://github.com/x/y/pull/1#patched"}
    gh.expect_request(f"/repos/{REPO}/issues/comments/150", method="PATCH").respond_with_json(
        answer if patch_url else _no_url(answer))
    done = sticky(make_client()).publish("new")
    expected = {"patch": answer["html_url"], "own": url_of(150), "": ""}[want]
    assert (done.action, done.id, done.url) == ("updated", 150, expected)
    assert [c["id"] for c in done.ignored] == [151]

