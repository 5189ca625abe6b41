"""action.yml is the one place the action's inputs are declared: the settings, the README and the generated
defaults module must all agree with it, name for name and default for default."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from kalibra_action.github import action_inputs
from kalibra_action.github.settings import ActionSettings, get_input
from scripts.gen_action_inputs import render
from tests.conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_table(heading: str) -> dict[str, list[str]]:
    """The first Markdown table under `### {heading}`: first-column name → the other cells."""
    section = README.split(f"\n### {heading}\n", 1)[1]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([^`]+)`", cells[0])
        if name:
            rows[name.group(1)] = cells[1:]
    return rows


class RecordingEnv(Mapping[str, str]):
    """An environment that records which `INPUT_*` variables were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: set[str] = set()

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and key.startswith("INPUT_"):
            self.asked.add(key)
        return key in self.values

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def test_the_generated_module_is_action_yml_as_it_is_now():
    # `make inputs` writes it; run that after editing action.yml's inputs
    assert Path(action_inputs.__file__).read_text(encoding="utf-8") == render(ACTION)


def test_the_generated_defaults_are_action_yml_s():
    declared = ACTION["inputs"]
    assert list(action_inputs.INPUT_DEFAULTS) == list(declared)
    for name, spec in declared.items():
        default = str(spec.get("default", ""))
        if "${{" in default:  # evaluated by the runner; nothing to evaluate it with locally
            assert name in action_inputs.RUNNER_EVALUATED and action_inputs.INPUT_DEFAULTS[name] == ""
        else:
            assert action_inputs.INPUT_DEFAULTS[name] == default, name


def test_settings_read_every_declared_input_and_no_other(tmp_path):
    env = RecordingEnv({"GITHUB_WORKSPACE": str(tmp_path)})
    ActionSettings.from_env(env)
    read = {key.removeprefix("INPUT_").lower().replace("_", "-") for key in env.asked}
    assert read == set(ACTION["inputs"])
    with pytest.raises(KeyError):  # an input action.yml does not declare cannot be read at all
        get_input({}, "not-declared")


def test_without_the_runner_every_setting_takes_action_yml_s_default(tmp_path):
    s = ActionSettings.from_env({"GITHUB_WORKSPACE": str(tmp_path)})
    d = action_inputs.INPUT_DEFAULTS
    assert (s.config, s.comment, s.comment_id, s.on_inconclusive, s.report, s.working_directory,
            s.baseline_path, s.if_no_baseline, str(s.fail_on_gate).lower()) == (
        d["config"], d["comment"], d["comment-id"], d["on-inconclusive"], d["report"], d["working-directory"],
        d["baseline-path"], d["if-no-baseline"], d["fail-on-gate"])


@pytest.mark.parametrize("name", ["config", "comment", "comment-id", "fail-on-gate", "report",
                                  "working-directory", "baseline-path", "if-no-baseline"])
def test_an_input_given_empty_takes_action_yml_s_default(name):
    assert get_input({f"INPUT_{name.upper()}": "  "}, name) == action_inputs.INPUT_DEFAULTS[name] != ""


def test_an_empty_on_inconclusive_lets_the_config_decide(tmp_path):
    s = ActionSettings.from_env({"GITHUB_WORKSPACE": str(tmp_path), "INPUT_ON-INCONCLUSIVE": ""})
    assert s.on_inconclusive is None


def test_the_dataclass_defaults_are_action_yml_s_too():
    """ActionSettings() (used by tests and tools) must not carry defaults of its own."""
    by_field = {f.name: f.default for f in fields(ActionSettings)}
    for name, default in action_inputs.INPUT_DEFAULTS.items():
        attr = name.replace("-", "_")
        if default and attr in by_field:
            assert str(by_field[attr]).lower() == default.lower(), name


def test_the_readme_documents_every_input_with_its_default():
    table = readme_table("Inputs")
    assert list(table) == list(ACTION["inputs"])
    for name, spec in ACTION["inputs"].items():
        default = str(spec.get("default", ""))
        cell = table[name][0]
        if default:
            assert cell == f"`{default}`", name
        else:  # empty, or words saying what an empty value means; never a literal value
            assert "`" not in cell, name


def test_the_readme_documents_every_output():
    assert list(readme_table("Outputs")) == list(ACTION["outputs"])
