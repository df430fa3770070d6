"""``bot data validate``: domain, stories, NLU data, config and flow checked together.

The counterpart of ``rasa data validate``: Rasa's checks in Rasa 3.6's order, wording and severity (an
error fails the command; a warning only with ``--fail-on-warnings``), then the project's own, which are
errors: the flow (every state reachable, no dead ends, every response and action it names exists), the
registered custom actions against the domain's ``actions:``, and the sensitivity of every slot and value a
response uses on WhatsApp (no clinical one; none a patient typed into a response an LLM may reword).

The domain is loaded by the same loader as start-up (with ``policies/sensitivity.yml``), so anything that
would stop the assistant stops the validation first, with the loader's message.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot import settings
from bot.config_files import CONFIG_FILE, load_mapping
from bot.core.domain import CLINICAL_CHANNELS, Domain, load_domain
from bot.errors import BotError, TrainingDataError
from bot.nlu.training_data import TrainingData, data_files, load_file
from bot.testing.conflicts import conflicts_in

#: Rasa 3.6's built-in intents and actions (rasa/shared/core/constants.py): never reported as unused or
#: missing.
DEFAULT_INTENTS = frozenset({"restart", "back", "out_of_scope", "session_start", "nlu_fallback"})
DEFAULT_ACTIONS = frozenset({
    "action_listen", "action_restart", "action_session_start", "action_default_fallback",
    "action_deactivate_loop", "action_revert_fallback_events", "action_default_ask_affirmation",
    "action_default_ask_rephrase", "action_two_stage_fallback", "action_unlikely_intent", "action_back",
    "action_extract_slots",
})
CONFIG_MANDATORY_KEYS = ("language", "assistant_id")

Level = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper():<8} {self.message}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.findings.append(Finding("info", message))

    def warn(self, message: str) -> None:
        self.findings.append(Finding("warning", message))

    def error(self, message: str) -> None:
        self.findings.append(Finding("error", message))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def ok(self, fail_on_warnings: bool = False) -> bool:
        return not self.errors and not (fail_on_warnings and self.warnings)


@dataclass
class ProjectData:
    """What ``--data`` holds: stories (``(file, story)`` pairs) and NLU training data."""

    stories: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    nlu: TrainingData = field(default_factory=TrainingData)


def load_data(paths: Iterable[Path]) -> ProjectData:
    """Every YAML file under ``paths``: ``stories:``/``rules:`` files are stories, ``nlu:`` files NLU data."""
    data = ProjectData()
    for path in paths:
        for file in data_files(Path(path)):
            top = load_mapping(file, "training data or stories", allow_empty=True, error=TrainingDataError)
            if "stories" in top or "rules" in top:
                for key in ("stories", "rules"):
                    for story in top.get(key) or []:
                        if not isinstance(story, Mapping) or not isinstance(story.get("steps"), list):
                            raise TrainingDataError(f"{file}: every story needs `story:` and a `steps:` list")
                        name = story.get("story", story.get("rule"))
                        data.stories.append((str(file), {**story, "story": name}))
            if "nlu" in top:
                data.nlu.merge(load_file(file))
    return data


def _story_events(data: ProjectData) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for _, story in data.stories:
        for step in story.get("steps") or []:
            if isinstance(step, Mapping):
                yield str(story.get("story")), step


def _check_actions_in_stories(domain: Domain, data: ProjectData, report: Report) -> None:
    known = set(domain.actions) | set(domain.responses) | DEFAULT_ACTIONS
    seen: set[str] = set()
    for story, step in _story_events(data):
        name = str(step.get("action") or "")
        if not name.startswith("action_") or name in seen:
            continue
        seen.add(name)
        if name not in known:
            report.error(f"The action '{name}' is used in the '{story}' block, but it is not listed in the "
                         "domain file. You should add it to your domain file!")


def _check_slot_mappings(domain: Domain, report: Report) -> None:
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            for condition in mapping.get("conditions") or []:
                loop = condition.get("active_loop") if isinstance(condition, Mapping) else None
                if loop:  # the project has no forms (Rasa's wording for a condition on an unknown form)
                    report.error(f"Slot '{slot.name}' has a mapping condition for form '{loop}' which is not "
                                 "listed in domain forms. Please add this form to the forms section or check "
                                 "for typos.")


def _check_intents(domain: Domain, data: ProjectData, report: Report) -> None:
    report.info("Validating intents...")
    nlu_intents = set(data.nlu.intents)
    for intent in domain.intents:
        if intent not in nlu_intents and intent not in DEFAULT_INTENTS:
            report.warn(f"The intent '{intent}' is listed in the domain file, but is not found in the NLU "
                        "training data.")
    for intent in sorted(nlu_intents - set(domain.intents)):
        report.warn(f"There is a message in the training data labeled with intent '{intent}'. This intent "
                    "is not listed in your domain. You should need to add that intent to your domain file!")
    story_intents = {str(step["intent"]) for _, step in _story_events(data) if step.get("intent")}
    for intent in sorted(story_intents - set(domain.intents)):
        report.warn(f"The intent '{intent}' is used in your stories, but it is not listed in the domain "
                    "file. You should add it to your domain file!")
    for intent in domain.intents:
        if intent not in story_intents and intent not in DEFAULT_INTENTS:
            report.warn(f"The intent '{intent}' is not used in any story or rule.")


def _check_examples(data: ProjectData, report: Report) -> None:
    report.info("Validating uniqueness of intents and stories...")
    labels: dict[str, set[str]] = defaultdict(set)
    for example in data.nlu.examples:
        labels[example.text].add(example.intent)
    for text, intents in labels.items():
        if len(intents) > 1:
            report.warn(f"The example '{text}' was found labeled with multiple different intents in the "
                        "training data. Each annotated message should only appear with one intent. "
                        "You should fix that conflict The example is labeled with: "
                        f"{', '.join(sorted(intents))}.")


def _check_utterances(domain: Domain, data: ProjectData, report: Report) -> None:
    report.info("Validating utterances...")
    used: set[str] = set()
    for _, step in _story_events(data):
        name = str(step.get("action") or "")
        if not name.startswith("utter_") or name in used:
            continue
        used.add(name)
        if name not in domain.responses:
            report.warn(f"The action '{name}' is used in the stories, but is not a valid utterance action. "
                        "Please make sure the action is listed in your domain and there is a template "
                        "defined with its name.")
    for name in domain.responses:
        if name not in used:
            report.warn(f"The utterance '{name}' is not used in any story or rule.")


def _check_story_structure(
    domain: Domain, data: ProjectData, report: Report, max_history: int | None
) -> None:
    report.info("Story structure validation...")
    conflicts = conflicts_in(data.stories, domain, max_history)
    if not conflicts:
        report.info("No story structure conflicts found.")
    for conflict in conflicts:
        report.warn(str(conflict).rstrip("\n"))


def _check_config(config: Mapping[str, Any], report: Report) -> None:
    for key in CONFIG_MANDATORY_KEYS:
        if key not in config:
            report.warn(f"The config file is missing the '{key}' mandatory key.")
    if config.get("assistant_id") == "placeholder_default":
        report.warn("The config file is missing a unique value for the 'assistant_id' mandatory key. Please "
                    "replace the default placeholder value with a unique identifier.")


def _check_registered_actions(domain: Domain, registered: Collection[str], report: Report) -> None:
    report.info("Validating custom actions against the registry (actions/__init__.py)...")
    for name in domain.actions:
        if name not in registered and name not in DEFAULT_ACTIONS:
            report.error(f"The action '{name}' is listed in the domain file, but no custom action of that "
                         "name is registered (actions/__init__.py).")
    for name in sorted(set(registered) - set(domain.actions)):
        report.error(f"The custom action '{name}' is registered but not listed under `actions:` in the "
                     "domain file: Rasa would refuse every story that uses it.")


def _check_flow(domain: Domain, registered: Collection[str], report: Report) -> None:
    report.info("Validating the flow (reachable states, no dead ends, the responses and actions it names)...")
    from bot.app.wiring import load_flow

    try:
        load_flow(domain, list(registered))
    except BotError as e:
        report.error(str(e))


def check_sensitivity(domain: Domain, report: Report) -> None:
    """Every slot or value a response uses on WhatsApp: never clinical (the loader refuses it too); in a
    response an LLM may reword, never one filled with the patient's own words (``from_text``)."""
    report.info("Validating the sensitivity of the slots and values responses use on WhatsApp...")
    used: set[str] = set()
    for response in domain.responses.values():
        for variation in response.variations:
            channel = variation.channel or "whatsapp"
            for name in sorted(variation.placeholders):
                used.add(name)
                if name not in domain.slots and name not in domain.variables:
                    report.error(f"The response '{response.name}' uses {{{name}}}, which is neither a slot "
                                 "of the domain nor a variable of policies/sensitivity.yml.")
                    continue
                sensitivity = domain.sensitivity_of(name)
                if sensitivity == "clinical" and channel not in CLINICAL_CHANNELS:
                    report.error(f"The response '{response.name}' uses the clinical {{{name}}} and would be "
                                 f"sent over {channel}: clinical data is shown only in the portal.")
                slot = domain.slots.get(name)
                if response.paraphrase and slot is not None and any(
                    m.get("type") == "from_text" for m in slot.mappings
                ):
                    report.error(f"The response '{response.name}' may be reworded by an LLM (metadata "
                                 f"rephrase) but uses the slot '{name}', filled from the patient's own text.")
    for name in sorted(set(domain.variables) - used):
        report.warn(f"The variable '{name}' of policies/sensitivity.yml is not used by any response.")


def validate_project(
    *,
    domain_path: Path,
    data_paths: Sequence[Path],
    config_path: Path,
    max_history: int | None = None,
    registered_actions: Collection[str] | None = None,
) -> Report:
    """All checks; a domain the loader refuses ends the validation with that error."""
    report = Report()
    try:
        domain = load_domain(domain_path)
    except BotError as e:
        report.error(str(e))
        return report
    try:
        data = load_data(data_paths)
        config = load_mapping(config_path, CONFIG_FILE)
    except BotError as e:
        report.error(str(e))
        return report
    if registered_actions is None:
        from actions import registry

        registered_actions = list(registry())
    _check_actions_in_stories(domain, data, report)
    _check_slot_mappings(domain, report)
    _check_intents(domain, data, report)
    _check_examples(data, report)
    _check_utterances(domain, data, report)
    _check_story_structure(domain, data, report, max_history)
    _check_config(config, report)
    _check_registered_actions(domain, registered_actions, report)
    _check_flow(domain, registered_actions, report)
    check_sensitivity(domain, report)
    return report


def validate_command(args: argparse.Namespace) -> int:
    project = settings.project_dir()
    data = [Path(p) for p in args.data] if args.data else [project / "nlu", project / "tests" / "stories"]
    if args.max_history is not None and args.max_history < 1:
        print(f"The value of `--max-history {args.max_history}` is not a positive integer.")
        return 2
    report = validate_project(
        domain_path=Path(args.domain) if args.domain else project / "domain.yml",
        data_paths=data,
        config_path=Path(args.config) if args.config else project / "config.yml",
        max_history=args.max_history,
    )
    for finding in report.findings:
        print(finding)
    print(f"{len(report.errors)} errors, {len(report.warnings)} warnings")
    if not report.ok(args.fail_on_warnings):
        print("Project validation completed with errors.")
        return 1
    return 0
