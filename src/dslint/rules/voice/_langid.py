"""py3langid's ``classify`` for many texts at once, with the same results.

py3langid scores a text by walking a byte automaton in a Python loop (about 0.2 ms for a
400-character reply), then one small matrix product. Here the automaton walks a batch of
texts in lockstep, one numpy step per byte position, and each text's features are then
scored exactly as py3langid does (same feature order, dtypes and arithmetic, so the same
floats). The walk reads the model's internals; should a py3langid version lay them out
otherwise, the first texts of every batch are compared with ``classify`` and any
difference (or a missing attribute) falls back to ``classify`` itself.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dslint import derived

BATCH = 512  # texts walked together (sorted by length, so little padding)
VERIFY = 4  # texts per batch also classified the library's way, as a check
# Fewer texts than this are classified the library's way: preparing the walker's tables
# (widening 67 MB of the model) takes about 0.05 s, the time of some 250 classify calls.
DIRECT = 256


def classify_many(identifier: Any, texts: Sequence[str]) -> list[tuple[str, float]]:
    """``[identifier.classify(t) for t in texts]``, computed faster."""
    if not texts:
        return []
    if len(texts) < DIRECT and id(identifier) not in _WALKERS:
        return [identifier.classify(t) for t in texts]
    try:
        walker = _walker(identifier)
    except (AttributeError, TypeError, ValueError):
        return [identifier.classify(t) for t in texts]
    results: list[tuple[str, float]] = [("", 0.0)] * len(texts)
    encoded = [identifier._encode(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    for begin in range(0, len(order), BATCH):
        batch = order[begin : begin + BATCH]
        found = walker.classify([encoded[i] for i in batch])
        checked = batch[:: max(1, len(batch) // VERIFY)][:VERIFY]
        expected = [identifier.classify(texts[i]) for i in checked]
        if expected != [found[batch.index(i)] for i in checked]:
            return [identifier.classify(t) for t in texts]
        for index, result in zip(batch, found, strict=True):
            results[index] = result
    return results


# Bump when the arrays kept by load_identifier change (dslint.derived keys copies by it).
MODEL_LAYOUT = "py3langid-model-1"


def load_identifier() -> Any:
    """py3langid's model with normalised probabilities, as ``LanguageIdentifier.from_model_file``
    builds it, but from an unpacked copy of its LZMA file (dslint.derived): about 0.1 s
    instead of 0.4 s. Should this py3langid lay its model out otherwise, its own loader is
    used."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    path = Path(MODEL_DIR) / MODEL_FILE
    try:
        parts = derived.arrays(MODEL_LAYOUT, derived.source_digest(path), lambda: _unpack(path))
        return LanguageIdentifier(
            np.asarray(parts["ptc"]),
            np.asarray(parts["pc"]),
            parts["classes"].tolist(),
            _ints(parts["nextmove"]),
            parts["output"].tolist(),
            norm_probs=True,
            tk_row=_stdlib_array(parts["row"]),
        )
    except (ImportError, AttributeError, TypeError, ValueError, KeyError, OSError):
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _unpack(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, output = load_model(path)
    return {
        "ptc": np.asarray(ptc),
        "pc": np.asarray(pc),
        "classes": np.asarray(classes, dtype=str),
        "nextmove": np.asarray(nextmove),  # array.array('H'/'I'/'L') -> the same unsigned ints
        "row": np.asarray(row),
        "output": np.asarray(output, dtype=np.int32),
    }


_TYPECODES = {np.dtype(np.uint16): "H", np.dtype(np.uint32): "I", np.dtype(np.uint64): "Q"}


def _ints(values: np.ndarray[Any, Any]) -> memoryview:
    """The transition table read in place: indexing gives the same Python ints as the
    ``array.array`` py3langid's loader makes, as fast, without copying its 39 MB (about
    0.03 s, holding the GIL, of every run that detects a language)."""
    if values.dtype not in _TYPECODES or values.ndim != 1:
        raise TypeError("another layout")  # py3langid's own loader, then
    typecode: Any = _TYPECODES[values.dtype]
    view: memoryview = np.ascontiguousarray(values).data.cast("B").cast(typecode)
    return view


def _stdlib_array(values: np.ndarray[Any, Any]) -> array[int]:
    """The ``array.array`` py3langid's loader gives for these unsigned ints (one copy)."""
    view = _ints(values)
    kept = array(view.format)
    kept.frombytes(view.cast("B"))
    return kept


_WALKERS: dict[int, tuple[Any, _Walker]] = {}


def _walker(identifier: Any) -> _Walker:
    known = _WALKERS.get(id(identifier))
    if known is None or known[0] is not identifier:
        known = _WALKERS[id(identifier)] = (identifier, _Walker(identifier))
    return known[1]


class _Walker:
    def __init__(self, identifier: Any) -> None:
        self.identifier = identifier
        # The transition table as it is (unsigned ints in an ``array.array``, read in place):
        # widening its 9.8 million entries to int64 took 0.08 s of every run that walks.
        self.nextmove = np.asarray(identifier.tk_nextmove)
        self.rowbase = np.asarray(identifier._rowbase, dtype=np.int64)
        self.output = np.asarray(identifier.tk_output, dtype=np.int64)
        if self.output.ndim != 1 or self.nextmove.ndim != 1 or self.nextmove.dtype.kind not in "iu":
            raise ValueError("unexpected model layout")
        # The model's float16 table, widened once: numpy widens the gathered rows to
        # float32 before the product anyway, so the scores are the same floats, and the
        # product no longer converts on every call (five times faster).
        self.ptc = np.asarray(identifier.nb_ptc).astype(np.float32)
        self.pc = identifier.nb_pc
        self.classes = identifier.nb_classes
        self.norm = bool(identifier._norm_probs)
        self.aliases = list(identifier._alias_pairs)
        self.min_confidence = identifier.min_confidence

    def features(self, encoded: Sequence[bytes]) -> np.ndarray[Any, Any]:
        """Feature index per byte (-1: none), texts in rows, sorted by length ascending."""
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        width = int(lengths.max()) if len(lengths) else 0
        data = np.zeros((len(encoded), width), dtype=np.int64)
        for row, raw in enumerate(encoded):
            data[row, : len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        found = np.full((len(encoded), width), -1, dtype=np.int64)
        state = np.zeros(len(encoded), dtype=np.int64)
        for column in range(width):
            # Texts are sorted by length, so those still walking are the last ones.
            active = int(np.searchsorted(lengths, column, side="right"))
            state[active:] = self.nextmove[self.rowbase[state[active:]] + data[active:, column]]
            found[active:, column] = self.output[state[active:]]
        return found

    def classify(self, encoded: Sequence[bytes]) -> list[tuple[str, float]]:
        found = self.features(encoded)
        results = []
        for row, raw in enumerate(encoded):
            visits = found[row, : len(raw)]
            counted = Counter(visits[visits >= 0].tolist())  # py3langid's order: first visit
            if counted:
                index = np.fromiter(counted.keys(), dtype=np.intp, count=len(counted))
                weights = np.fromiter(counted.values(), dtype=np.float32, count=len(counted))
                scores = np.log1p(weights) @ self.ptc[index] + self.pc
            else:
                fill = 0.0 if self.norm else float(np.finfo(np.float32).min)
                scores = np.full(len(self.classes), fill, dtype=np.float32)
            results.append(self.decide(scores, len(raw)))
        return results

    def decide(self, scores: Any, length: int) -> tuple[str, float]:
        if self.norm:
            scores *= 1.0 / math.sqrt(length or 1)
            np.exp(scores - scores.max(), out=scores)
            scores /= scores.sum()
        for i, j in self.aliases:
            if self.norm:
                scores[i] += scores[j]
                scores[j] = 0.0
            else:
                scores[i] = max(scores[i], scores[j])
                scores[j] = float(np.finfo(np.float32).min)
        best = int(scores.argmax())
        confidence = float(scores[best])
        if self.min_confidence is not None and confidence < self.min_confidence:
            return "und", confidence
        return str(self.classes[best]), confidence
