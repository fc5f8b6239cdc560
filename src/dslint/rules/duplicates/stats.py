"""Duplicate shares per file, for ``dslint stats``."""

from __future__ import annotations

import numpy as np

from dslint.dataset import Dataset
from dslint.rules.duplicates.exact import ExactOptions, exact_copies
from dslint.rules.duplicates.near import NearOptions, near_clusters


def shares(
    dataset: Dataset,
    exact: ExactOptions | None = None,
    near: NearOptions | None = None,
) -> dict[str, dict[str, float]]:
    """Per file: the share of its examples that are extra exact copies or near-duplicates.

    ``{"train.jsonl": {"exact_duplicates": 0.02, "near_duplicates": 0.05}}``. The counts are
    those of D001 and D003 with the given (default) options: an example counts when removing
    it loses nothing (the first copy and a cluster's first example are not counted). Shares
    are of the file's examples that parsed as JSON objects; 0.0 for a file with none.
    """
    records = dataset.records
    paths = records["path"].astype(str).to_numpy()
    objects = records["is_object"].to_numpy(dtype=bool)
    exact_rows = exact_copies(dataset, exact or ExactOptions())["record"].to_numpy()
    near_rows = near_clusters(dataset, near or NearOptions())["record"].to_numpy()
    result: dict[str, dict[str, float]] = {}
    for path in dict.fromkeys([f.path for f in dataset.files] + list(dict.fromkeys(paths))):
        total = int(np.count_nonzero(objects & (paths == path)))
        in_file = paths == path
        result[path] = {
            "exact_duplicates": _share(int(np.count_nonzero(in_file[exact_rows])), total),
            "near_duplicates": _share(int(np.count_nonzero(in_file[near_rows])), total),
        }
    return result


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0
