"""Hostile custom templates through render_markdown: escapes, paths outside, includes, and resource bombs.

Each attack renders through the real path (confinement, loader, sandbox, forked child) and must be refused
with an InputError that names the template and carries no secret.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.limits import COMMENT_BUDGET
from kalibra_action.report import sandbox
from kalibra_action.report.render import render_markdown
from tests.fixtures.sample import sample_result
from tests.template_attacks import sort_leak

SECRET_VAR = "KALIBRA_FAKE_SECRET"
SECRET = "ghs_FAKEsecretValue0123456789"
FILE_SECRET = "FILE-SECRET-6f1d0c"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_VAR, SECRET)
    return SECRET


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with a template folder, and a secret file beside the workspace (outside it)."""
    ws = tmp_path / "ws"
    (ws / "tpl").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text(FILE_SECRET)
    (ws / "secret.txt").write_text(FILE_SECRET)  # inside the workspace, but outside the template's folder
    return ws


def refused(template: Path, root: Path, limits: sandbox.Limits | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        render_markdown(sample_result(), template=template, root=root, limits=limits)
    err = info.value
    assert err.file == str(template), err
    assert SECRET not in str(err) and FILE_SECRET not in str(err)
    return err


def test_a_plain_custom_template_still_renders(workspace: Path) -> None:
    (workspace / "tpl" / "part.md.j2").write_text("part {{ verdict.title }}")
    tpl = workspace / "tpl" / "t.md.j2"
    tpl.write_text("{% include 'part.md.j2' %}|{% include 'provenance.md.j2' ignore missing %}|"
                   "{{ 'ab' * 3 }}|{{ 2 ** 10 }}")
    text = render_markdown(sample_result(), template=tpl, root=workspace)
    assert text.startswith("part FAILED") and text.endswith("|ababab|1024")


# --- (a) the str.format sandbox escape (jinja2 < 3.1.6) ----------------------------------------------
@pytest.mark.parametrize("via_attr", [False, True], ids=["format", "attr-format"])
def test_str_format_sort_key_escape_is_refused(workspace: Path, secret_env: str, via_attr: bool) -> None:
    tpl = workspace / "tpl" / "leak.md.j2"
    tpl.write_text(sort_leak(SECRET_VAR, len(secret_env), via_attr=via_attr))
    err = refused(tpl, workspace)
    assert "SecurityError" in str(err)


def test_the_render_child_has_no_environment(secret_env: str) -> None:
    got = sandbox.run_isolated(lambda: os.environ.get(SECRET_VAR, "gone"), sandbox.Limits(), source="t")
    assert got == "gone" and os.environ[SECRET_VAR] == secret_env


# --- (b) the template file itself ----------------------------------------------------------------------
def test_a_template_symlinked_to_a_file_outside_is_refused(workspace: Path) -> None:
    link = workspace / "tpl" / "comment.md.j2"
    link.symlink_to(workspace.parent / "secret.txt")
    assert "symbolic link" in str(refused(link, workspace))


def test_a_template_outside_the_workspace_is_refused(workspace: Path) -> None:
    outside = workspace.parent / "outside.md.j2"
    outside.write_text("{{ verdict.title }}")
    for given in (outside, workspace / ".." / "outside.md.j2"):
        assert "outside the workspace" in str(refused(given, workspace))


def test_a_template_in_a_symlinked_folder_that_leaves_the_workspace_is_refused(workspace: Path) -> None:
    elsewhere = workspace.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "t.md.j2").write_text(FILE_SECRET)
    (workspace / "linked").symlink_to(elsewhere)
    assert "outside the workspace" in str(refused(workspace / "linked" / "t.md.j2", workspace))


# --- (c) include / extends / import ------------------------------------------------------------------
@pytest.mark.parametrize("tag", ["{% include 'NAME' %}", "{% extends 'NAME' %}", "{% import 'NAME' as m %}"])
@pytest.mark.parametrize("name", ["/proc/self/environ", "../secret.txt", "./../secret.txt",
                                  "a/../../secret.txt", "..\\secret.txt", "/etc/passwd", ".git/config"])
def test_includes_outside_the_template_folder_are_refused(workspace: Path, secret_env: str, tag: str,
                                                          name: str) -> None:
    (workspace / ".git").mkdir()
    (workspace / "tpl" / ".git").symlink_to(workspace / ".git")
    (workspace / ".git" / "config").write_text(FILE_SECRET)
    tpl = workspace / "tpl" / "t.md.j2"
    tpl.write_text("x" + tag.replace("NAME", name) + "y")
    assert "refused" in str(refused(tpl, workspace))


@pytest.mark.parametrize("target", ["/proc/self/environ", "OUTSIDE", "WORKSPACE"])
def test_an_include_symlinked_out_of_the_template_folder_is_refused(workspace: Path, secret_env: str,
                                                                    target: str) -> None:
    places = {"OUTSIDE": workspace.parent / "secret.txt", "WORKSPACE": workspace / "secret.txt"}
    real = places.get(target, target)
    (workspace / "tpl" / "part.md.j2").symlink_to(real)
    tpl = workspace / "tpl" / "t.md.j2"
    tpl.write_text("x{% include 'part.md.j2' %}y")
    assert "outside the template's folder" in str(refused(tpl, workspace))


def test_a_symlink_that_stays_inside_the_folder_is_fine(workspace: Path) -> None:
    (workspace / "tpl" / "real.md.j2").write_text("inside")
    (workspace / "tpl" / "alias.md.j2").symlink_to("real.md.j2")
    tpl = workspace / "tpl" / "t.md.j2"
    tpl.write_text("{% include 'alias.md.j2' %}")
    assert render_markdown(sample_result(), template=tpl, root=workspace) == "inside"


# --- (d) resource bombs --------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "message"), [
    ("{{ 'x' * 10 ** 8 }}", "'*' would build 100,000,000 items"),
    ("{{ [1, 2] * 10 ** 7 }}", "'*' would build 20,000,000 items"),
    ("{{ 10 ** 8 * 'x' }}", "'*' would build 100,000,000 items"),
    ("{{ 7 ** 1000000 }}", "'**' would build a 3,000,000-bit integer"),
])
def test_multiplication_bombs_fail_fast(workspace: Path, body: str, message: str) -> None:
    tpl = workspace / "tpl" / "bomb.md.j2"
    tpl.write_text(body)
    start = time.monotonic()
    err = refused(tpl, workspace)
    assert message in str(err) and time.monotonic() - start < 5


def test_a_loop_that_would_take_minutes_is_stopped_at_the_time_limit(workspace: Path) -> None:
    tpl = workspace / "tpl" / "slow.md.j2"
    tpl.write_text("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
    start = time.monotonic()
    err = refused(tpl, workspace, sandbox.Limits(seconds=1.5))
    assert "stopped after 1.5 s" in str(err) and time.monotonic() - start < 6


def test_output_past_the_cap_stops_streaming(workspace: Path) -> None:
    tpl = workspace / "tpl" / "big.md.j2"
    tpl.write_text("{% for a in range(100000) %}{% for b in range(100000) %}{{ 'y' * 1000 }}"
                   "{% endfor %}{% endfor %}")
    start = time.monotonic()
    err = refused(tpl, workspace)
    assert f"larger than {2 * COMMENT_BUDGET:,} characters" in str(err) and time.monotonic() - start < 6


@pytest.mark.parametrize(("body", "limits"), [
    ("{{ 'x'|center(400000000)|length }}", sandbox.Limits(memory=64 * 1024 * 1024, output=1000)),
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
     "{{ ns.s|length }}", None),  # 2**60 characters, doubling: the default memory cap stops it
])
def test_memory_past_the_cap_is_an_error(workspace: Path, body: str, limits: sandbox.Limits | None) -> None:
    tpl = workspace / "tpl" / "mem.md.j2"
    tpl.write_text(body)
    assert "MemoryError" in str(refused(tpl, workspace, limits))


def test_default_limits() -> None:
    assert sandbox.Limits().seconds == 10 and sandbox.Limits().memory == 512 * 1024 * 1024


# --- the CLI: a template inside the current directory only --------------------------------------------
def test_cli_template_outside_the_current_directory_is_exit_2(workspace: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from kalibra_action import cli

    demo = Path(cli.__file__).parent / "demo_data"
    outside = workspace.parent / "t.md.j2"
    outside.write_text(FILE_SECRET)
    monkeypatch.chdir(workspace)
    out, err = io.StringIO(), io.StringIO()
    argv = ["compare", str(demo / "baseline.jsonl"), str(demo / "current.jsonl"), "--task-id",
            "metadata.task_id", "--format", "markdown", "--template"]
    code = cli.main([*argv, str(outside)], out=out, err=err)
    assert code == 2 and FILE_SECRET not in out.getvalue() + err.getvalue()
    last = err.getvalue().strip().splitlines()[-1]
    assert "outside the workspace" in last and str(outside) in last and "Traceback" not in err.getvalue()
    (workspace / "t.md.j2").write_text("custom {{ verdict.title }}")
    assert cli.main([*argv, "t.md.j2"], out=out, err=err) in (0, 1)
    assert "custom " in out.getvalue()
