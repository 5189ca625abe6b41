"""The GitHub Action: settings → engine → report → publish → exit code.

The JSON report, the job summary, the annotations and the outputs are written whatever happens to the
comment; a comment that cannot be posted (a fork's read-only token, an API outage) is a warning, and the exit
code stays the gates': 0 passed, 1 a gate failed (0 with `fail-on-gate: false`), 2 bad input.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from kalibra_action.errors import EXIT_GATE_FAILED, EXIT_INPUT_ERROR, EXIT_PASSED, InputError
from kalibra_action.github.client import GitHubClient, GitHubError
from kalibra_action.github.commands import SUMMARY_LIMIT, Commands, append_summary, write_outputs
from kalibra_action.github.comments import StickyComment
from kalibra_action.github.settings import ActionSettings, workspace_relative
from kalibra_action.result import GateStatus, Result

COMMENT_LIMIT = 65_000
FORK_FIX = (
    "The token cannot write to pull request #{pr} (403 Resource not accessible by integration). "
    "A pull request from a fork always gets a read-only GITHUB_TOKEN. "
    "The report is in the job summary and in {report}, and the exit code is the gates'.\n"
    "To get the comment: on same-repository pull requests give the job\n"
    "  permissions:\n    pull-requests: write\n"
    "For forks, split the workflow: the pull_request workflow runs kalibra-action with comment: off and "
    "uploads the traces and the PR number as an artifact; a workflow_run workflow (base-repository token) "
    "downloads them and runs kalibra-action with pr-number. See examples/fork-safe/ in kalibra-action."
)

Engine = Callable[[ActionSettings, Callable[[str], None]], Result]


def run_engine(settings: ActionSettings, log: Callable[[str], None]) -> Result:
    """The engine with the action's inputs; paths are relative to `working-directory`."""
    from kalibra_action.run import RunRequest, execute

    both = bool(settings.baseline and settings.current)
    return execute(RunRequest(
        config_path=settings.config,
        config_required=not both,
        baseline=settings.baseline,
        current=settings.current,
        require=settings.require,
        require_source="action",
        on_inconclusive=settings.on_inconclusive,
        base_dir=settings.base_dir,
    ), status=log)


class Renderer:
    """The report package's renderers, imported when first used."""

    def comment(self, result: Result, extra: Mapping[str, Any], template: Path | None) -> str:
        from kalibra_action.report.render import render_markdown

        return render_markdown(result, template=template, extra=extra, limit=COMMENT_LIMIT)

    def summary(self, result: Result, extra: Mapping[str, Any]) -> str:
        from kalibra_action.report import render

        if hasattr(render, "render_summary"):
            return render.render_summary(result, extra=extra)
        return render.render_markdown(result, extra={**extra, "target": "summary"},
                                      limit=SUMMARY_LIMIT - 65_536)

    def json(self, result: Result) -> str:
        from kalibra_action.report.json import to_json

        return to_json(result)


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
        verdict += " (report only)"
    parts = [f"{len(result.gates) - failed}/{len(result.gates)} gates passed"]
    if inconclusive:
        parts.append(f"{inconclusive} inconclusive")
    parts.append(f"{count_regressions(result)} regressed tasks")
    parts.append(f"{result.baseline.count} baseline vs {result.current.count} current traces")
    return f"{verdict}: " + ", ".join(parts)


def escape_text(text: str) -> str:
    try:
        from kalibra_action.report.escape import md
    except ImportError:  # pragma: no cover - the report package ships it
        import html

        return html.escape(text)
    return md(text, max_len=2000)


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class ActionRun:
    """One run of the action; each step's failure is contained so the report and outputs still appear."""

    def __init__(self, settings: ActionSettings, cmd: Commands, *, engine: Engine, renderer: Renderer,
                 client_factory: Callable[[ActionSettings], GitHubClient]) -> None:
        self.s = settings
        self.cmd = cmd
        self.engine = engine
        self.renderer = renderer
        self.client_factory = client_factory
        self.outputs: dict[str, str] = {
            "passed": "false", "exit-code": str(EXIT_INPUT_ERROR), "regressions": "0",
            "report": "", "comment-url": "", "summary": "",
        }

    # --- steps -------------------------------------------------------------------------------------
    def run(self) -> int:
        try:
            code = self._run()
        except Exception as err:  # a bug must still leave outputs and a readable error
            self.cmd.log(traceback.format_exc())
            self.cmd.error(f"internal error: {type(err).__name__}: {err}", title="kalibra-action")
            code = EXIT_INPUT_ERROR
        self.outputs["exit-code"] = str(code)
        try:
            write_outputs(self.s.output_file, self.outputs)
        except OSError as err:
            self.cmd.warning(f"cannot write the outputs: {err}", title="kalibra-action")
        return code

    def _run(self) -> int:
        s = self.s
        with self.cmd.group("kalibra-action: settings"):
            self._log_settings()
        try:
            template = self._template()
            with self.cmd.group("kalibra-action: compare traces"):
                if not s.base_dir.is_dir():
                    raise InputError(f"working-directory '{s.working_directory}' is not a directory")
                with _cwd(s.base_dir):
                    result = self.engine(s, self.cmd.log)
        except InputError as err:
            return self._input_error(err)
        code = result.exit_code
        if code == EXIT_GATE_FAILED and not s.fail_on_gate:
            code = EXIT_PASSED
        self.outputs.update({
            "passed": "true" if result.passed else "false",
            "regressions": str(count_regressions(result)),
            "summary": summary_line(result, code),
        })
        self._write_report(result)
        self._annotate(result)
        extra = self._extra()
        with self.cmd.group("kalibra-action: job summary"):
            self._write_summary(result, extra)
        with self.cmd.group("kalibra-action: pull request comment"):
            self._publish(result, {**extra, "marker": s.marker, "full_report": self._pointer()}, template)
        self.cmd.log(self.outputs["summary"])
        return code

    def _log_settings(self) -> None:
        s = self.s
        self.cmd.log(f"event: {s.event_name or '-'}  repository: {s.repository or '-'}  api: {s.api_url}")
        self.cmd.log(f"working-directory: {s.working_directory}  config: {s.config}  "
                     f"baseline: {s.baseline or '(config)'}  current: {s.current or '(config)'}")
        self.cmd.log(f"comment: {s.comment} (id {s.comment_id})  pull request: {s.pr_number or '-'}  "
                     f"token: {'set' if s.token else 'not set'}  "
                     f"fail-on-gate: {str(s.fail_on_gate).lower()}  "
                     f"on-inconclusive: {s.on_inconclusive or '(config)'}")
        for gate in s.require:
            self.cmd.log(f"require: {gate}")

    def _template(self) -> Path | None:
        if not self.s.template:
            return None
        path = (self.s.base_dir / self.s.template).resolve()
        if not path.is_file():
            raise InputError("template not found", file=self.s.template)
        return path

    def _input_error(self, err: InputError) -> int:
        s = self.s
        where = None
        if err.file:
            where = workspace_relative(s.base_dir / err.file, s.workspace)
        self.cmd.log(f"error: {err}")
        self.cmd.error(str(err), title="kalibra-action: invalid input", file=where, line=err.line)
        self.outputs["summary"] = f"ERROR: {err}"[:1000]
        try:
            append_summary(s.summary_file, f"### ❌ kalibra-action could not compare the traces\n\n"
                                           f"{escape_text(str(err))}\n")
        except OSError as oserr:
            self.cmd.warning(f"cannot write the job summary: {oserr}", title="kalibra-action")
        return EXIT_INPUT_ERROR

    def _write_report(self, result: Result) -> None:
        path = self.s.report_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.renderer.json(result), encoding="utf-8")
        except OSError as err:
            self.cmd.warning(f"cannot write the JSON report to {self.s.report}: {err}",
                             title="kalibra-action")
            return
        self.outputs["report"] = self.s.report_display
        self.cmd.log(f"JSON report: {self.outputs['report']}")

    def _annotate(self, result: Result) -> None:
        failed = [g for g in result.gates if not g.passed]
        unsure = [g for g in result.gates if g.passed and g.status is GateStatus.INCONCLUSIVE]

        def item(g: Any, verdict: str) -> tuple[str, str]:
            actual = "n/a" if g.actual is None else f"{g.actual:.6g}"
            why = f" ({g.warning})" if g.warning else ""
            return f"Gate {verdict}: {g.expr}", f"{g.expr}: actual {actual}{why}"

        more = "See the job summary."
        self.cmd.annotate_many("error", [item(g, g.status.value.upper()) for g in failed], more=more)
        self.cmd.annotate_many("warning", [item(g, "INCONCLUSIVE") for g in unsure], more=more)

    def _extra(self) -> dict[str, Any]:
        s = self.s
        return {
            "comment_id": s.comment_id, "run_url": s.run_url,
            "report_path": self.outputs["report"] or s.report, "repository": s.repository,
            "event_name": s.event_name, "pr_number": s.pr_number, "sha": s.head_sha,
            "server_url": s.server_url,
        }

    def _pointer(self) -> str:
        """Where a cut list is complete, for the comment's "… N more" lines."""
        report = escape_text(self.outputs["report"] or self.s.report)
        summary = f"[the job summary]({self.s.run_url})" if self.s.run_url else "the job summary"
        return f"{summary} and the JSON report ({report}) have the full list"

    def _write_summary(self, result: Result, extra: Mapping[str, Any]) -> None:
        if self.s.summary_file is None:
            self.cmd.log("no GITHUB_STEP_SUMMARY: job summary skipped")
            return
        try:
            cut = append_summary(self.s.summary_file, self.renderer.summary(result, extra))
        except OSError as err:
            self.cmd.warning(f"cannot write the job summary: {err}", title="kalibra-action")
            return
        self.cmd.log("job summary written" + (" (cut to 1 MiB)" if cut else ""))

    def _comment_body(self, result: Result, extra: Mapping[str, Any], template: Path | None) -> str:
        if template is not None:
            try:
                return self.renderer.comment(result, extra, template)
            except Exception as err:  # a user's template (sandbox, syntax, undefined): fall back to ours
                self.cmd.warning(f"the custom template failed ({err}); the comment uses the built-in one",
                                 title="kalibra-action: template")
        return self.renderer.comment(result, extra, None)

    def _publish(self, result: Result, extra: Mapping[str, Any], template: Path | None) -> None:
        s = self.s
        pr = s.pr_number
        if s.comment == "off":
            self.cmd.log("comment: off")
            return
        if pr is None:
            self.cmd.log(f"no pull request for event '{s.event_name or '-'}' and no pr-number: no comment")
            return
        if not s.token:
            self.cmd.log("no github-token: no comment (the job summary has the report)")
            return
        if not s.repository:
            self.cmd.warning("GITHUB_REPOSITORY is not set: no comment", title="kalibra-action")
            return
        try:
            body = self._comment_body(result, extra, template)
        except InputError as err:
            self.cmd.warning(f"cannot render the comment: {err}", title="kalibra-action: template")
            return
        sticky = StickyComment(self.client_factory(s), s.repository, pr, s.marker)
        try:
            done = sticky.publish(body, mode="recreate" if s.comment == "recreate" else "update")
        except GitHubError as err:
            if err.not_permitted:
                self.cmd.warning(FORK_FIX.format(pr=pr, report=self.outputs["report"] or s.report),
                                 title="kalibra-action: cannot comment on the pull request")
            else:
                self.cmd.warning(f"cannot post the pull request comment: {err}. The job summary and "
                                 f"{self.outputs['report'] or 'the JSON report'} have the report.",
                                 title="kalibra-action: cannot comment on the pull request")
            return
        self.outputs["comment-url"] = done.url
        self.cmd.log(f"comment {done.action}: {done.url}")


def main(env: Mapping[str, str] | None = None, out: TextIO | None = None, *,
         engine: Engine | None = None, renderer: Renderer | None = None,
         client_factory: Callable[[ActionSettings], GitHubClient] | None = None) -> int:
    """Run the action from the runner's environment; returns the exit code."""
    cmd = Commands(out or sys.stdout)
    try:
        settings = ActionSettings.from_env(env)
    except InputError as err:
        cmd.error(str(err), title="kalibra-action: invalid input")
        output_file = (os.environ if env is None else env).get("GITHUB_OUTPUT")
        if output_file:
            write_outputs(Path(output_file), {"passed": "false", "exit-code": str(EXIT_INPUT_ERROR),
                                              "summary": f"ERROR: {err}"[:1000]})
        return EXIT_INPUT_ERROR
    if settings.token:
        cmd.mask(settings.token)

    def default_client(s: ActionSettings) -> GitHubClient:
        return GitHubClient(s.token or "", s.api_url, log=cmd.log)

    return ActionRun(settings, cmd, engine=engine or run_engine, renderer=renderer or Renderer(),
                     client_factory=client_factory or default_client).run()
