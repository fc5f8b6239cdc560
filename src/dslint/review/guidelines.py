"""The team's guidelines: a Markdown file of voice prose and policy rules.

The file is written for people; a little structure tells dslint what each guideline is::

    # ACME support assistant
    ACME sells garden tools online.       <- background: sent as context, never a guideline

    ## Voice
    Warm and plain. We say "we", never "the company".        <- one guideline (voice-1)
    - [no-jargon] No internal jargon such as SKU or RMA.     <- one guideline (no-jargon)

    ## Policy
    - [no-refunds] Never promise a refund; refunds are decided by the billing team.
    - No legal advice; point to a lawyer instead.            <- one guideline (policy-2)

A heading whose first word is ``Voice`` (or ``Tone``, ``Style``) starts voice guidelines; one
whose first word is ``Policy`` (or ``Policies``, ``Rules``, ``Safety``) starts policy
guidelines; any other heading starts background text. Under a voice or policy heading, each
bullet item and each prose paragraph is one guideline. ``[id]`` at its start names it (the
name the model cites and findings show, stable across edits); otherwise it is numbered.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from dslint.config import ConfigError

VOICE = "voice"
POLICY = "policy"
_KIND_WORDS = {
    "voice": VOICE, "tone": VOICE, "style": VOICE,
    "policy": POLICY, "policies": POLICY, "rules": POLICY, "safety": POLICY,
}  # fmt: skip
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_EXPLICIT_ID = re.compile(r"^\[([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\]\s*(.*)$", re.DOTALL)
# Guidelines go into every request; a file this large is almost surely the wrong file.
MAX_BYTES = 64_000


@dataclass(frozen=True)
class Guideline:
    id: str
    kind: str  # VOICE or POLICY
    text: str


@dataclass(frozen=True)
class Guidelines:
    background: str
    items: tuple[Guideline, ...]
    source: Path | None = None

    @property
    def hash(self) -> str:
        """Identifies the guidelines' meaning (not the file's layout) in the cache key."""
        material = json.dumps(
            [self.background, [(g.id, g.kind, g.text) for g in self.items]], ensure_ascii=False
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def by_id(self, guideline_id: str) -> Guideline | None:
        return next((g for g in self.items if g.id == guideline_id), None)


def load(path: Path) -> Guidelines:
    """Read and parse a guidelines file; any problem is a one-line ConfigError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"guidelines file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"guidelines file {path} is {len(data):,} bytes; it is sent with every request, "
            f"so keep it under {MAX_BYTES:,}"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"guidelines file {path} is not UTF-8 text") from None
    return parse(text, path)


def parse(text: str, source: Path | None = None) -> Guidelines:
    where = f"guidelines file {source}" if source else "guidelines"
    background: list[str] = []
    blocks: list[tuple[str, list[str]]] = []  # (kind, lines) per guideline
    kind: str | None = None
    current: list[str] | None = None  # the guideline being read, if any
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            words = heading.group(1).split()
            kind = _KIND_WORDS.get(words[0].lower().rstrip(":")) if words else None
            current = None
            if kind is None:
                background.append(line.strip())
            continue
        if kind is None:
            background.append(line.rstrip())
            continue
        if not line.strip():
            current = None
            continue
        bullet = _BULLET.match(line)
        if bullet:
            current = [bullet.group(1).strip()]
            blocks.append((kind, current))
        elif current is not None:
            current.append(line.strip())  # a wrapped line of the same item or paragraph
        else:
            current = [line.strip()]
            blocks.append((kind, current))
    items = _number(blocks, where)
    if not items:
        raise ConfigError(
            f"{where} has no guidelines: put them under a '## Voice' or '## Policy' heading"
        )
    return Guidelines("\n".join(background).strip(), tuple(items), source)


def _number(blocks: list[tuple[str, list[str]]], where: str) -> list[Guideline]:
    items: list[Guideline] = []
    counts = {VOICE: 0, POLICY: 0}
    seen: set[str] = set()
    for kind, lines in blocks:
        counts[kind] += 1
        body = " ".join(lines)
        explicit = _EXPLICIT_ID.match(body)
        guideline_id, body = (
            (explicit.group(1), explicit.group(2).strip())
            if explicit
            else (f"{kind}-{counts[kind]}", body)
        )
        if not body:
            raise ConfigError(f"{where}: guideline [{guideline_id}] has no text")
        if guideline_id in seen:
            raise ConfigError(f"{where}: two guidelines are named [{guideline_id}]")
        seen.add(guideline_id)
        items.append(Guideline(guideline_id, kind, body))
    return items
