"""Families of dataset rules run in a helper process while the others run here.

After the record stage, the dataset rules of a large dataset are most of a check's time,
and they run one after another. The duplicate family (D001-D006) and the privacy family
(P001-P110) are self-contained: offline, they ask nothing of the user, read only the frames,
and keep their derived data under their own ``dataset.cache`` keys. So for a dataset of at
least ``shards.MIN_BYTES`` they run in a helper process (:func:`run_rules`, through
:mod:`dslint.helper`) while this process runs the token and voice rules (the privacy family
went there too once a re-run's reading got faster: the helper finished before this process,
and 0.2 s of a re-run of the 100k benchmark file moved off its path). The frames travel as
pickled Arrow buffers (about 0.3 s for 100k examples); the helper sends back each rule's hits
and notes, its derived data, and the cache entries it used, and the engine reports them in
rule order: the report is the same as on one core (tests compare the two).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslint.finding import Category

if TYPE_CHECKING:
    import pandas as pd

    from dslint.config import Config
    from dslint.dataset import Dataset
    from dslint.engine import Engine
    from dslint.finding import Hit
    from dslint.loader import FileInfo
    from dslint.rows import RowStore
    from dslint.rule import DatasetRule

#: Categories whose dataset rules may run in the helper (see the module's docstring).
OFFLOADED = frozenset({Category.DUPLICATES, Category.PRIVACY})
#: Single rules of other families that run there too. V011 (tone outliers) reads only the
#: frames and the voice family's shared entries, which the helper makes again for itself
#: from the row memos; with it there, both processes finish the 100k re-run's dataset stage
#: at about the same time (this process ran 0.3-0.6 s after the helper had finished).
OFFLOADED_RULES = frozenset({"V011"})


#: The purpose of the spare helper process the offloaded rules take (dslint.helper.spares),
#: and the modules it imports ahead besides the chosen rules' families.
SPARE = "dataset"
SPARE_PRELOAD = ("dslint.engine", "dslint.offload")


def away(rules: Sequence[Any]) -> list[Any]:
    """Of a run's dataset rules (classes, instances or catalog entries: each has a code and a
    category), those that go to the helper; none when nothing else would run here meanwhile
    (a copy of the frames for nothing)."""
    going = [rule for rule in rules if rule.category in OFFLOADED or rule.code in OFFLOADED_RULES]
    return going if len(going) < len(rules) else []


class Frame:
    """A frame as it travels to the helper: its Arrow-backed text columns as their Arrow
    arrays, so pickling writes their buffers as they are.

    pandas pickles an Arrow-backed column by first concatenating its chunks into a new
    array (``combine_chunks``, a copy even of a single chunk): sending the frames made this
    process hold every text of the dataset twice while they were sent.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        import pandas as pd
        import pyarrow as pa

        from dslint.dataset import SharedText

        self.index = frame.index
        self.columns: dict[str, Any] = {}
        self.arrow: set[str] = set()
        for name in frame.columns:
            values = frame[name].array
            if isinstance(values, pd.arrays.ArrowStringArray):
                chunks = pa.chunked_array(values.__arrow_array__())
                shared = SharedText.of(chunks.chunk(0)) if chunks.num_chunks == 1 else None
                self.columns[name] = shared if shared is not None else chunks
                self.arrow.add(name)
            else:
                self.columns[name] = values

    @property
    def descriptors(self) -> tuple[int, ...]:
        """The memory files the helper must inherit to map the shared columns."""
        from dslint.dataset import SharedText

        return tuple(v.descriptor for v in self.columns.values() if isinstance(v, SharedText))

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        from dslint.dataset import SharedText

        data = {
            name: pd.arrays.ArrowStringArray(
                values.array() if isinstance(values, SharedText) else values
            )
            if name in self.arrow
            else values
            for name, values in self.columns.items()
        }
        frame: pd.DataFrame = pd.DataFrame(data, index=self.index)
        return frame


@dataclass(frozen=True)
class RulesJob:
    config: Config
    today: dt.date
    codes: tuple[str, ...]
    records: Frame
    messages: Frame
    files: list[FileInfo]
    cache: tuple[Path, bytes] | None
    rows: RowStore | None  # the row memos' file; what the helper keeps comes back


@dataclass
class RulesResult:
    hits: dict[str, list[Hit]]  # by rule code
    notes: dict[str, list[str]]
    derived: dict[str, Any]  # the dataset.cache entries the rules made
    cache_entries: dict[Path, Any]
    rows: dict[str, Any]  # the row memo columns the rules kept
    pid: int


def run_rules(job: RulesJob) -> RulesResult:
    """Run the named dataset rules on the frames (in the helper process)."""
    from dslint.cache import Cache, memos
    from dslint.dataset import Dataset
    from dslint.engine import Engine, release_shared

    cache = Cache(*job.cache) if job.cache is not None else None
    engine = Engine(job.config, today=job.today, cache=cache)
    dataset = Dataset(job.records.frame(), job.messages.frame(), job.files)
    dataset.rows = job.rows
    hits: dict[str, list[Hit]] = {}
    notes: dict[str, list[str]] = {}
    with memos(engine.context.memo):
        for rule in engine.dataset_rules:
            if rule.code in job.codes:
                hits[rule.code], notes[rule.code] = engine.collect(rule, dataset)
    # The entries rules share (a family's replies, with their text) stay here: this
    # process's own rules made their own, and they would be sent back for nothing.
    release_shared(dataset, engine.dataset_rules, [])
    return RulesResult(
        hits=hits,
        notes=notes,
        derived=dataset.cache,
        cache_entries=cache.export() if cache is not None else {},
        rows=job.rows.kept if job.rows is not None else {},
        pid=os.getpid(),
    )


class Offloaded:
    """The offloaded rules of one dataset: started at once, collected with :meth:`result`."""

    def __init__(self, engine: Engine, dataset: Dataset, rules: list[DatasetRule]) -> None:
        from dslint.helper import Call

        self.rules = rules
        cache = engine.context.cache
        self.job = RulesJob(
            config=engine.config,
            today=engine.context.today,
            codes=tuple(rule.code for rule in rules),
            # Taken now: the token rules add columns to the frames while they are sent.
            records=Frame(dataset.records),
            messages=Frame(dataset.messages),
            files=dataset.files,
            cache=cache.location() if cache is not None else None,
            rows=dataset.rows,
        )
        descriptors = self.job.records.descriptors + self.job.messages.descriptors
        self._call = Call(__name__, "run_rules", self.job, pass_fds=descriptors, spare=SPARE)

    def close(self) -> None:
        """Stop the helper (the run was interrupted)."""
        self._call.cancel()

    def result(self) -> RulesResult | None:
        """The helper's result, or None when it failed (the engine then runs the rules)."""
        result = self._call.result()
        return result if isinstance(result, RulesResult) else None


def choose(engine: Engine, dataset: Dataset) -> list[DatasetRule]:
    """The dataset rules worth running in a helper for this dataset (often none)."""
    from dslint import shards
    from dslint.helper import available

    size = sum(f.size for f in dataset.files)
    if size < shards.MIN_BYTES or not available():
        return []
    return away(engine.dataset_rules)
