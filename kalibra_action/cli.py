"""Command line: compare / inspect / convert / demo / init, with `kalibra compare`'s flags.

Exit codes: 0 passed (or no gates), 1 a gate failed, 2 bad input, config or usage. Errors are one line on
stderr (no traceback unless --debug); status lines go to stderr too, so stdout holds only the report.
Both streams may be a CI job's log, so what reaches them passes `report.escape.for_log` (`LogStream`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from kalibra_action import __version__
from kalibra_action.config import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    check_metric,
    check_on_inconclusive,
    check_resamples,
    check_seed,
    metrics_hint,
)
from kalibra_action.errors import EXIT_INPUT_ERROR, EXIT_PASSED, InputError
from kalibra_action.gates import DEFAULT_ON_INCONCLUSIVE, ON_INCONCLUSIVE
from kalibra_action.paths import Roots, confine, make_roots, write_text
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.registry import DURATION_UNITS, ReadOptions
from kalibra_action.traces.registry import choices as trace_formats

PROG = "kalibra-action"
FORMATS = ("terminal", "markdown", "json")
DEMO_DIR = Path(__file__).parent / "demo_data"
_LIST = object()  # `--metrics` given without a value


class UsageError(Exception):
    """A command-line usage problem (exit 2)."""


class LogStream:
    """A text stream that writes whole lines through `for_log`, so no line it prints is a workflow command.

    Lines are held until their newline (a check on a part of a line proves nothing); `close` writes the
    rest. Used for stderr always and for stdout unless it is a terminal, where the colour codes are ours
    and no runner reads commands.
    """

    def __init__(self, stream: TextIO) -> None:
        from kalibra_action.report.escape import for_log

        self._stream = stream
        self._for_log = for_log
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            self._stream.write("".join(self._for_log(line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        """Write a last unterminated line, if any (the stream itself stays open)."""
        if self._pending:
            self._stream.write(self._for_log(self._pending))
            self._pending = ""
        self._stream.flush()


def _for_log_json(text: str) -> str:
    """The same JSON, written so `for_log` leaves it intact: non-ASCII as `\\u` escapes, `##[` too."""
    import json

    return json.dumps(json.loads(text), indent=2, ensure_ascii=True).replace("##[", "##\\u005b") + "\n"


def _flag(check: Callable[[object], object],
          convert: Callable[[str], object] = str) -> Callable[[str], object]:
    """An argparse `type` that runs a flag's text through the config's validator for the same setting, so a
    flag accepts exactly what kalibra.yml accepts; the validator's reason becomes the usage error."""
    def parse(text: str) -> object:
        try:
            return check(convert(text))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _integer(text: str) -> int | str:
    """The flag's text as an int when it is one, else as it is (the validator then names it)."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def _add_field_flags(p: argparse.ArgumentParser) -> None:
    for flag, dest, example in (("--trace-id", "trace_id", "uuid"),
                                ("--outcome", "outcome", "metadata.result"),
                                ("--cost", "cost", "usage.cost_usd"),
                                ("--task-id", "task_id", "metadata.task_name"),
                                ("--input-tokens", "input_tokens", "usage.prompt_tokens"),
                                ("--output-tokens", "output_tokens", "usage.completion_tokens"),
                                ("--duration", "duration", "elapsed_s")):
        p.add_argument(flag, dest=dest, metavar="PATH",
                       help=f"dot path of {dest} in a trace (e.g. {example})")


def _add_read_flags(p: argparse.ArgumentParser) -> None:
    """--trace-format and the native readers' choices (ReadOptions)."""
    p.add_argument("--trace-format", choices=trace_formats(), help="trace format (default: auto-detect)")
    p.add_argument("--scorer", metavar="NAME", help="scorer whose value is the outcome (Inspect logs)")
    p.add_argument("--outcome-annotation", metavar="NAME",
                   help="annotation/score/feedback name that is the outcome (Phoenix, Langfuse, LangSmith)")
    p.add_argument("--score-threshold", type=float, metavar="X",
                   help="a numeric score at or above X is a pass (default: the reader's)")
    p.add_argument("--duration-unit", choices=DURATION_UNITS, help="unit of bare-number durations")


def _read_options(args: argparse.Namespace) -> ReadOptions:
    return ReadOptions(scorer=args.scorer, score_threshold=args.score_threshold,
                       outcome_annotation=args.outcome_annotation, duration_unit=args.duration_unit)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show a traceback on unexpected errors")
    parser = _Parser(prog=PROG,
                     description="Compare two populations of AI-agent traces and gate on the result.",
                     parents=[common])
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{compare,inspect,convert,demo,init}",
                                parser_class=_Parser)

    c = sub.add_parser("compare", parents=[common], help="compare baseline and current traces",
                       description="Compare baseline and current traces; exit 1 when a gate fails.")
    c.add_argument("files", nargs="*", metavar="BASELINE CURRENT",
                   help="two trace files, globs or source names (default: kalibra.yml)")
    c.add_argument("--baseline", help="baseline traces: a path, a glob or a source name from the config")
    c.add_argument("--current", help="current traces: a path, a glob or a source name from the config")
    c.add_argument("--baseline-run", action="append", default=[], metavar="PATH",
                   help="one baseline run (repeatable, oldest first): a trace file, directory or glob, or a "
                        "history summary JSON; the runs are pooled for the per-task tests and flaky tasks; "
                        "the last one (or --baseline) gives the traces of the continuous metrics")
    c.add_argument("--history-out", metavar="FILE",
                   help="also write the current traces' history summary (a few KB) to FILE, for later runs "
                        "to pool with --baseline-run")
    c.add_argument("--format", choices=FORMATS, default="terminal", help="report format (default: terminal)")
    c.add_argument("-r", "--require", action="append", default=[], metavar="GATE",
                   help="gate such as 'success_rate_delta >= -2'; repeatable; added to the config's")
    c.add_argument("--config", help="kalibra.yml to use (default: discovered from the current directory up)")
    c.add_argument("-o", "--output", metavar="FILE",
                   help="write the report to FILE instead of stdout (a symlink there is replaced, not "
                        "followed)")
    c.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="only read and write inside DIR (repeatable): the config, every trace file and "
                        "--output must resolve inside one, symlinks followed; for files you do not trust")
    _add_field_flags(c)
    c.add_argument("-v", "--verbose", action="store_true",
                   help="show every list in full (improved tasks too)")
    c.add_argument("-q", "--quiet", action="store_true", help="no status lines on stderr")
    _add_read_flags(c)
    c.add_argument("--metrics", nargs="?", const=_LIST, metavar="NAMES",
                   help="without a value: list the metrics and their gate fields, then exit; "
                        "with a comma-separated list: run only those metrics")
    c.add_argument("--on-inconclusive", type=_flag(check_on_inconclusive),
                   metavar="{" + ",".join(ON_INCONCLUSIVE) + "}",
                   help="verdict of a gate whose change is not significant "
                        f"(default: {DEFAULT_ON_INCONCLUSIVE})")
    c.add_argument("--resamples", type=_flag(check_resamples, _integer), metavar="N",
                   help=f"bootstrap resamples (default: {DEFAULT_RESAMPLES})")
    c.add_argument("--seed", type=_flag(check_seed, _integer), metavar="N",
                   help=f"random seed (default: {DEFAULT_SEED})")
    c.add_argument("--limit", action="append", default=[], metavar="KEY=N",
                   help="override one of the config's `limits:` (e.g. max_tasks=50000); repeatable")
    c.add_argument("--template", metavar="FILE",
                   help="Jinja2 template for --format markdown (sandboxed; inside the current directory)")

    i = sub.add_parser("inspect", parents=[common],
                       help="field coverage of trace files and suggested mappings",
                       description="Show which fields the traces carry and suggest field mappings.")
    i.add_argument("paths", nargs="+", metavar="PATH")
    i.add_argument("--suggest", action="store_true", help="print a `fields:` block for kalibra.yml")
    _add_read_flags(i)
    i.add_argument("--format", choices=("terminal", "json"), default="terminal")

    v = sub.add_parser("convert", parents=[common], help="write what the readers make of files as JSONL",
                       description="Write the objects read from trace files (e.g. another tool's format) as "
                                   "JSON Lines that compare reads to the same numbers.")
    v.add_argument("paths", nargs="+", metavar="PATH")
    v.add_argument("--to", choices=("jsonl",), default="jsonl", help="output format (default: jsonl)")
    _add_read_flags(v)

    d = sub.add_parser("demo", parents=[common], help="compare the bundled sample traces (no setup)",
                       description="Run a comparison on bundled sample traces and print the report.")
    d.add_argument("--format", choices=FORMATS, default="markdown", help="report format (default: markdown)")

    n = sub.add_parser("init", parents=[common], help="write a starter kalibra.yml",
                       description="Write a starter kalibra.yml in the current directory.")
    n.add_argument("--force", action="store_true", help="overwrite an existing kalibra.yml")
    n.add_argument("--baseline", default="baseline.jsonl", help="baseline path to put in the file")
    n.add_argument("--current", default="current.jsonl", help="current path to put in the file")
    return parser


def _use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _report(result, fmt: str, *, verbose: bool, color: bool, template: str | None = None) -> str:
    from kalibra_action.report.json import to_json
    from kalibra_action.report.render import render_markdown, render_terminal

    if fmt == "json":
        return _for_log_json(to_json(result))
    if fmt == "markdown":
        return render_markdown(result, template=template, verbose=verbose)
    return render_terminal(result, color=color, verbose=verbose)


def _emit(text: str, output: str | None, out: TextIO, err: TextIO, quiet: bool,
          roots: Roots | None = None) -> None:
    if output is None:
        out.write(text)
        out.flush()
        return
    try:
        write_text(output, text, roots=roots, what="--output")
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror}", file=output) from None
    if not quiet:
        err.write(f"Report written to {output}\n")


def _metric_names(value: str) -> tuple[str, ...]:
    """--metrics a,b: each name checked as the config's `metrics:` checks it."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    for name in names:
        try:
            check_metric(name)
        except ValueError as exc:
            looks_like_path = "/" in name or name.endswith((".jsonl", ".json"))
            hint = ("--metrics takes metric names; put it after the trace files or write --metrics=NAMES"
                    if looks_like_path else metrics_hint())
            raise InputError(str(exc), key="--metrics", hint=hint) from None
    return names


def list_metrics(fmt: str = "terminal") -> str:
    """The metrics and the gate fields each publishes (`compare --metrics`)."""
    import json

    from kalibra_action.metrics import METRICS

    if fmt == "json":
        data = {name: {"description": cls.description,
                       "fields": {f: {"description": s.description, "tested": s.tested, "unit": s.unit}
                                  for f, s in cls.fields.items()}} for name, cls in METRICS.items()}
        return json.dumps(data, indent=2) + "\n"
    lines = ["Metrics and their gate fields (use them in `require:` or -r 'field OP number')", ""]
    for name, cls in METRICS.items():
        lines.append(f"{name}: {cls.description}")
        width = max((len(f) for f in cls.fields), default=0)
        for field_name, spec in cls.fields.items():
            tag = " [significance-tested]" if spec.tested else ""
            lines.append(f"  {field_name.ljust(width)}  {spec.description}{tag}")
        lines.append("")
    lines.append("Config gates and -r gates combine: both apply.")
    return "\n".join(lines) + "\n"


def _limit_flags(flags: list[str]) -> tuple[tuple[str, int], ...]:
    """--limit KEY=N flags, each checked against its hard range (UsageError otherwise)."""
    from kalibra_action.limits import BY_KEY, check_limit

    out = []
    for flag in flags:
        key, _, raw = flag.partition("=")
        key = key.strip()
        if key not in BY_KEY:
            raise UsageError(f"--limit {flag}: unknown limit {key!r}; one of {', '.join(BY_KEY)}")
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = None
        if (why := check_limit(key, value)) is not None:
            raise UsageError(f"--limit {flag}: {why}")
        out.append((key, value))
    return tuple(out)


def _compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from kalibra_action.run import RunRequest, execute, request_gates_from

    if args.metrics is _LIST:
        out.write(list_metrics(args.format))
        return EXIT_PASSED
    metrics = _metric_names(args.metrics) if args.metrics else None
    baseline, current = args.baseline, args.current
    if args.baseline_run and len(args.files) == 1:  # compare --baseline-run A --baseline-run B CURRENT
        current = current or args.files[0]
    elif args.files:
        if len(args.files) != 2:
            raise UsageError(f"expected BASELINE CURRENT (2 files), got {len(args.files)}")
        baseline, current = baseline or args.files[0], current or args.files[1]
    if args.template and args.format != "markdown":
        raise UsageError("--template needs --format markdown")
    roots = _roots(args.root)
    if roots is not None and args.output:
        confine(args.output, roots, what="--output")  # refused before the comparison runs
    req = RunRequest(
        config_path=args.config, config_required=args.config is not None, baseline=baseline, current=current,
        require=request_gates_from(args.require, "cli"),
        metrics=metrics,
        trace_format=args.trace_format,
        fields=FieldMap(trace_id=args.trace_id, task_id=args.task_id, outcome=args.outcome, cost=args.cost,
                        input_tokens=args.input_tokens, output_tokens=args.output_tokens,
                        duration=args.duration),
        on_inconclusive=args.on_inconclusive, resamples=args.resamples, seed=args.seed, roots=roots,
        limits=_limit_flags(args.limit), read=_read_options(args), baseline_runs=tuple(args.baseline_run),
        history_out=args.history_out)
    result = execute(req, status=_status(err, args.quiet))
    color = args.format == "terminal" and args.output is None and _use_color(out)
    _emit(_report(result, args.format, verbose=args.verbose, color=color, template=args.template),
          args.output, out, err, args.quiet, roots)
    return result.exit_code


def _roots(dirs: list[str]) -> Roots | None:
    """--root directories, resolved; None (no confinement) when none is given."""
    if not dirs:
        return None
    for d in dirs:
        if not Path(d).is_dir():
            raise InputError("--root is not a directory", file=d)
    return make_roots(dirs)


def _status(err: TextIO, quiet: bool):
    def say(message: str) -> None:
        if not quiet or message.startswith("warning:"):
            err.write(f"{message}\n")

    return say


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from kalibra_action.run import RunRequest, execute

    req = RunRequest(config_path=str(DEMO_DIR / "kalibra.yml"), config_required=True,
                     baseline="baseline.jsonl", current="current.jsonl", base_dir=DEMO_DIR)
    result = execute(req, status=_status(err, True))
    result.settings["config"] = "kalibra_action/demo_data/kalibra.yml (bundled)"
    color = args.format == "terminal" and _use_color(out)
    out.write(_report(result, args.format, verbose=False, color=color))
    failed = [g.expr for g in result.gates if not g.passed]
    if failed:
        err.write(f"demo: gate failed ({'; '.join(failed)}); a real run would exit 1, the demo exits 0\n")
    err.write("demo: try `kalibra-action init` and `kalibra-action compare` on your own traces\n")
    return EXIT_PASSED


def _init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from kalibra_action.report.render import render_starter_config

    target = Path("kalibra.yml")
    if target.exists() and not args.force:
        raise InputError("already exists; pass --force to overwrite it", file=str(target))
    text = render_starter_config(args.baseline, args.current, _inspect_for_init(args, err))
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=str(target)) from None
    out.write(f"Wrote {target}. Next: kalibra-action inspect {args.current} --suggest, "
              "then kalibra-action compare\n")
    return EXIT_PASSED


def _inspect_for_init(args: argparse.Namespace, err: TextIO):
    """The InspectReport of `init`'s current traces when they exist (so the config matches their format);
    None when they do not exist yet or cannot be read (the starter config is still written)."""
    from kalibra_action.traces.inspect import inspect_paths

    try:
        return inspect_paths([args.current])
    except InputError as exc:
        if Path(args.current).exists():
            err.write(f"warning: {exc}; the config does not describe its format\n")
        return None


def _inspect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from kalibra_action.report.inspect import render_inspect
    from kalibra_action.traces.inspect import inspect_paths

    fmt = None if args.trace_format in (None, "auto") else args.trace_format
    report = inspect_paths(list(args.paths), fmt=fmt, options=_read_options(args))
    out.write(render_inspect(report, fmt=args.format, suggest=args.suggest))
    return EXIT_PASSED


def _convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from kalibra_action.traces.convert import convert_lines

    warnings: list[str] = []
    for line in convert_lines(list(args.paths), fmt=args.trace_format, options=_read_options(args),
                              warnings=warnings):
        out.write(line)
    for warning in warnings:
        err.write(f"warning: {warning}\n")
    return EXIT_PASSED


COMMANDS = {"compare": _compare, "inspect": _inspect, "convert": _convert, "demo": _demo, "init": _init}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (never raises, except with --debug on an unexpected error)."""
    raw_out = out or sys.stdout
    safe_out = LogStream(raw_out)
    safe_err = LogStream(err or sys.stderr)
    try:
        terminal = bool(getattr(raw_out, "isatty", None) and raw_out.isatty())
        return _main(argv, raw_out if terminal else safe_out, safe_err)
    finally:
        safe_out.close()
        safe_err.close()


def _main(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    args = None
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("a command is required: compare, inspect, convert, demo or init")
        return COMMANDS[args.command](args, out, err)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_PASSED
    except (InputError, UsageError) as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:
        if args is not None and getattr(args, "debug", False):
            traceback.print_exc(file=err)
        else:
            msg = " ".join(str(exc).split())[:300]
            err.write(f"{PROG}: error: unexpected {type(exc).__name__}: {msg} (rerun with --debug)\n")
        return EXIT_INPUT_ERROR
