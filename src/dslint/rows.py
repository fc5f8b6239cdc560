"""Per-row values of the dataset frames, remembered from the last check of the same files.

A re-run after a small edit of a large dataset spent most of its time in the dataset rules
finding what they had already worked out: the text memos (:class:`dslint.cache.TextMemo`)
find a value by hashing its text and looking the hash up, about 4 µs a text, over hundreds
of thousands of texts. A row memo finds it by position instead:

* A record whose line has the same content (``content_hash``) and the same format as a
  record of the last run, and as many message rows, has the same message rows: the frames
  are made from the parsed line alone (:class:`dslint.dataset.DatasetBuilder`).
* So the last run's value of such a row is taken with one numpy ``take``; only the rows of
  new or edited lines are computed, wherever lines moved.

A rule's family asks for a memo by namespace and version (:func:`row_memo`), reads the last
run's values (:meth:`RowMemo.recall`), computes the rest, and hands the whole column back
(:meth:`RowMemo.keep`). The engine writes the kept columns with the layout of this run's
frames once the dataset rules are done (:meth:`RowStore.save`), to one file per dataset in
``.dslint_cache/``, named by a keyed hash of the dataset's files and of everything besides
the rows that the values depend on (dslint's version and code, the configuration): any such
change starts from nothing. Values are numbers only: the file is read without pickle.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dslint.dataset import Dataset

#: The frames a row memo can follow.
FRAMES = ("records", "messages")


class RowMemo:
    """The last run's values of one namespace, row by row in this run's frame."""

    def __init__(self, store: RowStore | None, name: str, previous: Any, old: Any) -> None:
        self._store = store
        self._name = name
        self.previous = previous  # per row: its row in the last run, or -1
        self._old = old  # the last run's values, or None

    @property
    def old(self) -> Any:
        """The last run's values, in its row order (None when it kept none)."""
        return self._old

    def recall(self, missing: int | float = -1, rows: Any = None) -> tuple[Any, Any]:
        """``(values, known)``: the last run's value of each row (of the frame, or of its
        positions ``rows``) where it had one (``missing`` elsewhere and where it stored
        ``missing``), and which rows those are. Integers come back as int64."""
        previous = self.previous if rows is None else self.previous[rows]
        kind = self._old.dtype if self._old is not None else np.dtype(np.int64)
        values = np.full(len(previous), missing, dtype=np.int64 if kind.kind in "biu" else kind)
        if self._old is None:
            return values, np.zeros(len(previous), dtype=bool)
        mapped = previous >= 0
        values[mapped] = self._old[previous[mapped]]
        known = mapped & (values != missing)
        return values, known

    @property
    def keeps(self) -> bool:
        """Whether :meth:`keep` remembers anything (a cache is on): a caller need not make
        a full column for it otherwise."""
        return self._store is not None

    def keep(self, values: Any, missing: int | float = -1, rows: Any = None) -> None:
        """This run's values of every row (or of the positions ``rows``, ``missing`` for the
        others), remembered for the next run."""
        if self._store is None:
            return
        array = np.asarray(values)
        expected = len(self.previous) if rows is None else len(rows)
        if array.dtype.kind not in "biuf" or array.ndim not in (1, 2) or len(array) != expected:
            raise ValueError(f"row memo {self._name}: {expected} numbers expected")
        if rows is not None:
            # Another subset of the same rows may have kept this column already (the voice
            # rules of two role sets): its values stand where this subset has none.
            full = self._store.kept.get(self._name)
            if full is None or full.shape[1:] != array.shape[1:]:
                full = np.full((len(self.previous), *array.shape[1:]), missing, np.int64)
            full = full.astype(np.result_type(full.dtype, array.dtype))
            full[rows] = array
            array = full
        if array.dtype == np.int64 and array.size:
            # Counts in the narrowest type that holds them: these columns are kept until the
            # end of the run (a few hundred MB at a million examples as int64).
            low, high = int(array.min()), int(array.max())
            narrow = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                          if np.iinfo(t).min <= low and high <= np.iinfo(t).max)  # fmt: skip
            array = array.astype(narrow)
        self._store.kept[self._name] = array


class RowStore:
    """One dataset's row memos: the last run's file, and this run's columns to write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kept: dict[str, Any] = {}  # namespace/version -> column, written by save()
        self._old: dict[str, Any] | None = None
        self._layout: dict[str, Any] | None = None
        self._previous: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        # A helper process (dslint.offload) reads the file itself and sends back what it kept.
        return {"path": self.path, "kept": {}, "_old": None, "_layout": None, "_previous": {}}

    def memo(self, dataset: Dataset, frame: str, name: str) -> RowMemo:
        old = self._last_run()
        previous = self._previous.get(frame)
        if previous is None:
            previous = self._previous[frame] = _previous_rows(old, self.layout(dataset), frame)
        return RowMemo(self, f"{frame}:{name}", previous, old.get(f"{frame}:{name}"))

    def layout(self, dataset: Dataset) -> dict[str, Any]:
        if self._layout is None:
            self._layout = _layout(dataset)
        return self._layout

    def _last_run(self) -> dict[str, Any]:
        if self._old is None:
            self._old = _read(self.path)
        return self._old

    def save(self, dataset: Dataset) -> None:
        """Write this run's layout and kept columns (nothing when no rule kept any)."""
        if not self.kept:
            return
        arrays = {**self.layout(dataset), **self.kept}
        try:
            handle, temporary = tempfile.mkstemp(prefix=".rows-", dir=self.path.parent)
        except OSError:
            return  # a read-only cache folder: nothing is remembered
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)


def _layout(dataset: Dataset) -> dict[str, Any]:
    """What identifies each record's rows: its content hash, its format, its row count."""
    records, messages = dataset.records, dataset.messages
    formats = records["format"]
    return {
        "hashes": records["content_hash"].to_numpy(dtype=np.int64),
        # The format's name as a fixed-width byte string: compared across runs, where a
        # category's code could mean another format.
        "formats": np.asarray(formats.astype(object).fillna("").to_numpy(dtype=str), dtype="S"),
        "counts": np.bincount(messages["record"].to_numpy(), minlength=len(records)),
    }


def _previous_rows(old: dict[str, Any], now: dict[str, Any], frame: str) -> Any:
    """Per row of ``frame`` now, its row in the last run (-1: a new or changed record)."""
    records = len(now["hashes"])
    matched = np.full(records, -1, dtype=np.int64)
    if "hashes" in old and len(old["hashes"]) and records:
        order = np.argsort(old["hashes"], kind="stable")
        ordered = old["hashes"][order]
        where = np.minimum(np.searchsorted(ordered, now["hashes"]), len(ordered) - 1)
        candidate = order[where]
        same = (
            (ordered[where] == now["hashes"])
            & (old["formats"][candidate] == now["formats"])
            & (old["counts"][candidate] == now["counts"])
        )
        matched = np.where(same, candidate, -1)
    if frame == "records":
        return matched
    counts = now["counts"]
    rows = int(counts.sum())
    if not rows:
        return np.zeros(0, dtype=np.int64)
    record = np.repeat(np.arange(records), counts)
    within = np.arange(rows) - np.repeat(np.cumsum(counts) - counts, counts)
    old_counts = old.get("counts", np.zeros(0, dtype=np.int64))
    old_starts = np.cumsum(old_counts) - old_counts
    if not len(old_starts):
        return np.full(rows, -1, dtype=np.int64)
    source = matched[record]
    return np.where(source >= 0, old_starts[np.maximum(source, 0)] + within, -1)


def _read(path: Path) -> dict[str, Any]:
    """The last run's arrays; empty when there is none or it cannot be read."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":  # not the archive np.savez writes
                return {}
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return {}
    if not {"hashes", "formats", "counts"} <= arrays.keys():
        return {}
    hashes, formats, counts = arrays["hashes"], arrays["formats"], arrays["counts"]
    n = len(hashes)
    if (
        hashes.dtype != np.int64
        or formats.dtype.kind != "S"
        or counts.dtype.kind not in "iu"
        or len(formats) != n
        or len(counts) != n
        or (counts < 0).any()
    ):
        return {}
    rows = int(arrays["counts"].sum())
    for name, values in list(arrays.items()):
        frame = name.partition(":")[0]
        expected = {"records": n, "messages": rows}.get(frame)
        shaped = values.ndim in (1, 2) and len(values) == expected
        if expected is not None and not (shaped and values.dtype.kind in "biuf"):
            del arrays[name]  # a damaged column: its rows are computed again
    return arrays


def row_memo(dataset: Dataset, frame: str, namespace: str, version: str = "") -> RowMemo:
    """The row memo of a namespace (``family.what``) at a version the family chooses (bump
    it when what a value means changes); a memo that knows nothing when the cache is off."""
    if frame not in FRAMES:
        raise ValueError(f"unknown frame {frame!r}")
    store: RowStore | None = getattr(dataset, "rows", None)
    # A member's name in the file: the version hashed, since it may hold any character.
    name = f"{namespace}@{hashlib.blake2b(version.encode(), digest_size=8).hexdigest()}"
    if store is None:
        rows = len(dataset.records if frame == "records" else dataset.messages)
        # Every row new, as a read-only view of one -1: a run without a cache does not
        # allocate a column per memo (44 MB each over the messages of a million examples).
        return RowMemo(None, name, np.broadcast_to(np.int64(-1), (rows,)), None)
    return store.memo(dataset, frame, name)


def _integers(values: Any) -> Any:
    """A computed column as integers: as it is when it has an integer type already (a
    narrow type is the caller's choice of room), else as int64."""
    array = np.asarray(values)
    return array if array.dtype.kind in "iu" else array.astype(np.int64)


def remembered(
    dataset: Dataset,
    frame: str,
    namespace: str,
    version: str,
    columns: Sequence[str],
    rows: Any,
    compute: Callable[[Any], Any],
) -> dict[str, Any]:
    """Integer columns (counts, never negative) of the rows at positions ``rows`` of a frame:
    the last run's values where every column is known, ``compute(selected)`` for the others
    (``selected``: positions in ``rows``, or a slice of all of them when none is known; it
    returns each column for those rows, by name: a dict or a frame). Each
    column is its own memo (``namespace.column``), all at ``version``. A column computed for
    every row keeps its integer type; where values were recalled it is int64."""
    memos = {c: row_memo(dataset, frame, f"{namespace}.{c}", version) for c in columns}
    if not len(rows):
        values = {c: np.zeros(0, dtype=np.int64) for c in columns}
    elif any(memo.old is None for memo in memos.values()):
        # Nothing to recall (no cache, or a column the last run did not keep): every row is
        # computed, without first filling a column per memo with "unknown".
        fresh = compute(slice(None))
        values = {c: _integers(fresh[c]) for c in columns}
    else:
        values = {}
        known = np.ones(len(rows), dtype=bool)
        for column, memo in memos.items():
            values[column], recalled = memo.recall(rows=rows)
            known &= recalled
        missing = np.flatnonzero(~known)
        if len(missing):
            fresh = compute(slice(None) if len(missing) == len(rows) else missing)
            for column in columns:
                if len(missing) == len(rows):
                    values[column] = _integers(fresh[column])
                else:
                    values[column][missing] = np.asarray(fresh[column], dtype=np.int64)
    for column, memo in memos.items():
        memo.keep(values[column], rows=rows)
    return values
