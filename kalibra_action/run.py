"""The request both the CLI and the GitHub Action build, and its execution: config → traces → engine.

Resolution follows Kalibra's `compare` command: a side given on the command line is a source name from the
config when one matches, else a path or glob; otherwise the config's baseline/current. Fixed on the way:
`require` from the command line is added to the config's (Kalibra bug 7), field mappings are taken per side
(bug 16), and a missing file is an input error (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kalibra_action.errors import InputError
from kalibra_action.gates import Gate
from kalibra_action.limits import DEFAULT_LIMITS, Limits
from kalibra_action.paths import Roots, check_entries, confine
from kalibra_action.result import Result
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.registry import ReadOptions

Status = Callable[[str], None]
_SIDE_HINT = ("pass BASELINE CURRENT (or --baseline/--current), or set `{side}:` in kalibra.yml "
              "(kalibra-action init writes a starter)")


@dataclass(frozen=True)
class RunRequest:
    config_path: str | None = None
    config_required: bool = False
    baseline: str | None = None  # a path, a glob or a source name; overrides the config
    current: str | None = None
    require: tuple[Gate, ...] = ()  # added to the config's; parsed where the request is built
    metrics: tuple[str, ...] | None = None
    trace_format: str | None = None
    fields: FieldMap = field(default_factory=FieldMap)  # flags win over per-source over global
    on_inconclusive: str | None = None
    resamples: int | None = None
    seed: int | None = None
    base_dir: Path | None = None  # where command-line paths resolve (default: the current directory)
    roots: Roots | None = None  # when set, the config and every trace file must resolve inside these
    limits: tuple[tuple[str, int], ...] = ()  # (key, value) overrides of the config's `limits:`
    read: ReadOptions | None = None  # reader choices (--scorer ...): over per-source over the config's
    baseline_runs: tuple[str, ...] = ()  # several baseline runs, oldest first: trace paths or summaries
    history_runs: tuple = ()  # older baseline runs already summarised (history.RunSummary), oldest first
    history_skipped: tuple = ()  # (name, reason, run id) of base-branch runs left out before reading
    newest_hash: str | None = None  # the newest baseline run's own config hash, when its summary says
    newest_meta: tuple[str | None, str | None, str | None] = (None, None, None)  # its run id, commit, time
    history_out: str | None = None  # write the current run's history summary here
    history_meta: tuple[str | None, str | None] = (None, None)  # (run id, commit) it records


@dataclass(frozen=True)
class Side:
    """One resolved side: what to load and how."""

    label: str
    paths: tuple[str, ...]
    fields: FieldMap
    where: tuple
    fmt: str | None
    base_dir: Path | None
    roots: Roots | None = None
    limits: Limits = DEFAULT_LIMITS
    read: ReadOptions = field(default_factory=ReadOptions)


def request_limits(config, req: RunRequest) -> Limits:
    """The config's `limits:` with the request's overrides (both already checked against the maxima)."""
    return replace(config.limits, **dict(req.limits))


def resolve_side(name: str, flag: str | None, config, req: RunRequest) -> Side:
    """One side: a source name or path given on the command line / action input, else the config's."""
    side = _side(name, flag, config, req)
    if req.roots is not None:  # here, where the side's name is known; files are checked when resolved
        check_entries(side.paths, req.roots, (side.base_dir or Path.cwd()).resolve(),
                      what=f"{name} path" if flag == side.paths[0] else f"{name} path in {config.path}")
    return side


def _side(name: str, flag: str | None, config, req: RunRequest) -> Side:
    sources = config.sources
    if flag:
        spec = sources.get(flag)
        if spec is None:  # a path or glob given on the command line, resolved from base_dir
            return Side(flag, (flag,), config.fields.merge(req.fields), (),
                        _fmt(req.trace_format or config.format), req.base_dir, req.roots,
                        request_limits(config, req), _read(config, None, req))
        label = flag
    else:
        spec = getattr(config, name)
        if spec is None:
            where = f" ({config.path})" if config.path else " (no kalibra.yml found)"
            raise InputError(f"no {name} traces given{where}", hint=_SIDE_HINT.format(side=name))
        label = spec.name or ", ".join(spec.paths)
    if not spec.paths:
        raise InputError(f"source '{label}' has no path", file=config.path, key=name)
    fields = config.fields.merge(spec.fields).merge(req.fields)
    fmt = _fmt(req.trace_format or spec.format or config.format)
    return Side(label, tuple(spec.paths), fields, tuple(spec.where), fmt, config.base_dir, req.roots,
                request_limits(config, req), _read(config, spec, req))


def _read(config, spec, req: RunRequest) -> ReadOptions:
    """The reader options of one side: the request's over the source's over the config's."""
    base = getattr(config, "read", None) or ReadOptions()
    return base.merge(getattr(spec, "read", None)).merge(req.read)


def _fmt(value: str | None) -> str | None:
    return None if value in (None, "", "auto") else value


def load_request_config(req: RunRequest):
    """The request's kalibra.yml (defaults when it is optional and absent); with `roots`, a config path
    (given or discovered) that leaves them is an InputError before the file is opened."""
    from kalibra_action.config import find_config, load_config

    if req.roots is not None:
        path = req.config_path if req.config_path is not None else find_config(Path.cwd())
        if path is not None:
            confine(path, req.roots, what="config")
    return load_config(req.config_path, required=req.config_required)


def request_gates_from(exprs: Sequence[str], source: str) -> tuple[Gate, ...]:
    """Gates given on the command line (source "cli") or as the action's `require` input ("action"),
    parsed once against every registered field, where the request is built. InputError on a bad one."""
    from kalibra_action.gates import parse_gates
    from kalibra_action.metrics import all_fields

    return tuple(parse_gates(exprs, all_fields(), source=source))


def request_gates(config, req: RunRequest) -> tuple[Gate, ...]:
    """The config's gates, then the request's: both already parsed, passed on as they are."""
    return (*config.require, *req.require)


def _read_side(side: Side):
    from kalibra_action.traces.load import load_population

    return load_population(list(side.paths), label=side.label, fields=side.fields, where=side.where,
                           fmt=side.fmt, base_dir=side.base_dir, roots=side.roots, limits=side.limits,
                           options=side.read)


def _say_matched(side: Side, pop, status: Status) -> None:
    if side.where:
        status(f"  {side.label}: {len(pop):,}/{pop.total_before_filter:,} traces matched "
               f"(where: {', '.join(m.raw for m in side.where)})")


def load_side(side: Side, status: Status):
    """Load one side in this process, reporting progress through `status`."""
    status(f"Loading {side.label}")
    pop = _read_side(side)
    _say_matched(side, pop, status)
    return pop


def _input_bytes(sides: list[Side]) -> int | None:
    """Total size of the sides' files (gzip counted 4x); None when a side does not resolve."""
    from kalibra_action.traces.registry import resolve_trace_files

    total = 0
    try:
        for side in sides:
            for tf in resolve_trace_files(list(side.paths), side.base_dir, side.roots):
                size = tf.path.stat().st_size
                total += size * 4 if tf.path.suffix == ".gz" else size
    except (InputError, OSError):
        return None
    return total


def _load_sides(sides: list[Side], status: Status) -> list:
    """Both sides; in two processes when there are two CPUs and enough input (see parallel.py). A bad
    input raises the same InputError either way (the baseline's first when both are bad)."""
    from kalibra_action.parallel import MIN_PARALLEL_BYTES, available_workers, run_jobs

    if available_workers() < 2 or (_input_bytes(sides) or 0) < MIN_PARALLEL_BYTES:
        return [load_side(side, status) for side in sides]
    for side in sides:
        status(f"Loading {side.label}")
    pops = run_jobs([lambda side=side: _read_side(side) for side in sides], workers=2)
    for side, pop in zip(sides, pops, strict=True):
        _say_matched(side, pop, status)
    return pops


def config_hash(config) -> str:
    """What a history summary records of the config: SHA-256 of the kalibra.yml bytes (of nothing when
    there is none), so runs measured under another config are not pooled."""
    import hashlib

    data = Path(config.path).read_bytes() if config.path else b""
    return hashlib.sha256(data).hexdigest()


def write_history(path: str | Path, pop, *, digest: str, meta: tuple[str | None, str | None],
                  roots: Roots | None, say: Status) -> None:
    """Write `pop`'s history summary for later runs to pool; a failure to write is a warning only (the
    comparison stands, later runs just lack this one)."""
    from datetime import UTC, datetime

    from kalibra_action.history import summarize, write_summary

    run_id, commit = meta
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    summary = summarize(pop, run_id=run_id, commit=commit, created=created, config_hash=digest)
    try:
        write_summary(Path(path), summary, roots=roots)
    except OSError as err:
        say(f"warning: cannot write the history summary {path}: {err.strerror or err}")
        return
    say(f"Wrote the history summary {path} ({len(summary.tasks):,} tasks)")


def _history_run(path: str, config, req: RunRequest, digest: str, say: Status):
    """One older baseline run: a history summary file, else trace files summarised after loading."""
    from kalibra_action.history import is_summary_file, read_summary, summarize

    target = (req.base_dir or Path.cwd()) / path
    if req.roots is not None:
        check_entries([path], req.roots, (req.base_dir or Path.cwd()).resolve(), what="--baseline-run")
    if is_summary_file(target):
        say(f"Reading history summary {path}")
        return read_summary(target, name=path)
    pop = load_side(resolve_side("baseline", path, config, req), say)
    return summarize(pop, config_hash=digest)


def _pool(req: RunRequest, config, baseline, say: Status):
    """The pooled baseline: the older runs of `req.baseline_runs`, then the loaded newest run."""
    from kalibra_action.history import summarize
    from kalibra_action.history.pool import pool_runs
    from kalibra_action.limits import HISTORY_MAX_RUNS

    older = req.baseline_runs if req.baseline else req.baseline_runs[:-1]
    given = len(older) + len(req.history_runs) + 1
    if given > HISTORY_MAX_RUNS:
        raise InputError(f"{given} baseline runs given; at most {HISTORY_MAX_RUNS} are pooled",
                         key="--baseline-run")
    digest = config_hash(config)
    runs = [*req.history_runs, *(_history_run(p, config, req, digest, say) for p in older)]
    run_id, commit, created = req.newest_meta
    runs.append(summarize(baseline, run_id=run_id, commit=commit, created=created,
                          config_hash=req.newest_hash or digest))
    pooled = pool_runs(runs, fdr=config.fdr, flaky_counts=config.flaky_counts, seed=config.seed,
                       skipped=req.history_skipped)
    say(f"Pooled {len(pooled.pooled_runs)} of {len(runs)} baseline runs; {len(pooled.flaky)} flaky task(s)")
    return pooled


def _newest_side(req: RunRequest) -> RunRequest:
    """With several baseline runs and no --baseline, the newest (last) run is the baseline's traces."""
    if not req.baseline_runs or req.baseline:
        return req
    from kalibra_action.history import is_summary_file

    newest = req.baseline_runs[-1]
    if is_summary_file((req.base_dir or Path.cwd()) / newest):
        raise InputError("the newest baseline run is a history summary; it must be traces (the "
                         "continuous metrics compare against its full traces)", file=newest,
                         hint="give the newest run's traces last, or with --baseline")
    return replace(req, baseline=newest)


def execute(req: RunRequest, *, status: Status | None = None) -> Result:
    """Run one comparison; InputError (exit 2) for any problem with the input. `status` gets progress."""
    from kalibra_action.engine import CompareOptions, compare
    from kalibra_action.metrics.base import StatsOptions

    say = status or (lambda _msg: None)
    history_req = req
    req = _newest_side(req)
    config = load_request_config(req)
    if config.path:
        say(f"Using config {config.path}")
    for warning in config.warnings:
        say(f"warning: {warning}")
    gates = request_gates(config, req)  # bad gates fail before any trace is read
    sides = [resolve_side(n, f, config, req) for n, f in (("baseline", req.baseline),
                                                           ("current", req.current))]
    baseline, current = _load_sides(sides, say)
    several = req.baseline_runs or req.history_runs or req.history_skipped
    pooled = _pool(history_req, config, baseline, say) if several else None
    options = CompareOptions(
        metrics=req.metrics if req.metrics is not None else config.metrics,
        gates=gates,
        noise_thresholds=dict(config.noise_thresholds),
        stats=StatsOptions(resamples=req.resamples if req.resamples is not None else config.resamples,
                           seed=req.seed if req.seed is not None else config.seed),
        on_inconclusive=req.on_inconclusive or config.on_inconclusive,
        metric_config={"trace_breakdown": {"fdr": config.fdr, "max_tasks": sides[0].limits.max_tasks},
                       "span_breakdown": {"max_span_names": sides[0].limits.max_span_names},
                       "task_attribution": {"fdr": config.fdr}},
        history=pooled,
    )
    result = compare(baseline, current, options)
    if req.history_out:
        write_history((req.base_dir or Path.cwd()) / req.history_out, current, digest=config_hash(config),
                      meta=req.history_meta, roots=req.roots, say=say)
    result.warnings[:0] = [f"{config.path}: {w}" for w in config.warnings]
    result.settings.setdefault("config", config.path)
    return result
