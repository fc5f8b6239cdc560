"""Reporters turn one immutable Report into text, JSON, SARIF, HTML, annotations or markdown.

Each is a class registered under the ``dslint.reporters`` entry-point group with a
``render(report) -> str`` method and the file ``extensions`` it is chosen for with ``-o``.
Reporters never decide anything: severity, order and the exit code are already settled.
A format whose consumers keep only so many results declares ``max_findings`` (and why, in
``max_findings_reason``); the caller cuts the report with ``Report.limited`` and says so in
the run's notes, so every output of the run tells the same story.

A reporter says which parts of the report beyond the findings it reads: ``reads_rules`` (the
rule classes that ran, for a rule table) and ``reads_datasets`` (the frames, for figures and
samples). A run reused from the cache (dslint.reuse) has no datasets and loads the rules only
when asked, so a reporter that needs neither lets ``dslint check`` skip the work. Both default
to True, which is always safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from dslint.report import Report


class Reporter:
    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    max_findings: ClassVar[int | None] = None
    max_findings_reason: ClassVar[str] = ""
    reads_rules: ClassVar[bool] = True
    reads_datasets: ClassVar[bool] = True

    def __init__(self, *, color: bool = False, samples: bool = True) -> None:
        self.color = color
        self.samples = samples

    def render(self, report: Report) -> str:
        raise NotImplementedError
