"""Offline profanity (M001), with the small model that ships inside alt-profanity-check."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from functools import cache
from typing import Any

from dslint.cache import dataset_memo
from dslint.config import ConfigError
from dslint.dataset import Dataset, message_label
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule


@dataclasses.dataclass(frozen=True)
class ProfanityOptions:
    #: Report a message whose profanity probability is at or above this.
    threshold: float = 0.95
    #: Only messages of these roles (empty: every role).
    roles: tuple[str, ...] = ()


class Profanity(DatasetRule):
    """A message reads as profane or offensive to an offline classifier (``alt-profanity-check``).

    The model (a linear SVM over a bag of words, trained on a few hundred thousand labelled
    comments) ships inside the ``alt-profanity-check`` wheel, so nothing is downloaded and no
    text leaves the machine. Install it with ``pip install 'dslint[profanity]'``.

    Off by default, severity warning, threshold 0.95. Why: it scores words, not intent, so
    it rates "kill the process" 0.77 and "I hate Mondays" 0.91, and profanity is sometimes
    what a dataset is meant to contain (casual voices, moderation training). Loading
    scikit-learn also costs a second or more, too much for every pre-commit run. Turn it on
    to review a dataset (``--extend-select M001``); raise it to error with
    ``severity = { M001 = "error" }`` when profanity must never reach training. For a real
    toxicity judgement, use the OpenAI moderation pass (M101).

    FAIL::

        {"messages": [{"role": "user", "content": "You are a worthless piece of shit"}, {"role": "assistant", "content": "Let us keep this civil."}]}

    PASS::

        {"messages": [{"role": "user", "content": "How do I reset my password?"}, {"role": "assistant", "content": "Use the link on the sign-in page."}]}
    """

    code = "M001"
    name = "profanity"
    category = Category.MODERATION
    severity = Severity.WARNING
    enabled_by_default = False
    options_type = ProfanityOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        options: ProfanityOptions = self.options
        frame = dataset.messages
        if options.roles:
            frame = frame[frame["role"].isin(list(options.roles))]
        frame = frame[frame["text"].str.strip().str.len() > 0]
        if frame.empty:
            return
        distinct = list(dict.fromkeys(frame["text"].tolist()))
        # A text's score depends on the text and the model only: remembered per text, so a
        # re-run scores new texts alone (and loads scikit-learn only for them).
        memo = dataset_memo("moderation.profanity", _memo_version())
        scores = memo.map(distinct, _predict, lambda value: type(value) is float)
        probabilities = dict(zip(distinct, scores, strict=True))
        for record, pointer, role, text in zip(
            frame["record"], frame["pointer"], frame["role"], frame["text"], strict=True
        ):
            probability = probabilities[text]
            if probability >= options.threshold:
                where = message_label(role)
                yield Hit(
                    f"This {where} reads as profane or offensive "
                    f"(probability {probability:.2f}); rewrite it, drop the example, or "
                    "ignore M001 if that voice is intended",
                    str(pointer),
                    record=int(record),
                )


@cache
def _memo_version() -> str:
    """The model's package and scikit-learn, which computes the scores."""
    from dslint.installed import library_version

    return f"1/{library_version('alt-profanity-check')}/{library_version('scikit-learn')}"


def _predict(texts: list[str]) -> list[float]:
    try:
        with warnings.catch_warnings():
            # The pickled model may come from a neighbouring scikit-learn version; that
            # warning says nothing about the user's data.
            warnings.simplefilter("ignore")
            from profanity_check import predict_prob
    except ImportError:
        raise ConfigError(
            "M001 (profanity) needs alt-profanity-check: pip install 'dslint[profanity]'"
        ) from None
    scores: Any = predict_prob(texts)
    return [float(s) for s in scores]
