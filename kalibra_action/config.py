"""kalibra.yml → frozen dataclasses, with Kalibra 0.2.4's keys and meanings.

Additions over Kalibra: `path` may be a list of paths or globs; `where` may be a single string (read as a
one-element list); a top-level `format` is the default of both sides; `resamples`, `seed`, `on_inconclusive`.
Unknown keys are warnings with a did-you-mean; every other problem is an InputError naming the file, the line
and the dotted key. Relative paths are kept as written and resolve against base_dir, the current directory
(as with Kalibra, not the config file's directory).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kalibra_action.errors import InputError
from kalibra_action.gates import (
    DEFAULT_ON_INCONCLUSIVE,
    ON_INCONCLUSIVE,
    Gate,
    check_gate_count,
    did_you_mean,
    parse_gate,
)
from kalibra_action.limits import BY_KEY as LIMIT_KEYS
from kalibra_action.limits import (
    CONFIG_MAX_BYTES,
    RESAMPLES_MAX,
    RESAMPLES_MIN,
    YAML_MAX_ALIAS_NODES,
    Limits,
    check_limit,
)
from kalibra_action.paths import open_regular
from kalibra_action.traces import where as where_mod
from kalibra_action.traces.fields import FIELD_NAMES, FieldMap, OutcomeMap, text_form
from kalibra_action.traces.registry import DURATION_UNITS, ReadOptions
from kalibra_action.traces.registry import choices as format_choices
from kalibra_action.traces.where import Matcher

CONFIG_FILENAME = "kalibra.yml"
TOP_KEYS = ("sources", "baseline", "current", "fields", "format", "read", "metrics", "require",
            "noise_thresholds", "task_id", "resamples", "seed", "on_inconclusive", "per_task", "limits",
            "history")
PER_TASK_KEYS = ("fdr",)
HISTORY_KEYS = ("flaky_counts",)
SOURCE_KEYS = ("path", "where", "fields", "format", "read")
READ_TEXT_KEYS = ("scorer", "outcome_annotation")  # `read:` keys whose value is a name
OUTCOME_MAP_KEYS = ("path", "pass", "fail", "threshold")  # fields.outcome as a mapping
DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 42
MAX_INT_CHARS = 100


@dataclass(frozen=True)
class SourceSpec:
    """One side's data: a named source (name set) or an inline baseline/current (name None)."""

    name: str | None
    paths: tuple[str, ...]
    fields: FieldMap | None = None  # per-source override of Config.fields
    where: tuple[Matcher, ...] = ()
    format: str | None = None  # as written: auto or a name from traces.registry; None = not set
    read: ReadOptions | None = None  # per-source override of Config.read


@dataclass(frozen=True)
class Config:
    path: str | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    baseline: SourceSpec | None = None
    current: SourceSpec | None = None
    fields: FieldMap = field(default_factory=FieldMap)
    metrics: tuple[str, ...] | None = None  # None = all defaults
    require: tuple[Gate, ...] = ()  # parsed and checked here, once; they flow down as they are
    noise_thresholds: dict[str, float] = field(default_factory=dict)
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    on_inconclusive: str = DEFAULT_ON_INCONCLUSIVE
    fdr: float = 0.10  # per_task.fdr: Benjamini–Hochberg level of the per-task tests
    flaky_counts: bool = False  # history.flaky_counts: flaky tasks' regressions count toward the gates
    warnings: tuple[str, ...] = ()
    format: str | None = None  # top-level default format of both sides
    read: ReadOptions = field(default_factory=ReadOptions)  # `read:` options of the native readers
    limits: Limits = field(default_factory=Limits)
    lines: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, key: str) -> int | None:
        """Line of a dotted key (e.g. 'require[1]'), else of its nearest parent; None when unknown."""
        return _line_of(self.lines, key)


def _all_fields() -> Mapping[str, object]:
    """Every gate field, from the metric registry."""
    from kalibra_action.metrics import all_fields

    return all_fields()


# Validators shared by the config, the CLI flags and the action inputs: each returns the checked value or
# raises ValueError with the reason; the caller adds where the value came from (file:line, flag, input).

def check_choice(value: object, choices: tuple[str, ...]) -> str:
    """`value` when it is one of `choices`."""
    if isinstance(value, str) and value in choices:
        return value
    near = did_you_mean(value, choices) if isinstance(value, str) else ""
    raise ValueError(f"must be one of {', '.join(choices)}, not {_kind(value)}{near}")


def check_on_inconclusive(value: object) -> str:
    """What an inconclusive gate does (gates.ON_INCONCLUSIVE)."""
    return check_choice(value, ON_INCONCLUSIVE)


def check_metric(value: object) -> str:
    """The name of a registered metric (kalibra_action.metrics)."""
    from kalibra_action.metrics import METRICS

    if isinstance(value, str) and value in METRICS:
        return value
    near = did_you_mean(value, METRICS) if isinstance(value, str) else ""
    raise ValueError(f"unknown metric {value!r}{near}")


def metrics_hint() -> str:
    """The hint an unknown metric gets: every metric's name."""
    from kalibra_action.metrics import METRICS

    return "metrics: " + ", ".join(METRICS)


def check_integer(value: object, low: int, high: int | None = None) -> int:
    """An integer (not a bool) in [low, high]; no upper bound when high is None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
        bound = f"between {low} and {high:,}" if high else f">= {low}"
        raise ValueError(f"must be an integer {bound}, not {_kind(value)}")
    return value


def check_resamples(value: object) -> int:
    """Bootstrap resamples: enough for a stable interval, few enough to finish."""
    return check_integer(value, RESAMPLES_MIN, RESAMPLES_MAX)


def check_seed(value: object) -> int:
    """A random seed: an integer >= 0 (numpy's generators take no negative seed)."""
    return check_integer(value, 0)


def _line_of(lines: Mapping[str, int], key: str) -> int | None:
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node, file: str) -> None:
    """Refuse aliases that expand the document past YAML_MAX_ALIAS_NODES nodes (a "billion laughs") or
    that contain themselves. The node graph is walked once, each node's expanded size memoised by id,
    so the check costs the size of the file, not of the expansion."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep nesting cannot overflow Python's stack here
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            continue
        if key in size:
            continue
        if key in on_path:
            raise InputError("invalid YAML: an alias refers to a node that contains it", file=file,
                             line=node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
    added = size[id(root)] - len(size)
    if added > YAML_MAX_ALIAS_NODES:
        raise InputError(f"invalid YAML: aliases expand to {added:,} more nodes, over the limit of "
                         f"{YAML_MAX_ALIAS_NODES:,}", file=file,
                         hint="a config needs few anchors; write the repeated parts out")


def _map_lines(node: yaml.Node, prefix: str, out: dict[str, int], dups: list[tuple[str, int]],
               seen_nodes: set[int] | None = None) -> None:
    """Record the line of every dotted key; repeated mapping keys go to dups (YAML keeps the last).

    A node reached again through an alias is not walked again: keys under it take the line of the key
    that holds the alias (the nearest parent, see _line_of).
    """
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for knode, vnode in node.value:
            key = f"{prefix}.{knode.value}" if prefix else str(knode.value)
            line = knode.start_mark.line + 1
            if key in seen:
                dups.append((key, line))
            seen.add(key)
            out[key] = line
            _map_lines(vnode, key, out, dups, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}[{i}]"
            out.setdefault(key, item.start_mark.line + 1)
            _map_lines(item, key, out, dups, seen_nodes)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses integers longer than any a config needs: str() and repr() of a huge one
    raise (Python's int max str digits), and every message that quotes a value or a key would crash."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(str(node.value)) > MAX_INT_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of more than {MAX_INT_CHARS} characters", node.start_mark)
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _read_yaml(path: Path, file: str) -> tuple[Any, dict[str, int], list[tuple[str, int]]]:
    try:
        with open_regular(path, name=file) as fh:  # a FIFO or a device would hang or never end
            data = fh.read(CONFIG_MAX_BYTES + 1)
        if len(data) > CONFIG_MAX_BYTES:
            raise InputError(f"the config is larger than {CONFIG_MAX_BYTES:,} bytes", file=file)
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
                         file=file) from None
    except OSError as exc:
        raise InputError(f"cannot read the config file: {exc.strerror}", file=file) from None
    lines: dict[str, int] = {}
    dups: list[tuple[str, int]] = []
    loader = None
    try:
        loader = _Loader(text)  # its reader already refuses NUL and other unprintable characters
        node = loader.get_single_node()
        if node is not None:
            _check_aliases(node, file)
            _map_lines(node, "", lines, dups)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "malformed").split())
        raise InputError(f"invalid YAML: {problem}", file=file,
                         line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {' '.join(str(exc).split())}", file=file) from None
    except (ValueError, TypeError, IndexError, OverflowError) as exc:
        # PyYAML's constructors convert tagged scalars with bare int()/float(): `!!float x` (ValueError),
        # an empty `!!float` (IndexError)
        raise InputError(f"invalid YAML: a value cannot be converted ({type(exc).__name__})", file=file,
                         hint="check tagged values such as !!int and !!float") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines, dups


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


class _Parser:
    """Turns the loaded YAML into Config, with file/line/key on every error."""

    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.warnings: list[tuple[int, str]] = []  # (line, text), sorted by line at the end
        self.known_fields = _all_fields()

    def error(self, key: str, message: str, hint: str | None = None) -> InputError:
        return InputError(message, file=self.file, line=_line_of(self.lines, key), key=key, hint=hint)

    def warn(self, key: str, text: str) -> None:
        line = _line_of(self.lines, key)
        loc = f"{self.file}:{line}" if line else self.file
        self.warnings.append((line or 0, f"{loc}: {text}"))

    def check_keys(self, data: Mapping, prefix: str, allowed: tuple[str, ...]) -> None:
        for k in data:
            if k not in allowed:
                key = f"{prefix}.{k}" if prefix else str(k)
                self.warn(key, f"unknown key '{key}'{did_you_mean(str(k), allowed)}; ignored")

    def mapping(self, value: object, key: str, what: str) -> Mapping:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a mapping of {what}, not {_kind(value)}")
        return value

    def fieldmap(self, value: object, key: str) -> FieldMap | None:
        if value is None:
            return None
        out: dict[str, object] = {}
        for k, v in self.mapping(value, key, "field names to dot paths").items():
            sub = f"{key}.{k}"
            if k not in FIELD_NAMES:
                raise self.error(sub, f"unknown field '{k}'{did_you_mean(str(k), FIELD_NAMES)}",
                                 hint="fields are " + ", ".join(FIELD_NAMES))
            if v is None or v == "":
                continue
            if k == "outcome" and isinstance(v, Mapping):
                out["outcome"], out["outcome_values"] = self.outcome_map(v, sub)
                continue
            if not isinstance(v, str):
                hint = "or {path: ..., pass: [...], fail: [...]} / {path: ..., threshold: X}" \
                    if k == "outcome" else None
                raise self.error(sub, f"must be a dot path string, not {_kind(v)}", hint=hint)
            out[k] = v
        return FieldMap(**out)

    def outcome_map(self, spec: Mapping, key: str) -> tuple[str, OutcomeMap]:
        """`outcome: {path, pass: [...], fail: [...], threshold: X}`: the path and how its values read.
        An unknown key is an error here, not a warning: a misread outcome changes every verdict."""
        for k in spec:
            if k not in OUTCOME_MAP_KEYS:
                raise self.error(f"{key}.{k}", f"unknown key '{k}'{did_you_mean(str(k), OUTCOME_MAP_KEYS)}",
                                 hint="outcome takes " + ", ".join(OUTCOME_MAP_KEYS))
        path = spec.get("path")
        if not isinstance(path, str) or not path.strip():
            raise self.error(f"{key}.path", f"must be a dot path string, not {_kind(path)}")
        lists = {name: self.outcome_values(spec.get(name), f"{key}.{name}") for name in ("pass", "fail")}
        if lists["pass"] and lists["fail"] and lists["pass"] & lists["fail"]:
            both = ", ".join(sorted(lists["pass"] & lists["fail"]))
            raise self.error(key, f"values listed as both pass and fail: {both}")
        threshold = spec.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not math.isfinite(threshold)):
            raise self.error(f"{key}.threshold", f"must be a number, not {_kind(threshold)}")
        if not lists["pass"] and not lists["fail"] and threshold is None:
            raise self.error(key, "needs pass and/or fail values, or a threshold")
        return path, OutcomeMap(pass_values=lists["pass"], fail_values=lists["fail"],
                                threshold=None if threshold is None else float(threshold))

    def outcome_values(self, value: object, key: str) -> frozenset[str] | None:
        """A list of scalars (or one), as the JSON spelling they compare in."""
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, (Mapping, list)) or item is None:
                raise self.error(key, "must be a list of values (text, numbers, true/false), "
                                      f"not {_kind(item)}")
        if not items:
            raise self.error(key, "must list at least one value")
        return frozenset(text_form(item).strip() for item in items)

    def format(self, value: object, key: str) -> str | None:
        if value is None:
            return None
        allowed = format_choices()
        if not isinstance(value, str) or value not in allowed:
            near = did_you_mean(value, allowed) if isinstance(value, str) else ""
            raise self.error(key, f"unknown trace format {value!r}{near}",
                             hint="one of " + ", ".join(allowed))
        return value

    def read(self, value: object, key: str) -> ReadOptions | None:
        """read: {scorer, score_threshold, outcome_annotation, duration_unit}: the native readers' choices."""
        if value is None:
            return None
        spec = self.mapping(value, key, "reader options")
        self.check_keys(spec, key, (*READ_TEXT_KEYS, "score_threshold", "duration_unit"))
        for name in READ_TEXT_KEYS:
            if name in spec and (not isinstance(spec[name], str) or not spec[name].strip()):
                raise self.error(f"{key}.{name}", f"must be a name, not {_kind(spec[name])}")
        threshold = spec.get("score_threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not math.isfinite(threshold)):
            raise self.error(f"{key}.score_threshold", f"must be a number, not {_kind(threshold)}")
        unit = spec.get("duration_unit")
        if unit is not None and unit not in DURATION_UNITS:
            raise self.error(f"{key}.duration_unit", f"must be one of {', '.join(DURATION_UNITS)}, "
                                                     f"not {_kind(unit)}")
        return ReadOptions(scorer=spec.get("scorer"), outcome_annotation=spec.get("outcome_annotation"),
                           score_threshold=None if threshold is None else float(threshold),
                           duration_unit=unit)

    def paths(self, value: object, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.error(key, f"must be a path, a glob or a list of them, not {_kind(value)}")
        for i, p in enumerate(items):
            if not isinstance(p, str) or not p.strip():
                sub = key if isinstance(value, str) else f"{key}[{i}]"
                raise self.error(sub, f"must be a non-empty path string, not {_kind(p)}")
        return tuple(items)

    def where(self, value: object, key: str) -> tuple[Matcher, ...]:
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value  # a lone string is a one-element list
        if not isinstance(items, list):
            raise self.error(key, f"must be a list of expressions like 'field == value', not {_kind(value)}")
        out = []
        for i, expr in enumerate(items):
            sub = key if isinstance(value, str) else f"{key}[{i}]"
            if isinstance(expr, (Mapping, list)) or expr is None:
                raise self.error(sub, f"must be an expression like 'field == value', not {_kind(expr)}",
                                 hint="write `- field == value` (a YAML 'field: value' makes a mapping)")
            try:
                out.append(where_mod.parse_matcher(str(expr)))
            except ValueError as exc:
                raise self.error(sub, " ".join(str(exc).split())) from None
        return tuple(out)

    def source(self, value: object, key: str, name: str | None) -> SourceSpec:
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a mapping with path (and optionally where, fields, format), "
                                  f"not {_kind(value)}")
        self.check_keys(value, key, SOURCE_KEYS)
        return SourceSpec(name=name, paths=self.paths(value.get("path"), f"{key}.path"),
                          fields=self.fieldmap(value.get("fields"), f"{key}.fields"),
                          where=self.where(value.get("where"), f"{key}.where"),
                          format=self.format(value.get("format"), f"{key}.format"),
                          read=self.read(value.get("read"), f"{key}.read"))

    def side(self, value: object, key: str, sources: dict[str, SourceSpec]) -> SourceSpec | None:
        if value is None:
            return None
        if isinstance(value, str):
            if value in sources:
                return sources[value]
            names = ", ".join(sources) or "none defined"
            raise self.error(key, f"unknown source '{value}'{did_you_mean(value, sources)}",
                             hint=f"sources: {names}; for a file write {key}: {{path: FILE}}")
        return self.source(value, key, None)

    def metrics(self, value: object) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error("metrics", f"must be a list of metric names, not {_kind(value)}",
                             hint=f"e.g. metrics: [{value}]" if isinstance(value, str) else None)
        if not value:
            self.warn("metrics", "metrics: an empty list runs every default metric")
            return None
        out: list[str] = []
        for i, name in enumerate(value):
            try:
                out.append(check_metric(name))
            except ValueError as exc:
                raise self.error(f"metrics[{i}]", str(exc), hint=metrics_hint()) from None
        return tuple(dict.fromkeys(out))

    def require(self, value: object) -> tuple[Gate, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error("require",
                             f"must be a list of gates like 'regressions <= 0', not {_kind(value)}",
                             hint="write each gate as a list item: `- field <= number`")
        try:
            check_gate_count(sum(expr not in (None, "") for expr in value), "config")
        except InputError as exc:
            raise self.error("require", exc.message, exc.hint) from None
        out = []
        for i, expr in enumerate(value):
            key = f"require[{i}]"
            if expr is None or expr == "":
                continue
            if not isinstance(expr, str):
                raise self.error(key, f"must be a string like 'field <= number', not {_kind(expr)}",
                                 hint="quote the gate; YAML reads 'field: value' as a mapping")
            try:
                out.append(parse_gate(expr, self.known_fields, source="config", index=i))
            except InputError as exc:
                raise self.error(key, exc.message, exc.hint) from None
        return tuple(out)

    def noise(self, value: object) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, v in self.mapping(value, "noise_thresholds", "metric names to numbers").items():
            key = f"noise_thresholds.{name}"
            try:
                check_metric(name)
            except ValueError as exc:
                raise self.error(key, str(exc), hint=metrics_hint()) from None
            try:
                num = float(v) if isinstance(v, (int, float, str)) and not isinstance(v, bool) else None
            except ValueError:
                num = None
            if num is None or not math.isfinite(num) or num < 0:
                raise self.error(key, f"must be a number >= 0, not {_kind(v)}")
            out[str(name)] = num
        return out

    def checked(self, value: object, key: str, check: Callable[[object], Any], default: Any) -> Any:
        """`check(value)` (one of the shared validators above), or `default` when the key is absent."""
        if value is None:
            return default
        try:
            return check(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def per_task(self, value: object) -> float:
        """per_task: {fdr: q} with 0 < q < 1 (default 0.10)."""
        spec = self.mapping(value, "per_task", "per_task settings")
        self.check_keys(spec, "per_task", PER_TASK_KEYS)
        fdr = spec.get("fdr", 0.10)
        if isinstance(fdr, bool) or not isinstance(fdr, (int, float)) or not 0 < fdr < 1:
            raise self.error("per_task.fdr", f"must be a number between 0 and 1, not {_kind(fdr)}")
        return float(fdr)

    def history(self, value: object) -> bool:
        """history: {flaky_counts: bool} (default false): whether a flaky task's regression counts."""
        spec = self.mapping(value, "history", "history settings")
        self.check_keys(spec, "history", HISTORY_KEYS)
        flag = spec.get("flaky_counts", False)
        if not isinstance(flag, bool):
            raise self.error("history.flaky_counts", f"must be true or false, not {_kind(flag)}")
        return flag

    def limits(self, value: object) -> Limits:
        """limits: {max_line_bytes: N, ...}, each within its hard range (kalibra_action/limits.py)."""
        spec = self.mapping(value, "limits", "limit names to integers")
        self.check_keys(spec, "limits", tuple(LIMIT_KEYS))
        for key in LIMIT_KEYS:
            if key in spec and (why := check_limit(key, spec[key])) is not None:
                raise self.error(f"limits.{key}", f"{why}, not {_kind(spec[key])}")
        return Limits(**{k: v for k, v in spec.items() if k in LIMIT_KEYS})

    def config(self, data: object, path: str, base_dir: Path) -> Config:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InputError(f"the top level must be a mapping (sources, baseline, current, require, ...), "
                             f"not {_kind(data)}", file=self.file, line=1)
        self.check_keys(data, "", TOP_KEYS)
        fields = self.fieldmap(data.get("fields"), "fields") or FieldMap()
        legacy = data.get("task_id")
        if legacy is not None:
            if not isinstance(legacy, str):
                raise self.error("task_id", f"must be a dot path string, not {_kind(legacy)}")
            if not fields.task_id:
                fields = fields.merge(FieldMap(task_id=legacy))
        limits = self.limits(data.get("limits"))  # before `warnings` is read below
        sources = {str(name): self.source(spec, f"sources.{name}", str(name))
                   for name, spec in self.mapping(data.get("sources"), "sources", "source names").items()}
        return Config(
            path=path, base_dir=base_dir, sources=sources,
            baseline=self.side(data.get("baseline"), "baseline", sources),
            current=self.side(data.get("current"), "current", sources),
            fields=fields, metrics=self.metrics(data.get("metrics")),
            require=self.require(data.get("require")),
            noise_thresholds=self.noise(data.get("noise_thresholds")),
            resamples=self.checked(data.get("resamples"), "resamples", check_resamples, DEFAULT_RESAMPLES),
            seed=self.checked(data.get("seed"), "seed", check_seed, DEFAULT_SEED),
            on_inconclusive=self.checked(data.get("on_inconclusive"), "on_inconclusive",
                                         check_on_inconclusive, DEFAULT_ON_INCONCLUSIVE),
            fdr=self.per_task(data.get("per_task")), flaky_counts=self.history(data.get("history")),
            warnings=tuple(w for _, w in sorted(self.warnings, key=lambda lw: lw[0])),
            format=self.format(data.get("format"), "format"), limits=limits, lines=self.lines,
            read=self.read(data.get("read"), "read") or ReadOptions())


def find_config(start: Path) -> Path | None:
    """kalibra.yml in start or the nearest parent directory (Kalibra's walk-up discovery)."""
    here = start.resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def _display(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path, cwd)
    except ValueError:
        return str(path)


def load_config(path: str | Path | None, *, required: bool = False) -> Config:
    """Load a config. path None: discover kalibra.yml from the current directory up.

    A missing file is an InputError when required, otherwise the defaults (Config with path None).
    """
    cwd = Path.cwd()
    if path is None:
        found = find_config(cwd)
        if found is None:
            if required:
                raise InputError(f"no {CONFIG_FILENAME} in {cwd} or any parent directory",
                                 hint="pass the config path explicitly")
            return Config(path=None, base_dir=cwd)
        file = _display(found, cwd)
        target = found
    else:
        file = str(path)
        target = Path(path)
        if not target.exists():
            if required:
                raise InputError("config file not found", file=file,
                                 hint="check the path; it is relative to the current directory")
            return Config(path=None, base_dir=cwd)
        if target.is_dir():
            raise InputError("is a directory, not a config file", file=file)
    data, lines, dups = _read_yaml(target, file)
    parser = _Parser(file, lines)
    for key, line in dups:
        parser.warnings.append((line, f"{file}:{line}: duplicate key '{key}'; the last one is used"))
    return parser.config(data, file, cwd)
