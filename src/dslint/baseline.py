"""Baselines: accept today's findings, fail only on new ones.

``dslint baseline`` writes every finding of a run as its content fingerprint, rule code and
path, with a count (the same fingerprint can occur more than once: two identical bad lines).
Nothing else is kept: no message (messages may quote data) and no line number (lines move).
``dslint check --baseline FILE`` then drops each finding whose fingerprint still has an unused
count in the baseline; what is left is new. Baseline entries that no finding used any more
are problems that have been fixed, and the report says how many.

Matching is a multiset: a baseline that holds a fingerprint twice absorbs at most two such
findings, so a third copy of an accepted bad line is reported.

The fingerprint hashes the path too, so a renamed or moved file would turn every accepted
finding into a new one. Each entry therefore also keeps the fingerprint computed without the
path (``pathless``), and an entry whose file is gone (no such file any more) accepts the same
finding in another file. Only a gone file's entries do: a file copied next to its original
brings new findings, and a new file that happens to share a bad line with an existing one is
not excused by it. Baselines written before ``pathless`` existed simply do not follow moves.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dslint import __version__
from dslint.config import ConfigError
from dslint.finding import Finding
from dslint.report import Report
from dslint.textutil import first_few, plural

FORMAT_VERSION = 1


class BaselineError(ConfigError):
    """A baseline file that cannot be read; the CLI prints it on one line and exits with 2."""


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    code: str
    path: str
    pathless: str = ""  # "" in baselines written before it existed


def _order(entry: Entry) -> tuple[str, str, str]:
    return (entry.path, entry.code, entry.fingerprint)


@dataclass(frozen=True)
class Baseline:
    """Accepted findings, as a multiset of entries."""

    entries: Mapping[Entry, int]
    #: The folder of the file it was read from: a check run from another folder finds the
    #: recorded (relative) paths there too.
    folder: Path | None = field(default=None, compare=False)

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> Baseline:
        return cls(Counter(Entry(f.fingerprint, f.code, f.path, f.pathless) for f in findings))

    def locate(self, path: str) -> Path | None:
        """The file a recorded path names, or None if there is none. Paths are kept as
        reported, relative to the folder dslint ran in; a run from another folder (a
        subfolder of the repository) finds them from the repository's root and from the
        baseline's folder too, where `dslint baseline` usually ran."""
        from dslint.reporters.locations import repository_root

        for folder in (Path.cwd(), repository_root(), *([self.folder] if self.folder else [])):
            if os.path.lexists(folder / path):
                return (folder / path).resolve()
        return None

    def keeping(self, previous: Baseline, checked: Iterable[str]) -> tuple[Baseline, list[str]]:
        """This baseline plus the ``previous`` one's entries of files not ``checked`` now that
        still exist (``dslint baseline`` on some of the files updates theirs and keeps the
        others'); and the files kept."""
        now = {"", *checked}
        paths = {entry.path for entry in previous.entries} - now
        files = {path for path in paths if previous.locate(path) is not None}
        kept = Counter(self.entries)
        for entry, count in previous.entries.items():
            if entry.path in files:
                kept[entry] += count
        return Baseline(kept), sorted(files)

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
            json.dumps({"fingerprint": e.fingerprint, "code": e.code, "path": e.path, "count": n}
                       | ({"pathless": e.pathless} if e.pathless else {}))
            for e, n in sorted(self.entries.items(), key=lambda item: _order(item[0]))
        ]  # fmt: skip
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
        return replace(cls.parse(document, str(path)), folder=Path(path).resolve().parent)

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
                and isinstance(item.get("pathless", ""), str)
            ):
                raise BaselineError(f"baseline {where}: entry {position} is malformed")
            entry = Entry(item["fingerprint"], item["code"], item["path"], item.get("pathless", ""))
            entries[entry] += item.get("count", 1)
        return cls(entries)


def written_by_dslint(path: str | Path) -> bool:
    """Whether ``path`` holds a JSON document that dslint wrote (a baseline of another format
    version, say), which ``dslint baseline`` may replace."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    tool = document.get("tool") if isinstance(document, dict) else None
    return isinstance(tool, dict) and tool.get("name") == "dslint"


@dataclass(frozen=True)
class Outcome:
    """What applying a baseline did: the findings kept, and the counts for the notes."""

    new: tuple[Finding, ...]
    suppressed: int
    fixed: int
    #: Of the suppressed, those matched in another file, and the gone files they came from.
    moved: int = 0
    moved_from: tuple[str, ...] = ()
    #: Of the suppressed, those recorded under another name of a file checked now (a check
    #: run from another folder than the baseline), and those names.
    renamed: int = 0
    renamed_from: tuple[str, ...] = ()


def compare(
    findings: Iterable[Finding],
    baseline: Baseline,
    gone: Callable[[str], bool] = lambda path: False,
    checked: Callable[[str], bool] = lambda path: True,
    alias: Callable[[str], str | None] = lambda path: None,
) -> Outcome:
    """Split findings into new ones and accepted ones: a multiset match on the fingerprint,
    then, for what is left, on the pathless fingerprint against the entries of recorded
    paths that ``alias`` says name a file checked now under another path (the check runs
    from another folder), then against those of the files that ``gone`` says no longer
    exist (a renamed or moved file). Unused entries count as fixed when their file was
    ``checked`` (by any name) or is gone: a file left out of this run (pre-commit passes only
    the files a commit touches) fixed nothing."""
    remaining: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], str] = {}
    for entry, count in baseline.entries.items():
        # The fingerprint already hashes code and path; keying on both as well keeps a
        # (vanishingly unlikely) collision between two rules from hiding a finding.
        remaining[(entry.fingerprint, entry.code)] += count
        where[(entry.fingerprint, entry.code)] = entry.path
    new: list[Finding] = []
    suppressed = 0
    for finding in findings:
        key = (finding.fingerprint, finding.code)
        if remaining[key] > 0:
            remaining[key] -= 1
            suppressed += 1
        else:
            new.append(finding)
    recorded = {entry.path for entry in baseline.entries}
    names = {path: name for path in recorded if path and (name := alias(path)) is not None}
    unnamed, renamed_from = _take_moved(new, baseline, remaining, recorded, names)
    away = {path: "" for path in recorded if path and path not in names and gone(path)}
    still_new, moved_from = _take_moved(unnamed, baseline, remaining, recorded, away)
    renamed, moved = len(new) - len(unnamed), len(unnamed) - len(still_new)
    fixed = sum(
        count
        for key, count in remaining.items()
        if count > 0 and (checked(where[key]) or where[key] in away or where[key] in names)
    )
    return Outcome(new=tuple(still_new), suppressed=suppressed + renamed + moved, fixed=fixed,
                   moved=moved, moved_from=tuple(sorted(moved_from)), renamed=renamed,
                   renamed_from=tuple(sorted(renamed_from)))  # fmt: skip


def _take_moved(
    new: list[Finding],
    baseline: Baseline,
    remaining: Counter[tuple[str, str]],
    recorded: set[str],
    away: Mapping[str, str],
) -> tuple[list[Finding], set[str]]:
    """Match the new findings of files the baseline does not list (where a moved file now
    is) against the unused entries of the recorded paths in ``away``, by pathless key;
    return the findings still new and the recorded paths that gave entries. ``away`` maps a
    recorded path to the only file that may take its entries, or to "" (a gone file: any
    file may). A gone file's entries go first to the file sharing most of them (the file it
    became), so that another new file with one of its bad lines does not take that line's
    entry and leave the moved file's copy new."""
    offered: dict[str, dict[tuple[str, str], list[tuple[str, str]]]] = {}
    for entry in sorted(baseline.entries, key=_order):
        if entry.path in away and entry.pathless:
            keys = offered.setdefault(entry.path, {})
            keys.setdefault((entry.pathless, entry.code), []).append(
                (entry.fingerprint, entry.code)
            )
    asking: dict[str, list[int]] = {}  # a file's new findings, by position in ``new``
    for position, finding in enumerate(new):
        if finding.path not in recorded and finding.pathless:
            asking.setdefault(finding.path, []).append(position)

    # How many entries each gone file could give each new file: through the pathless keys,
    # so the work grows with the findings, not with the pairs of files.
    owners: dict[tuple[str, str], dict[str, int]] = {}
    for former, keys in offered.items():
        for wish, entry_keys in keys.items():
            owners.setdefault(wish, {})[former] = sum(remaining[key] for key in entry_keys)
    shared: Counter[tuple[str, str]] = Counter()
    for path, positions in asking.items():
        for wish, count in Counter((new[i].pathless, new[i].code) for i in positions).items():
            for former, available in owners.get(wish, {}).items():
                if away[former] in ("", path):
                    shared[path, former] += min(count, available)
    taken: set[int] = set()
    moved_from: set[str] = set()
    for _, path, former in sorted((-n, path, former) for (path, former), n in shared.items()):
        for position in asking[path]:
            if position in taken:
                continue
            finding = new[position]
            for key in offered[former].get((finding.pathless, finding.code), ()):
                if remaining[key] > 0:
                    remaining[key] -= 1
                    taken.add(position)
                    moved_from.add(former)
                    break
    return [f for i, f in enumerate(new) if i not in taken], moved_from


def apply(
    report: Report, baseline: Baseline, source: str = "the baseline", whole: bool = True
) -> Report:
    """The report with baseline findings removed and a note on what was accepted or fixed.
    ``whole`` is False when the check left records out (``--changed-since`` skips the record
    rules of unchanged lines): their findings are missing, not fixed, so none is counted."""
    # "" is the path of a dataset-level finding: about every file checked.
    checked = {"", *(summary.path for summary in report.files)}
    reported: dict[Path, str] = {}
    for summary in report.files:
        reported.setdefault(Path(summary.path).resolve(), summary.path)

    # Where each recorded path not checked under its name is now: looked up once.
    found = {
        path: baseline.locate(path) for path in {entry.path for entry in baseline.entries} - checked
    }

    def gone(path: str) -> bool:
        return path not in checked and found[path] is None

    def alias(path: str) -> str | None:  # a file checked now, recorded under another name
        real = found.get(path)
        return reported.get(real) if real is not None else None

    outcome = compare(report.findings, baseline, gone, checked.__contains__, alias)
    note = f"{source}: {plural(outcome.suppressed, 'known finding')} not shown"
    asides = []
    if outcome.renamed:
        one = len(outcome.renamed_from) == 1
        asides.append(
            f"{outcome.renamed} of them recorded as {first_few(outcome.renamed_from)}, the same "
            f"{'file' if one else 'files'} named from another folder"
        )
    if outcome.moved:
        one = len(outcome.moved_from) == 1
        asides.append(
            f"{outcome.moved} of them recorded in {first_few(outcome.moved_from)}, "
            f"{'a file that is' if one else 'files that are'} gone: taken as renamed or moved"
        )
    if asides:
        note += f" ({'; '.join(asides)})"
    fixed = outcome.fixed if whole else 0
    if whole:
        note += f"; {plural(fixed, 'baseline finding')} fixed since it was recorded"
    else:
        note += "; fixed findings are not counted when only changed lines are checked"
    due = (("shrink it", fixed), ("record the new paths", outcome.moved))
    if purposes := [purpose for purpose, count in due if count]:
        note += f" (run 'dslint baseline' to {' and '.join(purposes)})"
    return replace(report, findings=outcome.new, notes=(*report.notes, note))
