"""The privacy data packs (``rules/privacy/*.toml``) compiled for scanning.

Each pack becomes ONE alternation of all its patterns (named groups tell which pattern
matched), used twice: RE2 through pyarrow picks the strings of a whole column that can match
at all, then Python's ``re`` finds the exact spans in those few strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from dslint import packs
from dslint.rules.privacy.validators import VALIDATORS, Validator

PACKS = ("pii", "secrets")


# Python's regular expressions are compiled when first used: only the texts RE2 picks out
# that the memo has not seen need them, and compiling them all took about 5 ms of every
# check (a small one's re-run usually needs none).


@dataclass(frozen=True)
class Pattern:
    kind: str
    label: str
    score: float
    context_words: tuple[str, ...]
    keep_regex: str | None
    validate: Validator | None
    group: str  # the named group of the whole pattern in the pack's alternation
    value_group: str | None  # the group that narrows the span, if the pattern has one

    @cached_property
    def context(self) -> re.Pattern[str] | None:
        if not self.context_words:
            return None
        words = "|".join(re.escape(w) for w in self.context_words)
        return re.compile(r"\b(?:" + words + r")\b", re.I)

    @cached_property
    def keep(self) -> re.Pattern[str] | None:
        return re.compile(self.keep_regex) if self.keep_regex is not None else None


@dataclass(frozen=True)
class Pack:
    name: str
    patterns: dict[str, Pattern]  # by group name
    alternation: str  # every pattern in a named group, for Python's re
    re2: str  # the same alternation for pyarrow's RE2 (group names dropped)
    threshold: float
    window: int
    boost: float

    @cached_property
    def regex(self) -> re.Pattern[str]:
        # ASCII classes and boundaries, as in RE2, so both engines agree on what matches.
        return re.compile(self.alternation, re.ASCII)


class PackError(ValueError):
    """A data pack that does not follow its format (a bug in dslint's shipped data)."""


@cache
def load(name: str) -> Pack:
    data = packs.load_toml("privacy", f"{name}.toml")
    patterns: dict[str, Pattern] = {}
    pieces: list[str] = []
    plain: list[str] = []
    for index, entry in enumerate(data.get("pattern", [])):
        group = f"p{index}"
        value_group = f"v{index}"
        regex = str(entry["regex"])
        has_value = "(?P<value>" in regex
        named = regex.replace("(?P<value>", f"(?P<{value_group}>")
        pieces.append(f"(?P<{group}>{named})")
        plain.append(regex.replace("(?P<value>", "("))
        validate = entry.get("validate")
        if validate is not None and validate not in VALIDATORS:
            raise PackError(f"privacy/{name}.toml: unknown validator {validate!r}")
        patterns[group] = Pattern(
            kind=str(entry["kind"]),
            label=str(entry["label"]),
            score=float(entry["score"]),
            context_words=tuple(str(w) for w in entry.get("context", [])),
            keep_regex=str(entry["keep"]) if "keep" in entry else None,
            validate=VALIDATORS[validate] if validate else None,
            group=group,
            value_group=value_group if has_value else None,
        )
    return Pack(
        name=name,
        patterns=patterns,
        alternation="|".join(pieces),
        re2="|".join(f"(?:{p})" for p in plain),
        threshold=float(data["threshold"]),
        window=int(data["window"]),
        boost=float(data["boost"]),
    )


@dataclass(frozen=True)
class Placeholders:
    markers: tuple[str, ...]
    min_distinct: int
    examples: frozenset[str]
    tables: Mapping[str, Any]  # what validators consult (test cards, IBAN lengths...)


@cache
def placeholders() -> Placeholders:
    data = packs.load_toml("privacy", "placeholders.toml")
    tables = {
        "test_cards": frozenset(data["test_cards"]),
        "iban_lengths": dict(data["iban_lengths"]),
        "email_domains": tuple(d.lower() for d in data["email_domains"]),
        "email_suffixes": tuple(d.lower() for d in data["email_suffixes"]),
        "phone_patterns": tuple(re.compile(p) for p in data["phone_patterns"]),
        "well_known_ips": frozenset(data["well_known_ips"]),
        "url_passwords": frozenset(p.lower() for p in data["url_passwords"]),
    }
    return Placeholders(
        markers=tuple(m.lower() for m in data["markers"]),
        min_distinct=int(data["min_distinct"]),
        examples=frozenset(data["examples"]),
        tables=tables,
    )
