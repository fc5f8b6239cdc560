"""The helper process that encodes half of a large batch (see dslint.tokens.counting).

Kept small on purpose: the helper imports only this module, pyarrow (the texts arrive as an
Arrow array), tiktoken and the offline encoding loader (which verifies the files' sha256
again), not pandas or the rules.
"""

from __future__ import annotations

from typing import Any

from dslint.tokens.lengths import serial_lengths

#: Texts turned into Python strings at a time (as dslint.tokens.counting.BATCH).
BATCH = 20_000


def lengths(encoding_name: str, texts: Any) -> list[int]:
    """Counts of an Arrow string array (turned into Python strings a batch at a time)."""
    from dslint.tokens.encodings import get_encoding

    encode = get_encoding(encoding_name).encode_ordinary
    counts: list[int] = []
    for start in range(0, len(texts), BATCH):
        counts += serial_lengths(encode, texts.slice(start, BATCH).to_pylist())
    return counts
