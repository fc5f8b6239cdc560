"""``--changed-since REF``: report only on records added or changed since a git revision.

A record is *unchanged* when a line with the same content existed in the file at REF, read
as a checkout of REF would write it (``git cat-file --filters REF:path``: a Git LFS file by
its content, not its pointer). Content is compared, not line numbers, so inserting,
deleting or reordering lines changes nothing for the records around them. The comparison is
a multiset: if a line appears twice now and once at REF, its second occurrence is new (a
copy just added). A file renamed or moved since REF is compared with its former path, as
git's rename detection pairs them.

Record rules skip unchanged records, but every record is still loaded, so dataset rules
(duplicates, voice consistency) compare the new records with the whole file; their findings
on unchanged records are dropped afterwards. A file's own findings (too few examples, mixed
formats) stay unless the file has the same lines as at REF: no line added, changed or
removed, so nothing in it is new. Dataset-level findings always stay.
"""

from __future__ import annotations

import gzip
import io
import subprocess
import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path

from dslint.finding import Finding
from dslint.loader import (
    BINARY_SAMPLE,
    GZIP_MAGIC,
    LFS_POINTER_PREFIX,
    InputError,
    Record,
    content_hash,
    plain_text,
)
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


def former_path(ref: str, path: Path) -> str | None:
    """Where git says the file was at REF when it has been renamed or moved since (its path
    from the repository's top), or None.

    Git sees a rename between REF and the working tree once the new path is committed or
    staged (``git mv``), and pairs the two paths by content (50 % alike by default), so a
    file renamed and edited in one pull request still counts. Only asked for a file that
    did not exist at REF under its name."""
    folder = path.resolve().parent
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        return None
    try:
        relative = path.resolve().relative_to(Path(top.stdout.decode().strip()).resolve())
    except ValueError:
        return None
    result = _git(["diff", "-M", "--name-status", "-z", "--diff-filter=R", ref, "--"], folder)
    fields = result.stdout.split(b"\0") if result.returncode == 0 else []
    # -z: "R<score>", the old path, the new path, for each rename; paths from the top.
    for status, old, new in zip(fields[0::3], fields[1::3], fields[2::3], strict=False):
        if status.startswith(b"R") and new == relative.as_posix().encode():
            return old.decode(errors="surrogateescape")
    return None


def lines_at(ref: str, path: Path, former: str | None = None) -> Counter[int] | None:
    """The content hashes of the file's lines at REF (None if the file did not exist then),
    or of the lines at REF of ``former`` (a path from the repository's top: the file's
    name then, see :func:`former_path`).

    The file is read as a checkout of REF would write it (``cat-file --filters``): a file
    kept in Git LFS is stored as a pointer, and only its smudge filter gives the lines."""
    folder = path.resolve().parent
    name = former if former is not None else f"./{path.name}"
    result = _git(["cat-file", "--filters", f"{ref}:{name}"], folder)
    if result.returncode != 0:
        return None  # added since REF, renamed since, or not tracked at all
    data = result.stdout
    if data.startswith(LFS_POINTER_PREFIX):
        # Every line would count as new, and a pull request would fail on old findings.
        raise InputError(
            f"--changed-since: {path.name} is in Git LFS and its content at {ref} is not here "
            f"(git gave its pointer): install git-lfs and fetch it (git lfs fetch origin {ref})"
        )
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return Counter()  # unreadable then: treat every record as new
    # Lines as the loader cuts them (at "\n" only: a lone "\r" inside a line is not an end).
    return Counter(map(content_hash, io.BytesIO(data)))


def _taken_anew(old: Counter[int], key: int) -> bool:
    """Whether a line with this content is new, the lines at REF not yet matched being
    ``old`` (a multiset, taken from as the file's lines come in order)."""
    if old[key] > 0:
        old[key] -= 1
        return False
    return True


class Since:
    """Which records are new since REF, decided while the files stream through the engine.

    The engine asks :meth:`is_new` for every record in file order (and skips the record rules
    of the others: their findings would be dropped anyway); :meth:`filter` then drops the
    record findings of the unchanged records, dataset rules' findings included. A large file
    is decided before it is read (:meth:`ahead`), so that two processes can read its halves.
    """

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._old: dict[str, Counter[int]] = {}
        self.new: dict[str, set[int]] = {}
        self._asked: dict[str, int] = {}  # the last line asked about, per file
        self.renamed: dict[str, str] = {}  # a file's path -> its path at REF, when renamed
        self._ahead: dict[str, frozenset[int]] = {}  # the files decided before they were read
        self.seen: Counter[str] = Counter()  # the lines asked about, per file
        self._at_ref: set[str] = set()  # the files that existed at REF (by any name)

    def _start(self, path: Path, shown: str) -> Counter[int]:
        old = self._old.get(shown)
        if old is None:
            old = self._old[shown] = self._lines_at_ref(path, shown)
            self.new[shown] = set()
            self._asked[shown] = 0
        return old

    def ahead(self, path: Path, shown: str) -> frozenset[int] | None:
        """The new lines of a whole file, decided before it is read, as :meth:`is_new` would
        answer them in file order (which then answers from them): another process can check
        the second half of the file knowing which of its lines are new. None when the file is
        not plain text (compressed, a Git LFS pointer, binary: it is then asked line by line,
        as it is read)."""
        old = self._start(path, shown)
        if shown in self._ahead:
            return self._ahead[shown]
        if self._asked[shown]:
            return None  # being read line by line already
        left, new = Counter(old), set()  # kept only when the whole file was read
        try:
            with open(path, "rb") as handle:
                if not plain_text(handle.read(BINARY_SAMPLE)):
                    return None
                handle.seek(0)
                number = 0
                for number, raw in enumerate(handle, 1):
                    if _taken_anew(left, content_hash(raw)):
                        new.add(number)
        except OSError:
            return None  # read line by line, and reported by the loader
        self._old[shown], self.new[shown], self._asked[shown] = left, new, number
        self.seen[shown] += number
        self._ahead[shown] = frozenset(new)
        return self._ahead[shown]

    def is_new(self, record: Record) -> bool:
        old = self._start(record.file.real_path, record.path)
        # Lines are asked in file order; a file read again (dslint.engine) is answered as
        # the first time.
        if record.line <= self._asked[record.path]:
            return record.line in self.new[record.path]
        self._asked[record.path] = record.line
        self.seen[record.path] += 1
        if not _taken_anew(old, record.content_hash):
            return False
        self.new[record.path].add(record.line)
        return True

    def _lines_at_ref(self, path: Path, shown: str) -> Counter[int]:
        lines = lines_at(self.ref, path)
        if lines is None:  # not there under this name: renamed or moved since, or new
            former = former_path(self.ref, path)
            if former is not None:
                self.renamed[shown] = former
                lines = lines_at(self.ref, path, former)
        if lines is None:  # added since REF (or not tracked at all): every record is new
            return Counter()
        self._at_ref.add(shown)
        return lines

    def _changed(self, place: tuple[str, int]) -> bool:
        path, line = place
        return line in self.new.get(path, ())

    def _shown(self, finding: Finding) -> bool:
        if finding.line is None:  # about the file: shown unless nothing in it changed
            return not self._unchanged_file(finding.path)
        places = ((finding.path, finding.line), *finding.related)
        return any(map(self._changed, places))

    def _unchanged_file(self, path: str) -> bool:
        """Whether the file has the same lines as at REF, every one asked about: none new,
        and none of REF's left unmatched (removed)."""
        left = self._old.get(path)
        return (
            path in self._at_ref
            and left is not None
            and not self.new.get(path)
            and not any(count > 0 for count in left.values())
        )

    def filter(self, report: Report) -> Report:
        """The report without record findings on records that are unchanged since REF. A
        finding about other examples too (``Finding.related``: the copy it repeats, the answer
        it contradicts, the training example it leaks) stays when one of them is new: a new
        example placed before its older near-duplicate, or added to the training file of an
        unchanged validation example, is what the check is for."""
        kept = tuple(f for f in report.findings if self._shown(f))
        # The findings left out that are about a file: those of files with the same lines.
        unchanged_files = sum(1 for f in report.findings if f.line is None) - sum(
            1 for f in kept if f.line is None
        )
        # The files the report covers: not a training file read only as context (api.check).
        shown = {f.path for f in report.files}
        changed = sum(len(lines) for path, lines in self.new.items() if path in shown)
        seen = sum(count for path, count in self.seen.items() if path in shown)
        note = (
            f"--changed-since {self.ref}: {plural(changed, 'line')} of {seen:,} added or "
            f"changed; findings on the other lines are shown only when they name an added or "
            "changed line"
        )
        if unchanged_files:
            note += (
                f", and {plural(unchanged_files, 'file-level finding')} of files with the same "
                f"lines as at {self.ref} not shown"
            )
        renames = tuple(
            f"--changed-since {self.ref}: {path} is compared with {former}, its name at {self.ref}"
            for path, former in self.renamed.items()
        )
        return replace(report, findings=kept, notes=(*report.notes, note, *renames))
