"""Benchmark: kalibra-action against Kalibra 0.2.4 on the same generated trace sets.

For each size, writes seeded flat traces (about 5 spans a trace, 10 span names, 25 tasks) into a
temporary directory, then times, each in its own child process (wall time, and peak RSS of that child
from os.wait4):

  kalibra-action compare A B --format json
  kalibra compare A B --format json
  a bare `json.loads` over every line of A and B (the floor any reader pays)

and prints: n | ours s | kalibra s | speed ratio | ours MB | kalibra MB | RSS ratio | ours / json.loads.

  python bench/compare_kalibra.py --sizes 1000,10000
  python bench/compare_kalibra.py --sizes 100000 --kalibra-timeout 1800      # Kalibra needs ~14 min
  python bench/compare_kalibra.py --million                                 # 1M a side, ours only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate as gen  # noqa: E402

BIN = Path(sys.executable).parent
MILLION_TARGET_S = 60.0
MILLION_TARGET_MB = 1536.0


@dataclass
class Measure:
    wall_s: float | None
    rss_mb: float | None
    rc: int | None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.wall_s is not None and self.rc is not None and self.rc in (0, 1)


def _exe(name: str) -> str | None:
    cand = BIN / name
    return str(cand) if cand.exists() else shutil.which(name)


GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
# Fallback wrapper when GNU time is missing: a fresh, small Python that runs the command and reports
# that child's own rusage (os.wait4).
WRAPPER = (
    "import os,subprocess,sys\n"
    "p=subprocess.Popen(sys.argv[2:])\n"
    "_,st,ru=os.wait4(p.pid,0)\n"
    "open(sys.argv[1],'w').write(f'{ru.ru_maxrss} {os.waitstatus_to_exitcode(st)}')\n"
)


def measure(argv: list[str], timeout: float | None, stdout_path: Path | None = None) -> Measure:
    """Run argv in its own child; wall time and that child's peak RSS; killed after timeout.

    The peak RSS comes from a tiny wrapper (GNU time, else a fresh `python -c`) rather than from this
    process: on Linux a child's ru_maxrss starts from the RSS of the process that forked it, and this
    one holds numpy and the generator.
    """
    with tempfile.TemporaryDirectory() as td:
        rep = Path(td) / "rusage"
        if GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M %x", "-o", str(rep), "--", *argv]
        else:
            cmd = [sys.executable, "-c", WRAPPER, str(rep), *argv]
        with (
            open(stdout_path or os.devnull, "wb") as out,
            open(Path(td) / "stderr", "w+b") as err,
        ):
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return Measure(None, None, None, f"timeout after {timeout:.0f} s")
            wall = time.perf_counter() - t0
            err.seek(0)
            tail = err.read()[-500:].decode(errors="replace").strip()
        try:
            words = rep.read_text().split()
            rss_kb, rc = float(words[-2]), int(words[-1])
        except (OSError, ValueError, IndexError):
            return Measure(wall, None, proc.returncode, f"no rusage: {tail}")
        return Measure(wall, rss_kb / 1024.0, rc, "" if rc in (0, 1) else tail)


JSON_FLOOR = (
    "import json,sys\n"
    "n=0\n"
    "for p in sys.argv[1:]:\n"
    "    with open(p, encoding='utf-8') as f:\n"
    "        for line in f:\n"
    "            if line.strip():\n"
    "                json.loads(line); n+=1\n"
)


def run_size(n: int, work: Path, args: argparse.Namespace, *, with_kalibra: bool) -> dict:
    d = work / f"n{n}"
    t0 = time.perf_counter()
    paths = gen.generate(
        d, fmt="flat", n=n, seed=args.seed, spans=args.spans, tasks=args.tasks, plant=args.plant
    )
    gen_s = time.perf_counter() - t0
    a, b = str(paths["baseline"]), str(paths["current"])
    mb = (os.path.getsize(a) + os.path.getsize(b)) / 2**20
    print(f"# n={n:,}: generated {mb:,.0f} MB in {gen_s:.1f} s", file=sys.stderr, flush=True)
    row: dict = {"n": n, "input_mb": mb}
    floor = measure([sys.executable, "-c", JSON_FLOOR, a, b], None)
    row["json"] = floor
    print(f"#   json.loads: {floor.wall_s:.2f} s, {floor.rss_mb:.0f} MB", file=sys.stderr, flush=True)
    ours = _exe("kalibra-action")
    if ours:
        m = measure([ours, "compare", a, b, "--format", "json"], args.ours_timeout, d / "ours.json")
        row["ours"] = m
        _check_json(d / "ours.json", m)
        print(f"#   kalibra-action: {_fmt_s(m)} s, {_fmt_mb(m)} MB {m.note}", file=sys.stderr, flush=True)
    if with_kalibra:
        k = _exe("kalibra")
        if k:
            m = measure([k, "compare", a, b, "--format", "json"], args.kalibra_timeout, d / "kalibra.json")
            row["kalibra"] = m
            print(f"#   kalibra: {_fmt_s(m)} s, {_fmt_mb(m)} MB {m.note}", file=sys.stderr, flush=True)
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return row


def _check_json(path: Path, m: Measure) -> None:
    if not m.ok:
        return
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        m.note = f"output is not JSON: {e}"


def _fmt_s(m: Measure | None) -> str:
    if m is None or m.wall_s is None:
        return "-"
    return f"{m.wall_s:.2f}" if m.ok else f"err ({m.wall_s:.2f})"


def _fmt_mb(m: Measure | None) -> str:
    return "-" if m is None or m.rss_mb is None else f"{m.rss_mb:.0f}"


def _ratio(x: float | None, y: float | None) -> str:
    return "-" if not x or not y else f"{x / y:.1f}x"


def table(rows: list[dict]) -> str:
    head = (
        "n",
        "ours s",
        "kalibra s",
        "speed ratio",
        "ours MB",
        "kalibra MB",
        "RSS ratio",
        "ours/json.loads",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        o, k, j = r.get("ours"), r.get("kalibra"), r.get("json")
        ow = o.wall_s if o and o.ok else None
        kw = k.wall_s if k and k.ok else None
        om = o.rss_mb if o and o.ok else None
        km = k.rss_mb if k and k.ok else None
        cells = [
            f"{r['n']:,}",
            _fmt_s(o),
            _fmt_s(k) if k else "skipped",
            _ratio(kw, ow),
            _fmt_mb(o),
            _fmt_mb(k) if k else "skipped",
            _ratio(km, om),
            _ratio(ow, j.wall_s if j else None),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        for who, m in (("ours", o), ("kalibra", k)):
            if m is not None and m.note:
                lines.append(f"|   {who}: {m.note} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="traces per side, comma-separated")
    ap.add_argument(
        "--skip-kalibra-above",
        type=int,
        default=None,
        metavar="N",
        help="do not run Kalibra for sizes above N",
    )
    ap.add_argument(
        "--million",
        action="store_true",
        help="1,000,000 traces a side, kalibra-action only, against the 60 s / 1.5 GB targets",
    )
    ap.add_argument(
        "--kalibra-timeout", type=float, default=1800.0, help="seconds (Kalibra at 100k: ~14 min)"
    )
    ap.add_argument("--ours-timeout", type=float, default=900.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--spans", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=25)
    ap.add_argument("--plant", default="regression")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where to write the traces (default: a temp dir)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated files and outputs")
    ap.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args(argv)

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.million:
        sizes = [1_000_000]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kalibra-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for n in sizes:
            with_k = not args.million and (args.skip_kalibra_above is None or n <= args.skip_kalibra_above)
            rows.append(run_size(n, work, args, with_kalibra=with_k))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nflat traces, ~{args.spans} spans a trace, {args.tasks} tasks, seed {args.seed}, "
        f"plant {args.plant}; {os.cpu_count()} CPUs; all default metrics\n"
    )
    print(table(rows))
    if args.million and rows:
        o = rows[0].get("ours")
        if o and o.ok:
            t_ok = o.wall_s <= MILLION_TARGET_S
            m_ok = o.rss_mb <= MILLION_TARGET_MB
            t_verdict = "met" if t_ok else "MISSED"
            m_verdict = "met" if m_ok else "MISSED"
            print(
                f"\n1M a side: {o.wall_s:.1f} s (target {MILLION_TARGET_S:.0f} s: {t_verdict}), "
                f"{o.rss_mb:.0f} MB (target {MILLION_TARGET_MB:.0f} MB: {m_verdict})"
            )
        else:
            print(f"\n1M a side: kalibra-action did not finish: {o.note if o else 'not installed'}")
    if args.json_out:

        def enc(m):
            return m.__dict__ if isinstance(m, Measure) else m

        args.json_out.write_text(json.dumps([{k: enc(v) for k, v in r.items()} for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
