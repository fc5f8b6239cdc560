"""``--format json``: the machine-readable contract {tool, summary, findings}."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from dslint import __version__
from dslint.reporters import Reporter

if TYPE_CHECKING:
    from dslint.report import Report


class JsonReporter(Reporter):
    name: ClassVar[str] = "json"
    extensions: ClassVar[tuple[str, ...]] = (".json",)
    reads_rules: ClassVar[bool] = False
    reads_datasets: ClassVar[bool] = False

    def render(self, report: Report) -> str:
        summary = report.summary()
        summary["inputs"] = [
            {
                "path": f.path,
                "split": f.split,
                "format": f.format,
                "examples": f.examples,
                "model": f.model,
            }
            for f in report.files
        ]
        if report.notes:
            summary["notes"] = list(report.notes)
        document = {
            "tool": {"name": "dslint", "version": __version__},
            "summary": summary,
            "findings": [f.to_dict() for f in report.findings],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
