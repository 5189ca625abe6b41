"""The built image, run the way the runner runs it (mounts, workdir, hyphenated inputs), on the failing PR.

Skipped unless KALIBRA_CONTAINER_IMAGE names a built image (.ci/container.sh builds one and sets it).
KALIBRA_CONTAINER_RUNTIME picks the client (default podman; GitHub's CI uses docker).
"""

from __future__ import annotations

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


def test_failing_pr_in_the_container(tmp_path, fake_github):
    podman = shutil.which(RUNTIME)
    assert podman, f"{RUNTIME} is needed for the container test"
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    env = runner_env(layout, api_url=fake_github.api_url, event_name="pull_request", event=pr_event(),
                     inputs={}, inside=True, graphql_url=fake_github.graphql_url)
    cmd = [podman, "run", "--rm", "--network=host", "--workdir", "/github/workspace"]
    for name in ("workspace", "file_commands", "workflow", "home"):
        cmd += ["-v", f"{layout.root / name}:/github/{name}"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    proc = subprocess.run([*cmd, IMAGE], capture_output=True, text=True, timeout=300, check=False)
    run = collect(layout, proc)
    assert run.code == 1, run.log
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == "1"
    assert run.outputs["report"] == "kalibra-report.json"
    assert (layout.workspace / "kalibra-report.json").exists()
    [comment] = [c for c in fake_github.comments[PR] if c["body"].startswith(MARKER)]
    for task in ("draft-email", "parse-invoice", "translate-doc"):
        assert task in comment["body"]
    assert "FAIL" in run.summary
    assert [line for line in run.log.splitlines() if TOKEN in line] == [f"::add-mask::{TOKEN}"]
