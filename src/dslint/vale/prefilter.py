"""A looser RE2 form of a Vale pattern, to pick the messages worth the exact scan.

The exact patterns run in the ``regex`` module, one pass of Python's backtracking engine
per rule over every message. Most messages hold nothing a given rule looks for, and RE2
(Arrow's ``match_substring_regex``) answers "can this message match?" for a whole column
far faster. That answer must never be "no" for a message the exact pattern matches, so the
RE2 form is built to match a *superset*:

* zero-width assertions (``\\b``, ``^``, ``$``, lookarounds) are dropped: removing a
  condition only lets more text match;
* character classes, ``\\w``/``\\d``/``\\s`` and ``.`` become "any character" (the two
  engines disagree on Unicode classes; a wildcard is right for both);
* a backreference becomes "any text"; atomic groups and possessive quantifiers become
  ordinary ones; named and capturing groups become plain groups;
* under ``ignorecase`` a non-ASCII literal becomes "any character" (the engines' case
  folding differs outside ASCII), and ``i``/``I`` also match U+0130 and U+0131, which
  Python's engine folds to ``i``/``I`` and RE2 does not (checked over every code point).

The exact pattern then runs only on the kept messages, so findings are unchanged. Masked
text (code, comments, link targets become NULs of the same length) needs no special care:
a masked character is only ever matched by a wildcard here, and the original character in
its place is matched by the same wildcard.

Anything this module does not understand (verbose mode, conditionals, recursion, fuzzy
matching, ``V1`` set syntax, named lists) gives ``None``: the rule then scans every message,
as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ANY = "(?s:.)"
ANY_TEXT = "(?s:.*)"
_RE2_MAX_REPEAT = 1000  # RE2 rejects larger counted repetitions
_SAFE_FLAGS = set("aimsuwL")  # flags that cannot make a wildcard form too strict
_COUNTS = re.compile(r"(\d*)(,?)(\d*)")


class Untranslatable(Exception):
    """The pattern uses syntax the loosening does not cover."""


@dataclass(frozen=True)
class Prefilter:
    source: str  # RE2 syntax
    ignore_case: bool


def loosen(source: str, ignorecase: bool) -> Prefilter | None:
    """The RE2 superset of ``source`` (Python ``regex`` syntax), or None if there is none."""
    try:
        parser = _Parser(source, ignorecase)
        out = parser.alternation(top=True)
    except (Untranslatable, IndexError):
        return None
    if parser.uses_inline_ignorecase and not ignorecase:
        # An inline (?i) anywhere: fold the whole form, which only matches more. Literals
        # were emitted for a case-sensitive match, so translate again folding everything.
        try:
            parser = _Parser(source, True)
            out = parser.alternation(top=True)
        except (Untranslatable, IndexError):
            return None
        ignorecase = True
    return Prefilter(out, ignorecase) if out else None


_SYNTAX = re.compile(r"\(\?s:\.\*?\)|\(\?:|[()|*+?]|\{\d*,?\d*\}")


def useful(prefilter: Prefilter | None) -> Prefilter | None:
    """``prefilter`` if it needs some literal text; a form of wildcards alone keeps everything."""
    if prefilter is None or not _SYNTAX.sub("", prefilter.source):
        return None
    return prefilter


class _Parser:
    def __init__(self, source: str, ignorecase: bool) -> None:
        self.s = source
        self.i = 0
        self.ignorecase = ignorecase
        self.uses_inline_ignorecase = False

    # -- structure ------------------------------------------------------------------------
    def alternation(self, top: bool = False) -> str:
        branches = [self.sequence()]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            branches.append(self.sequence())
        if not top:
            if self.i >= len(self.s) or self.s[self.i] != ")":
                raise Untranslatable("unbalanced group")
            self.i += 1
        elif self.i < len(self.s):
            raise Untranslatable("stray ')'")
        return "|".join(branches)

    def sequence(self) -> str:
        parts: list[str] = []
        while self.i < len(self.s) and self.s[self.i] not in "|)":
            atom = self.atom()
            parts.append(self.quantified(atom))
        return "".join(parts)

    def quantified(self, atom: str) -> str:
        s = self.s
        if self.i >= len(s):
            return atom
        quantifier = ""
        c = s[self.i]
        if c in "*+?":
            quantifier = c
            self.i += 1
        elif c == "{":
            counted = self.counted()
            if counted is None:
                return atom
            quantifier = counted
        else:
            return atom
        # A lazy or possessive suffix changes which match is found, never whether one is.
        if self.i < len(s) and s[self.i] in "?+":
            self.i += 1
        if self.i < len(s) and (s[self.i] in "*{" or s[self.i] in "?+"):
            raise Untranslatable("stacked quantifiers")
        if not atom:
            return ""  # a repeated assertion is still nothing
        return f"(?:{atom}){quantifier}"

    def counted(self) -> str | None:
        """``{m,n}`` at self.i as an RE2 quantifier, or None when ``{`` is a literal."""
        s = self.s
        end = s.find("}", self.i)
        body = s[self.i + 1 : end] if end > 0 else ""
        counts = _COUNTS.fullmatch(body)
        if end < 0 or counts is None:
            if any(ch.isalpha() or ch in "<=" for ch in body):
                raise Untranslatable("fuzzy constraint")
            return None
        low, comma, high = counts.groups()
        if not low and not high:
            raise Untranslatable("empty count")
        self.i = end + 1
        m = min(int(low or 0), _RE2_MAX_REPEAT)
        if not comma:
            return f"{{{m}}}" if int(low) <= _RE2_MAX_REPEAT else f"{{{m},}}"
        if not high or int(high) > _RE2_MAX_REPEAT:
            return f"{{{m},}}"
        return f"{{{m},{int(high)}}}"

    def atom(self) -> str:
        s = self.s
        c = s[self.i]
        if c == "\\":
            return self.escape()
        if c == "[":
            self.skip_class()
            return ANY
        if c == "(":
            return self.group()
        self.i += 1
        if c in "^$":
            return ""
        if c == ".":
            return ANY
        if c in "*+?":
            raise Untranslatable("quantifier without an atom")
        return self.literal(c)

    def group(self) -> str:
        s = self.s
        self.i += 1
        if s.startswith("?", self.i):
            rest = s[self.i + 1 :]
            if rest.startswith("#"):
                end = s.index(")", self.i)
                self.i = end + 1
                return ""
            if rest.startswith((":", ">", "|")):
                self.i += 2
                return f"(?:{self.alternation()})"
            if rest.startswith(("=", "!", "<=", "<!")):
                self.i += 2 if rest[0] in "=!" else 3
                self.alternation()  # parsed for its extent, then dropped
                return ""
            if rest.startswith(("P<", "<")):
                self.i = s.index(">", self.i) + 1
                return f"(?:{self.alternation()})"
            if rest.startswith("P="):
                self.i = s.index(")", self.i) + 1
                return ANY_TEXT
            return self.flag_group()
        return f"(?:{self.alternation()})"

    def flag_group(self) -> str:
        s = self.s
        start = self.i + 1
        j = start
        while j < len(s) and (s[j].isalnum() or s[j] == "-"):
            j += 1
        if j >= len(s) or s[j] not in ":)":
            raise Untranslatable("unknown group")
        on, _, off = s[start:j].partition("-")
        if not on and not off:
            raise Untranslatable("empty flags")
        if not set(on) <= _SAFE_FLAGS or not set(off) <= _SAFE_FLAGS:
            raise Untranslatable(f"flags {s[start:j]!r}")
        if "i" in on:
            self.uses_inline_ignorecase = True
        self.i = j + 1
        if s[j] == ")":
            return ""
        return f"(?:{self.alternation()})"

    def skip_class(self) -> None:
        s = self.s
        j = self.i + 1
        if j < len(s) and s[j] == "^":
            j += 1
        if j < len(s) and s[j] == "]":
            j += 1
        while True:
            ch = s[j]
            if ch == "\\":
                j += 2
            elif ch == "[":
                if s.startswith(("[:", "[=", "[."), j):
                    j = s.index(s[j + 1] + "]", j + 2) + 2
                else:
                    raise Untranslatable("nested set (V1 syntax)")
            elif ch == "]":
                self.i = j + 1
                return
            else:
                j += 1

    def escape(self) -> str:
        s = self.s
        c = s[self.i + 1]
        self.i += 2
        if c in "bBAZzGmMK":
            return ""
        if c in "wWdDsS":
            return ANY
        if c in "pP":
            if s.startswith("{", self.i):
                self.i = s.index("}", self.i) + 1
            else:
                self.i += 1
            return ANY
        if c == "X":
            return f"(?:{ANY})+"
        if c == "g":
            if not s.startswith("<", self.i):
                raise Untranslatable("\\g")
            self.i = s.index(">", self.i) + 1
            return ANY_TEXT
        if c.isdigit():
            if c == "0":
                raise Untranslatable("octal escape")
            if self.i < len(s) and s[self.i].isdigit():
                if self.i + 1 < len(s) and s[self.i + 1].isdigit():
                    raise Untranslatable("octal escape")
                self.i += 1
            return ANY_TEXT  # a backreference repeats some text
        simple = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
        if c in simple:
            return self.literal(simple[c])
        for letter, width in (("x", 2), ("u", 4), ("U", 8)):
            if c == letter:
                if c == "x" and s.startswith("{", self.i):
                    end = s.index("}", self.i)
                    code = s[self.i + 1 : end]
                    self.i = end + 1
                else:
                    code = s[self.i : self.i + width]
                    self.i += width
                try:
                    return self.literal(chr(int(code, 16)))
                except ValueError:
                    raise Untranslatable("bad escape") from None
        if c.isalnum():
            raise Untranslatable(f"escape \\{c}")
        return self.literal(c)

    def literal(self, c: str) -> str:
        if c == "\x00":
            raise Untranslatable("NUL")
        if ord(c) < 0x80:
            if c.isalnum():
                if self.ignorecase and c in "iI":
                    return "(?:i|\\x{130}|\\x{131})"
                return c
            if c.isprintable():
                return c if c == " " else "\\" + c
            return f"\\x{{{ord(c):x}}}"
        if self.ignorecase:
            return ANY
        return c
