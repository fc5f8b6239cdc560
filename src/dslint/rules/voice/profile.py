"""Voice profiles: a brand's terminology, limits and persona, as data (TOML).

The documented example is ``rules/voice/example.toml``; a project names its own in
``[tool.dslint.voice] profile``. Every key is checked: an unknown one is a ConfigError that
names it, because a misspelt limit would otherwise silently check nothing.

All the term-like entries of a profile (persona phrases, banned terms and patterns,
preferred terms, brand names, either/or variants) compile into **one** pattern, each entry
in its own group, so a dataset is scanned once however long the profile is. The pattern is
compiled with the ``regex`` module, whose literal-prefix search makes a long alternation of
terms about as cheap as one term (the standard ``re`` tries every branch at every position,
about 100 times slower on the benchmark file).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import regex as re

from dslint.config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Phrases that break any brand persona: a fine-tuned assistant should not present itself as
# a generic model or as another company's product. Always on, with or without a profile.
GENERIC_PERSONA = (
    r"as an AI (?:language )?model",
    r"as a (?:large )?language model",
    r"I(?:'m| am) (?:an AI|a language model) (?:developed|created|trained|made) by",
    r"(?:I was|I've been|I have been) (?:trained|developed|created|made) by (?:OpenAI|Anthropic|Google|Meta)",
    r"my (?:knowledge|training) cut-?off",
)
OTHER_ASSISTANTS = ("ChatGPT", "GPT-3.5", "GPT-4", "GPT-4o", "Claude", "Gemini", "Bard",
                    "Copilot", "Llama", "LLaMA", "Mistral", "Siri", "Alexa", "Cortana")  # fmt: skip

SECTIONS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "roles"),
    "terms": ("banned", "banned-patterns", "preferred"),
    "brands": ("names",),
    "limits": (
        "max-exclamations",
        "max-emoji",
        "max-questions",
        "max-sentence-words",
        "max-message-words",
        "min-message-words",
    ),
    "readability": ("metric", "min-grade", "max-grade", "min-words"),
    "persona": ("name", "allowed-names", "forbidden"),
    "consistency": ("either",),
    "required": ("name", "pattern", "message"),
}
METRICS = ("flesch-kincaid", "coleman-liau", "automated-readability")


@dataclass(frozen=True)
class Entry:
    """One term-like entry of the combined pattern."""

    kind: str  # persona, other-name, banned, pattern, preferred, brand, either
    label: str  # how the profile spells it (quoted in messages)
    section: str  # where it is in the profile, e.g. "terms.banned"
    preferred: str | None = None
    group: int = 0  # index of the either/or group
    # This entry's own alternative of the combined pattern, and its looser RE2 form (see
    # ``Profile.prefilter``): rows where only this entry's prefilter matches are scanned
    # with ``source`` alone, which is much cheaper than the whole alternation.
    source: str = ""
    loose: str = ""


@dataclass(frozen=True)
class Required:
    name: str
    pattern: Any
    message: str


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    roles: tuple[str, ...] | None = None
    entries: tuple[Entry, ...] = ()
    pattern: Any | None = None
    # The same entries without lookarounds, case-insensitive: a superset for a fast
    # column-wise RE2 pass that picks the rows worth scanning with ``pattern``.
    prefilter: str = ""
    limits: dict[str, int] = field(default_factory=dict)
    readability: dict[str, Any] = field(default_factory=dict)
    persona_name: str | None = None
    required: tuple[Required, ...] = ()
    either: tuple[tuple[str, ...], ...] = ()


def _word(term: str) -> str:
    """A literal term as a whole-word, case-insensitive pattern."""
    body = r"\s+".join(re.escape(part) for part in term.split())
    start = r"(?<!\w)" if term[:1].isalnum() else ""
    end = r"(?!\w)" if term[-1:].isalnum() else ""
    return start + body + end


_CAPTURE = re.compile(r"(?<!\\)\((?!\?)")


def _user_pattern(source: str, where: str) -> str:
    try:
        re.compile(source)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid pattern {source!r}: {exc}") from None
    source = _CAPTURE.sub("(?:", source)
    # A leading global flag such as (?i) applies to this entry only inside the alternation.
    flags = _GLOBAL_FLAGS.match(source)
    if flags:
        source = f"(?{flags.group(1)}:{source[flags.end() :]})"
    return source


_GLOBAL_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def compile_entries(
    persona_name: str | None,
    allowed: tuple[str, ...],
    forbidden: tuple[str, ...],
    banned: tuple[str, ...],
    patterns: tuple[str, ...],
    preferred: dict[str, str],
    brands: tuple[str, ...],
    either: tuple[tuple[str, ...], ...],
    where: str,
) -> tuple[tuple[Entry, ...], Any, str]:
    entries: list[Entry] = []
    sources: list[str] = []
    loose: list[str] = []

    def add(entry: Entry, source: str, prefilter: str | None = None) -> None:
        sources.append(f"(?i:{source})" if entry.kind != "brand" else source)
        loose.append(prefilter if prefilter is not None else source)
        entries.append(replace(entry, source=sources[-1], loose=loose[-1]))

    for phrase in (*GENERIC_PERSONA, *forbidden):
        add(Entry("persona", phrase, "persona.forbidden"), _user_pattern(phrase, where))
    own = {n.lower() for n in (persona_name, *allowed) if n}
    others = [n for n in OTHER_ASSISTANTS if n.lower() not in own]
    if others:
        names = "|".join(re.escape(n) for n in others)
        add(Entry("other-name", "another assistant's name", "persona.name", persona_name),
            rf"\b(?:I'm|I am|my name is|this is|call me)\s+(?:{names})(?![\w-])",
            rf"(?:I'm|I am|my name is|this is|call me)\s+(?:{names})")  # fmt: skip
    if persona_name:
        add(Entry("other-name", "a different name", "persona.name", persona_name),
            rf"\bmy name is\s+(?!(?:{'|'.join(re.escape(n) for n in own)})\b)[A-Z][\w-]+",
            r"my name is\s")  # fmt: skip
    for term in banned:
        add(Entry("banned", term, "terms.banned"), _word(term), _literal(term))
    for source in patterns:
        add(Entry("pattern", source, "terms.banned-patterns"), _user_pattern(source, where))
    for wrong, right in preferred.items():
        add(Entry("preferred", wrong, "terms.preferred", right), _word(wrong), _literal(wrong))
    for brand in brands:
        # Found case-insensitively, reported only when the casing differs.
        add(Entry("brand", brand, "brands.names", brand), "(?i:" + _word(brand) + ")",
            _literal(brand))  # fmt: skip
    for index, variants in enumerate(either):
        for variant in variants:
            add(Entry("either", variant, "consistency.either", group=index), _word(variant),
                _literal(variant))  # fmt: skip
    try:
        pattern = re.compile("|".join(f"({s})" for s in sources) or r"(?!)")
    except re.error as exc:
        raise ConfigError(f"{where}: the profile's patterns do not combine: {exc}") from None
    return tuple(entries), pattern, "|".join(f"(?:{s})" for s in loose)


def _literal(term: str) -> str:
    """A looser form of a term for the RE2 prefilter (no lookarounds)."""
    return r"\s+".join(re.escape(part) for part in term.split())


def load_profile(path: Path) -> Profile:
    where = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    for section, value in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{where}: unknown section [{section}] in the voice profile")
        items = value if section == "required" and isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise ConfigError(f"{where}: [{section}] must be a table")
            for key in item:
                if key not in SECTIONS[section]:
                    known = ", ".join(SECTIONS[section])
                    raise ConfigError(
                        f"{where}: unknown key '{key}' in [{section}] (known: {known})"
                    )
    profile = data.get("profile", {})
    terms = data.get("terms", {})
    persona = data.get("persona", {})
    either = tuple(
        tuple(_strings(group, "consistency.either", where))
        for group in _list(
            data.get("consistency", {}).get("either", []), "consistency.either", where
        )
    )
    preferred = terms.get("preferred", {})
    if not isinstance(preferred, dict) or not all(isinstance(v, str) for v in preferred.values()):
        raise ConfigError(f"{where}: [terms] preferred maps a term to its preferred form")
    persona_name = persona.get("name")
    if persona_name is not None and not isinstance(persona_name, str):
        raise ConfigError(f"{where}: [persona] name must be a string")
    entries, pattern, prefilter = compile_entries(
        persona_name,
        _strings(persona.get("allowed-names", []), "persona.allowed-names", where),
        _strings(persona.get("forbidden", []), "persona.forbidden", where),
        _strings(terms.get("banned", []), "terms.banned", where),
        _strings(terms.get("banned-patterns", []), "terms.banned-patterns", where),
        preferred,
        _strings(data.get("brands", {}).get("names", []), "brands.names", where),
        either,
        where,
    )
    limits = {}
    for key, value in data.get("limits", {}).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: [limits] {key} must be a whole number >= 0")
        limits[key] = value
    readability = dict(data.get("readability", {}))
    metric = readability.get("metric", "flesch-kincaid")
    if metric not in METRICS:
        raise ConfigError(f"{where}: [readability] metric must be one of {', '.join(METRICS)}")
    for key in ("min-grade", "max-grade", "min-words"):
        if key in readability and not isinstance(readability[key], (int, float)):
            raise ConfigError(f"{where}: [readability] {key} must be a number")
    required = []
    for item in data.get("required", []) if isinstance(data.get("required"), list) else []:
        if not isinstance(item.get("name"), str) or not isinstance(item.get("pattern"), str):
            raise ConfigError(f"{where}: each [[required]] needs a 'name' and a 'pattern'")
        try:
            compiled = re.compile(item["pattern"])
        except re.error as exc:
            raise ConfigError(
                f"{where}: [[required]] {item['name']}: invalid pattern: {exc}"
            ) from None
        required.append(Required(item["name"], compiled, str(item.get("message", ""))))
    roles = profile.get("roles")
    return Profile(
        name=str(profile.get("name", path.stem)),
        source=where,
        roles=_strings(roles, "profile.roles", where) if roles is not None else None,
        entries=entries,
        pattern=pattern,
        prefilter=prefilter,
        limits=limits,
        readability=readability,
        persona_name=persona_name,
        required=tuple(required),
        either=either,
    )


def _list(value: Any, key: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: '{key}' must be a list")
    return value


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)
