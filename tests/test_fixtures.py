"""The shipped fixtures: good files are clean, each bad file triggers what it is there for.

Together the bad files trigger every schema rule, so the README quick start shows them all.
"""

from __future__ import annotations

import pytest

import dslint
from conftest import FIXTURES, TODAY

EXPECTED = {
    "bad/broken-lines.jsonl": {"S001", "S002", "S003", "S004", "S005", "S006", "S007", "S107"},
    "bad/chat-schema.jsonl": {
        "S101", "S102", "S103", "S104", "S105", "S106", "S107", "S108", "S109", "S110", "S111",
        "S201", "S202", "S203", "S204", "S205", "S206", "S207", "Q001", "Q002", "Q003",
    },
    "bad/dpo-old-keys.jsonl": {"S301", "S302"},
    "bad/rft-ends-with-answer.jsonl": {"S311"},
    "bad/sharegpt.jsonl": {"S020"},
    "bad/alpaca.jsonl": {"S020"},
    "bad/mixed-formats.jsonl": {"S021"},
    "bad/unknown-format.jsonl": {"S022"},
    "bad/legacy.jsonl": {"S024"},
    "bad/too-few.jsonl": {"S013"},
    "bad/empty.jsonl": {"S010"},
    "bad/lfs-pointer.jsonl": {"S011"},
    "bad/truncated.jsonl.gz": {"S012", "S013", "S016"},
    "bad/wrong-extension.ndjson": {"S016"},
    "bad/cr-line-ends.jsonl": {"S008", "S013"},
    "bad/lone-surrogate.jsonl": {"S009"},
    "bad/zip-named-jsonl.jsonl": {"S017"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_fixture_triggers_its_rules(name: str) -> None:
    report = dslint.check([FIXTURES / name], today=TODAY, ignore=["S014"])
    # The bad fixtures are there for the format and schema rules; other families may add
    # their own findings (heavy tool definitions, tone) without changing what is tested here.
    assert {f.code for f in report.findings if f.code[0] in "SQ"} == EXPECTED[name]


@pytest.mark.parametrize("name", ["good/chat.jsonl", "good/tools.jsonl", "good/dpo.jsonl"])
def test_good_fixture_has_no_error_or_warning(name: str) -> None:
    report = dslint.check([FIXTURES / name], today=TODAY)
    assert [f.code for f in report.findings if f.severity.value != "info"] == []
    assert report.files[0].examples >= 10


def test_fixtures_cover_every_schema_rule() -> None:
    from dslint.registry import all_rules

    covered = set().union(*EXPECTED.values())
    schema_rules = {r.code for r in all_rules() if r.code[0] in "SQ"}
    # S014 (few examples) fires on every small file; S015 (over 512 MB) and S023 (target
    # mismatch) need a size or a --model and are covered in test_schema; S018 (changed while
    # read) needs a writer racing the reader and is covered in test_hostile.
    assert schema_rules - covered == {"S014", "S015", "S018", "S023"}
