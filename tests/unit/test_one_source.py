"""One source for each rule: a gate is parsed once and flows down as the same object; a CLI flag and an action
input accept exactly what the same key in kalibra.yml accepts; the choices and GitHub's size caps are spelled
out in one module each, which the scans below enforce over the package's source."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest

from kalibra_action import cli, gates, limits
from kalibra_action.config import load_config
from kalibra_action.errors import InputError
from kalibra_action.github.artifacts import IF_NO_BASELINE
from kalibra_action.github.settings import COMMENT_MODES, ActionSettings
from kalibra_action.run import RunRequest, load_request_config, request_gates, request_gates_from
from tests.conftest import ROOT

PACKAGE = ROOT / "kalibra_action"


def traces(path: Path, failing: int) -> None:
    rows = [{"trace_id": f"{path.stem}-{t}-{i}", "outcome": "failure" if t < failing else "success",
             "metadata": {"task": f"t{t}"}, "cost": 0.01} for t in range(10) for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    traces(tmp_path / "base.jsonl", 0)
    traces(tmp_path / "cur.jsonl", 0)
    (tmp_path / "kalibra.yml").write_text("fields: {task_id: metadata.task}\n"
                                          "require:\n  - regressions <= 3\n")
    return tmp_path


def call(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out=out, err=err), err.getvalue()


# --- a gate is parsed once --------------------------------------------------------------------------------

def test_a_whole_cli_run_parses_each_gate_exactly_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    split = gates.split_gate

    def counting(expr: str):
        seen.append(expr.strip())
        return split(expr)

    monkeypatch.setattr(gates, "split_gate", counting)
    code, err = call("compare", "base.jsonl", "cur.jsonl", "-r", "success_rate_delta >= -50", "-q",
                     "--format", "json", "--resamples", "200")
    assert code == 0, err
    assert sorted(seen) == ["regressions <= 3", "success_rate_delta >= -50"]  # once each, not again later


def test_the_gate_objects_flow_down_unchanged(tree: Path) -> None:
    req = RunRequest(require=request_gates_from(["cost_delta_pct <= 5"], "cli"))
    config = load_request_config(req)
    [from_config] = config.require
    assert isinstance(from_config, gates.Gate)
    assert (from_config.field, from_config.op, from_config.threshold, from_config.source) == (
        "regressions", "<=", 3.0, "config")
    both = request_gates(config, req)
    assert both[0] is from_config and both[1] is req.require[0]


def test_the_config_gate_error_names_the_line_and_suggests(tree: Path) -> None:
    (tree / "kalibra.yml").write_text("fields: {task_id: metadata.task}\n"
                                      "require:\n  - regresions <= 3\n")
    with pytest.raises(InputError) as exc:
        load_config("kalibra.yml")
    assert exc.value.line == 3 and exc.value.key == "require[0]"
    assert "did you mean 'regressions'" in str(exc.value)


# --- a flag and an input accept what kalibra.yml accepts ------------------------------------------------

def config_error(tmp_path: Path, key: str, value: str) -> str:
    path = tmp_path / "k.yml"
    path.write_text(f"{key}: {value}\n")
    with pytest.raises(InputError) as exc:
        load_config(path, required=True)
    return exc.value.message


@pytest.mark.parametrize(("flag", "key", "value"), [
    ("--resamples", "resamples", "5"),
    ("--resamples", "resamples", "2000000"),
    ("--seed", "seed", "-1"),
    ("--on-inconclusive", "on_inconclusive", "maybe"),
    ("--on-inconclusive", "on_inconclusive", "Fail"),
])
def test_a_cli_flag_refuses_what_the_config_refuses_with_the_same_reason(tree: Path, flag: str, key: str,
                                                                          value: str) -> None:
    reason = config_error(tree, key, value)
    code, err = call("compare", "base.jsonl", "cur.jsonl", f"{flag}={value}")
    assert code == 2 and reason in err and err.count("\n") == 1


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--resamples", "100", 100), ("--resamples", "1_000_000", 1_000_000), ("--seed", "0", 0),
    ("--on-inconclusive", "pass", "pass"),
])
def test_a_cli_flag_accepts_the_config_s_bounds(flag: str, value: str, expected: object) -> None:
    args = cli.build_parser().parse_args(["compare", "a", "b", flag, value])
    assert getattr(args, flag.lstrip("-").replace("-", "_")) == expected


def test_the_action_input_refuses_what_the_config_refuses_with_the_same_reason(tmp_path: Path) -> None:
    reason = config_error(tmp_path, "on_inconclusive", "maybe")
    with pytest.raises(InputError) as exc:
        ActionSettings.from_env({"GITHUB_WORKSPACE": str(tmp_path), "INPUT_ON-INCONCLUSIVE": "maybe"})
    assert str(exc.value) == f"input 'on-inconclusive' {reason}"


# --- each list of choices and each GitHub size is written once ---------------------------------------------

def modules(*under: str) -> list[Path]:
    return sorted(p for d in under for p in (PACKAGE / d).glob("*.py"))


def literal_string_sets(path: Path) -> list[tuple[int, frozenset[str]]]:
    """Every tuple, list or set literal of two or more strings in the module, as a set, with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            out.append((node.lineno, frozenset(e.value for e in node.elts)))  # type: ignore[attr-defined]
        if isinstance(node, ast.Dict) and len(node.keys) >= 2 and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            out.append((node.lineno, frozenset(k.value for k in node.keys)))  # type: ignore[union-attr]
    return out


CHOICES = {  # each list of choices → the one module allowed to spell it out
    frozenset(gates.ON_INCONCLUSIVE): PACKAGE / "gates.py",
    frozenset(COMMENT_MODES): PACKAGE / "github" / "settings.py",
    frozenset(IF_NO_BASELINE): PACKAGE / "github" / "artifacts.py",
}


def test_each_list_of_choices_is_written_in_one_module_once() -> None:
    found: dict[frozenset[str], list[str]] = {choices: [] for choices in CHOICES}
    for path in modules(".", "github", "report", "metrics", "traces"):
        for line, strings in literal_string_sets(path):
            if strings in found:
                found[strings].append(f"{path.relative_to(ROOT)}:{line}")
    for choices, owner in CHOICES.items():
        assert len(found[choices]) == 1 and found[choices][0].startswith(str(owner.relative_to(ROOT))), (
            sorted(choices), found[choices])


def constant_ints(path: Path) -> list[tuple[int, int]]:
    """Each integer the module spells as a literal or constant expression (`1024 * 1024`), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Constant, ast.BinOp)):
            try:
                value = eval(compile(ast.Expression(node), str(path), "eval"), {"__builtins__": {}})
            except Exception:  # a BinOp over names: not a constant
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                out.append((node.lineno, value))
    return out


def test_github_s_size_caps_are_written_only_in_limits() -> None:
    caps = {limits.COMMENT_MAX_CHARS, limits.COMMENT_BUDGET, limits.SUMMARY_MAX_BYTES, limits.SUMMARY_BUDGET}
    # the modules that render or write what GitHub receives
    writers = modules("github", "report", "action", "current_only")
    spelled = [f"{p.relative_to(ROOT)}:{line} {value:,}" for p in writers
               for line, value in constant_ints(p) if value in caps]
    assert spelled == []


def test_the_budgets_leave_room_under_github_s_caps() -> None:
    assert limits.COMMENT_BUDGET < limits.COMMENT_MAX_CHARS
    assert limits.SUMMARY_BUDGET < limits.SUMMARY_MAX_BYTES


def readable(key: str, value: int) -> str:
    """A limit as the README writes it: sizes in KiB / MiB / GiB, counts with thousands separators."""
    if key.endswith("_bytes"):
        for unit, size in (("GiB", limits.GIB), ("MiB", limits.MIB), ("KiB", 1024)):
            if value >= size and value % size == 0:
                return f"{value // size} {unit}"
    return f"{value:,}"


def test_the_readme_limits_table_is_limits_py_s() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n#### Limits\n", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
        elif rows and not line.startswith("|"):
            break
    assert rows == {s.key: (readable(s.key, s.default),
                            f"{readable(s.key, s.low)} – {readable(s.key, s.high)}") for s in limits.SPECS}
