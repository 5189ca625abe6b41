"""composite/action.yml, the variant for runners without Docker: the same inputs and outputs as action.yml,
complete Marketplace metadata, inputs that reach the entry point as data (never as shell text), and its steps
run the way the runner runs them: each step's `run:` through bash with the runner's environment and its `env:`
evaluated from the `inputs` and `steps` contexts, against the fake GitHub on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.e2e.conftest import FAILING_GATES, TOKEN, Layout, collect, pr_event, runner_env, write_workspace

DOCKER = yaml.safe_load((ROOT / "action.yml").read_text())
COMPOSITE = yaml.safe_load((ROOT / "composite" / "action.yml").read_text())
STEPS = {step.get("id"): step for step in COMPOSITE["runs"]["steps"]}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\b", re.M)


def test_the_composite_has_the_docker_action_s_inputs_exactly() -> None:
    assert COMPOSITE["inputs"] == DOCKER["inputs"]
    assert list(COMPOSITE["inputs"]) == list(DOCKER["inputs"])


def test_the_composite_has_the_docker_action_s_outputs_from_the_entry_point_step() -> None:
    assert list(COMPOSITE["outputs"]) == list(DOCKER["outputs"])
    for name, spec in COMPOSITE["outputs"].items():
        assert spec == {"description": DOCKER["outputs"][name]["description"],
                        "value": f"${{{{ steps.kalibra.outputs.{name} }}}}"}


@pytest.mark.parametrize("meta", [DOCKER, COMPOSITE], ids=["action.yml", "composite/action.yml"])
def test_marketplace_metadata_is_complete(meta: dict) -> None:
    assert meta["name"].strip() and meta["author"].strip()
    assert len(meta["description"]) >= 20 and "\n" not in meta["description"].strip()
    assert set(meta["branding"]) == {"icon", "color"} and all(meta["branding"].values())


def test_every_input_reaches_the_entry_point_as_an_input_variable() -> None:
    env = STEPS["kalibra"]["env"]
    mapped = {k: v for k, v in env.items() if k.startswith("INPUT_")}
    expected = {f"INPUT_{n.upper().replace('-', '_')}": f"${{{{ inputs.{n} }}}}" for n in DOCKER["inputs"]}
    assert mapped == expected


def test_the_composite_runs_the_docker_action_s_entry_point_on_the_locked_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENTRYPOINT .*/entrypoint\.py", dockerfile, re.M)  # the image runs the same file
    assert STEPS["kalibra"]["run"] == '"$KALIBRA_PYTHON" -E -s -X utf8 "$GITHUB_ACTION_PATH/../entrypoint.py"'
    assert ('--require-hashes --no-deps \\\n  -r "$GITHUB_ACTION_PATH/../requirements.txt"'
            in STEPS["install"]["run"])
    install = STEPS["install"]["run"]
    assert '"$PYTHON" -E -s -m venv' in install and '"$py" -E -s -m pip' in install  # as the image runs


def test_no_expression_is_expanded_inside_a_script() -> None:
    """`${{ }}` in `run:` is pasted into the script before bash reads it: an input would become shell."""
    for step in COMPOSITE["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["id"]


def test_the_composite_s_action_is_pinned_by_sha_and_keeps_the_job_s_python() -> None:
    text = (ROOT / "composite" / "action.yml").read_text()
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(.+)$", text, re.M)
    assert uses and all(SHA_PIN.match(u) for u in uses), uses
    assert STEPS["python"]["with"]["update-environment"] is False


def evaluate(env: dict[str, str], context: dict[str, str]) -> dict[str, str]:
    """A step's `env:` as the runner evaluates it; an expression the test does not know fails the test."""
    return {key: EXPRESSION.sub(lambda m: context[m.group(1)], str(value)) for key, value in env.items()}


def run_step(step_id: str, layout: Layout, context: dict[str, str], api_url: str,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """One step's script through bash, with the runner's environment (no INPUT_*: the runner sets none for
    a composite's steps) and GITHUB_ACTION_PATH at the composite's folder."""
    step = STEPS[step_id]
    env = runner_env(layout, api_url=api_url, event_name="pull_request", event=pr_event(), inputs={},
                     inside=False)
    env = {k: v for k, v in env.items() if not k.startswith("INPUT_")}
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONDONTWRITEBYTECODE="1",
               GITHUB_ACTION_PATH=str(ROOT / "composite"), RUNNER_TEMP=str(layout.root / "temp"))
    env.update(extra_env or {})
    env.update(evaluate(step.get("env", {}), context))
    assert step["shell"] == "bash"
    script = EXPRESSION.sub(lambda m: context[m.group(1)], step["run"])  # the runner pastes these in
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=layout.workspace, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def input_context(**given: str) -> dict[str, str]:
    """`inputs.*` as the runner fills it: composite/action.yml's defaults, then the workflow's `with:`."""
    defaults = {n: str(s.get("default", "")) for n, s in COMPOSITE["inputs"].items()}
    ctx = {f"inputs.{n}": TOKEN if d == "${{ github.token }}" else d for n, d in defaults.items()}
    ctx.update({f"inputs.{k.replace('_', '-')}": v for k, v in given.items()})
    ctx["steps.install.outputs.python"] = sys.executable  # the install step's venv: this one has the lock
    return ctx


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "runner")
    (layout.root / "temp").mkdir()
    write_workspace(layout.workspace, FAILING_GATES)
    return layout


def test_the_entry_point_step_fails_the_pr_on_a_failed_gate(layout: Layout, fake_github) -> None:
    proc = run_step("kalibra", layout, input_context(), fake_github.api_url)
    run = collect(layout, proc)
    assert run.code == 1, run.log
    assert run.outputs["passed"] == "false" and run.outputs["exit-code"] == "1"
    assert int(run.outputs["regressions"]) == 5
    [comment] = fake_github.comments[42]
    assert run.outputs["comment-url"] == comment["html_url"]
    assert [line for line in run.log.splitlines() if TOKEN in line] == [f"::add-mask::{TOKEN}"]


def test_inputs_given_to_the_composite_reach_the_entry_point(layout: Layout, fake_github) -> None:
    proc = run_step("kalibra", layout, input_context(fail_on_gate="false", comment="off",
                                                     report="out/composite.json"), fake_github.api_url)
    run = collect(layout, proc)
    assert run.code == 0, run.log
    assert run.outputs["passed"] == "false" and run.outputs["report"] == "out/composite.json"
    assert (layout.workspace / "out" / "composite.json").is_file()
    assert not fake_github.comments.get(42)


@pytest.mark.parametrize("hostile", ['"; touch PWNED; echo "', "$(touch PWNED)", "`touch PWNED`",
                                     "x'\ntouch PWNED\n'"])
def test_an_input_s_value_is_never_run_as_shell(layout: Layout, fake_github, hostile: str) -> None:
    proc = run_step("kalibra", layout, input_context(require=hostile, comment_id=hostile, comment="off"),
                    fake_github.api_url)
    run = collect(layout, proc)
    assert run.code == 2, run.log  # a gate that does not parse: bad input, named
    assert not (layout.workspace / "PWNED").exists() and not Path("PWNED").exists()
    assert "Traceback" not in run.log


def test_the_job_s_python_variables_load_no_code_of_the_pull_request(layout: Layout, fake_github) -> None:
    """A job-level `env: PYTHONPATH: pr` reaches every step of a composite: the PR's sitecustomize.py and a
    json.py shadowing the standard library would run next to the token (the image's `-E -s`, here too)."""
    pr = layout.workspace / "pr"
    pr.mkdir()
    probe = "import os, pathlib; pathlib.Path(os.environ['GITHUB_WORKSPACE'], 'PWNED').write_text('x')\n"
    (pr / "sitecustomize.py").write_text(probe)
    (pr / "json.py").write_text(probe + "from _json import *\n")
    proc = run_step("kalibra", layout, input_context(comment="off"), fake_github.api_url,
                    extra_env={"PYTHONPATH": str(pr)})
    run = collect(layout, proc)
    assert run.code == 1, run.log  # the gates still run (and fail as planned)
    assert not (layout.workspace / "PWNED").exists()


def probe_wheel(folder: Path) -> tuple[Path, str]:
    """A minimal pure-Python wheel (no network needed to install it) and its sha256."""
    wheel = folder / "kalibra_probe-1.0-py3-none-any.whl"
    info = "kalibra_probe-1.0.dist-info"
    files = {"kalibra_probe.py": "OK = True\n",
             f"{info}/METADATA": "Metadata-Version: 2.1\nName: kalibra-probe\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                               "Tag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(text.encode())}")
        zf.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]))
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("good_hash", [True, False], ids=["locked", "tampered"])
def test_the_install_step_installs_only_what_the_lock_hashes(tmp_path: Path, layout: Layout, fake_github,
                                                              good_hash: bool) -> None:
    """The install step's script on a copy of the action whose lock holds one local wheel, offline: a venv
    of its own, the hash checked, the venv's python handed to the next step."""
    action = tmp_path / "action"
    shutil.copytree(ROOT / "composite", action / "composite")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _, sha = probe_wheel(wheels)
    if not good_hash:
        sha = hashlib.sha256(b"another file").hexdigest()
    (action / "requirements.txt").write_text(f"kalibra-probe==1.0 --hash=sha256:{sha}\n")
    base = Path(sys.base_prefix) / "bin" / "python3"
    proc = run_step("install", layout, {"steps.python.outputs.python-path": str(base)}, fake_github.api_url,
                    extra_env={"GITHUB_ACTION_PATH": str(action / "composite"), "PIP_NO_INDEX": "1",
                               "PIP_FIND_LINKS": str(wheels)})
    outputs = collect(layout, proc).outputs
    if not good_hash:
        assert proc.returncode != 0 and "python" not in outputs and "hash" in proc.stderr.lower()
        return
    assert proc.returncode == 0, proc.stderr
    python = Path(outputs["python"])
    assert python.is_relative_to(layout.root / "temp")
    check = subprocess.run([python, "-c", "import kalibra_probe, sys; print(kalibra_probe.OK, sys.prefix)"],
                           capture_output=True, text=True, check=False)
    assert check.stdout.startswith("True " + str(layout.root / "temp")), check
