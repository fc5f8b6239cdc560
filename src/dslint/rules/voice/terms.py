"""Profile terms: banned words, preferred terminology, brand casing, persona, either/or.

All five read the same single scan of the profile's combined pattern (memoised in
``dataset.cache['voice.profile.matches']``), so adding terms to a profile does not add
passes over the data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.voice._keys import PROFILE, ROWS
from dslint.rules.voice._shared import checked_rows, profile_for, profile_matches, quote, text_hit


def _key(text: str) -> str:
    return hashlib.sha1(text.lower().encode()).hexdigest()[:12]


class _TermRule(DatasetRule):
    kinds: tuple[str, ...] = ()
    shares = (PROFILE, ROWS)

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        profile = profile_for(self, dataset)
        rows = checked_rows(self, dataset)
        for match in profile_matches(self, dataset):
            entry = profile.entries[match.entry]
            if entry.kind not in self.kinds:
                continue
            message = self.describe(entry.kind, entry.label, entry.preferred, match.text)
            if message is None:
                continue
            where = f"profile '{profile.name}' [{entry.section}]"
            yield text_hit(rows, match.row, f"{message} ({where})",
                           (match.start, match.end), key=_key(match.text))  # fmt: skip

    def describe(self, kind: str, label: str, preferred: str | None, found: str) -> str | None:
        raise NotImplementedError


class BannedTerm(_TermRule):
    """A reply uses a term or pattern the voice profile bans.

    Configure ``[terms] banned = ["synergy"]`` (whole words, any case) and
    ``banned-patterns = ['(?i)\\bdear (sir|madam)\\b']`` (regular expressions).
    The finding points at the term inside the message.
    """

    code = "V001"
    name = "banned-term"
    category = Category.VOICE
    severity = Severity.WARNING
    kinds = ("banned", "pattern")

    def describe(self, kind: str, label: str, preferred: str | None, found: str) -> str:
        what = "banned term" if kind == "banned" else f"banned pattern {label!r}"
        return f"{what} {quote(found)}: rephrase without it"


class PreferredTerm(_TermRule):
    """A reply uses a term the voice profile replaces with a preferred one.

    ``[terms.preferred] "log in" = "sign in"`` reports every "log in" (any case) and names
    "sign in" as the form to use.
    """

    code = "V002"
    name = "preferred-term"
    category = Category.VOICE
    severity = Severity.WARNING
    kinds = ("preferred",)

    def describe(self, kind: str, label: str, preferred: str | None, found: str) -> str:
        return f"{quote(found)}: use '{preferred}' instead"


class BrandCasing(_TermRule):
    """A brand or product name is written with the wrong casing.

    ``[brands] names = ["AcmeCloud", "iPhone"]``: "acmecloud" or "Iphone" is reported with
    the exact casing to use.
    """

    code = "V003"
    name = "brand-casing"
    category = Category.VOICE
    severity = Severity.WARNING
    kinds = ("brand",)

    def describe(self, kind: str, label: str, preferred: str | None, found: str) -> str | None:
        if " ".join(found.split()) == label:
            return None
        return f"{quote(found)}: write the name as '{label}'"


class Persona(_TermRule):
    """A reply breaks the assistant's persona.

    Always checked (no profile needed): replies that present the assistant as a generic
    model ("As an AI language model", "as a large language model", "I was trained by
    OpenAI") or as another assistant ("I'm ChatGPT"). With ``[persona] name = "Aria"`` a
    reply that says "my name is" something else is reported too; ``allowed-names`` lists
    other names it may use and ``forbidden`` adds phrases of your own.

    FAIL::

        {"messages": [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "As an AI language model, I cannot have opinions."}]}

    PASS::

        {"messages": [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "I'm the Acme support assistant."}]}
    """

    code = "V006"
    name = "persona"
    category = Category.VOICE
    severity = Severity.WARNING
    kinds = ("persona", "other-name")

    def describe(self, kind: str, label: str, preferred: str | None, found: str) -> str:
        if kind == "other-name":
            name = f"as '{preferred}'" if preferred else "consistently"
            return f"the reply calls itself {quote(found)}: present the assistant {name}"
        return f"{quote(found)} breaks the persona: answer in the assistant's own voice"


class InconsistentTerm(DatasetRule):
    """The dataset uses two spellings of one term; the minority usage is reported.

    ``[consistency] either = [["email", "e-mail"], ["sign in", "log in"]]``: when both
    forms appear across the checked messages, every use of the less frequent form is
    reported with the dominant form to use instead (ties keep the first form listed).
    """

    code = "V007"
    shares = (PROFILE, ROWS)
    name = "inconsistent-term"
    category = Category.VOICE
    severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        profile = profile_for(self, dataset)
        rows = checked_rows(self, dataset)
        found = [m for m in profile_matches(self, dataset)
                 if profile.entries[m.entry].kind == "either"]  # fmt: skip
        counts: Counter[tuple[int, str]] = Counter()
        for m in found:
            entry = profile.entries[m.entry]
            counts[(entry.group, entry.label)] += 1
        for group, variants in enumerate(profile.either):
            used = {v: counts[(group, v)] for v in variants if counts[(group, v)]}
            if len(used) < 2:
                continue
            dominant = max(variants, key=lambda v: (counts[(group, v)], -variants.index(v)))
            total = sum(used.values())
            for m in found:
                entry = profile.entries[m.entry]
                if entry.group != group or entry.label == dominant:
                    continue
                yield text_hit(
                    rows, m.row,
                    f"{quote(m.text)}: the dataset mostly writes '{dominant}' "
                    f"({counts[(group, dominant)]} of {total} uses); use it here too "
                    f"(profile '{profile.name}' [consistency.either])",
                    (m.start, m.end), key=_key(m.text),
                )  # fmt: skip


RULES = [BannedTerm, PreferredTerm, BrandCasing, Persona, InconsistentTerm]
