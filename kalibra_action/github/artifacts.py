"""The baseline from the base branch: the artifact of the newest good run of a workflow, with provenance.

Calls, newest run first and at most MAX_API_CALLS in all: one page of runs
(`/actions/workflows/{workflow}/runs?branch=…&status=success`, following `Link: rel="next"`), the run's
artifacts (`/actions/runs/{id}/artifacts?name=…`), then the zip (`/actions/artifacts/{id}/zip`), which answers
302 to pre-signed storage. That URL is fetched with a plain request that carries no Authorization header.

Runs are skipped when not successful, on another branch, from a fork (head repository ≠ repository, or
unknown), or triggered by a pull-request event (`pull_request_target` runs on the base branch with PR code: a
baseline must not come from there). A run whose artifact is missing or expired hands over to the next one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from kalibra_action.errors import InputError
from kalibra_action.github.action_inputs import INPUT_DEFAULTS
from kalibra_action.github.client import USER_AGENT, GitHubClient, GitHubError
from kalibra_action.github.safezip import safe_extract
from kalibra_action.github.target import get_path
from kalibra_action.limits import ARTIFACT_MAX_BYTES, ARTIFACT_MAX_FILES, HISTORY_MAX_BYTES, IO_CHUNK

if TYPE_CHECKING:
    import requests

MAX_API_CALLS = 10
RUNS_PER_PAGE = 100  # GitHub's largest page: one listing holds a pooled baseline's runs
ARTIFACTS_PER_PAGE = 100
STALE_DAYS = 30
STORAGE_TIMEOUT = (10.0, 60.0)
MAX_STORAGE_HOPS = 3
PR_EVENTS = frozenset({"pull_request", "pull_request_target", "pull_request_review",
                       "pull_request_review_comment", "issue_comment"})
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class BaselineProvenance:
    """Where the baseline came from, for the comment and the summary."""

    branch: str
    run_id: int
    run_url: str
    run_number: int | None
    commit: str
    created_at: str
    age_days: float
    workflow: str
    artifact: str
    stale: bool  # older than STALE_DAYS


@dataclass(frozen=True)
class BaselineArtifact:
    """The extracted trace files (matching the glob, sorted), their directory, and the provenance; for the
    history, every run listed (newest first, with why it could not give the baseline, None when it could),
    the baseline run's place in that list, and the artifact lists already fetched (run id → artifacts)."""

    paths: tuple[str, ...]
    directory: str
    provenance: BaselineProvenance
    listed: tuple[tuple[dict[str, Any], str | None], ...] = ()
    index: int = 0
    artifact_lists: Mapping[int, list[dict[str, Any]]] = field(default_factory=dict)

    def history_window(self, runs: int) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
        """The baseline run and up to `runs` − 1 older qualifying runs, newest first; and every other run
        listed down to the oldest of them (newer runs whose artifact was missing included), with the reason
        it is left out. Runs listed beyond the window are neither taken nor reported."""
        taken = [self.listed[self.index][0]]
        left_out = []
        for i, (run, why) in enumerate(self.listed):
            if len(taken) >= runs:
                break
            if i == self.index:
                continue
            if why is None and i > self.index:
                taken.append(run)
            else:
                left_out.append((run, why or "not considered"))
        return taken, left_out


class NoBaseline(Exception):
    """No usable baseline: no successful run, no artifact, or it expired. `reason` is one sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


IF_NO_BASELINE: tuple[str, ...] = ("fail", "warn", "skip")


def if_no_baseline(policy: str, err: NoBaseline) -> str:
    """Apply input `if-no-baseline`: 'fail' raises InputError (exit 2); 'warn' and 'skip' return the line
    to show (as a warning, resp. a notice) while the current traces are reported alone, no gates evaluated.
    The policy was checked against IF_NO_BASELINE where the input was read (github.settings)."""
    message = f"no baseline: {err.reason}"
    if policy == "fail":
        raise InputError(message, hint="set if-no-baseline: warn to report the current traces alone")
    return f"{message}; reporting the current traces alone, no gates evaluated"


def workflow_from_ref(ref: str) -> str:
    """`owner/repo/.github/workflows/ci.yml@refs/heads/main` (GITHUB_WORKFLOW_REF) → `ci.yml`."""
    name = ref.strip().split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise InputError(f"cannot tell the workflow file from {ref!r}; set input 'baseline-workflow'")
    return name


def default_branch_for(event: dict[str, Any]) -> str | None:
    """The branch a baseline comes from by default: the PR's base, else the repository's default branch."""
    prs = get_path(event, "workflow_run", "pull_requests")
    candidates = (get_path(event, "pull_request", "base", "ref"),
                  get_path(prs[0], "base", "ref") if isinstance(prs, list) and prs else None,  # workflow_run
                  get_path(event, "repository", "default_branch"))
    return next((c for c in candidates if isinstance(c, str) and c), None)


class _Calls:
    """GET on the API, counted against the budget. `listed` keeps every run listed so far (newest first,
    each once, with why it cannot give the baseline) and `artifacts` each run's artifact list, so the
    history needs no second listing and nothing is fetched twice in one run."""

    def __init__(self, client: GitHubClient, limit: int,
                 artifacts: Mapping[int, list[dict[str, Any]]] | None = None) -> None:
        self.client = client
        self.limit = limit
        self.used = 0
        self.exhausted = False
        self.listed: list[tuple[dict[str, Any], str | None]] = []
        self.artifacts: dict[int, list[dict[str, Any]]] = dict(artifacts or {})

    def left(self, need: int) -> bool:
        ok = self.limit - self.used >= need
        self.exhausted |= not ok
        return ok

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        self.used += 1
        return self.client.request("GET", path, **kwargs)

    def json(self, path: str, **kwargs: Any) -> tuple[Any, requests.Response]:
        """GET and decode; an answer that is not JSON is the API's error (a GitHubError), not a crash."""
        resp = self.get(path, **kwargs)
        try:
            return resp.json(), resp
        except ValueError:
            raise GitHubError("GET", resp.url, resp.status_code, "the answer is not JSON") from None


def _run_id(run: dict[str, Any]) -> int | None:
    """The run's id when the API gave a usable one."""
    rid = run.get("id")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) and rid > 0 else None


def _other_workflow(run: dict[str, Any], workflow: str) -> bool:
    """Whether the run names a workflow other than `workflow` (a file name or a numeric id); a run that
    names none is taken as listed (the listing was for that workflow)."""
    if workflow.isdigit():
        wid = run.get("workflow_id")
        return wid is not None and str(wid) != workflow
    path = run.get("path")
    if not isinstance(path, str) or not path:
        return False
    return path.split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1] != workflow


def _skip(run: dict[str, Any], branch: str, workflow: str) -> str | None:
    """Why a run cannot give the baseline, or None."""
    if _run_id(run) is None:
        return "the API gave no run id"
    if run.get("conclusion") != "success":
        return "not successful"
    if run.get("head_branch") != branch:
        return "another branch"
    head = ((run.get("head_repository") or {}).get("full_name") or "").lower()
    base = ((run.get("repository") or {}).get("full_name") or "").lower()
    if not head or head != base:
        return "from a fork"
    if run.get("event") in PR_EVENTS:
        return "a pull-request event"
    if _other_workflow(run, workflow):
        return "another workflow"
    return None


def _runs(calls: _Calls, repo: str, workflow: str, branch: str) -> Iterator[dict[str, Any]]:
    """Runs that qualify, newest first, page by page while a page plus a download fits the budget."""
    url: str | None = f"repos/{repo}/actions/workflows/{quote(workflow, safe='')}/runs"
    params: dict[str, Any] | None = {"branch": branch, "status": "success", "per_page": RUNS_PER_PAGE,
                                     "exclude_pull_requests": "true"}
    while url and calls.left(3):
        try:
            data, resp = calls.json(url, params=params)
        except GitHubError as err:
            if err.status == 404:
                raise NoBaseline(f"workflow '{workflow}' was not found in {repo}") from err
            raise
        runs = data.get("workflow_runs") if isinstance(data, dict) else None
        if not isinstance(runs, list):
            raise GitHubError("GET", resp.url, resp.status_code, "expected an object with 'workflow_runs'")
        seen = {_run_id(r) for r, _ in calls.listed}
        page = []
        for r in runs:
            if isinstance(r, dict) and (_run_id(r) is None or _run_id(r) not in seen):
                seen.add(_run_id(r))
                page.append((r, _skip(r, branch, workflow)))
        page.sort(key=lambda e: (str(e[0].get("created_at") or ""), _number(e[0].get("run_number"))),
                  reverse=True)
        calls.listed += page
        yield from (r for r, why in page if why is None)
        nxt = resp.links.get("next", {}).get("url")
        url, params = (urljoin(resp.url, nxt), None) if nxt else (None, None)


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _artifact_list(calls: _Calls, repo: str, run_id: int, name: str) -> list[dict[str, Any]]:
    """The run's artifacts, listed once a run (the traces' and the history's come from one list); a run
    with more than a page of them is asked for `name` alone."""
    if run_id in calls.artifacts:
        return calls.artifacts[run_id]
    path = f"repos/{repo}/actions/runs/{run_id}/artifacts"
    data, _ = calls.json(path, params={"per_page": ARTIFACTS_PER_PAGE})
    items = data.get("artifacts") if isinstance(data, dict) else None
    items = [a for a in items or [] if isinstance(a, dict)]
    total = data.get("total_count") if isinstance(data, dict) else None
    if isinstance(total, int) and total > len(items) and calls.left(2):  # more than one page
        data, _ = calls.json(path, params={"name": name, "per_page": ARTIFACTS_PER_PAGE})
        named = data.get("artifacts") if isinstance(data, dict) else None
        return [a for a in named or [] if isinstance(a, dict)]
    calls.artifacts[run_id] = items
    return items


def _pick_artifact(calls: _Calls, repo: str, run_id: int, name: str) -> tuple[dict[str, Any] | None, str]:
    """The run's live artifact of that exact name (newest if several), or None and why."""
    named = [a for a in _artifact_list(calls, repo, run_id, name) if a.get("name") == name]
    live = [a for a in named if not a.get("expired")]
    if live:
        return max(live, key=lambda a: a.get("id") or 0), ""
    return None, "its artifact has expired" if named else "it has no artifact of that name"


def _strip_auth(req: requests.PreparedRequest) -> requests.PreparedRequest:
    """requests auth hook: never an Authorization header (also keeps ~/.netrc out)."""
    req.headers.pop("Authorization", None)
    return req


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"  # the query holds the storage signature


def _save(resp: requests.Response, out: Path, max_bytes: int, label: str) -> None:
    size = resp.headers.get("Content-Length", "")
    if size.isdigit() and int(size) > max_bytes:
        raise InputError(f"artifact download is {size} bytes, more than the limit of {max_bytes}", file=label)
    total = 0
    with open(out, "wb") as fh:
        for chunk in resp.iter_content(IO_CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise InputError(f"artifact download exceeds the limit of {max_bytes} bytes", file=label)
            fh.write(chunk)


def _download(calls: _Calls, repo: str, art: dict[str, Any], out: Path, max_bytes: int) -> bool:
    """Save the artifact's zip to `out`; False when GitHub says it has expired (410)."""
    label = str(art.get("name") or "artifact")
    path = f"repos/{repo}/actions/artifacts/{art['id']}/zip"
    try:  # the 302 comes back to us: its Location is fetched without the token
        resp = calls.get(path, stream=True, redirects="return")
    except GitHubError as err:
        if err.status == 410:
            return False
        raise
    with resp:
        if resp.status_code >= 300:
            location = resp.headers.get("Location") if resp.status_code in _REDIRECTS else None
            if not location:
                raise GitHubError("GET", calls.client.url(path), resp.status_code,
                                  "unexpected redirect without a usable Location")
            target = urljoin(calls.client.url(path), location)
        else:  # served directly by the API host (the token went nowhere else)
            _save(resp, out, max_bytes, label)
            return True
    _fetch_storage(target, out, max_bytes, label, allow_http=calls.client.api_url.startswith("http://"))
    return True


def _fetch_storage(url: str, out: Path, max_bytes: int, label: str, *, allow_http: bool) -> None:
    """GET a pre-signed storage URL with no token: a fresh request, not the client's session."""
    import requests  # only when downloading, as in kalibra_action.github.client

    for _hop in range(MAX_STORAGE_HOPS):
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (allow_http and scheme == "http"):
            raise GitHubError("GET", _redacted(url), None, f"refusing a {scheme or 'relative'} download URL")
        try:
            resp = requests.get(url, stream=True, allow_redirects=False, timeout=STORAGE_TIMEOUT,
                                auth=_strip_auth, headers={"User-Agent": USER_AGENT})
        except (requests.ConnectionError, requests.Timeout) as err:
            raise GitHubError("GET", _redacted(url), None, type(err).__name__) from err
        with resp:
            if resp.status_code in _REDIRECTS and resp.headers.get("Location"):
                url = urljoin(url, resp.headers["Location"])
                continue
            if resp.status_code != 200:
                raise GitHubError("GET", _redacted(url), resp.status_code,
                                  "artifact storage refused the download")
            _save(resp, out, max_bytes, label)
            return
    raise GitHubError("GET", _redacted(url), None, "too many redirects from artifact storage")


def check_glob(pattern: str) -> str:
    parts = PurePosixPath(pattern).parts
    if not pattern or pattern.startswith("/") or ".." in parts:
        raise InputError(f"input 'baseline-path' must be a relative glob without '..', got {pattern!r}")
    return pattern


def _matching(files_dir: Path, pattern: str, artifact: str) -> tuple[str, ...]:
    """Extracted files matching the glob, sorted; InputError naming what the artifact holds when none do."""
    root = files_dir.resolve()
    paths = sorted(str(p) for p in files_dir.glob(pattern)
                   if p.is_file() and not p.is_symlink() and p.resolve().is_relative_to(root))
    if not paths:
        held = sorted(p.relative_to(files_dir).as_posix() for p in files_dir.rglob("*") if p.is_file())
        shown = ", ".join(held[:5]) + (" …" if len(held) > 5 else "") if held else "no files"
        raise InputError(f"no file in the artifact matches {pattern!r} (it holds {shown})",
                         file=artifact, hint="set input 'baseline-path'")
    return tuple(paths)


def _provenance(run: dict[str, Any], workflow: str, artifact: str, now: datetime) -> BaselineProvenance:
    created = str(run.get("created_at") or "")
    try:
        when = datetime.fromisoformat(created)
        age = max(0.0, (now - (when if when.tzinfo else when.replace(tzinfo=UTC))).total_seconds() / 86400)
    except ValueError:
        age = 0.0
    return BaselineProvenance(
        branch=str(run.get("head_branch") or ""), run_id=int(run["id"]),
        run_url=str(run.get("html_url") or ""), run_number=run.get("run_number"),
        commit=str(run.get("head_sha") or ""), created_at=created,
        age_days=round(age, 2), workflow=str(run.get("name") or workflow), artifact=artifact,
        stale=age > STALE_DAYS)


def _no_baseline(calls: _Calls, tried: list[tuple[dict[str, Any], str]], workflow: str, branch: str,
                 artifact: str) -> NoBaseline:
    where = f"of workflow '{workflow}' on branch '{branch}'"
    if not tried:
        scope = " among the runs checked within the API budget" if calls.exhausted else ""
        return NoBaseline(f"no successful run {where}{scope} (fork and pull-request runs are skipped)")
    newest, why = tried[0]
    more = f"; {len(tried) - 1} older run(s) had none either" if len(tried) > 1 else ""
    more += f" (stopped at the budget of {calls.limit} API calls)" if calls.exhausted else ""
    return NoBaseline(f"no usable artifact '{artifact}' from the latest successful run {where}: "
                      f"run #{newest.get('run_number') or newest.get('id')} — {why}{more}")


def fetch_baseline(client: GitHubClient, repo: str, *, artifact: str, workflow: str, branch: str,
                   path_glob: str = INPUT_DEFAULTS["baseline-path"], dest: Path | None = None,
                   max_bytes: int = ARTIFACT_MAX_BYTES,
                   max_files: int = ARTIFACT_MAX_FILES, now: datetime | None = None) -> BaselineArtifact:
    """Download and safely extract `artifact` from the newest good run of `workflow` on `branch`.

    Extracts into `dest`/files (`dest` default: a new temporary directory, removed again on failure; with an
    explicit `dest` only `files/` is removed on failure). NoBaseline when
    there is nothing to compare with; InputError (exit 2) for an unsafe or oversized archive or no file
    matching `path_glob`; GitHubError when the API keeps failing.
    """
    for name, value in (("baseline-artifact", artifact), ("baseline-workflow", workflow),
                        ("baseline-branch", branch)):
        if not value:
            raise InputError(f"input '{name}' is empty")
    if repo.count("/") != 1:
        raise InputError(f"repository must be owner/name, got {repo!r}")
    check_glob(path_glob)
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    calls = _Calls(client, MAX_API_CALLS)
    tried: list[tuple[dict[str, Any], str]] = []
    own_dir = dest is None
    workdir = Path(tempfile.mkdtemp(prefix="kalibra-baseline-")) if dest is None else Path(dest)
    workdir.mkdir(parents=True, exist_ok=True)
    zip_path, files_dir = workdir / "artifact.zip", workdir / "files"
    try:
        for run in _runs(calls, repo, workflow, branch):
            if not calls.left(2):
                break
            art, why = _pick_artifact(calls, repo, run["id"], artifact)
            if art is not None and (art.get("size_in_bytes") or 0) > max_bytes:
                raise InputError(f"artifact is {art['size_in_bytes']} bytes, more than the limit of "
                                 f"{max_bytes}", file=artifact)
            if art is None or not _download(calls, repo, art, zip_path, max_bytes):
                tried.append((run, why or "its artifact has expired"))
                continue
            safe_extract(zip_path, files_dir, max_bytes=max_bytes, max_files=max_files)
            paths = _matching(files_dir, path_glob, artifact)
            missed = {id(r): f"{why} ('{artifact}')" for r, why in tried}
            listed = tuple((r, missed.get(id(r), why)) for r, why in calls.listed)
            return BaselineArtifact(paths=paths, directory=str(files_dir),
                                    provenance=_provenance(run, workflow, artifact, now), listed=listed,
                                    index=next(i for i, (r, _) in enumerate(listed) if r is run),
                                    artifact_lists=dict(calls.artifacts))
        raise _no_baseline(calls, tried, workflow, branch, artifact)
    except BaseException:
        shutil.rmtree(workdir if own_dir else files_dir, ignore_errors=True)
        raise
    finally:
        zip_path.unlink(missing_ok=True)


# ---- history: the small summaries of older runs ------------------------------------------------------------

HISTORY_SUFFIX = "-history"
"""The history summary of a run is uploaded as the artifact `<baseline-artifact>-history`."""


@dataclass(frozen=True)
class HistoryRun:
    """One base-branch run's history summary file (extracted), or why there is none."""

    run_id: int
    commit: str
    created_at: str
    path: str | None
    reason: str | None


def fetch_history(client: GitHubClient, repo: str, *, artifact: str, runs: list[dict[str, Any]],
                  dest: Path, max_bytes: int = HISTORY_MAX_BYTES,
                  listed: Mapping[int, list[dict[str, Any]]] | None = None) -> tuple[list[HistoryRun], int]:
    """Each run's `<artifact>-history` summary, downloaded and extracted under `dest`/<run id>, newest first;
    at most two API calls a run (its artifact list unless `listed` has it, then the zip) within a budget
    of 2 × len(runs) + 2. Returns the runs (a path, or the reason there is none) and the number of API
    calls made."""
    calls = _Calls(client, 2 * len(runs) + 2, listed)
    name = artifact + HISTORY_SUFFIX
    out: list[HistoryRun] = []
    for run in runs:
        run_id = int(run["id"])
        meta = (run_id, str(run.get("head_sha") or ""), str(run.get("created_at") or ""))
        if not calls.left(2):
            out.append(HistoryRun(*meta, None, "not read: the API call budget is spent"))
            continue
        zip_path, files = dest / f"{run_id}.zip", dest / str(run_id)
        try:
            art, why = _pick_artifact(calls, repo, run_id, name)
            if art is not None and (art.get("size_in_bytes") or 0) > max_bytes:
                art, why = None, f"its history artifact is larger than {max_bytes} bytes"
            got = art is not None and _download(calls, repo, art, zip_path, max_bytes)
        except (GitHubError, InputError) as err:
            zip_path.unlink(missing_ok=True)
            out.append(HistoryRun(*meta, None, f"its history artifact could not be read: {err}"))
            continue
        if not got:
            out.append(HistoryRun(*meta, None, (why or "its artifact has expired")
                                  .replace("artifact of that name", f"artifact '{name}'")
                                  .replace("its artifact", f"its artifact '{name}'")))
            continue
        try:
            safe_extract(zip_path, files, max_bytes=max_bytes, max_files=10)
            found = sorted(str(p) for p in files.rglob("*.json") if p.is_file() and not p.is_symlink())
        except InputError as err:
            found, why = [], f"its history artifact is unsafe: {err.message}"
        finally:
            zip_path.unlink(missing_ok=True)
        if len(found) != 1:
            out.append(HistoryRun(*meta, None, why or f"its history artifact holds {len(found)} JSON files, "
                                                      "not one"))
            continue
        out.append(HistoryRun(*meta, found[0], None))
    return out, calls.used
