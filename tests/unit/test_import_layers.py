"""Imports follow the data flow: config → traces → stats → metrics → gates → run → report → github → action.

Each module of the package sits in one layer and may import only from its own layer or the layers before
it. The imports are read from the source with `ast` (also those inside functions, which a runtime check
would miss), so a module that reaches "up" the flow fails here before it makes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kalibra_action"

# Layer of each module, by the longest matching prefix of its dotted name (relative to the package).
LAYERS: dict[str, int] = {
    "": 0, "errors": 0, "limits": 0, "paths": 0, "result": 0,  # shared by every layer; import nothing above
    "config": 1,
    "traces": 2,
    "stats": 3,
    "history": 3,  # run summaries and pooled baselines: made from traces, tested with stats
    "metrics": 4,
    "gates": 5,
    "engine": 6, "run": 6, "parallel": 6,
    "current_only.model": 6,  # the current-traces-only report's plain data, as the engine's Result
    "report": 7,
    "github": 8,
    "current_only": 9, "action": 9, "cli": 9, "__main__": 9,
}

# Known imports against the flow, each with the reason it is there. Add to it only with a reason.
EXCEPTIONS = {
    # The config layer parses `fields` and `where` into the trace layer's FieldMap and Matcher types, and
    # checks `require` gates (syntax and field names against the metrics) when it reads kalibra.yml, so that
    # a bad value is reported with the config's file and line before any trace is read.
    ("config", "traces"),
    ("config", "gates"),
    ("config", "metrics"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports, as dotted names relative to the package."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: use absolute imports (kalibra_action.x), not relative ones")
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "kalibra_action":
                out.update(alias.name for alias in node.names)
            elif node.module.startswith("kalibra_action."):
                out.add(node.module.removeprefix("kalibra_action."))
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("kalibra_action.") for a in node.names
                       if a.name.startswith("kalibra_action."))
    return out


def _layer_key(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return key
    if module == "__version__":  # `from kalibra_action import __version__`
        return ""
    raise AssertionError(f"module '{module}' has no layer: add it to LAYERS in {Path(__file__).name}")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _violations() -> list[str]:
    bad = []
    for path in _modules():
        module = _module_name(path)
        here = _layer_key(module)
        for target in sorted(_imports(path)):
            there = _layer_key(target)
            if LAYERS[there] > LAYERS[here] and (here, there) not in EXCEPTIONS:
                bad.append(f"{module} (layer {LAYERS[here]}) imports {target} (layer {LAYERS[there]})")
    return bad


def test_every_module_has_a_layer() -> None:
    for path in _modules():
        _layer_key(_module_name(path))


def test_no_module_imports_up_the_data_flow() -> None:
    assert _violations() == []


def _stats_leaks() -> list[str]:
    """Imports from a stats module of anything outside the stats package."""
    leaks = []
    for path in _modules():
        module = _module_name(path)
        if module.split(".")[0] == "stats":
            leaks += [f"{module} imports {m}" for m in sorted(_imports(path)) if m.split(".")[0] != "stats"]
    return leaks


def test_stats_imports_only_stats() -> None:
    """The statistics room stands alone: numpy, the standard library and its own modules."""
    assert len([p for p in _modules() if _module_name(p).split(".")[0] == "stats"]) >= 7  # __init__ + six
    assert _stats_leaks() == []


def test_the_checks_see_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkers themselves: a stats module importing a metric, even inside a function, is caught."""
    fake = tmp_path / "kalibra_action"
    (fake / "stats").mkdir(parents=True)
    (fake / "stats" / "__init__.py").write_text("")
    (fake / "stats" / "leak.py").write_text(
        "def f():\n    from kalibra_action.metrics.base import Metric\n    return Metric\n")
    (fake / "metrics").mkdir()
    (fake / "metrics" / "base.py").write_text("from kalibra_action.stats import leak\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert _violations() == ["stats.leak (layer 3) imports metrics.base (layer 4)"]
    assert _stats_leaks() == ["stats.leak imports metrics.base"]
