"""Rule documentation generated from the rules themselves (``dslint rules``, docs/rules.md).

``python -m dslint.docs > docs/rules.md`` regenerates the reference; a test fails when the
committed file is stale.
"""

from __future__ import annotations

import dataclasses
import json

from dslint.registry import all_rules
from dslint.rule import Rule


def rule_row(rule: type[Rule]) -> dict[str, object]:
    return {
        "code": rule.code,
        "name": rule.name,
        "category": rule.category.value,
        "severity": rule.severity.value,
        "enabled_by_default": rule.enabled_by_default,
        "summary": rule.summary(),
    }


def _options(rule: type[Rule]) -> list[str]:
    lines = []
    for field in rule.option_fields():
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        shown = json.dumps(list(default) if isinstance(default, tuple) else default)
        lines.append(f"- `{field.name.replace('_', '-')}` (default `{shown}`)")
    return lines


def rule_page(rule: type[Rule], heading_level: int = 2) -> str:
    doc = rule.documentation()
    head, _, body = doc.partition("\n")
    lines = [
        f"{'#' * heading_level} {rule.code} `{rule.name}`",
        "",
        f"**{head.strip()}**",
        "",
        f"Category `{rule.category.value}`, severity `{rule.severity.value}`, "
        + ("on by default." if rule.enabled_by_default else "off by default."),
    ]
    if rule.aliases:
        lines.append(f"Formerly: {', '.join(rule.aliases)}.")
    if body.strip():
        lines += ["", body.strip()]
    options = _options(rule)
    if options:
        lines += ["", "Options:", "", *options]
    return "\n".join(lines) + "\n"


def render_rules(fmt: str) -> str:
    rules = all_rules()
    if fmt == "json":
        return json.dumps([rule_row(r) for r in rules], indent=2) + "\n"
    if fmt == "markdown":
        return markdown_reference(rules)
    width = max(len(r.name) for r in rules)
    lines = [
        f"{r.code:6} {r.name:{width}}  {r.category.value:10} {r.severity.value:7} "
        f"{'on ' if r.enabled_by_default else 'off'}  {r.summary()}"
        for r in rules
    ]
    return "\n".join(lines) + "\n"


def markdown_reference(rules: tuple[type[Rule], ...] | None = None) -> str:
    rules = rules or all_rules()
    lines = [
        "# dslint rules",
        "",
        "Generated from the rules' own documentation by `python -m dslint.docs`; do not edit.",
        "",
        "| code | name | category | severity | default | summary |",
        "|---|---|---|---|---|---|",
    ]
    for r in rules:
        lines.append(
            f"| [{r.code}](#{r.code.lower()}-{r.name}) | `{r.name}` | {r.category.value} | "
            f"{r.severity.value} | {'on' if r.enabled_by_default else 'off'} | {r.summary()} |"
        )
    lines.append("")
    for r in rules:
        lines.append(rule_page(r))
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(markdown_reference(), end="")
