"""The helper process that encodes half of a large batch (see dslint.tokens.counting).

Kept small on purpose: the helper imports only this module, pyarrow (the texts arrive as an
Arrow array), tiktoken and the offline encoding loader (which verifies the files' sha256
again), not pandas or the rules.
"""

from __future__ import annotations

from typing import Any

from dslint.tokens.lengths import batched_lengths


def lengths(encoding_name: str, texts: Any) -> list[int]:
    """Counts of an Arrow string array (turned into Python strings a batch at a time)."""
    from dslint.tokens.encodings import get_encoding

    return batched_lengths(get_encoding(encoding_name).encode_ordinary, texts)


def picked_lengths(encoding_name: str, shared: Any, rows: Any) -> list[int]:
    """Counts of some rows of a text column that this process maps from its parent's memory
    file (``shared``: a dslint.dataset.SharedText), read a batch at a time."""
    from dslint.tokens.encodings import get_encoding
    from dslint.tokens.lengths import Picked

    texts = Picked(shared.array(), rows)
    return batched_lengths(get_encoding(encoding_name).encode_ordinary, texts)
