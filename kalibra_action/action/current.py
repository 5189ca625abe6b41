"""The current-only path: no baseline artifact was found and `if-no-baseline` is `warn` or `skip`, so the
current traces are described alone, no gate is evaluated, and the run exits 0 (2 when the pull request was
refused)."""

from __future__ import annotations

from kalibra_action.action.publish import Publisher
from kalibra_action.current_only import CurrentOnly, describe, load_current
from kalibra_action.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from kalibra_action.github.artifacts import NoBaseline


def load(pub: Publisher, missing: NoBaseline) -> CurrentOnly:
    """The current traces as a comparison would load them (a bad gate or trace file is still exit 2)."""
    s = pub.s
    pop, gates = load_current(config_path=s.config, current=s.current, require=s.require,
                              base_dir=s.base_dir, status=pub.cmd.log, roots=s.roots)
    _write_history(pub, pop)
    looked_for = {"artifact": s.baseline_artifact or "", "workflow": s.baseline_workflow or "",
                  "branch": s.baseline_branch or ""}
    return describe(pop, reason=missing.reason, policy=s.if_no_baseline, gates=gates, looked_for=looked_for)


def _write_history(pub: Publisher, pop) -> None:
    """The history summary also on a run without a baseline: the first runs of a base branch start it."""
    import hashlib
    from pathlib import Path

    from kalibra_action.action.compare import history_path
    from kalibra_action.run import write_history

    s = pub.s
    config = Path(s.config)  # the runner is in working-directory here
    digest = hashlib.sha256(config.read_bytes() if config.is_file() else b"").hexdigest()
    write_history(history_path(s), pop, digest=digest, meta=(s.run_id or None, s.sha or None),
                  roots=s.roots, say=pub.cmd.log)


def summary_line(report: CurrentOnly) -> str:
    """The `summary` output: one line."""
    return (f"NO BASELINE: {report.count} current traces reported alone, "
            f"{len(report.gates)} gates not evaluated — {report.reason}")[:1000]


def publish_current_only(pub: Publisher, report: CurrentOnly) -> int:
    """Outputs, JSON report, job summary and comment for the current traces alone."""
    s, cmd = pub.s, pub.cmd
    pub.outputs.update({"passed": "true", "regressions": "", "summary": summary_line(report)})
    pub.write_report(pub.renderer.current_only_json(report))
    extra = pub.extra()
    with cmd.group("kalibra-action: job summary"):
        pub.write_summary(lambda: pub.renderer.current_only(report, extra, summary=True))
    if s.template:
        cmd.log("no baseline: the comment uses the built-in current-only report, not the template")
    with cmd.group("kalibra-action: pull request comment"):
        pub.comment(lambda: pub.renderer.current_only(report, {**extra, "marker": s.marker}))
    cmd.log(pub.outputs["summary"])
    return EXIT_INPUT_ERROR if pub.refused else EXIT_PASSED
