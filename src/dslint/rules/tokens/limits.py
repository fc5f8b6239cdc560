"""Examples against the target model's token limit (T001-T004)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from dslint.config import ConfigError
from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.fingerprint import text_digest
from dslint.rule import DatasetRule
from dslint.textutil import plural
from dslint.tokens.counting import count

# The pointer of a whole message, from the pointer of one of its text pieces.
_MESSAGE_POINTER = re.compile(r"^(.*?/\d+)(?:/content.*)?$")


def _limits(dataset: Dataset) -> pd.Series:
    """Each record's token limit (its file's target), missing where no target applies."""
    by_path = {f.path: f.target.max_tokens for f in dataset.files if f.target is not None}
    limits: pd.Series = dataset.records["path"].astype(object).map(by_path).astype("Int64")
    return limits


def _counted(dataset: Dataset) -> pd.DataFrame:
    """Records with a count and a limit, with both as columns."""
    count(dataset)
    frame = dataset.records[["path", "tokens", "assistant_tokens", "tool_tokens", "tools"]].copy()
    frame["limit"] = _limits(dataset)
    selected: pd.DataFrame = frame[frame["tokens"].notna() & frame["limit"].notna()]
    return selected


def _target_name(dataset: Dataset, path: str) -> str:
    info = dataset.file(path)
    return info.target.name if info is not None and info.target is not None else "the target"


def _message_pointer(pointer: str) -> str:
    match = _MESSAGE_POINTER.match(pointer)
    return match.group(1) if match else pointer


class OverLimit(DatasetRule):
    """An example has more tokens than the target model accepts per training example.

    The API truncates such an example **from the end**, so the assistant answer (what the
    model is meant to learn) is what gets cut, silently. The finding says by how many tokens
    the example is over and how many assistant tokens truncation would remove. Shorten the
    example, split a long conversation into several examples, or choose a model with a larger
    limit (``--model``). Counts are exact for text (tiktoken, the target's encoding); see
    ``docs/tokens.md`` for what is estimated (images).
    """

    code = "T001"
    name = "over-token-limit"
    category = Category.TOKENS
    splits_over_cores = True  # the counting (dslint.tokens.counting)
    severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        frame = _counted(dataset)
        over = frame[frame["tokens"] > frame["limit"]]
        if over.empty:
            return
        cut = _assistant_tokens_cut(dataset, over)
        for record, row in over.iterrows():
            tokens, limit = int(row["tokens"]), int(row["limit"])
            removed = cut.get(record, 0)
            consequence = (
                f"truncation at the end would cut {plural(removed, 'assistant token')}"
                if removed
                else "no assistant token would be cut, but the end of the example would"
            )
            yield Hit(
                f"example has {tokens:,} tokens, {tokens - limit:,} over the limit of "
                f"{limit:,} for {_target_name(dataset, str(row['path']))}; {consequence}",
                record=int(str(record)),
            )


def _assistant_tokens_cut(dataset: Dataset, over: pd.DataFrame) -> dict[object, int]:
    """Per record over its limit: assistant tokens (content, tool calls) beyond the limit."""
    counts = count(dataset)
    messages = dataset.messages
    selected = (messages["record"].isin(over.index) & (messages["role"] == "assistant")).to_numpy(
        dtype=bool, na_value=False
    )
    if not selected.any():
        return {}
    records = messages["record"].to_numpy()[selected]
    limit = over["limit"].reindex(records).to_numpy(dtype="int64")
    end = counts.message_end[selected].to_numpy(dtype="int64")
    start = end - counts.message_tokens[selected].to_numpy(dtype="int64")
    # A row renders its header (role, name) first and its learned tokens last.
    learned = counts.message_learned[selected]
    beyond = (end - start.clip(min=limit)).clip(min=0).clip(max=learned)
    cut = pd.Series(beyond, index=records).groupby(level=0).sum()
    return {key: int(value) for key, value in cut.items() if value > 0}


@dataclass(frozen=True)
class NearLimitOptions:
    #: Warn when an example uses at least this share of the model's limit (0 to 1).
    threshold: float = 0.9


class NearLimit(DatasetRule):
    """An example uses most of the target model's token limit (90 percent by default).

    It fits today, but a small edit (a longer system prompt, one more turn, a model with a
    smaller limit) would push it over, and truncation would then cut the answer. Set the share
    with ``[tool.dslint.rules.T002] threshold = 0.95``.
    """

    code = "T002"
    name = "near-token-limit"
    category = Category.TOKENS
    splits_over_cores = True
    severity = Severity.WARNING
    options_type = NearLimitOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        threshold = self.options.threshold
        if not 0 < threshold <= 1:
            raise ConfigError(f"option 'threshold' of rule {self.code} must be between 0 and 1")
        frame = _counted(dataset)
        near = frame[
            (frame["tokens"] <= frame["limit"]) & (frame["tokens"] >= frame["limit"] * threshold)
        ]
        for record, row in near.iterrows():
            tokens, limit = int(row["tokens"]), int(row["limit"])
            yield Hit(
                f"example has {tokens:,} tokens, {tokens / limit:.0%} of the limit of {limit:,} "
                f"for {_target_name(dataset, str(row['path']))} ({limit - tokens:,} to spare)",
                record=int(str(record)),
            )


class AssistantTruncated(DatasetRule):
    """An assistant message lies entirely beyond the token limit: truncation removes it.

    The API cuts an over-long example at the limit, so this answer is never trained on, and the
    example teaches a conversation that ends without it. Messages with ``weight: 0`` are not
    trained on anyway and are not reported. Split the conversation so each part fits.
    """

    code = "T003"
    name = "assistant-truncated-away"
    category = Category.TOKENS
    splits_over_cores = True
    severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        frame = _counted(dataset)
        over = frame[frame["tokens"] > frame["limit"]]
        if over.empty:
            return
        messages = dataset.messages
        rows = messages[
            messages["record"].isin(over.index)
            & (messages["role"] == "assistant")
            & (messages["weight"].fillna(1) != 0)
        ]
        # A message starts where its first row starts (the overhead sits on that row).
        first = rows.groupby(["record", "section", "message"], observed=True, sort=False).head(1)
        start = first["token_end"] - first["tokens"]
        limit = over["limit"].reindex(first["record"].to_numpy()).to_numpy(dtype="int64")
        gone = first[start.to_numpy(dtype="int64") >= limit]
        for _, row in gone.iterrows():
            record = int(row["record"])
            yield Hit(
                f"this assistant message starts after token {int(over.at[record, 'limit']):,}, "
                f"the limit of {_target_name(dataset, str(over.at[record, 'path']))}: "
                "truncation removes it entirely, so it is never trained on",
                pointer=_message_pointer(str(row["pointer"])),
                record=record,
            )


@dataclass(frozen=True)
class ToolShareOptions:
    #: Report an example whose tool definitions take more than this share of its tokens.
    share: float = 0.5


class ToolDefinitionsShare(DatasetRule):
    """Tool definitions take more than half of an example's tokens.

    Tool (function) definitions are part of every example that carries them, so they are
    trained on and billed in every example and every epoch. When they outweigh the
    conversation, most of the training budget goes to repeating them: trim long descriptions
    and unused parameters, or drop tools the example never calls. The share is an option:
    ``[tool.dslint.rules.T004] share = 0.7``.

    Examples of one file that carry the very same definitions get one finding between them,
    on the first, saying how many they are (a tool-calling dataset repeats its tools in
    every example: a finding per example would bury the rest of the report).

    FAIL::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], "tools": [{"type": "function", "function": {"name": "lookup_order", "description": "Look up an order by its number and return its status, items, shipping address and delivery estimate.", "parameters": {"type": "object", "properties": {"order_number": {"type": "string", "description": "The order number printed on the receipt, for example NW-12345."}}}}}]}

    PASS::

        {"messages": [{"role": "user", "content": "Where is my order NW-12345? It was due on Monday and I have not heard anything since."}, {"role": "assistant", "content": "Let me check that for you right away. Your order shipped on Friday and should arrive tomorrow; I am sorry for the delay."}], "tools": [{"type": "function", "function": {"name": "lookup_order", "description": "Look up an order."}}]}
    """

    code = "T004"
    name = "tool-definitions-share"
    category = Category.TOKENS
    splits_over_cores = True
    severity = Severity.INFO
    options_type = ToolShareOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        share = self.options.share
        if not 0 < share < 1:
            raise ConfigError(f"option 'share' of rule {self.code} must be between 0 and 1")
        frame = _counted(dataset)
        heavy = frame[(frame["tool_tokens"] > 0) & (frame["tool_tokens"] > frame["tokens"] * share)]
        # Examples of one file with the same definitions, in file order.
        groups: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
        paths = dataset.records["path"].loc[heavy.index].astype(str).tolist()
        for path, record, definitions, tools, tokens in zip(
            paths,
            heavy.index.tolist(),
            heavy["tools"].astype(str).tolist(),
            heavy["tool_tokens"].tolist(),
            heavy["tokens"].tolist(),
            strict=True,
        ):
            groups.setdefault((path, definitions), []).append(
                (int(record), int(tools), int(tokens))
            )
        for (_, definitions), members in groups.items():
            record, tools, tokens = members[0]
            if len(members) == 1:
                message = (
                    f"tool definitions take {tools:,} of the example's {tokens:,} tokens "
                    f"({tools / tokens:.0%}); they repeat in every example that carries them"
                )
            else:
                low, high = (f"{f(t / total for _, t, total in members):.0%}" for f in (min, max))
                spread = low if low == high else f"{low}-{high}"
                message = (
                    f"tool definitions take {tools:,} tokens, {spread} of each of the "
                    f"{len(members):,} examples that carry these same definitions (this is the "
                    "first); they repeat in every example that carries them"
                )
            pointer = _tools_pointer(dataset, record, definitions)
            # On the first example that carries them; any other order: the same finding.
            yield Hit(message, pointer, record=record, group=text_digest(definitions))


def _tools_pointer(dataset: Dataset, record: int, tools_json: str) -> str:
    prefix = "/input" if dataset.records.at[record, "format"] == "dpo" else ""
    items = json.loads(tools_json)
    # Legacy ``functions`` items have no {"type": "function", "function": ...} wrapper.
    wrapped = (
        isinstance(items, list)
        and items
        and isinstance(items[0], dict)
        and ("function" in items[0])
    )
    return f"{prefix}/{'tools' if wrapped else 'functions'}"


RULES = [OverLimit, NearLimit, AssistantTruncated, ToolDefinitionsShare]
