"""Leakage between training and validation data (D004-D006).

Validation files come from ``--validation`` or the config's ``validation`` table; their
records have ``split == "validation"``. Each validation example is compared with every
training example of the run, and a finding is on the validation example (the training data
is what the model learns; the validation example is what stops measuring anything).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.duplicates.keys import keys
from dslint.rules.duplicates.scope import Places
from dslint.rules.duplicates.similar import NearParameters, near_pairs


@dataclass(frozen=True)
class LeakOptions:
    #: Also treat examples that differ only in upper/lower case as the same.
    casefold: bool = False


@dataclass(frozen=True)
class NearLeakOptions:
    #: Words per shingle (n-gram).
    ngram: int = 5
    #: Hash values per MinHash signature.
    num_perm: int = 128
    #: Smallest exact Jaccard similarity that counts as a near copy.
    threshold: float = 0.8
    #: Examples with fewer words are skipped.
    min_words: int = 10


def _is_validation(dataset: Dataset) -> npt.NDArray[np.bool_]:
    validation: npt.NDArray[np.bool_] = (dataset.records["split"] == "validation").to_numpy(
        dtype=bool
    )
    return validation


def _first_training(key: npt.NDArray[np.uint64], validation: npt.NDArray[np.bool_]) -> pd.Series:
    """For each key value, the first training record that has it."""
    training = pd.DataFrame({"key": key, "record": np.arange(len(key), dtype=np.int64)})
    training = training[~validation & (key != 0)].drop_duplicates("key")
    first: pd.Series = training.set_index("key")["record"]
    return first


class ValidationDuplicate(DatasetRule):
    """A validation example is also in the training data.

    An example in both files is scored on what the model memorised, so the validation loss
    looks better than the model is. Examples are compared after normalising whitespace and
    Unicode, as for D001. Remove the example from one of the two files.
    """

    code = "D004"
    name = "validation-duplicate"
    category = Category.DUPLICATES
    severity = Severity.ERROR
    options_type = LeakOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        validation = _is_validation(dataset)
        if not validation.any():
            return
        exact = keys(dataset, self.options.casefold).exact
        training = _first_training(exact, validation)
        places = Places(dataset.records)
        for record in np.flatnonzero(validation & np.isin(exact, training.index)).tolist():
            source = int(training[exact[record]])
            yield Hit(
                f"this validation example is also in the training data "
                f"({places.where(source)}): it measures memorisation, not "
                "generalisation; remove it from one of the files",
                "",
                record=record,
                key=f"{int(exact[record]):016x}",
                related=(source,),
            )


class ValidationNearDuplicate(DatasetRule):
    """A validation example is nearly the same as a training example.

    A near copy (a few words swapped or edited) leaks just as an exact one does: the model
    has seen the answer. Found like D003 (MinHash LSH over word 5-grams, confirmed with the
    exact Jaccard similarity, 0.8 by default), between the validation and training files.
    Rewrite or remove one of the two examples.
    """

    code = "D005"
    name = "validation-near-duplicate"
    category = Category.DUPLICATES
    severity = Severity.ERROR
    options_type = NearLeakOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        validation = _is_validation(dataset)
        if not validation.any():
            return
        options = self.options
        parameters = NearParameters(
            options.ngram, options.num_perm, options.threshold, options.min_words
        )
        parameters.check()
        frame = near_leaks(dataset, parameters)
        exact = keys(dataset).exact
        # The most similar training example; among equals the first by content, not by line:
        # the fingerprint names it, and reordering the training file must not change it.
        frame = frame.assign(source_key=exact[frame["left"].to_numpy()])
        best = frame.sort_values(["right", "similarity", "source_key", "left"],
                                 ascending=[True, False, True, True])  # fmt: skip
        best = best.drop_duplicates("right")
        places = Places(dataset.records)
        columns = (best[name].to_numpy().tolist() for name in ("right", "left", "similarity"))
        for record, source, similarity in zip(*columns, strict=True):
            yield Hit(
                f"this validation example is nearly the same as a training example "
                f"({places.where(source)}, similarity {similarity:.2f}): the "
                "model has seen its answer; rewrite or remove one of them",
                "",
                record=record,
                key=f"{int(exact[source]):016x}",
                related=(source,),
            )


def near_leaks(dataset: Dataset, parameters: NearParameters) -> pd.DataFrame:
    """Confirmed near pairs of a training example (left) and a validation example (right)."""
    validation = _is_validation(dataset)
    frame = near_pairs(dataset, parameters).frame()
    left, right = frame["left"].to_numpy(), frame["right"].to_numpy()
    # Pairs are (earlier, later), and validation records come after the training ones.
    leaks: pd.DataFrame = frame[~validation[left] & validation[right]]
    return leaks


class ValidationSharedPrompt(DatasetRule):
    """A validation example has the same prompt as a training example.

    The conversation before the last answer is the same in both files while the answers
    differ: the validation loss then measures how the model answers a prompt it was trained
    on. Exact copies are D004's, near copies (an answer with a word edited) D005's. Use
    validation prompts that are not in the training data.
    """

    code = "D006"
    name = "validation-shared-prompt"
    category = Category.DUPLICATES
    severity = Severity.WARNING
    options_type = LeakOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        validation = _is_validation(dataset)
        if not validation.any():
            return
        summary = keys(dataset, self.options.casefold)
        exact_in_training = np.isin(summary.exact, _first_training(summary.exact, validation).index)
        training = _first_training(summary.prompt, validation)
        shared = validation & np.isin(summary.prompt, training.index) & ~exact_in_training
        shared[near_leaks(dataset, NearParameters())["right"].to_numpy()] = False
        places = Places(dataset.records)
        pointers = dataset.messages["pointer"]
        for record in np.flatnonzero(shared).tolist():
            source = int(training[summary.prompt[record]])
            yield Hit(
                f"this validation prompt is also a training prompt ({places.where(source)}) "
                "with a different answer: the model was trained on it; use a prompt the "
                "training data does not have",
                str(pointers.iat[int(summary.prompt_row[record])]),
                record=record,
                key=f"{int(summary.prompt[record]):016x}",
                related=(source,),
            )


RULES = [ValidationDuplicate, ValidationNearDuplicate, ValidationSharedPrompt]
