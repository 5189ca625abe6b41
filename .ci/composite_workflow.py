"""Print composite/action.yml's steps as a reusable workflow, so that actionlint (which reads workflows
only) checks their expressions, contexts and step ids; .ci/actionlint.sh lints the result."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def as_workflow(action: dict) -> dict:
    inputs = {name: {"type": "string", "required": False,
                     "default": "" if "${{" in str(spec.get("default", "")) else str(spec.get("default", ""))}
              for name, spec in action["inputs"].items()}
    return {"name": f"{action['name']} (steps, for actionlint)", "on": {"workflow_call": {"inputs": inputs}},
            "jobs": {"composite": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}}}


if __name__ == "__main__":
    action = yaml.safe_load((ROOT / "composite" / "action.yml").read_text(encoding="utf-8"))
    sys.stdout.write(yaml.safe_dump(as_workflow(action), sort_keys=False, width=200))
