"""Resource bombs in the pull request's files, through entrypoint.py with the runner's environment."""

from __future__ import annotations

import zlib

from tests.e2e.conftest import PR, Layout, github_view, write_workspace

MARKER = "<!-- kalibra-action:kalibra -->"


def test_gzip_line_bomb_in_current_traces_exits_2_and_says_so(run_action, fake_github, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, ["success_rate_delta >= -5"])
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(layout.workspace / "traces" / "bomb.jsonl.gz", "wb") as out:
        out.write(comp.compress(b'{"trace_id": "'))
        for _ in range(80):  # 80 MiB on one line, over the 64 MiB default
            out.write(comp.compress(b"a" * (1 << 20)))
        out.write(comp.compress(b'"}\n') + comp.flush())
    run = run_action(layout=layout, inputs={"INPUT_CURRENT": "traces/bomb.jsonl.gz"})
    assert run.code == 2, run.log
    assert "traces/bomb.jsonl.gz:1: line longer than 67,108,864 characters (limits.max_line_bytes)" in run.log
    assert "Traceback" not in run.log
    [comment] = [c for c in fake_github.comments[PR] if c["body"].startswith(MARKER)]
    assert "limits.max_line_bytes" in github_view(comment["body"])  # the error, not a stale verdict


def test_alias_bomb_config_exits_2_quickly(run_action, tmp_path):
    layout = Layout(tmp_path / "runner")
    write_workspace(layout.workspace, ["success_rate_delta >= -5"])
    bomb = ['x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with open(layout.workspace / "kalibra.yml", "a") as cfg:
        cfg.write("\n".join(bomb) + "\n")
    run = run_action(layout=layout)  # the runner emulation's 120 s timeout is the safety net
    assert run.code == 2, run.log
    assert "kalibra.yml: invalid YAML: aliases expand to" in run.log
