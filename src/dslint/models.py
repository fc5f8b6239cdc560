"""Target models: what each accepts, its limit and tokenizer (data in ``rules/models.toml``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from dslint.packs import load_toml


class UnknownModelError(ValueError):
    """A model name that is neither in the table nor in the user's config."""


@dataclass(frozen=True)
class Target:
    name: str
    provider: str
    encoding: str
    max_tokens: int
    formats: frozenset[str]
    training_per_million: float | None = None
    training_per_hour: float | None = None
    new_jobs_until: str | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def accepts_vision(self) -> bool:
        return "vision" in self.formats


def _table() -> dict[str, Any]:
    return load_toml("models.toml")


def _from_entry(name: str, entry: dict[str, Any]) -> Target:
    known = {f for f in Target.__dataclass_fields__ if f not in ("name", "extra", "formats")}
    return Target(
        name=name,
        formats=frozenset(entry.get("formats", ["chat"])),
        **{k: v for k, v in entry.items() if k in known},
        extra={k: v for k, v in entry.items() if k not in known and k != "formats"},
    )


def known_models(custom: dict[str, dict[str, Any]] | None = None) -> dict[str, Target]:
    table = {name: _from_entry(name, entry) for name, entry in _table()["models"].items()}
    for name, entry in (custom or {}).items():
        table[name] = _from_entry(name, {"provider": "custom", **entry})
    return table


def resolve(name: str, custom: dict[str, dict[str, Any]] | None = None) -> Target:
    """Find a target by name, alias or fine-tuned id (``ft:BASE:org::id`` -> BASE)."""
    models = known_models(custom)
    aliases: dict[str, str] = _table().get("aliases", {})
    candidate = name
    if candidate.startswith("ft:"):
        # Fine-tuned ids look like ft:gpt-4.1-mini-2025-04-14:org:suffix:id; the base decides
        # the tokenizer (tiktoken's prefix match gets ft:gpt-4.1-* wrong).
        candidate = candidate.split(":")[1] if candidate.count(":") >= 1 else candidate
    candidate = aliases.get(candidate, candidate)
    if candidate in models:
        return models[candidate]
    close = difflib.get_close_matches(name, [*models, *aliases], n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise UnknownModelError(
        f"unknown model {name!r}{hint} (add it under [tool.dslint.models] in the config)"
    )


def default_for(file_format: str, has_images: bool = False) -> str:
    defaults: dict[str, str] = _table()["defaults"]
    if has_images:
        return defaults["vision"]
    return defaults.get(file_format, defaults["chat"])
