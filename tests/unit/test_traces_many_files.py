"""A glob that matches thousands of small files loads in time linear in their number.

Each file is flushed as its own chunk (bad values are told per file), and the chunk's file segments were
looked up by a scan from the first file: quadratic, so 20,000 one-line files (a pull request can add them
cheaply) ran for more than ten minutes. 6,000 files took about 40 s that way; now a couple of seconds.

Not a stopwatch (a loaded machine or coverage tracing can stretch any wall time): the CPU time of 6,000 files
is compared with that of 600 files in the same process. Linear growth gives about 10×; the quadratic scan gave
about 100×, so the bound of 30× separates the two whatever the machine's speed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kalibra_action.traces.load import load_population


def _cpu_seconds(tmp_path: Path, n: int) -> float:
    folder = tmp_path / f"t{n}"
    folder.mkdir()
    for i in range(n):
        row = {"trace_id": f"t{i}", "outcome": "success" if i % 3 else "failure", "cost": i % 7,
               "task_id": f"k{i % 50}"}
        (folder / f"{i:05d}.jsonl").write_text(json.dumps(row) + "\n")
    start = time.process_time()
    pop = load_population([f"t{n}/*.jsonl"], label="current", base_dir=tmp_path)
    elapsed = time.process_time() - start
    assert len(pop) == n
    return elapsed


def test_thousands_of_one_line_files_load_in_linear_time(tmp_path: Path) -> None:
    _cpu_seconds(tmp_path, 200)  # warm the imports and caches, so the small run is not charged for them
    small = _cpu_seconds(tmp_path, 600)
    large = _cpu_seconds(tmp_path, 6_000)
    assert large < 30 * max(small, 0.01), f"{large:.2f} s for 6,000 files vs {small:.2f} s for 600"
