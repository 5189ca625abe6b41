"""A stateful fake of GitHub's issue-comment API on a pytest-httpserver, with injectable faults."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

LIMIT = 65_536


def _json(data: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


@dataclass
class FakeGitHub:
    """Comments per PR; `prefix` mimics GHES's `/api/v3`; `deny_writes` mimics a fork's read-only token."""

    server: HTTPServer
    repo: str = "octo/demo"
    prefix: str = ""
    per_page_cap: int = 100
    deny_writes: bool = False
    comments: dict[int, list[dict]] = field(default_factory=dict)
    next_id: int = 1000

    def __post_init__(self) -> None:
        base = f"{self.prefix}/repos/{self.repo}/issues"
        self.server.expect_request(re.compile(rf"^{re.escape(base)}/comments/\d+$")).respond_with_handler(
            self._by_id)
        self.server.expect_request(re.compile(rf"^{re.escape(base)}/\d+/comments$")).respond_with_handler(
            self._collection)

    @property
    def api_url(self) -> str:
        return self.server.url_for(self.prefix or "/").rstrip("/")

    def seed(self, pr: int, body: str, login: str = "someone", kind: str = "User") -> dict:
        return self._add(pr, body, login, kind)

    def _add(self, pr: int, body: str, login: str = "github-actions[bot]", kind: str = "Bot") -> dict:
        self.next_id += 1
        item = {"id": self.next_id, "node_id": f"IC_{self.next_id}", "body": body,
                "user": {"login": login, "type": kind},
                "html_url": f"https://github.com/{self.repo}/pull/{pr}#issuecomment-{self.next_id}"}
        self.comments.setdefault(pr, []).append(item)
        return item

    def _find(self, cid: int) -> tuple[int, dict] | None:
        for pr, items in self.comments.items():
            for item in items:
                if item["id"] == cid:
                    return pr, item
        return None

    def _denied(self) -> Response:
        return _json({"message": "Resource not accessible by integration",
                      "documentation_url": "https://docs.github.com/rest"}, 403)

    def _collection(self, request: Request) -> Response:
        pr = int(request.path.rstrip("/").split("/")[-2])
        if request.method == "GET":
            per_page = min(int(request.args.get("per_page", 30)), self.per_page_cap)
            page = int(request.args.get("page", 1))
            items = self.comments.get(pr, [])
            chunk = items[(page - 1) * per_page: page * per_page]
            headers = {}
            if page * per_page < len(items):
                nxt = self.server.url_for(request.path) + f"?per_page={per_page}&page={page + 1}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            return _json(chunk, headers=headers)
        if request.method == "POST":
            if self.deny_writes:
                return self._denied()
            body = request.get_json()["body"]
            if len(body) > LIMIT:
                errors = [{"message": "body is too long"}]
                return _json({"message": "Validation Failed", "errors": errors}, 422)
            return _json(self._add(pr, body), 201)
        return _json({"message": "Not Found"}, 404)

    def _by_id(self, request: Request) -> Response:
        cid = int(request.path.rsplit("/", 1)[1])
        found = self._find(cid)
        if found is None:
            return _json({"message": "Not Found"}, 404)
        pr, item = found
        if self.deny_writes and request.method in ("PATCH", "DELETE"):
            return self._denied()
        if request.method == "PATCH":
            body = request.get_json()["body"]
            if len(body) > LIMIT:
                return _json({"message": "Validation Failed"}, 422)
            item["body"] = body
            return _json(item)
        if request.method == "DELETE":
            self.comments[pr].remove(item)
            return Response("", status=204)
        return _json(item)

    def requests(self, method: str | None = None) -> list[Request]:
        return [req for req, _ in self.server.log if method is None or req.method == method]
