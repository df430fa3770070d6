"""Every YAML configuration file is read through bot.config_files, so every loader reports a missing file,
malformed YAML and a top level that is not a mapping in the same words."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config_files import CLINIC_FILE, CONFIG_FILE, load_mapping, load_yaml_any
from bot.errors import BotError, ConfigError, DomainError, TrainingDataError


def _loader(module: str, name: str) -> Callable[[Path], Any]:
    def load(path: Path) -> Any:
        return getattr(importlib.import_module(module), name)(path)

    load.__name__ = name
    return load


def _notice_clinic(path: Path) -> Any:
    from bot.compliance.notice import load_notices

    return load_notices(privacy_dir=path.parent, clinic_path=path)


def _notices(path: Path) -> Any:
    from bot.compliance.notice import load_notices

    clinic = path.parent / "practice.yml"
    clinic.write_text("name: X\nprivacy_notice_url: https://x\n", encoding="utf-8")
    return load_notices(privacy_dir=path.parent, clinic_path=clinic)


# (loader, file name, what the message calls it, the error it raises)
LOADERS: list[tuple[Callable[[Path], Any], str, str, type[BotError]]] = [
    (_loader("bot.stores.endpoints", "load_endpoints"), "endpoints.yml",
     "the stores' and services' endpoints", ConfigError),
    (_loader("bot.scheduling.clinic_loader", "load_clinic"), "clinic.yml", CLINIC_FILE, ConfigError),
    (_loader("bot.compliance.config", "load"), "compliance.yml", "retention, ARCO and database roles",
     ConfigError),
    (_notice_clinic, "clinic.yml", CLINIC_FILE, ConfigError),
    (_notices, "notices.yml", "the privacy notices' versions", ConfigError),
    (_loader("bot.nlu.config", "load_config"), "config.yml", CONFIG_FILE, ConfigError),
    (_loader("bot.testing.stories", "load_stories"), "stories.yml", "test stories", TrainingDataError),
    (_loader("bot.core.domain", "load_domain"), "domain.yml", "intents, slots and responses", DomainError),
]
IDS = ["endpoints", "clinic", "compliance", "notice-clinic", "notices", "nlu-config", "stories", "domain"]


#: (the file's content or None for no file, what every loader must say after "<name> (<what>)")
CASES = [
    (None, r" not found at {path}"),
    ("token: [s3cr3t-value\n", r" at {path} is not valid YAML: .+ at line \d+, column \d+"),
    ("- a\n- list\n", r" at {path} must hold a mapping at the top level, not a list"),
]


@pytest.mark.parametrize(("content", "says"), CASES, ids=["not-found", "not-yaml", "not-a-mapping"])
@pytest.mark.parametrize(("loader", "name", "what", "error"), LOADERS, ids=IDS)
def test_every_loader_says_it_the_same_way(
    tmp_path: Path, loader: Callable[[Path], Any], name: str, what: str, error: type[BotError],
    content: str | None, says: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(error) as caught:
        loader(path)
    message = str(caught.value)
    expected = rf"{re.escape(name)} \({re.escape(what)}\)" + says.replace("{path}", re.escape(str(path)))
    assert re.fullmatch(expected, message), message
    assert "s3cr3t" not in message  # the offending line is never quoted: it could hold a secret


def test_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_mapping(path, "x", allow_empty=True) == {}
    assert load_yaml_any(path, "x") is None
    with pytest.raises(ConfigError, match=r"at the top level, not nothing \(the file is empty\)"):
        load_mapping(path, "x")


def test_unreadable_and_any_shape(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(tmp_path.name)} \(x\) at .* cannot be read: "):
        load_mapping(tmp_path, "x")  # a directory
    path = tmp_path / "list.yml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    assert load_yaml_any(path, "x") == [1, 2]
