"""Write kalibra_action/github/action_inputs.py from action.yml: the action's input names and defaults.

action.yml is the one place the inputs are declared (the runner reads it); the package cannot read it at run
time (it is neither in the wheel nor in the image), so `make inputs` turns it into a Python module, and
tests/contract/test_action_inputs.py fails when the module and action.yml differ.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION_YML = ROOT / "action.yml"
MODULE = ROOT / "kalibra_action" / "github" / "action_inputs.py"

HEADER = '''"""The action's inputs and their defaults, exactly as action.yml declares them (in its order).

Generated from action.yml by `make inputs` (scripts/gen_action_inputs.py): edit action.yml, not this file;
tests/contract/test_action_inputs.py fails when the two differ. A default the runner evaluates (`${{ }}`)
is "" here, since without the runner there is nothing to evaluate it with; those inputs are listed in
RUNNER_EVALUATED.
"""

'''


def local_default(spec: Mapping | None) -> str:
    """The default as a run without the runner sees it: a string, "" for a runner expression."""
    value = (spec or {}).get("default", "")
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return "" if "${{" in text else text


def render(action: Mapping) -> str:
    """The module's text for a loaded action.yml."""
    inputs: Mapping = action.get("inputs") or {}
    lines = [HEADER.rstrip("\n"), "", "INPUT_DEFAULTS: dict[str, str] = {"]
    lines += [f"    {_literal(name)}: {_literal(local_default(spec))}," for name, spec in inputs.items()]
    lines.append("}")
    evaluated = [_literal(n) for n, spec in inputs.items() if "${{" in str((spec or {}).get("default", ""))]
    lines.append(f"RUNNER_EVALUATED: tuple[str, ...] = ({''.join(n + ',' for n in evaluated)})")
    return "\n".join(lines) + "\n"


def _literal(text: str) -> str:
    """A Python string literal in double quotes (JSON's escapes are valid Python)."""
    return json.dumps(str(text))


def main() -> int:
    MODULE.write_text(render(yaml.safe_load(ACTION_YML.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {MODULE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
