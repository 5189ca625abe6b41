"""A small GitHub REST client: the API's headers, bounded retries for rate limits and 5xx, pagination.

Retried: 429; 403 from the secondary rate limit (message says so, or `Retry-After` is set) or the primary one
(`x-ratelimit-remaining: 0` → until `x-ratelimit-reset`); 5xx; connection errors. Not retried: other 4xx,
notably 403 "Resource not accessible by integration" (a fork's read-only token). All waits of one client add
up to at most `max_wait` seconds; a wait that would pass that bound is not started.

Every attempt has a deadline (`deadline`, default 60 s) for the whole answer, headers and body: the
socket's read timeout alone bounds only the gap between two packets, so a server that dribbles a byte now
and then would hold the run forever. The body of a non-streamed answer is capped (`max_bytes`). The time
an attempt that timed out took counts against `max_wait` as the waits do.

Redirects are never followed (the token must not travel to another host): a 3xx raises GitHubError, or,
with `redirects="return"`, comes back to the caller, who reads `Location` and fetches it without the token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from kalibra_action import __version__
from kalibra_action.limits import IO_CHUNK

if TYPE_CHECKING:
    import requests

API_VERSION = "2022-11-28"
USER_AGENT = f"kalibra-action/{__version__}"
MAX_ATTEMPTS = 6
DEADLINE = 60.0
MAX_RESPONSE_BYTES = 64 << 20  # a page of 100 comments of GitHub's largest size is well below
_CHUNK = IO_CHUNK


def _requests():
    """requests (with urllib3, ssl, http.client), imported when the first client is made: a run that never
    calls the API (no pull request, no baseline artifact) skips about a quarter of the action's start-up."""
    import requests

    return requests


class _Overdue(Exception):
    """The answer did not arrive in full within the deadline."""


def _broken() -> tuple[type[BaseException], ...]:
    """A connection that failed, timed out (_Overdue included), or broke off mid-answer (a cut chunked body,
    a bad gzip body): retried, and a GitHubError in the end, never a bare requests exception."""
    requests = _requests()
    return (_Overdue, requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError)


class _TooLarge(Exception):
    """The answer's body is larger than the cap."""


class GitHubError(Exception):
    """A request GitHub refused or that kept failing; never carries the token."""

    def __init__(self, method: str, url: str, status: int | None, message: str) -> None:
        super().__init__(f"{method} {url}: {status or 'no response'} {message}".strip())
        self.method = method
        self.url = url
        self.status = status
        self.message = message

    @property
    def not_permitted(self) -> bool:
        """The token may not write here: a fork's read-only token, or missing `permissions:`."""
        return self.status == 403 and "not accessible by integration" in self.message.lower()


def _message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(data.get("message", ""))[:500] if isinstance(data, dict) else ""


def _read_body(resp: requests.Response, max_bytes: int) -> None:
    """Read the body into `resp` (as requests does for a non-streamed answer), at most `max_bytes`."""
    size = resp.headers.get("Content-Length", "")
    chunks, total = [], 0
    try:
        if size.isdigit() and int(size) > max_bytes:
            raise _TooLarge
        for chunk in resp.iter_content(_CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise _TooLarge
            chunks.append(chunk)
    except BaseException:
        resp.close()
        raise
    resp._content = b"".join(chunks)  # what Response.content caches; .json() and .text read it
    resp._content_consumed = True
    resp.close()  # the connection goes back to the pool


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class GitHubClient:
    """requests.Session with GitHub's headers; `sleep` and `clock` are injectable for tests."""

    def __init__(
        self,
        token: str,
        api_url: str = "https://api.github.com",
        *,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = (10.0, 30.0),
        log: Callable[[str], None] | None = None,
        graphql_url: str | None = None,
        deadline: float = DEADLINE,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url or None  # GITHUB_GRAPHQL_URL as the runner gives it, never derived
        # `ghs_` is an installation token (the default GITHUB_TOKEN, a GitHub App's): it cannot read /user
        self.installation_token = token.startswith("ghs_")
        self.max_wait = max_wait
        self.waited = 0.0
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self._log = log or (lambda _msg: None)
        self.session = _requests().Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        })

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.api_url}/{path.lstrip('/')}"

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.api_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def retry_after(self, resp: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying this response, or None when it must not be retried."""
        status = resp.status_code
        headers = resp.headers
        if status in (403, 429):
            message = _message(resp).lower()
            if "not accessible by integration" in message:
                return None  # a read-only token: retrying cannot help
            seconds = _seconds(headers.get("retry-after"))
            if seconds is not None:
                return seconds
            reset = _seconds(headers.get("x-ratelimit-reset"))
            if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
                return max(0.0, reset - self._clock()) + 1.0
            if status == 429 or "rate limit" in message or "retry-after" in headers:
                return min(60.0, 2.0 ** (attempt + 2))  # 4, 8, 16 … s, within the total bound
            return None
        if status >= 500:
            return float(2**attempt)  # 1, 2, 4 … s
        return None

    def _wait(self, seconds: float, why: str) -> bool:
        if self.waited + seconds > self.max_wait:
            return False
        self._log(f"GitHub API: {why}; retrying in {seconds:.0f} s")
        self._sleep(seconds)
        self.waited += seconds
        return True

    def request(self, method: str, path: str, *, redirects: Literal["raise", "return"] = "raise",
                **kwargs: Any) -> requests.Response:
        """One API call with bounded retries; a non-2xx final answer raises GitHubError.

        `redirects="return"`: a 3xx answer is returned as it is (not followed, not retried), for the caller
        to read `Location`; close it when done (it may be a streamed response).
        """
        if redirects not in ("raise", "return"):
            raise ValueError(f"redirects must be 'raise' or 'return', got {redirects!r}")
        url = self.url(path)
        if not self._same_origin(url):
            raise GitHubError(method, url, None, "refusing to send the token to another host")
        for attempt in range(MAX_ATTEMPTS):
            last = attempt == MAX_ATTEMPTS - 1
            started = time.monotonic()
            try:
                resp = self._send(method, url, kwargs)
            except _TooLarge:
                raise GitHubError(method, url, None, f"answer larger than {self.max_bytes:,} bytes") from None
            except _broken() as err:
                # a silent or dribbling server uses up the budget
                if isinstance(err, (_Overdue, _requests().Timeout)):
                    self.waited += time.monotonic() - started
                why = f"no full answer within {self.deadline:g} s" if isinstance(err, _Overdue) \
                    else type(err).__name__
                if last or not self._wait(float(2**attempt), why):
                    raise GitHubError(method, url, None, why) from err
                continue
            if resp.status_code < 300 or (redirects == "return" and resp.status_code < 400):
                return resp
            wait = None if last else self.retry_after(resp, attempt)
            if wait is None or not self._wait(wait, f"{method} answered {resp.status_code}"):
                raise GitHubError(method, url, resp.status_code, _message(resp))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """One attempt within the deadline: the answer with its body read (capped), or only its headers
        when the caller streams. Runs in a daemon thread that is abandoned past the deadline (a blocked
        read cannot be interrupted otherwise); _Overdue then."""
        stream = bool(kwargs.get("stream"))
        rest = {k: v for k, v in kwargs.items() if k != "stream"}
        box: dict[str, Any] = {}

        def attempt() -> None:
            try:
                resp = self.session.request(method, url, timeout=self._timeout, allow_redirects=False,
                                            stream=True, **rest)
                if not stream:
                    _read_body(resp, self.max_bytes)
                box["resp"] = resp
            except BaseException as err:  # handed to the caller's thread
                box["err"] = err

        worker = threading.Thread(target=attempt, name="kalibra-github-request", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            raise _Overdue(f"no full answer within {self.deadline:g} s")
        if "err" in box:
            raise box["err"]
        return box["resp"]

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.request(method, path, **kwargs)
        return resp.json() if resp.content else None

    def graphql(self, query: str) -> Any:
        """`data` of one GraphQL query; GraphQL errors (answered with HTTP 200) raise GitHubError too."""
        if not self.graphql_url:
            raise GitHubError("POST", "graphql", None, "GITHUB_GRAPHQL_URL is not set")
        resp = self.request("POST", self.graphql_url, json={"query": query})
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("errors") or not isinstance(answer.get("data"), dict):
            errors = answer.get("errors") if isinstance(answer, dict) else None
            raise GitHubError("POST", self.graphql_url, resp.status_code, f"GraphQL errors: {errors}"[:500])
        return answer["data"]

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Items of a list endpoint, following `Link: <…>; rel="next"` as given (same host only)."""
        url: str | None = self.url(path)
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while url:
            resp = self.request("GET", url, params=query)
            data = resp.json()
            if not isinstance(data, list):
                raise GitHubError("GET", url, resp.status_code, "expected a JSON array")
            yield from data
            nxt = resp.links.get("next", {}).get("url")
            url, query = (urljoin(url, nxt), None) if nxt else (None, None)
