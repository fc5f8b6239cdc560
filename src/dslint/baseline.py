"""Baselines: accept today's findings, fail only on new ones.

``dslint baseline`` writes every finding of a run as its content fingerprint, rule code and
path, with a count (the same fingerprint can occur more than once: two identical bad lines).
Nothing else is kept: no message (messages may quote data) and no line number (lines move).
``dslint check --baseline FILE`` then drops each finding whose fingerprint still has an unused
count in the baseline; what is left is new. Baseline entries that no finding used any more
are problems that have been fixed, and the report says how many.

Matching is a multiset: a baseline that holds a fingerprint twice absorbs at most two such
findings, so a third copy of an accepted bad line is reported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dslint import __version__
from dslint.config import ConfigError
from dslint.finding import Finding
from dslint.report import Report
from dslint.textutil import plural

FORMAT_VERSION = 1


class BaselineError(ConfigError):
    """A baseline file that cannot be read; the CLI prints it on one line and exits with 2."""


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    code: str
    path: str


def _order(entry: Entry) -> tuple[str, str, str]:
    return (entry.path, entry.code, entry.fingerprint)


@dataclass(frozen=True)
class Baseline:
    """Accepted findings, as a multiset of entries."""

    entries: Mapping[Entry, int]

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> Baseline:
        return cls(Counter(Entry(f.fingerprint, f.code, f.path) for f in findings))

    @property
    def total(self) -> int:
        return sum(self.entries.values())

    def to_json(self) -> str:
        by_code = Counter[str]()
        for entry, count in self.entries.items():
            by_code[entry.code] += count
        head = {
            "tool": {"name": "dslint", "version": __version__},
            "version": FORMAT_VERSION,
            "summary": {"findings": self.total, "by_rule": dict(sorted(by_code.items()))},
        }
        # One finding per line, in a stable order, so a baseline's diff in review is readable.
        rows = [
            json.dumps({"fingerprint": e.fingerprint, "code": e.code, "path": e.path, "count": n})
            for e, n in sorted(self.entries.items(), key=lambda item: _order(item[0]))
        ]
        body = json.dumps(head, indent=2)[:-2]
        listing = "[\n    " + ",\n    ".join(rows) + "\n  ]" if rows else "[]"
        return body + ',\n  "findings": ' + listing + "\n}\n"

    def write(self, path: str | Path) -> None:
        target = Path(path)
        temporary = target.with_name(target.name + ".tmp")
        try:
            temporary.write_text(self.to_json(), encoding="utf-8")
            temporary.replace(target)  # atomic: a reader never sees half a baseline
        except OSError as exc:
            raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise BaselineError(f"baseline {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BaselineError(f"baseline {path}: not a dslint baseline ({exc})") from None
        return cls.parse(document, str(path))

    @classmethod
    def parse(cls, document: Any, where: str) -> Baseline:
        if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
            raise BaselineError(f"baseline {where}: not a dslint baseline (no 'findings' list)")
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise BaselineError(
                f"baseline {where}: format version {version!r} is not supported "
                f"(this dslint writes {FORMAT_VERSION}); run 'dslint baseline' again"
            )
        entries: Counter[Entry] = Counter()
        for position, item in enumerate(document["findings"]):
            if not (
                isinstance(item, dict)
                and all(isinstance(item.get(k), str) for k in ("fingerprint", "code", "path"))
                and isinstance(item.get("count", 1), int)
                and not isinstance(item.get("count", 1), bool)
                and item.get("count", 1) >= 1
            ):
                raise BaselineError(f"baseline {where}: entry {position} is malformed")
            entries[Entry(item["fingerprint"], item["code"], item["path"])] += item.get("count", 1)
        return cls(entries)


@dataclass(frozen=True)
class Outcome:
    """What applying a baseline did: the findings kept, and the counts for the notes."""

    new: tuple[Finding, ...]
    suppressed: int
    fixed: int


def compare(findings: Iterable[Finding], baseline: Baseline) -> Outcome:
    """Split findings into new ones and accepted ones (multiset match on the fingerprint)."""
    remaining: Counter[tuple[str, str]] = Counter()
    for entry, count in baseline.entries.items():
        # The fingerprint already hashes code and path; keying on both as well keeps a
        # (vanishingly unlikely) collision between two rules from hiding a finding.
        remaining[(entry.fingerprint, entry.code)] += count
    new: list[Finding] = []
    suppressed = 0
    for finding in findings:
        key = (finding.fingerprint, finding.code)
        if remaining[key] > 0:
            remaining[key] -= 1
            suppressed += 1
        else:
            new.append(finding)
    fixed = sum(count for count in remaining.values() if count > 0)
    return Outcome(new=tuple(new), suppressed=suppressed, fixed=fixed)


def apply(report: Report, baseline: Baseline, source: str = "the baseline") -> Report:
    """The report with baseline findings removed and a note on what was accepted or fixed."""
    outcome = compare(report.findings, baseline)
    note = (
        f"{source}: {plural(outcome.suppressed, 'known finding')} not shown; "
        f"{plural(outcome.fixed, 'baseline finding')} fixed since it was recorded"
    )
    if outcome.fixed:
        note += " (run 'dslint baseline' to shrink it)"
    return replace(report, findings=outcome.new, notes=(*report.notes, note))
