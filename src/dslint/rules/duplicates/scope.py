"""Which examples a duplicate rule compares, and how a finding names the other example."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd


def scope_codes(records: pd.DataFrame, across_files: bool) -> npt.NDArray[np.int64]:
    """A group number per record: its file, or its split when files are compared together.

    Either way a training example is never compared with a validation example here: that
    comparison is the leakage rules' job, reported once, on the validation side.
    """
    column = records["split"] if across_files else records["path"]
    codes: npt.NDArray[np.int64] = column.cat.codes.to_numpy(dtype=np.int64)
    return codes


def where(records: pd.DataFrame, other: int, this: int | None = None) -> str:
    """``line 12``, or ``other.jsonl line 12`` when the other example is in another file."""
    path = str(records["path"].iat[other])
    line = records["line"].to_numpy()[other]
    if this is not None and str(records["path"].iat[this]) == path:
        return f"line {line}"
    return f"{path} line {line}"
