"""kalibra.yml parsing: Kalibra's example configs, every error path, warnings and discovery."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kalibra_action import config as config_mod
from kalibra_action.config import Config, SourceSpec, find_config, load_config
from kalibra_action.errors import InputError
from kalibra_action.traces.fields import FieldMap


def exprs(cfg: Config) -> tuple[str, ...]:
    """The config's gates as written (they are parsed into Gate objects on load)."""
    return tuple(g.expr for g in cfg.require)


def write(tmp_path: Path, text: str, name: str = "kalibra.yml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def load_text(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text), required=True)


def error(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_text(tmp_path, text)
    err = info.value
    assert err.file and err.file.endswith("kalibra.yml")
    assert "\n" not in str(err)
    return err


# ── Kalibra's example configs ────────────────────────────────────────────────

@pytest.mark.parametrize(("name", "require"), [
    ("crewai/scenario_cost_explosion.yml", ("token_delta_pct <= 20", "regressions <= 0")),
    ("crewai/scenario_redistribution.yml", ("regressions <= 0",)),
    ("otel_genai/kalibra.yml", ("token_delta_pct <= -10", "regressions <= 2")),
])
def test_example_configs(examples: Path, name: str, require: tuple[str, ...]) -> None:
    cfg = load_config(examples / name, required=True)
    assert exprs(cfg) == require
    assert cfg.fields.task_id == "task.id"
    assert set(cfg.sources) == {"baseline", "current"}
    assert cfg.baseline is cfg.sources["baseline"] and cfg.current is cfg.sources["current"]
    assert cfg.baseline.name == "baseline"
    assert cfg.baseline.paths[0].startswith("examples/") and cfg.baseline.paths == cfg.current.paths
    assert [(m.field, m.op, m.value) for m in cfg.baseline.where] in (
        [("variant", "==", "baseline")], [("variant", "=", "baseline")])
    assert cfg.current.where[0].value == "current"
    assert cfg.metrics is None and cfg.noise_thresholds == {} and cfg.warnings == ()
    assert (cfg.resamples, cfg.seed, cfg.on_inconclusive) == (10_000, 42, "warn")
    assert cfg.path == str(examples / name)


def test_full_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_text(tmp_path, """
sources:
  main:
    path: [runs/a.jsonl, "runs/b-*.jsonl"]
    format: otel-genai
    fields: {outcome: status, cost: usage.cost}
baseline: main
current:
  path: new.jsonl
  where: model == gpt-5
format: flat
fields:
  trace_id: id
task_id: meta.task
metrics: [cost, success_rate, cost]
require:
  - cost_delta_pct <= 5
  -
  - ""
noise_thresholds: {cost: 1, duration: "2.5"}
resamples: 2000
seed: 0
on_inconclusive: fail
""")
    assert cfg.base_dir == tmp_path
    assert cfg.baseline == SourceSpec(name="main", paths=("runs/a.jsonl", "runs/b-*.jsonl"),
                                      fields=FieldMap(outcome="status", cost="usage.cost"),
                                      where=(), format="otel-genai")
    assert cfg.current is not None and cfg.current.name is None and cfg.current.paths == ("new.jsonl",)
    assert len(cfg.current.where) == 1 and cfg.current.where[0].field == "model"  # a lone string → one item
    assert cfg.fields == FieldMap(trace_id="id", task_id="meta.task")
    assert cfg.format == "flat"
    assert cfg.metrics == ("cost", "success_rate")
    assert exprs(cfg) == ("cost_delta_pct <= 5",)
    assert cfg.noise_thresholds == {"cost": 1.0, "duration": 2.5}
    assert (cfg.resamples, cfg.seed, cfg.on_inconclusive) == (2000, 0, "fail")
    assert cfg.line_of("require[0]") == 17
    assert cfg.line_of("current.where") == 10
    assert cfg.line_of("current.nothing.here") == 8


def test_legacy_task_id_does_not_override_fields(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "task_id: legacy\nfields: {task_id: new}\n")
    assert cfg.fields.task_id == "new"


def test_empty_file_and_bom(tmp_path: Path) -> None:
    assert exprs(load_text(tmp_path, "")) == ()
    p = tmp_path / "kalibra.yml"
    p.write_bytes(b"\xef\xbb\xbfrequire: [regressions <= 0]\n")
    assert exprs(load_config(p)) == ("regressions <= 0",)


def test_empty_metrics_list_runs_defaults_with_warning(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "metrics: []\n")
    assert cfg.metrics is None
    assert any("empty list" in w for w in cfg.warnings)


# ── unknown keys: warnings with did-you-mean ─────────────────────────────────

def test_unknown_keys_warn_with_did_you_mean(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, """
requires:
  - regressions <= 0
baseline:
  path: a.jsonl
  wher: [x == 1]
sources:
  s: {path: b.jsonl, formt: flat}
""")
    assert exprs(cfg) == ()
    assert len(cfg.warnings) == 3
    top, base, src = cfg.warnings
    assert top.endswith("kalibra.yml:2: unknown key 'requires' (did you mean 'require'?); ignored")
    assert ":6: unknown key 'baseline.wher' (did you mean 'where'?)" in base
    assert "unknown key 'sources.s.formt' (did you mean 'format'?)" in src


def test_unknown_key_without_suggestion(tmp_path: Path) -> None:
    [w] = load_text(tmp_path, "zebra: 1\n").warnings
    assert "unknown key 'zebra'; ignored" in w and "did you mean" not in w


# ── errors ───────────────────────────────────────────────────────────────────

def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(InputError, match="config file not found") as info:
        load_config(missing, required=True)
    assert info.value.file == str(missing)
    cfg = load_config(missing, required=False)
    assert cfg.path is None and exprs(cfg) == ()


def test_directory_is_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        load_config(tmp_path)


def test_bad_yaml_has_line(tmp_path: Path) -> None:
    err = error(tmp_path, "require:\n  - regressions <= 0\nbaseline: [a, b\ncurrent: x\n")
    assert err.message.startswith("invalid YAML")
    assert err.line == 4
    assert re.match(r".*kalibra\.yml:4: invalid YAML: ", str(err))


def test_bad_yaml_tab_indent(tmp_path: Path) -> None:
    err = error(tmp_path, "require:\n\t- a <= 1\n")
    assert err.line == 2


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "kalibra.yml"
    p.write_bytes(b"require: [\xff]\n")
    with pytest.raises(InputError, match="not UTF-8") as info:
        load_config(p)
    assert info.value.file == str(p)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_mapping(tmp_path: Path, text: str) -> None:
    err = error(tmp_path, text)
    assert "top level must be a mapping" in err.message and err.line == 1


def test_unknown_source_did_you_mean(tmp_path: Path) -> None:
    err = error(tmp_path, "sources:\n  baseline: {path: a}\n  current: {path: b}\nbaseline: basline\n")
    assert err.key == "baseline" and err.line == 4
    assert "unknown source 'basline' (did you mean 'baseline'?)" in err.message
    assert "baseline, current" in (err.hint or "")


def test_source_must_be_mapping(tmp_path: Path) -> None:
    err = error(tmp_path, "sources:\n  a: file.jsonl\n")
    assert err.key == "sources.a" and "mapping" in err.message


def test_unknown_metric_did_you_mean(tmp_path: Path) -> None:
    err = error(tmp_path, "metrics:\n  - cost\n  - sucess_rate\n")
    assert err.key == "metrics[1]" and err.line == 3
    assert "did you mean 'success_rate'?" in err.message


def test_metrics_not_a_list(tmp_path: Path) -> None:
    err = error(tmp_path, "metrics: cost\n")
    assert err.key == "metrics" and "must be a list" in err.message and "[cost]" in (err.hint or "")


def test_where_as_string_is_one_element_list(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "baseline:\n  path: a\n  where: variant == baseline\n")
    assert cfg.baseline is not None and [m.value for m in cfg.baseline.where] == ["baseline"]


def test_where_bad_regex(tmp_path: Path) -> None:
    err = error(tmp_path, "baseline:\n  path: a\n  where:\n    - x == 1\n    - model =~ gpt-(4\n")
    assert err.key == "baseline.where[1]" and err.line == 5
    assert str(err).startswith(f"{err.file}:5: baseline.where[1]: ")


def test_where_mapping_item_gets_a_hint(tmp_path: Path) -> None:
    err = error(tmp_path, "sources:\n  s:\n    path: a\n    where:\n      - variant: baseline\n")
    assert err.key == "sources.s.where[0]" and "field == value" in (err.hint or "")


def test_where_value_containing_operator(tmp_path: Path) -> None:
    """`a = x!=y` (Kalibra bug 14): the first operator wins, so the value is `x!=y`."""
    cfg = load_text(tmp_path, "baseline:\n  path: a\n  where: ['a = x!=y']\n")
    assert cfg.baseline is not None
    [m] = cfg.baseline.where
    assert (m.field, m.op, m.value) == ("a", "=", "x!=y")


@pytest.mark.parametrize(("text", "key", "needle"), [
    ("noise_thresholds: {cost: lots}\n", "noise_thresholds.cost", "must be a number"),
    ("noise_thresholds: {cost: -1}\n", "noise_thresholds.cost", "must be a number >= 0"),
    ("noise_thresholds: {cost: .nan}\n", "noise_thresholds.cost", "must be a number"),
    ("noise_thresholds: {cost: true}\n", "noise_thresholds.cost", "must be a number"),
    ("noise_thresholds: {cots: 1}\n", "noise_thresholds.cots", "did you mean 'cost'"),
    ("noise_thresholds: [1]\n", "noise_thresholds", "must be a mapping"),
    ("require: regressions <= 0\n", "require", "must be a list"),
    ("require:\n  - regressions <= 0\n  - 5\n", "require[1]", "must be a string"),
    ("require:\n  - cost_delta_pct: 5\n", "require[0]", "must be a string"),
    ("require:\n  - regressions <= many\n", "require[0]", "not a number"),
    ("require:\n  - regressions != 0\n", "require[0]", "unsupported operator"),
    ("fields: {task: id}\n", "fields.task", "did you mean 'task_id'"),
    ("fields: {cost: 5}\n", "fields.cost", "dot path string"),
    ("fields: [cost]\n", "fields", "must be a mapping"),
    ("task_id: 5\n", "task_id", "dot path string"),
    ("baseline: {path: a, fields: {outcom: ok}}\n", "baseline.fields.outcom", "did you mean 'outcome'"),
    ("baseline: {path: a, format: otel_genai}\n", "baseline.format", "did you mean 'otel-genai'"),
    ("format: json\n", "format", "unknown trace format"),
    ("baseline: {path: ''}\n", "baseline.path", "non-empty path"),
    ("baseline: {path: []}\n", "baseline.path", "must be a path"),
    ("baseline: {path: [a, 3]}\n", "baseline.path[1]", "non-empty path"),
    ("baseline: 5\n", "baseline", "must be a mapping"),
    ("sources: [a]\n", "sources", "must be a mapping"),
    ("resamples: 50\n", "resamples", "integer between 100"),
    ("resamples: '5000'\n", "resamples", "integer"),
    ("resamples: true\n", "resamples", "integer"),
    ("resamples: 2.5e3\n", "resamples", "integer"),
    ("resamples: 10000000000\n", "resamples", "integer between"),
    ("seed: -1\n", "seed", "integer >= 0"),
    ("seed: abc\n", "seed", "integer"),
    ("on_inconclusive: maybe\n", "on_inconclusive", "warn, fail, pass"),
    ("on_inconclusive: off\n", "on_inconclusive", "not bool False"),
])
def test_value_errors(tmp_path: Path, text: str, key: str, needle: str) -> None:
    err = error(tmp_path, text)
    assert err.key == key
    assert needle in str(err)
    assert err.line is not None


def test_require_error_line_points_at_item(tmp_path: Path) -> None:
    err = error(tmp_path, "# c\nrequire:\n  - regressions <= 0\n  - regressions <=\n")
    assert (err.key, err.line) == ("require[1]", 4)


def test_require_unknown_field_checked_when_registry_present(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from kalibra_action import metrics
    from kalibra_action.metrics.base import FieldSpec

    monkeypatch.setattr(metrics, "METRICS", {"cost": object}, raising=False)
    monkeypatch.setattr(metrics, "all_fields", lambda: {"cost_delta_pct": FieldSpec("x", tested=True)},
                        raising=False)
    err = error(tmp_path, "require:\n  - cost_delta_pc <= 5\n")
    assert err.key == "require[0]" and "did you mean 'cost_delta_pct'" in err.message
    err = error(tmp_path, "metrics: [success_rate]\n")  # the registry, not Kalibra's list, decides
    assert "unknown metric" in err.message


# ── discovery and base_dir ───────────────────────────────────────────────────

def test_find_config_walks_up(tmp_path: Path) -> None:
    write(tmp_path, "require: [regressions <= 0]\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == (tmp_path / "kalibra.yml").resolve()
    (tmp_path / "a" / "kalibra.yml").mkdir()  # a directory named kalibra.yml is not a config
    assert find_config(deep) == (tmp_path / "kalibra.yml").resolve()


def test_load_config_discovers_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "require: [regressions <= 0]\n")
    deep = tmp_path / "sub"
    deep.mkdir()
    monkeypatch.chdir(deep)
    cfg = load_config(None)
    assert exprs(cfg) == ("regressions <= 0",)
    assert cfg.path == str(Path("..") / "kalibra.yml")
    assert cfg.base_dir == deep  # paths resolve from the current directory, as with Kalibra


def test_load_config_none_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_mod, "find_config", lambda start: None)
    assert load_config(None) == Config(path=None, base_dir=tmp_path)
    with pytest.raises(InputError, match=r"no kalibra\.yml"):
        load_config(None, required=True)


def test_duplicate_key_warns(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "require: [regressions <= 0]\nseed: 1\nrequire: [regressions <= 5]\n")
    assert exprs(cfg) == ("regressions <= 5",)
    [w] = cfg.warnings
    assert w.endswith("kalibra.yml:3: duplicate key 'require'; the last one is used")
    assert cfg.line_of("require") == 3


def test_per_task_fdr(tmp_path: Path) -> None:
    assert load_text(tmp_path, "per_task: {fdr: 0.05}\n").fdr == 0.05
    assert load_text(tmp_path, "require: []\n").fdr == 0.10
    err = error(tmp_path, "per_task:\n  fdr: 2\n")
    assert "per_task.fdr" in str(err) and ":2:" in str(err)
    assert "did you mean 'fdr'" in " ".join(load_text(tmp_path, "per_task: {fdrr: 0.1}\n").warnings)
