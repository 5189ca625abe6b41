"""fetch_baseline against a fake API (pytest-httpserver) and a fake storage host, with real zip files."""

from __future__ import annotations

import io
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kalibra_action.errors import EXIT_INPUT_ERROR, InputError
from kalibra_action.github.artifacts import (
    MAX_API_CALLS,
    NoBaseline,
    default_branch_for,
    fetch_baseline,
    if_no_baseline,
    workflow_from_ref,
)
from kalibra_action.github.client import GitHubError
from kalibra_action.github.settings import ActionSettings
from tests.contract.conftest import REPO, TOKEN, requests_made

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
RUNS = f"/repos/{REPO}/actions/workflows/ci.yml/runs"
SIG = "sv=2024&sig=s3cr3tSignature"


# ---- fake data ---------------------------------------------------------------------------------------------

def run(rid: int, created: str = "2024-05-10T12:00:00Z", *, branch: str = "main", conclusion: str = "success",
        head: str | None = REPO, event: str = "push") -> dict:
    return {"id": rid, "run_number": rid + 1000, "name": "CI", "head_branch": branch,
            "head_sha": f"{rid:040x}", "event": event, "status": "completed", "conclusion": conclusion,
            "created_at": created,
            "html_url": f"https://github.com/{REPO}/actions/runs/{rid}", "repository": {"full_name": REPO},
            "head_repository": {"full_name": head} if head else None}


def artifact(aid: int, name: str = "traces", *, expired: bool = False, size: int = 1000) -> dict:
    return {"id": aid, "name": name, "expired": expired, "size_in_bytes": size,
            "archive_download_url": f"https://api.github.com/repos/{REPO}/actions/artifacts/{aid}/zip"}


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


GOOD_ZIP = [("baseline.jsonl", b'{"trace_id": "a"}\n'), ("nested/more.jsonl.gz", b"gz"), ("README.md", b"hi")]


class Storage:
    """A second host (`localhost:<port>`, not the API's 127.0.0.1) that answers 400 to any token."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.seen: list[Request] = []

    def url(self, aid: int) -> str:
        return f"http://localhost:{self.server.port}/blob/{aid}.zip?{SIG}"

    def serve(self, aid: int, body: bytes, status: int = 200) -> None:
        def handle(request: Request) -> Response:
            self.seen.append(request)
            if "Authorization" in request.headers:
                return Response("a token reached storage", status=400)
            return Response(body, status=status, content_type="application/zip")

        self.server.expect_request(f"/blob/{aid}.zip").respond_with_handler(handle)


@pytest.fixture(scope="module")
def storage_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def storage(storage_server: HTTPServer) -> Iterator[Storage]:
    try:
        yield Storage(storage_server)
        storage_server.check_assertions()
        storage_server.check_handler_errors()
    finally:
        storage_server.clear()


def serve_runs(gh: HTTPServer, runs: list[dict], path: str = RUNS, **kw) -> None:
    gh.expect_request(path, method="GET", **kw).respond_with_json(
        {"total_count": len(runs), "workflow_runs": runs}, headers=kw.pop("headers", None) or {})


def serve_artifacts(gh: HTTPServer, rid: int, arts: list[dict]) -> None:
    gh.expect_request(f"/repos/{REPO}/actions/runs/{rid}/artifacts", method="GET").respond_with_json(
        {"total_count": len(arts), "artifacts": arts})


def serve_zip(gh: HTTPServer, storage: Storage, aid: int, entries=GOOD_ZIP) -> None:
    gh.expect_request(f"/repos/{REPO}/actions/artifacts/{aid}/zip", method="GET").respond_with_response(
        Response(status=302, headers={"Location": storage.url(aid)}))
    storage.serve(aid, zip_bytes(entries))


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp dir is tmp_path/tmp; the workspace (cwd) tmp_path/ws must stay empty."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "ws").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "ws")
    return tmp_path


def fetch(client, **kw):
    kw.setdefault("artifact", "traces")
    kw.setdefault("workflow", "ci.yml")
    kw.setdefault("branch", "main")
    kw.setdefault("now", NOW)
    return fetch_baseline(client, REPO, **kw)


def api_calls(gh: HTTPServer) -> int:
    return len(requests_made(gh))


# ---- choosing the run --------------------------------------------------------------------------------------

def test_the_newest_good_run_is_chosen_and_its_provenance_reported(gh, make_client, storage, tmp):
    serve_runs(gh, [
        run(60, "2024-05-19T00:00:00Z", conclusion="failure"),
        run(59, "2024-05-18T00:00:00Z", head="mallory/demo"),       # a fork
        run(58, "2024-05-17T00:00:00Z", head=None),                 # head repository deleted
        run(57, "2024-05-16T00:00:00Z", event="pull_request_target"),
        run(56, "2024-05-15T00:00:00Z", branch="feature"),
        run(40, "2024-05-01T00:00:00Z"),
        run(45, "2024-05-10T12:00:00Z"),                            # newest good, listed out of order
    ])
    serve_artifacts(gh, 45, [artifact(1, "other"), artifact(2, "traces")])
    serve_zip(gh, storage, 2)

    got = fetch(make_client())

    p = got.provenance
    assert (p.branch, p.run_id, p.run_number, p.commit) == ("main", 45, 1045, f"{45:040x}")
    assert p.run_url == f"https://github.com/{REPO}/actions/runs/45"
    assert (p.created_at, p.age_days, p.stale) == ("2024-05-10T12:00:00Z", 10.0, False)
    assert (p.workflow, p.artifact) == ("CI", "traces")
    files = Path(got.directory)
    assert [Path(x).relative_to(files).as_posix() for x in got.paths] == ["baseline.jsonl",
                                                                          "nested/more.jsonl.gz"]
    assert Path(got.paths[0]).read_bytes() == b'{"trace_id": "a"}\n'
    assert files.is_relative_to(tmp / "tmp") and not any((tmp / "ws").iterdir())
    assert not (files.parent / "artifact.zip").exists()
    assert api_calls(gh) == 3 <= MAX_API_CALLS
    first = requests_made(gh)[0]
    assert first.args["branch"] == "main" and first.args["status"] == "success"
    assert len(storage.seen) == 1 and "Authorization" not in storage.seen[0].headers
    assert storage.seen[0].args["sig"] == "s3cr3tSignature"


def test_runs_are_followed_across_pages(gh, make_client, storage, tmp):
    nxt = gh.url_for(RUNS) + "?branch=main&status=success&page=2"
    page2 = {"branch": "main", "status": "success", "page": "2"}
    gh.expect_request(RUNS, query_string=page2).respond_with_json(
        {"total_count": 3, "workflow_runs": [run(30, "2024-05-02T00:00:00Z")]})
    gh.expect_request(RUNS).respond_with_json(
        {"total_count": 3, "workflow_runs": [run(33, conclusion="failure"), run(32, head="mallory/demo")]},
        headers={"Link": f'<{nxt}>; rel="next"'})
    serve_artifacts(gh, 30, [artifact(7)])
    serve_zip(gh, storage, 7)
    assert fetch(make_client()).provenance.run_id == 30
    assert api_calls(gh) == 4


def test_workflow_may_be_a_numeric_id(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45)], path=f"/repos/{REPO}/actions/workflows/161335/runs")
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2)
    assert fetch(make_client(), workflow="161335").provenance.workflow == "CI"


def test_an_expired_artifact_hands_over_to_the_previous_run(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45, "2024-05-10T00:00:00Z"), run(44, "2024-05-09T00:00:00Z")])
    serve_artifacts(gh, 45, [artifact(2, expired=True)])
    serve_artifacts(gh, 44, [artifact(3)])
    serve_zip(gh, storage, 3)
    got = fetch(make_client())
    assert got.provenance.run_id == 44
    assert api_calls(gh) == 4


def test_410_on_download_counts_as_expired(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45, "2024-05-10T00:00:00Z"), run(44, "2024-05-09T00:00:00Z")])
    serve_artifacts(gh, 45, [artifact(2)])
    gh.expect_request(f"/repos/{REPO}/actions/artifacts/2/zip").respond_with_json(
        {"message": "Artifact has expired"}, status=410)
    serve_artifacts(gh, 44, [artifact(3)])
    serve_zip(gh, storage, 3)
    assert fetch(make_client()).provenance.run_id == 44


def test_a_stale_baseline_is_flagged(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45, "2024-04-05T12:00:00Z")])
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2)
    p = fetch(make_client()).provenance
    assert p.age_days == 45.0 and p.stale


def test_rate_limit_on_the_runs_listing_is_waited_out(gh, make_client, sleeps, storage, tmp):
    gh.expect_oneshot_request(RUNS).respond_with_json({"message": "slow"}, status=429,
                                                      headers={"Retry-After": "2"})
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2)
    assert fetch(make_client()).provenance.run_id == 45
    assert sleeps == [2.0]


def test_artifact_served_directly_by_the_api_host(gh, make_client, tmp):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    gh.expect_request(f"/repos/{REPO}/actions/artifacts/2/zip").respond_with_data(
        zip_bytes(GOOD_ZIP), content_type="application/zip")
    assert len(fetch(make_client()).paths) == 2


# ---- no baseline -------------------------------------------------------------------------------------------

def no_successful_run(gh):
    serve_runs(gh, [run(60, conclusion="failure"), run(59, head="mallory/demo")])


def no_artifact(gh):
    serve_runs(gh, [run(45, "2024-05-10T00:00:00Z"), run(44, "2024-05-09T00:00:00Z")])
    serve_artifacts(gh, 45, [artifact(1, "coverage")])
    serve_artifacts(gh, 44, [])


def all_expired(gh):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(1, expired=True)])


def unknown_workflow(gh):
    gh.expect_request(RUNS).respond_with_json({"message": "Not Found"}, status=404)


CASES = [(no_successful_run, "no successful run of workflow 'ci.yml' on branch 'main'"),
         (no_artifact, "run #1045 — it has no artifact of that name; 1 older run(s) had none either"),
         (all_expired, "run #1045 — its artifact has expired"),
         (unknown_workflow, "workflow 'ci.yml' was not found in octo/demo")]


@pytest.mark.parametrize("policy", ["fail", "warn", "skip"])
@pytest.mark.parametrize(("scenario", "reason"), CASES, ids=[c[0].__name__ for c in CASES])
def test_no_baseline_with_each_if_no_baseline_value(gh, make_client, tmp, scenario, reason, policy):
    scenario(gh)
    with pytest.raises(NoBaseline) as info:
        fetch(make_client())
    assert reason in info.value.reason
    assert list((tmp / "tmp").iterdir()) == [] and not any((tmp / "ws").iterdir())
    if policy == "fail":
        with pytest.raises(InputError) as err:
            if_no_baseline(policy, info.value)
        assert err.value.exit_code == EXIT_INPUT_ERROR and reason in str(err.value)
    else:
        line = if_no_baseline(policy, info.value)
        assert reason in line and "no gates evaluated" in line


def test_if_no_baseline_rejects_other_values():
    with pytest.raises(InputError, match="input 'if-no-baseline' must be one of fail, warn, skip"):
        ActionSettings.from_env({"INPUT_IF-NO-BASELINE": "ignore"})


def test_the_search_stays_within_the_call_budget(gh, make_client, tmp):
    runs = [run(100 - i, f"2024-05-{19 - i // 2:02d}T{12 - i % 2:02d}:00:00Z") for i in range(30)]
    serve_runs(gh, runs)
    gh.expect_request(re.compile(rf"/repos/{REPO}/actions/runs/\d+/artifacts")).respond_with_json(
        {"total_count": 0, "artifacts": []})
    budget = r"7 older run\(s\) had none either \(stopped at the budget of 10 API calls\)"
    with pytest.raises(NoBaseline, match=budget):
        fetch(make_client())
    assert api_calls(gh) == MAX_API_CALLS - 1  # a download must still fit: the last run is not queried
    listed = [int(r.path.split("/")[-2]) for r in requests_made(gh)[1:]]
    assert listed == list(range(100, 92, -1))  # newest first


# ---- the token stays on the API host -----------------------------------------------------------------------

def test_the_storage_redirect_never_carries_the_token(gh, make_client, storage, tmp, monkeypatch):
    netrc = tmp / "netrc"  # even a ~/.netrc entry for the storage host must not add credentials
    netrc.write_text("machine localhost login x password leaked\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2)
    fetch(make_client())
    assert [r.headers.get("Authorization") for r in storage.seen] == [None]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in requests_made(gh))


def test_storage_errors_do_not_print_the_signed_url(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    gh.expect_request(f"/repos/{REPO}/actions/artifacts/2/zip").respond_with_response(
        Response(status=302, headers={"Location": storage.url(2)}))
    storage.serve(2, b"<Error>AuthenticationFailed</Error>", status=403)
    with pytest.raises(GitHubError) as info:
        fetch(make_client())
    assert info.value.status == 403 and "s3cr3t" not in str(info.value) and TOKEN not in str(info.value)
    assert list((tmp / "tmp").iterdir()) == []


def test_the_client_returns_a_redirect_only_when_asked(gh, make_client, sleeps):
    gh.expect_request("/r").respond_with_response(Response(status=302, headers={"Location": "https://x/y"}))
    client = make_client()
    with pytest.raises(GitHubError) as info:
        client.request("GET", "r")
    assert info.value.status == 302
    with client.request("GET", "r", redirects="return") as resp:
        assert resp.status_code == 302 and resp.headers["Location"] == "https://x/y"
    assert len(requests_made(gh)) == 2 and sleeps == []  # neither followed nor retried
    with pytest.raises(ValueError):
        client.request("GET", "r", redirects="follow")


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/a.zip"])
def test_odd_redirect_schemes_are_refused(gh, make_client, tmp, location):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    gh.expect_request(f"/repos/{REPO}/actions/artifacts/2/zip").respond_with_response(
        Response(status=302, headers={"Location": location}))
    with pytest.raises(GitHubError, match="refusing"):
        fetch(make_client())


# ---- unsafe archives: exit 2, nothing written outside the temporary directory ------------------------------

def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


UNSAFE = {
    "zip-slip": ([("ok.jsonl", b"1"), ("../../../x.jsonl", b"evil")], {}, "'..'"),
    "absolute": ([(str(Path(tempfile.gettempdir()) / "kalibra-abs.jsonl"), b"evil")], {}, "absolute path"),
    "symlink": ([("ok.jsonl", b"1"), (symlink("link.jsonl"), b"/etc/passwd")], {}, "symbolic link"),
    "zip-bomb": ([("bomb.jsonl", b"\0" * (4 << 20))], {"max_bytes": 1 << 20}, "limit of 1048576"),
    "too-many-files": ([(f"f{i}.jsonl", b"1") for i in range(6)], {"max_files": 5},
                       "more than the limit of 5"),
}


@pytest.mark.parametrize("case", UNSAFE)
def test_unsafe_archives_are_refused(gh, make_client, storage, tmp, case):
    entries, kw, message = UNSAFE[case]
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2, entries)
    with pytest.raises(InputError, match=message) as info:
        fetch(make_client(), **kw)
    assert info.value.exit_code == EXIT_INPUT_ERROR and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp.iterdir()) == ["tmp", "ws"]
    assert list((tmp / "tmp").iterdir()) == [] and list((tmp / "ws").iterdir()) == []
    assert not (Path(tempfile.gettempdir()) / "kalibra-abs.jsonl").exists()


@pytest.mark.parametrize("declared", [100, 10 << 20])
def test_the_download_itself_is_capped(gh, make_client, storage, tmp, declared):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2, size=declared)])
    gh.expect_request(f"/repos/{REPO}/actions/artifacts/2/zip").respond_with_response(
        Response(status=302, headers={"Location": storage.url(2)}))
    if declared < 1 << 20:  # the listing understates it: the streamed bytes are counted
        storage.serve(2, b"x" * (2 << 20))
    with pytest.raises(InputError, match="limit of 1048576"):
        fetch(make_client(), max_bytes=1 << 20)
    assert list((tmp / "tmp").iterdir()) == []


def test_an_explicit_dest_is_used_and_cleaned_of_partial_output(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2, [("a.jsonl", b"1"), (symlink("b.jsonl"), b"/etc")])
    with pytest.raises(InputError):
        fetch(make_client(), dest=tmp / "dest")
    assert list((tmp / "dest").iterdir()) == []


def test_no_file_matching_the_glob_names_what_the_artifact_holds(gh, make_client, storage, tmp):
    serve_runs(gh, [run(45)])
    serve_artifacts(gh, 45, [artifact(2)])
    serve_zip(gh, storage, 2)
    with pytest.raises(InputError, match=r"matches 'runs/\*\.json' \(it holds README.md, baseline.jsonl"):
        fetch(make_client(), path_glob="runs/*.json")


@pytest.mark.parametrize("glob", ["../*.jsonl", "/etc/*", ""])
def test_a_glob_leaving_the_artifact_is_refused_before_any_call(gh, make_client, tmp, glob):
    with pytest.raises(InputError, match="baseline-path"):
        fetch(make_client(), path_glob=glob)
    assert api_calls(gh) == 0


# ---- defaults ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ref", "name"), [
    ("octo/demo/.github/workflows/ci.yml@refs/heads/main", "ci.yml"),
    ("octo/demo/.github/workflows/eval.yaml@refs/pull/7/merge", "eval.yaml"),
    ("octo/demo/.github/workflows/nightly.yml", "nightly.yml"),
])
def test_workflow_from_ref(ref, name):
    assert workflow_from_ref(ref) == name


def test_workflow_from_an_empty_ref_is_an_input_error():
    with pytest.raises(InputError, match="baseline-workflow"):
        workflow_from_ref("")


MAIN = {"default_branch": "main"}


@pytest.mark.parametrize(("event", "branch"), [
    ({"pull_request": {"base": {"ref": "release/1.x"}}, "repository": MAIN}, "release/1.x"),
    ({"workflow_run": {"pull_requests": [{"base": {"ref": "dev"}}]}, "repository": MAIN}, "dev"),
    ({"repository": {"default_branch": "trunk"}}, "trunk"),
    ({}, None),
])
def test_default_branch_for(event, branch):
    assert default_branch_for(event) == branch
