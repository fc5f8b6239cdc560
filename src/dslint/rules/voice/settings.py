"""``[tool.dslint.voice]``: which profile, which roles, which Vale styles, which language.

Example::

    [tool.dslint.voice]
    profile = "voice/brand.toml"        # a voice profile (paths relative to this file's folder)
    roles = ["assistant"]               # whose messages are checked (default: assistant)
    vale = ["styles/Microsoft"]         # Vale style folders to run on the same messages
    vale-min-level = "suggestion"       # drop Vale alerts below this level
    language = "pt"                     # expected language (ISO 639-1); default: dominant

The section is read once per run and memoised on the config object's identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dslint.config import Config, ConfigError

VALE_LEVELS = ("suggestion", "warning", "error")
KEYS = ("profile", "roles", "vale", "vale-min-level", "language")


@dataclass(frozen=True)
class VoiceSettings:
    profile: Path | None = None
    roles: tuple[str, ...] = ("assistant",)
    vale: tuple[Path, ...] = ()
    vale_min_level: str = "suggestion"
    language: str | None = None


_CACHE: dict[int, tuple[Config, VoiceSettings]] = {}


def settings(config: Config) -> VoiceSettings:
    """The validated voice settings of ``config`` (unknown keys are a ConfigError)."""
    cached = _CACHE.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    value = parse(config.section("voice"), config.root, str(config.source or "config"))
    _CACHE[id(config)] = (config, value)
    return value


def parse(section: Mapping[str, Any], root: Path, where: str) -> VoiceSettings:
    where = f"{where}: [tool.dslint.voice]"
    kwargs: dict[str, Any] = {}
    for key, value in section.items():
        normal = key.replace("_", "-")
        if normal == "profile":
            kwargs["profile"] = root / _string(value, key, where)
            if not kwargs["profile"].is_file():
                raise ConfigError(f"{where}: voice profile '{value}' not found")
        elif normal == "roles":
            kwargs["roles"] = _strings(value, key, where)
        elif normal == "vale":
            folders = tuple(root / folder for folder in _strings(value, key, where))
            for folder in folders:
                if not folder.is_dir():
                    raise ConfigError(f"{where}: Vale style folder '{folder}' not found")
            kwargs["vale"] = folders
        elif normal == "vale-min-level":
            level = _string(value, key, where)
            if level not in VALE_LEVELS:
                raise ConfigError(
                    f"{where}: 'vale-min-level' must be one of {', '.join(VALE_LEVELS)}"
                )
            kwargs["vale_min_level"] = level
        elif normal == "language":
            code = _string(value, key, where).lower()
            if not (2 <= len(code) <= 3 and code.isalpha()):
                raise ConfigError(f"{where}: 'language' must be an ISO 639-1 code such as 'en'")
            kwargs["language"] = code
        else:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(KEYS)})")
    return VoiceSettings(**kwargs)


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    return value


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)
