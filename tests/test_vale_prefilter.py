"""V013's RE2 prefilter: it may keep too many messages, never too few, so alerts never change."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from dslint.vale import load_style, run
from dslint.vale.checks import Corpus, count_per_piece
from dslint.vale.prefilter import loosen, useful

VALE = SHARED / "vale"
STYLES = ("Microsoft", "Google")
needs_vale = pytest.mark.skipif(not VALE.is_dir(), reason="../shared/vale is absent")

# Patterns shaped like the styles' own: word lists in boundaries, lookarounds, classes,
# counted repeats, backreferences, inline flags, escapes, non-ASCII literals.
PATTERNS = [
    (r"\b(?:are not|cannot|it is(?!\.)|it's(?=\.))\b", True),
    (r"(?:^|\s)I(?=\s)|\bI'm\b|\bme\b", True),
    (r"\b(\w+)\s+\1\b", False),
    (r"\b[A-Z]{2,5}s?\b", False),
    (r"(?<!\d)\d{1,2}(?:st|nd|rd|th)\b", False),
    (r"\b(?i:e\.g\.|i\.e\.)(?=\s)", False),
    (r"(?i)\bstraße\b|café", False),
    (r"naïve|\bİstanbul\b", True),
    (r"\w+ly-\w+", False),
    (r"\x41\u00e9\t[^\n]{0,3}$", False),
    (r"(?P<word>is)\s+(?P=word)", True),
    (r"a{,2}b{1001}|c{2,}?d++", False),
    (r"\bI\b", True),
]
ALPHABET = [*"aAbBcdeEiIsSlMtT y.,'-\t\n123",
    "İ", "ı", "ſ", "K", "é", "ß", "ö", "\x00", "\u00a0", "\u2003", "😀", "st", "is ",
    "are not", "It is", "it's.", "e.g. ", "I'm", " me ", "ly-", "İstanbul", "naïve", "café",
]  # fmt: skip


def re2_matches(source: str, ignore_case: bool, text: str) -> bool:
    found = pc.match_substring_regex(pa.array([text]), source, ignore_case=ignore_case)
    return bool(found.to_pylist()[0])


@given(st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_re2_form_matches_whenever_the_pattern_does(text: str) -> None:
    for source, ignorecase in PATTERNS:
        prefilter = loosen(source, ignorecase)
        assert prefilter is not None, source
        compiled = regex.compile(source, regex.V0 | (regex.IGNORECASE if ignorecase else 0))
        if compiled.search(text):
            assert re2_matches(prefilter.source, prefilter.ignore_case, text), (source, text)


@pytest.mark.parametrize("letter", list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
def test_case_folding_covers_every_code_point_python_folds(letter: str) -> None:
    # Python's engine folds U+0130 and U+0131 to i/I, RE2 does not: the form spells them out.
    every = "".join(chr(c) for c in range(1, 0x30000) if not 0xD800 <= c < 0xE000)
    python = set(regex.findall(letter, every, regex.IGNORECASE | regex.V0))
    prefilter = loosen(letter, True)
    assert prefilter is not None
    column = pa.array(sorted(python))
    found = pc.match_substring_regex(column, prefilter.source, ignore_case=True)
    assert all(found.to_pylist()), letter


@pytest.mark.parametrize(
    "source",
    [r"(?x) a b # verbose", r"(a)?(?(1)b|c)", r"(?:cat){e<=1}", r"(?V1)[[a-z]--[aeiou]]",
     r"\N{EM DASH}", r"a\0b", r"(?r)abc", r"(?1)"],
)  # fmt: skip
def test_syntax_it_does_not_cover_means_no_prefilter(source: str) -> None:
    assert loosen(source, False) is None


def test_a_form_of_wildcards_alone_is_not_used() -> None:
    assert useful(loosen(r"\b\w+\b", False)) is None
    assert useful(loosen(r"[A-Z]{2,}", False)) is None
    kept = useful(loosen(r"\b(?:foo|[Bb]ar)\b", True))
    assert kept is not None and kept.source == "(?:foo|(?s:.)ar)"


def test_text_arrow_cannot_hold_is_scanned_in_full() -> None:
    corpus = Corpus(["fine", "lone \ud800 surrogate"])
    prefilter = loosen("fine", False)
    assert corpus.candidates(prefilter) is None


def sample() -> list[str]:
    """Messages built from the styles' own fixture lines, mixed with awkward text."""
    lines: list[str] = []
    for style in STYLES:
        for path in sorted((VALE / style / "fixtures").glob("*/test.md")):
            lines += [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    awkward = ["```\ncode it is\n```", "`cannot`", "[link](http://x.y/utilize)", "<!-- are not -->",
               "# Heading Is Here", "- it is a list item", "> we are quoting", "İt is.", "Straße",
               "😀 I'm", "e.g. this", "1st 2nd", "a\u00a0b", "Hello.\u2003World", "\t\v\x1c"]  # fmt: skip
    rng = random.Random(7)
    plain = ["The parcel will arrive within five days.", "Thanks for reaching out!",
             "Your refund was processed.", "Sure, here is the summary you asked for."]  # fmt: skip
    texts = []
    for _ in range(1500):
        if rng.random() < 0.6:
            texts.append(" ".join(rng.choice(plain) for _ in range(rng.randint(1, 4))))
        else:
            pool = lines + awkward
            texts.append("\n\n".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
    return texts


@needs_vale
@pytest.mark.parametrize("style_name", STYLES)
def test_prefilter_keeps_every_alert_on_a_generated_sample(style_name: str) -> None:
    style = load_style(VALE / style_name / style_name)
    texts = sample()
    fast = list(run([style], texts, prefilter=True))
    full = list(run([style], texts, prefilter=False))
    assert fast == full
    assert len(full) > 500
    # The prefilter did skip messages for most rules; otherwise this test proves nothing.
    corpus = Corpus(texts)
    narrowed = [c.name for c in style.checks if corpus.candidates(c.prefilter) is not None]
    assert len(narrowed) >= len(style.checks) // 3, narrowed


@pytest.mark.parametrize("source", [r"\b(\w+)\b", r"\s+", r"(?s).{3}", r"x*", r"[.!?]"])
def test_occurrence_counts_equal_counting_the_scan(source: str) -> None:
    from dslint.rules.voice._text import Joined

    pattern = regex.compile(source, regex.MULTILINE | regex.V0)
    pieces = [*sample()[:300], "", "a", "  ", "end.", "", "x\n\nx"]
    joined = Joined.of(pieces)
    expected = np.zeros(len(pieces), dtype=np.int64)
    for piece, _, _ in joined.scan(pattern):
        expected[piece] += 1
    assert count_per_piece(joined, pattern).tolist() == expected.tolist()
