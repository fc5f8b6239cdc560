"""A chat model judges each assistant reply against the team's guidelines (``--review llm``).

The pass runs once per dataset and is shared by the three rules through the dataset's
cache: V501 reports broken voice guidelines, M501 broken policy guidelines, M502 the replies
that could not be judged. See docs/review.md for what is sent where and what it costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.textutil import excerpt, plural, safe

if TYPE_CHECKING:
    from dslint.dataset import Dataset
    from dslint.review.client import ReviewResult

CACHE_KEY = "review.llm"
# The model's reason goes into reports: one sentence is asked for; this bounds a chatty one.
REASON_LIMIT = 240


class ReviewRule(DatasetRule):
    enabled_by_default = False

    def review(self, dataset: Dataset) -> ReviewResult | None:
        """The shared pass (run by whichever rule comes first), or None when it is off."""
        from dslint.review import settings as review_settings

        settings = review_settings.parse(self.context.config)
        if not settings.enabled or settings.guidelines is None:
            self.context.notes.append(
                "V501, M501 and M502 did not run: the LLM review is off "
                '(use --review llm or [tool.dslint.review] mode = "llm")'
            )
            return None
        done: ReviewResult | None = dataset.cache.get(CACHE_KEY)
        if done is not None:
            return done
        from dslint.review import client, guidelines

        rules = guidelines.load(settings.guidelines)
        result = client.run(dataset, settings, rules, self.context.confirm)
        self.context.notes.append(
            f"LLM review ({settings.model}): "
            f"{plural(len(result.replies), 'reply', 'replies')}, "
            f"{plural(result.sent, 'request')} sent, {result.cached:,} from the cache, "
            f"{len(result.not_judged):,} not judged"
        )
        dataset.cache[CACHE_KEY] = result
        return result


class GuidelineReview(ReviewRule):
    """Shared by the voice and policy rules: report replies that break guidelines of a kind."""

    kind: str

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        result = self.review(dataset)
        if result is None:
            return
        for reply, key in result.replies:
            for failure in result.failures.get(key, ()):
                guideline = result.guidelines.by_id(failure.guideline)
                if guideline is None or guideline.kind != self.kind:
                    continue
                reason = excerpt(failure.reason, REASON_LIMIT) if failure.reason else "no reason"
                quote = (
                    f' at "{excerpt(reply.text[failure.span[0] : failure.span[1]], 40)}"'
                    if failure.span
                    else ""
                )
                yield Hit(
                    f"Breaks {self.kind} guideline [{safe(guideline.id)}] "
                    f'("{excerpt(guideline.text, 50)}"){quote}: {reason.rstrip(".")}; '
                    f"rewrite the reply or drop the example (judged by {safe(result.model)})",
                    reply.pointer,
                    span=failure.span,
                    record=reply.record,
                    key=guideline.id,
                )


class VoiceReview(GuidelineReview):
    """A reply breaks one of the team's voice guidelines, as judged by a chat model.

    Off by default; ``--review llm`` (or ``[tool.dslint.review] mode = "llm"``) turns it on.
    Each assistant reply that is trained on, with the turns before it, is sent to a chat
    model (OpenAI, Azure OpenAI or a local server such as vLLM or Ollama) together with the
    guidelines file; the model answers with a verdict per guideline in a fixed JSON schema.
    This rule reports the guidelines under a ``## Voice`` heading that the reply breaks:
    the guideline's id and text, the model's one-sentence reason, and the column of the
    passage the model quoted (when it can be found in the reply).

    A model's judgement is an opinion, not a proof: read the reason before rewriting.
    Verdicts are cached by reply, context, model and guidelines, so a re-run costs only
    what changed. See docs/review.md.
    """

    code = "V501"
    name = "voice-review"
    category = Category.VOICE
    severity = Severity.WARNING
    kind = "voice"


class PolicyReview(GuidelineReview):
    """A reply breaks one of the team's policy guidelines, as judged by a chat model.

    Off by default; ``--review llm`` turns it on. The same pass as V501 (one request per
    reply judges every guideline), reporting the guidelines under a ``## Policy`` heading
    that the reply breaks ("never promise refunds", "no legal advice"): the guideline, the
    model's reason and the column of the quoted passage. A fine-tuned model learns what its
    examples do, so a reply that breaks policy teaches the model to break it. See
    docs/review.md.
    """

    code = "M501"
    name = "policy-review"
    category = Category.MODERATION
    severity = Severity.ERROR
    kind = "policy"


class NotReviewed(ReviewRule):
    """A reply could not be judged by the review model, so it was not reviewed.

    Rather than pass silently, each reply whose request failed after the client's retries
    (HTTP errors, timeouts, refused connections), that the model refused to judge, or whose
    answer broke the JSON schema (not JSON, an unknown guideline, a guideline left out, cut
    at ``max-output-tokens``) is reported with the reason. Run again: judged replies are
    cached, so only these are sent.
    """

    code = "M502"
    name = "not-reviewed"
    category = Category.MODERATION
    severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        result = self.review(dataset)
        if result is None:
            return
        for reply, key in result.replies:
            reason = result.not_judged.get(key)
            if reason is not None:
                yield Hit(
                    f"This reply was not reviewed by {safe(result.model)} ({safe(reason)}); run again "
                    "or check the review server",
                    reply.pointer,
                    record=reply.record,
                    key=key[:20],
                )
