"""Load speed: load_population vs a bare `json.loads` pass over the same flat JSON Lines files.

Usage: .venv/bin/python bench/load_speed.py [N_TRACES] [SPANS_PER_TRACE]   (default 200000 5)

The first lines are CPU seconds of this process (steadier on a shared machine). The last two load two
such files as `compare` does (run._load_sides), in one process and in two (KALIBRA_ACTION_WORKERS),
against a bare json.loads pass over both files, in wall seconds: they need idle CPUs to mean much.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kalibra_action import parallel, run
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population

_NAMES = ("plan", "search", "edit", "validate", "submit")


def write_traces(path: Path, n: int, spans: int, seed: int = 1) -> None:
    """Flat traces shaped like Kalibra's demo data: task__variant__run ids and timed spans."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            t0 = 1_700_000_000_000_000_000 + i * 10_000_000_000
            row = {
                "trace_id": f"task-{i % 500}__base__{i // 500}",
                "outcome": "success" if rng.random() < 0.7 else "failure",
                "metadata": {"task_id": f"task-{i % 500}", "variant": "baseline"},
                "spans": [
                    {"span_id": f"s{i}-{k}", "name": _NAMES[k % len(_NAMES)], "start_ns": t0,
                     "end_ns": t0 + rng.randint(10**8, 10**10), "cost": round(rng.random() / 100, 5),
                     "input_tokens": rng.randint(0, 3000), "output_tokens": rng.randint(0, 1000),
                     "error": rng.random() < 0.02, "model": "model-a"}
                    for k in range(spans)
                ],
            }
            f.write(json.dumps(row) + "\n")


# CPU time of this process: steadier than wall time on a shared machine.
_clock = time.process_time


def bare_pass(path: Path) -> float:
    start = _clock()
    loads = json.loads
    with open(path) as f:
        for line in f:
            loads(line)
    return _clock() - start


def timed_load(path: Path, **kwargs: object) -> tuple[float, int]:
    start = _clock()
    pop = load_population([str(path)], label="bench", **kwargs)  # type: ignore[arg-type]
    return _clock() - start, len(pop)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    spans = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        write_traces(path, n, spans)
        size_mb = path.stat().st_size / 1e6
        bare = min(bare_pass(path) for _ in range(3))
        plain, count = min(timed_load(path) for _ in range(3))
        mapped, _ = timed_load(path, fields=FieldMap(task_id="metadata.task_id"))
        print(f"{count:,} traces x {spans} spans, {size_mb:.0f} MB (CPU seconds, best of 3)")
        print(f"bare json.loads pass      {bare:6.2f} s")
        print(f"load_population           {plain:6.2f} s   ratio {plain / bare:.2f}")
        print(f"load_population + task_id {mapped:6.2f} s   ratio {mapped / bare:.2f}")
        other = Path(tmp) / "other.jsonl"
        write_traces(other, n, spans, seed=2)
        sides = [run.Side(str(p), (str(p),), FieldMap(), (), None, None) for p in (path, other)]
        start = time.perf_counter()
        for p in (path, other):
            bare_pass(p)
        both = time.perf_counter() - start
        print(f"both files, wall: bare json.loads pass {both:6.2f} s")
        for workers in ("1", "2"):
            os.environ[parallel.ENV] = workers
            start = time.perf_counter()
            run._load_sides(sides, lambda _msg: None)
            wall = time.perf_counter() - start
            print(f"  load both, {workers} process(es)   {wall:6.2f} s   ratio {wall / both:.2f}")


if __name__ == "__main__":
    main()
