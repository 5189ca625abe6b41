"""The GitHub Action: settings → engine → report → publish → exit code.

The JSON report, the job summary, the annotations and the outputs are written whatever happens to the
comment; a comment that cannot be posted (a fork's read-only token, an API outage) is a warning, and the exit
code stays the gates': 0 passed, 1 a gate failed (0 with `fail-on-gate: false`), 2 bad input.

Before writing to a pull request the action checks that it may (kalibra_action.github.target): in a
`workflow_run` event PR N must have the triggering run's head commit and repository, on `pull_request` events
`pr-number` may only name the event's PR. A refusal writes no comment, keeps the verdict in the summary and
the outputs, and exits 2, so a PR number pointed at someone else's pull request fails the job visibly.

With `baseline-artifact`, the baseline is first downloaded from the newest good run on the base branch into a
temporary directory (removed again after the comparison), and its provenance goes into the comment, the
summary and the JSON report. When there is none, `if-no-baseline` decides: `fail` exits 2, `warn` and `skip`
report the current traces alone with no gate evaluated (kalibra_action.current_only).

The modules: `runner` (main, ActionRun: which path, and errors), `baseline` (the artifact), `compare` and
`current` (the two paths), `publish` (outputs, JSON report, job summary, comment and error notices, shared
by both paths).
"""

from kalibra_action.action.publish import Renderer
from kalibra_action.action.runner import ActionRun, main

__all__ = ["ActionRun", "Renderer", "main"]
