"""Loading the current traces as a comparison would, for the report with no baseline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Status = Callable[[str], None]


def load_current(*, config_path: str, current: str | None, require: tuple[str, ...], base_dir: Any,
                 status: Status | None = None, roots: Any = None) -> tuple[Any, tuple[str, ...]]:
    """The current population as the comparison would load it, and the gate expressions it would check.

    InputError (exit 2) for a bad config, a bad gate, or unreadable traces, as in a comparison.
    """
    from kalibra_action.run import (
        RunRequest,
        load_request_config,
        load_side,
        request_gates,
        request_gates_from,
        resolve_side,
    )

    say = status or (lambda _msg: None)
    req = RunRequest(config_path=config_path, config_required=not current, current=current,
                     require=request_gates_from(require, "action"), base_dir=base_dir, roots=roots)
    config = load_request_config(req)
    if config.path:
        say(f"Using config {config.path}")
    gates = request_gates(config, req)  # a typo in a gate still fails the step
    side = resolve_side("current", current, config, req)
    return load_side(side, say), tuple(g.expr for g in gates)
