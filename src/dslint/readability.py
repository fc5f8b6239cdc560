"""Reading-grade statistics and formulas, shared by Vale's ``readability`` check
(:mod:`dslint.vale.checks`) and V005's reading grade (:mod:`dslint.rules.voice.limits`).

A module of its own so that V005 does not import the Vale check kinds (about 0.02 s of a
pre-commit run that has no Vale style).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

_WORDS = regex.compile(r"[A-Za-z0-9'’]+")
_SENTENCES = regex.compile(r"[.!?]+(?=\s|$)")
_VOWELS = regex.compile(r"[aeiouy]+")


@dataclass(frozen=True)
class TextStatistics:
    words: int
    sentences: int
    syllables: int
    polysyllables: int
    letters: int
    complex_words: int
    long_words: int


def syllables(word: str) -> int:
    word = word.lower().strip("'’")
    if len(word) <= 3:
        return 1
    if word.endswith("e") and not word.endswith(("le", "ee")):
        word = word[:-1]
    return max(1, len(_VOWELS.findall(word)))


def text_statistics(text: str) -> TextStatistics:
    words = _WORDS.findall(text)
    counts = [syllables(w) for w in words]
    return TextStatistics(
        words=len(words),
        sentences=max(1, len(_SENTENCES.findall(text))) if words else 0,
        syllables=sum(counts),
        polysyllables=sum(1 for c in counts if c >= 3),
        letters=sum(len(w) for w in words),
        complex_words=sum(1 for c in counts if c >= 3),
        long_words=sum(1 for w in words if len(w) > 6),
    )


def _per(a: Any, b: Any) -> Any:
    """a / b, and 0 where b is 0 (works on numbers and on numpy columns alike)."""
    if isinstance(b, np.ndarray):
        return np.where(b > 0, a / np.maximum(b, 1e-9), 0.0)
    return a / b if b else 0.0


GRADE_METRICS: dict[str, Callable[[TextStatistics], Any]] = {
    "Flesch-Kincaid": lambda s: (
        0.39 * _per(s.words, s.sentences) + 11.8 * _per(s.syllables, s.words) - 15.59
    ),
    "Gunning Fog": lambda s: (
        0.4 * (_per(s.words, s.sentences) + 100 * _per(s.complex_words, s.words))
    ),
    "Coleman-Liau": lambda s: (
        0.0588 * 100 * _per(s.letters, s.words) - 0.296 * 100 * _per(s.sentences, s.words) - 15.8
    ),
    "SMOG": lambda s: 1.043 * math.sqrt(s.polysyllables * _per(30, s.sentences)) + 3.1291,
    "Automated Readability": lambda s: (
        4.71 * _per(s.letters, s.words) + 0.5 * _per(s.words, s.sentences) - 21.43
    ),
}
