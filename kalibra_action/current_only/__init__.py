"""The report when there is no baseline to compare with: the current traces alone, no gates evaluated.

Used by the action when `baseline-artifact` finds nothing and `if-no-baseline` is `warn` or `skip`. The
current side is resolved exactly as a comparison would resolve it (the `current` input, else the config's
`current:`), and the gates are parsed so that a typo still fails the step, but none is evaluated: there is
no baseline to take a delta against. The report says so, says why, and shows plain descriptive numbers.

`model` holds the plain data, `load` reads the traces; the Markdown comes from the templates
(kalibra_action.report.render.render_current_only), the JSON from kalibra_action.report.json.
"""

from kalibra_action.current_only.load import load_current
from kalibra_action.current_only.model import CurrentOnly, describe

__all__ = ["CurrentOnly", "describe", "load_current"]
