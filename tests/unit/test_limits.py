"""Limits on untrusted input: the `limits:` section, YAML alias bombs, long lines and gzip bombs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kalibra_action.config import Config, load_config
from kalibra_action.errors import InputError
from kalibra_action.limits import DEFAULT_LIMITS, YAML_MAX_ALIAS_NODES, Limits
from kalibra_action.traces.load import load_population


def exprs(cfg: Config) -> tuple[str, ...]:
    """The config's gates as written (they are parsed into Gate objects on load)."""
    return tuple(g.expr for g in cfg.require)


def write(tmp_path: Path, text: str, name: str = "kalibra.yml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def config_error(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_config(write(tmp_path, text), required=True)
    assert "\n" not in str(info.value)
    return info.value


def laughs(levels: int, width: int = 9) -> str:
    """The classic alias bomb: each level lists the previous one `width` times."""
    lines = ['l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# ── YAML ─────────────────────────────────────────────────────────────────────

def test_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    err = config_error(tmp_path, laughs(12))  # 9**12 ≈ 2.8e11 nodes when expanded
    assert "aliases expand to" in err.message and f"limit of {YAML_MAX_ALIAS_NODES:,}" in err.message


def test_aliases_within_the_budget_still_work_with_line_numbers(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, (
        "sources:\n"
        "  main: &src\n"
        "    path: runs/*.jsonl\n"
        "    where: [outcome == success]\n"
        "baseline: *src\n"
        "current: {path: cur.jsonl}\n"
        "require: [&g 'regressions <= 1', *g]\n")), required=True)
    assert cfg.baseline.paths == ("runs/*.jsonl",)
    assert cfg.line_of("sources.main.where[0]") == 4
    assert cfg.line_of("baseline.path") == 5  # under an alias: the line of the key holding it
    assert exprs(cfg) == ("regressions <= 1", "regressions <= 1")


def test_budget_counts_expanded_nodes_not_anchors(tmp_path: Path) -> None:
    load_config(write(tmp_path, laughs(3)), required=True)  # 9**3 = 729 nodes: fine
    assert "aliases expand" in config_error(tmp_path, laughs(5)).message  # 59,049: over


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: [1, {c: *a}]}\n"])
def test_an_alias_inside_its_own_anchor_is_an_error(tmp_path: Path, text: str) -> None:
    err = config_error(tmp_path, text)
    assert "refers to a node that contains it" in err.message and err.line == 1


def test_deeply_nested_yaml_is_an_error_not_a_recursion_crash(tmp_path: Path) -> None:
    err = config_error(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in err.message


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    err = config_error(tmp_path, "# pad\n" * 300_000)
    assert "larger than" in err.message


def test_line_mapping_walks_each_node_once(tmp_path: Path) -> None:
    """The line map of a document at the budget's edge is as big as the file, not as the expansion."""
    cfg = load_config(write(tmp_path, laughs(3)), required=True)  # 729 expanded leaves
    assert len(cfg.lines) < 100


# ── limits: section ──────────────────────────────────────────────────────────

def test_limits_section_sets_and_checks_each_limit(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "limits:\n  max_tasks: 500\n  max_line_bytes: 4096\n"), required=True)
    assert cfg.limits == Limits(max_tasks=500, max_line_bytes=4096)
    assert load_config(write(tmp_path, "require: []\n"), required=True).limits == DEFAULT_LIMITS


@pytest.mark.parametrize(("text", "key"), [
    ("limits:\n  max_tasks: 99999999999\n", "limits.max_tasks"),
    ("limits:\n  max_line_bytes: 12\n", "limits.max_line_bytes"),
    ("limits:\n  max_decompressed_bytes: '1e12'\n", "limits.max_decompressed_bytes"),
    ("limits:\n  max_span_names: true\n", "limits.max_span_names"),
    ("limits: 5\n", "limits"),
])
def test_limit_outside_its_hard_range_is_an_error_on_its_line(tmp_path: Path, text: str, key: str) -> None:
    err = config_error(tmp_path, text)
    assert err.key == key and err.line == (2 if "\n  " in text else 1)


def test_unknown_limit_is_a_warning_with_did_you_mean(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "limits:\n  max_task: 50\n"), required=True)
    assert any("limits.max_task" in w and "max_tasks" in w for w in cfg.warnings)


# ── trace files ──────────────────────────────────────────────────────────────

def row(i: int, pad: int = 0) -> str:
    return json.dumps({"trace_id": f"t{i}", "outcome": "success", "pad": "x" * pad}) + "\n"


@pytest.mark.parametrize("name", ["long.jsonl", "long.jsonl.gz"])
def test_line_over_the_limit_names_file_line_and_limit(tmp_path: Path, name: str) -> None:
    text = row(1) + row(2, pad=5000) + row(3)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(tmp_path / name, "wt") as f:
        f.write(text)
    with pytest.raises(InputError) as info:
        load_population([name], label="b", base_dir=tmp_path, limits=Limits(max_line_bytes=4096))
    assert str(info.value).startswith(f"{name}:2: line longer than 4,096 characters (limits.max_line_bytes)")


def test_line_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    line = row(1, pad=0)
    limit = len(line) - 1  # without the newline
    (tmp_path / "a.jsonl").write_text(line + line.replace("t1", "t2"))
    pop = load_population(["a.jsonl"], label="b", base_dir=tmp_path, limits=Limits(max_line_bytes=limit))
    assert len(pop) == 2


def test_decompressed_cap_counts_bytes_not_lines(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.writelines(row(i) for i in range(40_000))  # ~2 MB unpacked, short lines
    with pytest.raises(InputError) as info:
        load_population(["a.jsonl.gz"], label="b", base_dir=tmp_path,
                        limits=Limits(max_decompressed_bytes=1 << 20))
    assert info.value.file == "a.jsonl.gz" and "limits.max_decompressed_bytes" in info.value.message
    assert len(load_population(["a.jsonl.gz"], label="b", base_dir=tmp_path)) == 40_000


def test_bad_utf8_is_still_located_with_the_bounded_reader(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(row(1).encode() + b'{"trace_id": "\xff"}\n')
    with pytest.raises(InputError) as info:
        load_population(["a.jsonl"], label="b", base_dir=tmp_path)
    assert info.value.line == 2 and "0xff" in info.value.message


# ── span names ───────────────────────────────────────────────────────────────

def test_span_names_beyond_the_cap_keep_the_most_frequent(tmp_path: Path) -> None:
    from kalibra_action.metrics import make_metric
    from kalibra_action.metrics.base import StatsOptions

    def side(name: str) -> None:
        rows = []
        for t in range(12):
            spans = [{"span_id": f"s{t}-{k}", "name": f"step-{k:02d}", "start_ns": 0, "end_ns": 10**9,
                      "cost": 0.01} for k in range(30) for _ in range(1 + (k < 5))]  # step-00..04: twice
            for j, s in enumerate(spans):
                s["span_id"] += f"-{j}"
            rows.append({"trace_id": f"{name}{t}", "outcome": "success", "spans": spans})
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    side("b")
    side("c")
    b, c = (load_population([f"{n}.jsonl"], label=n, base_dir=tmp_path) for n in "bc")
    metric = make_metric("span_breakdown", options=StatsOptions(resamples=200), max_span_names=5)
    obs = metric.compare(b, c)
    assert sorted(obs.metadata["per_span"]) == [f"step-{k:02d}" for k in range(5)]
    assert any("30 span names" in w and "limits.max_span_names" in w for w in obs.warnings)
