"""Run the action the way the runner does: entrypoint.py (or the image) with the runner's environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.fake_github import FakeGitHub
from tests.fixtures import report_schema

TOKEN = "ghs_e2eSecretToken0123456789"
REPO = "octo/demo"
PR = 42
DEMO = EXAMPLES / "demo_data"
PASSING_GATES = ["success_rate_delta >= -5", "cost_delta_pct <= 30"]
FAILING_GATES = ["regressions <= 2", "success_rate_delta >= -5"]


def action_defaults() -> dict[str, str]:
    """`INPUT_<NAME>` for every input with action.yml's default (hyphens kept, as the runner does)."""
    meta = yaml.safe_load((ROOT / "action.yml").read_text())
    env = {}
    for name, spec in meta["inputs"].items():
        default = str(spec.get("default", ""))
        env[f"INPUT_{name.upper()}"] = TOKEN if default == "${{ github.token }}" else default
    return env


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's `name<<DELIM` … `DELIM` blocks (and `name=value` lines)."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1:end])
            i = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
            i += 1
        else:
            i += 1
    return out


def workflow_run_event(head_sha: str, head_repo: str = REPO, pull_requests: list[int] = ()) -> dict:
    """A `workflow_run` event for a run of the PR workflow that built `head_sha` from `head_repo`."""
    listed = [{"number": n, "head": {"sha": head_sha}} for n in pull_requests]
    run = {"id": 555, "event": "pull_request", "conclusion": "success", "head_sha": head_sha,
           "head_branch": "feature", "head_repository": {"full_name": head_repo},
           "repository": {"full_name": REPO}, "pull_requests": listed}
    return {"action": "completed", "workflow_run": run,
            "repository": {"full_name": REPO, "default_branch": "main"}}


def pr_event(number: int = PR, fork: bool = False) -> dict:
    head_repo = "stranger/demo" if fork else REPO
    return {
        "action": "synchronize", "number": number,
        "pull_request": {"number": number, "head": {"sha": "a" * 40, "repo": {"full_name": head_repo,
                                                                               "fork": fork}},
                         "base": {"ref": "main", "repo": {"full_name": REPO}}},
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Layout:
    """The runner's four mounted folders, on the host."""

    root: Path

    def __post_init__(self) -> None:
        for name in ("workspace", "file_commands", "workflow", "home"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"


def write_workspace(ws: Path, gates: list[str], extra_config: str = "") -> None:
    (ws / "traces").mkdir(exist_ok=True)
    for name in ("baseline.jsonl", "current.jsonl"):
        shutil.copy(DEMO / name, ws / "traces" / name)
    lines = ["baseline:", "  path: traces/baseline.jsonl", "current:", "  path: traces/current.jsonl",
             "fields:", "  task_id: metadata.task_id", "require:"] + [f"  - {json.dumps(g)}" for g in gates]
    (ws / "kalibra.yml").write_text("\n".join(lines) + "\n" + extra_config)


Invoke = Callable[..., Run]


def runner_env(layout: Layout, *, api_url: str, event_name: str, event: dict | None, inputs: dict[str, str],
               inside: bool, graphql_url: str = "") -> dict[str, str]:
    """The variables the runner sets; `inside` uses the container's mount points."""
    mount = {n: (Path("/github") / n if inside else layout.root / n)
             for n in ("workspace", "file_commands", "workflow", "home")}
    (layout.root / "workflow" / "event.json").write_text(json.dumps(event or {}))
    env = {
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(mount["workflow"] / "event.json"),
        "GITHUB_WORKSPACE": str(mount["workspace"]),
        "GITHUB_OUTPUT": str(mount["file_commands"] / "set_output"),
        "GITHUB_STEP_SUMMARY": str(mount["file_commands"] / "step_summary"),
        "HOME": str(mount["home"]),
        "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": api_url, "GITHUB_GRAPHQL_URL": graphql_url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "123456", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_SHA": "b" * 40,
        "GITHUB_REF": f"refs/pull/{PR}/merge", "RUNNER_TEMP": "/tmp",
        "GITHUB_WORKFLOW": "kalibra",
        "GITHUB_WORKFLOW_REF": f"{REPO}/.github/workflows/kalibra.yml@refs/pull/{PR}/merge",
    }
    env.update(action_defaults())
    env.update(inputs)
    return env


def collect(layout: Layout, proc: subprocess.CompletedProcess) -> Run:
    """The run's outputs; the JSON report it wrote (the `report` output) must follow the schema."""
    fc = layout.root / "file_commands"
    out = fc / "set_output"
    summary = fc / "step_summary"
    run = Run(proc.returncode, proc.stdout, proc.stderr,
              parse_outputs(out.read_text()) if out.exists() else {},
              summary.read_text() if summary.exists() else "", layout.workspace)
    report = layout.workspace / run.outputs["report"] if run.outputs.get("report") else None
    if report is not None and report.is_file() and not report.is_symlink():
        report_schema.check(json.loads(report.read_text(encoding="utf-8")))
    return run


@pytest.fixture
def fake_github(httpserver_ipv4) -> FakeGitHub:
    fake = FakeGitHub(httpserver_ipv4, repo=REPO)
    yield fake
    httpserver_ipv4.check_handler_errors()


@pytest.fixture
def run_action(tmp_path: Path, fake_github: FakeGitHub) -> Invoke:
    """Run entrypoint.py as a subprocess with the runner's environment; returns a Run."""

    def invoke(*, gates: list[str] = PASSING_GATES, event_name: str = "pull_request",
               event: dict | None = None, inputs: dict[str, str] | None = None,
               layout: Layout | None = None, api_url: str | None = None, graphql_url: str | None = None,
               prepare: bool = True) -> Run:
        layout = layout or Layout(tmp_path / "runner")
        if prepare and not (layout.workspace / "kalibra.yml").exists():
            write_workspace(layout.workspace, gates)
        env = runner_env(layout, api_url=api_url or fake_github.api_url, event_name=event_name,
                         event=pr_event() if event is None and event_name.startswith("pull_request")
                         else event, inputs=inputs or {}, inside=False,
                         graphql_url=fake_github.graphql_url if graphql_url is None else graphql_url)
        env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], cwd=layout.workspace, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        return collect(layout, proc)

    return invoke


def github_view(markdown: str) -> str:
    """The comment as GitHub shows it: GFM (table, strikethrough, autolink) then an HTML sanitiser."""
    import cmarkgfm
    import nh3
    from cmarkgfm.cmark import Options

    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    tags = {"table", "thead", "tbody", "tr", "th", "td", "details", "summary", "p", "strong", "em", "code",
            "pre", "a", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "blockquote", "del",
            "sup", "sub", "div", "span"}
    return nh3.clean(html, tags=tags, url_schemes={"http", "https", "mailto"})
