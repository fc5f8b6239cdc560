"""The immutable result of a run, handed to every reporter.

The engine builds it; reporters only read it. ``summary()`` is the JSON contract's summary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dslint.finding import FIELDS, Category, Finding, Severity

if TYPE_CHECKING:
    import pandas as pd

    from dslint.dataset import Dataset
    from dslint.rule import Rule

FAIL_RANK = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class FileSummary:
    path: str
    format: str
    examples: int
    model: str | None
    size: int
    split: str = "train"


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    files: tuple[FileSummary, ...] = ()
    rules: tuple[type[Rule], ...] = ()  # the rules that ran, for SARIF's rule table and docs
    notes: tuple[str, ...] = ()  # run-level remarks printed once (e.g. skipped rule kinds)
    fail_on: str = "error"
    datasets: tuple[Dataset, ...] = field(default=(), compare=False, repr=False)

    @property
    def examples(self) -> int:
        return sum(f.examples for f in self.files)

    def counts(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)

    def summary(self) -> dict[str, Any]:
        by_severity = self.counts()
        by_category = Counter(f.category for f in self.findings)
        by_rule = Counter(f.code for f in self.findings)
        return {
            "files": len(self.files),
            "examples": self.examples,
            "findings": len(self.findings),
            "by_severity": {s.value: by_severity.get(s, 0) for s in reversed(Severity)},
            "by_category": {c.value: by_category[c] for c in Category if by_category.get(c)},
            "by_rule": dict(sorted(by_rule.items())),
        }

    def exit_code(self, fail_on: str | None = None) -> int:
        """0 when nothing is at or above ``fail_on``, else 1 (``never`` is always 0)."""
        fail_on = fail_on or self.fail_on
        if fail_on == "never":
            return 0
        threshold = FAIL_RANK[fail_on]
        return 1 if any(f.severity.rank >= threshold for f in self.findings) else 0

    def limited(self, max_findings: int) -> Report:
        """This report cut to its ``max_findings`` most severe findings, kept in file order.

        For formats whose consumers keep only so many results (GitHub code scanning keeps
        5,000 per SARIF run, by severity). The caller says so in the notes.
        """
        if len(self.findings) <= max_findings:
            return self
        by_severity = sorted(
            range(len(self.findings)), key=lambda i: -self.findings[i].severity.rank
        )
        kept = sorted(by_severity[:max_findings])
        return replace(self, findings=tuple(self.findings[i] for i in kept))

    def findings_frame(self) -> pd.DataFrame:
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame([f.to_dict() for f in self.findings], columns=FIELDS)
        return frame

    @staticmethod
    def merge(reports: list[Report]) -> Report:
        if len(reports) == 1:
            return reports[0]
        rules: dict[str, type[Rule]] = {}
        for report in reports:
            rules.update({r.code: r for r in report.rules})
        return Report(
            findings=tuple(
                sorted((f for r in reports for f in r.findings), key=lambda f: f.sort_key)
            ),
            files=tuple(f for r in reports for f in r.files),
            rules=tuple(rules[c] for c in sorted(rules)),
            notes=tuple(dict.fromkeys(n for r in reports for n in r.notes)),
            datasets=tuple(d for r in reports for d in r.datasets),
            # Several configs in one run: the strictest gate applies to the whole run.
            fail_on=min((r.fail_on for r in reports), key=lambda f: FAIL_RANK.get(f, 3)),
        )
