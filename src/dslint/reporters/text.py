"""``--format text``: ``path:line:col: CODE severity: message`` lines and a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dslint.finding import Severity
from dslint.reporters import Reporter
from dslint.textutil import plural, safe

if TYPE_CHECKING:
    from dslint.finding import Finding
    from dslint.report import Report

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


class TextReporter(Reporter):
    name: ClassVar[str] = "text"
    extensions: ClassVar[tuple[str, ...]] = (".txt",)
    reads_rules: ClassVar[bool] = False
    reads_datasets: ClassVar[bool] = False

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def line(self, finding: Finding) -> str:
        location = finding.path or "(dataset)"
        if finding.line is not None:
            location += f":{finding.line}:{finding.column or 1}"
        severity = self._paint(finding.severity.value, _COLORS[finding.severity])
        code = self._paint(finding.code, "1")
        return f"{location}: {code} {severity}: {safe(finding.message)}"

    def render(self, report: Report) -> str:
        lines = [self.line(f) for f in report.findings]
        lines.extend(f"note: {safe(note)}" for note in report.notes)
        lines.append(self.summary_line(report))
        return "\n".join(lines) + "\n"

    def summary_line(self, report: Report) -> str:
        counts = report.counts()
        scope = f"{plural(len(report.files), 'file')}, {plural(report.examples, 'example')}"
        if not report.findings:
            return self._paint(f"No problems found in {scope}.", "32")
        parts = [
            plural(counts[s], s.value, "info" if s is Severity.INFO else None)
            for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
            if counts.get(s)
        ]
        total = plural(len(report.findings), "problem")
        return f"Found {total} ({', '.join(parts)}) in {scope}."
