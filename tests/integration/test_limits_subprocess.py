"""Resource bombs through the real CLI in a subprocess: a gzip'd giant line, a YAML alias bomb, many tasks.

Peak memory is the child's own `ru_maxrss` (read by a small wrapper process, so no other test's children
count); the timeouts are only a safety net, the assertions are on the error and on memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "kalibra_action" / "demo_data"
_WRAPPER = (  # runs the command with a timeout (killing it), then reports its peak RSS
    "import json, resource, subprocess, sys\n"
    "try:\n"
    "    r = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]))\n"
    "except subprocess.TimeoutExpired:\n"
    "    print(json.dumps({'timeout': True})); sys.exit()\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'rc': r.returncode, 'stdout': r.stdout, 'stderr': r.stderr, 'peak_kb': peak}))\n"
)


def run_measured(*args: str, cwd: Path, timeout: float = 120) -> dict:
    """Exit code, streams and peak RSS (KiB) of `python -m kalibra_action ARGS`; fails on a timeout."""
    cmd = [sys.executable, "-c", _WRAPPER, str(timeout), sys.executable, "-m", "kalibra_action", *args]
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    if out.get("timeout"):
        pytest.fail(f"still running after {timeout} s: {' '.join(args)}")
    return out


def write_gzip_line(path: Path, n_bytes: int, chunk: int = 1 << 20) -> None:
    """A .jsonl.gz holding one JSON line of about n_bytes, compressed as it streams (never in memory)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    block = b"a" * chunk
    with open(path, "wb") as out:
        out.write(comp.compress(b'{"trace_id": "t", "outcome": "success", "pad": "'))
        for _ in range(n_bytes // chunk):
            out.write(comp.compress(block))
        out.write(comp.compress(b'"}\n'))
        out.write(comp.flush())


def test_gzip_with_one_300mb_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    write_gzip_line(bomb, 300 << 20)
    assert bomb.stat().st_size < 2 << 20  # the attack: a small file
    r = run_measured("compare", "bomb.jsonl.gz", str(DEMO / "current.jsonl"), cwd=tmp_path)
    assert r["rc"] == 2, r["stderr"]
    assert "bomb.jsonl.gz:1: line longer than 67,108,864 characters (limits.max_line_bytes)" in r["stderr"]
    assert "Traceback" not in r["stderr"]
    assert r["peak_kb"] < 300 * 1024, f"peak RSS {r['peak_kb'] / 1024:.0f} MiB"


def test_gzip_bomb_of_short_lines_stops_at_the_decompressed_cap(tmp_path: Path) -> None:
    line = b'{"trace_id": "t", "outcome": "success"}\n'
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(tmp_path / "many.jsonl.gz", "wb") as out:
        for _ in range((3 << 20) // len(line)):
            out.write(comp.compress(line))
        out.write(comp.flush())
    (tmp_path / "kalibra.yml").write_text("limits:\n  max_decompressed_bytes: 1048576\n")
    r = run_measured("compare", "many.jsonl.gz", str(DEMO / "current.jsonl"), "--config", "kalibra.yml",
                     cwd=tmp_path)
    assert r["rc"] == 2, r["stderr"]
    assert ("many.jsonl.gz: unpacks to more than 1,048,576 bytes (limits.max_decompressed_bytes)"
            in r["stderr"])


@pytest.mark.parametrize("flag", ["max_tasks=5", "max_line_bytes=1e9", "nope=3", "max_tasks=10000000"])
def test_limit_flag_outside_its_range_is_a_usage_error(tmp_path: Path, flag: str) -> None:
    r = run_measured("compare", str(DEMO / "baseline.jsonl"), str(DEMO / "current.jsonl"), "--limit", flag,
                     cwd=tmp_path)
    assert r["rc"] == 2 and "--limit" in r["stderr"] and "Traceback" not in r["stderr"]


def test_yaml_alias_bomb_config_is_refused(tmp_path: Path) -> None:
    """472 bytes of nested aliases: the line-number mapping used to walk every alias path (minutes, GBs)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "kalibra.yml").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "kalibra.yml").stat().st_size < 600
    r = run_measured("compare", str(DEMO / "baseline.jsonl"), str(DEMO / "current.jsonl"),
                     "--config", "kalibra.yml", cwd=tmp_path, timeout=60)
    assert r["rc"] == 2, r["stderr"]
    assert "kalibra.yml: invalid YAML: aliases expand to" in r["stderr"]
    assert "over the limit of 10,000" in r["stderr"]
    assert r["peak_kb"] < 300 * 1024


def write_tasks(path: Path, n_tasks: int, seed: int) -> None:
    """One run per task, so nearly every task is distinct and changes at random."""
    import random

    rnd = random.Random(seed)
    with open(path, "w") as out:
        for i in range(n_tasks):
            out.write(json.dumps({"trace_id": f"{seed}-{i}", "task_id": f"task-{i:06d}",
                                  "outcome": "success" if rnd.random() < 0.7 else "failure",
                                  "cost": rnd.random()}) + "\n")


def test_50k_tasks_give_a_bounded_report_that_says_it_is_capped(tmp_path: Path) -> None:
    write_tasks(tmp_path / "b.jsonl", 50_000, 1)
    write_tasks(tmp_path / "c.jsonl", 50_000, 2)
    r = run_measured("compare", "b.jsonl", "c.jsonl", "--task-id", "task_id", "--format", "json",
                     "-o", "report.json", "--resamples", "200", "-r", "regressions <= 100000",
                     cwd=tmp_path, timeout=300)
    assert r["rc"] == 0, r["stderr"]
    report = tmp_path / "report.json"
    # ~1.5 KB a kept task (counts, p, q, verdict, and since issue 10 its CI and median tokens/cost/duration)
    assert report.stat().st_size < 16 << 20, f"{report.stat().st_size:,} bytes"
    tb = json.loads(report.read_text())["metrics"]["trace_breakdown"]
    md = tb["metadata"]
    assert md["truncated"] == {"max_tasks": 10_000}
    assert any("limits.max_tasks" in w and "50,000 tasks" in w for w in tb["warnings"])
    assert md["n_tested"] == 50_000 and len(md["per_task"]) == 10_000
    assert md["n_regressions"] + md["n_improvements"] + md["n_unchanged"] == 50_000
    assert len(md["regressions"]) <= 10_000 < md["n_regressions"]
    assert tb["fields"]["regressions"]["value"] == md["n_regressions"]


def test_max_tasks_is_configurable_and_keeps_the_worst(tmp_path: Path) -> None:
    write_tasks(tmp_path / "b.jsonl", 2_000, 1)
    write_tasks(tmp_path / "c.jsonl", 2_000, 2)
    r = run_measured("compare", "b.jsonl", "c.jsonl", "--task-id", "task_id", "--format", "json",
                     "--resamples", "200", "--limit", "max_tasks=100", cwd=tmp_path)
    md = json.loads(r["stdout"])["metrics"]["trace_breakdown"]["metadata"]
    assert md["truncated"] == {"max_tasks": 100} and len(md["per_task"]) == 100
    assert all(t["delta_pp"] < 0 for t in md["per_task"])  # drops first: 1/1 → 0/1 is the worst kind
