"""Split a message's Markdown into the scopes Vale checks, keeping offsets exact.

Vale renders Markdown and checks the text of each block (paragraph, heading, list item),
never code. Here the text is *masked* instead of rendered: code blocks, inline code, HTML
comments and link targets become NUL characters of the same length, so every offset found
in the masked text is also the offset in the original message, and the column we report is
the column a reader sees in the raw text.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

MASK = "\x00"

_FENCE = regex.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)")
_INLINE_CODE = regex.compile(r"(`+)(?!`).+?(?<!`)\1")
_COMMENT = regex.compile(r"(?s)<!--.*?(?:-->|\Z)")
_IMAGE = regex.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK_TARGET = regex.compile(r"(?<=\[[^\]\n]*)\]\([^)\n]*\)")
_LINK_OPEN = regex.compile(r"\[(?=[^\]\n]*\]\()")
_HEADING = regex.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_LIST_ITEM = regex.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_QUOTE = regex.compile(r"^[ \t]*>[ \t]?")
# A sentence ends at . ! or ? (and closing quotes or brackets) before whitespace and a
# capital, digit or opening quote; common abbreviations do not end one.
_SENTENCE_END = regex.compile(
    r"(?<!\b(?:vs|e\.g|i\.e|etc|Mr|Mrs|Ms|Dr|St|No|Fig|approx|cf)\.)"
    r"(?<=[.!?][\"'”’)\]]*)\s+(?=[\"'“‘(\[]*[A-Z0-9])"
)


def mask(text: str) -> str:
    """``text`` with code, HTML comments and link targets replaced by NULs (same length)."""
    chars = list(text)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = MASK

    for pattern in (_FENCE, _COMMENT, _IMAGE):
        for m in pattern.finditer(text):
            blank(m.start(), m.end())
    current = "".join(chars)
    for pattern in (_INLINE_CODE, _LINK_TARGET, _LINK_OPEN):
        for m in pattern.finditer(current):
            blank(m.start(), m.end())
    return "".join(chars)


@dataclass(frozen=True)
class Segment:
    """A piece of one message for one scope: where it starts and its (masked) text."""

    start: int
    text: str


@dataclass(frozen=True)
class Blocks:
    """A message cut into Vale's blocks."""

    masked: str
    headings: tuple[Segment, ...]
    paragraphs: tuple[Segment, ...]
    items: tuple[Segment, ...]
    quotes: tuple[Segment, ...]

    @property
    def text_blocks(self) -> tuple[Segment, ...]:
        return tuple(sorted((*self.headings, *self.paragraphs, *self.items, *self.quotes),
                            key=lambda s: s.start))  # fmt: skip

    def sentences(self) -> list[Segment]:
        found = []
        for block in sorted((*self.paragraphs, *self.items, *self.quotes), key=lambda s: s.start):
            found.extend(split_sentences(block))
        return found


def split_sentences(block: Segment) -> list[Segment]:
    pieces = []
    begin = 0
    for m in _SENTENCE_END.finditer(block.text):
        pieces.append(Segment(block.start + begin, block.text[begin : m.start()]))
        begin = m.end()
    tail = block.text[begin:].rstrip()
    if tail.strip():
        pieces.append(Segment(block.start + begin, tail))
    return [p for p in pieces if p.text.strip()]


def blocks(text: str) -> Blocks:
    masked = mask(text)
    headings: list[Segment] = []
    paragraphs: list[Segment] = []
    items: list[Segment] = []
    quotes: list[Segment] = []
    current: list[int] = []  # [start, end] of the open block
    kind = ""
    position = 0

    def close() -> None:
        nonlocal current, kind
        if current:
            start, end = current
            while end > start and masked[end - 1] in " \t\n":
                end -= 1
            segment = Segment(start, masked[start:end])
            {"p": paragraphs, "li": items, "q": quotes}[kind].append(segment)
        current, kind = [], ""

    for line in masked.split("\n"):
        end = position + len(line)
        stripped = line.replace(MASK, "").strip()
        heading = _HEADING.match(line)
        if not stripped:
            close()
        elif heading:
            close()
            headings.append(Segment(position + heading.start(2), heading.group(2)))
        else:
            item = _LIST_ITEM.match(line)
            quote = _QUOTE.match(line)
            if item:
                close()
                current, kind = [position + item.end(), end], "li"
            elif quote:
                if kind != "q":
                    close()
                    current, kind = [position + quote.end(), end], "q"
                else:
                    current[1] = end
            elif current:
                current[1] = end
            else:
                start = position + len(line) - len(line.lstrip(" \t"))
                current, kind = [start, end], "p"
        position = end + 1
    close()
    return Blocks(masked, tuple(headings), tuple(paragraphs), tuple(items), tuple(quotes))
