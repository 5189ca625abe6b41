"""The compare path: the engine on the two populations, then its verdict published (outputs, JSON report,
annotations, job summary, comment); the exit code is the gates' (0 with `fail-on-gate: false`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kalibra_action.action.publish import Publisher
from kalibra_action.errors import EXIT_GATE_FAILED, EXIT_INPUT_ERROR, EXIT_PASSED
from kalibra_action.github.commands import Commands
from kalibra_action.github.settings import ActionSettings
from kalibra_action.result import GateStatus, Result

Engine = Callable[[ActionSettings, Callable[[str], None]], Result]


def run_engine(settings: ActionSettings, log: Callable[[str], None]) -> Result:
    """The engine with the action's inputs; paths are relative to `working-directory`."""
    from kalibra_action.run import RunRequest, execute, request_gates_from

    both = bool(settings.baseline and settings.current)
    history = settings.history
    return execute(RunRequest(
        history_runs=history.runs if history is not None else (),
        history_skipped=history.skipped if history is not None else (),
        newest_hash=history.newest_hash if history is not None else None,
        newest_meta=history.newest if history is not None else (None, None, None),
        history_out=str(history_path(settings)),
        history_meta=(settings.run_id or None, settings.sha or None),
        config_path=settings.config,
        config_required=not both,
        baseline=settings.baseline,
        current=settings.current,
        require=request_gates_from(settings.require, "action"),
        on_inconclusive=settings.on_inconclusive,
        base_dir=settings.base_dir,
        roots=settings.roots,
    ), status=log)


def history_path(settings: ActionSettings) -> Path:
    """Where the action writes the current run's history summary: next to the JSON report
    (`kalibra-report.json` → `kalibra-report.history.json`)."""
    report = settings.report_path
    return report.with_name(report.stem + ".history.json")


def count_regressions(result: Result) -> int:
    obs = result.observations.get("trace_breakdown")
    if obs is None:
        return 0
    fv = obs.fields.get("regressions")
    if fv is not None and fv.value is not None:
        return int(fv.value)
    return len(obs.metadata.get("regressions") or [])


def summary_line(result: Result, exit_code: int) -> str:
    """One line for the `summary` output: the verdict and the counts."""
    failed = sum(not g.passed for g in result.gates)
    inconclusive = sum(g.status is GateStatus.INCONCLUSIVE for g in result.gates)
    verdict = "PASS" if result.passed else "FAIL"
    if not result.passed and exit_code == 0:
        verdict += " - report only"  # outputs keep to shell-inert characters: no parentheses
    parts = [f"{len(result.gates) - failed}/{len(result.gates)} gates passed"]
    if inconclusive:
        parts.append(f"{inconclusive} inconclusive")
    parts.append(f"{count_regressions(result)} regressed tasks")
    parts.append(f"{result.baseline.count} baseline vs {result.current.count} current traces")
    return f"{verdict}: " + ", ".join(parts)


def publish_comparison(pub: Publisher, result: Result, *, template: Path | None,
                       provenance: Mapping[str, Any] | None) -> int:
    """Outputs, JSON report, annotations, job summary and comment for a comparison; the exit code."""
    s, cmd = pub.s, pub.cmd
    code = result.exit_code
    if code == EXIT_GATE_FAILED and not s.fail_on_gate:
        code = EXIT_PASSED
    pub.outputs.update({
        "passed": "true" if result.passed else "false",
        "regressions": str(count_regressions(result)),
        "summary": summary_line(result, code),
    })
    pub.write_report(_report_json(pub, result, provenance))
    annotate(cmd, result)
    extra = pub.extra(provenance)
    with cmd.group("kalibra-action: job summary"):
        pub.write_summary(lambda: pub.renderer.summary(result, extra))
    comment_extra = {**extra, "marker": s.marker, "full_report": pub.pointer()}
    with cmd.group("kalibra-action: pull request comment"):
        pub.comment(lambda: _comment_body(pub, result, comment_extra, template))
    cmd.log(pub.outputs["summary"])
    return EXIT_INPUT_ERROR if pub.refused else code


def _report_json(pub: Publisher, result: Result, provenance: Mapping[str, Any] | None) -> str:
    """The comparison's JSON report, plus where the baseline came from when it was an artifact."""
    text = pub.renderer.json(result)
    if provenance is not None:
        data = json.loads(text)
        if isinstance(data, dict):
            data["baseline_provenance"] = provenance
            text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False)
    return text


def annotate(cmd: Commands, result: Result) -> None:
    """An error annotation per failed gate, a warning per inconclusive one that passed."""
    failed = [g for g in result.gates if not g.passed]
    unsure = [g for g in result.gates if g.passed and g.status is GateStatus.INCONCLUSIVE]

    def item(g: Any, verdict: str) -> tuple[str, str]:
        actual = "n/a" if g.actual is None else f"{g.actual:.6g}"
        why = f" ({g.warning})" if g.warning else ""
        return f"Gate {verdict}: {g.expr}", f"{g.expr}: actual {actual}{why}"

    more = "See the job summary."
    cmd.annotate_many("error", [item(g, g.status.value.upper()) for g in failed], more=more)
    cmd.annotate_many("warning", [item(g, "INCONCLUSIVE") for g in unsure], more=more)


def _comment_body(pub: Publisher, result: Result, extra: Mapping[str, Any], template: Path | None) -> str:
    """The comment from the custom template; the built-in one when there is none or it fails."""
    if template is not None:
        try:
            return pub.renderer.comment(result, extra, template, root=pub.s.workspace)
        except Exception as err:  # a user's template (sandbox, syntax, undefined): fall back to ours
            pub.cmd.warning(f"the custom template failed ({err}); the comment uses the built-in one",
                            title="kalibra-action: template")
    return pub.renderer.comment(result, extra, None)
