"""``dslint stats``: examples, token distribution, billed tokens, epochs and cost per file.

:func:`collect` loads the files (no rules run), counts tokens with each file's target and
returns a :class:`Stats`; :meth:`Stats.to_dict` is the JSON shape and :func:`render_text` the
readable table. Other features add per-file figures by appending a provider to
:data:`EXTRA_FILE_STATS` (a function of the dataset and the file returning a dict that is
merged into the file's entry).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dslint import models
from dslint.textutil import plural
from dslint.tokens.counting import count, count_with

if TYPE_CHECKING:
    from dslint.dataset import Dataset
    from dslint.loader import FileInfo

#: Extra per-file figures: each provider's dict is merged into the file's JSON entry (and
#: shown under the table). The duplicates family adds its shares here.
ExtraStats = Callable[["Dataset", "FileInfo"], Mapping[str, Any]]


def duplicate_shares(dataset: Dataset, info: FileInfo) -> Mapping[str, Any]:
    """The share of the file's examples that are extra exact copies or near-duplicates."""
    from dslint.rules.duplicates import shares

    by_path = dataset.cache.get("stats.duplicate_shares")
    if by_path is None:
        by_path = dataset.cache["stats.duplicate_shares"] = shares(dataset)
    found = by_path.get(info.path, {"exact_duplicates": 0.0, "near_duplicates": 0.0})
    return {"duplicates": {k: round(float(v), 4) for k, v in found.items()}}


EXTRA_FILE_STATS: list[ExtraStats] = [duplicate_shares]

DISTRIBUTION_KEYS = ("total", "min", "p5", "median", "mean", "p95", "max")


def default_epochs(examples: int) -> int:
    """The number of epochs the API picks when none is set (OpenAI cookbook's heuristic)."""
    rule = models.counting()["epochs"]
    epochs = int(rule["default"])
    if examples <= 0:
        return epochs
    if examples * epochs < rule["min_target_examples"]:
        return int(min(rule["max_default_epochs"], rule["min_target_examples"] // examples))
    if examples * epochs > rule["max_target_examples"]:
        return int(max(1, rule["max_target_examples"] // examples))
    return epochs


def distribution(values: np.ndarray[Any, Any]) -> dict[str, int | float] | None:
    if values.size == 0:
        return None
    p5, median, p95 = np.percentile(values, [5, 50, 95])
    return {
        "total": int(values.sum()),
        "min": int(values.min()),
        "p5": round(float(p5), 1),
        "median": round(float(median), 1),
        "mean": round(float(values.mean()), 1),
        "p95": round(float(p95), 1),
        "max": int(values.max()),
    }


def training_cost(target: models.Target, billed: int, epochs: int) -> float | None:
    """Estimated training cost in USD, or None when the model is not priced per token."""
    if target.training_per_million is None:
        return None
    return round(target.training_per_million * billed * epochs / 1_000_000, 2)


@dataclass
class Stats:
    files: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files}


def _model_costs(
    dataset: Dataset, info: FileInfo, examples: int, custom: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Billed tokens and cost of this file for every model that accepts its format."""
    epochs = default_epochs(examples)
    rows = []
    for target in models.known_models(custom).values():
        if info.format not in target.formats:
            continue
        counts = count_with(dataset, {info.path: target.encoding})
        tokens = _file_values(dataset, info, counts.records["tokens"])
        billed = int(np.minimum(tokens, target.max_tokens).sum())
        rows.append(
            {
                "model": target.name,
                "encoding": target.encoding,
                "max_tokens": target.max_tokens,
                "over_limit": int((tokens > target.max_tokens).sum()),
                "billed_tokens": billed,
                "epochs": epochs,
                "estimated_cost_usd": training_cost(target, billed, epochs),
            }
        )
    return rows


def _file_values(dataset: Dataset, info: FileInfo, column: Any) -> np.ndarray[Any, Any]:
    in_file = (dataset.records["path"] == info.path).to_numpy()
    values = column[in_file]
    return np.asarray(values[values.notna()].to_numpy(dtype="int64"))


def file_stats(
    dataset: Dataset,
    info: FileInfo,
    *,
    all_models: bool = False,
    custom: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One file's entry of ``dslint stats --format json``."""
    counts = count(dataset)
    records = dataset.records
    target = info.target
    tokens = _file_values(dataset, info, records["tokens"]) if "tokens" in records else None
    entry: dict[str, Any] = {
        "path": info.path,
        "split": info.split,
        "format": info.format,
        "model": target.name if target else None,
        "encoding": target.encoding if target else None,
        "max_tokens": target.max_tokens if target else None,
        "examples": info.examples,
    }
    if target is None or tokens is None or tokens.size == 0:
        entry.update(messages=0, tokens=None, assistant_tokens=None, billed_tokens=None,
                     epochs=None, estimated_cost_usd=None)  # fmt: skip
    else:
        assistant = _file_values(dataset, info, records["assistant_tokens"])
        billed = int(np.minimum(tokens, target.max_tokens).sum())
        training = info.split == "train"
        epochs = default_epochs(int(tokens.size))
        entry.update(
            messages=_message_count(dataset, info),
            tokens=distribution(tokens),
            assistant_tokens=distribution(assistant),
            over_limit=int((tokens > target.max_tokens).sum()),
            billed_tokens=billed,
            # Validation examples are not charged; they get no epochs or cost.
            epochs=epochs if training else None,
            estimated_cost_usd=training_cost(target, billed, epochs) if training else None,
            training_per_million=target.training_per_million,
            training_per_hour=target.training_per_hour,
            inference_per_million={
                "input": target.inference_input_per_million,
                "output": target.inference_output_per_million,
            },
        )
        estimated = counts.estimated_images.get(info.path, 0)
        if estimated and counts.image_prices is not None:
            entry["images_estimated"] = {
                "images": estimated,
                "assumed_size": counts.image_prices.assumed_size,
                "tokens_each": counts.image_prices.estimated,
            }
        if all_models and training:
            entry["models"] = _model_costs(dataset, info, int(tokens.size), custom or {})
    for provider in EXTRA_FILE_STATS:
        entry.update(provider(dataset, info))
    return entry


def _message_count(dataset: Dataset, info: FileInfo) -> int:
    messages = dataset.messages
    in_file = messages["record"].isin(dataset.records.index[dataset.records["path"] == info.path])
    counted = in_file & messages["tokens"].notna()
    keys = messages.loc[counted, ["record", "section", "message"]]
    return len(keys.drop_duplicates())


def collect(
    paths: Sequence[str | Path],
    *,
    config: str | Path | None = None,
    model: str | None = None,
    validation: Sequence[str | Path] | None = None,
    all_models: bool = False,
    combine_files: bool | None = None,
    today: dt.date | None = None,
) -> Stats:
    """Load the files (no rules run) and compute their statistics."""
    from dslint.api import configs_for, training_inputs, validation_files
    from dslint.engine import Engine
    from dslint.loader import resolve_paths

    files = resolve_paths([str(p) for p in paths])
    given_validation = resolve_paths([str(p) for p in validation]) if validation else []
    stats = Stats()
    for base, group in configs_for(files, config):
        effective = base.with_overrides(
            model=model, select=(), extend_select=(), combine_files=combine_files
        )
        # A validation file among the inputs is one, not a training file (as in api.check);
        # training files read only as its context are not listed.
        training, context = training_inputs(effective, group, given_validation)
        group = [*training, *context]
        hidden = {path.resolve() for path in context}
        extra = validation_files(effective, group, given_validation)
        report = Engine(effective, today=today).run(group, validation=extra)
        custom = {k: dict(v) for k, v in effective.models.items()}
        seen = {entry["path"] for entry in stats.files}
        for dataset in report.datasets:
            for info in dataset.files:
                # A validation file shared by several training files is in each of their
                # datasets; list it once.
                if info.path not in seen and info.real_path.resolve() not in hidden:
                    seen.add(info.path)
                    stats.files.append(
                        file_stats(dataset, info, all_models=all_models, custom=custom)
                    )
        given_validation = []
    return stats


# -- text -----------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def render_text(stats: Stats) -> str:
    lines: list[str] = []
    for entry in stats.files:
        lines.extend(_file_text(entry))
        lines.append("")
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        indent
        + "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]


def _file_text(entry: Mapping[str, Any]) -> list[str]:
    split = " (validation)" if entry["split"] == "validation" else ""
    lines = [f"{entry['path']}{split}"]
    if entry["tokens"] is None:
        lines.append(
            f"  {plural(entry['examples'], 'example')} in {entry['format']} format: "
            "no tokens counted"
        )
        return lines
    lines.append(
        f"  {plural(entry['examples'], 'example')}, {plural(entry['messages'], 'message')}; "
        f"target {entry['model']} ({entry['encoding']}, limit {entry['max_tokens']:,} tokens "
        "per example)"
    )
    rows = [
        [label, *(_number(entry[key][k]) for k in DISTRIBUTION_KEYS)]
        for label, key in (
            ("tokens per example", "tokens"),
            ("assistant tokens", "assistant_tokens"),
        )
    ]
    lines.extend(_table(["", *DISTRIBUTION_KEYS], rows))
    over = entry.get("over_limit", 0)
    over_text = (
        f" ({over:,} examples over the limit count as {entry['max_tokens']:,})" if over else ""
    )
    lines.append(f"  billed tokens: {entry['billed_tokens']:,}{over_text}")
    if entry["split"] == "validation":
        lines.append("  validation examples are not charged")
    elif entry["estimated_cost_usd"] is not None:
        lines.append(
            f"  estimated training cost: {_money(entry['estimated_cost_usd'])} "
            f"({entry['billed_tokens']:,} x {entry['epochs']} epochs at "
            f"${entry['training_per_million']:,.2f} per 1M tokens; default epochs)"
        )
    elif entry.get("training_per_hour") is not None:
        lines.append(
            f"  training is billed per hour (${entry['training_per_hour']:,.2f}), "
            "not per token: no estimate"
        )
    prices = entry.get("inference_per_million") or {}
    if prices.get("input") is not None:
        lines.append(
            f"  using the fine-tuned model: ${prices['input']:,.2f} per 1M input tokens, "
            f"${prices['output']:,.2f} per 1M output tokens"
        )
    images = entry.get("images_estimated")
    if images:
        lines.append(
            f"  {images['images']:,} high/auto-detail images estimated at "
            f"{images['tokens_each']:,} tokens each (assumed {images['assumed_size']}; "
            "the images are not fetched)"
        )
    if entry.get("models"):
        rows = [
            [m["model"], m["encoding"], _number(m["max_tokens"]), _number(m["over_limit"]),
             _number(m["billed_tokens"]), str(m["epochs"]), _money(m["estimated_cost_usd"])]
            for m in entry["models"]
        ]  # fmt: skip
        lines.append("  every model that accepts this format:")
        lines.extend(
            _table(["model", "encoding", "limit", "over", "billed", "epochs", "cost"], rows, "    ")
        )
    known = {*DISTRIBUTION_KEYS, "path", "split", "format", "model", "encoding", "max_tokens",
             "examples", "messages", "tokens", "assistant_tokens", "over_limit", "billed_tokens",
             "epochs", "estimated_cost_usd", "training_per_million", "training_per_hour",
             "inference_per_million", "images_estimated", "models"}  # fmt: skip
    duplicates = entry.get("duplicates")
    if duplicates:
        lines.append(
            f"  duplicates: {duplicates['exact_duplicates']:.1%} exact copies, "
            f"{duplicates['near_duplicates']:.1%} near-duplicates (extra copies only)"
        )
    known.add("duplicates")
    for key, value in entry.items():
        if key not in known:
            lines.append(f"  {key.replace('_', ' ')}: {value}")
    return lines
