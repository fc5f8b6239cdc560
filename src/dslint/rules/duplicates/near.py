"""Near-duplicates (D003): examples that say nearly the same thing, reported as clusters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.duplicates import minhash
from dslint.rules.duplicates.hashing import U64
from dslint.rules.duplicates.keys import content_order, keys
from dslint.rules.duplicates.scope import Places, scope_codes
from dslint.rules.duplicates.similar import NearParameters, near_pairs


@dataclass(frozen=True)
class NearOptions:
    #: Words per shingle (n-gram).
    ngram: int = 5
    #: Hash values per MinHash signature.
    num_perm: int = 128
    #: Smallest exact Jaccard similarity of the shingle sets that counts as a near-duplicate.
    threshold: float = 0.8
    #: Examples with fewer words (system prompts shared by several examples left out) are skipped.
    min_words: int = 10
    #: From this many examples on, a cluster's findings say that the data looks templated.
    large_cluster: int = 50

    def parameters(self) -> NearParameters:
        parameters = NearParameters(self.ngram, self.num_perm, self.threshold, self.min_words)
        parameters.check()
        return parameters


def near_clusters(dataset: Dataset, options: NearOptions) -> pd.DataFrame:
    """Cluster members: ``record``, ``representative``, ``similarity``, ``size``.

    Clusters are stars, not chains: an example joins a cluster only when it is similar
    enough to the cluster's representative itself. Joining through a chain of
    pairwise-similar examples (A like B, B like C, so A with C) would let templated data
    collapse into a few giant clusters of examples that do not resemble each other.

    The examples are taken in an order of their contents, not of their lines (the
    representative is the member first in that order): shuffled lines give the same
    clusters with the same representatives, so no finding moves to another example and a
    baseline keeps them all. In line order, three mutually similar examples flag the two
    after the first, and a shuffle that puts another one first flags another pair.
    """
    pairs = near_pairs(dataset, options.parameters())
    scope = scope_codes(dataset.records)
    exact = keys(dataset).exact
    frame = pairs.frame()
    frame = frame[scope[frame["left"].to_numpy()] == scope[frame["right"].to_numpy()]]
    frame = _in_content_order(frame, content_order(dataset))
    # A member joined through a partner that is itself a member is compared with that
    # partner's representative, a pair LSH may not have confirmed: its shingle sets are made
    # again (NearPairs keeps none). Which such pairs come up depends on earlier answers, so
    # the clustering runs again with the sets it asked for until it asks for none it lacks
    # (once, on data without such chains; every round makes each set that it asked for,
    # and none is asked for twice, so the rounds end).
    sets: dict[int, U64 | None] = {}  # None: the example has no shingles (never similar)
    while True:
        missing: set[int] = set()
        representative, similarity = _cluster(frame, options.threshold, exact, sets, missing)
        if not missing:
            break
        made = pairs.shingle_sets(dataset, missing)
        sets.update({record: made.get(record) for record in missing})
    members = pd.DataFrame(
        {
            "record": np.array(list(representative), dtype=np.int64),
            "representative": np.array(list(representative.values()), dtype=np.int64),
            "similarity": np.array([similarity[r] for r in representative], dtype=np.float64),
        }
    )
    sizes = members.groupby("representative")["record"].transform("size") + 1
    members["size"] = sizes.astype(np.int64)
    ordered: pd.DataFrame = members.sort_values("record", ignore_index=True)
    return ordered


def _in_content_order(frame: pd.DataFrame, order: npt.NDArray[np.int64]) -> pd.DataFrame:
    """The pairs with ``left`` before ``right`` in ``order`` (keys.content_order), sorted by
    member, then best partner first. Within a split each content is one example (later exact
    copies are D001's and join no cluster), so the order does not depend on the lines'."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    left, right = frame["left"].to_numpy(), frame["right"].to_numpy()
    swap = rank[left] > rank[right]
    first, second = np.where(swap, right, left), np.where(swap, left, right)
    ordered = pd.DataFrame(
        {
            "left": first,
            "right": second,
            "similarity": frame["similarity"].to_numpy(),
            "left_rank": rank[first],
            "right_rank": rank[second],
        }
    )
    result: pd.DataFrame = ordered.sort_values(
        ["right_rank", "similarity", "left_rank"], ascending=[True, False, True]
    )
    return result


def _cluster(
    frame: pd.DataFrame,
    threshold: float,
    exact: U64,
    sets: dict[int, U64 | None],
    missing: set[int],
) -> tuple[dict[int, int], dict[int, float]]:
    """One clustering pass over the sorted pairs: each member's representative and its
    similarity to it. Comparisons whose shingle sets are not in ``sets`` count as 0 and add
    their examples to ``missing``."""
    representative: dict[int, int] = {}
    similarity: dict[int, float] = {}
    columns = (frame[name].tolist() for name in ("right", "left", "similarity"))
    # The pairs are sorted by member, then best partner first: the first partner that is
    # similar enough (directly, or through its own representative) decides.
    for record, partner, score in zip(*columns, strict=True):
        if record in representative:
            continue
        anchor = representative.get(partner, partner)
        if anchor != partner:
            score = _anchored_similarity(sets, anchor, record, exact, missing)
        if score >= threshold:
            representative[record], similarity[record] = anchor, score
    return representative, similarity


def _anchored_similarity(
    sets: dict[int, U64 | None], anchor: int, record: int, exact: U64, missing: set[int]
) -> float:
    if exact[anchor] == exact[record]:
        return 0.0  # an exact copy: D001's finding, not this rule's
    if anchor not in sets or record not in sets:
        missing.update(r for r in (anchor, record) if r not in sets)
        return 0.0
    first, second = sets[anchor], sets[record]
    if first is None or second is None:
        return 0.0
    return minhash.jaccard(first, second)


class NearDuplicate(DatasetRule):
    """An example is nearly the same as another one.

    Near-duplicates (a few words swapped, added or edited) overweight what they say just as
    exact copies do, and they slip past exact checks. dslint compares word 5-grams of each
    example's messages with MinHash LSH (128 hashes), leaving out system prompts that
    several examples share and skipping examples of fewer than 10 words, then confirms each
    candidate pair with the exact Jaccard similarity (at least 0.8). The finding is on each
    member of a cluster but one, the cluster's representative, and names it and the
    similarity to it.

    Clusters are anchored on their representative (every member resembles it directly), so
    templated data cannot chain the whole file into one cluster. The representative is
    chosen by content, not by position: reordering the lines flags the same examples. A
    large cluster usually means the examples share a template that outweighs what differs
    between them: check whether they teach the model anything different.

    Options: ``ngram``, ``num-perm``, ``threshold``, ``min-words``, ``large-cluster`` (see
    docs/duplicates.md).

    For example, one of these two lines (which one depends on their content, never on their
    order)::

        {"messages": [{"role": "user", "content": "How do I reset my password if I no longer have access to the email address on my account?"}, {"role": "assistant", "content": "Open the sign-in page, choose 'Forgot password' and follow the steps to verify your identity."}]}
        {"messages": [{"role": "user", "content": "How do I reset my password if I no longer have access to the email address on the account?"}, {"role": "assistant", "content": "Open the sign-in page, choose 'Forgot password' and follow the steps to verify your identity."}]}
    """

    code = "D003"
    name = "near-duplicate"
    category = Category.DUPLICATES
    severity = Severity.WARNING
    options_type = NearOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        places = Places(dataset.records)
        exact = keys(dataset).exact
        clusters = near_clusters(dataset, self.options)
        columns = (clusters[name].to_numpy().tolist() for name in ("record", "representative",
                                                                    "size", "similarity"))  # fmt: skip
        for record, anchor, size, similarity in zip(*columns, strict=True):
            message = (
                f"near-duplicate of {places.where(anchor, record)} (similarity "
                f"{similarity:.2f}, cluster of {size} examples): keep the most useful one"
            )
            if size >= self.options.large_cluster:
                message += (
                    "; a cluster this large usually means templated examples whose shared "
                    "text outweighs what differs: check that they teach something different"
                )
            # The pair by content, in no order: which of two examples is the representative
            # follows their keys, and the fingerprint need not say.
            low, high = sorted((int(exact[anchor]), int(exact[record])))
            yield Hit(
                message, "", record=record, group=f"{low:016x}/{high:016x}", related=(anchor,)
            )


RULES = [NearDuplicate]
