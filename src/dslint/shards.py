"""One large file checked on two cores: a helper process takes the second half's record stage.

The record stage (decoding and parsing each line, the record rules, collecting the frames'
columns) is per-line Python work: on the benchmark file it is the largest share of a
default check. Lines are independent there, so a plain file of at least
:data:`MIN_BYTES` is cut at a line start near its middle (:func:`halves`); a spawned helper
process reads and checks the second half (:func:`check_span`) while this process does the
first, then sends back what the engine would have collected itself: the findings, the
Arrow chunks of its part of the frames, the file counts, the notes and the cache entries it
used. The engine merges them in line order, so a report is the same as on one core (tests
compare the two on every rule). The helper's text column, the bulk of what it sends, is
written into a memory file this process gives it and copied out from there
(dslint.dataset.TextColumn.take_file), not pickled.

The file's format and target model are decided from its first records before the helper
starts (the helper is told them), exactly as a one-core run decides them. No split, and
the whole file is read here, when: the file is compressed (no random access) or small, the
machine has one core, ``DSLINT_WORKERS=1``, ``--changed-since`` filters records, or the
first half holds too few records to decide the format. If the helper cannot start or dies,
its half is read here: the same result, later.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslint.loader import GZIP_MAGIC, ODD_LINES_KEPT, Span

if TYPE_CHECKING:
    from dslint.config import Config
    from dslint.engine import Engine
    from dslint.finding import Finding
    from dslint.loader import FileInfo
    from dslint.models import Target

#: Files smaller than this are read by one process: starting the helper (a new interpreter
#: importing dslint and building its rules) costs about half a second, as much as the
#: record stage of roughly 8 MB of chat data. Since the helpers start before reading
#: (api._helpers_ahead), 16 MB pays: an 18 MB file's cold check 3.3-3.7 s -> 2.5-2.6 s, a
#: re-run after an edit unchanged (0.95-1.02 s and 0.98-1.00 s). At 8 MB a 10 MB file's
#: re-run lost 0.1 s (0.78-0.88 s -> 0.89-1.03 s) for 0.4 s of its cold run.
MIN_BYTES = 16_000_000
#: The helper's share of the bytes: a bit under half, as it starts later than this process.
HELPER_SHARE = 0.46
#: Its share when the lines are read through the fast lane (dslint.lean): each line costs
#: a fraction of the normal path's time there, so taking the call, reading the cache and
#: sending the chunks back weigh more. Measured on the 100k re-run (this process's read, with
#: the wait for the helper, 4 runs each): 0.36 1.53-1.66 s, waiting 0.13-0.32 s once this
#: process's lane got faster; 0.33 1.49-1.85 s; 0.30 1.44-1.68 s; 0.27 1.47-1.59 s; 0.24
#: 1.55-1.71 s. Between 0.24 and 0.30 this process no longer waits (the 0.07-0.1 s left is
#: taking in the helper's chunks).
LANE_SHARE = 0.30
_BLOCK = 1 << 24
#: What a helper that reads a span runs: the record rules alone (the engine merges, then
#: runs the file and dataset rules), so it imports neither their families nor pandas.
RECORD_RULES = frozenset({"record"})
#: The purpose of the spare helper process a span's helper takes (dslint.helper.spares), and
#: the modules it imports ahead besides the record rules' families.
SPARE = "span"
SPARE_PRELOAD = ("dslint.engine", "dslint.shards", "dslint.lean", "pyarrow.json")


def halves(path: Path, share: float = HELPER_SHARE) -> tuple[Span, Span] | None:
    """The file's two spans (this process's, the helper's, about ``share`` of the bytes), or
    None when it is not split. The second span's first line number is left to be counted
    (``first_line`` 0, see :func:`counted`): the helper counts the line ends before its span
    on its own core, while this process reads the first span (counting them here held up
    the start of reading by 0.1 s on the 100k benchmark file)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < MIN_BYTES or handle.read(2) == GZIP_MAGIC:
                return None
            handle.seek(int(size * (1 - share)))
            handle.readline()  # the rest of the line the cut falls in
            cut = handle.tell()
            if cut >= size:
                return None  # one huge line reaches the end: nothing to share
    except OSError:
        return None
    return Span(0, cut, 1), Span(cut, None, UNCOUNTED)


#: A span's ``first_line`` before the line ends ahead of it are counted.
UNCOUNTED = 0


def counted(job: SpanJob) -> SpanJob | None:
    """``job`` with its span's first line number and first record index, counting the line
    ends before the span when :func:`halves` left them (None when the file has fewer bytes
    than that now: it changed since it was split)."""
    if job.span.first_line != UNCOUNTED:
        return job
    newlines = 0
    left = job.span.start
    buffer = bytearray(min(_BLOCK, left))  # one buffer, filled again: no new pages per block
    try:
        with open(job.path, "rb", buffering=0) as handle:
            while left:
                got = handle.readinto(memoryview(buffer)[: min(len(buffer), left)])
                if not got:
                    return None
                newlines += buffer.count(b"\n", 0, got)
                left -= got
    except OSError:
        return None
    first_line = newlines + 1
    return replace(job, span=replace(job.span, first_line=first_line),
                   first_index=job.first_index + first_line)  # fmt: skip


@dataclass(frozen=True)
class SpanJob:
    """Everything the helper needs to check one span as the engine would (it is pickled)."""

    config: Config
    today: dt.date
    path: Path
    split: str
    span: Span
    # The records frame's row of the span's first line (the file's line 1's row, plus the
    # span's first line number, less one); for a span whose first line is not counted yet
    # (UNCOUNTED), the file's line 1's row less one, to which ``counted`` adds the number.
    first_index: int
    format: str
    target: Target | None
    cache: tuple[Path, bytes, Path] | None  # cache folder, key, record store: see Cache.records
    frames: bool = True  # whether the records go into the frames (Engine.builds_frames)
    lane: bool = False  # whether known clean lines take the fast lane (dslint.lean)
    # A memory file the helper gathers its text column in, inherited under this number; the
    # parent copies the text out of it (TextColumn.take_file) instead of unpickling a copy.
    text_file: int | None = None
    # Under --changed-since, the file's new lines (Engine._decided): the others skip the
    # record rules here too. None: every record is checked.
    new_lines: frozenset[int] | None = None


@dataclass
class SpanResult:
    findings: list[Finding]
    record_chunks: list[dict[str, Any]]
    message_chunks: list[dict[str, Any]]
    text: Any  # the messages' text column (dslint.dataset.TextColumn)
    lines: int
    examples: int
    objects: int
    formats: Counter[str]
    image_examples: int
    ends_with_newline: bool
    read_error: str | None
    changed: str | None
    notes: list[str] = field(default_factory=list)
    pid: int = 0  # the process that read the span (tests check the helper did)
    cache_entries: tuple[dict[str, Any], bool] | None = None
    # The span's first line number and record index, as counted (see halves); line 0 when
    # the file shrank before the span could be found (nothing was read).
    first_line: int = 1
    first_index: int = 0
    odd_lines: list[int] = field(default_factory=list)  # see FileInfo.odd_lines


def check_span(job: SpanJob, engine: Engine | None = None) -> SpanResult:
    """Read and check one span: in the helper (a new engine) or here (``engine`` given)."""
    from dslint.dataset import DatasetBuilder
    from dslint.loader import read_file
    from dslint.memory import long_lived

    if engine is None:
        from dslint.engine import Engine

        engine = Engine(job.config, today=job.today, kinds=RECORD_RULES)
        engine.builds_frames = job.frames
        if job.new_lines is not None:
            new_lines = job.new_lines
            engine.record_filter = lambda record: record.line in new_lines
        if job.cache is not None:
            from dslint.cache import Cache

            root, secret, store = job.cache
            engine.record_hits = Cache(root, secret).record_store(store)
    from dslint.helper import local, parent

    known = counted(job)
    if known is None:
        return _shrunk(job)
    job = known
    text_file = local(job.text_file) if job.text_file is not None else None
    builder = DatasetBuilder(text_file=text_file)
    findings: list[Finding] = []
    notes_before = len(engine.context.notes)
    with long_lived():  # as the engine reads (dslint.memory)
        if job.lane and engine.record_hits is not None:
            from dslint import lean
            from dslint.loader import FileInfo, display_path

            info = FileInfo(path=display_path(job.path), real_path=job.path, split=job.split)
            info.format, info.target = job.format, job.target
            lean.read_span(engine, info, job.span, job.first_index, builder, findings)
        else:
            info, records = read_file(job.path, job.first_index, job.split, job.span)
            info.format, info.target = job.format, job.target
            for record in engine.settled(info, records):
                findings.extend(engine.check_record(record))
                if job.frames:
                    builder.add(record)
        builder.flush()
    text = builder.text.finish()
    if job.text_file is not None:
        from dslint.dataset import SharedText

        shared = SharedText.of(text)  # its offsets travel; its bytes stay in the file
        if shared is not None:  # named as the parent knows the file
            text = replace(shared, descriptor=parent(shared.descriptor))
    return SpanResult(
        findings=findings,
        record_chunks=builder.record_chunks,
        message_chunks=builder.message_chunks,
        text=text,
        lines=info.lines,
        examples=info.examples,
        objects=info.objects,
        formats=info.formats,
        image_examples=info.image_examples,
        ends_with_newline=info.ends_with_newline,
        read_error=info.read_error,
        changed=info.changed,
        notes=engine.context.notes[notes_before:],
        cache_entries=engine.record_hits.export() if engine.record_hits else None,
        pid=os.getpid(),
        first_line=job.span.first_line,
        first_index=job.first_index,
        odd_lines=info.odd_lines,
    )


def _shrunk(job: SpanJob) -> SpanResult:
    """The result of a span that no longer exists: the file is now shorter than where the
    span began. Nothing is read; the change is reported as a change during reading is."""
    try:
        now = f"{os.path.getsize(job.path):,} bytes now"
    except OSError:
        now = "it cannot be read now"
    return SpanResult(
        findings=[], record_chunks=[], message_chunks=[], text=None, lines=0, examples=0,
        objects=0, formats=Counter(), image_examples=0, ends_with_newline=True,
        read_error=None,
        changed=f"the file changed while it was read (more than {job.span.start:,} bytes when "
        f"it was split, {now}): check it again once whatever writes it has finished",
        pid=os.getpid(), first_line=UNCOUNTED,
    )  # fmt: skip


def merge_counts(info: FileInfo, result: SpanResult) -> None:
    """Add the second span's counts to the file's (the first span's, read here)."""
    info.lines = max(info.lines, result.lines)
    info.examples += result.examples
    info.objects += result.objects
    info.formats.update(result.formats)
    info.odd_lines = sorted({*info.odd_lines, *result.odd_lines})[:ODD_LINES_KEPT]
    info.image_examples += result.image_examples
    info.ends_with_newline = result.ends_with_newline
    info.read_error = info.read_error or result.read_error
    info.changed = info.changed or result.changed


class Helper:
    """A helper process checking one span; :meth:`result` waits for it (or does it here)."""

    def __init__(self, job: SpanJob) -> None:
        from dslint.helper import Call

        self.job = job
        self._text_file = _memory_file()
        self._call: Call | None = Call(
            __name__,
            "check_span",
            replace(job, text_file=self._text_file),
            pass_fds=(self._text_file,) if self._text_file is not None else (),
            spare=SPARE,
        )

    def result(self, engine: Engine) -> SpanResult:
        """The helper's result; its text may be in the memory file, which stays open until
        :meth:`close` (after the engine has taken the text)."""
        if self._call is not None:
            result = self._call.result()
            self._call = None
            if isinstance(result, SpanResult) and self._text_is_ours(result.text):
                return result
        # No second process here (a sandbox, a memory limit, a crash): do it ourselves.
        return check_span(self.job, engine)

    def _text_is_ours(self, text: Any) -> bool:
        """A text column in a memory file must be in the one this process gave the helper."""
        from dslint.dataset import SharedText

        if not isinstance(text, SharedText):
            return True
        return self._text_file is not None and text.descriptor == self._text_file

    def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if self._text_file is not None:
            os.close(self._text_file)
            self._text_file = None


def _memory_file() -> int | None:
    """An empty memory file for the helper's text, or None (then its text is pickled)."""
    from dslint.dataset import GROWABLE_MAPS, memory_file

    return memory_file("dslint-text-half") if GROWABLE_MAPS else None
