"""``[tool.dslint.moderation]``: the remote moderation pass (off unless asked for).

Example::

    [tool.dslint.moderation]
    provider = "openai"                    # or "none" (the default); --moderation openai
    model = "omni-moderation-latest"
    base-url = "https://api.openai.com/v1" # default: $OPENAI_BASE_URL, then OpenAI's
    roles = ["user", "assistant"]          # default: every role
    thresholds = { harassment = 0.4, "self-harm" = 0.2 }   # besides the API's own `flagged`
    batch-size = 32                        # texts per request
    concurrency = 4                        # requests in flight
    max-retries = 2                        # the client's retries (429, 5xx, timeouts)
    timeout = 60.0                         # seconds per request
    cache-dir = ".dslint_cache/moderation" # relative to the config's folder

The API key is read from ``OPENAI_API_KEY`` only, never from a config file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dslint.config import Config, ConfigError

SECTION = "moderation"
PROVIDERS = ("none", "openai")
DEFAULT_MODEL = "omni-moderation-latest"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# The remote rules, turned on together when a provider is chosen.
REMOTE_RULES = ("openai-moderation", "not-moderated")

_KEYS: dict[str, type | tuple[type, ...]] = {
    "provider": str,
    "model": str,
    "base-url": str,
    "roles": list,
    "thresholds": dict,
    "batch-size": int,
    "concurrency": int,
    "max-retries": int,
    "timeout": (int, float),
    "cache-dir": str,
}


@dataclass(frozen=True)
class ModerationSettings:
    provider: str = "none"
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    roles: tuple[str, ...] | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    batch_size: int = 32
    concurrency: int = 4
    max_retries: int = 2
    timeout: float = 60.0
    cache_dir: Path = Path(".dslint_cache") / "moderation"

    @property
    def endpoint(self) -> str:
        base = self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        return base.rstrip("/")


def parse(config: Config) -> ModerationSettings:
    section = config.section(SECTION)
    where = f"{config.source or 'config'}: [tool.dslint.moderation]"
    values: dict[str, Any] = {}
    for key, value in section.items():
        normal = key.replace("_", "-")
        expected = _KEYS.get(normal)
        if expected is None:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(_KEYS))})")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
        values[normal] = value
    provider = values.get("provider", "none")
    if provider not in PROVIDERS:
        raise ConfigError(f"{where}: provider must be one of {', '.join(PROVIDERS)}")
    roles = values.get("roles")
    if roles is not None and not all(isinstance(r, str) for r in roles):
        raise ConfigError(f"{where}: 'roles' must be a list of strings")
    thresholds = values.get("thresholds", {})
    for name, level in thresholds.items():
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
            raise ConfigError(f"{where}: threshold for '{name}' must be a number from 0 to 1")
    for key in ("batch-size", "concurrency"):
        if values.get(key, 1) < 1:
            raise ConfigError(f"{where}: '{key}' must be at least 1")
    if values.get("max-retries", 0) < 0 or values.get("timeout", 1) <= 0:
        raise ConfigError(f"{where}: 'max-retries' must be >= 0 and 'timeout' > 0")
    cache_dir = Path(values.get("cache-dir", ModerationSettings.cache_dir))
    if "cache-dir" in values and not cache_dir.is_absolute():
        cache_dir = config.root / cache_dir
    return ModerationSettings(
        provider=provider,
        model=values.get("model", DEFAULT_MODEL),
        base_url=values.get("base-url"),
        roles=tuple(roles) if roles is not None else None,
        thresholds={str(k): float(v) for k, v in thresholds.items()},
        batch_size=values.get("batch-size", 32),
        concurrency=values.get("concurrency", 4),
        max_retries=values.get("max-retries", 2),
        timeout=float(values.get("timeout", 60.0)),
        cache_dir=cache_dir,
    )


def apply(config: Config, provider: str | None) -> Config:
    """Turn the remote rules on when ``--moderation`` or the config chooses a provider.

    Raises ConfigError (one line, exit 2) on a bad section or a missing API key, before any
    file is read.
    """
    if provider is not None:
        if provider not in PROVIDERS:
            raise ConfigError(f"--moderation: choose from {', '.join(PROVIDERS)}")
        sections = dict(config.sections)
        sections[SECTION] = {**config.section(SECTION), "provider": provider}
        config = config.with_overrides(sections=sections)
    settings = parse(config)
    if settings.provider == "none":
        return config
    if not os.environ.get("OPENAI_API_KEY"):
        raise ConfigError(
            "OpenAI moderation needs OPENAI_API_KEY in the environment "
            "(or run without --moderation openai)"
        )
    return config.with_overrides(extend_select=(*config.extend_select, *REMOTE_RULES))
