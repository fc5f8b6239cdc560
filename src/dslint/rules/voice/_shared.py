"""What the voice rules share in one run: settings, the profile, the rows and one scan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from dslint.dataset import Dataset
from dslint.finding import Hit, Severity
from dslint.rules.voice._keys import PROFILE
from dslint.rules.voice._text import (
    Joined,
    blocks,
    count_by_block,
    remembered_count,
    row_text,
    rows_for_roles,
)
from dslint.rules.voice.profile import Profile, compile_entries, load_profile
from dslint.rules.voice.settings import VoiceSettings, settings
from dslint.textutil import excerpt

if TYPE_CHECKING:
    from dslint.rule import Rule


def voice_settings(rule: Rule) -> VoiceSettings:
    return settings(rule.context.config)


def profile_for(rule: Rule, dataset: Dataset) -> Profile:
    """The configured profile, or the built-in generic persona checks when none is."""
    cached = dataset.cache.get(PROFILE)
    if cached is None:
        path = voice_settings(rule).profile
        if path is not None:
            cached = load_profile(path)
        else:
            entries, pattern, prefilter = compile_entries(
                None, (), (), (), (), {}, (), (), "built-in"
            )
            cached = Profile(name="built-in", source="built-in", entries=entries,
                             pattern=pattern, prefilter=prefilter)  # fmt: skip
        dataset.cache[PROFILE] = cached
    profile: Profile = cached
    return profile


def checked_rows(rule: Rule, dataset: Dataset) -> pd.DataFrame:
    """Rows of the roles the profile (or ``[tool.dslint.voice] roles``) applies to."""
    profile = profile_for(rule, dataset)
    roles = profile.roles or voice_settings(rule).roles
    return rows_for_roles(dataset, roles)


@dataclass(frozen=True)
class TermMatch:
    row: int  # position in the checked rows
    start: int
    end: int
    entry: int  # index into profile.entries
    text: str


def profile_matches(rule: Rule, dataset: Dataset) -> list[TermMatch]:
    """Every match of the profile's combined pattern in the checked rows (one scan, shared).

    The combined alternation is slow in the ``regex`` engine (every branch is tried at every
    position). So the rows are first sorted by which entries' loose RE2 forms they contain
    (column-wise Arrow passes, see :func:`_scan_plan`): a row that can only hold one entry is
    scanned with that entry's pattern alone, which gives the same matches as the alternation
    (no other branch can match anywhere in it); only rows that may hold several entries are
    scanned with the whole alternation, so leftmost-first overlaps resolve exactly as before.
    """
    cached = dataset.cache.get(PROFILE + ".matches")
    if cached is None:
        profile = profile_for(rule, dataset)
        rows = checked_rows(rule, dataset)
        cached = []
        if profile.pattern is not None and not rows.empty:
            candidates, subset = _candidates(dataset, rows, profile.prefilter)
            for positions, pattern, entries in _scan_plan(profile, subset):
                joined = Joined.of(subset.take(positions).to_pylist())
                for piece, match, offset in joined.scan(pattern):
                    group = match.lastindex or 0
                    start = match.start() - offset
                    cached.append(TermMatch(int(candidates[positions[piece]]), start,
                                            start + len(match.group()), entries[group - 1],
                                            match.group()))  # fmt: skip
            cached.sort(key=lambda m: (m.row, m.start))
        dataset.cache[PROFILE + ".matches"] = cached
    matches: list[TermMatch] = cached
    return matches


def _candidates(dataset: Dataset, rows: pd.DataFrame, prefilter: str) -> tuple[Any, Any]:
    """(positions, their texts as one Arrow array) of the checked rows the prefilter keeps.

    Whether a row's text passes the prefilter depends on that text and the prefilter alone,
    so it goes through the row memos (namespace ``voice.terms``, the prefilter its version):
    a re-run runs RE2 over the rows of new and edited lines only, where the pass over every
    reply was three quarters of V001's time on the re-run of the 100k benchmark file."""
    import pyarrow as pa

    text = row_text(rows)

    def kept(selected: Any) -> Any:
        def in_block(block: pd.Series, _: Any) -> Any:
            flags = np.zeros(len(block), dtype=np.int64)
            flags[_prefiltered(_arrow(block), prefilter)] = 1
            return flags

        return count_by_block(text, selected, in_block)

    positions = np.flatnonzero(remembered_count(dataset, rows, "voice.terms", prefilter, kept))
    pieces = [_arrow(text.iloc[positions[block]]) for block in blocks(len(positions))]
    subset = pa.concat_arrays(pieces) if pieces else pa.array([], pa.large_string())
    return positions, subset


def _arrow(text: pd.Series) -> Any:
    import pyarrow as pa

    column = pa.array(text.array, type=pa.large_string())
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


Plan = list[tuple[np.ndarray[Any, Any], Any, list[int]]]


def _scan_plan(profile: Profile, column: Any) -> Plan:
    """(positions in ``column``, pattern, entry index of each group), covering every row.

    One Arrow pass finds, per row, the entry whose loose form matches first; one more pass
    per such entry tells whether any other entry's loose form is in the row too.
    """
    import pyarrow.compute as pc
    import regex

    everything = np.arange(len(column))
    entries = profile.entries
    combined = (everything, profile.pattern, list(range(len(entries))))
    loose = list(dict.fromkeys(e.loose for e in entries))
    if len(entries) < 2 or any(not e.source for e in entries):
        return [combined]
    try:
        import pyarrow as pa

        empty = pa.array([""], type=pa.large_string())
        if any(pc.match_substring_regex(empty, form).to_pylist()[0] for form in loose):
            return [combined]  # a form matching nothing would hide which entry matched
        named = "|".join(f"(?P<e{i}>{form})" for i, form in enumerate(loose))
        found = pc.extract_regex(column, f"(?i:{named})")
        first = np.full(len(column), -1)
        for index in range(len(loose)):
            matched = pc.not_equal(found.field(f"e{index}"), "").fill_null(False)
            first[matched.to_numpy(zero_copy_only=False)] = index
        plan: Plan = []
        shared = [np.flatnonzero(first < 0)]
        for index in np.unique(first[first >= 0]).tolist():
            mine = np.flatnonzero(first == index)
            owners = [i for i, e in enumerate(entries) if e.loose == loose[index]]
            others = "|".join(f"(?:{form})" for i, form in enumerate(loose) if i != index)
            if others:
                more = pc.match_substring_regex(column.take(mine), others, ignore_case=True)
                more = more.to_numpy(zero_copy_only=False)
            else:
                more = np.zeros(len(mine), dtype=bool)
            if len(owners) == 1:
                shared.append(mine[more])
                alone = mine[~more]
                if len(alone):
                    entry = entries[owners[0]]
                    plan.append((alone, regex.compile(f"({entry.source})"), owners))
            else:
                shared.append(mine)  # two entries share this form: let the alternation choose
    except (ValueError, TypeError, ArrowException):
        return [combined]
    rest = np.sort(np.concatenate(shared))
    if len(rest):
        plan.append((rest, profile.pattern, combined[2]))
    return plan


def _prefiltered(column: Any, prefilter: str) -> np.ndarray[Any, Any]:
    """Positions of the rows the RE2 prefilter keeps (all rows if RE2 rejects the pattern).

    Arrow's ``match_substring_regex`` uses RE2, a linear-time automaton that handles a long
    alternation in one pass over the column.
    """
    everything = np.arange(len(column))
    if not prefilter or not len(column):
        return everything
    import pyarrow.compute as pc

    try:
        found = pc.match_substring_regex(column, prefilter, ignore_case=True)
    except (ValueError, TypeError, ArrowException):
        return everything
    return np.flatnonzero(found.to_numpy(zero_copy_only=False))


def text_hit(
    rows: pd.DataFrame,
    row: int,
    message: str,
    span: tuple[int, int] | None = None,
    severity: Severity | None = None,
    key: str = "",
) -> Hit:
    pointers, records = _hit_columns(rows)
    return Hit(
        message, str(pointers[row]), span=span, record=int(records[row]), severity=severity, key=key
    )


class _HitColumns:
    """The pointer and record columns of a rows frame as numpy arrays, kept on the frame."""

    __slots__ = ("pointers", "records")

    def __init__(self, rows: pd.DataFrame) -> None:
        self.pointers = rows["pointer"].to_numpy()
        self.records = rows["record"].to_numpy()


def _hit_columns(rows: pd.DataFrame) -> tuple[Any, Any]:
    # Reading one cell through pandas costs microseconds; a rule with thousands of hits
    # reads the two columns once. The frames are the memoised rows of this run.
    found = rows.__dict__.get("_voice_hit_columns")
    if found is None:
        found = _HitColumns(rows)
        object.__setattr__(rows, "_voice_hit_columns", found)
    return found.pointers, found.records


def quote(text: str) -> str:
    return f"“{excerpt(text, 40)}”"
