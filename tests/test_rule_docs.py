"""Every rule's documentation is executed: its FAIL examples must fire it, PASS ones must not."""

from __future__ import annotations

import re

import pytest

from dslint.registry import all_rules
from dslint.rule import RecordRule

EXAMPLE_BLOCK = re.compile(r"^(FAIL|PASS)::\n\n((?:    .*\n?)+)", re.MULTILINE)


def examples() -> list[tuple[str, str, str]]:
    cases = []
    for rule in all_rules():
        for kind, block in EXAMPLE_BLOCK.findall(rule.documentation() + "\n"):
            for line in block.splitlines():
                if line.strip():
                    cases.append((rule.code, kind, line.strip()))
    return cases


CASES = examples()


def test_every_record_rule_documents_a_failing_example() -> None:
    documented = {code for code, kind, _ in CASES if kind == "FAIL"}
    record_rules = {r.code for r in all_rules() if issubclass(r, RecordRule)}
    # S002 (invalid UTF-8), S006/S007 (blank line, BOM) and S008 (bare CR line ends) cannot be
    # shown as one text line, and an eleven-image example (S110) would be unreadable; their
    # tests are in test_schema and test_hostile.
    missing = record_rules - documented - {"S002", "S006", "S007", "S008", "S110"}
    assert not missing, f"rules without a FAIL example in their docstring: {sorted(missing)}"


@pytest.mark.parametrize(
    ("code", "kind", "line"), CASES, ids=[f"{c}-{k}-{i}" for i, (c, k, _) in enumerate(CASES)]
)
def test_documented_example(lint, code: str, kind: str, line: str) -> None:  # type: ignore[no-untyped-def]
    findings = lint(line + "\n", select=[code])
    fired = [f for f in findings if f.code == code]
    if kind == "FAIL":
        assert fired, f"{code} did not fire on its documented FAIL example"
        assert all(f.line == 1 for f in fired)
    else:
        assert not fired, f"{code} fired on its documented PASS example: {fired[0].message}"
