"""Discover rules and reporters through entry points, built-ins and plugins alike.

A package adds rules by declaring, in its own metadata::

    [project.entry-points."dslint.rules"]
    mypack = "mypack.dslint_rules:RULES"   # a sequence of Rule subclasses

dslint never imports code from the repository being linted: only installed packages count.

Choosing rules (``--select``, ``--ignore``, the defaults) needs only their codes, names and
categories, so :func:`catalog` takes those of dslint's own families from ``rules/catalog.json``
without importing them, and :func:`load_chosen` imports only the families a run chose. Three
of the seven import pandas, numpy and pyarrow at the top (about 0.3 s), which a pre-commit
hook limited to the schema rules never needs. ``python -m dslint.registry >
src/dslint/rules/catalog.json`` regenerates the catalog; a test fails when it is stale.
Plugins are always imported: their rules are known only once loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslint import installed
from dslint.finding import Category
from dslint.rule import DatasetRule, FileRule, RecordRule, Rule

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

RULES_GROUP = "dslint.rules"
REPORTERS_GROUP = "dslint.reporters"
CATALOG = Path(__file__).resolve().parent / "rules" / "catalog.json"
BUILT_IN = "dslint.rules."  # the value prefix of dslint's own rule entry points


@dataclass(frozen=True)
class RuleInfo:
    """What choosing a rule reads, without its module: matched like the class itself."""

    code: str
    name: str
    aliases: tuple[str, ...]
    category: Category
    enabled_by_default: bool
    family: str  # the entry point that declares it
    kind: str  # "record", "file" or "dataset" (see kind())


Choosable = type[Rule] | RuleInfo


def kind(entry: Choosable) -> str:
    """What a rule checks: one "record", one "file" or the "dataset" (a helper that reads
    part of a file needs the record rules alone, and so imports only their families)."""
    if isinstance(entry, RuleInfo):
        return entry.kind
    if issubclass(entry, RecordRule):
        return "record"
    return "file" if issubclass(entry, FileRule) else "dataset"


class PluginError(Exception):
    """A plugin that cannot be loaded or that declares something invalid."""


def entry_points(*, group: str) -> Sequence[Any]:
    """The installed entry points of a group: read from the metadata folders
    (:mod:`dslint.installed`), or by importlib.metadata where that cannot tell."""
    found = installed.entry_points(group)
    if found is None:
        from importlib.metadata import entry_points as search

        return search(group=group)
    return found


_DECLARED: dict[str, tuple[Any, tuple[EntryPoint, ...]]] = {}


def declared(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of a group, found once per process: each search reads the metadata
    folder of every installed package, and a check asked up to five times. A new
    ``entry_points`` (a test's stand-in) is searched afresh."""
    known = _DECLARED.get(group)
    if known is None or known[0] is not entry_points:
        found = tuple(entry_points(group=group))
        if not any(ep.value.startswith("dslint.") for ep in found):
            # dslint's own rules and reporters are entry points of its distribution: without
            # its metadata (a source folder on PYTHONPATH) a check would load no rule at all,
            # and a baseline would record no finding.
            raise PluginError(
                f"dslint's {group.rpartition('.')[2]} are not registered: dslint is imported from "
                f"{Path(__file__).parent} without its package metadata; install it "
                "(pip install dslint, or pip install -e . in a checkout)"
            )
        known = _DECLARED[group] = (entry_points, found)
    return known[1]


def _package(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"package {dist.name!r}" if dist is not None else f"entry point {ep.value!r}"


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every installed rule class, sorted by code; raises PluginError on a broken plugin."""
    rules: dict[str, type[Rule]] = {}
    names: dict[str, str] = {}
    for ep in sorted(declared(RULES_GROUP), key=lambda e: e.name):
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


def only_built_in_rules() -> bool:
    """Is every rule entry point one of dslint's own families (no plugin's code can run)?
    Read from the entry points' values: a distribution's name would parse its metadata."""
    return all(ep.value.startswith(BUILT_IN) for ep in declared(RULES_GROUP))


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


def catalog() -> tuple[Choosable, ...]:
    """Every installed rule, sorted by code: dslint's own as :class:`RuleInfo` from the
    catalog (nothing imported), plugins' as their loaded classes."""
    known = _read_catalog()
    entries: list[Choosable] = []
    for ep in sorted(declared(RULES_GROUP), key=lambda e: e.name):
        if ep.value.startswith(BUILT_IN) and ep.name in known:
            entries.extend(known[ep.name])
        else:
            try:
                loaded = ep.load()
            except Exception as exc:
                raise PluginError(f"cannot load rules from {_package(ep)}: {exc}") from exc
            entries.extend(_as_rules(loaded, ep))
    codes = [entry.code for entry in entries]
    if len(set(codes)) != len(codes):
        all_rules()  # a clash: let the full load name the plugin that causes it
    return tuple(sorted(entries, key=lambda entry: entry.code))


def load_chosen(chosen: Iterable[Choosable]) -> list[type[Rule]]:
    """The rule classes of chosen catalog entries, importing only the families they are in."""
    chosen = list(chosen)
    families = {entry.family for entry in chosen if isinstance(entry, RuleInfo)}
    classes: dict[str, type[Rule]] = {}
    for ep in declared(RULES_GROUP):
        if ep.name in families and ep.value.startswith(BUILT_IN):
            classes.update((rule.code, rule) for rule in _as_rules(ep.load(), ep))
    result = []
    for entry in chosen:
        if isinstance(entry, RuleInfo):
            rule = classes.get(entry.code)
            if rule is None or rule.name != entry.name:
                raise PluginError(
                    f"{CATALOG} is out of date ({entry.code}): regenerate it with "
                    "python -m dslint.registry"
                )
            result.append(rule)
        else:
            result.append(entry)
    return result


def chosen_modules(chosen: Iterable[Choosable]) -> list[str]:
    """The modules :func:`load_chosen` would import for these entries (dslint's own
    families), without importing them: what a helper process can import ahead."""
    families = {entry.family for entry in chosen if isinstance(entry, RuleInfo)}
    return sorted(
        ep.module
        for ep in declared(RULES_GROUP)
        if ep.name in families and ep.value.startswith(BUILT_IN)
    )


@cache
def _read_catalog() -> dict[str, list[RuleInfo]]:
    try:
        document = json.loads(CATALOG.read_text(encoding="utf-8"))
        return {
            family: [
                RuleInfo(
                    code, name, tuple(aliases), Category(category), bool(default), family, what
                )
                for code, name, aliases, category, default, what in rows
            ]
            for family, rows in document.items()
        }
    except (OSError, ValueError, TypeError):  # no catalog: every family is imported
        return {}


def build_catalog() -> dict[str, list[list[Any]]]:
    """The catalog of dslint's own rule families, from the loaded classes."""
    document: dict[str, list[list[Any]]] = {}
    for ep in sorted(declared(RULES_GROUP), key=lambda e: e.name):
        if ep.value.startswith(BUILT_IN):
            document[ep.name] = [
                [
                    rule.code,
                    rule.name,
                    list(rule.aliases),
                    rule.category.value,
                    rule.enabled_by_default,
                    kind(rule),
                ]
                for rule in sorted(_as_rules(ep.load(), ep), key=lambda r: r.code)
            ]
    return document


def rule_by_code(code: str) -> type[Rule] | None:
    wanted = code.upper()
    for rule in all_rules():
        if rule.code == wanted or wanted in rule.aliases or rule.name == code:
            return rule
    return None


@cache
def reporters() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in declared(REPORTERS_GROUP)}


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


def render_catalog(document: dict[str, list[list[Any]]]) -> str:
    """The catalog as committed: one rule per line, so a diff shows what changed."""
    families = []
    for family, rows in document.items():
        body = ",\n".join(f"  {json.dumps(row)}" for row in rows)
        families.append(f" {json.dumps(family)}: [\n{body}\n ]")
    return "{\n" + ",\n".join(families) + "\n}\n"


if __name__ == "__main__":
    print(render_catalog(build_catalog()), end="")
