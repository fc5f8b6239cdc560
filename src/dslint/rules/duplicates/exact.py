"""Exact duplicates (D001) and one prompt with different answers (D002)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.duplicates.keys import keys
from dslint.rules.duplicates.scope import Places, run_groups, scope_codes
from dslint.rules.duplicates.similar import NearParameters, near_pairs


@dataclass(frozen=True)
class ExactOptions:
    #: Also treat examples that differ only in upper/lower case as the same.
    casefold: bool = False


def exact_copies(dataset: Dataset, options: ExactOptions) -> pd.DataFrame:
    """The extra copies: ``record``, ``first`` (the copy to keep), ``ordinal``, ``copies``, ``key``."""
    exact = keys(dataset, options.casefold).exact
    record = np.flatnonzero(exact != 0)
    scope, key = scope_codes(dataset.records)[record], exact[record]
    first, ordinal, copies = run_groups(scope, key)
    extra = ordinal > 0
    found: pd.DataFrame = pd.DataFrame(
        {
            "scope": scope[extra],
            "key": key[extra],
            "record": record[extra],
            "first": record[first[extra]],
            "ordinal": ordinal[extra],
            "copies": copies[extra],
        },
        index=record[extra],
    )
    return found


class ExactDuplicate(DatasetRule):
    """An example is an exact copy of an earlier one.

    Examples count as copies when their messages are the same after collapsing whitespace
    and normalising Unicode (NFC), whatever their JSON spacing or key order; roles, names,
    tool calls, weights and tool definitions must match too. A copy makes the model train
    on the same example twice, which overweights it and wastes tokens (and money). The
    finding is on each extra copy and names the first occurrence, the one to keep.

    Options: ``casefold`` (also ignore letter case). Each training file is checked on its
    own unless the run combines its inputs (``--combine-files``).

    For example, the second of these two lines::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
        {"messages": [{"role": "user", "content": "Hi "}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "D001"
    name = "exact-duplicate"
    category = Category.DUPLICATES
    severity = Severity.WARNING
    options_type = ExactOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        places = Places(dataset.records)
        found = exact_copies(dataset, self.options)
        columns = (found[name].to_numpy().tolist() for name in ("record", "first", "ordinal",
                                                                 "copies", "key"))  # fmt: skip
        for record, first, ordinal, copies, key in zip(*columns, strict=True):
            yield Hit(
                f"exact duplicate of {places.where(first, record)} (copy {ordinal + 1} "
                f"of {copies}): the model trains on it {copies} times; keep the first copy "
                "and remove this one",
                "",
                record=record,
                key=f"{key:016x}/{ordinal}",
                related=(first,),
            )


class ConflictingAnswers(DatasetRule):
    """Examples with the same prompt have different answers.

    Two examples whose conversation before the last assistant turn is identical (system
    prompt, user turns, earlier answers and tool definitions, after normalising whitespace
    and Unicode) but whose last answers differ teach the model to answer the same question
    in different ways: it learns to be inconsistent, or averages the answers. One answer is
    the reference, chosen by content (not by position, so reordering the lines flags the same
    answers); the finding is on each other answer that is not a near-duplicate of it and names
    the example with the reference answer. Its fingerprint names the prompt and the answer's
    place among them. Keep one answer, or make the prompts say what distinguishes the answers.

    Options: ``casefold`` (as for D001).

    For example, one of these two lines (which one depends on the answers, never on their
    order)::

        {"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]}
        {"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Lyon."}]}
    """

    code = "D002"
    name = "conflicting-answers"
    category = Category.DUPLICATES
    severity = Severity.WARNING
    options_type = ExactOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        summary = keys(dataset, self.options.casefold)
        places = Places(dataset.records)
        pointers = dataset.messages["pointer"]
        conflicts = conflicting_answers(dataset, self.options)
        # The key is the answer's place among the prompt's conflicting answers, not the
        # answer: a baseline remembers how many conflicts a prompt has, so editing one of its
        # answers, or another answer becoming the reference, is not a new finding; one more
        # conflict is.
        ordinals = conflicts.groupby(["scope", "prompt"], sort=False).cumcount()
        columns = (conflicts[name].to_numpy().tolist() for name in ("record", "reference",
                                                                     "answers", "prompt"))  # fmt: skip
        for record, reference, answers, prompt, ordinal in zip(
            *columns, ordinals.tolist(), strict=True
        ):
            yield Hit(
                f"same prompt as {places.where(reference, record)} but a different answer "
                f"({answers} different answers to this prompt): the model learns to "
                "answer it inconsistently; keep one answer or make the prompts differ",
                str(pointers.iat[int(summary.answer_row[record])]),
                record=record,
                key=str(ordinal),
                group=f"{prompt:016x}",
                related=(reference,),
            )


def conflicting_answers(dataset: Dataset, options: ExactOptions) -> pd.DataFrame:
    """The first example of each answer but the reference one, per prompt with several
    answers, in line order.

    The reference answer, the one the others are compared with, is the first in an order of
    the answers' keys, not of the lines: which answers conflict with it (those that are not
    near-duplicates of it) then does not depend on the order of the lines, so neither do the
    findings nor their fingerprints. In line order, a prompt with answers A and A' (a word
    edited) and B gave one conflict when A or A' came first and two when B did.
    """
    summary = keys(dataset, options.casefold)
    frame = pd.DataFrame(
        {
            "scope": scope_codes(dataset.records),
            "prompt": summary.prompt,
            "answer": summary.answer,
            "record": np.arange(len(summary.prompt), dtype=np.int64),
        }
    )
    frame = frame[summary.prompt != 0].drop_duplicates(["scope", "prompt", "answer"])
    frame = frame.sort_values("answer", kind="stable")  # each group's first: the reference
    scope, prompt = frame["scope"].to_numpy(), frame["prompt"].to_numpy()
    first, _, size = run_groups(scope, prompt)
    record = frame["record"].to_numpy()
    frame = frame.assign(answers=size, reference=record[first]).sort_values("record")
    candidates = frame[(frame["answers"] > 1) & (frame["record"] != frame["reference"])]
    del frame  # a row per example: not kept while the near-duplicates are found
    # Answers that are near-duplicates of each other (an edited word) are D003's finding: an
    # example that says nearly the same thing, not a contradiction. A pair of rows is one
    # number, the lower row first, as near pairs are ordered (left < right).
    near = near_pairs(dataset, NearParameters())
    total = np.int64(len(summary.prompt))
    alike = near.left * total + near.right
    reference = candidates["reference"].to_numpy(dtype=np.int64)
    member = candidates["record"].to_numpy(dtype=np.int64)
    pairs = np.minimum(reference, member) * total + np.maximum(reference, member)
    conflicts: pd.DataFrame = candidates[~np.isin(pairs, alike)]
    return conflicts


RULES = [ExactDuplicate, ConflictingAnswers]
