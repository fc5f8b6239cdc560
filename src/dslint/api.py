"""The Python API: ``dslint.check(paths)`` returns a :class:`~dslint.report.Report`.

>>> report = dslint.check(["data/train.jsonl"], model="gpt-4.1-mini")   # doctest: +SKIP
>>> report.exit_code("error"), report.findings_frame().groupby("code").size()  # doctest: +SKIP

Errors a user can fix (a missing path, a bad config, an unknown model) raise
:class:`DslintError` subclasses with a one-line message; the CLI prints it and exits 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

from dslint import config as config_module
from dslint.config import Config, ConfigError
from dslint.loader import InputError, resolve_paths
from dslint.memory import collect_less, long_lived
from dslint.models import ModelConfigError, UnknownModelError
from dslint.registry import PluginError
from dslint.report import Report
from dslint.tokens.encodings import EncodingUnavailable

DslintError = (
    InputError,
    ConfigError,
    UnknownModelError,
    ModelConfigError,
    PluginError,
    EncodingUnavailable,
)


def configs_for(
    paths: Sequence[Path], config_file: str | Path | None
) -> list[tuple[Config, list[Path]]]:
    """Group input files by the config that applies to each (the nearest one wins)."""
    if config_file is not None:
        return [(config_module.load(Path(config_file)), list(paths))]
    groups: dict[Path | None, list[Path]] = {}
    for path in paths:
        groups.setdefault(config_module.find_config(path), []).append(path)
    return [
        (config_module.load(source) if source else Config(), files)
        for source, files in groups.items()
    ]


def validation_files(config: Config, group: Sequence[Path], given: Sequence[Path]) -> list[Path]:
    """The validation files of a group of training files: those given, then those paired
    with them in the config (which must exist)."""
    paired = [v for train in group for v in config.validation_for(train)]
    missing = [v for v in paired if not v.is_file()]
    if missing:
        raise InputError(f"{missing[0]}: validation file named in {config.source} not found")
    return list(dict.fromkeys([*given, *paired]))


def training_inputs(
    config: Config, group: Sequence[Path], given_validation: Sequence[Path]
) -> tuple[list[Path], list[Path]]:
    """The training files of a group of inputs, and those read only as context.

    An input that is a validation file (the config pairs it with a training file, or it was
    also given as ``validation``) is not a training file of its own: checked as one, it was
    compared with itself, and every example called a leak. With its training file among the
    inputs it is checked once, as that file's validation file. Given without it (pre-commit
    passes only the files a commit changed) its training file is read too, so that leakage
    is still found, and reported on only through the validation file (see :func:`check`)."""
    held = {path.resolve() for path in given_validation}
    paired = {
        path: config.training_for(path)
        for path in group
        if path.resolve() not in held and config.is_validation(path)
    }
    # (A validation file whose pattern matches no training file is checked as it was given.)
    training = [p for p in group if p.resolve() not in held and not paired.get(p)]
    present = {path.resolve() for path in training}
    context: list[Path] = []
    for train in (train for trains in paired.values() for train in trains):
        if not train.is_file():
            raise InputError(f"{train}: training file named in {config.source} not found")
        if train.resolve() not in present:
            present.add(train.resolve())
            context.append(train)
    return training, context


def _without_context(report: Report, context: Sequence[Path]) -> Report:
    """The report without the findings and files of training files read only as context."""
    if not context:
        return report
    hidden = {path.resolve() for path in context}
    shown = {f.path for f in report.files if Path(f.path).resolve() not in hidden}
    names = ", ".join(sorted({f.path for f in report.files} - shown))
    note = (
        f"validation files were compared with their training files ({names}), whose own "
        "findings are not shown: check those too to see them"
    )
    return dataclasses.replace(
        report,
        findings=tuple(f for f in report.findings if not f.path or f.path in shown),
        files=tuple(f for f in report.files if f.path in shown),
        notes=(*report.notes, note),
    )


def _helpers_ahead(config: Config, training: Sequence[Path], validation: Sequence[Path]) -> Any:
    """Helper processes started now for a large dataset, before this process imports the
    rules and reads (dslint.helper.spares): one for a large file's second span and one for
    the offloaded dataset rules.
    Each imports what it will need meanwhile, on the other core, instead of after being
    called (about 0.5 s on the 100k benchmark file's path, each): the first the record
    rules' families, the second every chosen family."""
    from dslint import shards

    def size(path: Path) -> int:
        with suppress(OSError):
            return path.stat().st_size
        return 0

    held = [size(path) for path in validation]
    train = [size(path) for path in training]
    held_out = sum(held)
    # The datasets Engine.run will check: each training file with the validation files, or
    # all of them together. offload.choose sends a dataset's rules to a helper by its size.
    together = config.combine_files or not train
    datasets = [sum(train) + held_out] if together else [t + held_out for t in train]
    largest_file = max([*train, *held, 0])
    if max([*datasets, largest_file]) < shards.MIN_BYTES:
        return nullcontext()  # a small run imports nothing more
    from dslint import helper, offload
    from dslint.engine import select_rules
    from dslint.registry import catalog, chosen_modules, kind

    chosen = select_rules(config, catalog())
    span: tuple[str, list[str]] | None = None
    if largest_file >= shards.MIN_BYTES:
        # A span's helper runs the record rules alone: their families, and no pandas.
        records = [entry for entry in chosen if kind(entry) in shards.RECORD_RULES]
        span = (shards.SPARE, [*shards.SPARE_PRELOAD, *chosen_modules(records)])
    rules: tuple[str, list[str]] | None = None
    # As offload.choose will decide, from the catalog (no rule is imported yet).
    dataset_rules = [entry for entry in chosen if kind(entry) == "dataset"]
    if max(datasets, default=0) >= shards.MIN_BYTES and offload.away(dataset_rules):
        rules = (offload.SPARE, [*offload.SPARE_PRELOAD, *chosen_modules(chosen)])
    # With several large datasets, that child then serves the next dataset's span and rules
    # in turn: started cold for each dataset after the first, the helpers cost a re-run of
    # three files of 18, 18 and 4 MB 0.4 s (the new interpreters' imports).
    again = sum(size >= shards.MIN_BYTES for size in datasets) > 1
    if span is not None and rules is not None:
        # One child for both: the span's helper is done before the dataset rules start, and
        # imports their families while this process still reads. A second child's start
        # and imports (0.5 s of CPU on the 100k benchmark file) would take a core from
        # this process's imports and reading instead.
        return helper.spares([(*span, rules, again)])
    if rules is not None and again:
        return helper.spares([(*rules, (rules[0], []), True)])
    wanted = [spare for spare in (span, rules) if spare is not None]
    return helper.spares(wanted) if wanted else nullcontext()


@collect_less()  # millions of cache entries and per-text values live until the run ends
def check(
    paths: Sequence[str | Path],
    *,
    config: str | Path | None = None,
    model: str | None = None,
    select: Sequence[str] | None = None,
    extend_select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    fail_on: str | None = None,
    validation: Sequence[str | Path] | None = None,
    combine_files: bool | None = None,
    today: dt.date | None = None,
    moderation: str | None = None,
    announce: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    review: str | None = None,
    sample: int | None = None,
    confirm: Callable[[Any], bool] | None = None,
    baseline: str | Path | None = None,
    changed_since: str | None = None,
    cache: bool = False,
    reuse: bool = False,
    rule_table: bool = True,
    datasets: bool = True,
) -> Report:
    """Lint the given files, folders or globs and return the report.

    ``validation`` files are checked too and compared with the training files (leakage);
    a config's ``validation`` table pairs them automatically.
    ``moderation="openai"`` turns the remote moderation pass on (as the config's
    ``[tool.dslint.moderation] provider`` does); ``announce`` receives, before it happens,
    the one-line notice of what is sent where.

    ``review="llm"`` turns the LLM review on (``sample``: only N examples' replies). Before
    it sends anything, ``confirm(plan)`` sees a :class:`dslint.review.cost.ReviewPlan`
    (requests, tokens, dollars) and returns whether to go ahead; without ``confirm`` a
    review above its ``confirm-above`` limit raises instead of sending.

    ``baseline`` names a file written by ``dslint baseline``: its findings are not reported.
    ``changed_since`` is a git revision: only findings on records added or changed since then
    are reported (dataset rules still see every record). ``cache=True`` keeps and reuses
    results in ``.dslint_cache/`` of the working directory (it never changes them; the CLI
    turns it on unless ``--no-cache``).

    ``reuse=True`` (with the cache) lets an earlier run stand in when nothing this check
    depends on has changed since (files, config, dslint: see :mod:`dslint.reuse`): its
    findings are read back instead of worked out again. Such a report has no ``datasets``
    (ask for a fresh run to draw figures or print statistics), and its ``rules`` are loaded
    only with ``rule_table=True`` (they are what SARIF's rule table and the HTML report read;
    loading them imports every rule).

    ``datasets=False`` builds the dataset frames only for the dataset rules: with none chosen
    (``select=["S"]``) the report's ``datasets`` are empty and the check is a quarter faster,
    in a fraction of the memory. The CLI asks for them only for the HTML and markdown
    reports.
    """
    from dslint import reuse as reuse_module
    from dslint.engine import Engine, select_rules, today_or_override
    from dslint.registry import catalog, load_chosen
    from dslint.review import settings as review_settings
    from dslint.rules.moderation import settings as moderation_settings

    accepted = None
    if baseline is not None:
        from dslint.baseline import Baseline

        accepted = Baseline.load(baseline)  # a bad baseline fails before the long run
    files = resolve_paths([str(p) for p in paths])
    since = None
    if changed_since is not None:
        from dslint.changes import Since, check_revision

        check_revision(changed_since, files[0].resolve().parent if files else None)
        since = Since(changed_since)
    store = None
    if cache:
        from dslint.cache import Cache

        store = Cache.open()
    given_validation = resolve_paths([str(p) for p in validation]) if validation else []
    day = today or today_or_override()  # one date for the key and the run, even at midnight
    reports = []
    for base, group in configs_for(files, config):
        effective = base.with_overrides(
            model=model,
            select=tuple(select) if select is not None else None,
            fail_on=fail_on,
            combine_files=combine_files,
        )
        if extend_select:
            effective = effective.with_overrides(
                extend_select=(*effective.extend_select, *extend_select)
            )
        if ignore:
            effective = effective.with_overrides(ignore=(*effective.ignore, *ignore))
        effective = moderation_settings.apply(effective, moderation)
        effective = review_settings.apply(effective, review, sample)
        training, context = training_inputs(effective, group, given_validation)
        group = [*training, *context]
        extra = validation_files(effective, group, given_validation)
        given_validation = []  # given once, compared with the first group's training files
        run_key = None
        if store is not None and since is None:
            run_key = reuse_module.key(store, effective, group, extra, day.isoformat())
        saved = reuse_module.load(store, run_key) if reuse and store and run_key else None
        if saved is not None:
            findings, summaries, notes = saved
            reused = Report(
                findings=tuple(findings),
                files=tuple(summaries),
                rules=tuple(load_chosen(select_rules(effective, catalog()))) if rule_table else (),
                notes=tuple(notes),
                fail_on=effective.fail_on,
            )
            reports.append(_without_context(reused, context))
            continue
        with _helpers_ahead(effective, group, extra):
            with long_lived():  # the rules' imports (dslint.memory)
                engine = Engine(effective, today=day, announce=announce, cache=store)
            engine.builds_frames = datasets or bool(engine.dataset_rules)
            if progress is not None:
                engine.context.progress = progress
            engine.context.confirm = confirm
            if since is not None:
                engine.record_filter = since.is_new
                engine.filter_ahead = since.ahead
            report = engine.run(group, validation=extra)
        if store is not None and run_key is not None:
            reuse_module.save(store, run_key, report.findings, report.files, report.notes)
        reports.append(_without_context(report, context))
    if store is not None:
        store.save()
    report = Report.merge(reports)
    if accepted is not None:
        from dslint.baseline import apply

        report = apply(report, accepted, source=f"baseline {baseline}", whole=since is None)
    if since is not None:
        report = since.filter(report)
    return report
