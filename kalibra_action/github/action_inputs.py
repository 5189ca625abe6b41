"""The action's inputs and their defaults, exactly as action.yml declares them (in its order).

Generated from action.yml by `make inputs` (scripts/gen_action_inputs.py): edit action.yml, not this file;
tests/contract/test_action_inputs.py fails when the two differ. A default the runner evaluates (`${{ }}`)
is "" here, since without the runner there is nothing to evaluate it with; those inputs are listed in
RUNNER_EVALUATED.
"""

INPUT_DEFAULTS: dict[str, str] = {
    "config": "kalibra.yml",
    "baseline": "",
    "current": "",
    "require": "",
    "github-token": "",
    "comment": "update",
    "comment-id": "kalibra",
    "comment-author": "",
    "on-inconclusive": "warn",
    "fail-on-gate": "true",
    "template": "",
    "pr-number": "",
    "report": "kalibra-report.json",
    "working-directory": ".",
    "baseline-artifact": "",
    "baseline-workflow": "",
    "baseline-branch": "",
    "baseline-path": "**/*.jsonl*",
    "if-no-baseline": "warn",
    "baseline-runs": "1",
}
RUNNER_EVALUATED: tuple[str, ...] = ("github-token",)
