"""``--format markdown`` / ``-o summary.md``: for ``$GITHUB_STEP_SUMMARY`` and PR comments.

Counts by severity and category, the top rules, the files with their tokens and estimated
cost when token counts are available, then the first findings. GitHub takes at most 1 MiB
per step summary, so the finding list is cut well before that and the whole text is checked.
Text in table cells is escaped for GitHub's markdown: pipes, HTML, emphasis and ``@``
(a quoted ``@name`` in a PR comment would notify someone).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, ClassVar

from dslint.finding import Category, Severity
from dslint.reporters import Reporter
from dslint.reporters import figures as figures_module
from dslint.textutil import plural, safe

if TYPE_CHECKING:
    from dslint.finding import Finding
    from dslint.report import Report

MAX_BYTES = 1024 * 1024  # GitHub's limit for one step summary
BUDGET = 900 * 1024  # stop adding rows here, leaving room for the closing lines
TOP_RULES = 10
MAX_FINDINGS = 200
MAX_FILES = 100
SYMBOLS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "ℹ"}
SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def cell(value: object) -> str:
    """Text safe inside a GitHub markdown table cell."""
    shown = safe(str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    shown = _SPECIAL.sub(r"\\\1", shown)
    return shown.replace("@", "&#64;")


def _location(finding: Finding) -> str:
    if finding.line is None:
        return finding.path or "(dataset)"
    return f"{finding.path}:{finding.line}:{finding.column or 1}"


class MarkdownReporter(Reporter):
    name: ClassVar[str] = "markdown"
    extensions: ClassVar[tuple[str, ...]] = (".md", ".markdown")
    reads_rules: ClassVar[bool] = False  # token figures come from the datasets

    def render(self, report: Report) -> str:
        counts = report.counts()
        scope = f"{plural(len(report.files), 'file')}, {plural(report.examples, 'example')}"
        if report.findings:
            parts = [
                f"{SYMBOLS[s]} {plural(counts[s], s.value, 'info' if s is Severity.INFO else None)}"
                for s in SEVERITIES
                if counts.get(s)
            ]
            headline = f"## dslint: {', '.join(parts)}"
        else:
            headline = "## dslint: ✔ no problems found"
        lines = [headline, "", f"Checked {cell(scope)}."]
        tokens = figures_module.token_figures(report)
        if tokens is not None:
            line = f"{tokens.total:,} tokens"
            if tokens.assistant_total is not None:
                line += f" ({tokens.assistant_total:,} in assistant messages)"
            if tokens.limit is not None and tokens.over_limit:
                line += f"; {plural(tokens.over_limit, 'example')} over the {tokens.limit:,} limit"
            if tokens.cost is not None:
                cost = tokens.cost
                basis = f"{cell(', '.join(cost.models))}, {plural(cost.epochs, 'epoch')}"
                line += f"; estimated training cost ${cost.dollars:,.2f} ({basis})"
            lines.append(line + ".")
        lines += [f"> Note: {cell(note)}" for note in report.notes]
        if report.findings:
            lines += ["", *self._categories(report), "", *self._rules(report)]
        lines += ["", *self._files(report)]
        if report.findings:
            lines += ["", *self._findings(report, len("\n".join(lines).encode("utf-8")))]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _categories(report: Report) -> list[str]:
        by = Counter((f.category, f.severity) for f in report.findings)
        rows = [
            f"| {c.value} | " + " | ".join(f"{by.get((c, s), 0):,}" for s in SEVERITIES) + " |"
            for c in Category
            if any(by.get((c, s)) for s in SEVERITIES)
        ]
        return ["| category | errors | warnings | info |", "|---|---:|---:|---:|", *rows]

    @staticmethod
    def _rules(report: Report) -> list[str]:
        counts = Counter(f.code for f in report.findings)
        meta = {f.code: f for f in report.findings}
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RULES]
        title = "### Top rules" if len(counts) > TOP_RULES else "### Rules"
        rows = [
            f"| `{code}` | {cell(meta[code].name)} | {SYMBOLS[meta[code].severity]} "
            f"{meta[code].severity.value} | {n:,} |"
            for code, n in top
        ]
        return [title, "", "| rule | name | severity | findings |", "|---|---|---|---:|", *rows]

    @staticmethod
    def _files(report: Report) -> list[str]:
        per_file = Counter(f.path for f in report.findings)
        rows = [
            f"| {cell(f.path)} | {f.split} | {cell(f.format)} | {cell(f.model or '-')} | "
            f"{f.examples:,} | {per_file.get(f.path, 0):,} |"
            for f in report.files[:MAX_FILES]
        ]
        if len(report.files) > MAX_FILES:
            rows.append(f"| … {len(report.files) - MAX_FILES:,} more files | | | | | |")
        return [
            "### Files",
            "",
            "| file | split | format | model | examples | findings |",
            "|---|---|---|---|---:|---:|",
            *rows,
        ]

    @staticmethod
    def _findings(report: Report, used: int) -> list[str]:
        ordered = sorted(report.findings, key=lambda f: -f.severity.rank)
        rows: list[str] = []
        size = used
        for finding in ordered[:MAX_FINDINGS]:
            row = (
                f"| {SYMBOLS[finding.severity]} | `{finding.code}` | {cell(_location(finding))} "
                f"| {cell(finding.message)} |"
            )
            size += len(row.encode("utf-8")) + 1
            if size > BUDGET:
                break
            rows.append(row)
        shown = f"first {len(rows):,} of {len(ordered):,}" if len(rows) < len(ordered) else "all"
        return [
            f"<details><summary>Findings ({shown}, most severe first)</summary>",
            "",
            "| | rule | location | message |",
            "|---|---|---|---|",
            *rows,
            "",
            "</details>",
        ]
