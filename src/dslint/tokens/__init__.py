"""Exact token counts, offline: encodings, the counting formula and the dataset columns.

``count(dataset)`` adds ``messages["tokens"]``, ``records["tokens"]`` and friends (see
:mod:`dslint.tokens.counting`) once per run; rules and ``dslint stats`` share the result.
"""

from dslint.tokens.counting import count, count_with
from dslint.tokens.encodings import EncodingUnavailable, get_encoding

__all__ = ["EncodingUnavailable", "count", "count_with", "get_encoding"]
