"""``dslint fix``: write a copy of a dataset with only safe, explained changes.

What it changes, and nothing else:

* lines the API cannot parse (invalid JSON or UTF-8, not an object, NaN/Infinity, lone
  surrogates) move to a rejects file, with the reasons; blank lines are removed;
* CRLF and bare-CR line ends become LF (a line split at bare CRs becomes several lines);
* leading and trailing whitespace is stripped from message contents (chat, DPO and RFT
  messages; legacy prompt/completion text is left alone, where a leading space is a
  convention);
* the old DPO keys ``preferred_completion`` / ``non_preferred_completion`` are renamed;
* exact duplicate examples are removed (the first is kept);
* only when asked (``drop``), examples with findings in the named categories move to the
  rejects file with the findings as the reason.

Edits are made in the line's own text (the JSON string or key token is replaced where it
stands), so the rest of an edited line keeps its spacing, key order and escapes, and every
untouched line is written byte for byte. Each edit is verified by parsing the new line. The
output and the rejects file are written to temporary files in their target folders and then
renamed, so a reader never sees half a file. The input changes only with ``in_place``, and
then the original is kept as a backup.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, BinaryIO

from dslint import formats, locate
from dslint.finding import Category, Finding
from dslint.formats import MESSAGE_LISTS, message_lists
from dslint.loader import (
    BINARY_SAMPLE,
    BOM,
    GZIP_MAGIC,
    LFS_POINTER_PREFIX,
    FileInfo,
    InputError,
    Record,
    binary_kind,
    display_path,
    parse_line,
)

# Load problems that make a line unusable for the API: such lines go to the rejects file.
REJECTED_KINDS = frozenset(
    {"invalid-json", "invalid-utf8", "not-object", "non-finite", "lone-surrogate", "bare-cr"}
)
DPO_RENAMES = {
    "preferred_completion": "preferred_output",
    "non_preferred_completion": "non_preferred_output",
}
_UTF8_BOM = BOM.encode("utf-8")


@dataclass(frozen=True)
class Change:
    """One entry of the change log: where (input line, piece of a split line) and what."""

    line: int | None  # 1-based line of the input; None for the whole file
    action: str  # rejected | dropped | removed-duplicate | removed-blank | stripped-whitespace
    #              | renamed-keys | split-line | line-ends | kept
    detail: str
    piece: int | None = None  # 1-based piece of a line that was split at bare CRs

    def location(self) -> str:
        if self.line is None:
            return ""
        return f"{self.line}" + (f" (piece {self.piece})" if self.piece else "")


@dataclass
class FixResult:
    source: str
    output: str
    rejects: str | None = None
    backup: str | None = None
    lines_read: int = 0
    lines_written: int = 0
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def log_lines(self) -> list[str]:
        """The change log, one line per change: ``PATH:LINE: action: detail``."""
        from dslint.textutil import safe

        lines = []
        for change in self.changes:
            where = f"{self.source}:{change.location()}" if change.line else self.source
            lines.append(f"{where}: {change.action}: {safe(change.detail)}")
        return lines

    def summary(self) -> str:
        from dslint.textutil import plural

        parts = [
            f"{plural(self.lines_read, 'line')} read",
            f"{self.lines_written:,} written to {self.output}",
        ]
        for action, word in (("rejected", "line"), ("dropped", "example"),
                             ("removed-duplicate", "duplicate"),
                             ("removed-blank", "blank line")):  # fmt: skip
            if self.count(action):
                verb = {"rejected": "rejected", "dropped": "dropped"}.get(action, "removed")
                parts.append(f"{plural(self.count(action), word)} {verb}")
        edited = {
            (c.line, c.piece)
            for c in self.changes
            if c.action in ("stripped-whitespace", "renamed-keys")
        }
        if edited:
            parts.append(f"{plural(len(edited), 'line')} edited")
        text = "dslint fix: " + ", ".join(parts)
        if self.rejects:
            text += f"; rejected lines are in {self.rejects}"
        if self.backup:
            text += f"; the original is kept as {self.backup}"
        return text + "."


@dataclass
class _Unit:
    """One line to be written (a physical line, or a piece of a line split at bare CRs)."""

    line: int
    piece: int | None
    body: bytes  # without its line end


def fix(
    path: str | Path,
    output: str | Path | None = None,
    *,
    in_place: bool = False,
    backup_suffix: str = ".bak",
    rejects: str | Path | None = None,
    drop: Sequence[str] = (),
    config: str | Path | None = None,
    model: str | None = None,
    log: str | Path | None = None,
) -> FixResult:
    """Write a fixed copy of ``path`` (see the module documentation); return the change log.

    ``log`` names the file the caller will write the change log to: it is checked with the
    other paths, before anything is written, so that it replaces none of them.

    Raises :class:`~dslint.loader.InputError` for anything that prevents a safe fix (no
    output given, output equal to the input, a binary or compressed in-place target, ...).
    """
    source = Path(path)
    target, backup, rejects_path = _targets(source, output, in_place, backup_suffix, rejects)
    if log is not None and any(
        _same_file(Path(log), other) for other in (source, target, rejects_path, backup) if other
    ):
        raise InputError(f"{display_path(Path(log))}: the log file must be another file")
    categories = _categories(drop)
    result = FixResult(
        source=display_path(source),
        output=display_path(target),
        backup=display_path(backup) if backup else None,
    )
    to_drop: dict[int, list[Finding]] = {}
    if categories:
        to_drop = _findings_to_drop(source, categories, config, model, result)
    with (
        _atomic(target, source) as out,
        _atomic(rejects_path, source, keep_empty=False) as rejects_out,
    ):

        def reject(entry: dict[str, Any]) -> None:
            rejects_out.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")

        _rewrite(source, out, to_drop, reject, result)
        if result.count("rejected") or result.count("dropped"):
            result.rejects = display_path(rejects_path)
        if backup is not None:
            try:
                os.link(source, backup)  # the original inode becomes the backup: no copy
            except OSError:
                shutil.copy2(source, backup)
    return result


# -- targets and options ---------------------------------------------------------------------


def _targets(
    source: Path,
    output: str | Path | None,
    in_place: bool,
    backup_suffix: str,
    rejects: str | Path | None,
) -> tuple[Path, Path | None, Path]:
    shown = display_path(source)
    if source.is_dir():
        raise InputError(f"{shown}: is a folder; 'dslint fix' takes one file")
    if not source.is_file():
        raise InputError(f"{shown}: no such file")
    if in_place == (output is not None):
        raise InputError("give either -o OUTPUT or --in-place (not both, not neither)")
    compressed = _is_gzip(source)
    if in_place:
        if compressed:
            raise InputError(
                f"{shown}: is gzip-compressed; --in-place would replace it with plain JSONL, "
                "so write the fixed copy with -o OUTPUT.jsonl instead"
            )
        if not backup_suffix:
            raise InputError("--backup-suffix must not be empty: --in-place keeps a backup")
        target = source
        backup: Path | None = source.with_name(source.name + backup_suffix)
        assert backup is not None
        if backup.exists() or backup.is_symlink():
            raise InputError(
                f"{display_path(backup)}: a backup already exists; move it away first "
                "(dslint never overwrites a backup)"
            )
    else:
        target = Path(output)  # type: ignore[arg-type]
        backup = None
        if target.is_dir():
            raise InputError(f"{display_path(target)}: is a folder; give a file name for -o")
        if target.name.endswith(".gz"):
            raise InputError(
                f"{display_path(target)}: the fixed copy is plain JSONL (the upload takes "
                "plain .jsonl); give a name without .gz"
            )
        if _same_file(source, target):
            raise InputError(
                f"{display_path(target)}: is the input file; use --in-place to replace it "
                "(with a backup)"
            )
    rejects_path = Path(rejects) if rejects else _default_rejects(target)
    if _same_file(rejects_path, source) or _same_file(rejects_path, target):
        raise InputError(f"{display_path(rejects_path)}: the rejects file must be a new file")
    return target, backup, rejects_path


def _default_rejects(target: Path) -> Path:
    name = target.name
    for suffix in (".jsonl", ".ndjson"):
        if name.endswith(suffix):
            return target.with_name(name[: -len(suffix)] + ".rejects" + suffix)
    return target.with_name(name + ".rejects.jsonl")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same existing file (links included), or the
    same path for a file still to be written."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as probe:
            return probe.read(2) == GZIP_MAGIC
    except OSError as exc:
        raise InputError(f"{display_path(path)}: {exc.strerror or exc}") from None


def _categories(drop: Sequence[str]) -> set[Category]:
    chosen = set()
    names = {c.value: c for c in Category}
    for entry in drop:
        for name in entry.replace(",", " ").split():
            if name.lower() not in names:
                raise InputError(f"--drop {name}: not a category (choose from {', '.join(names)})")
            chosen.add(names[name.lower()])
    return chosen


# -- reading ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _open(source: Path) -> Iterator[BinaryIO]:
    """The input's bytes, decompressed when it is gzip (judged by content, not name)."""
    with open(source, "rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            handle.seek(0)
            yield handle
            return
        handle.seek(0)
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            yield stream  # type: ignore[misc]


def _units(stream: BinaryIO, result: FixResult) -> Iterator[tuple[_Unit, Record | None]]:
    """Every line as a unit with its parsed record; lines with bare CRs are split first."""
    info = FileInfo(path=result.source, real_path=Path(result.source))
    crlf = 0
    missing_final_newline = False
    for number, raw in enumerate(stream, start=1):
        result.lines_read = number
        if number == 1 and raw.startswith(LFS_POINTER_PREFIX):
            raise InputError(f"{result.source}: is a Git LFS pointer, not the data (git lfs pull)")
        body = raw[:-1] if raw.endswith(b"\n") else raw
        missing_final_newline = not raw.endswith(b"\n")
        if body.endswith(b"\r"):
            body = body[:-1]
            crlf += 1
        record = parse_line(body + b"\n", info, number, 0, 0)
        if any(p.kind == "bare-cr" for p in record.problems):
            pieces = body.split(b"\r")
            result.changes.append(
                Change(number, "split-line", f"bare CR line ends: split into {len(pieces):,} lines")
            )
            for piece_number, piece in enumerate(pieces, start=1):
                yield _Unit(number, piece_number, piece), None
        else:
            yield _Unit(number, None, body), record
    if crlf:
        result.changes.append(Change(None, "line-ends", f"{crlf:,} CRLF line ends written as LF"))
    if missing_final_newline and result.lines_read:
        result.changes.append(Change(None, "line-ends", "added the missing final newline"))


# -- the rewrite -----------------------------------------------------------------------------


def _rewrite(
    source: Path,
    out: BinaryIO,
    to_drop: dict[int, list[Finding]],
    reject: Callable[[dict[str, Any]], None],
    result: FixResult,
) -> None:
    info = FileInfo(path=result.source, real_path=source)
    try:
        with _open(source) as stream:
            sample = stream.peek(BINARY_SAMPLE)[:BINARY_SAMPLE]  # type: ignore[attr-defined]
            kind = binary_kind(sample)
            if kind:
                raise InputError(f"{result.source}: {kind}; there is nothing to fix line by line")
            _rewrite_units(_units(stream, result), info, out, to_drop, reject, result)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"{result.source}: the compressed stream is damaged after line {result.lines_read}"
            f" ({exc}); nothing was written"
        ) from None
    except OSError as exc:
        raise InputError(
            f"{result.source}: reading stopped after line {result.lines_read}: "
            f"{exc.strerror or exc}; nothing was written"
        ) from None


def _rewrite_units(
    units: Iterator[tuple[_Unit, Record | None]],
    info: FileInfo,
    out: BinaryIO,
    to_drop: dict[int, list[Finding]],
    reject: Callable[[dict[str, Any]], None],
    result: FixResult,
) -> None:
    from dslint.rules.schema.parse import RULES as LOAD_RULES

    by_kind = {rule.kind: rule for rule in LOAD_RULES}
    seen: dict[bytes, tuple[int, int | None]] = {}
    for unit, parsed in units:
        record = parsed or parse_line(unit.body + b"\n", info, unit.line, 0, 0)
        where = {"line": unit.line, **({"piece": unit.piece} if unit.piece else {})}
        if record.is_blank:
            result.changes.append(Change(unit.line, "removed-blank", "blank line", unit.piece))
            continue
        problems = [p for p in record.problems if p.kind in REJECTED_KINDS]
        if problems:
            reasons = [
                {
                    "code": by_kind[p.kind].code,
                    "name": by_kind[p.kind].name,
                    "message": p.message,
                }
                for p in problems
            ]
            reject({**where, "reasons": reasons, **_original(unit.body)})
            result.changes.append(
                Change(
                    unit.line,
                    "rejected",
                    "; ".join(f"{r['code']} {r['message']}" for r in reasons),
                    unit.piece,
                )
            )
            continue
        if unit.piece is None and unit.line in to_drop:
            findings = to_drop[unit.line]
            reasons = [
                {
                    "code": f.code,
                    "name": f.name,
                    "category": f.category.value,
                    "pointer": f.pointer,
                    "message": f.message,
                }
                for f in findings
            ]
            reject({**where, "reasons": reasons, **_original(unit.body)})
            categories = sorted({f.category.value for f in findings})
            result.changes.append(
                Change(
                    unit.line,
                    "dropped",
                    f"({', '.join(categories)}) "
                    + "; ".join(f"{f.code} {f.message}" for f in findings),
                )
            )
            continue
        body, value = _edit(unit, record, result)
        key = hashlib.blake2b(
            json.dumps(value, sort_keys=True, ensure_ascii=False).encode(), digest_size=16
        ).digest()
        if key in seen:
            first_line, first_piece = seen[key]
            first = f"{first_line}" + (f" (piece {first_piece})" if first_piece else "")
            result.changes.append(
                Change(unit.line, "removed-duplicate", f"same example as line {first}", unit.piece)
            )
            continue
        seen[key] = (unit.line, unit.piece)
        out.write(body + b"\n")
        result.lines_written += 1


def _original(body: bytes) -> dict[str, str]:
    """The rejected line as it was: text when it is UTF-8, else base64 of its bytes."""
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _edit(unit: _Unit, record: Record, result: FixResult) -> tuple[bytes, Any]:
    """Apply the content fixes to one parsed line; return its bytes and its value.

    Keys are renamed first and the contents stripped in the renamed text, so that the
    messages under a renamed DPO key are stripped in the same run.
    """
    value = record.value
    text = record.raw  # without a leading BOM (kept apart below)
    expected = copy.deepcopy(value)
    changes: list[Change] = []
    fmt = formats.detect_record(value)
    if fmt == "dpo":
        edits: list[tuple[int, int, str]] = []
        renamed = _rename_dpo_keys(text, value, expected, edits)
        if renamed:
            changes.append(Change(unit.line, "renamed-keys", renamed, unit.piece))
            text = _apply(text, edits)
    if fmt in MESSAGE_LISTS:
        edits = []
        stripped = _strip_contents(text, copy.deepcopy(expected), expected, fmt, edits)
        if stripped:
            changes.append(
                Change(unit.line, "stripped-whitespace", ", ".join(stripped), unit.piece)
            )
            text = _apply(text, edits)
    if not changes:
        return unit.body, value
    try:
        reparsed = json.loads(text)
    except (ValueError, RecursionError):
        reparsed = None
    if reparsed != expected:
        result.changes.append(
            Change(unit.line, "kept", "could not edit this line safely; left as it was", unit.piece)
        )
        return unit.body, value
    result.changes.extend(changes)
    prefix = _UTF8_BOM if unit.body.startswith(_UTF8_BOM) else b""
    return prefix + text.encode("utf-8"), expected


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _rename_dpo_keys(
    text: str, value: dict[str, Any], expected: dict[str, Any], edits: list[tuple[int, int, str]]
) -> str:
    done = []
    for old, new in DPO_RENAMES.items():
        if old not in value:
            continue
        if new in value:
            continue  # both present: renaming would duplicate a key; S301 stays for the user
        spans = _top_level_key_spans(text, old)
        if not spans:
            continue
        for start, end in spans:
            edits.append((start, end, json.dumps(new)))
        expected[new] = expected.pop(old)
        done.append(f"'{old}' -> '{new}'")
    return ", ".join(done)


def _top_level_key_spans(text: str, wanted: str) -> list[tuple[int, int]]:
    """Raw (start, end) of each top-level key token equal to ``wanted`` (escapes decoded)."""
    spans = []
    decoder = json.JSONDecoder()
    i = locate._skip(text, 0)
    if i >= len(text) or text[i] != "{":
        return []
    i = locate._skip(text, i + 1)
    while i < len(text) and text[i] == '"':
        key, end = scanstring(text, i + 1)
        if key == wanted:
            spans.append((i, end))
        i = locate._skip(text, end)
        i = locate._skip(text, i + 1)  # past ':'
        _, i = decoder.raw_decode(text, i)
        i = locate._skip(text, i)
        if i < len(text) and text[i] == ",":
            i = locate._skip(text, i + 1)
    return spans


def _strip_contents(
    text: str,
    value: dict[str, Any],
    expected: dict[str, Any],
    fmt: str,
    edits: list[tuple[int, int, str]],
) -> list[str]:
    pointers = []
    for _section, base, messages in message_lists(value, fmt):
        for position, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                pointers.append((f"{base}/{position}/content", content))
            elif isinstance(content, list):
                for index, part in enumerate(content):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        pointers.append((f"{base}/{position}/content/{index}/text", part["text"]))
    changed = []
    for pointer, content in pointers:
        stripped = content.strip()
        if stripped == content or not stripped:
            continue  # whitespace-only content is a finding (Q001), not surrounding space
        edit = _strip_edit(text, pointer, content)
        if edit is None:
            continue
        edits.append(edit)
        _set(expected, pointer, stripped)
        changed.append(pointer)
    return changed


def _strip_edit(text: str, pointer: str, content: str) -> tuple[int, int, str] | None:
    start = locate.value_start(text, pointer)
    if start is None or start >= len(text) or text[start] != '"':
        return None
    try:
        decoded, end = scanstring(text, start + 1)
    except ValueError:
        return None
    if decoded != content:
        return None  # a duplicate key made the visible value another one: do not guess
    lead = len(content) - len(content.lstrip())
    keep = len(content.rstrip())
    begin = locate.string_index(text, start, lead)
    finish = locate.string_index(text, start, keep)
    return start, end, '"' + text[begin:finish] + '"'


def _set(document: Any, pointer: str, new: str) -> None:
    parts = locate.split_pointer(pointer)
    for part in parts[:-1]:
        document = document[int(part)] if isinstance(document, list) else document[part]
    last = parts[-1]
    if isinstance(document, list):
        document[int(last)] = new
    else:
        document[last] = new


# -- --drop ----------------------------------------------------------------------------------


def _findings_to_drop(
    source: Path,
    categories: set[Category],
    config: str | Path | None,
    model: str | None,
    result: FixResult,
) -> dict[int, list[Finding]]:
    """Line -> the findings of the chosen categories that ``dslint check`` gives the input."""
    from dslint.api import check
    from dslint.registry import all_rules

    installed = {rule.category for rule in all_rules()}
    for category in sorted(categories - installed, key=lambda c: c.value):
        result.notes.append(f"no installed rule has the category '{category.value}'")
    report = check([source], config=config, model=model)
    lines: dict[int, list[Finding]] = {}
    file_level = 0
    for finding in report.findings:
        if finding.category not in categories:
            continue
        if finding.line is None:
            file_level += 1
            continue
        lines.setdefault(finding.line, []).append(finding)
    if file_level:
        result.notes.append(
            f"{file_level:,} file-level findings of the dropped categories name no line and "
            "stay (run 'dslint check' on the output)"
        )
    return lines


# -- atomic writing --------------------------------------------------------------------------


@contextlib.contextmanager
def _atomic(target: Path, like: Path, keep_empty: bool = True) -> Iterator[BinaryIO]:
    """A temporary file beside ``target``, renamed over it only when the block succeeds.

    It gets the permission bits of ``like`` (the input), as it holds the same data. With
    ``keep_empty=False`` nothing is written at all when the block wrote nothing.
    """
    folder = target.parent if str(target.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{target.name}.", suffix=".dslint-fix"
        )
    except OSError as exc:
        raise InputError(
            f"{display_path(target)}: cannot write here: {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
            empty = out.tell() == 0
        if empty and not keep_empty:
            os.unlink(temporary)
            return
        with contextlib.suppress(OSError):
            shutil.copymode(like, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
