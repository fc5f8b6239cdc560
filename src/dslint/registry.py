"""Discover rules and reporters through entry points, built-ins and plugins alike.

A package adds rules by declaring, in its own metadata::

    [project.entry-points."dslint.rules"]
    mypack = "mypack.dslint_rules:RULES"   # a sequence of Rule subclasses

dslint never imports code from the repository being linted: only installed packages count.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from dslint.rule import DatasetRule, FileRule, RecordRule, Rule

RULES_GROUP = "dslint.rules"
REPORTERS_GROUP = "dslint.reporters"


class PluginError(Exception):
    """A plugin that cannot be loaded or that declares something invalid."""


def _package(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"package {dist.name!r}" if dist is not None else f"entry point {ep.value!r}"


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every installed rule class, sorted by code; raises PluginError on a broken plugin."""
    rules: dict[str, type[Rule]] = {}
    names: dict[str, str] = {}
    for ep in sorted(entry_points(group=RULES_GROUP), key=lambda e: e.name):
        try:
            loaded = ep.load()
        except Exception as exc:  # a plugin's import error must not become a traceback
            raise PluginError(f"cannot load rules from {_package(ep)}: {exc}") from exc
        for rule in _as_rules(loaded, ep):
            if rule.code in rules:
                raise PluginError(
                    f"rule code {rule.code} from {_package(ep)} is already used by "
                    f"{rules[rule.code].__module__}"
                )
            if rule.name in names:
                raise PluginError(f"rule name {rule.name!r} from {_package(ep)} is already used")
            rules[rule.code] = rule
            names[rule.name] = rule.code
    return tuple(rules[code] for code in sorted(rules))


def rule_packages() -> set[str | None]:
    """The distributions that declare rules (None for an entry point without one)."""
    return {ep.dist.name if ep.dist else None for ep in entry_points(group=RULES_GROUP)}


def _as_rules(loaded: Any, ep: EntryPoint) -> list[type[Rule]]:
    items = loaded if isinstance(loaded, Sequence) else [loaded]
    result: list[type[Rule]] = []
    for item in items:
        if not (isinstance(item, type) and issubclass(item, (RecordRule, FileRule, DatasetRule))):
            raise PluginError(f"{_package(ep)} exports {item!r}, which is not a dslint rule class")
        for attr in ("code", "name", "category", "severity"):
            if not hasattr(item, attr):
                raise PluginError(f"rule {item.__name__} from {_package(ep)} does not set {attr!r}")
        result.append(item)
    return result


def rule_by_code(code: str) -> type[Rule] | None:
    wanted = code.upper()
    for rule in all_rules():
        if rule.code == wanted or wanted in rule.aliases or rule.name == code:
            return rule
    return None


@cache
def reporters() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=REPORTERS_GROUP)}


def load_reporter(name: str) -> Any:
    ep = reporters().get(name)
    if ep is None:
        raise PluginError(
            f"no reporter named {name!r} (installed: {', '.join(sorted(reporters()))})"
        )
    try:
        return ep.load()
    except Exception as exc:
        raise PluginError(f"cannot load reporter {name!r} from {_package(ep)}: {exc}") from exc
