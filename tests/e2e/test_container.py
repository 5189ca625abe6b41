"""The built image, run the way the runner runs it (mounts, workdir, hyphenated inputs), on the failing PR;
and what the image holds: no installers, every module precompiled, every file readable and none writable by
another uid.

Skipped unless KALIBRA_CONTAINER_IMAGE names a built image (.ci/container.sh builds one and sets it).
KALIBRA_CONTAINER_RUNTIME picks the client (default podman; GitHub's CI uses docker).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.e2e.conftest import (
    FAILING_GATES,
    PR,
    TOKEN,
    Layout,
    collect,
    pr_event,
    runner_env,
    write_workspace,
)

IMAGE = os.environ.get("KALIBRA_CONTAINER_IMAGE", "")
RUNTIME = os.environ.get("KALIBRA_CONTAINER_RUNTIME", "podman")
pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(not IMAGE, reason="set KALIBRA_CONTAINER_IMAGE to a built image (.ci/container.sh)"),
]
MARKER = "<!-- kalibra-action:kalibra -->"
APP = "/opt/kalibra-action"
# Run inside the image: what a non-root user and a tampering step would find there (printed as JSON).
INSPECT_IMAGE = f"""
import importlib.util, json, os, shutil, stat
from pathlib import Path

def pyc_flags(path):
    with open(path, "rb") as f:
        return int.from_bytes(f.read(8)[4:], "little")

def need(path):  # any uid reads a file and lists and enters a folder
    return stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)

app = Path({APP!r})
files = [p for p in app.rglob("*") if p.is_file()]
sources = [p for p in files if p.suffix == ".py" and p.name != "entrypoint.py"]
print(json.dumps({{
    "importable": [m for m in ("pip", "setuptools", "wheel", "ensurepip") if importlib.util.find_spec(m)],
    "on_path": [c for c in ("pip", "pip3", "wheel", "easy_install") if shutil.which(c)],
    "sources": len(sources),
    "not_compiled": [str(p) for p in sources
                     if not os.path.exists(importlib.util.cache_from_source(p))
                     or pyc_flags(importlib.util.cache_from_source(p)) != 0b01],
    "unreadable": [str(p) for p in app.rglob("*") if p.stat().st_mode & need(p) != need(p)],
    "writable": [str(p) for p in [app, *app.rglob("*")] if p.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)],
}}))
"""


def _runtime() -> str:
    found = shutil.which(RUNTIME)
    assert found, f"{RUNTIME} is needed for the container test"
    return found


def test_the_image_holds_no_installers_and_only_precompiled_read_only_code():
    """pip & co. are gone, each module has an unchecked-hash .pyc (used as is, never rebuilt), and the code
    is readable by any uid but writable by root alone."""
    proc = subprocess.run([_runtime(), "run", "--rm", "--user", "1001", "--entrypoint", "python", IMAGE,
                           "-c", INSPECT_IMAGE], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["importable"] == [] and found["on_path"] == []
    assert found["sources"] > 100  # the package and its dependencies, not an empty folder
    assert found["not_compiled"] == []
    assert found["unreadable"] == [] and found["writable"] == []


def run_failing_pr(layout: Layout, fake_github, *, user: str | None = None,
                   extra_env: dict[str, str] = ()):
    """The failing-PR scenario in the image, run as the runner does (as `user` if given)."""
    write_workspace(layout.workspace, FAILING_GATES)
    env = runner_env(layout, api_url=fake_github.api_url, event_name="pull_request", event=pr_event(),
                     inputs={}, inside=True, graphql_url=fake_github.graphql_url)
    env.update(extra_env)
    cmd = [_runtime(), "run", "--rm", "--network=host", "--workdir", "/github/workspace"]
    if user:
        cmd += ["--user", user]
    for name in ("workspace", "file_commands", "workflow", "home"):
        if user:  # the mounted folders are the runner's; let the other uid write its outputs there
            (layout.root / name).chmod(0o777)
        cmd += ["-v", f"{layout.root / name}:/github/{name}"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    proc = subprocess.run([*cmd, IMAGE], capture_output=True, text=True, timeout=300, check=False)
    return collect(layout, proc)


def assert_failing_verdict(layout: Layout, run, fake_github) -> None:
    assert run.code == 1, run.log
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == "1"
    assert run.outputs["report"] == "kalibra-report.json"
    assert (layout.workspace / "kalibra-report.json").exists()
    [comment] = [c for c in fake_github.comments[PR] if c["body"].startswith(MARKER)]
    for task in ("draft-email", "parse-invoice", "translate-doc"):
        assert task in comment["body"]
    assert "FAIL" in run.summary
    assert [line for line in run.log.splitlines() if TOKEN in line] == [f"::add-mask::{TOKEN}"]


@pytest.mark.parametrize("user", [None, "1001"], ids=["root", "uid-1001"])
def test_failing_pr_in_the_container(tmp_path, fake_github, user):
    """The runner runs the image as root; any other uid must get the same verdict (readable code, no
    writes into the image)."""
    layout = Layout(tmp_path / "runner")
    run = run_failing_pr(layout, fake_github, user=user)
    assert_failing_verdict(layout, run, fake_github)


# Written into the workspace and the runner's home: each file notes that it ran, in the workspace.
SHADOW = "open('/github/workspace/shadowed.txt', 'a').write(__name__ + '\\n')\n"


def test_the_workflows_python_variables_and_home_cannot_load_code_into_the_action(tmp_path, fake_github):
    """A job-level `env: PYTHONPATH: src` (common in Python repositories) is passed into the container: its
    folders would come before the standard library, so a pull request's `src/json.py` or `sitecustomize.py`
    would run with the token. Nor may an earlier step's `pip install --user` (the runner's home is mounted)
    add a `.pth` file or `usercustomize.py` to the interpreter's start-up."""
    probe = [_runtime(), "run", "--rm", "-e", "HOME=/github/home", "--entrypoint", "python", IMAGE,
             "-c", "import site; print(site.getusersitepackages())"]
    user_site = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    assert user_site.startswith("/github/home/"), user_site
    layout = Layout(tmp_path / "runner")
    planted = [layout.workspace / "src" / name for name in ("json.py", "typing.py", "sitecustomize.py")]
    home_site = layout.root / "home" / user_site.removeprefix("/github/home/")
    planted += [home_site / "usercustomize.py", home_site / "sitecustomize.py"]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SHADOW)
    (home_site / "evil.pth").write_text(f"import sys; exec({SHADOW!r})\n")
    run = run_failing_pr(layout, fake_github, extra_env={"PYTHONPATH": "/github/workspace/src"})
    assert not (layout.workspace / "shadowed.txt").exists(), (layout.workspace / "shadowed.txt").read_text()
    assert_failing_verdict(layout, run, fake_github)


def test_a_path_from_the_workflow_does_not_choose_the_interpreter(tmp_path, fake_github):
    """A job-level `env: PATH: ./bin:…` is passed into the container like any other variable; the entry point
    must not look its interpreter up there (a pull request's `bin/python` would run with the token)."""
    layout = Layout(tmp_path / "runner")
    fake = layout.workspace / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho ran > /github/workspace/shadowed.txt\nexit 0\n")
    fake.chmod(0o755)
    (fake.parent / "python3").symlink_to("python")
    path = "/github/workspace/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    run = run_failing_pr(layout, fake_github, extra_env={"PATH": path})
    assert not (layout.workspace / "shadowed.txt").exists()
    assert_failing_verdict(layout, run, fake_github)
