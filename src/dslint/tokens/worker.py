"""The helper process that encodes half of a large batch (see dslint.tokens.counting).

Kept tiny on purpose: a spawned process imports only this module, tiktoken and the offline
encoding loader (which verifies the files' sha256 again), not pandas or the rules.
"""

from __future__ import annotations


def lengths(encoding_name: str, texts: list[str]) -> list[int]:
    from dslint.tokens.encodings import get_encoding
    from dslint.tokens.lengths import serial_lengths

    return serial_lengths(get_encoding(encoding_name).encode_ordinary, texts)
