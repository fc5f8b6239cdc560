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
