"""Target models: what each accepts, its limit, tokenizer, prices and dates.

The figures live in ``rules/models.toml`` (each with its source and date); users add their own
targets, or override single figures of a known one, under ``[tool.dslint.models.NAME]``.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dslint.packs import load_toml

#: The encodings dslint can count with offline (see dslint.tokens.encodings).
ENCODINGS = ("cl100k_base", "o200k_base")


class UnknownModelError(ValueError):
    """A model name that is neither in the table nor in the user's config."""


class ModelConfigError(ValueError):
    """A user-defined model in the config with a missing, unknown or mistyped field."""


@dataclass(frozen=True)
class Target:
    name: str
    provider: str
    encoding: str
    max_tokens: int
    formats: frozenset[str]
    training_per_million: float | None = None
    training_per_hour: float | None = None
    inference_input_per_million: float | None = None
    inference_output_per_million: float | None = None
    new_jobs_until: str | None = None
    deprecated: str | None = None
    shutdown: str | None = None
    # Figure name -> key of the table's [sources] (publication and date read).
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def accepts_vision(self) -> bool:
        return "vision" in self.formats

    def date(self, figure: str) -> dt.date | None:
        """One of the date figures (``new_jobs_until``, ``deprecated``, ``shutdown``) as a date."""
        value = getattr(self, figure)
        return dt.date.fromisoformat(str(value)) if isinstance(value, str) else None

    def source_of(self, figure: str) -> str:
        """'title (read DATE)' for a figure, or '' when the figure has no named source."""
        key = self.sources.get(figure)
        entry = table().get("sources", {}).get(key) if key else None
        return f"{entry['title']} (read {entry['read']})" if entry else ""


# Field -> (accepted Python types, description) for checking user-defined models.
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "provider": ((str,), "a string"),
    "encoding": ((str,), "a string"),
    "max_tokens": ((int,), "an integer"),
    "formats": ((list,), "a list of strings"),
    "training_per_million": ((int, float), "a number"),
    "training_per_hour": ((int, float), "a number"),
    "inference_input_per_million": ((int, float), "a number"),
    "inference_output_per_million": ((int, float), "a number"),
    "new_jobs_until": ((str,), "a date (YYYY-MM-DD)"),
    "deprecated": ((str,), "a date (YYYY-MM-DD)"),
    "shutdown": ((str,), "a date (YYYY-MM-DD)"),
    "sources": ((dict,), "a table"),
}
_DATES = ("new_jobs_until", "deprecated", "shutdown")


def table() -> dict[str, Any]:
    return load_toml("models.toml")


def _from_entry(name: str, entry: Mapping[str, Any]) -> Target:
    known = {f for f in Target.__dataclass_fields__ if f not in ("name", "extra", "formats")}
    return Target(
        name=name,
        formats=frozenset(entry.get("formats", ["chat"])),
        **{k: v for k, v in entry.items() if k in known},
        extra={k: v for k, v in entry.items() if k not in known and k != "formats"},
    )


def _check_custom(name: str, entry: Mapping[str, Any], base: Mapping[str, Any] | None) -> None:
    """Reject what would otherwise fail later or silently: unknown keys, wrong types."""
    where = f"[tool.dslint.models.{name}]"
    for key, value in entry.items():
        if key not in _FIELD_TYPES:
            close = difflib.get_close_matches(key, list(_FIELD_TYPES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ModelConfigError(f"{where}: unknown key '{key}'{hint}")
        types, description = _FIELD_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ModelConfigError(f"{where}: '{key}' must be {description}")
        if key in _DATES:
            try:
                dt.date.fromisoformat(str(value))
            except ValueError:
                raise ModelConfigError(f"{where}: '{key}' must be {description}") from None
    if base is None:
        missing = [k for k in ("encoding", "max_tokens") if k not in entry]
        if missing:
            raise ModelConfigError(f"{where}: a new model needs '{missing[0]}'")
    encoding = entry.get("encoding")
    if encoding is not None and encoding not in ENCODINGS:
        raise ModelConfigError(
            f"{where}: encoding '{encoding}' is not available offline "
            f"(choose one of {', '.join(ENCODINGS)})"
        )
    if "max_tokens" in entry and entry["max_tokens"] <= 0:
        raise ModelConfigError(f"{where}: 'max_tokens' must be positive")


def known_models(custom: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Target]:
    """The table's models plus the user's (a user entry for a known name overrides figures)."""
    entries: dict[str, Mapping[str, Any]] = dict(table()["models"])
    for name, entry in (custom or {}).items():
        base = entries.get(name)
        _check_custom(name, entry, base)
        if base is None:
            entries[name] = {"provider": "custom", **entry}
        else:
            # Overridden figures come from the user's config, not from the table's sources.
            sources = {k: v for k, v in base.get("sources", {}).items() if k not in entry}
            entries[name] = {**base, **entry, "sources": sources}
    return {name: _from_entry(name, entry) for name, entry in entries.items()}


def base_name(name: str) -> str:
    """The model a fine-tuned id was made from; other names come back unchanged.

    OpenAI ids look like ``ft:gpt-4.1-mini-2025-04-14:org:suffix:id`` (the base decides the
    tokenizer: tiktoken's prefix match maps ``ft:gpt-4.1-*`` to cl100k_base, which is wrong);
    Azure names them ``gpt-4o-mini-2024-07-18.ft-0123abcd``.
    """
    if name.startswith("ft:"):
        parts = name.split(":")
        return parts[1] if len(parts) > 1 and parts[1] else name
    if ".ft-" in name:
        return name.split(".ft-", 1)[0]
    return name


def resolve(name: str, custom: Mapping[str, Mapping[str, Any]] | None = None) -> Target:
    """Find a target by name, alias or fine-tuned id (``ft:BASE:org::id`` -> BASE)."""
    models = known_models(custom)
    aliases: dict[str, str] = table().get("aliases", {})
    if name in models:  # a user's own model may contain anything, ':' included
        return models[name]
    candidate = base_name(name)
    candidate = aliases.get(candidate, candidate)
    if candidate in models:
        return models[candidate]
    close = difflib.get_close_matches(candidate, [*models, *aliases], n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise UnknownModelError(
        f"unknown model {name!r}{hint} (add it under [tool.dslint.models] in the config)"
    )


def default_for(file_format: str, has_images: bool = False) -> str:
    defaults: dict[str, str] = table()["defaults"]
    if has_images:
        return defaults["vision"]
    return defaults.get(file_format, defaults["chat"])


def counting() -> dict[str, Any]:
    """The token-counting constants of the table's ``[counting]`` section."""
    section: dict[str, Any] = table()["counting"]
    return section
