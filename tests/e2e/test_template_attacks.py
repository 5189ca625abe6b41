"""A hostile custom template against entrypoint.py (runner environment, fake GitHub on 127.0.0.1).

The token in INPUT_GITHUB-TOKEN (and a secret file beside the workspace) must appear nowhere: not in the
posted comment, the log, the summary or the outputs. A refused template falls back to the built-in comment
with a warning; a template path outside the workspace is bad input (exit 2).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import FAILING_GATES, PR, TOKEN, Layout, write_workspace
from tests.template_attacks import sort_leak

MARKER = "<!-- kalibra-action:kalibra -->"
FILE_SECRET = "FILE-SECRET-e2e-93b7"
WARNING = re.compile(r"^::warning title=kalibra-action%3A template::", re.M)


def comment_bodies(fake) -> list[str]:
    return [c["body"] for c in fake.comments.get(PR, []) if c["body"].startswith(MARKER)]


def assert_no_secret(run, fake) -> None:
    everything = "\n".join([*comment_bodies(fake), run.summary, *run.outputs.values()])
    assert TOKEN not in everything and FILE_SECRET not in everything
    assert TOKEN[4:] not in everything  # not even without its prefix
    printed = [line for line in run.log.splitlines() if TOKEN in line]
    assert printed == [f"::add-mask::{TOKEN}"] and FILE_SECRET not in run.log


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, FAILING_GATES)
    (layout.workspace / ".github").mkdir()
    (layout.root / "secret.txt").write_text(FILE_SECRET)  # beside the workspace, as a runner's files are
    return layout


def test_format_sort_escape_cannot_leak_the_token(run_action, fake_github, layout):
    (layout.workspace / ".github" / "comment.md.j2").write_text(sort_leak("INPUT_GITHUB-TOKEN", len(TOKEN)))
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": ".github/comment.md.j2"})
    assert run.code == 1, run.log
    assert WARNING.search(run.stdout) and "SecurityError" in run.stdout
    [body] = comment_bodies(fake_github)
    assert "Quality gates" in body and "leaked:" not in body  # the built-in comment, not the template's
    assert_no_secret(run, fake_github)


@pytest.mark.parametrize("target", ["/proc/self/environ", "SECRET_FILE"])
def test_an_include_symlinked_out_of_the_folder_falls_back(run_action, fake_github, layout, target):
    folder = layout.workspace / ".github"
    (folder / "part.md.j2").symlink_to(layout.root / "secret.txt" if target == "SECRET_FILE" else target)
    (folder / "comment.md.j2").write_text("## Custom\n{% include 'part.md.j2' %}\n")
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": ".github/comment.md.j2"})
    assert run.code == 1, run.log
    assert WARNING.search(run.stdout) and "outside the template" in run.stdout
    [body] = comment_bodies(fake_github)
    assert "## Custom" not in body and "GITHUB_" not in body and "Quality gates" in body
    assert_no_secret(run, fake_github)


def test_a_template_symlinked_outside_the_workspace_is_bad_input(run_action, fake_github, layout):
    (layout.workspace / "comment.md.j2").symlink_to(layout.root / "secret.txt")
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": "comment.md.j2"})
    assert run.code == 2, run.log
    assert re.search(r"^::error .*comment\.md\.j2.*symbolic link", run.stdout, re.M)
    assert_no_secret(run, fake_github)


def test_a_multiplication_bomb_falls_back_fast(run_action, fake_github, layout):
    (layout.workspace / "comment.md.j2").write_text("{{ 'x' * 10 ** 9 }}")
    start = time.monotonic()
    run = run_action(layout=layout, inputs={"INPUT_TEMPLATE": "comment.md.j2"})
    assert run.code == 1, run.log
    assert WARNING.search(run.stdout) and "would build 1,000,000,000 items" in run.stdout
    [body] = comment_bodies(fake_github)
    assert "xxxx" not in body and "Quality gates" in body
    assert time.monotonic() - start < 60
    assert_no_secret(run, fake_github)
