"""Red-team of the history surfaces through the CLI as a subprocess (`compare --baseline-run SUMMARY ...`):
a summary whose counts lie must cost what honest counts cost, and bad input exits 2 with one line."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

MEMORY = 3 << 30  # address space the CLI may use: a pooled count must not become an array of its size
NO_CONFIG = hashlib.sha256(b"").hexdigest()  # the config hash of a run without kalibra.yml


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def cli(*argv: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kalibra_action", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=_cap_memory)


def summary(tasks: dict[str, list[int]]) -> str:
    """A summary in the writer's exact form (compact, schema first), with the counts it is given."""
    data = {"schema": "kalibra-action-history/1", "run_id": None, "commit": None, "created": None,
            "config_hash": NO_CONFIG, "traces": sum(sum(n) for n in tasks.values()),
            "tasks": {t: {"n": n, "median": {}} for t, n in tasks.items()},
            "overall": {"success_rate": 100, "tokens": None, "cost": None, "duration": None}}
    return json.dumps(data, separators=(",", ":"))


def traces(path: Path, tasks: list[str], runs: int, failures: int) -> Path:
    with path.open("w") as fh:
        for t in tasks:
            for r in range(runs):
                fh.write(json.dumps({"trace_id": f"{t}__{path.stem}__{r}",
                                     "outcome": "failure" if r < failures else "success"}) + "\n")
    return path


def test_a_summary_claiming_a_billion_runs_of_a_task_costs_no_more_than_its_traces(tmp_path: Path) -> None:
    """Pooled counts feed the per-task test: Boschloo's table grid and the drop probability were sized by
    the baseline's count (26.8 GiB for 3·10⁸), so one lying number crashed the run with a MemoryError."""
    tasks = ["alpha", "beta", "gamma"]
    (tmp_path / "old.json").write_text(summary({"alpha": [300_000_000, 0, 0], "beta": [5, 1_000_000, 0],
                                                "gamma": [123_456_789, 987_654, 3]}))
    traces(tmp_path / "base.jsonl", tasks, 5, 0)
    traces(tmp_path / "cur.jsonl", tasks, 5, 2)
    start = time.monotonic()
    proc = cli("compare", "--format", "json", "-q", "--baseline-run", "old.json",
               "--baseline-run", "base.jsonl", "cur.jsonl", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert time.monotonic() - start < 60
    report = json.loads(proc.stdout)
    assert report["history"]["runs_pooled"] == 2
    # alpha (100 % of 3·10⁸ runs) and gamma (99 %) drop to 3 of 5; beta rises from about 0 %
    assert report["fields"]["significant_regressions"]["value"] == 2


def test_many_runs_of_many_tasks_keep_the_flakiness_screen_bounded(tmp_path: Path) -> None:
    """20 summaries × 1,500 tasks with distinct, large counts: every task's homogeneity table needs the
    Monte-Carlo test (0.15 s each, 4 minutes here, hours at the 50,000 tasks a summary may hold), and the
    per-task tests of 1,500 distinct tables of 500–1,900 runs took Boschloo's test a second each. Both have
    a work budget: the tables past it get the chi-square approximation (said in a warning) and Fisher's."""
    names = [f"t{i}" for i in range(1_500)]
    args = []
    for r in range(19):
        (tmp_path / f"old{r}.json").write_text(
            summary({t: [1_000 + 37 * i + r * 11 % 7, 3_000 + 13 * r + i, 0] for i, t in enumerate(names)}))
        args += ["--baseline-run", f"old{r}.json"]
    traces(tmp_path / "base.jsonl", names, 2, 1)
    traces(tmp_path / "cur.jsonl", names, 2, 1)
    start = time.monotonic()
    proc = cli("compare", "--format", "json", "-q", *args, "--baseline-run", "base.jsonl", "cur.jsonl",
               cwd=tmp_path, timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode in (0, 1), proc.stderr
    assert elapsed < 150, f"{elapsed:.0f} s"  # about 40 s of CPU with the budgets
    report = json.loads(proc.stdout)
    assert report["history"]["runs_pooled"] == 20
    assert report["history"]["tasks_tested_for_flakiness"] == 1_500
    note = [w for w in report["warnings"] if "chi-square approximation" in w]
    assert len(note) == 1
