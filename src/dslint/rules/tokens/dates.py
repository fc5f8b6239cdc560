"""The target model's dates: fine-tuning wind-down and shutdown (T005)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dslint.finding import Category, Hit, Severity
from dslint.loader import FileInfo
from dslint.rule import FileRule

PROVIDER_NAMES = {"openai": "OpenAI"}


@dataclass(frozen=True)
class WindDownOptions:
    #: Days before the last day for new jobs when a run-level note starts to mention it.
    notice_days: int = 90


class NoNewJobs(FileRule):
    """The target model no longer accepts new fine-tuning jobs (or was shut down).

    OpenAI is winding down self-serve fine-tuning: no new jobs for anyone after 2027-01-06
    (OpenAI deprecations page, 2026-05-07); a model that was shut down accepts none either.
    The dates come from the model table (``rules/models.toml``). The same JSONL files remain
    the input of Azure OpenAI / Foundry, Together, Fireworks and open-weights trainers:
    choose one of those with ``--model`` (or your own model in ``[tool.dslint.models]``).

    This is an error when you named the model, and a warning when dslint chose the default
    target for the file's format. Within ``notice_days`` before the last day, the run prints
    a note instead.
    """

    code = "T005"
    name = "no-new-fine-tuning-jobs"
    category = Category.TOKENS
    severity = Severity.ERROR
    options_type = WindDownOptions

    def check(self, file: FileInfo) -> Iterator[Hit]:
        target = file.target
        if target is None:
            return
        today = self.context.today
        provider = PROVIDER_NAMES.get(target.provider, target.provider)
        severity = None if self.context.model_given else Severity.WARNING
        chosen = "" if self.context.model_given else " (the default target for this format)"
        shutdown = target.date("shutdown")
        if shutdown is not None and shutdown <= today:
            yield Hit(
                f"{target.name}{chosen} was shut down on {shutdown.isoformat()}: it cannot be "
                "fine-tuned; choose a current model with --model",
                severity=severity,
            )
            return
        last_day = target.date("new_jobs_until")
        if last_day is None:
            return
        if last_day < today:
            yield Hit(
                f"{provider} accepts no new fine-tuning jobs for {target.name}{chosen} "
                f"after {last_day.isoformat()}; target another provider or your own model "
                "with --model",
                severity=severity,
            )
        elif (last_day - today).days <= self.options.notice_days:
            days = (last_day - today).days
            self.context.notes.append(
                f"{provider} accepts no new fine-tuning jobs after {last_day.isoformat()} "
                f"({days} day{'s' if days != 1 else ''} from today)"
            )


RULES = [NoNewJobs]
