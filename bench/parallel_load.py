"""Two-process loading: the hand-written fork pool against concurrent.futures, on the same files.

Usage: .venv/bin/python bench/parallel_load.py [N_TRACES_A_SIDE] [--dir DIR]   (default 1000000)

Writes a baseline and a current file of N flat traces each with bench/generate.py (5 spans a trace; ~1 GB
a side at 1M; reused when DIR already holds them), then loads both sides as `compare` does, once with each
implementation, each in a fresh Python process so that peak memory is its own:

  fork-pool   kalibra_action/parallel.py (the shipped code, as run._load_sides calls it): a forked child
              per job, the result pickled with protocol 5 and its numpy buffers sent out of band;
  executor    the standard-library candidate below: concurrent.futures.ProcessPoolExecutor with the fork
              start method (the Side pickled in, the Population pickled back in band).

For each it prints the wall time, the peak RSS of the parent and of the worker, and the ratios
executor / fork-pool (above 1: the hand-written pool is better). The two loads must give the same trace
counts. The rule (README, Performance): keep the hand-written pool only for a gain of >= 20 % in time or
memory at 1M traces a side. Wall times need an otherwise idle machine; peak RSS does not.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

IMPLEMENTATIONS = ("fork-pool", "executor")


def _sides(directory: Path) -> list:
    from kalibra_action import run
    from kalibra_action.traces.fields import FieldMap

    return [run.Side(name, (str(directory / f"{name}.jsonl"),), FieldMap(), (), None, directory)
            for name in ("baseline", "current")]


def load_with_executor(sides: list) -> list:
    """The candidate: the last side here, the others in a ProcessPoolExecutor with the fork start method."""
    from concurrent.futures import ProcessPoolExecutor

    from kalibra_action import run

    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(sides) - 1, mp_context=fork) as pool:
        futures = [pool.submit(run._read_side, side) for side in sides[:-1]]
        last = run._read_side(sides[-1])
        return [*(f.result() for f in futures), last]


def child(impl: str, directory: Path) -> None:
    """Load both sides with one implementation; print one JSON line of measurements."""
    from kalibra_action import run

    sides = _sides(directory)
    start = time.perf_counter()
    if impl == "fork-pool":
        from kalibra_action import parallel

        pops = parallel.run_jobs([lambda side=side: run._read_side(side) for side in sides], workers=2)
    else:
        pops = load_with_executor(sides)
    wall = time.perf_counter() - start
    kib = 1024 if sys.platform != "darwin" else 1  # ru_maxrss is KiB on Linux, bytes on macOS
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * kib
    print(json.dumps({"impl": impl, "wall": wall, "parent": parent, "worker": worker,
                      "traces": [len(p) for p in pops]}))


def measure(impl: str, directory: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", impl, "--dir", str(directory)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_files(directory: Path, n: int) -> None:
    from generate import generate

    if all((directory / f"{side}.jsonl").exists() for side in ("baseline", "current")):
        return
    start = time.perf_counter()
    generate(directory, fmt="flat", n=n, seed=1, spans=5, tasks=25)
    print(f"generated {n:,} traces a side in {time.perf_counter() - start:.0f} s", flush=True)


def report(n: int, directory: Path) -> None:
    size = sum((directory / f"{s}.jsonl").stat().st_size for s in ("baseline", "current")) / 1e9
    rows = {impl: measure(impl, directory) for impl in IMPLEMENTATIONS}
    if rows["fork-pool"]["traces"] != rows["executor"]["traces"]:
        raise SystemExit(f"the two loads differ: {rows}")
    print(f"{n:,} traces a side, {size:.2f} GB in all; wall seconds, peak RSS in MB")
    print(f"{'':12} {'wall':>8} {'parent':>8} {'worker':>8} {'sum':>8}")
    for impl, r in rows.items():
        total = r["parent"] + r["worker"]
        print(f"{impl:12} {r['wall']:8.2f} {r['parent'] / 1e6:8.0f} {r['worker'] / 1e6:8.0f} "
              f"{total / 1e6:8.0f}")
    a, b = rows["fork-pool"], rows["executor"]
    print("executor / fork-pool: "
          f"wall {b['wall'] / a['wall']:.2f}, parent RSS {b['parent'] / a['parent']:.2f}, "
          f"worker RSS {b['worker'] / a['worker']:.2f}, "
          f"sum RSS {(b['parent'] + b['worker']) / (a['parent'] + a['worker']):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=1_000_000, help="traces a side")
    ap.add_argument("--dir", type=Path, help="trace files dir (default: a temp dir)")
    ap.add_argument("--child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.dir)
        return
    if a.dir:
        a.dir.mkdir(parents=True, exist_ok=True)
        ensure_files(a.dir, a.n)
        report(a.n, a.dir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ensure_files(Path(tmp), a.n)
        report(a.n, Path(tmp))


if __name__ == "__main__":
    main()
