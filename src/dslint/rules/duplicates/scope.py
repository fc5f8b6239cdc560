"""Which examples a duplicate rule compares, and how a finding names the other example."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd


def scope_codes(records: pd.DataFrame) -> npt.NDArray[np.int64]:
    """A group number per record: its split (training or validation).

    The dataset holds one training file by default, or all inputs with ``combine-files``, so
    this compares exactly what the user asked to be one dataset. A training example is never
    compared with a validation example here: that is the leakage rules' job, reported once,
    on the validation side.
    """
    column = records["split"]
    codes: npt.NDArray[np.int64] = column.cat.codes.to_numpy(dtype=np.int64)
    return codes


def run_groups(
    scope: npt.NDArray[np.int64], key: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each row, in the rows' order: the first row of its (scope, key) group, its place
    in the group (0 for the first) and the group's size.

    A stable sort and run boundaries: what ``groupby().transform("min")``, ``cumcount()``
    and ``transform("size")`` give, with a few arrays of a row each instead of pandas' hash
    tables (the duplicate rules' memory peak at a million examples).
    """
    rows = len(key)
    order = np.lexsort((key, scope))  # stable: a group's rows stay in row order
    ordered_scope, ordered_key = scope[order], key[order]
    boundary = np.ones(rows, dtype=bool)
    boundary[1:] = (ordered_scope[1:] != ordered_scope[:-1]) | (ordered_key[1:] != ordered_key[:-1])
    del ordered_scope, ordered_key
    starts = np.flatnonzero(boundary)
    group = np.cumsum(boundary) - 1
    del boundary
    sizes = np.diff(np.append(starts, rows))
    first, place, size = (np.empty(rows, dtype=np.int64) for _ in range(3))
    first[order] = order[starts][group]
    place[order] = np.arange(rows, dtype=np.int64) - starts[group]
    size[order] = sizes[group]
    return first, place, size


class Places:
    """Names records in messages: ``line 12``, or ``other.jsonl line 12`` in another file."""

    def __init__(self, records: pd.DataFrame) -> None:
        self._paths = records["path"].cat.categories.astype(str).tolist()
        self._path_of = records["path"].cat.codes.to_numpy(dtype=np.int64)
        self._line_of = records["line"].to_numpy(dtype=np.int64)

    def where(self, other: int, this: int | None = None) -> str:
        line = int(self._line_of[other])
        if this is not None and self._path_of[this] == self._path_of[other]:
            return f"line {line}"
        return f"{self._paths[self._path_of[other]]} line {line}"
