"""``[tool.dslint.privacy]``: allow-lists and what to scan.

Example::

    [tool.dslint.privacy]
    allow = ["support@acme.com", "+1 415 555 2671"]    # exact values never reported
    allow-domains = ["acme.com"]                      # emails at (sub)domains, URL hosts
    allow-patterns = ['^ops-[a-z]+@acme\\.io$']        # regexes, matched against the value
    scan = ["messages", "tool-calls", "tools"]        # the default: all three

Unknown keys are an error that names the key, like everywhere else in the config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dslint.config import Config, ConfigError

SECTION = "privacy"
SCAN_CHOICES = ("messages", "tool-calls", "tools")


@dataclass(frozen=True)
class PrivacySettings:
    allow: frozenset[str] = frozenset()
    allow_domains: tuple[str, ...] = ()
    allow_patterns: tuple[re.Pattern[str], ...] = ()
    scan: frozenset[str] = frozenset(SCAN_CHOICES)

    def allowed(self, kind: str, value: str) -> bool:
        if value.casefold() in self.allow:
            return True
        if any(p.search(value) for p in self.allow_patterns):
            return True
        if self.allow_domains and kind in ("email", "url_password"):
            host = _host(kind, value)
            return any(host == d or host.endswith("." + d) for d in self.allow_domains)
        return False


def _host(kind: str, value: str) -> str:
    if kind == "email":
        return value.rsplit("@", 1)[-1].lower()
    after_at = value.rsplit("@", 1)[-1]
    return re.split(r"[:/?#]", after_at, maxsplit=1)[0].lower()


def _strings(section: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = section[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [tool.dslint.privacy] '{key}' must be a list of strings")
    return tuple(value)


def parse(config: Config) -> PrivacySettings:
    section = config.section(SECTION)
    where = str(config.source) if config.source else "config"
    known = {"allow", "allow-domains", "allow-patterns", "scan"}
    values: dict[str, Any] = {}
    for key in section:
        normal = key.replace("_", "-")
        if normal not in known:
            raise ConfigError(
                f"{where}: unknown key '{key}' in [tool.dslint.privacy] "
                f"(known: {', '.join(sorted(known))})"
            )
        values[normal] = _strings(section, key, where)
    patterns = []
    for text in values.get("allow-patterns", ()):
        try:
            patterns.append(re.compile(text))
        except re.error as exc:
            raise ConfigError(
                f"{where}: [tool.dslint.privacy] allow-patterns: bad regex {text!r}: {exc}"
            ) from None
    scan = values.get("scan", SCAN_CHOICES)
    unknown = [s for s in scan if s not in SCAN_CHOICES]
    if unknown:
        raise ConfigError(
            f"{where}: [tool.dslint.privacy] scan: unknown '{unknown[0]}' "
            f"(choose from {', '.join(SCAN_CHOICES)})"
        )
    return PrivacySettings(
        allow=frozenset(v.casefold() for v in values.get("allow", ())),
        allow_domains=tuple(d.lower().lstrip("@.") for d in values.get("allow-domains", ())),
        allow_patterns=tuple(patterns),
        scan=frozenset(scan),
    )
