"""Content-based fingerprints: a finding keeps its identity when lines move.

A fingerprint hashes the rule code, the file path, the *content* of the record (not its line
number), the JSON pointer and an optional rule-provided key. Baselines and SARIF's
``partialFingerprints`` use it, so inserting, deleting or reordering lines does not turn old
findings into new ones.
"""

from __future__ import annotations

import hashlib


def fingerprint(code: str, path: str, content_hash: int | None, pointer: str, key: str) -> str:
    material = "\x1f".join(
        (code, path, "" if content_hash is None else str(content_hash), pointer, key)
    )
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
