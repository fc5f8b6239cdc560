"""Content-based fingerprints: a finding keeps its identity when lines move.

A fingerprint hashes the rule code, the file path, the *content* of the record (not its line
number), the JSON pointer and an optional rule-provided key. Baselines and SARIF's
``partialFingerprints`` use it, so inserting, deleting or reordering lines does not turn old
findings into new ones. A finding about a group of examples, placed on one member (the first
of those sharing a prompt, say), hashes the group's name (``Hit.group``) instead of that
member's content: reordering the lines may move it to another member, and it stays the same
finding.
"""

from __future__ import annotations

import hashlib


def fingerprint(
    code: str, path: str, content_hash: int | None, pointer: str, key: str, group: str = ""
) -> str:
    # A group's name never reads as a decimal content hash: the two cannot meet.
    content = f"group:{group}" if group else "" if content_hash is None else str(content_hash)
    return text_digest("\x1f".join((code, path, content, pointer, key)))


def text_digest(text: str, size: int = 8) -> str:
    """A short stable name of a text (a shared prompt, tool definitions, a line), ``size``
    bytes in hex: the same in every process (unlike ``hash()``), and not the text in clear.
    Lone surrogates (a line's ``\ud800`` escape) are hashed as they are."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()
