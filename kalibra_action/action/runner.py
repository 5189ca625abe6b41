"""One run of the action: settings → (baseline artifact) → compare or current-only path → exit code.

Each step's failure is contained so that the outputs, the job summary and the comment still appear: a bad
input is exit 2 with its error in all three, an unexpected exception too (its traceback in the log only).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from kalibra_action.action import baseline, current
from kalibra_action.action.compare import Engine, publish_comparison, run_engine
from kalibra_action.action.publish import Publisher, Renderer, scrub
from kalibra_action.current_only import CurrentOnly
from kalibra_action.errors import EXIT_INPUT_ERROR, InputError
from kalibra_action.github.client import GitHubClient
from kalibra_action.github.commands import Commands, write_outputs
from kalibra_action.github.settings import ActionSettings, workspace_relative
from kalibra_action.paths import confine, make_roots
from kalibra_action.result import Result


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class ActionRun:
    """One run of the action: chooses the path, turns errors into exit 2 with a visible report."""

    def __init__(self, settings: ActionSettings, cmd: Commands, *, engine: Engine, renderer: Renderer,
                 client_factory: Callable[[ActionSettings], GitHubClient]) -> None:
        self.s = settings
        self.cmd = cmd
        self.engine = engine
        self.client_factory = client_factory
        self.pub = Publisher(settings, cmd, renderer, client_factory)

    def run(self) -> int:
        try:
            code = self._run()
        except Exception as err:  # a bug must still leave outputs, the summary and no stale verdict
            code = self._internal_error(err)
        self.pub.write_outputs(code)
        return code

    def _run(self) -> int:
        with self.cmd.group("kalibra-action: settings"):
            self._log_settings()
        fetched: baseline.Fetched | None = None
        alone: CurrentOnly | None = None
        try:
            self._check_paths()
            template = self._template()
            if self.s.baseline_artifact:
                with self.cmd.group("kalibra-action: baseline artifact"):
                    got = baseline.fetch(self.s, self.cmd, self.client_factory)
                if not isinstance(got, baseline.Fetched):
                    with self.cmd.group("kalibra-action: current traces only"), _cwd(self.s.base_dir):
                        alone = current.load(self.pub, got)
                else:
                    fetched = got
            if alone is None:
                result = self._compare(fetched)
        except InputError as err:
            return self._input_error(err)
        finally:
            if fetched is not None:  # the extracted artifact lives only as long as the comparison
                fetched.remove()
        if alone is not None:
            return current.publish_current_only(self.pub, alone)
        return publish_comparison(self.pub, result, template=template,
                                  provenance=fetched.provenance if fetched is not None else None)

    def _compare(self, fetched: baseline.Fetched | None) -> Result:
        """The engine's result; with a baseline artifact, its temporary paths are named inside it."""
        s = self.s
        log = self.cmd.log
        if fetched is not None:
            history = None
            if s.baseline_runs > 1:
                with self.cmd.group("kalibra-action: base-branch history"):
                    history = baseline.fetch_older(s, self.cmd, self.client_factory, fetched)
            s = replace(s, baseline=fetched.spec(s.baseline_path), artifact_dir=fetched.directory,
                        history=history)

            def log(msg: str) -> None:
                self.cmd.log(fetched.strip_dir(msg))
        with self.cmd.group("kalibra-action: compare traces"), _cwd(s.base_dir):
            try:
                result = self.engine(s, log)
            except InputError as err:
                raise fetched.input_error(err) if fetched is not None else err from None
        if fetched is not None:
            fetched.relabel(result)
        return result

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
        self.pub.report_error(str(err), summary_title="kalibra-action could not compare the traces",
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
        self.pub.outputs.update({"passed": "false", "comment-url": ""})
        title = "kalibra-action failed with an internal error"
        self.pub.report_error(f"internal error: {brief}", summary_title=title, comment_title=title)
        return EXIT_INPUT_ERROR


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
