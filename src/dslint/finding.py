"""The small immutable records that travel from a rule to a report.

A rule yields :class:`Hit` objects that are relative to what it was looking at (a record,
a file, or the whole dataset). The engine turns each hit into a located :class:`Finding`,
the contract every reporter, the baseline and the Python API rely on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    """How bad a finding is. Ordered: ``info < warning < error``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r} (choose from {choices})") from None


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Category(str, enum.Enum):
    """The rule families (contract: these seven and no others)."""

    SCHEMA = "schema"
    TOKENS = "tokens"
    DUPLICATES = "duplicates"
    VOICE = "voice"
    MODERATION = "moderation"
    PRIVACY = "privacy"
    QUALITY = "quality"


@dataclass(frozen=True, slots=True)
class Hit:
    """What a rule reports, relative to the thing it checked.

    ``pointer`` is an RFC 6901 JSON pointer into the record ("" for the whole record).
    ``span`` is a (start, end) character range inside the *decoded* string at ``pointer``;
    the engine maps it to a column in the raw line, escapes included.
    ``column`` overrides that mapping when the rule already knows the raw column (the JSON
    parser's error position, for instance).
    Dataset-level rules name the record they mean with ``record`` (its row in the records
    frame), or a file with ``path`` for a file-level finding, or neither for the dataset.
    ``key`` disambiguates fingerprints when one rule reports several hits at one pointer
    (for example the matched text's hash); it must not hold a secret in clear.
    ``group`` is for a finding about a group of examples that is placed on one of them (the
    first of those sharing a prompt, a near-duplicate of its cluster's representative): a name
    of the group that does not depend on the order of its members (a hash of what they
    share). The fingerprint then hashes it instead of the record's content, so the finding
    keeps its identity when the lines are reordered and another member carries it. Not a
    secret in clear either.
    ``related`` names, by row, the other examples the finding is about (the copy to keep, the
    other answer, the cluster's representative, the training example a validation example
    leaks): ``--changed-since`` keeps a finding on an unchanged line when one of them is new.
    """

    message: str
    pointer: str = ""
    span: tuple[int, int] | None = None
    column: int | None = None
    record: int | None = None
    path: str | None = None
    severity: Severity | None = None
    key: str = ""
    group: str = ""
    related: tuple[int, ...] = ()


#: A finding's fields in the reports (JSON, the Python API's frame), in order.
FIELDS = ("code", "name", "category", "severity", "path", "line", "column", "pointer", "message",
          "fingerprint", "end_column")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One located problem (contract fields first, then optional precision)."""

    code: str
    name: str
    category: Category
    severity: Severity
    path: str
    line: int | None
    column: int | None
    pointer: str
    message: str
    fingerprint: str
    end_column: int | None = None
    #: The other examples the finding is about, as (path, line): what ``--changed-since``
    #: asks besides the finding's own line, and SARIF's related locations. Not in the JSON
    #: report (its fields are a contract), nor in equality.
    related: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    #: The fingerprint computed with the path left out: what a baseline entry of a file that
    #: is gone (renamed or moved) matches. Not part of the report's output, nor of equality.
    pathless: str = field(default="", compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict copies each value through a recursive walk.
        return {
            "code": self.code, "name": self.name, "category": self.category.value,
            "severity": self.severity.value, "path": self.path, "line": self.line,
            "column": self.column, "pointer": self.pointer, "message": self.message,
            "fingerprint": self.fingerprint, "end_column": self.end_column,
        }  # fmt: skip

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line or 0, self.column or 0, self.code)
