"""``--format sarif`` / ``-o dslint.sarif``: SARIF 2.1.0 for GitHub code scanning.

What GitHub reads (see ``REFERENCE.md`` §5) decides the shape: a rule table built from the
rules that ran, one result per finding with a repository-relative location, and our own
``primaryLocationLineHash``. GitHub's default hash uses the first 100 characters of the line,
which are the same for every chat example sharing a system prompt; ours comes from the
finding's content fingerprint, so alerts stay put when lines are inserted or reordered.

Only finding messages are written, never snippets of the data: SARIF files get uploaded, and
the messages are already redacted by the rules.

A finding that names other examples (``Finding.related``: the copy it repeats, the answer it
contradicts, the training example it leaks) lists them as ``relatedLocations``, and the
message's "line N" becomes an embedded link to each (``[line N](id)``, SARIF §3.11.6), which is
how GitHub shows a related location.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dslint import __version__
from dslint.finding import Category, Severity
from dslint.locate import split_pointer
from dslint.reporters import Reporter
from dslint.reporters.locations import (
    file_uri,
    relative_to_root,
    repository_root,
    uri_reference,
)

if TYPE_CHECKING:
    from dslint.finding import Finding
    from dslint.report import FileSummary, Report
    from dslint.rule import Rule

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_BASE_ID = "%SRCROOT%"
# GitHub keeps 5,000 results per run (prioritised by severity) of the 25,000 it accepts.
GITHUB_MAX_RESULTS = 5000
# GitHub accepts at most 1,000 locations per result.
MAX_RELATED = 999

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
PROBLEM_SEVERITY = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "recommendation",
}
# GitHub's security-severity bands: 9.0+ critical, 7.0-8.9 high, 4.0-6.9 medium, below low.
SECURITY_SEVERITY = {Severity.ERROR: "8.0", Severity.WARNING: "5.5", Severity.INFO: "2.0"}
SECURITY_CATEGORIES = frozenset({Category.PRIVACY, Category.MODERATION})
# A documented example: ``FAIL::`` or ``PASS::``, a blank line, indented JSONL lines.
EXAMPLE_BLOCK = re.compile(r"^(?:FAIL|PASS)::\n\n(?:    .*(?:\n|$)|\n)+", re.MULTILINE)
# How often a category's findings are real problems, when a rule does not say (``precision``).
DEFAULT_PRECISION = {
    Category.SCHEMA: "very-high",
    Category.TOKENS: "very-high",
    Category.DUPLICATES: "high",
    Category.PRIVACY: "high",
    Category.QUALITY: "medium",
    Category.MODERATION: "medium",
    Category.VOICE: "low",
}


def information_uri() -> str:
    """The project's home page from the package metadata, else its package index page."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("dslint")
    except PackageNotFoundError:
        meta = None
    for entry in (meta.get_all("Project-URL") or []) if meta else []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "documentation", "source"):
            return str(url).strip()
    return "https://pypi.org/project/dslint/"


def _sentence(text: str) -> str:
    """SARIF messages are sentences: capitalised and ending with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _description(rule: type[Rule]) -> str:
    """The summary and the documentation's first paragraph of prose (never an example)."""
    prose = EXAMPLE_BLOCK.sub("", rule.documentation())
    paragraphs = [p for p in prose.split("\n\n")[1:] if p.strip()]
    first = " ".join(paragraphs[0].split()) if paragraphs else ""
    if paragraphs and (paragraphs[0].startswith("    ") or first.endswith("::")):
        first = ""
    return _sentence(f"{rule.summary()} {first}".strip())


def rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    from dslint.docs import rule_page

    properties: dict[str, Any] = {
        "tags": ["dataset", rule.category.value]
        + (["security"] if rule.category in SECURITY_CATEGORIES else []),
        "precision": getattr(rule, "precision", None) or DEFAULT_PRECISION[rule.category],
        "problem.severity": PROBLEM_SEVERITY[rule.severity],
    }
    if rule.category in SECURITY_CATEGORIES:
        properties["security-severity"] = SECURITY_SEVERITY[rule.severity]
    text, markdown = rule.documentation(), rule_page(rule)
    full = _description(rule)
    if rule.category in SECURITY_CATEGORIES:
        # Their documentation quotes secret-shaped and personal example values (moderation's,
        # offensive text). SARIF files are uploaded and scanned, so they carry the summary
        # and point to the full page instead.
        full = _sentence(rule.summary())
        see = f"Run `dslint rule {rule.code}` for the full documentation with examples."
        text = f"{full}\n\n{see}\n"
        markdown = (
            f"## {rule.code} `{rule.name}`\n\n**{full}**\n\nCategory `{rule.category.value}`, "
            f"severity `{rule.severity.value}`.\n\n{see}\n"
        )
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": _sentence(rule.summary())},
        "fullDescription": {"text": full},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {
            "enabled": rule.enabled_by_default,
            "level": LEVELS[rule.severity],
        },
        "properties": properties,
    }


class SarifReporter(Reporter):
    name: ClassVar[str] = "sarif"
    extensions: ClassVar[tuple[str, ...]] = (".sarif",)
    max_findings: ClassVar[int | None] = GITHUB_MAX_RESULTS
    max_findings_reason: ClassVar[str] = "GitHub code scanning keeps 5,000 results per run"
    reads_datasets: ClassVar[bool] = False  # the rule table comes from the rules

    def __init__(self, *, color: bool = False, samples: bool = True, root: Path | None = None):
        super().__init__(color=color, samples=samples)
        self.root = root

    def render(self, report: Report) -> str:
        return json.dumps(self.document(report), indent=2, ensure_ascii=False) + "\n"

    def document(self, report: Report) -> dict[str, Any]:
        root = (self.root or repository_root()).resolve()
        rules = sorted(report.rules, key=lambda r: r.code)
        known = {r.code for r in rules}
        # A finding from a rule missing in report.rules (a hand-built report) still needs one.
        rules += [_stand_in(f) for f in _first_per_code(report.findings) if f.code not in known]
        rule_index = {r.code: i for i, r in enumerate(rules)}
        artifacts, artifact_index = _artifacts(report.files, report.findings, root)
        fallback = report.files[0].path if report.files else ""
        occurrences: Counter[str] = Counter()
        results = []
        place = _Place(artifact_index, root, fallback)
        for finding in report.findings:
            occurrences[finding.fingerprint] += 1
            results.append(
                _result(finding, rule_index[finding.code], place, occurrences[finding.fingerprint])
            )
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "dslint",
                    "fullName": "dslint dataset linter",
                    "version": __version__,
                    "semanticVersion": __version__,
                    "informationUri": information_uri(),
                    "rules": [rule_descriptor(r) for r in rules],
                }
            },
            "automationDetails": {"id": "dslint/"},
            "originalUriBaseIds": {ROOT_BASE_ID: {"uri": file_uri(root)}},
            "artifacts": artifacts,
            "invocations": [_invocation(report)],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }
        return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _first_per_code(findings: tuple[Finding, ...]) -> list[Finding]:
    return list({f.code: f for f in reversed(findings)}.values())


def _stand_in(finding: Finding) -> type[Rule]:
    from dslint.rule import DatasetRule

    return type(
        f"Rule{finding.code}",
        (DatasetRule,),
        {
            "__doc__": finding.name,
            "code": finding.code,
            "name": finding.name,
            "category": finding.category,
            "severity": finding.severity,
        },
    )


def _location(path: str, root: Path) -> dict[str, Any]:
    relative = relative_to_root(path, root)
    if relative is not None:
        return {"uri": uri_reference(relative), "uriBaseId": ROOT_BASE_ID}
    return {"uri": file_uri(Path(path))}


def _artifacts(
    files: tuple[FileSummary, ...], findings: tuple[Finding, ...], root: Path
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    entries: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for file in files:
        if file.path not in index:
            index[file.path] = len(entries)
            entries.append({"location": _location(file.path, root), "length": file.size})
    for finding in findings:
        if finding.path and finding.path not in index:
            index[finding.path] = len(entries)
            entries.append({"location": _location(finding.path, root)})
    return entries, index


@dataclass(frozen=True)
class _Place:
    """How to write a location: artifact indexes, the root, the file for dataset findings."""

    artifact_index: dict[str, int]
    root: Path
    fallback_path: str

    def artifact(self, path: str) -> dict[str, Any]:
        """An ``artifactLocation``, with the artifact's index when the run lists the file."""
        artifact = _location(path, self.root)
        if path in self.artifact_index:
            artifact["index"] = self.artifact_index[path]
        return artifact


def _result(finding: Finding, rule_index: int, place: _Place, occurrence: int) -> dict[str, Any]:
    # GitHub needs a file and a start line for every result. A file-level finding points at
    # the file's first line, a dataset-level one at the first input file's.
    path = finding.path or place.fallback_path
    region: dict[str, Any] = {"startLine": finding.line or 1}
    if finding.line is not None and finding.column is not None:
        region["startColumn"] = finding.column
        if finding.end_column is not None and finding.end_column > finding.column:
            region["endColumn"] = finding.end_column
    physical: dict[str, Any] = {"region": region}
    if path:
        physical = {"artifactLocation": place.artifact(path), "region": region}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.pointer:
        parts = split_pointer(finding.pointer)
        location["logicalLocations"] = [
            {
                "name": parts[-1],
                "fullyQualifiedName": finding.pointer,
                "kind": "element" if parts[-1].isdigit() else "property",
            }
        ]
    scope = "record" if finding.line is not None else ("file" if finding.path else "dataset")
    text, related = _linked(finding, place)
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"primaryLocationLineHash": f"{finding.fingerprint}:{occurrence}"},
        "properties": {
            "category": finding.category.value,
            "pointer": finding.pointer,
            "scope": scope,
        },
    }
    if related:
        result["relatedLocations"] = related
    return result


def _linked(finding: Finding, place: _Place) -> tuple[str, list[dict[str, Any]]]:
    """The message, with "line N" linked to each example the finding names, and their
    locations. Literal brackets are escaped only in a message that has links (§3.11.6)."""
    text = _sentence(finding.message)
    if not finding.related:
        return text, []
    linked = text.replace("[", "\\[").replace("]", "\\]")
    locations, links = [], 0
    for number, (path, line) in enumerate(finding.related[:MAX_RELATED], 1):
        region = {"startLine": line}
        locations.append({
            "id": number,
            "physicalLocation": {"artifactLocation": place.artifact(path), "region": region},
            "message": {"text": f"{path} line {line}" if path != finding.path else f"Line {line}"},
        })  # fmt: skip
        # The first mention of the line that is not a link yet ("lines 5 and 7" stay text).
        mention = rf"(?<![\\[\w])([Ll]ine {line})(?!\d)"
        linked, found = re.subn(mention, rf"[\1]({number})", linked, count=1)
        links += found
    return (linked if links else text), locations


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if report.notes:
        invocation["toolExecutionNotifications"] = [
            {"level": "note", "message": {"text": _sentence(note)}} for note in report.notes
        ]
    return invocation
