"""A glob that matches thousands of small files loads in time linear in their number.

Each file is flushed as its own chunk (bad values are told per file), and the chunk's file segments were
looked up by a scan from the first file: quadratic, so 20,000 one-line files (a pull request can add them
cheaply) ran for more than ten minutes. 6,000 files took about 40 s that way; now a few seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kalibra_action.traces.load import load_population


def test_thousands_of_one_line_files_load_in_linear_time(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    n = 6_000
    for i in range(n):
        row = {"trace_id": f"t{i}", "outcome": "success" if i % 3 else "failure", "cost": i % 7,
               "task_id": f"k{i % 50}"}
        (folder / f"{i:05d}.jsonl").write_text(json.dumps(row) + "\n")
    start = time.perf_counter()
    pop = load_population(["t/*.jsonl"], label="current", base_dir=tmp_path)
    elapsed = time.perf_counter() - start
    assert len(pop) == n
    assert elapsed < 30, f"{elapsed:.1f} s for {n:,} files"
