"""Rules for lines the loader could not turn into a clean JSON object (S001-S009)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from dslint.finding import Category, Hit, Severity
from dslint.loader import Record
from dslint.rule import RecordRule


class _LoadProblemRule(RecordRule):
    """Reports the loader's problems of one kind (the loader never raises on bad data)."""

    kind: ClassVar[str]
    category = Category.SCHEMA
    severity = Severity.ERROR
    needs_object = False
    needs_problems = True

    def check(self, record: Record) -> Iterator[Hit]:
        for problem in record.problems:
            if problem.kind == self.kind:
                yield Hit(problem.message, problem.pointer, column=problem.column)


class InvalidJson(_LoadProblemRule):
    """A line is not valid JSON.

    The API rejects the whole file ("Example N cannot be parsed. Error: line contains invalid
    json"). The finding gives the parser's message and column.

    FAIL::

        {"messages": [{"role": "user", "content": "hi"}
    """

    code = "S001"
    name = "invalid-json"
    kind = "invalid-json"


class InvalidUtf8(_LoadProblemRule):
    """A line is not valid UTF-8 text.

    JSONL must be UTF-8. The column points at the first byte that does not decode; re-save
    the file as UTF-8 (often it was written as Latin-1 or Windows-1252).
    """

    code = "S002"
    name = "invalid-utf8"
    kind = "invalid-utf8"


class NotAnObject(_LoadProblemRule):
    """A line is valid JSON but not an object (an array, string, number, ...).

    Each line must be one training example: a JSON object.

    FAIL::

        [{"role": "user", "content": "hi"}]
    """

    code = "S003"
    name = "not-an-object"
    kind = "not-object"


class DuplicateKey(_LoadProblemRule):
    """An object has the same key twice.

    JSON parsers silently keep one of the values (usually the last), so part of the example
    is lost or differs between tools. Keep one.

    FAIL::

        {"messages": [{"role": "user", "role": "assistant", "content": "hi"}]}
    """

    code = "S004"
    name = "duplicate-key"
    kind = "duplicate-key"


class NonFiniteNumber(_LoadProblemRule):
    """A number is NaN, Infinity or overflows to infinity (such as 1e999).

    These are not JSON; Python writes them by default (``json.dumps(allow_nan=True)``) but the
    API's parser rejects the line.

    FAIL::

        {"messages": [{"role": "user", "content": "hi"}], "score": NaN}
    """

    code = "S005"
    name = "non-finite-number"
    kind = "non-finite"


class BlankLine(_LoadProblemRule):
    """A blank line inside the file.

    The API numbers examples by line, so a blank line shifts every later example's number in
    its error messages, and some uploaders reject it. Remove it.
    """

    code = "S006"
    name = "blank-line"
    kind = "blank"
    severity = Severity.WARNING


class ByteOrderMark(_LoadProblemRule):
    """The file starts with a UTF-8 byte order mark (BOM).

    Editors on Windows add it; strict JSON parsers reject the first line because of it. Save
    the file as UTF-8 without BOM.
    """

    code = "S007"
    name = "byte-order-mark"
    kind = "bom"
    severity = Severity.WARNING


class BareCrLineEnds(_LoadProblemRule):
    """Lines end in a bare carriage return (CR, classic Mac OS style) instead of LF.

    JSON Lines defines LF as the line separator (jsonlines.org) and byte-oriented readers
    split only there, so the whole file (or the affected part) reads as one line that is not
    valid JSON; other readers (Python in text mode) do split on CR. As the result depends on
    the reader, dslint reports this once, at the first CR, instead of checking pieces under
    line numbers that exist only for some readers; ``dslint fix`` converts the line ends to LF.
    CRLF (Windows) line ends are fine and are not reported.
    """

    code = "S008"
    name = "bare-cr-line-ends"
    kind = "bare-cr"


class LoneSurrogate(_LoadProblemRule):
    """A ``\\u`` escape encodes half of a UTF-16 surrogate pair (for example ``"\\ud800"``).

    Python's ``json.loads`` accepts it, but the result is not valid Unicode text: it cannot be
    encoded as UTF-8, the API rejects the line, and tokenizers fail on it. It usually comes
    from text cut in the middle of an emoji by a tool that counts UTF-16 units. The finding
    points at the string; dslint checks the rest with U+FFFD in its place.

    FAIL::

        {"messages": [{"role": "user", "content": "Hi \\ud83d"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S009"
    name = "lone-surrogate"
    kind = "lone-surrogate"


RULES = [InvalidJson, InvalidUtf8, NotAnObject, DuplicateKey, NonFiniteNumber, BlankLine,
         ByteOrderMark, BareCrLineEnds, LoneSurrogate]  # fmt: skip
