"""The engine: stream files through record rules, then run file and dataset rules.

How a finding travels: a rule yields a :class:`~dslint.finding.Hit` relative to what it saw;
:meth:`Engine._locate` turns it into a :class:`~dslint.finding.Finding` (path, line, column
from the pointer, severity after overrides, content fingerprint) unless select/ignore or a
per-file ignore drops it; :meth:`Engine.run` returns one immutable
:class:`~dslint.report.Report`. The engine never prints.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslint import formats, lean, locate, models
from dslint.config import Config, ConfigError
from dslint.dataset import Dataset, DatasetBuilder
from dslint.finding import Finding, Hit, Severity
from dslint.fingerprint import fingerprint, text_digest
from dslint.loader import ODD_LINES_KEPT, WHOLE, FileInfo, Record, read_file
from dslint.rawlines import read_lines_at
from dslint.registry import Choosable, catalog, kind, load_chosen
from dslint.report import FileSummary, Report
from dslint.rule import DatasetRule, FileRule, OptionError, RecordRule, Rule, build_options

if TYPE_CHECKING:
    from dslint.cache import Cache, RecordHits, TextMemo
    from dslint.rows import RowStore

# Records read before a file's format is decided (its majority format over these).
FORMAT_SAMPLE = 256


@dataclass
class RunContext:
    """What rules may consult besides their own input: the config, the date, the targets."""

    config: Config
    today: dt.date
    model_given: bool  # the user named a target (so a format mismatch is the user's intent)
    notes: list[str] = field(default_factory=list)
    # Tells the user something before it happens (data about to leave the machine); the CLI
    # prints it on stderr. The engine itself never prints.
    announce: Callable[[str], None] = lambda message: None
    # Told what the run is doing now ("reading train.jsonl: 40,000 lines"); the CLI shows it
    # on a terminal for long runs. Called often: it must be cheap.
    progress: Callable[[str], None] = lambda message: None
    # Asked before a paid remote pass sends anything (the CLI shows the plan and asks);
    # returns whether to go ahead. None: only passes within their configured limit run.
    confirm: Callable[[Any], bool] | None = None
    cache: Cache | None = None  # None with --no-cache

    def memo(self, namespace: str, version: str = "") -> TextMemo:
        """A text memo for a dataset rule family (see dslint.cache.TextMemo and docs/ci.md)."""
        from dslint.cache import null_memo

        if self.cache is None:
            return null_memo(namespace)
        return self.cache.memo(namespace, version)


def matches(rule: Choosable, pattern: str) -> bool:
    """Does a --select/--ignore entry name this rule (code prefix, name, category or ALL)?"""
    upper = pattern.upper()
    if upper == "ALL":
        return True
    codes = (rule.code, *rule.aliases)
    return (
        any(code.startswith(upper) for code in codes)
        or pattern == rule.name
        or pattern.lower() == rule.category.value
    )


def select_rules(config: Config, available: Iterable[Choosable]) -> list[Choosable]:
    chosen = []
    for rule in available:
        if config.select is not None:
            on = any(matches(rule, p) for p in config.select)
        else:
            on = rule.enabled_by_default
        on = on or any(matches(rule, p) for p in config.extend_select)
        if on and not any(matches(rule, p) for p in config.ignore):
            chosen.append(rule)
    return chosen


def _check_patterns(config: Config, available: tuple[Choosable, ...]) -> None:
    """A --select/--ignore entry that names no rule is a typo: say so instead of ignoring it."""
    entries = [*(config.select or ()), *config.extend_select, *config.ignore]
    entries += list(config.severity)
    entries += [code for codes in config.per_file_ignores.values() for code in codes]
    for entry in entries:
        if not any(matches(rule, entry) for rule in available):
            raise ConfigError(f"'{entry}' matches no rule code, name or category")


def instantiate(
    config: Config, chosen: list[type[Rule]], available: Iterable[Choosable]
) -> list[Rule]:
    known = {key for rule in available for key in (rule.code, rule.name)}
    for key in config.rules:
        if key not in known:
            raise ConfigError(f"[tool.dslint.rules]: '{key}' is not a rule code or name")
    instances = []
    for rule in chosen:
        values: dict[str, Any] = {}
        values.update(config.rules.get(rule.code, {}))
        values.update(config.rules.get(rule.name, {}))
        try:
            instances.append(rule(build_options(rule, values)))
        except OptionError as exc:
            raise ConfigError(str(exc)) from None
    return instances


class _FormatSample:
    """The first FORMAT_SAMPLE objects' detected formats, and whether any shows an image:
    what decides a file's format and default target model."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.size = 0
        self.images = False

    def add(self, record: Record) -> None:
        if record.is_object:
            self.counts[record.format] += 1
            self.size += 1
            self.images = self.images or '"image_url"' in record.raw

    @property
    def full(self) -> bool:
        return self.size >= FORMAT_SAMPLE


class Engine:
    def __init__(
        self,
        config: Config,
        today: dt.date | None = None,
        announce: Callable[[str], None] | None = None,
        cache: Cache | None = None,
        kinds: frozenset[str] | None = None,
    ) -> None:
        """``kinds``: only the chosen rules of these kinds (registry.kind), for a helper that
        reads part of a file (the record rules: the dataset rules' families and pandas are not
        imported there)."""
        self.config = config
        available = catalog()  # codes and names: only the chosen rules' families are imported
        _check_patterns(config, available)
        selected = select_rules(config, available)
        if kinds is not None:
            selected = [entry for entry in selected if kind(entry) in kinds]
        chosen = load_chosen(selected)
        self.rules = instantiate(config, chosen, available)
        self.context = RunContext(
            config=config,
            today=today or today_or_override(),
            model_given=config.model is not None,
            cache=cache,
        )
        if announce is not None:
            self.context.announce = announce
        self.fixed_target = self._model(config.model) if config.model else None
        for rule in self.rules:
            rule.context = self.context
        self.record_rules = [r for r in self.rules if isinstance(r, RecordRule)]
        self._plans: dict[tuple[str, bool], tuple[list[Any], tuple[str, ...]]] = {}
        self.file_rules = [r for r in self.rules if isinstance(r, FileRule)]
        self.dataset_rules = [r for r in self.rules if isinstance(r, DatasetRule)]
        # Whether the records go into the dataset frames. Without a dataset rule, only a
        # report that shows the datasets needs them (see dslint.api.check's ``datasets``):
        # building them was a quarter of a schema-only check's time and most of its memory.
        self.builds_frames = True
        self.record_hits: RecordHits | None = cache.records(self._run_key()) if cache else None
        self._record_rules_by_code = {r.code: r for r in self.record_rules}
        self._prefixes: dict[tuple[Any, ...], bytes] = {}  # see _record_hits
        # Records for which this returns False skip the record rules (--changed-since).
        self.record_filter: Callable[[Record], bool] | None = None
        # The filter's answers for a whole file (its path and shown path) before it is read,
        # or None: with them, a large file's halves are read by two processes (see _read).
        self.filter_ahead: Callable[[Path, str], frozenset[int] | None] | None = None
        self._new_lines: dict[Path, frozenset[int]] = {}  # what filter_ahead answered
        # Files whose first images came after the format sample (see _run_unit).
        self._late_images: set[Path] = set()

    def _run_key(self) -> str:
        """Everything besides a record's content that record rules' results depend on."""
        from dslint import __version__
        from dslint.cache import source_stamp

        packages = {type(r).__module__.rpartition(".")[0] or type(r).__module__
                    for r in self.record_rules}  # fmt: skip
        modules = [m for m in sys.modules if m.startswith(tuple(packages))]
        modules += ["dslint.engine", "dslint.loader", "dslint.formats", "dslint.models"]
        rules = [(type(r).__module__, type(r).__qualname__, r.code, repr(r.options))
                 for r in self.record_rules]  # fmt: skip
        # No built-in record rule reads the date (T005, which does, is a file rule), so the
        # hits are kept from one day to the next: with the date in the key, the first check
        # of each day (a pre-commit run in the morning) read every line again. A
        # plugin's record rule may read it, so then it is part of the key.
        day = self.context.today.isoformat() if self._plugin_record_rules() else ""
        return repr((__version__, day, self.context.model_given, repr(self.config), rules,
                     source_stamp(modules)))  # fmt: skip

    # -- the run ---------------------------------------------------------------------------
    def run(self, paths: list[Path], validation: list[Path] | None = None) -> Report:
        """Check training files (and validation files, which are compared against them).

        Dataset rules compare examples within one *dataset*: by default each training file
        with its validation files; with ``combine-files`` (shards of one dataset) all files
        together. Comparing unrelated files would call a Spanish file's replies off-language
        because an English file was checked in the same run.
        """
        validation = validation or []
        if self.config.combine_files or not paths:
            units = [(paths, validation)]
        else:
            units = [([path], validation) for path in paths]
        self._warm_up()
        findings: list[Finding] = []
        datasets: list[Dataset] = []
        for train, held_out in units:
            unit_findings, dataset = self._run_unit(train, held_out)
            findings.extend(unit_findings)
            datasets.append(dataset)
        # A validation file shared by several training files is read once per unit; its own
        # findings are the same each time, so keep one of each.
        unique = {(f.fingerprint, f.line, f.column, f.message): f for f in findings}
        ordered = sorted(unique.values(), key=lambda f: f.sort_key)
        seen_files: dict[str, FileSummary] = {}
        for dataset in datasets:
            for f in dataset.files:
                seen_files.setdefault(
                    f.path,
                    FileSummary(
                        path=f.path,
                        format=f.format,
                        examples=f.examples,
                        model=f.target.name if f.target else None,
                        size=f.size,
                        split=f.split,
                    ),
                )
        return Report(
            findings=tuple(ordered),
            files=tuple(seen_files.values()),
            rules=tuple(type(r) for r in self.rules),
            notes=tuple(dict.fromkeys(self.context.notes)),
            datasets=tuple(datasets),
            fail_on=self.config.fail_on,
        )

    def _warm_up(self) -> None:
        """Start the dataset rules' slow loading (a model) while the files are being read."""
        rules = [r for r in self.dataset_rules if type(r).warm_up is not DatasetRule.warm_up]
        if not rules:
            return
        import contextlib
        import threading

        def load() -> None:
            for rule in rules:
                with contextlib.suppress(Exception):  # check() loads again and reports it
                    rule.warm_up()

        threading.Thread(target=load, name="dslint-warm-up", daemon=True).start()

    def _run_unit(self, paths: list[Path], validation: list[Path]) -> tuple[list[Finding], Dataset]:
        """Stream one dataset's files through the record and file rules, then dataset rules."""
        from dslint.cache import memos

        inputs = [(p, "train") for p in paths] + [(p, "validation") for p in validation]
        with memos(self.context.memo):  # the text memos of shared code (dslint.cache)
            builder, findings = self._read_unit(inputs)
            # A file's default model is picked from its first examples; images further down
            # need a vision model too, or S023 would blame a model dslint chose itself (text
            # examples first, then image ones: two files joined). Rather than scan every
            # file for images first, such a file takes the vision model now when that
            # changes nothing its records were read with, else it is read again.
            late = [f for f in builder.files if self._images_came_late(f)]
            if not all(self._take_vision_model(f) for f in late):
                self._late_images.update(f.real_path for f in late)
                builder, findings = self._read_unit(inputs)
            for info in builder.files:
                for file_rule in self.file_rules:
                    for hit in file_rule.check(info):
                        finding = self._locate_file(file_rule, hit, info)
                        if finding:
                            findings.append(finding)
            dataset = builder.build()
            dataset.rows = self._row_store(inputs)
            findings.extend(self._run_dataset_rules(dataset))
            if dataset.rows is not None:
                dataset.rows.save(dataset)
        return findings, dataset

    def _read_unit(self, inputs: list[tuple[Path, str]]) -> tuple[DatasetBuilder, list[Finding]]:
        """Read one dataset's files through the record rules."""
        from dslint.memory import long_lived

        builder = DatasetBuilder()
        findings: list[Finding] = []
        next_index = 0
        with long_lived():  # no cyclic collection while reading (dslint.memory)
            for path, split in inputs:
                info, next_index = self._read(path, split, next_index, builder, findings)
                builder.files.append(info)
        return builder, findings

    def _images_came_late(self, info: FileInfo) -> bool:
        """Whether the file has images its default model cannot take, though the sample that
        chose that model had none (see _decide)."""
        return (
            self.fixed_target is None
            and info.target is not None
            and info.image_examples > 0
            and not info.target.accepts_vision
            and info.real_path not in self._late_images
        )

    def _take_vision_model(self, info: FileInfo) -> bool:
        """Give a file with late images the default vision model, if its records would have
        been read alike with it: the same effective format for every record, and no
        plugin's record rule, which might read the model (the built-in ones do not)."""
        vision = self._model(models.default_for(info.format, has_images=True))
        assert info.target is not None  # see _images_came_late
        settled_alike = all(
            formats.effective(detected, info.format, info.target.formats)
            == formats.effective(detected, info.format, vision.formats)
            for detected in formats.DETECTED
        )
        if not settled_alike or self._plugin_record_rules():
            return False
        info.target = vision
        return True

    def _model(self, name: str) -> models.Target:
        """A model by name, with the config's own models and overrides."""
        return models.resolve(name, {k: dict(v) for k, v in self.config.models.items()})

    def _plugin_record_rules(self) -> bool:
        return any(not type(r).__module__.startswith("dslint.rules.") for r in self.record_rules)

    def _row_store(self, inputs: list[tuple[Path, str]]) -> RowStore | None:
        """The row memos of this dataset (dslint.rows), keyed by its files and by everything
        else the dataset rules' values depend on; None when the cache is off."""
        import os

        from dslint import reuse

        cache = self.context.cache
        if cache is None or not self.dataset_rules:
            return None
        parts = reuse.dependencies(self.config)
        if parts is None:
            return None
        files = [f"{split}:{os.path.abspath(path)}" for path, split in inputs]
        return cache.rows(*parts, repr(self.context.model_given), *files)

    def _read(
        self, path: Path, split: str, index: int, builder: DatasetBuilder, findings: list[Finding]
    ) -> tuple[FileInfo, int]:
        """Read one file through the record rules into ``builder``; return its info and the
        next record index. A large file's second half goes to a helper process (shards); a
        re-run reads the lines it knows clean through the fast lane (dslint.lean)."""
        from dslint import shards
        from dslint.helper import available

        two_cores = available() and (self.record_filter is None or self._decided(path))
        known = lean.open_lane(self, path, split)
        if known is not None:
            return self._read_lane(known, path, split, index, builder, findings, two_cores)
        spans = shards.halves(path) if two_cores else None
        decision = self._sample(path, split, spans[0]) if spans else None
        span = spans[0] if spans and decision else WHOLE
        info, records = read_file(path, index, split, span)
        other = None
        if spans and decision:
            self._decide(info, decision)
            other = self._helper(info, path, split, index, spans[1], False)
        progress = self.context.progress
        with _closed_on_error(other):
            for record in self.settled(info, records, decided=other is not None):
                if record.line % 10_000 == 0:
                    progress(f"reading {info.path}: {record.line:,} lines")
                findings.extend(self.check_record(record))
                if self.builds_frames:
                    builder.add(record)
                index = record.index + 1
        return self._join(other, info, index, builder, findings)

    def _read_lane(
        self,
        info: FileInfo,
        path: Path,
        split: str,
        index: int,
        builder: DatasetBuilder,
        findings: list[Finding],
        two_cores: bool,
    ) -> tuple[FileInfo, int]:
        """``_read`` through the fast lane (dslint.lean): ``info`` has its format decided."""
        from dslint import shards

        spans = shards.halves(path, shards.LANE_SHARE) if two_cores else None
        other = self._helper(info, path, split, index, spans[1], True) if spans else None
        with _closed_on_error(other):
            span = spans[0] if spans else WHOLE
            index = lean.read_span(self, info, span, index, builder, findings)
        return self._join(other, info, index, builder, findings)

    def _decided(self, path: Path) -> bool:
        """Whether the record filter answered for the whole of this file ahead of reading it
        (only a file large enough to be read on two cores is worth the extra pass): a helper
        reading its second half then knows which of its records are new. Without that, which
        copy of a repeated line is new depends on the lines before it, which only one process
        reading the whole file in order could follow."""
        from dslint import shards
        from dslint.loader import display_path

        if self.filter_ahead is None or shards.halves(path) is None:
            return False
        new_lines = self.filter_ahead(path, display_path(path))
        if new_lines is None:
            return False
        self._new_lines[path] = new_lines
        return True

    def _helper(
        self, info: FileInfo, path: Path, split: str, index: int, second: Any, lane: bool
    ) -> Any:
        """A helper process reading the file's second span (dslint.shards)."""
        from dslint import shards

        return shards.Helper(
            shards.SpanJob(
                config=self.config, today=self.context.today, path=path, split=split,
                span=second, first_index=index + second.first_line - 1, format=info.format,
                target=info.target,
                cache=self.record_hits.location() if self.record_hits else None,
                frames=self.builds_frames, lane=lane, new_lines=self._new_lines.get(path),
            )
        )  # fmt: skip

    def _join(
        self,
        other: Any,
        info: FileInfo,
        index: int,
        builder: DatasetBuilder,
        findings: list[Finding],
    ) -> tuple[FileInfo, int]:
        """After reading the first span here: add what the helper read of the second (if
        there is one); return the file's info and the next record index."""
        from dslint import shards

        if other is None:
            return info, index
        if info.read_error is not None:
            other.close()  # reading stopped in the first half: no more is read (as on one core)
            return info, index
        self.context.progress(f"reading {info.path}: waiting for the second half")
        try:
            result = other.result(self)
            findings.extend(result.findings)
            if result.first_line != shards.UNCOUNTED:  # else the file shrank: nothing read
                builder.extend(result.record_chunks, result.message_chunks, result.text)
        finally:
            other.close()  # the helper's memory file, now copied
        self.context.notes.extend(result.notes)
        if result.cache_entries is not None and self.record_hits is not None:
            self.record_hits.absorb(result.cache_entries)
        shards.merge_counts(info, result)
        result.text = None  # copied into the builder's text column
        from dslint.memory import give_back

        give_back()
        if result.first_line == shards.UNCOUNTED:
            return info, index
        return info, result.first_index + max(info.lines - result.first_line + 1, 0)

    def _sample(self, path: Path, split: str, span: Any) -> _FormatSample | None:
        """The format sample ``settled`` would take, read ahead within ``span``; None when
        the span holds fewer than FORMAT_SAMPLE objects (the whole file then decides)."""
        _, records = read_file(path, 0, split, span)
        sample = _FormatSample()
        for record in records:
            if record.is_object:
                record.format = formats.detect_record(record.value)
                sample.add(record)
                if sample.full:
                    return sample
        return None

    def settled(
        self, info: FileInfo, records: Iterator[Record], decided: bool = False
    ) -> Iterator[Record]:
        """Decide the file's format from its first records (unless ``decided`` already), then
        set each record's format."""
        buffer: list[Record] = []
        sample = _FormatSample()
        for record in records:
            if record.is_object:
                record.format = formats.detect_record(record.value)
            if decided:
                self._settle(record, info)
                yield record
                continue
            buffer.append(record)
            sample.add(record)
            if sample.full:
                self._decide(info, sample)
                decided = True
                for held in buffer:
                    self._settle(held, info)
                    yield held
                buffer.clear()
        if not decided:
            self._decide(info, sample)
            for held in buffer:
                self._settle(held, info)
                yield held

    def _decide(self, info: FileInfo, sample: _FormatSample) -> None:
        info.format = formats.dominant(sample.counts)
        if self.fixed_target is not None:
            info.target = self.fixed_target
        elif info.format in formats.ACCEPTED:
            images = sample.images or info.real_path in self._late_images
            name = models.default_for(info.format, has_images=images)
            info.target = self._model(name)

    def _settle(self, record: Record, info: FileInfo) -> None:
        if record.is_object:
            accepted = info.target.formats if info.target else frozenset()
            record.format = formats.effective(record.format, info.format, accepted)
            info.formats[record.format] += 1
            odd = record.format not in (info.format, "unknown")
            if odd and len(info.odd_lines) < ODD_LINES_KEPT:
                info.odd_lines.append(record.line)
            if '"image_url"' in record.raw and formats.has_images(record.value):
                info.image_examples += 1

    def check_record(self, record: Record) -> Iterator[Finding]:
        if self.record_filter is not None and not self.record_filter(record):
            return
        hits = self._record_hits(record) if self.record_hits else self._run_record_rules(record)
        for rule, hit in hits:
            finding = self._locate_record(rule, hit, record.path, record.line,
                                          record.content_hash, _place(hit, record.raw))  # fmt: skip
            if finding:
                yield finding

    def _run_record_rules(self, record: Record) -> Iterator[tuple[RecordRule, Hit]]:
        raw = record.raw
        escaped = "\\u" in raw
        clean = not record.problems
        present: list[str] | None = None  # the plan's triggers found in the line
        plan, triggers_in_plan = self._plan(record.format, record.is_object)
        for rule, triggers, needs_problems in plan:
            if needs_problems and clean:
                continue
            if triggers and not escaped:
                if present is None:
                    present = [t for t in triggers_in_plan if t in raw]
                if triggers.isdisjoint(present):
                    continue
            for hit in rule.check(record):
                yield rule, hit

    def _plan(self, fmt: str, is_object: bool) -> tuple[list[Any], tuple[str, ...]]:
        """The record rules that apply to records of this format, each with its triggers and
        whether it needs a load problem, and every trigger of them (worked out once per run).
        Each line is searched once per distinct trigger, not once per rule."""
        key = (fmt, is_object)
        plan = self._plans.get(key)
        if plan is None:
            rules = [
                (rule, frozenset(rule.triggers), rule.needs_problems)
                for rule in self.record_rules
                if (is_object or not rule.needs_object)
                and (rule.formats is None or fmt in rule.formats)
            ]
            every = tuple(sorted({t for _, triggers, _ in rules for t in triggers}))
            plan = self._plans[key] = (rules, every)
        return plan

    def _record_hits(self, record: Record) -> list[tuple[RecordRule, Hit]]:
        """The record rules' hits, from the cache when this content was checked before."""
        from dslint.cache import decode_hits, encode_hits

        assert self.record_hits is not None
        first = record.line == 1
        prefix = self.context_prefix(record.path, record.format, record.file, first,
                                     record.problems)  # fmt: skip
        key = self.record_hits.key(prefix, record.raw)
        cached = self.record_hits.get(key)
        if cached is not None:
            decoded = decode_hits(cached[0], self._record_rules_by_code)
            if decoded is not None:
                self.context.notes.extend(cached[1])
                return decoded
        before = len(self.context.notes)
        hits = list(self._run_record_rules(record))
        notes = self.context.notes[before:]
        # A clean chat line is noted as such: a re-run reads it without the record rules, and
        # without parsing it in Python when it is plain (dslint.lean).
        clean = not (hits or notes or first or record.problems) and record.format == "chat"
        known = (record.content_hash, lean.is_plain(record.value)) if clean else None
        self.record_hits.put(key, encode_hits(hits), notes, known)
        return hits

    def context_prefix(
        self, path: str, fmt: str, info: FileInfo, first: bool, problems: Any = ()
    ) -> bytes:
        """The start of the cache key of a record (dslint.cache.RecordHits): everything a
        record rule sees besides the raw line. Made once per context for clean records."""
        assert self.record_hits is not None
        parts = (path, fmt, info.format, info.target.name if info.target else "", first)
        known = None if problems else self._prefixes.get(parts)
        if known is not None:  # most records: their context's prefix is made once
            return known
        # A repr keeps the parts apart; a clean record's problems are an empty list.
        prefix = self.record_hits.prefix(repr((*parts, list(problems))))
        if not problems:
            self._prefixes[parts] = prefix
        return prefix

    def collect(self, rule: DatasetRule, dataset: Dataset) -> tuple[list[Hit], list[str]]:
        """A dataset rule's hits and the notes it made, kept apart until reported in rule
        order (a helper process's rules report theirs the same way: dslint.offload)."""
        from dslint.memory import give_back

        before = len(self.context.notes)
        hits = list(rule.check(dataset))
        notes = self.context.notes[before:]
        del self.context.notes[before:]
        give_back()  # the rule's temporary copies, before the next rule's peak stands on them
        return hits, notes

    def _run_dataset_rules(self, dataset: Dataset) -> list[Finding]:
        from dslint import offload

        # A self-contained family runs in a helper process meanwhile (dslint.offload).
        away = offload.choose(self, dataset)
        helper = offload.Offloaded(self, dataset, away) if away else None
        results: dict[str, tuple[list[Hit], list[str]]] = {}
        here = [rule for rule in self.dataset_rules if rule not in away]
        if helper is not None:  # see DatasetRule.splits_over_cores; reported in rule order
            here.sort(key=lambda rule: type(rule).splits_over_cores)
        try:
            for position, dataset_rule in enumerate(here):
                self.context.progress(f"{dataset_rule.code} {dataset_rule.name}")
                results[dataset_rule.code] = self.collect(dataset_rule, dataset)
                release_shared(dataset, self.dataset_rules, here[position + 1 :])
        except BaseException:
            if helper is not None:
                helper.close()  # an interrupted run leaves no helper behind
            raise
        if helper is not None:
            self.context.progress("waiting for the duplicate rules")
            done = helper.result()
            if done is not None:
                for code, hits in done.hits.items():
                    results[code] = (hits, done.notes[code])
                for key, value in done.derived.items():
                    dataset.cache.setdefault(key, value)
                if dataset.rows is not None:
                    dataset.rows.kept.update(done.rows)
                if self.context.cache is not None:
                    self.context.cache.absorb(done.cache_entries)
            else:  # the helper failed: the same rules here, one core
                for dataset_rule in away:
                    results[dataset_rule.code] = self.collect(dataset_rule, dataset)
        pending: list[tuple[DatasetRule, Hit]] = []
        findings: list[Finding] = []
        for dataset_rule in self.dataset_rules:  # in rule order, wherever each one ran
            hits, notes = results[dataset_rule.code]
            self.context.notes.extend(notes)
            for hit in hits:
                if hit.record is None:
                    info = dataset.file(hit.path) if hit.path else None
                    finding = self._locate_file(dataset_rule, hit, info)
                    if finding:
                        findings.append(finding)
                else:
                    pending.append((dataset_rule, hit))
        if not pending:
            return findings
        records = dataset.records
        # Look every hit's record up at once: a .loc per hit cost seconds on large reports.
        import pandas as pd

        # The hits' own records, then the records they name besides (Hit.related), in one go.
        named = [row for _, hit in pending for row in hit.related]
        positions = records.index.get_indexer(pd.Index([hit.record for _, hit in pending] + named))
        if (positions < 0).any():
            raise KeyError("a dataset rule reported a record that does not exist")
        all_paths = [str(p) for p in records["path"].to_numpy(dtype=object)[positions]]
        all_lines = records["line"].to_numpy()[positions].tolist()
        count = len(pending)
        positions, paths, lines = positions[:count], all_paths[:count], all_lines[:count]
        offsets = records["offset"].to_numpy()[positions].tolist()
        hashes = records["content_hash"].to_numpy()[positions].tolist()
        places = self._columns(dataset, pending, paths, offsets)
        others_of = iter(zip(all_paths[count:], all_lines[count:], strict=True))
        related = [tuple(next(others_of) for _ in hit.related) for _, hit in pending]
        for (rule, hit), path, line, content_hash, place, others in zip(
            pending, paths, lines, hashes, places, related, strict=True
        ):
            finding = self._locate_record(rule, hit, path, line, content_hash, place)
            if finding:
                findings.append(replace(finding, related=others) if others else finding)
        return findings

    def _columns(
        self, dataset: Dataset, pending: list[tuple[DatasetRule, Hit]], paths: list[str],
        offsets: list[int],
    ) -> list[tuple[int | None, int | None]]:  # fmt: skip
        """The (column, end column) of each pending hit. A hit placed by its pointer or span
        is placed in its line, read again by its offset, through a text memo keyed by the
        line, the pointer and the span: a re-run after a small edit reports mostly the same
        findings on unchanged lines, and walking each line's JSON again for them took
        0.3-0.4 s of a re-run of the 100k benchmark file (about 14,000 findings)."""
        wanted: dict[str, set[int]] = defaultdict(set)
        for (_, hit), path, offset in zip(pending, paths, offsets, strict=True):
            if hit.column is None and (hit.pointer or hit.span):
                wanted[path].add(offset)
        raw_lines = {
            (path, offset): text
            for path, offsets_in in wanted.items()
            for offset, text in read_lines_at(dataset.file(path), offsets_in).items()
        }
        places = [_place(hit, "") for _, hit in pending]  # no line to place them in
        asked: dict[str, list[int]] = {}  # key -> the pending hits it places
        line_keys: dict[tuple[str, int], str] = {}
        for position, ((_, hit), path, offset) in enumerate(
            zip(pending, paths, offsets, strict=True)
        ):
            raw = raw_lines.get((path, offset), "") if hit.column is None else ""
            if not raw:
                continue
            line_key = line_keys.get((path, offset))
            if line_key is None:
                # The line by its hash: a key per finding holding the line would copy it once
                # per finding (a fifth of a GB at a million examples).
                line_key = line_keys[path, offset] = text_digest(raw, size=16)
            span = "" if hit.span is None else f"{hit.span[0]}:{hit.span[1]}"
            # A fixed-length hash, the span (empty or digits), then the pointer after a colon
            # (a pointer is empty or starts with "/"): a key reads one way only.
            asked.setdefault(f"{line_key}{span}:{hit.pointer}", []).append(position)
        if not asked:
            return places

        def compute(keys: list[str]) -> list[list[int]]:
            located = []
            for key in keys:
                position = asked[key][0]
                raw = raw_lines[paths[position], offsets[position]]
                column, end = _place(pending[position][1], raw)
                located.append([-1 if column is None else column, -1 if end is None else end])
            return located

        memo = self.context.memo("locate.columns", _locate_version())
        keys = list(asked)
        for key, (column, end) in zip(keys, memo.map(keys, compute, _is_place), strict=True):
            place = (None if column < 0 else column, None if end < 0 else end)
            for position in asked[key]:
                places[position] = place
        return places

    # -- locating and filtering --------------------------------------------------------------
    def _severity(self, rule: Rule, hit: Hit) -> Severity:
        best: tuple[int, Severity] | None = None
        for pattern, level in self.config.severity.items():
            if matches(type(rule), pattern):
                specificity = len(pattern)
                if best is None or specificity > best[0]:
                    best = (specificity, level)
        if best is not None:
            return best[1]
        return hit.severity or rule.severity

    def _ignored_in(self, rule: Rule, path: str) -> bool:
        for pattern, codes in self.config.per_file_ignores.items():
            if _path_matches(path, pattern, self.config) and any(
                matches(type(rule), code) for code in codes
            ):
                return True
        return False

    def _locate_record(
        self,
        rule: Rule,
        hit: Hit,
        path: str,
        line: int,
        content_hash: int,
        place: tuple[int | None, int | None],
    ) -> Finding | None:
        """The finding of a record's hit at ``place`` (its column and end column, see
        :func:`_place`); None when this file ignores the rule."""
        if self._ignored_in(rule, path):
            return None
        return self._finding(rule, hit, path, line, content_hash, place)

    def _locate_file(self, rule: Rule, hit: Hit, info: FileInfo | None) -> Finding | None:
        path = info.path if info else (hit.path or "")
        if path and self._ignored_in(rule, path):
            return None
        return self._finding(rule, hit, path, None, None, (None, None))

    def _finding(
        self,
        rule: Rule,
        hit: Hit,
        path: str,
        line: int | None,
        content_hash: int | None,
        place: tuple[int | None, int | None],
    ) -> Finding:
        column, end = place
        named = (content_hash, hit.pointer, hit.key, hit.group)
        return Finding(
            code=rule.code,
            name=rule.name,
            category=rule.category,
            severity=self._severity(rule, hit),
            path=path,
            line=line,
            column=column,
            pointer=hit.pointer,
            message=hit.message,
            fingerprint=fingerprint(rule.code, path, *named),
            end_column=end,
            pathless=fingerprint(rule.code, "", *named),
        )


@contextmanager
def _closed_on_error(helper: Any) -> Iterator[None]:
    """Stop ``helper`` (a dslint.shards.Helper, or None) if the block raises: an interrupted
    run leaves no helper behind."""
    try:
        yield
    except BaseException:
        if helper is not None:
            helper.close()
        raise


def release_shared(dataset: Dataset, every: list[DatasetRule], upcoming: list[DatasetRule]) -> None:
    """Drop the shared ``dataset.cache`` entries that no upcoming rule declares (see
    :attr:`DatasetRule.shares`), and give their memory back before the next rule's peak."""
    from dslint.memory import give_back

    declared = {prefix for rule in every for prefix in type(rule).shares}
    wanted = {prefix for rule in upcoming for prefix in type(rule).shares}
    done = [key for key in dataset.cache
            if key.startswith(tuple(declared)) and not key.startswith(tuple(wanted))]  # fmt: skip
    for key in done:
        del dataset.cache[key]
    if done:
        give_back()


def today_or_override() -> dt.date:
    """Today, or DSLINT_TODAY (YYYY-MM-DD) for reproducible runs: date-dependent rules such
    as the OpenAI wind-down notice otherwise change a CI result from one day to the next."""
    import os

    value = os.environ.get("DSLINT_TODAY")
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"DSLINT_TODAY: not a date (YYYY-MM-DD): {value!r}") from None
    return dt.date.today()


def _path_matches(path: str, pattern: str, config: Config) -> bool:
    if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, pattern):
        return True
    try:
        relative = Path(path).resolve().relative_to(config.root.resolve()).as_posix()
    except ValueError:
        return False
    return fnmatch.fnmatch(relative, pattern)


def _place(hit: Hit, raw: str) -> tuple[int | None, int | None]:
    """Where a hit stands in its raw line: (column, end column), both 1-based. Its own column
    when it has one, else found from its pointer and span; column 1 without the line."""
    if hit.column is not None:
        return hit.column, None
    if raw:
        return locate.columns(raw, hit.pointer, hit.span)
    return 1, None


def _locate_version() -> str:
    """The version of the located columns' memo: the code that finds them."""
    from dslint.cache import source_stamp

    return f"1/{source_stamp(['dslint.locate'])}"


def _is_place(value: Any) -> bool:
    """A remembered (column, end column), -1 for none: anything else is computed again."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(type(v) is int and v >= -1 for v in value)
    )
