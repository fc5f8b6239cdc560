"""Content-based fingerprints: a finding keeps its identity when lines move.

A fingerprint hashes the rule code, the file path, the *content* of the record (not its line
number), the JSON pointer and an optional rule-provided key. Baselines and SARIF's
``partialFingerprints`` use it, so inserting, deleting or reordering lines does not turn old
findings into new ones. A finding about a group of examples, placed on whichever member comes
first (or last), hashes the group's name (``Hit.group``) instead of that member's content:
reordering the lines moves it to another member, and it stays the same finding.
"""

from __future__ import annotations

import hashlib


def fingerprint(
    code: str, path: str, content_hash: int | None, pointer: str, key: str, group: str = ""
) -> str:
    # A group's name never reads as a decimal content hash: the two cannot meet.
    content = f"group:{group}" if group else "" if content_hash is None else str(content_hash)
    material = "\x1f".join((code, path, content, pointer, key))
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def text_digest(text: str) -> str:
    """A short stable name of a text (a shared prompt, tool definitions) for ``Hit.group``:
    the same in every process, and not the text in clear."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
