"""Start-up: the entry points import a heavy library only on the path that uses it.

requests (with urllib3, ssl, http.client: about a quarter of the action's start-up) is imported when the
first GitHub client is made, so a run that never calls the API does not pay for it; the CLI renders no
Markdown for `--format json` and never calls GitHub. The cost itself is measured in bench/startup.py, not
timed here: each check runs a fresh interpreter and looks at what it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def imported_after(statements: str, watched: tuple[str, ...]) -> list[str]:
    """Which of `watched` a fresh interpreter has imported after running `statements`."""
    report = f"print(json.dumps([m for m in {list(watched)!r} if m in sys.modules]))"
    code = f"import sys, json\n{statements}\n{report}"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(proc.stdout)


@pytest.mark.parametrize(("module", "not_yet"), [
    ("kalibra_action.action", ("requests", "urllib3")),
    ("kalibra_action.cli", ("requests", "urllib3", "jinja2")),
])
def test_the_entry_point_leaves_heavy_imports_to_the_path_that_needs_them(module, not_yet):
    assert imported_after(f"import {module}", not_yet) == []


def test_making_a_github_client_imports_requests():
    """The probe above can fail: it sees requests once a client exists."""
    made = "from kalibra_action.github.client import GitHubClient\nGitHubClient('token')"
    assert imported_after(made, ("requests", "urllib3")) == ["requests", "urllib3"]
