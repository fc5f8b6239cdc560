"""The command line. It parses options, calls the API and hands the report to reporters.

It computes nothing itself. Every error a user can fix ends as one line on stderr and exit 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from dslint import __version__

FORMATS = ("text", "json", "sarif", "html", "github", "markdown")
EXTENSIONS = {
    ".txt": "text", ".json": "json", ".sarif": "sarif", ".html": "html", ".htm": "html",
    ".md": "markdown", ".markdown": "markdown",
}  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    click.echo(f"dslint: error: {message}", err=True)
    sys.exit(2)


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _color(stream: Any) -> bool:
    return not os.environ.get("NO_COLOR") and _is_tty(stream)


class Progress:
    """One self-overwriting status line on stderr for runs longer than about two seconds.

    Only on a terminal, and never under CI, GitHub Actions or pre-commit (where a status
    line would end up in logs), nor with --quiet.
    """

    DELAY = 2.0

    @staticmethod
    def stream() -> Any:
        return sys.stderr

    def __init__(self, enabled: bool) -> None:
        import time

        quiet_env = any(os.environ.get(name) for name in ("CI", "GITHUB_ACTIONS", "PRE_COMMIT"))
        self.enabled = enabled and not quiet_env and _is_tty(self.stream())
        self.start = time.monotonic()
        self.shown = False

    def show(self, message: str) -> None:
        import time

        if self.enabled and time.monotonic() - self.start >= self.DELAY:
            stream = self.stream()
            stream.write(f"\r\x1b[Kdslint: {message[:100]}")
            stream.flush()
            self.shown = True

    def announce(self, message: str) -> None:
        """A one-off notice (what is about to be sent where): always shown, on its own line."""
        self.clear()
        click.echo(f"dslint: {message}", err=True)

    def clear(self) -> None:
        if self.shown:
            self.stream().write("\r\x1b[K")
            self.stream().flush()
            self.shown = False


def _is_tty(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def run_guarded(action: Callable[[], int], debug: bool) -> NoReturn:
    """Run a command body; known errors become one line and exit 2, never a traceback."""
    from dslint.api import DslintError

    try:
        code = action()
    except DslintError as exc:
        if debug:
            raise
        fail(str(exc))
    except KeyboardInterrupt:
        click.echo("dslint: interrupted", err=True)
        sys.exit(130)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # an internal error still must not dump a traceback on users
        # BaseException, not Exception: a panic inside a Rust extension (tiktoken, pyarrow)
        # arrives as pyo3's PanicException, which derives from BaseException.
        if debug:
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
    sys.exit(code)


def common_check_options(function: F) -> F:
    options = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="Config file (default: the nearest dslint.toml or pyproject.toml)."),
        click.option("--model", help="Target model, alias or ft: id (default: per file format)."),
        click.option("--select", multiple=True, help="Only these rule codes, prefixes or names."),
        click.option("--extend-select", multiple=True, help="Rules to add to the default set."),
        click.option("--ignore", multiple=True, help="Rule codes, prefixes or names to skip."),
        click.option("--validation", "validation", multiple=True, type=click.Path(),
                     help="Validation file(s), checked too and compared with the training data."),
        click.option("--combine-files", is_flag=True, default=None,
                     help="Treat all inputs as shards of one dataset (compare across files)."),
        click.option("--today", hidden=True, help="Pretend today is this date (YYYY-MM-DD)."),
        click.option("--debug", is_flag=True, help="Show tracebacks for internal errors."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


def _today(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--today: not a date: {value!r}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dslint")
def cli() -> None:
    """dslint: lint fine-tuning datasets for chat models before you upload them."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    help="Format on stdout (default: text; github under GitHub Actions).",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Also write a report to FILE; the format comes from its extension. Repeatable.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    help="Exit 1 when a finding is at or above this severity (default: error).",
)
@click.option("--exit-zero", is_flag=True, help="Always exit 0 unless dslint itself fails.")
@click.option("-q", "--quiet", is_flag=True, help="Print only findings, no summary or notes.")
@click.option("--no-samples", is_flag=True, help="HTML: aggregates only, no dataset text.")
@click.option(
    "--moderation",
    type=click.Choice(["openai", "none"]),
    help="Send message texts to OpenAI's moderation endpoint (needs OPENAI_API_KEY).",
)
@click.option(
    "--review",
    type=click.Choice(["none", "llm"]),
    help="LLM review of replies against your guidelines (sends them to a chat model).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    metavar="N",
    help="LLM review: only the replies of N examples (a fixed, seeded choice).",
)
@click.option(
    "-y",
    "--yes",
    "assume_yes",
    is_flag=True,
    help="Send a paid remote pass without asking, even above its limit.",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False),
    help="Report only findings not in this baseline (see 'dslint baseline').",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Report only on records added or changed since this git revision.",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write .dslint_cache/.")
@common_check_options
def check(paths: tuple[str, ...], output_format: str | None, outputs: tuple[str, ...],
          fail_on: str | None, exit_zero: bool, quiet: bool, no_samples: bool,
          moderation: str | None, review: str | None, sample: int | None, assume_yes: bool,
          baseline_file: str | None, changed_since: str | None, no_cache: bool,
          config_file: str | None, model: str | None, select: tuple[str, ...],
          extend_select: tuple[str, ...], ignore: tuple[str, ...], validation: tuple[str, ...],
          combine_files: bool | None,
          today: str | None, debug: bool) -> None:  # fmt: skip
    """Check PATHS (files, folders or globs) and report what the APIs would reject."""

    progress = Progress(enabled=not quiet)

    def action() -> int:
        from dslint.api import check as run_check
        from dslint.registry import load_reporter

        targets = []
        for out in outputs:
            fmt = EXTENSIONS.get(Path(out).suffix.lower())
            if fmt is None:
                fail(f"-o {out}: cannot tell the format from the extension "
                     f"(use one of {', '.join(sorted(EXTENSIONS))})")  # fmt: skip
            targets.append((fmt, out))
        named_inputs = [*paths, *validation, *(p for p in (baseline_file, config_file) if p)]
        refuse_overwriting(targets, named_inputs)
        stdout_format = output_format or ("github" if os.environ.get("GITHUB_ACTIONS") else "text")
        runs: list[tuple[str, str | None]] = [(stdout_format, None), *targets]
        reporters = [load_reporter(fmt) for fmt, _ in runs]
        # Frames are built, and an unchanged earlier run cannot stand in, only for a format
        # that draws from the datasets.
        shows_datasets = any(r.reads_datasets for r in reporters)
        report = run_check(
            paths,
            config=config_file,
            model=model,
            select=_split(select) or None,
            extend_select=_split(extend_select),
            ignore=_split(ignore),
            fail_on=fail_on,
            validation=list(validation),
            combine_files=combine_files,
            today=_today(today),
            moderation=moderation,
            announce=progress.announce,
            progress=progress.show,
            review=review,
            sample=sample,
            confirm=_confirm_remote(assume_yes),
            baseline=baseline_file,
            changed_since=changed_since,
            cache=not no_cache,
            reuse=not shows_datasets,
            rule_table=any(r.reads_rules for r in reporters),
            datasets=shows_datasets,
        )
        progress.clear()
        refuse_overwriting(targets, [f.path for f in report.files])  # folders and globs, read
        report = note_limits(report, [fmt for fmt, _ in runs])
        for fmt, destination in runs:
            render(report, fmt, destination, quiet=quiet, samples=not no_samples)
        return 0 if exit_zero else report.exit_code(fail_on)

    run_guarded(action, debug)


def refuse_overwriting(targets: Sequence[tuple[str, str]], inputs: Sequence[str]) -> None:
    """Exit 2 when an ``-o`` file is one of the check's inputs (a dataset named ``.json``,
    the baseline, the config): the report would replace it."""
    for _, destination in targets:
        if not os.path.exists(destination):
            continue
        for name in inputs:
            try:
                same = os.path.samefile(destination, name)
            except OSError:
                continue
            if same:
                fail(f"-o {destination} is {name}, an input of this check: the report would "
                     "replace it; choose another path")  # fmt: skip


def note_limits(report: Any, formats: Sequence[str]) -> Any:
    """Add a note, seen in every output of the run, when a format cannot hold every finding."""
    import dataclasses

    from dslint.registry import load_reporter

    notes = []
    for fmt in dict.fromkeys(formats):
        reporter_class = load_reporter(fmt)
        limit = getattr(reporter_class, "max_findings", None)
        if limit is not None and len(report.findings) > limit:
            reason = getattr(reporter_class, "max_findings_reason", "")
            notes.append(
                f"the {fmt} report keeps the {limit:,} most severe of {len(report.findings):,} "
                f"findings{f' ({reason})' if reason else ''}; the text and json formats list all"
            )
    return dataclasses.replace(report, notes=(*report.notes, *notes)) if notes else report


def interactive() -> bool:
    """Can we ask a person? Never in CI or under pre-commit, never without a terminal."""
    if any(os.environ.get(name) for name in ("CI", "GITHUB_ACTIONS", "PRE_COMMIT")):
        return False
    return sys.stdin.isatty() and sys.stderr.isatty()


def _confirm_remote(assume_yes: bool) -> Callable[[Any], bool]:
    """Show a remote pass's plan (requests, tokens, cost) on stderr; ask above its limit."""

    def confirm(plan: Any) -> bool:
        click.echo(plan.describe(), err=True)
        if assume_yes or not plan.needs_confirmation:
            return True
        if not interactive():
            fail(plan.refusal())
        return click.confirm("Send it?", default=False, err=True)

    return confirm


@cli.command("baseline")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    default=".dslint-baseline.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the baseline.",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write .dslint_cache/.")
@common_check_options
def baseline_command(paths: tuple[str, ...], output: str, no_cache: bool,
                     config_file: str | None, model: str | None, select: tuple[str, ...],
                     extend_select: tuple[str, ...], ignore: tuple[str, ...],
                     validation: tuple[str, ...], combine_files: bool | None,
                     today: str | None, debug: bool) -> None:  # fmt: skip
    """Record today's findings in PATHS so that 'check --baseline' reports only new ones."""

    def action() -> int:
        from dslint.api import check as run_check
        from dslint.baseline import Baseline, BaselineError, written_by_dslint
        from dslint.textutil import first_few, plural

        report = run_check(
            paths,
            config=config_file,
            model=model,
            select=_split(select) or None,
            extend_select=_split(extend_select),
            ignore=_split(ignore),
            validation=list(validation),
            combine_files=combine_files,
            today=_today(today),
            cache=not no_cache,
            reuse=True,  # a baseline is made of findings alone
            rule_table=False,
            datasets=False,
        )
        accepted = Baseline.from_findings(report.findings)
        kept: list[str] = []
        if Path(output).exists():
            try:
                previous = Baseline.load(output)
            except BaselineError as error:
                if not written_by_dslint(output):  # never overwrite what may be the user's data
                    raise BaselineError(
                        f"{output} exists and is not a dslint baseline; remove it or choose "
                        "another -o"
                    ) from None
                click.echo(f"dslint: {error}; writing a new one", err=True)
            else:
                accepted, kept = accepted.keeping(previous, (f.path for f in report.files))
        accepted.write(output)
        message = f"Wrote {output}: {plural(accepted.total, 'finding')} in "
        if kept:
            checked = len(report.files)
            message += (f"{plural(checked + len(kept), 'file')} ({plural(checked, 'file')} "
                        f"checked now; the entries of {first_few(kept)}, not checked, "
                        "kept).")  # fmt: skip
        else:
            message += f"{plural(len(report.files), 'file')}."
        click.echo(message, err=True)
        from dslint.reporters.locations import repository_root

        root = repository_root()
        if (root / ".git").exists() and root != Path.cwd().resolve():
            # pre-commit and CI run from the root: their paths would not be these.
            click.echo(f"note: the paths are recorded relative to {Path.cwd().resolve()}, not "
                       f"the repository root {root}; pre-commit and CI check from the root, so "
                       "run 'dslint baseline' there", err=True)  # fmt: skip
        return 0

    run_guarded(action, debug)


def render(report: Any, fmt: str, destination: str | None, *, quiet: bool, samples: bool) -> None:
    from dslint.registry import load_reporter

    reporter_class = load_reporter(fmt)
    limit = getattr(reporter_class, "max_findings", None)
    if limit is not None:
        report = report.limited(limit)
    stream = sys.stdout
    reporter = reporter_class(color=destination is None and _color(stream), samples=samples)
    if fmt == "text" and quiet:
        output = "".join(reporter.line(f) + "\n" for f in report.findings)
    else:
        output = reporter.render(report)
    if destination is None:
        # Colour was decided above (TTY, NO_COLOR); tell click not to second-guess it.
        click.echo(output, nl=False, color=reporter.color)
        return
    try:
        Path(destination).write_text(output, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {destination}: {exc.strerror or exc}")


@cli.command("stats")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option("--all-models", is_flag=True, help="Also show billed tokens and cost per model.")
@common_check_options
def stats_command(paths: tuple[str, ...], output_format: str, all_models: bool,
                  config_file: str | None, model: str | None, select: tuple[str, ...],
                  extend_select: tuple[str, ...], ignore: tuple[str, ...],
                  validation: tuple[str, ...], combine_files: bool | None, today: str | None,
                  debug: bool) -> None:  # fmt: skip
    """Token statistics, billed tokens, epochs and estimated cost for PATHS."""

    def action() -> int:
        import json

        from dslint import stats

        result = stats.collect(paths, config=config_file, model=model,
                               validation=list(validation), all_models=all_models,
                               combine_files=combine_files, today=_today(today))  # fmt: skip
        if output_format == "json":
            click.echo(json.dumps(result.to_dict(), indent=2))
        else:
            click.echo(stats.render_text(result), nl=False)
        return 0

    run_guarded(action, debug)


@cli.command("rules")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--debug", is_flag=True, hidden=True)
def rules_command(output_format: str, debug: bool) -> None:
    """List every rule: code, name, category, default severity, default on/off, summary."""

    def action() -> int:
        from dslint import docs

        click.echo(docs.render_rules(output_format), nl=False)
        return 0

    run_guarded(action, debug)


@cli.command("rule")
@click.argument("code")
@click.option("--debug", is_flag=True, hidden=True)
def rule_command(code: str, debug: bool) -> None:
    """Show the documentation of one rule, by code or name."""

    def action() -> int:
        from dslint import docs
        from dslint.registry import rule_by_code

        rule = rule_by_code(code)
        if rule is None:
            fail(f"no rule {code!r} (see 'dslint rules')")
        click.echo(docs.rule_page(rule, heading_level=1))
        return 0

    run_guarded(action, debug)


@cli.command("fix")
@click.argument("path")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the fixed copy here (plain JSONL).",
)
@click.option("--in-place", is_flag=True, help="Replace PATH, keeping the original as a backup.")
@click.option(
    "--backup-suffix",
    default=".bak",
    show_default=True,
    help="With --in-place: the backup is PATH plus this suffix.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Where rejected lines go (default: OUTPUT with .rejects before .jsonl).",
)
@click.option(
    "--drop",
    multiple=True,
    metavar="CATEGORY",
    help="Also move examples with findings of these categories to the rejects file "
    "(repeat or separate with commas: moderation,privacy,duplicates).",
)
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False),
    help="Also write the change log to this file.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Config for --drop's check (default: the nearest one).",
)
@click.option("--model", help="Target model for --drop's check.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary, not the change log.")
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
def fix_command(path: str, output: str | None, in_place: bool, backup_suffix: str,
                rejects: str | None, drop: tuple[str, ...], log_file: str | None,
                config_file: str | None, model: str | None, quiet: bool,
                debug: bool) -> None:  # fmt: skip
    """Write a copy of PATH with only safe, explained fixes; print the change log.

    Unparseable lines move to a rejects file with the reasons, blank lines go, line ends
    become LF, whitespace around message contents is stripped, exact duplicates are removed
    (the first is kept) and old DPO keys are renamed. Everything else stays byte for byte.
    """

    def action() -> int:
        from dslint.fix import fix
        from dslint.textutil import safe

        result = fix(path, output, in_place=in_place, backup_suffix=backup_suffix,
                     rejects=rejects, drop=drop, config=config_file, model=model,
                     log=log_file)  # fmt: skip
        log = result.log_lines() + [f"note: {safe(note)}" for note in result.notes]
        # The log goes to stdout (the fixed data goes to a file), so it can be piped or saved.
        for line in [] if quiet else log:
            click.echo(line)
        click.echo(result.summary())
        if log_file:
            try:
                Path(log_file).write_text("\n".join([*log, result.summary()]) + "\n",
                                          encoding="utf-8")  # fmt: skip
            except OSError as exc:
                fail(f"cannot write {log_file}: {exc.strerror or exc}")
        return 0

    run_guarded(action, debug)


def main() -> NoReturn:
    """The ``dslint`` command. From Python, call :data:`cli` (or :func:`dslint.check`).

    The process ends with ``os._exit`` once other threads have finished, the exit handlers
    have run and the output is flushed: the interpreter's own teardown (freeing the modules
    of pandas, numpy and pyarrow one by one) took about 0.1 s of a 0.6 s pre-commit run, for
    nothing the end of the process does not do anyway.
    """
    try:
        cli(prog_name="dslint")
        status = 0
    except SystemExit as done:
        status = _exit_status(done.code)
    _finish(status)


def _exit_status(code: object) -> int:
    """What ``sys.exit(code)`` would end the process with (a message is printed)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finish(status: int) -> NoReturn:
    import atexit
    import contextlib
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is not None:
        run_handlers()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (dslint check | head) takes nothing more.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
