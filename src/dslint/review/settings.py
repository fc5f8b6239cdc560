"""``[tool.dslint.review]``: the LLM review (off unless asked for).

Example::

    [tool.dslint.review]
    mode = "llm"                             # or "none" (the default); --review llm
    guidelines = "review/guidelines.md"      # relative to the config's folder; required
    model = "gpt-4.1-mini"                   # any chat model the server knows
    base-url = "http://localhost:11434/v1"   # default: $OPENAI_BASE_URL, then OpenAI's
    api-key-env = "OPENAI_API_KEY"           # the variable that holds the key
    sample = 200                             # judge the replies of 200 examples (--sample)
    seed = 0                                 # which examples a sample picks
    confirm-above = 1.00                     # dollars; above this, ask (or need --yes)
    price-per-million-input = 0.40           # override the price table (0 for a local model)
    price-per-million-output = 1.60
    concurrency = 4                          # requests in flight
    max-retries = 2                          # the client's retries (429, 5xx, timeouts)
    timeout = 60.0                           # seconds per request
    max-output-tokens = 1024                 # cap on one answer
    temperature = 0.0
    context-chars = 4000                     # earlier turns sent with each reply, at most
    cache-dir = ".dslint_cache/review"       # relative to the config's folder

The API key is read from the environment only, never from a config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dslint.config import Config, ConfigError

SECTION = "review"
MODES = ("none", "llm")
DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# The rules the review feeds, turned on together when the review is on.
REVIEW_RULES = ("voice-review", "policy-review", "not-reviewed")

_NUMBER = (int, float)
_KEYS: dict[str, type | tuple[type, ...]] = {
    "mode": str,
    "guidelines": str,
    "model": str,
    "base-url": str,
    "api-key-env": str,
    "sample": int,
    "seed": int,
    "confirm-above": _NUMBER,
    "price-per-million-input": _NUMBER,
    "price-per-million-output": _NUMBER,
    "concurrency": int,
    "max-retries": int,
    "timeout": _NUMBER,
    "max-output-tokens": int,
    "temperature": _NUMBER,
    "context-chars": int,
    "cache-dir": str,
}


@dataclass(frozen=True)
class ReviewSettings:
    mode: str = "none"
    guidelines: Path | None = None
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    sample: int | None = None
    seed: int = 0
    confirm_above: float = 1.0
    price_per_million_input: float | None = None
    price_per_million_output: float | None = None
    concurrency: int = 4
    max_retries: int = 2
    timeout: float = 60.0
    max_output_tokens: int = 1024
    temperature: float = 0.0
    context_chars: int = 4000
    cache_dir: Path = Path(".dslint_cache") / "review"

    @property
    def enabled(self) -> bool:
        return self.mode == "llm"

    @property
    def endpoint(self) -> str:
        base = self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        return base.rstrip("/")

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None


def parse(config: Config) -> ReviewSettings:
    """Validate the section; unknown keys and wrong types are errors that name the key."""
    where = f"{config.source or 'config'}: [tool.dslint.review]"
    values: dict[str, Any] = {}
    for key, value in config.section(SECTION).items():
        normal = key.replace("_", "-")
        expected = _KEYS.get(normal)
        if expected is None:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(_KEYS))})")
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
        values[normal] = value
    mode = values.get("mode", "none")
    if mode not in MODES:
        raise ConfigError(f"{where}: 'mode' must be one of {', '.join(MODES)}")
    for key in ("sample", "concurrency", "max-output-tokens"):
        if key in values and values[key] < 1:
            raise ConfigError(f"{where}: '{key}' must be at least 1")
    for key in ("max-retries", "context-chars", "confirm-above", "temperature",
                "price-per-million-input", "price-per-million-output"):  # fmt: skip
        if key in values and values[key] < 0:
            raise ConfigError(f"{where}: '{key}' must not be negative")
    if values.get("timeout", 1) <= 0:
        raise ConfigError(f"{where}: 'timeout' must be more than 0")
    if ("price-per-million-input" in values) != ("price-per-million-output" in values):
        raise ConfigError(
            f"{where}: set both 'price-per-million-input' and 'price-per-million-output'"
        )
    guidelines = values.get("guidelines")
    cache_dir = Path(values.get("cache-dir", ReviewSettings.cache_dir))
    if "cache-dir" in values and not cache_dir.is_absolute():
        cache_dir = config.root / cache_dir
    return ReviewSettings(
        mode=mode,
        guidelines=(config.root / guidelines) if guidelines else None,
        model=values.get("model", DEFAULT_MODEL),
        base_url=values.get("base-url"),
        api_key_env=values.get("api-key-env", "OPENAI_API_KEY"),
        sample=values.get("sample"),
        seed=values.get("seed", 0),
        confirm_above=float(values.get("confirm-above", 1.0)),
        price_per_million_input=_float_or_none(values.get("price-per-million-input")),
        price_per_million_output=_float_or_none(values.get("price-per-million-output")),
        concurrency=values.get("concurrency", 4),
        max_retries=values.get("max-retries", 2),
        timeout=float(values.get("timeout", 60.0)),
        max_output_tokens=values.get("max-output-tokens", 1024),
        temperature=float(values.get("temperature", 0.0)),
        context_chars=values.get("context-chars", 4000),
        cache_dir=cache_dir,
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def apply(config: Config, mode: str | None = None, sample: int | None = None) -> Config:
    """Fold ``--review``/``--sample`` into the config and turn the review rules on.

    Raises ConfigError (one line, exit 2) before any file is read: a bad section, a missing
    or unusable guidelines file, no API key for OpenAI's own endpoint, ``--sample`` without
    the review.
    """
    if mode is not None and mode not in MODES:
        raise ConfigError(f"--review: choose from {', '.join(MODES)}")
    if mode is not None or sample is not None:
        section = dict(config.section(SECTION))
        if mode is not None:
            section["mode"] = mode
        if sample is not None:
            section["sample"] = sample
        config = config.with_overrides(sections={**config.sections, SECTION: section})
    settings = parse(config)
    if not settings.enabled:
        if sample is not None:
            raise ConfigError("--sample applies to the LLM review: add --review llm")
        return config
    where = f"{config.source or 'config'}: [tool.dslint.review]"
    if settings.guidelines is None:
        raise ConfigError(
            f"{where}: the review needs 'guidelines', a file of voice and policy guidelines"
        )
    from dslint.review.guidelines import load

    load(settings.guidelines)  # fail now, on one line, rather than after reading the data
    if settings.api_key is None and settings.endpoint == DEFAULT_BASE_URL:
        raise ConfigError(
            f"the LLM review sends to {DEFAULT_BASE_URL}, which needs "
            f"{settings.api_key_env} in the environment (or set base-url to another server)"
        )
    return config.with_overrides(extend_select=(*config.extend_select, *REVIEW_RULES))
