"""A stateful fake of GitHub's issue-comment API on a pytest-httpserver, with injectable faults; plus the
Actions endpoints the baseline artifact needs (runs of a workflow, a run's artifacts, the zip's 302) and the
artifact storage it redirects to, on the same server under another host name (`localhost`, not 127.0.0.1).

The token has an identity: comments it posts are authored by `viewer` (type `viewer_type`). `GET /user`
answers it only for a personal access token (`pat=True`); an installation token gets GitHub's 403 there,
and learns its login from GraphQL `viewer` (`graphql_ok=False` breaks that too). Like GitHub, the fake lets
the token edit or delete anyone's comment (a collaborator may): `writes` records whose comment each
PATCH/DELETE touched, so a test can tell the action's own comment from a human's. `GET /pulls/N` serves
`pulls` (add them with `add_pull`)."""

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
    # Actions: workflow file → runs (newest first as given); run id → artifacts; artifact id → zip bytes
    runs: dict[str, list[dict]] = field(default_factory=dict)
    artifacts: dict[int, list[dict]] = field(default_factory=dict)
    blobs: dict[int, bytes] = field(default_factory=dict)
    storage_seen: list[Request] = field(default_factory=list)
    deny_actions: bool = False  # a token without `actions: read`
    filter_runs: bool = True  # False: the runs listing ignores `branch` and `status` (all of the workflow's)
    garbled: set[int] = field(default_factory=set)  # run ids whose artifact list answers 200 with HTML
    # the token's identity
    viewer: str = "github-actions[bot]"
    viewer_type: str = "Bot"
    pat: bool = False  # a personal access token: GET /user answers; else 403 as for an installation token
    graphql_ok: bool = True
    pulls: dict[int, dict] = field(default_factory=dict)
    writes: list[tuple[str, int, str]] = field(default_factory=list)  # (method, comment id, its author)

    def __post_init__(self) -> None:
        base = f"{self.prefix}/repos/{self.repo}/issues"
        self.server.expect_request(re.compile(rf"^{re.escape(base)}/comments/\d+$")).respond_with_handler(
            self._by_id)
        self.server.expect_request(re.compile(rf"^{re.escape(base)}/\d+/comments$")).respond_with_handler(
            self._collection)
        actions = re.escape(f"{self.prefix}/repos/{self.repo}/actions")
        self.server.expect_request(re.compile(rf"^{actions}/workflows/[^/]+/runs$"),
                                   method="GET").respond_with_handler(self._runs)
        self.server.expect_request(re.compile(rf"^{actions}/runs/\d+/artifacts$"),
                                   method="GET").respond_with_handler(self._artifacts)
        self.server.expect_request(re.compile(rf"^{actions}/artifacts/\d+/zip$"),
                                   method="GET").respond_with_handler(self._zip)
        self.server.expect_request(re.compile(r"^/storage/\d+\.zip$"),
                                   method="GET").respond_with_handler(self._storage)
        self.server.expect_request(f"{self.prefix}/user", method="GET").respond_with_handler(self._user)
        self.server.expect_request(self.graphql_path, method="POST").respond_with_handler(self._graphql)
        self.server.expect_request(re.compile(rf"^{re.escape(f'{self.prefix}/repos/{self.repo}/pulls')}/\d+$"),
                                   method="GET").respond_with_handler(self._pull)

    @property
    def api_url(self) -> str:
        return self.server.url_for(self.prefix or "/").rstrip("/")

    @property
    def graphql_path(self) -> str:
        """GitHub's `/graphql`; GHES's `/api/graphql` next to `/api/v3`."""
        return f"{self.prefix.rsplit('/', 1)[0]}/graphql" if self.prefix else "/graphql"

    @property
    def graphql_url(self) -> str:
        return self.server.url_for(self.graphql_path)

    def seed(self, pr: int, body: str, login: str = "someone", kind: str = "User") -> dict:
        return self._add(pr, body, login, kind)

    def add_pull(self, number: int, sha: str, head_repo: str | None = None) -> dict:
        pull = {"number": number, "state": "open",
                "head": {"sha": sha, "ref": "feature", "repo": {"full_name": head_repo or self.repo}},
                "base": {"ref": "main", "repo": {"full_name": self.repo}}}
        self.pulls[number] = pull
        return pull

    def written_by_others(self) -> list[tuple[str, int, str]]:
        """PATCHes and DELETEs that touched a comment the token's identity did not write."""
        return [w for w in self.writes if w[2] != self.viewer]

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
            return _json(self._add(pr, body, self.viewer, self.viewer_type), 201)
        return _json({"message": "Not Found"}, 404)

    def _by_id(self, request: Request) -> Response:
        cid = int(request.path.rsplit("/", 1)[1])
        found = self._find(cid)
        if found is None:
            return _json({"message": "Not Found"}, 404)
        pr, item = found
        if self.deny_writes and request.method in ("PATCH", "DELETE"):
            return self._denied()
        if request.method in ("PATCH", "DELETE"):
            self.writes.append((request.method, cid, item["user"]["login"]))
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

    # ---- the token's identity and pull requests ----------------------------------------------------------
    def _user(self, request: Request) -> Response:
        if not self.pat:
            return self._denied()
        return _json({"login": self.viewer, "id": 1, "type": self.viewer_type})

    def _graphql(self, request: Request) -> Response:
        query = (request.get_json(silent=True) or {}).get("query", "")
        if not self.graphql_ok or "viewer" not in query:
            return _json({"data": None, "errors": [{"message": "Resource not accessible by integration"}]})
        return _json({"data": {"viewer": {"login": self.viewer}}})

    def _pull(self, request: Request) -> Response:
        pull = self.pulls.get(int(request.path.rsplit("/", 1)[1]))
        return _json(pull) if pull else _json({"message": "Not Found"}, 404)

    # ---- Actions: the baseline artifact ------------------------------------------------------------------
    def add_run(self, run_id: int, *, workflow: str = "kalibra.yml", branch: str = "main",
                created_at: str = "2024-05-17T12:00:00Z", conclusion: str = "success", event: str = "push",
                sha: str | None = None) -> dict:
        run = {"id": run_id, "run_number": run_id + 1000, "name": "kalibra", "head_branch": branch,
               "head_sha": sha or f"{run_id:040x}", "event": event, "status": "completed",
               "conclusion": conclusion, "created_at": created_at,
               "html_url": f"https://github.com/{self.repo}/actions/runs/{run_id}",
               "repository": {"full_name": self.repo}, "head_repository": {"full_name": self.repo},
               "path": f".github/workflows/{workflow}", "workflow_id": sum(map(ord, workflow))}
        self.runs.setdefault(workflow, []).append(run)
        return run

    def add_artifact(self, run_id: int, artifact_id: int, name: str, zip_bytes: bytes | None = None, *,
                     expired: bool = False) -> dict:
        art = {"id": artifact_id, "name": name, "expired": expired, "size_in_bytes": len(zip_bytes or b""),
               "archive_download_url": self.server.url_for(
                   f"{self.prefix}/repos/{self.repo}/actions/artifacts/{artifact_id}/zip")}
        self.artifacts.setdefault(run_id, []).append(art)
        if zip_bytes is not None:
            self.blobs[artifact_id] = zip_bytes
        return art

    def api_requests(self) -> list[Request]:
        """Requests that reached the API (not the storage host)."""
        return [r for r in self.requests() if r.path.startswith(f"{self.prefix}/repos/")]

    def _runs(self, request: Request) -> Response:
        if self.deny_actions:
            return self._denied()
        workflow = request.path.rsplit("/", 2)[-2]
        if workflow not in self.runs:
            return _json({"message": "Not Found"}, 404)
        runs = [r for r in self.runs[workflow] if not self.filter_runs or (
                r["head_branch"] == request.args.get("branch", r["head_branch"])
                and (request.args.get("status") != "success" or r["conclusion"] == "success"))]
        per_page = min(int(request.args.get("per_page", 30)), 100)  # GitHub's cap
        page = int(request.args.get("page", 1))
        headers = {}
        if page * per_page < len(runs):  # GitHub's pagination: the next page's full URL in `Link`
            query = "&".join(f"{k}={v}" for k, v in request.args.items() if k != "page")
            nxt = self.server.url_for(request.path) + f"?{query}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        chunk = runs[(page - 1) * per_page: page * per_page]
        return _json({"total_count": len(runs), "workflow_runs": chunk}, headers=headers)

    def _artifacts(self, request: Request) -> Response:
        run_id = int(request.path.rsplit("/", 2)[-2])
        if run_id in self.garbled:
            return Response("<html>upstream error</html>", status=200, content_type="text/html")
        arts = self.artifacts.get(run_id, [])
        name = request.args.get("name")
        arts = [a for a in arts if name is None or a["name"] == name]
        per_page = min(int(request.args.get("per_page", 30)), 100)
        return _json({"total_count": len(arts), "artifacts": arts[:per_page]})

    def _zip(self, request: Request) -> Response:
        aid = int(request.path.rsplit("/", 2)[-2])
        art = next((a for arts in self.artifacts.values() for a in arts if a["id"] == aid), None)
        if art is None or aid not in self.blobs:
            return _json({"message": "Not Found"}, 404)
        if art["expired"]:
            return _json({"message": "Artifact has expired"}, 410)
        # pre-signed storage on another host name: the client must drop the token there
        location = f"http://localhost:{self.server.port}/storage/{aid}.zip?sig=s3cr3tSignature&se=60"
        return Response(status=302, headers={"Location": location})

    def _storage(self, request: Request) -> Response:
        self.storage_seen.append(request)
        if "Authorization" in request.headers:
            return Response("<Error>a token reached storage</Error>", status=400)
        if request.host.split(":")[0] != "localhost":
            return Response("<Error>wrong host</Error>", status=400)
        return Response(self.blobs[int(request.path.rsplit("/", 1)[1].split(".")[0])],
                        content_type="application/zip")

    def requests(self, method: str | None = None) -> list[Request]:
        return [req for req, _ in self.server.log if method is None or req.method == method]
