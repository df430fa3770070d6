"""``bot data validate``: the project's files pass; each kind of broken input is reported, in Rasa's words
where Rasa has the check, and fails the command."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.testing import validate as data_validate
from bot.testing.validate import validate_project

ROOT = Path(__file__).resolve().parents[2]
CUSTOM = {"type": "text", "mappings": [{"type": "custom"}]}

NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hola
    - buenas tardes
- intent: goodbye
  examples: |
    - adios
"""
STORIES = """version: "3.1"
stories:
- story: greet
  steps:
  - user: hola
  - action: utter_greet
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's domain, sensitivity table and config, with small data of its own."""
    (tmp_path / "policies").mkdir()
    shutil.copy(ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copy(ROOT / "config.yml", tmp_path / "config.yml")
    shutil.copy(ROOT / "policies" / "sensitivity.yml", tmp_path / "policies" / "sensitivity.yml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp_path / "data" / "stories.yml").write_text(STORIES, encoding="utf-8")
    return tmp_path


def _run(project: Path, **kwargs: Any) -> data_validate.Report:
    return validate_project(
        domain_path=project / "domain.yml",
        data_paths=[project / "data"],
        config_path=project / "config.yml",
        **kwargs,
    )


def _edit_domain(project: Path, change: Any) -> None:
    data = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    change(data)
    (project / "domain.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _messages(report: data_validate.Report, level: str) -> list[str]:
    return [f.message for f in report.findings if f.level == level]


def test_the_project_validates(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_validate.settings, "project_dir", lambda: ROOT)
    args = argparse.Namespace(domain=None, data=None, config=None, max_history=None, fail_on_warnings=False)
    assert data_validate.validate_command(args) == 0
    out = capsys.readouterr().out
    assert "No story structure conflicts found." in out
    assert "\n0 errors, " in out
    assert "Project validation completed with errors." not in out


def test_small_valid_project_has_only_warnings(project: Path) -> None:
    report = _run(project)
    assert report.ok() and not report.errors
    assert "The intent 'thanks' is not used in any story or rule." in _messages(report, "warning")
    assert "The utterance 'utter_goodbye' is not used in any story or rule." in _messages(report, "warning")
    assert ("The intent 'thanks' is listed in the domain file, but is not found in the NLU training data."
            in _messages(report, "warning"))
    assert not report.ok(fail_on_warnings=True)


def test_a_custom_action_missing_from_the_domain_is_an_error(project: Path) -> None:
    (project / "data" / "stories.yml").write_text(STORIES + "  - action: action_ghost\n", encoding="utf-8")
    report = _run(project)
    assert ("The action 'action_ghost' is used in the 'greet' block, but it is not listed in the domain "
            "file. You should add it to your domain file!") in _messages(report, "error")
    assert not report.ok()


def test_an_unknown_response_in_a_story_is_reported(project: Path) -> None:
    (project / "data" / "stories.yml").write_text(STORIES + "  - action: utter_ghost\n", encoding="utf-8")
    assert any(m.startswith("The action 'utter_ghost' is used in the stories, but is not a valid utterance")
               for m in _messages(_run(project), "warning"))


def test_a_story_conflict_is_a_warning_as_in_rasa(project: Path) -> None:
    extra = "- story: greet again\n  steps:\n  - user: hola\n  - action: utter_greet_again\n"
    (project / "data" / "stories.yml").write_text(STORIES + extra, encoding="utf-8")
    report = _run(project)
    assert report.ok() and not report.ok(fail_on_warnings=True)
    (conflict,) = [m for m in _messages(report, "warning") if m.startswith("Story structure conflict")]
    assert conflict.startswith("Story structure conflict after user utterance 'hola':\n")
    assert "  utter_greet_again predicted in 'greet again'" in conflict


def test_nlu_problems_are_reported_in_rasas_words(project: Path) -> None:
    nlu = NLU + "- intent: dance\n  examples: |\n    - hola\n"
    (project / "data" / "nlu.yml").write_text(nlu, encoding="utf-8")
    warnings = _messages(_run(project), "warning")
    assert ("There is a message in the training data labeled with intent 'dance'. This intent is not listed "
            "in your domain. You should need to add that intent to your domain file!") in warnings
    assert ("The example 'hola' was found labeled with multiple different intents in the training data. "
            "Each annotated message should only appear with one intent. You should fix that conflict The "
            "example is labeled with: dance, greet.") in warnings


def test_the_former_response_format_stops_validation(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["responses"]["utter_hours"] = {"paraphrase": True, "variations": [{"text": "{clinic_hours}"}]}

    _edit_domain(project, change)
    (error,) = _messages(_run(project), "error")
    assert "utter_hours" in error and "list of variations" in error


def test_a_slot_without_sensitivity_stops_validation(project: Path) -> None:
    _edit_domain(project, lambda d: d["slots"].update({"mood": CUSTOM}))
    (error,) = _messages(_run(project), "error")
    assert "no sensitivity for the slots ['mood']" in error


def test_a_clinical_slot_in_a_whatsapp_response_stops_validation(project: Path) -> None:
    _edit_domain(project, lambda d: (
        d["slots"].update({"lab_result": CUSTOM}),
        d["responses"].update({"utter_lab": [{"text": "Su resultado: {lab_result}"}]}),
    ))
    table = project / "policies" / "sensitivity.yml"
    text = table.read_text(encoding="utf-8").replace("slots:\n", "slots:\n  lab_result: clinical\n")
    table.write_text(text, encoding="utf-8")
    (error,) = _messages(_run(project), "error")
    assert "clinical slot {lab_result}" in error


def test_a_rephrased_response_with_the_patients_own_words_is_an_error(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["responses"]["utter_hours"][0]["text"] = "Hola {person}, nuestro horario es: {clinic_hours}."

    _edit_domain(project, change)
    errors = _messages(_run(project), "error")
    assert errors == ["The response 'utter_hours' may be reworded by an LLM (metadata rephrase) but uses the "
                      "slot 'person', filled from the patient's own text."]


def test_registry_and_domain_actions_must_agree(project: Path) -> None:
    from actions import registry

    registered = [*registry(), "action_unlisted"]
    errors = _messages(_run(project, registered_actions=registered), "error")
    assert any("'action_unlisted' is registered but not listed under `actions:`" in e for e in errors)
    without_handoff = [a for a in registry() if a != "action_handoff"]
    errors = _messages(_run(project, registered_actions=without_handoff), "error")
    assert any("'action_handoff' is listed in the domain file, but no custom action" in e for e in errors)


def test_the_flow_is_checked_against_the_domain(project: Path) -> None:
    _edit_domain(project, lambda d: d["responses"].pop("utter_consent_reminder"))
    errors = _messages(_run(project), "error")
    assert errors == ["flow: phase 'consent' names unknown response or action 'utter_consent_reminder'"]


def test_the_command_fails_on_broken_input(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "data" / "stories.yml").write_text(STORIES + "  - action: action_ghost\n", encoding="utf-8")
    args = argparse.Namespace(domain=str(project / "domain.yml"), data=[str(project / "data")],
                              config=str(project / "config.yml"), max_history=None, fail_on_warnings=False)
    assert data_validate.validate_command(args) == 1
    assert capsys.readouterr().out.rstrip().endswith("Project validation completed with errors.")
