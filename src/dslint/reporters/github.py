"""``--format github``: workflow-command annotations for GitHub Actions (the default there).

One ``::error``/``::warning``/``::notice`` line per finding, escaped as the workflow-command
spec says: ``%``, CR and LF in the message; ``:`` and ``,`` too in parameters. GitHub shows
only 10 annotations per severity per step (50 per job), so errors come first; the closing
line is the same summary as the text format's. Paths are relative to the repository root,
which is what GitHub resolves them against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dslint.finding import Severity
from dslint.reporters import Reporter
from dslint.reporters.locations import relative_to_root, repository_root
from dslint.reporters.text import TextReporter

if TYPE_CHECKING:
    from pathlib import Path

    from dslint.finding import Finding
    from dslint.report import Report

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
SHOWN_PER_SEVERITY = 10


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


class GithubReporter(Reporter):
    name: ClassVar[str] = "github"
    reads_rules: ClassVar[bool] = False
    reads_datasets: ClassVar[bool] = False

    def __init__(self, *, color: bool = False, samples: bool = True, root: Path | None = None):
        super().__init__(color=False, samples=samples)  # workflow commands must be plain
        self.root = root

    def annotation(self, finding: Finding, root: Path) -> str:
        properties = []
        if finding.path:
            path = relative_to_root(finding.path, root) or finding.path
            properties.append(f"file={escape_property(path)}")
            if finding.line is not None:
                properties.append(f"line={finding.line}")
                if finding.column is not None:
                    properties.append(f"col={finding.column}")
                    if finding.end_column is not None and finding.end_column > finding.column:
                        properties.append(f"endColumn={finding.end_column}")
        properties.append(f"title={escape_property(f'{finding.code} ({finding.name})')}")
        command = COMMANDS[finding.severity]
        return f"::{command} {','.join(properties)}::{escape_data(finding.message)}"

    def render(self, report: Report) -> str:
        root = (self.root or repository_root()).resolve()
        ordered = sorted(report.findings, key=lambda f: -f.severity.rank)  # stable: file order
        lines = [self.annotation(f, root) for f in ordered]
        lines.extend(f"dslint: note: {escape_data(note)}" for note in report.notes)
        counts = report.counts()
        hidden = [s for s in Severity if counts.get(s, 0) > SHOWN_PER_SEVERITY]
        if hidden:
            lines.append(
                f"dslint: GitHub shows {SHOWN_PER_SEVERITY} annotations per severity in a step; "
                "the log above lists every finding (a SARIF upload or the job summary has them "
                "all too)."
            )
        lines.append("dslint: " + TextReporter().summary_line(report))
        return "\n".join(lines) + "\n"
