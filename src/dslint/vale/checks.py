"""Vale's check kinds, compiled once and run over many messages at once.

Semantics follow Vale's documentation for each ``extends`` kind: ``tokens`` joined into one
alternation inside word boundaries unless ``nonword``; ``raw`` prepended (or appended with
``append``); ``ignorecase``; ``swap`` keys tried longest first, each in its own group so the
matched key names its replacement; ``%s`` filled with the match (existence) or with the
replacement and the match (substitution, where ``a|b`` reads ``'a' or 'b'``); ``exceptions``
compared with the whole match; ``level`` suggestion/warning/error.

Every check of a scope scans the scope's joined text once (see
:class:`dslint.rules.voice._text.Joined`), never a loop over messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import regex

from dslint.readability import GRADE_METRICS, text_statistics
from dslint.vale.markdown import Blocks, Segment, blocks
from dslint.vale.prefilter import Prefilter, loosen, useful

SUPPORTED = (
    "existence", "substitution", "occurrence", "repetition", "consistency", "capitalization",
    "conditional", "readability",
)  # fmt: skip


@dataclass(frozen=True)
class Alert:
    piece: int  # index of the message in the corpus
    start: int  # character offsets inside the message
    end: int
    rule: str  # Style.Rule
    message: str
    level: str
    preferred: str | None = None


if TYPE_CHECKING:
    from dslint.rules.voice._text import Joined

ScopeView = tuple["Joined", "np.ndarray[Any, Any]", "np.ndarray[Any, Any]"]

# Above this share of messages kept, a prefilter saves nothing: the whole scope, joined once
# and shared by every rule, is scanned instead (the findings are the same either way).
_WORTH_SUBSET = 0.5


class Corpus:
    """Messages cut into Vale's scopes, each scope joined once for scanning.

    ``prefilter=False`` scans every message with every rule (the reference the prefiltered
    path is tested against).
    """

    def __init__(self, texts: Sequence[str], *, prefilter: bool = True) -> None:
        self.texts = texts
        self.prefilter = prefilter
        self._blocks: list[Blocks | None] = [None] * len(texts)
        self._scopes: dict[str, ScopeView] = {}
        self._column: Any = None
        self._kept: dict[tuple[str, bool], np.ndarray[Any, Any] | None] = {}

    def block(self, index: int) -> Blocks:
        found = self._blocks[index]
        if found is None:
            found = self._blocks[index] = blocks(self.texts[index])
        return found

    @property
    def blocks(self) -> list[Blocks]:
        return [self.block(i) for i in range(len(self.texts))]

    def candidates(self, prefilter: Prefilter | None) -> np.ndarray[Any, Any] | None:
        """Messages the RE2 form may match, or None for "all of them" (see prefilter.py)."""
        if prefilter is None or not self.prefilter or not self.texts:
            return None
        key = (prefilter.source, prefilter.ignore_case)
        if key not in self._kept:
            self._kept[key] = self._match(prefilter)
        return self._kept[key]

    def _match(self, prefilter: Prefilter) -> np.ndarray[Any, Any] | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            if self._column is None:
                self._column = pa.array(self.texts, type=pa.large_string())
            found = pc.match_substring_regex(
                self._column, prefilter.source, ignore_case=prefilter.ignore_case
            )
        except (pa.ArrowException, UnicodeError, TypeError, ValueError):
            # Text Arrow cannot hold (lone surrogates) or a form RE2 refuses: scan it all.
            return None
        kept = np.flatnonzero(found.to_numpy(zero_copy_only=False))
        return None if len(kept) > _WORTH_SUBSET * len(self.texts) else kept

    def scope(self, name: str, rows: np.ndarray[Any, Any] | None = None) -> ScopeView:
        """(joined segments, message index of each segment, segment start in its message).

        With ``rows``, only those messages' segments (a prefiltered rule's candidates).
        """
        if rows is not None:
            return self._join(name, (int(r) for r in rows))
        found = self._scopes.get(name)
        if found is None:
            found = self._scopes[name] = self._join(name, range(len(self.texts)))
        return found

    def _join(self, name: str, rows: Iterable[int]) -> ScopeView:
        # Imported here: dslint.rules.voice imports this module (readability statistics).
        from dslint.rules.voice._text import Joined

        owners: list[int] = []
        segments: list[Segment] = []
        for index in rows:
            parts = self._segments(name, index)
            owners.extend([index] * len(parts))
            segments.extend(parts)
        return (
            Joined.of([s.text for s in segments]),
            np.asarray(owners, dtype=np.int64),
            np.asarray([s.start for s in segments], dtype=np.int64),
        )

    def _segments(self, name: str, index: int) -> Sequence[Segment]:
        if name == "raw":
            return [Segment(0, self.texts[index])]
        if name == "none":
            return ()
        parts = self.block(index)
        if name == "heading":
            return parts.headings
        if name == "paragraph":
            return parts.paragraphs
        if name == "list":
            return parts.items
        if name == "quote":
            return parts.quotes
        if name == "sentence":
            return parts.sentences()
        if name == "text":
            return parts.text_blocks
        return ()


def scope_of(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value or ["text"])
    joined = " ".join(str(n) for n in names)
    for word, scope in (("heading", "heading"), ("sentence", "sentence"),
                        ("paragraph", "paragraph"), ("list", "list"),
                        ("blockquote", "quote"), ("raw", "raw")):  # fmt: skip
        if word in joined:
            return scope
    if any(n in ("text", "summary", "") or n.startswith("~") for n in names):
        return "text"
    return "none"  # alt text, titles, tables, code: not present in a chat message


def fill(message: str, *values: str) -> str:
    """Go's ``%s`` formatting as Vale uses it: as many values as there are verbs."""
    out = []
    i = 0
    used = 0
    while i < len(message):
        if message.startswith("%%", i):
            out.append("%")
            i += 2
        elif message.startswith("%s", i) and used < len(values):
            out.append(values[used])
            used += 1
            i += 2
        else:
            out.append(message[i])
            i += 1
    return "".join(out)


def _flags(ignorecase: bool) -> int:
    return int(regex.MULTILINE | regex.V0 | (regex.IGNORECASE if ignorecase else 0))


def _exceptions(values: Any, ignorecase: bool) -> Any:
    words = [str(v) for v in values or [] if str(v).strip()]
    if not words:
        return None
    return regex.compile("(?:" + "|".join(words) + ")", _flags(ignorecase))


def _excepted(pattern: Any, observed: str) -> bool:
    return pattern is not None and pattern.fullmatch(observed) is not None


@dataclass
class Check:
    name: str
    kind: str
    level: str
    message: str
    scope: str
    definition: dict[str, Any] = field(repr=False)

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        raise NotImplementedError

    def filter_pattern(self) -> Any:
        """The compiled pattern a message must match for this rule to fire, if there is one."""
        return None

    @cached_property
    def prefilter(self) -> Prefilter | None:
        pattern = self.filter_pattern()
        if pattern is None:
            return None
        return useful(loosen(pattern.pattern, bool(pattern.flags & regex.IGNORECASE)))

    def rows(self, corpus: Corpus) -> np.ndarray[Any, Any] | None:
        """The messages worth scanning (None: all)."""
        return corpus.candidates(self.prefilter)

    def alert(self, piece: int, start: int, end: int, message: str,
              preferred: str | None = None) -> Alert:  # fmt: skip
        return Alert(piece, start, end, self.name, message, self.level, preferred)

    def scan(
        self, corpus: Corpus, pattern: Any, rows: np.ndarray[Any, Any] | None = None
    ) -> Iterator[tuple[int, int, Any]]:
        """(message index, offset of the match's segment in its message, match)."""
        joined, owners, starts = corpus.scope(self.scope, rows)
        for segment, match, offset in joined.scan(pattern):
            yield int(owners[segment]), int(starts[segment]) - offset, match


_SPACES = regex.compile(r"[ \t]{2,}")


class Existence(Check):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        ignorecase = bool(d.get("ignorecase", False))
        tokens = [str(t) for t in d.get("tokens") or [] if str(t).strip()]
        raw = "".join(str(r) for r in d.get("raw") or [])
        if tokens:
            core = "|".join(tokens)
            core = rf"\b(?:{core})\b" if not d.get("nonword") else f"(?:{core})"
        else:
            core = ""
        source = core + raw if d.get("append") else raw + core
        if not source:
            raise ValueError(f"{self.name}: existence rule without tokens or raw")
        self.pattern = regex.compile(source, _flags(ignorecase))
        self.except_re = _exceptions(d.get("exceptions"), ignorecase)

    def filter_pattern(self) -> Any:
        return self.pattern

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        for piece, base, m in self.scan(corpus, self.pattern, self.rows(corpus)):
            if m.end() == m.start():
                continue
            if _excepted(self.except_re, m.group().strip()):
                continue
            # Vale quotes the rendered text, where a run of spaces reads as one.
            quoted = _SPACES.sub(" ", m.group())
            yield self.alert(piece, base + m.start(), base + m.end(), fill(self.message, quoted))


def _to_sentence(options: Sequence[str]) -> str:
    quoted = [f"'{o}'" for o in options]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return ", ".join([*quoted[:-1], "or " + quoted[-1]])


def _convert_message(message: str) -> str:
    for spec in ("'%s'", '"%s"'):
        if message.count(spec) == 2:
            message = message.replace(spec, "%s", 1)
    return message


def _cap_first(text: str) -> str:
    return text[:1].upper() + text[1:]


_CAPTURE = regex.compile(r"(?<!\\)\((?!\?)")


class Substitution(Check):
    """A swap table. A suggestion follows the case of a capitalised match ("Use 'Aren't'
    instead of 'Are not'" for a sentence that opens with it), as Microsoft's suite expects
    and Vale did before 3.4; current Vale does so only with ``capitalize: true``, which
    Google's suite records for its one such alert. ``match_case = False`` gives current
    Vale's behaviour (see docs/voice.md, "Vale styles")."""

    match_case = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        self.ignorecase = bool(d.get("ignorecase", False))
        swap = d.get("swap") or {}
        if not isinstance(swap, dict) or not swap:
            raise ValueError(f"{self.name}: substitution rule without 'swap'")
        keys = sorted((str(k) for k in swap), key=len, reverse=True)
        self.keys = keys
        self._key_patterns: dict[int, Any] = {}
        self.replacements = [str(swap[k]) for k in keys]
        body = "|".join("(" + _CAPTURE.sub("(?:", k) + ")" for k in keys)
        source = body if d.get("nonword") else rf"\b(?:{body})\b"
        self.pattern = regex.compile(source, _flags(self.ignorecase))
        self.except_re = _exceptions(d.get("exceptions"), self.ignorecase)
        action = d.get("action") or {}
        self.replace = (
            isinstance(action, dict)
            and action.get("name") == "replace"
            and not action.get("params")
        )
        self.capitalize = bool(d.get("capitalize", False))

    def filter_pattern(self) -> Any:
        return self.pattern

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        for piece, base, m in self.scan(corpus, self.pattern, self.rows(corpus)):
            group = m.lastindex
            if group is None or m.end() == m.start():
                continue
            observed = m.group(group).strip()
            expected = self._expected(group - 1, observed)
            capitalized = self._capitalised(observed)
            options = [o for o in expected.split("|") if o]
            if self.replace:
                same = observed in options
            else:
                same = regex.fullmatch(f"(?:{expected})", observed) is not None
            if same or _excepted(self.except_re, observed):
                continue
            message = self.message
            shown = expected
            if self.replace:
                if capitalized:  # Vale capitalises every option, not only the first
                    options = [_cap_first(o) for o in options]
                shown = _to_sentence(options)
                message = _convert_message(message)
            preferred = " or ".join(options)
            yield self.alert(piece, base + m.start(group), base + m.end(group),
                             fill(message, shown, observed), preferred)  # fmt: skip

    def _capitalised(self, observed: str) -> bool:
        """Is the suggestion capitalised for this match?"""
        if observed != _cap_first(observed):
            return False
        return self.capitalize or (self.match_case and observed[:1].isupper())

    def _expected(self, index: int, observed: str) -> str:
        """The swap value for this key: capitalised when the match is (see the class),
        ``$1``-style references filled from the key's own groups (Vale's ``subMsg``)."""
        expected = self.replacements[index]
        if self._capitalised(observed):
            expected = _cap_first(expected)
        if not _GROUP_REFERENCE.search(expected):
            return expected
        key = self._key_patterns.get(index)
        if key is None:  # compiled once per key, not once per match
            key = self._key_patterns[index] = regex.compile(
                self.keys[index], _flags(self.ignorecase)
            )
        template = _GROUP_REFERENCE.sub(
            lambda m: rf"\g<{m.group(1)}>", expected.replace("\\", "\\\\")
        )
        try:
            return str(key.sub(template, observed))
        except (regex.error, IndexError):
            return expected  # a reference to a group the key does not have: left as written


_GROUP_REFERENCE = regex.compile(r"\$(\d+)")


class Occurrence(Check):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        self.pattern = regex.compile(str(d["token"]), _flags(bool(d.get("ignorecase"))))
        self.max = d.get("max")
        self.min = d.get("min")

    def filter_pattern(self) -> Any:
        # With a minimum, a message without a single match is itself an alert.
        return self.pattern if self.min is None else None

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        joined, owners, starts = corpus.scope(self.scope, self.rows(corpus))
        counts = count_per_piece(joined, self.pattern)
        for segment, count in enumerate(counts.tolist()):
            text = joined.pieces[segment]
            too_many = self.max is not None and count > int(self.max)
            too_few = self.min is not None and count < int(self.min) and text.strip()
            if too_many or too_few:
                start = int(starts[segment])
                yield self.alert(int(owners[segment]), start, start + len(text),
                                 fill(self.message, str(count)))  # fmt: skip


def count_per_piece(joined: Joined, pattern: Any) -> np.ndarray[Any, Any]:
    """How many matches ``joined.scan(pattern)`` yields in each piece, counted with numpy.

    A sentence-length rule matches every word of every message: going through ``scan``'s
    generator per word is most of its cost. The same pieces are recounted on their own
    where a match crosses a separator, as ``scan`` does.
    """
    counts = np.zeros(len(joined.pieces), dtype=np.int64)
    if not joined.pieces:
        return counts
    spans = np.array([m.span() for m in pattern.finditer(joined.text)], dtype=np.int64)
    if not len(spans):
        return counts
    begins, ends = spans[:, 0], spans[:, 1]
    lengths = np.fromiter((len(p) for p in joined.pieces), dtype=np.int64, count=len(counts))
    first = np.searchsorted(joined.starts, begins, side="right") - 1
    last = np.searchsorted(joined.starts, np.maximum(ends - 1, begins), side="right") - 1
    piece_end = joined.starts[first] + lengths[first]
    crossing = (ends > piece_end) | (first != last) | (begins > piece_end)
    redo: set[int] = set()
    for crossed in np.flatnonzero(crossing):
        redo.update(range(int(first[crossed]), int(last[crossed]) + 1))
    counts = np.bincount(first, minlength=len(counts)).astype(np.int64)
    for piece in redo:
        counts[piece] = sum(1 for _ in pattern.finditer(joined.pieces[piece]))
    return counts


class Repetition(Check):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        tokens = [str(t) for t in d.get("tokens") or [r"[^\s]+"]]
        self.ignorecase = bool(d.get("ignorecase"))
        self.alpha = bool(d.get("alpha"))
        self.pattern = regex.compile("(?:" + "|".join(tokens) + ")", _flags(self.ignorecase))

    def filter_pattern(self) -> Any:
        return self.pattern

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        joined, owners, starts = corpus.scope(self.scope, self.rows(corpus))
        previous: tuple[int, Any] | None = None
        for segment, m, offset in joined.scan(self.pattern):
            word = m.group()
            if self.alpha and not any(c.isalpha() for c in word):
                previous = None
                continue
            if previous is not None and previous[0] == segment:
                last = previous[1]
                gap = joined.pieces[segment][last.end() - offset : m.start() - offset]
                same = (
                    last.group().lower() == word.lower()
                    if self.ignorecase
                    else last.group() == word
                )
                if same and gap.strip() == "" and gap:
                    base = int(starts[segment]) - offset
                    yield self.alert(int(owners[segment]), base + last.start(), base + m.end(),
                                     fill(self.message, word))  # fmt: skip
            previous = (segment, m)


class Consistency(Check):
    """Both spellings in one message: the one used second is reported."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        either = d.get("either") or {}
        if not isinstance(either, dict) or not either:
            raise ValueError(f"{self.name}: consistency rule without 'either'")
        self.pairs = [(str(a), str(b)) for a, b in either.items()]
        parts = []
        for a, b in self.pairs:
            parts += [f"({a})", f"({b})"]
        body = "|".join(parts)
        source = body if d.get("nonword") else rf"\b(?:{body})\b"
        self.pattern = regex.compile(source, _flags(bool(d.get("ignorecase"))))

    def filter_pattern(self) -> Any:
        return self.pattern

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        chosen: dict[tuple[int, int], int] = {}
        for piece, base, m in self.scan(corpus, self.pattern, self.rows(corpus)):
            group = m.lastindex
            if group is None:
                continue
            pair, side = divmod(group - 1, 2)
            first = chosen.setdefault((piece, pair), side)
            if first != side:
                preferred = self.pairs[pair][first]
                yield self.alert(piece, base + m.start(), base + m.end(),
                                 fill(self.message, m.group()), preferred)  # fmt: skip


SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "en",
        "for",
        "if",
        "in",
        "nor",
        "of",
        "on",
        "or",
        "per",
        "the",
        "to",
        "v",
        "v.",
        "vs",
        "vs.",
        "via",
        "with",
    ]
)
_WORD = regex.compile(r"[^\s]+")


def _letters(word: str) -> str:
    return "".join(c for c in word if c.isalpha())


class Capitalization(Check):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        self.match = str(d.get("match", "$sentence"))
        self.indicators = [str(i) for i in d.get("indicators") or []]
        self.except_re = _exceptions(d.get("exceptions"), False)
        self.threshold = float(d.get("threshold", 0.8))
        self.custom = None if self.match.startswith("$") else regex.compile(self.match)

    def _good(self, text: str) -> bool:
        if self.custom is not None:
            return self.custom.fullmatch(text) is not None
        if self.match == "$lower":
            return text == text.lower()
        if self.match == "$upper":
            return text == text.upper()
        words = [w for w in _WORD.findall(text) if _letters(w)]
        if not words:
            return True
        good = 0
        previous = ""
        for index, word in enumerate(words):
            letters = _letters(word)
            capital = letters[:1].isupper()
            after_indicator = any(previous.endswith(i) for i in self.indicators)
            if _excepted(self.except_re, word.strip(".,:;!?")):
                good += 1
            elif self.match == "$title":
                good += capital or (word.lower() in SMALL_WORDS and index > 0)
            elif index == 0 or after_indicator:
                good += capital
            else:
                good += not capital
            previous = word
        return (
            good / len(words) >= self.threshold if self.match == "$sentence" else good == len(words)
        )

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        joined, owners, starts = corpus.scope(self.scope)
        for segment, text in enumerate(joined.pieces):
            if text.strip() and not self._good(text):
                start = int(starts[segment])
                yield self.alert(int(owners[segment]), start, start + len(text),
                                 fill(self.message, text))  # fmt: skip


class Conditional(Check):
    """``first`` must not appear unless ``second`` (its definition) appears in the message."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        flags = _flags(bool(d.get("ignorecase")))
        self.first = regex.compile(str(d["first"]), flags)
        self.second = regex.compile(str(d["second"]), flags)
        self.except_re = _exceptions(d.get("exceptions"), False)

    def filter_pattern(self) -> Any:
        return self.first

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        # Definitions matter only in messages where ``first`` may occur.
        rows = self.rows(corpus)
        defined: dict[int, set[str]] = {}
        for piece, _, m in self.scan(corpus, self.second, rows):
            defined.setdefault(piece, set()).add(m.group(m.lastindex or 0))
        for piece, base, m in self.scan(corpus, self.first, rows):
            group = 1 if self.first.groups else 0
            term = m.group(group)
            if term in defined.get(piece, ()) or _excepted(self.except_re, term):
                continue
            yield self.alert(piece, base + m.start(group), base + m.end(group),
                             fill(self.message, term))  # fmt: skip


class Readability(Check):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        d = self.definition
        self.metrics = [str(m) for m in d.get("metrics") or ["Flesch-Kincaid"]]
        self.grade = float(d.get("grade", 8))
        unknown = [m for m in self.metrics if m not in GRADE_METRICS]
        if unknown:
            raise ValueError(f"{self.name}: unknown readability metric {unknown[0]!r}")

    def run(self, corpus: Corpus) -> Iterator[Alert]:
        for index, parts in enumerate(corpus.blocks):
            text = " ".join(s.text for s in parts.text_blocks)
            stats = text_statistics(text)
            if stats.words < 1 or stats.sentences < 1:
                continue
            score = sum(GRADE_METRICS[m](stats) for m in self.metrics) / len(self.metrics)
            if score > self.grade:
                yield self.alert(index, 0, len(corpus.texts[index]),
                                 fill(self.message, f"{score:.2f}"))  # fmt: skip


KINDS: dict[str, type[Check]] = {
    "existence": Existence,
    "substitution": Substitution,
    "occurrence": Occurrence,
    "repetition": Repetition,
    "consistency": Consistency,
    "capitalization": Capitalization,
    "conditional": Conditional,
    "readability": Readability,
}


def build_check(name: str, definition: dict[str, Any]) -> Check:
    kind = str(definition["extends"])
    level = str(definition.get("level", "suggestion"))
    if level not in ("suggestion", "warning", "error"):
        raise ValueError(f"level must be suggestion, warning or error, not {level!r}")
    default_scope = "heading" if kind == "capitalization" else "text"
    scope = scope_of(definition.get("scope", default_scope))
    message = str(definition.get("message", name))
    return KINDS[kind](name, kind, level, message, scope, definition)
