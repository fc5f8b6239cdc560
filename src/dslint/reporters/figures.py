"""Dataset figures the HTML and markdown reports show: tokens, cost, turns and roles.

They are read from the frames the run already built, never recomputed from text. Token
figures appear when the records frame has a per-example ``tokens`` column (and
``assistant_tokens`` for the trained-on part); without it the reports leave them out.

Cost follows REFERENCE.md §2: price per 1M tokens x billed tokens x epochs, validation files
not charged. Each example is billed up to the model's limit (longer ones are truncated). The
epoch count is the API's automatic default for the number of training examples, as OpenAI
describes it in its fine-tuning data-preparation cookbook: 3, raised so that examples x epochs
reaches 100 and lowered so that it stays under 25,000, within 1-25. ``estimate_cost`` is the
one place to swap for a shared implementation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from dslint.models import Target
    from dslint.report import Report


@dataclass(frozen=True)
class Cost:
    dollars: float
    epochs: int
    billed_tokens: int  # per epoch, training files only
    models: tuple[str, ...]


@dataclass(frozen=True)
class TokenFigures:
    per_example: tuple[int, ...]  # every example with a count, training and validation
    total: int
    assistant_total: int | None
    limit: int | None  # the smallest limit among the files' target models
    limit_model: str | None
    over_limit: int
    cost: Cost | None


@dataclass(frozen=True)
class ShapeFigures:
    """How examples are built: turns per example and messages per role."""

    turns: Counter[int] = field(default_factory=Counter)
    roles: Counter[str] = field(default_factory=Counter)


def default_epochs(examples: int) -> int:
    """The API's default number of epochs (the heuristic lives with the stats, in one place)."""
    from dslint.stats import default_epochs as from_stats

    return from_stats(examples)


def _target(name: str | None) -> Target | None:
    from dslint.models import UnknownModelError, resolve

    if not name:
        return None
    try:
        return resolve(name)
    except UnknownModelError:  # a model from the user's config: its limits are not known here
        return None


def _token_rows(report: Report) -> pd.DataFrame | None:
    import pandas as pd

    frames = [d.records for d in report.datasets if "tokens" in d.records.columns]
    if not frames:
        return None
    columns = ["path", "split", "tokens"]
    if all("assistant_tokens" in f.columns for f in frames):
        columns.append("assistant_tokens")
    combined = pd.concat([f[columns] for f in frames], ignore_index=True)
    rows: pd.DataFrame = combined.assign(
        tokens=pd.to_numeric(combined["tokens"], errors="coerce"),
        path=combined["path"].astype(str),
        split=combined["split"].astype(str),
    )
    selected: pd.DataFrame = rows[rows["tokens"].notna()]
    return selected


def estimate_cost(report: Report, rows: pd.DataFrame) -> Cost | None:
    """Training cost of the training files, or None when a file's price is unknown."""
    billed = 0
    dollars = 0.0
    epochs = default_epochs(sum(f.examples for f in report.files if f.split == "train"))
    models: list[str] = []
    for file in report.files:
        if file.split != "train":
            continue
        target = _target(file.model)
        if target is None or target.training_per_million is None:
            return None
        tokens = rows.loc[rows["path"] == file.path, "tokens"].clip(upper=target.max_tokens)
        file_tokens = int(tokens.sum())
        billed += file_tokens
        dollars += file_tokens * epochs * target.training_per_million / 1_000_000
        models.append(target.name)
    if not models:
        return None
    return Cost(dollars, epochs, billed, tuple(dict.fromkeys(models)))


def token_figures(report: Report) -> TokenFigures | None:
    rows = _token_rows(report)
    if rows is None or rows.empty:
        return None
    limits = [
        (t.max_tokens, t.name)
        for t in (_target(f.model) for f in report.files)
        if t is not None and t.max_tokens
    ]
    limit, limit_model = min(limits) if limits else (None, None)
    per_example = tuple(int(v) for v in rows["tokens"])
    assistant = (
        int(pd_sum(rows["assistant_tokens"])) if "assistant_tokens" in rows.columns else None
    )
    return TokenFigures(
        per_example=per_example,
        total=int(rows["tokens"].sum()),
        assistant_total=assistant,
        limit=limit,
        limit_model=limit_model,
        over_limit=sum(1 for v in per_example if limit is not None and v > limit),
        cost=estimate_cost(report, rows),
    )


def pd_sum(column: pd.Series) -> float:
    import pandas as pd

    return float(pd.to_numeric(column, errors="coerce").fillna(0).sum())


def shape_figures(report: Report) -> ShapeFigures:
    figures = ShapeFigures()
    for dataset in report.datasets:
        messages = dataset.messages
        if messages.empty:
            continue
        # One row per text piece: count each message once, by (record, section, index).
        distinct = messages.drop_duplicates(["record", "section", "message"])
        per_record = distinct.groupby("record").size()
        figures.turns.update(Counter(int(n) for n in per_record))
        roles = distinct["role"].astype(object).fillna("(none)").astype(str)
        figures.roles.update(Counter(roles))
    return figures
