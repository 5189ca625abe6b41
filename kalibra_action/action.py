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
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from kalibra_action.current_only import CurrentOnly
from kalibra_action.errors import EXIT_GATE_FAILED, EXIT_INPUT_ERROR, EXIT_PASSED, InputError
from kalibra_action.github.artifacts import (
    STALE_DAYS,
    BaselineArtifact,
    NoBaseline,
    fetch_baseline,
    if_no_baseline,
)
from kalibra_action.github.client import GitHubClient, GitHubError
from kalibra_action.github.commands import (
    Commands,
    append_summary,
    output_is_safe,
    write_outputs,
)
from kalibra_action.github.comments import CommentResult, StickyComment, author_of
from kalibra_action.github.identity import Identity, cached_identity
from kalibra_action.github.provenance import age_text, provenance_extra, render_provenance, with_provenance
from kalibra_action.github.settings import ActionSettings, workspace_relative
from kalibra_action.github.target import TargetRefused, check_pr_input, verify_workflow_run
from kalibra_action.limits import COMMENT_BUDGET, SUMMARY_BUDGET
from kalibra_action.paths import confine, make_roots, write_text
from kalibra_action.result import GateStatus, Result

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

ACTIONS_READ_FIX = (
    "give the job `permissions: actions: read` (with `contents: read`), and check that "
    "baseline-workflow names the workflow that uploads the artifact"
)
Engine = Callable[[ActionSettings, Callable[[str], None]], Result]


def run_engine(settings: ActionSettings, log: Callable[[str], None]) -> Result:
    """The engine with the action's inputs; paths are relative to `working-directory`."""
    from kalibra_action.run import RunRequest, execute, request_gates_from

    both = bool(settings.baseline and settings.current)
    return execute(RunRequest(
        config_path=settings.config,
        config_required=not both,
        baseline=settings.baseline,
        current=settings.current,
        require=request_gates_from(settings.require, "action"),
        on_inconclusive=settings.on_inconclusive,
        base_dir=settings.base_dir,
        roots=settings.roots,
    ), status=log)


class Renderer:
    """The report package's renderers, imported when first used."""

    def comment(self, result: Result, extra: Mapping[str, Any], template: Path | None,
                root: Path | None = None) -> str:
        """The comment; a custom `template` must lie inside `root` (the workspace), see report.sandbox."""
        from kalibra_action.report.render import render_markdown

        if template is not None:  # a custom template places (or leaves out) the provenance partial itself
            return render_markdown(result, template=template, extra=extra, limit=COMMENT_BUDGET, root=root)
        block = render_provenance(extra)
        body = render_markdown(result, extra=extra, limit=COMMENT_BUDGET - len(block))
        return with_provenance(body, block)

    def summary(self, result: Result, extra: Mapping[str, Any]) -> str:
        from kalibra_action.report import render

        block = render_provenance(extra)
        if hasattr(render, "render_summary"):
            room = SUMMARY_BUDGET - len(block.encode())
            body = render.render_summary(result, extra=extra, limit=room)
        else:
            body = render.render_markdown(result, extra={**extra, "target": "summary"},
                                          limit=SUMMARY_BUDGET)
        return with_provenance(body, block)

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
        verdict += " - report only"  # outputs keep to shell-inert characters: no parentheses
    parts = [f"{len(result.gates) - failed}/{len(result.gates)} gates passed"]
    if inconclusive:
        parts.append(f"{inconclusive} inconclusive")
    parts.append(f"{count_regressions(result)} regressed tasks")
    parts.append(f"{result.baseline.count} baseline vs {result.current.count} current traces")
    return f"{verdict}: " + ", ".join(parts)


def scrub(token: str | None, text: str, *, limit: int = 300, one_line: bool = True) -> str:
    """Text from an exception, safe to show: the token replaced, control characters dropped, capped."""
    if token:
        text = text.replace(token, "***")
    if one_line:
        text = text.strip().split("\n", 1)[0]
    text = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and ch not in "\u2028\u2029"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        self.provenance: dict[str, Any] | None = None  # the baseline artifact's, when one was used
        self.refused = False  # the PR may not be written to (github.target): exit 2 whatever the gates say

    # --- steps -------------------------------------------------------------------------------------
    def run(self) -> int:
        try:
            code = self._run()
        except Exception as err:  # a bug must still leave outputs, the summary and no stale verdict
            code = self._internal_error(err)
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
        fetched: BaselineArtifact | None = None
        alone: CurrentOnly | None = None
        try:
            self._check_paths()
            template = self._template()
            engine_settings = s
            if s.baseline_artifact:
                with self.cmd.group("kalibra-action: baseline artifact"):
                    fetched, missing = self._fetch_baseline()
                if missing is not None:
                    with self.cmd.group("kalibra-action: current traces only"), _cwd(s.base_dir):
                        alone = self._load_current_only(missing)
                else:
                    engine_settings = replace(s, baseline=self._baseline_spec(fetched),
                                              artifact_dir=Path(fetched.directory))
            if alone is None:
                with self.cmd.group("kalibra-action: compare traces"), _cwd(s.base_dir):
                    log = self.cmd.log
                    if fetched is not None:
                        def log(msg: str, _f: BaselineArtifact = fetched) -> None:
                            self.cmd.log(self._strip_dir(msg, _f))
                    try:
                        result = self.engine(engine_settings, log)
                    except InputError as err:
                        raise self._artifact_error(err, fetched) from None
                if fetched is not None:
                    self._relabel(result, fetched)
        except InputError as err:
            return self._input_error(err)
        finally:
            if fetched is not None:  # the extracted artifact lives only as long as the comparison
                shutil.rmtree(Path(fetched.directory).parent, ignore_errors=True)
        if alone is not None:
            return self._report_current_only(alone)
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
            self._write_summary(lambda: self.renderer.summary(result, extra))
        comment_extra = {**extra, "marker": s.marker, "full_report": self._pointer()}
        with self.cmd.group("kalibra-action: pull request comment"):
            self._publish(lambda: self._comment_body(result, comment_extra, template))
        self.cmd.log(self.outputs["summary"])
        return EXIT_INPUT_ERROR if self.refused else code

    # --- the baseline artifact ---------------------------------------------------------------------
    def _fetch_baseline(self) -> tuple[BaselineArtifact | None, NoBaseline | None]:
        """Download the baseline artifact; (None, NoBaseline) when there is none and the policy allows it."""
        s = self.s
        assert s.baseline_artifact and s.baseline_workflow and s.baseline_branch
        if not s.token:
            raise InputError("input 'baseline-artifact' needs input 'github-token' to read the artifacts",
                             hint=ACTIONS_READ_FIX)
        if not s.repository:
            raise InputError("GITHUB_REPOSITORY is not set: cannot look for the baseline artifact")
        self.cmd.log(f"looking for artifact '{s.baseline_artifact}' from the newest successful run of "
                     f"workflow '{s.baseline_workflow}' on branch '{s.baseline_branch}' "
                     f"(files: {s.baseline_path}; if none: {s.if_no_baseline})")
        try:
            got = fetch_baseline(self.client_factory(s), s.repository, artifact=s.baseline_artifact,
                                 workflow=s.baseline_workflow, branch=s.baseline_branch,
                                 path_glob=s.baseline_path)
        except NoBaseline as err:
            line = if_no_baseline(s.if_no_baseline, err)  # `fail`: InputError, exit 2
            self.cmd.log(line)
            title = "kalibra-action: no baseline"
            if s.if_no_baseline == "warn":
                self.cmd.warning(line, title=title)
            else:
                self.cmd.notice(line, title=title)
            return None, err
        except GitHubError as err:
            fix = ACTIONS_READ_FIX if err.status in (401, 403, 404) else None
            raise InputError(f"cannot fetch the baseline artifact '{s.baseline_artifact}': {err}",
                             hint=fix) from None
        except InputError as err:  # an unsafe or oversized archive, no file matching baseline-path
            raise InputError(f"baseline artifact '{s.baseline_artifact}': {err.message}",
                             hint=err.hint) from None
        try:
            self._note_provenance(got)
        except BaseException:
            shutil.rmtree(Path(got.directory).parent, ignore_errors=True)
            raise
        return got, None

    def _note_provenance(self, got: BaselineArtifact) -> None:
        s = self.s
        p = got.provenance
        self.provenance = provenance_extra(p, server_url=s.server_url, repository=s.repository)
        self.cmd.log(f"baseline: artifact '{p.artifact}' from run #{self.provenance['run_number']} "
                     f"({p.run_url or p.run_id}) on '{p.branch}' at {p.commit[:12]}, created {p.created_at} "
                     f"({age_text(p.age_days)} ago); {len(got.paths)} file(s)")
        if p.stale:
            self.cmd.warning(f"the baseline artifact '{p.artifact}' is {age_text(p.age_days)} old (run "
                             f"#{self.provenance['run_number']} on {p.branch}), more than {STALE_DAYS} days: "
                             "re-run the workflow that uploads it on that branch",
                             title="kalibra-action: stale baseline")

    def _baseline_spec(self, fetched: BaselineArtifact | None) -> str:
        """The engine's `baseline`: the one extracted file, or the glob under the extraction directory."""
        assert fetched is not None
        if len(fetched.paths) == 1:
            return str(Path(fetched.paths[0]).resolve())
        return f"{glob.escape(str(Path(fetched.directory).resolve()))}/{self.s.baseline_path}"

    @staticmethod
    def _strip_dir(text: str, fetched: BaselineArtifact) -> str:
        """Paths under the (temporary, soon removed) extraction directory, shown inside the artifact."""
        root = str(Path(fetched.directory).resolve())
        return text.replace(root + os.sep, f"{fetched.provenance.artifact}:").replace(root, "")

    def _artifact_error(self, err: InputError, fetched: BaselineArtifact | None) -> InputError:
        """An input error about an extracted file names it inside the artifact, not by a temporary path."""
        if fetched is None or not err.file or self._strip_dir(err.file, fetched) == err.file:
            return err
        return InputError(f"baseline {self._strip_dir(err.file, fetched)}"
                          f"{f':{err.line}' if err.line is not None else ''}: {err.message}",
                          key=err.key, hint=err.hint)

    def _relabel(self, result: Result, fetched: BaselineArtifact) -> None:
        p = fetched.provenance
        side = result.baseline
        side.label = p.artifact  # the provenance line under it names the run, branch and commit
        side.files = [self._strip_dir(f, fetched) for f in side.files]
        side.warnings = [self._strip_dir(w, fetched) for w in side.warnings]
        result.warnings = [self._strip_dir(w, fetched) for w in result.warnings]

    def _load_current_only(self, missing: NoBaseline) -> CurrentOnly:
        from kalibra_action.current_only import describe, load_current

        s = self.s
        pop, gates = load_current(config_path=s.config, current=s.current, require=s.require,
                                  base_dir=s.base_dir, status=self.cmd.log, roots=s.roots)
        looked_for = {"artifact": s.baseline_artifact or "", "workflow": s.baseline_workflow or "",
                      "branch": s.baseline_branch or ""}
        return describe(pop, reason=missing.reason, policy=s.if_no_baseline, gates=gates,
                        looked_for=looked_for)

    def _report_current_only(self, alone: CurrentOnly) -> int:
        """Outputs, JSON report, summary and comment for the current traces alone; exit 0 (2 when the
        pull request was refused)."""
        from kalibra_action import current_only

        s = self.s
        self.outputs.update({"passed": "true", "regressions": "",
                             "summary": current_only.summary_line(alone)})
        self._write_report_text(current_only.to_json(alone))
        extra = self._extra()
        with self.cmd.group("kalibra-action: job summary"):
            self._write_summary(lambda: current_only.render_markdown(alone, extra=extra))
        if s.template:
            self.cmd.log("no baseline: the comment uses the built-in current-only report, not the template")
        with self.cmd.group("kalibra-action: pull request comment"):
            self._publish(lambda: current_only.render_markdown(alone, extra={**extra, "marker": s.marker}))
        self.cmd.log(self.outputs["summary"])
        return EXIT_INPUT_ERROR if self.refused else EXIT_PASSED

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
        if s.baseline_artifact:
            self.cmd.log(f"baseline-artifact: {s.baseline_artifact}  workflow: {s.baseline_workflow}  "
                         f"branch: {s.baseline_branch}  path: {s.baseline_path}  "
                         f"if-no-baseline: {s.if_no_baseline}")

    def _check_paths(self) -> None:
        """working-directory and report stay inside the workspace (symlinks resolved), before any work;
        the config and the trace files are checked where they are read (kalibra_action.run)."""
        s = self.s
        roots = make_roots([s.workspace])
        confine(s.working_directory, roots, what="input 'working-directory'", base=s.workspace)
        if not s.base_dir.is_dir():
            raise InputError(f"working-directory '{s.working_directory}' is not a directory")
        confine(s.report, roots, what="input 'report'", base=s.workspace)

    def _template(self) -> Path | None:
        """The custom template's real path: a regular file inside the workspace, not a symbolic link."""
        if not self.s.template:
            return None
        from kalibra_action.report.sandbox import confine_template

        return confine_template(self.s.base_dir / self.s.template, self.s.workspace, display=self.s.template)

    def _input_error(self, err: InputError) -> int:
        s = self.s
        where = None
        if err.file:
            where = workspace_relative(s.base_dir / err.file, s.workspace)
        self.cmd.log(f"error: {err}")
        self.cmd.error(str(err), title="kalibra-action: invalid input", file=where, line=err.line)
        self._report_error(str(err), summary_title="kalibra-action could not compare the traces",
                           comment_title="the traces could not be compared")
        return EXIT_INPUT_ERROR

    def _internal_error(self, err: Exception) -> int:
        """An unexpected exception: the traceback goes to the log only (token masked); the annotation,
        outputs, summary and comment get the exception's type and a short, scrubbed message."""
        brief = f"{type(err).__name__}: {scrub(self.s.token, str(err))}"
        with suppress(Exception):
            self.cmd.log(scrub(self.s.token, traceback.format_exc(), limit=20_000, one_line=False))
        with suppress(Exception):
            self.cmd.error(f"internal error: {brief}", title="kalibra-action: internal error")
        self.outputs.update({"passed": "false", "comment-url": ""})
        title = "kalibra-action failed with an internal error"
        self._report_error(f"internal error: {brief}", summary_title=title, comment_title=title)
        return EXIT_INPUT_ERROR

    def _report_error(self, text: str, *, summary_title: str, comment_title: str) -> None:
        """The `summary` output, the job summary and the sticky comment say the run ended in an error; none
        of these steps may raise (the outputs and the exit code must still follow)."""
        s = self.s
        self.outputs["summary"] = f"ERROR: {text}"[:1000]
        try:
            append_summary(s.summary_file, f"### ❌ {summary_title}\n\n{escape_text(text)}\n")
        except Exception as err:  # an unwritable or odd summary file must not end the run
            with suppress(Exception):
                self.cmd.warning(f"cannot write the job summary: {err}", title="kalibra-action")
        try:  # an older report must not stay up as if current
            self._publish(lambda: self._error_body(text, comment_title))
        except Exception as err:  # a failure while reporting the error is only a warning
            with suppress(Exception):
                self.cmd.warning(f"cannot replace the pull request comment with the error: "
                                 f"{type(err).__name__}: {scrub(self.s.token, str(err))}",
                                 title="kalibra-action")

    def _error_body(self, text: str, title: str) -> str:
        """The sticky comment when no comparison could run: the error, not a stale verdict."""
        run = f" ([the run]({self.s.run_url}))" if self.s.run_url else ""
        return (f"{self.s.marker}\n## ⚠️ Kalibra · ERROR — {title}\n\n"
                f"{escape_text(text)}\n\nNo gate was evaluated; the job failed with exit code 2{run}.\n")

    def _write_report(self, result: Result) -> None:
        text = self.renderer.json(result)
        if self.provenance is not None:  # additive: the comparison's report plus where the baseline came from
            data = json.loads(text)
            if isinstance(data, dict):
                data["baseline_provenance"] = self.provenance
                text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False)
        self._write_report_text(text)

    def _write_report_text(self, text: str) -> None:
        try:
            write_text(self.s.report_path, text, roots=make_roots([self.s.workspace]), what="input 'report'",
                       parents=True)
        except (OSError, InputError) as err:  # InputError: a symlink planted after _check_paths
            self.cmd.warning(f"cannot write the JSON report to {self.s.report}: {err}",
                             title="kalibra-action")
            return
        self.cmd.log(f"JSON report: {self.s.report_display}")
        if not output_is_safe(self.s.report_display):  # a path changed to fit would name another file
            self.cmd.warning("the report's path has characters outside letters, digits and .,:/%+-_=#@ "
                             "(unsafe in a shell): the output 'report' is left empty", title="kalibra-action")
            return
        self.outputs["report"] = self.s.report_display

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
            **({"baseline_provenance": self.provenance} if self.provenance is not None else {}),
        }

    def _pointer(self) -> str:
        """Where a cut list is complete, for the comment's "… N more" lines."""
        report = escape_text(self.outputs["report"] or self.s.report)
        summary = f"[the job summary]({self.s.run_url})" if self.s.run_url else "the job summary"
        return f"{summary} and the JSON report ({report}) have the full list"

    def _write_summary(self, render: Callable[[], str]) -> None:
        if self.s.summary_file is None:
            self.cmd.log("no GITHUB_STEP_SUMMARY: job summary skipped")
            return
        try:
            cut = append_summary(self.s.summary_file, render())
        except OSError as err:
            self.cmd.warning(f"cannot write the job summary: {err}", title="kalibra-action")
            return
        self.cmd.log("job summary written" + (" (cut to 1 MiB)" if cut else ""))

    def _comment_body(self, result: Result, extra: Mapping[str, Any], template: Path | None) -> str:
        if template is not None:
            try:
                return self.renderer.comment(result, extra, template, root=self.s.workspace)
            except Exception as err:  # a user's template (sandbox, syntax, undefined): fall back to ours
                self.cmd.warning(f"the custom template failed ({err}); the comment uses the built-in one",
                                 title="kalibra-action: template")
        return self.renderer.comment(result, extra, None)

    def _publish(self, render: Callable[[], str]) -> None:
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
        client = self.client_factory(s)
        try:
            self._check_target(client, pr)
        except TargetRefused as err:
            self._refuse(err)
            return
        try:
            body = render()
        except InputError as err:
            self.cmd.warning(f"cannot render the comment: {err}", title="kalibra-action: template")
            return
        author = cached_identity(client, s.comment_author, self.cmd.log)
        sticky = StickyComment(client, s.repository, pr, s.marker, author=author)
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
        self._note_lookalikes(done, author)
        self.outputs["comment-url"] = done.url
        self.cmd.log(f"comment {done.action}: {done.url}")

    def _check_target(self, client: GitHubClient, pr: int) -> None:
        """Raise TargetRefused unless the action may write to PR `pr` (kalibra_action.github.target)."""
        s = self.s
        check_pr_input(s.event_name, s.event, s.pr_number_input)
        if s.event_name == "workflow_run":
            verify_workflow_run(client, s.repository, pr, s.event)
            self.cmd.log(f"pull request #{pr} has the triggering run's head commit: commenting there")

    def _refuse(self, err: TargetRefused) -> None:
        """No comment; an error annotation and a note in the job summary; the run then exits 2."""
        self.refused = True
        self.cmd.error(f"{err}. No comment was written; the verdict is in the job summary and the outputs.",
                       title="kalibra-action: pull request refused")
        try:
            append_summary(self.s.summary_file, f"\n> [!CAUTION]\n> kalibra-action: {escape_text(str(err))}. "
                                                "No comment was written.\n")
        except OSError as oserr:
            self.cmd.warning(f"cannot write the job summary: {oserr}", title="kalibra-action")

    def _note_lookalikes(self, done: CommentResult, author: Callable[[], Identity]) -> None:
        """One warning for marker comments someone else wrote: left as they are, never edited or deleted."""
        if not done.ignored:
            return
        shown = ", ".join(f"{author_of(c)} (id {c.get('id') if isinstance(c.get('id'), int) else '?'})"
                          for c in done.ignored[:5])
        more = f" and {len(done.ignored) - 5} more" if len(done.ignored) > 5 else ""
        me = author_of({"user": {"login": author().login}})
        self.cmd.warning(f"{len(done.ignored)} comment(s) carry this report's marker but were not written by "
                         f"the token's identity {me}: {shown}{more}. "
                         "They were left untouched; the report is in the action's own comment. Set input "
                         "'comment-author' if the token writes as another login.",
                         title="kalibra-action: look-alike comment ignored")


def main(env: Mapping[str, str] | None = None, out: TextIO | None = None, *,
         engine: Engine | None = None, renderer: Renderer | None = None,
         client_factory: Callable[[ActionSettings], GitHubClient] | None = None) -> int:
    """Run the action from the runner's environment; returns the exit code (2 on any error)."""
    cmd = Commands(out or sys.stdout)
    environ = os.environ if env is None else env
    try:
        settings = ActionSettings.from_env(env)
    except Exception as err:  # bad inputs, or a bug reading them: no settings, so no comment either
        text = str(err) if isinstance(err, InputError) else f"internal error: {type(err).__name__}"
        token = environ.get("INPUT_GITHUB-TOKEN") or environ.get("INPUT_GITHUB_TOKEN")
        if token:
            cmd.mask(token)
        if not isinstance(err, InputError):
            cmd.log(scrub(token, traceback.format_exc(), limit=20_000, one_line=False))
        cmd.error(text, title="kalibra-action: invalid input")
        with suppress(Exception):
            _fallback_outputs(environ.get("GITHUB_OUTPUT"), text)
        return EXIT_INPUT_ERROR
    if settings.token:
        cmd.mask(settings.token)

    def default_client(s: ActionSettings) -> GitHubClient:
        return GitHubClient(s.token or "", s.api_url, log=cmd.log, graphql_url=s.graphql_url)

    return ActionRun(settings, cmd, engine=engine or run_engine, renderer=renderer or Renderer(),
                     client_factory=client_factory or default_client).run()


def _fallback_outputs(output_file: str | None, text: str) -> None:
    """The outputs when the settings could not be read."""
    if output_file:
        write_outputs(Path(output_file), {"passed": "false", "exit-code": str(EXIT_INPUT_ERROR),
                                          "summary": f"ERROR: {text}"[:1000]})
