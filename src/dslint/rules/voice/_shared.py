"""What the voice rules share in one run: settings, the profile, the rows and one scan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from dslint.dataset import Dataset
from dslint.finding import Hit, Severity
from dslint.rules.voice._text import Joined, rows_for_roles
from dslint.rules.voice.profile import Profile, compile_entries, load_profile
from dslint.rules.voice.settings import VoiceSettings, settings
from dslint.textutil import excerpt

if TYPE_CHECKING:
    from dslint.rule import Rule


def voice_settings(rule: Rule) -> VoiceSettings:
    return settings(rule.context.config)


def profile_for(rule: Rule, dataset: Dataset) -> Profile:
    """The configured profile, or the built-in generic persona checks when none is."""
    cached = dataset.cache.get("voice.profile")
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
        dataset.cache["voice.profile"] = cached
    profile: Profile = cached
    return profile


def checked_rows(rule: Rule, dataset: Dataset) -> pd.DataFrame:
    """Rows of the roles the profile (or ``[tool.dslint.voice] roles``) applies to."""
    profile = profile_for(rule, dataset)
    roles = profile.roles or voice_settings(rule).roles
    return rows_for_roles(dataset, roles)


def joined_texts(dataset: Dataset, rows: pd.DataFrame, key: str) -> Joined:
    cache_key = "voice.joined." + key
    cached = dataset.cache.get(cache_key)
    if cached is None:
        cached = Joined.of(rows["text"].tolist())
        dataset.cache[cache_key] = cached
    joined: Joined = cached
    return joined


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
    (a column-wise Arrow pass per entry): a row that can only hold one entry is scanned with
    that entry's pattern alone, which gives the same matches as the alternation (no other
    branch can match anywhere in it); only rows that may hold several entries are scanned
    with the whole alternation, so leftmost-first overlaps resolve exactly as before.
    """
    cached = dataset.cache.get("voice.profile.matches")
    if cached is None:
        profile = profile_for(rule, dataset)
        rows = checked_rows(rule, dataset)
        candidates = _prefiltered(rows, profile.prefilter)
        texts = rows["text"].to_numpy()[candidates]
        cached = []
        if profile.pattern is not None and len(candidates):
            for subset, pattern, entries in _scan_plan(profile, texts):
                joined = Joined.of(texts[subset].tolist())
                for piece, match, offset in joined.scan(pattern):
                    group = match.lastindex or 0
                    start = match.start() - offset
                    cached.append(TermMatch(int(candidates[subset[piece]]), start,
                                            start + len(match.group()), entries[group - 1],
                                            match.group()))  # fmt: skip
            cached.sort(key=lambda m: (m.row, m.start))
        dataset.cache["voice.profile.matches"] = cached
    matches: list[TermMatch] = cached
    return matches


def _scan_plan(
    profile: Profile, texts: np.ndarray[Any, Any]
) -> list[tuple[np.ndarray[Any, Any], Any, list[int]]]:
    """(positions in ``texts``, pattern, entry index of each group) to scan, covering all."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import regex

    everything = np.arange(len(texts))
    entries = profile.entries
    combined = (everything, profile.pattern, list(range(len(entries))))
    if len(entries) < 2 or any(not e.source for e in entries):
        return [combined]
    column = pa.array(texts.tolist(), type=pa.large_string())
    found: dict[str, np.ndarray[Any, Any]] = {}
    hits = np.zeros((len(entries), len(texts)), dtype=bool)
    for index, entry in enumerate(entries):
        if entry.loose not in found:
            try:
                matched = pc.match_substring_regex(column, entry.loose, ignore_case=True)
                found[entry.loose] = matched.to_numpy(zero_copy_only=False)
            except (ValueError, TypeError, ArrowException):
                found[entry.loose] = np.ones(len(texts), dtype=bool)  # RE2 cannot tell
        hits[index] = found[entry.loose]
    alone = hits.sum(axis=0) == 1
    plan = []
    for index, entry in enumerate(entries):
        mine = np.flatnonzero(alone & hits[index])
        if len(mine):
            plan.append((mine, regex.compile(f"({entry.source})"), [index]))
    shared = np.flatnonzero(~alone)
    if len(shared):
        plan.append((shared, profile.pattern, combined[2]))
    return plan


def _prefiltered(rows: pd.DataFrame, prefilter: str) -> np.ndarray[Any, Any]:
    """Positions of the rows the RE2 prefilter keeps (all rows if RE2 rejects the pattern).

    Arrow's ``match_substring_regex`` uses RE2, a linear-time automaton that handles a long
    alternation in one pass over the column.
    """
    everything = np.arange(len(rows))
    if not prefilter or rows.empty:
        return everything
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        column = pa.array(rows["text"].array, type=pa.large_string())
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
    return Hit(
        message,
        str(rows["pointer"].iat[row]),
        span=span,
        record=int(rows["record"].to_numpy()[row]),
        severity=severity,
        key=key,
    )


def quote(text: str) -> str:
    return f"“{excerpt(text, 40)}”"
