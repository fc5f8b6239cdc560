"""OpenAI moderation before upload (M101, M102): off unless ``--moderation openai``.

OpenAI moderates training files on its side and drops or rejects examples without saying
which; these rules run the same kind of check first and name the line and message.
"""

from __future__ import annotations

from collections.abc import Iterator

from dslint.dataset import Dataset, message_label
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.moderation.remote import CACHE_KEY, Moderation, Outcome, moderate, text_hash
from dslint.rules.moderation.remote import texts_to_send as select_texts
from dslint.rules.moderation.settings import ModerationSettings, parse
from dslint.textutil import plural


class RemoteModerationRule(DatasetRule):
    category = Category.MODERATION
    enabled_by_default = False

    def run(self, dataset: Dataset) -> tuple[ModerationSettings, Moderation | None]:
        """The moderation pass, shared by both rules (done once per dataset)."""
        settings = parse(self.context.config)
        if settings.provider == "none":
            self.context.notes.append(
                f"{self.code} did not run: no moderation provider "
                "(use --moderation openai or [tool.dslint.moderation] provider)"
            )
            return settings, None
        result: Moderation | None = dataset.cache.get(CACHE_KEY)
        if result is None:
            texts = select_texts(dataset, settings)
            result = moderate(texts, settings, self.context.announce)
            dataset.cache[CACHE_KEY] = result
            failed = len(result.failures)
            self.context.notes.append(
                f"moderation: {plural(len(texts), 'distinct text')}: {result.sent:,} sent to "
                f"{settings.endpoint}/moderations in {plural(result.requests, 'request')}, "
                f"{result.cached:,} from the cache, {failed:,} not moderated"
            )
        return settings, result

    def rows(self, dataset: Dataset, settings: ModerationSettings) -> Iterator[tuple[str, ...]]:
        frame = dataset.messages
        if settings.roles is not None:
            frame = frame[frame["role"].isin(list(settings.roles))]
        frame = frame[frame["text"].str.strip().str.len() > 0]
        for record, pointer, role, text in zip(
            frame["record"], frame["pointer"], frame["role"], frame["text"], strict=True
        ):
            where = message_label(role)
            yield str(record), str(pointer), where, str(text)


class OpenAIModeration(RemoteModerationRule):
    """OpenAI's moderation endpoint flags a message (``--moderation openai``).

    Each distinct message text of the chosen roles is sent to ``POST /v1/moderations``
    (model ``omni-moderation-latest`` unless configured). A message is reported when the API
    marks it ``flagged``, or when a category's score is at or above the threshold configured
    for it in ``[tool.dslint.moderation] thresholds``. The finding names the categories and
    their scores. Results are cached on disk by text hash and model, so a re-run only sends
    new or changed texts. See docs/privacy.md for exactly what is sent where.
    """

    code = "M101"
    name = "openai-moderation"
    severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        settings, result = self.run(dataset)
        if result is None:
            return
        for record, pointer, where, text in self.rows(dataset, settings):
            key = text_hash(settings.model, text)
            outcome = result.outcomes.get(key)
            if outcome is None:
                continue
            named = _reported_categories(outcome, settings)
            if not named:
                continue
            listed = ", ".join(f"{name} {score:.2f}" for name, score in named)
            yield Hit(
                f"OpenAI moderation ({settings.model}) flags this {where}: {listed}; "
                "rewrite or drop the example before uploading",
                pointer,
                record=int(record),
                key=key[:20],
            )


class NotModerated(RemoteModerationRule):
    """A message could not be moderated: the request failed after the client's retries.

    Rather than pass silently, each text whose batch failed (HTTP errors, timeouts, refused
    connections, a malformed answer) is reported with the reason. Run again: cached results
    are kept, so only these texts are sent.
    """

    code = "M102"
    name = "not-moderated"
    severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        settings, result = self.run(dataset)
        if result is None or not result.failures:
            return
        for record, pointer, where, text in self.rows(dataset, settings):
            key = text_hash(settings.model, text)
            reason = result.failures.get(key)
            if reason is not None:
                yield Hit(
                    f"This {where} was not moderated ({reason}); run again or check "
                    f"the moderation server",
                    pointer,
                    record=int(record),
                    key=key[:20],
                )


def _reported_categories(outcome: Outcome, settings: ModerationSettings) -> list[tuple[str, float]]:
    """Categories to name: flagged by the API or at/above their threshold, highest first."""
    named = {
        name
        for name, score in outcome.scores.items()
        if outcome.categories.get(name) or score >= settings.thresholds.get(name, 2.0)
    }
    if outcome.flagged and not named and outcome.scores:
        named = {max(outcome.scores, key=lambda n: outcome.scores[n])}
    if not named and not outcome.flagged:
        return []
    if not named:
        return [("flagged", 1.0)]
    return sorted(((n, outcome.scores.get(n, 0.0)) for n in named), key=lambda p: -p[1])


RULES = [OpenAIModeration, NotModerated]
