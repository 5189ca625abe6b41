"""GitHubClient on a fake API: headers, bounded retries, no retry on other 4xx, pagination."""

from __future__ import annotations

import socket
import threading

import pytest
from werkzeug import Response

from kalibra_action.github.client import API_VERSION, GitHubError
from tests.contract.conftest import TOKEN, requests_made

PATH = "/repos/octo/demo/issues/7/comments"


def test_every_request_carries_the_api_headers(gh, make_client):
    gh.expect_request(PATH, method="GET").respond_with_json([])
    gh.expect_request(PATH, method="POST").respond_with_json({"id": 1}, status=201)
    client = make_client()
    list(client.paginate(PATH))
    client.json("POST", PATH, json={"body": "x"})
    for req in requests_made(gh):
        assert req.headers["Authorization"] == f"Bearer {TOKEN}"
        assert req.headers["Accept"] == "application/vnd.github+json"
        assert req.headers["X-GitHub-Api-Version"] == API_VERSION == "2022-11-28"
        assert req.headers["User-Agent"].startswith("kalibra-action/")


def test_429_with_retry_after_is_retried(gh, make_client, sleeps):
    gh.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {"message": "too many"}, status=429, headers={"Retry-After": "3"})
    gh.expect_oneshot_request(PATH, method="POST").respond_with_json({"id": 5}, status=201)
    assert make_client().json("POST", PATH, json={"body": "x"})["id"] == 5
    assert sleeps == [3.0]
    assert len(requests_made(gh, "POST")) == 2


def test_secondary_rate_limit_403_is_retried(gh, make_client, sleeps):
    gh.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}, status=403)
    gh.expect_oneshot_request(PATH, method="POST").respond_with_json({"id": 6}, status=201)
    assert make_client().json("POST", PATH, json={"body": "x"})["id"] == 6
    assert sleeps == [4.0]  # no Retry-After: exponential back-off, 2 ** (attempt + 2) s from attempt 0
    assert len(requests_made(gh, "POST")) == 2


def test_secondary_rate_limit_with_retry_after_header(gh, make_client, sleeps):
    gh.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {"message": "secondary rate limit"}, status=403, headers={"retry-after": "7"})
    gh.expect_oneshot_request(PATH, method="POST").respond_with_json({"id": 6}, status=201)
    make_client().json("POST", PATH, json={"body": "x"})
    assert sleeps == [7.0]


def test_primary_rate_limit_waits_until_reset(gh, make_client, sleeps):
    gh.expect_oneshot_request(PATH, method="GET").respond_with_json(
        {"message": "API rate limit exceeded"}, status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_700_000_000 + 12)})
    gh.expect_oneshot_request(PATH, method="GET").respond_with_json([])
    assert list(make_client(clock=lambda: 1_700_000_000.0).paginate(PATH)) == []
    assert sleeps == [13.0]  # until the reset, plus a second


def test_502_on_listing_then_success(gh, make_client, sleeps):
    gh.expect_oneshot_request(PATH, method="GET").respond_with_data("bad gateway", status=502)
    gh.expect_oneshot_request(PATH, method="GET").respond_with_json([{"id": 1, "body": "hi"}])
    assert [c["id"] for c in make_client().paginate(PATH)] == [1]
    assert sleeps == [1.0]


def test_fork_403_is_not_retried(gh, make_client, sleeps):
    gh.expect_request(PATH, method="POST").respond_with_json(
        {"message": "Resource not accessible by integration",
         "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment"},
        status=403)
    with pytest.raises(GitHubError) as info:
        make_client().json("POST", PATH, json={"body": "x"})
    assert info.value.status == 403 and info.value.not_permitted
    assert len(requests_made(gh, "POST")) == 1 and sleeps == []
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_4xx_are_not_retried(gh, make_client, sleeps, status):
    gh.expect_request(PATH, method="POST").respond_with_json({"message": "nope"}, status=status)
    with pytest.raises(GitHubError) as info:
        make_client().json("POST", PATH, json={"body": "x"})
    assert info.value.status == status and not info.value.not_permitted
    assert len(requests_made(gh)) == 1 and sleeps == []


@pytest.mark.parametrize(("max_wait", "waits"), [
    (60, [1.0, 2.0, 4.0, 8.0, 16.0]),  # 5xx back-off 2 ** attempt; 6 attempts in all (MAX_ATTEMPTS)
    (10, [1.0, 2.0, 4.0]),  # 7 s waited; 8 s more would pass 10 s, so the fourth answer is final
])
def test_total_wait_is_bounded(gh, make_client, sleeps, max_wait, waits):
    gh.expect_request(PATH, method="GET").respond_with_data("unavailable", status=503)
    with pytest.raises(GitHubError) as info:
        list(make_client(max_wait=max_wait).paginate(PATH))
    assert info.value.status == 503
    assert sleeps == waits
    assert len(requests_made(gh)) == len(waits) + 1


def test_a_wait_past_the_bound_is_not_started(gh, make_client, sleeps):
    gh.expect_request(PATH, method="POST").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(GitHubError):
        make_client().json("POST", PATH, json={"body": "x"})
    assert sleeps == [] and len(requests_made(gh)) == 1


def test_the_bound_is_shared_by_all_requests_of_a_client(gh, make_client, sleeps):
    gh.expect_request(PATH, method="POST").respond_with_json(
        {"message": "x"}, status=429, headers={"Retry-After": "25"})
    client = make_client(max_wait=60)
    for _ in range(2):
        with pytest.raises(GitHubError):
            client.json("POST", PATH, json={"body": "x"})
    assert sleeps == [25.0, 25.0]


def test_max_wait_zero_disables_retries(gh, make_client):
    gh.expect_oneshot_request(PATH, method="GET").respond_with_data("oops", status=500)
    gh.expect_oneshot_request(PATH, method="GET").respond_with_json([])
    import time

    client = make_client(sleep=time.sleep, max_wait=0.0)
    with pytest.raises(GitHubError):
        list(client.paginate(PATH))


def test_pagination_follows_link_next_as_given(gh, make_client):
    nxt = gh.url_for("/repositories/123/issues/7/comments") + "?per_page=100&page=2"
    gh.expect_request(PATH, method="GET").respond_with_json(
        [{"id": 1}], headers={"Link": f'<{nxt}>; rel="next", <{nxt}>; rel="last"'})
    gh.expect_request("/repositories/123/issues/7/comments", method="GET",
                      query_string={"per_page": "100", "page": "2"}).respond_with_json([{"id": 2}])
    assert [c["id"] for c in make_client().paginate(PATH)] == [1, 2]


def test_pagination_never_sends_the_token_to_another_host(gh, make_client):
    gh.expect_request(PATH, method="GET").respond_with_json(
        [{"id": 1}], headers={"Link": '<http://198.51.100.7/steal?page=2>; rel="next"'})
    with pytest.raises(GitHubError, match="another host"):
        list(make_client().paginate(PATH))
    assert len(requests_made(gh)) == 1


def test_redirects_are_not_followed_with_the_token(gh, make_client):
    gh.expect_request(PATH, method="GET").respond_with_response(
        Response(status=302, headers={"Location": "http://198.51.100.7/x"}))
    with pytest.raises(GitHubError):
        list(make_client().paginate(PATH))


class DroppingServer:
    """A TCP server on 127.0.0.1 that accepts each connection and closes it at once: a connection error
    the client sees on every attempt, while the server counts the attempts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def dropping():
    server = DroppingServer()
    yield server
    server.close()


@pytest.mark.parametrize(("max_wait", "waits"), [
    (3, [1.0, 2.0]),  # 1 + 2 = 3 s; the next wait (4 s) would pass the bound: the third attempt is the last
    (60, [1.0, 2.0, 4.0, 8.0, 16.0]),  # MAX_ATTEMPTS = 6 attempts, 5 waits between them (31 s ≤ 60 s)
    (0, []),  # no room to wait: one attempt
])
def test_connection_errors_are_retried_then_reported(dropping, sleeps, max_wait, waits):
    from kalibra_action.github.client import GitHubClient

    client = GitHubClient(TOKEN, dropping.url, sleep=sleeps, max_wait=max_wait)
    with pytest.raises(GitHubError) as info:
        client.json("GET", "/repos/octo/demo")
    assert info.value.status is None
    assert sleeps == waits
    assert dropping.accepted == len(waits) + 1  # one connection per attempt: each wait is followed by a retry
    assert TOKEN not in str(info.value)
