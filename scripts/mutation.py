"""Mutation testing of the statistics, gates, escaping and sticky-comment modules, one module at a time.

`make mutation` runs this. It drives mutmut (configured in pyproject.toml's [tool.mutmut]: which files are
mutated, which test files may kill their mutants) with ONE worker, module by module, and then prints the
kill rate per module and overall from mutmut's own records in mutants/.

Why module by module: on a 2-core machine the whole set (~4,500 mutants) takes hours; each module can be
run on its own (`--module gates`) and mutmut keeps every result, so a later run only retests mutants of
functions that changed. Each mutant runs only the tests that reach the mutated function (mutmut records
that once per test), under mutmut's CPU-time limit per mutant (timeout_multiplier × the tests' time).

Kill rate = (killed + timed out) / mutants checked. A mutant no test reaches ("no tests") counts as alive;
mutants not checked yet are left out of the rate and counted apart. docs/mutation.md lists the survivors
judged equivalent, with the reason.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Module (short name) → its source file. The tests that may kill its mutants are the files listed in
# pyproject.toml's pytest_add_cli_args_test_selection; mutmut narrows them per mutated function.
MODULES = {
    "gates": "kalibra_action/gates.py",
    "escape": "kalibra_action/report/escape.py",
    "comments": "kalibra_action/github/comments.py",
    "identity": "kalibra_action/github/identity.py",
    "pertask": "kalibra_action/stats/pertask.py",
    "bca": "kalibra_action/stats/bca.py",
    "intervals": "kalibra_action/stats/intervals.py",
    "paired": "kalibra_action/stats/paired.py",
    "bootstrap": "kalibra_action/stats/bootstrap.py",
    "distributions": "kalibra_action/stats/distributions.py",
    "decompose": "kalibra_action/stats/decompose.py",
}
KILLED = {1, 3} | {36, 24, -24, 152, 255}  # mutmut's exit codes for killed and timed out
NOT_CHECKED = {None, 2}  # never run, or interrupted


def mutant_glob(path: str) -> str:
    """mutmut's mutant names start with the module's dotted path: kalibra_action.gates.x_fn__mutmut_3."""
    return path.removesuffix(".py").replace("/", ".") + ".*"


def results(path: str) -> dict[str, int | None]:
    """Exit code by mutant name for one source file, from mutmut's record (empty before any run)."""
    meta = ROOT / "mutants" / f"{path}.meta"
    if not meta.exists():
        return {}
    return json.loads(meta.read_text("utf-8"))["exit_code_by_key"]


def summarise(names: list[str]) -> tuple[int, int]:
    """Print one row per module and the overall rate; return (killed, checked) over those modules."""
    total_killed = total_checked = 0
    print(f"{'module':<15} {'mutants':>7} {'checked':>7} {'killed':>7} {'alive':>6} {'kill rate':>9}")
    for name in names:
        codes = results(MODULES[name])
        checked = [c for c in codes.values() if c not in NOT_CHECKED]
        killed = sum(c in KILLED for c in checked)
        rate = f"{100 * killed / len(checked):.1f} %" if checked else "-"
        alive = len(checked) - killed
        print(f"{name:<15} {len(codes):>7} {len(checked):>7} {killed:>7} {alive:>6} {rate:>9}")
        total_killed += killed
        total_checked += len(checked)
    rate = f"{100 * total_killed / total_checked:.1f} %" if total_checked else "-"
    print(f"{'overall':<15} {'':>7} {total_checked:>7} {total_killed:>7} {total_checked - total_killed:>6} "
          f"{rate:>9}")
    return total_killed, total_checked


def alive(names: list[str]) -> dict[str, int]:
    """Exit code by mutant name of the mutants checked and not killed (see `mutmut show NAME`)."""
    return {key: code for name in names for key, code in sorted(results(MODULES[name]).items())
            if code not in NOT_CHECKED and code not in KILLED}


def mutmut_run(mutants: list[str]) -> int:
    """`mutmut run` with one worker on these mutant names or globs."""
    cmd = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", "1", *mutants]
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES),
                        help="mutate only this module (repeatable); default: all, one after another")
    parser.add_argument("--report", action="store_true", help="only print the recorded kill rates")
    parser.add_argument("--survivors", action="store_true", help="also list the mutants left alive")
    parser.add_argument("--retest", action="store_true",
                        help="run only the mutants left alive or not checked yet (after adding tests)")
    parser.add_argument("--min-rate", type=float, default=None,
                        help="exit 1 when the overall kill rate is below this percentage")
    args = parser.parse_args(argv)
    names = args.module or list(MODULES)
    if args.retest:
        unchecked = [key for name in names for key, code in results(MODULES[name]).items() if code is None]
        names_alive = list(alive(names)) + unchecked
        if names_alive and mutmut_run(names_alive) != 0:
            print("mutmut run failed", file=sys.stderr)
            return 2
    elif not args.report:
        for name in names:
            print(f"== mutmut: {name} ({MODULES[name]})", flush=True)
            code = mutmut_run([mutant_glob(MODULES[name])])
            if code != 0:
                print(f"mutmut run failed for {name} (exit {code})", file=sys.stderr)
                return 2
    print()
    killed, checked = summarise(names)
    if args.survivors:
        listed = [f"{key} ({'no tests' if code in (5, 33) else 'survived' if code == 0 else code})"
                  for key, code in alive(names).items()]
        print("\nalive:", *listed, sep="\n  ")
    if args.min_rate is not None and checked and 100 * killed / checked < args.min_rate:
        print(f"kill rate below {args.min_rate} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
