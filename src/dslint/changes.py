"""``--changed-since REF``: report only on records added or changed since a git revision.

A record is *unchanged* when a line with the same content existed in the file at REF
(``git show REF:path``); content is compared, not line numbers, so inserting, deleting or
reordering lines changes nothing for the records around them. The comparison is a multiset:
if a line appears twice now and once at REF, its second occurrence is new (a copy just added).

Every record is still loaded and every rule still runs, so dataset rules (duplicates, voice
consistency) compare the new records with the whole file; only record findings on unchanged
records are dropped afterwards. File- and dataset-level findings are always kept.
"""

from __future__ import annotations

import gzip
import subprocess
import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path

from dslint.loader import GZIP_MAGIC, InputError
from dslint.loader import _hash64 as content_hash  # the loader's record content hash
from dslint.report import Report
from dslint.textutil import plural


def _git(arguments: list[str], folder: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *arguments], cwd=folder, capture_output=True, check=False, timeout=300
        )
    except FileNotFoundError:
        raise InputError("--changed-since needs git, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"--changed-since: git {arguments[0]} did not finish") from None


def check_revision(ref: str, folder: Path | None = None) -> None:
    """Fail early (exit 2) when REF is not a commit of the repository around ``folder``."""
    if ref.startswith("-"):
        raise InputError(f"--changed-since: {ref!r} is not a git revision")
    result = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], folder or Path.cwd())
    if result.returncode != 0:
        inside = _git(["rev-parse", "--git-dir"], folder or Path.cwd()).returncode == 0
        if not inside:
            raise InputError("--changed-since: not inside a git repository")
        raise InputError(f"--changed-since: unknown git revision {ref!r}")


def lines_at(ref: str, path: Path) -> Counter[int]:
    """The content hashes of the file's lines at REF (empty if the file did not exist then)."""
    folder = path.resolve().parent
    result = _git(["show", f"{ref}:./{path.name}"], folder)
    if result.returncode != 0:
        # A file added after REF (or not tracked at all): every record in it is new.
        return Counter()
    data = result.stdout
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return Counter()  # unreadable then: treat every record as new
    hashes: Counter[int] = Counter()
    for raw in data.splitlines(keepends=True):
        body = raw[:-1] if raw.endswith(b"\n") else raw
        if body.endswith(b"\r"):
            body = body[:-1]
        hashes[content_hash(body.strip())] += 1
    return hashes


def new_lines(report: Report, ref: str) -> dict[str, set[int]]:
    """For each file of the report: the line numbers of records added or changed since REF."""
    new: dict[str, set[int]] = {}
    for dataset in report.datasets:
        records = dataset.records
        for info in dataset.files:
            old = lines_at(ref, info.real_path)
            rows = records[records["path"] == info.path].sort_values("line")
            fresh = new.setdefault(info.path, set())
            for line, digest in zip(
                rows["line"].to_numpy(), rows["content_hash"].to_numpy(), strict=True
            ):
                key = int(digest)
                if old[key] > 0:
                    old[key] -= 1
                else:
                    fresh.add(int(line))
    return new


def only_changed(report: Report, ref: str) -> Report:
    """The report without record findings on records that are unchanged since REF."""
    new = new_lines(report, ref)
    kept = tuple(
        f for f in report.findings if f.line is None or f.line in new.get(f.path, frozenset())
    )
    changed = sum(len(lines) for lines in new.values())
    total = sum(len(dataset.records) for dataset in report.datasets)
    note = (
        f"--changed-since {ref}: {plural(changed, 'line')} of {total:,} added or changed; "
        f"findings on the other lines are not shown"
    )
    return replace(report, findings=kept, notes=(*report.notes, note))
