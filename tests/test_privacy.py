"""Privacy rules: PII (P001-P006) and secrets (P101-P110), placeholders, allow-lists, redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, jsonl
from dslint.api import check
from dslint.cli import cli
from dslint.config import ConfigError
from dslint.finding import Finding
from dslint.registry import load_reporter, reporters

# Synthetic values (random, made for these tests) of every kind, with the code that reports them.
OPENAI = "sk-proj-0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIB"
ANTHROPIC = "sk-ant-api03-XuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7FAc9Qe"
AWS_ID = "AKIA9UVW53EFR4EDT2SY"
AWS_SECRET = "Sc7Tvo+hBKqFYY+kv5ZJr3J1TWDtkwtDDb/xHKas"
GITHUB = "ghp_AIxNKu8iS2G8NPRVdD53X83RZJzzzzgEOzdm"
SLACK = "xoxb-581932968202-220956171173-vMdgaKjIg8xNbe3nNyjOq9wM"
STRIPE = "sk_live_xEhh2FDEEtfjgVvVqE1SkHbn"
GOOGLE = "AIzaUsdMlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8z"
JWT = (
    "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidS04ODEyIiwgImV4cCI6IDE4OTM0NTYwMDB9"
    ".vnEN5N1aE6PwZPf1Qh6yYTWmE4lBYOvfZ8UzDzV8fUk"
)
KEY_BODY = (
    "MIIEpAIBAAKCAQEAQxj79TtUzpuf4uo3rp/4uOIgMs+tqBCKHFAk5LufhzUHKCH1XX9PROmdvO13hCQTRpWEQ46D"
)
PRIVATE_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----"
PASSWORD = "kibjL5DZPjN0ME"

# (code, text, the value the finding must point at)
FAILING = [
    ("P001", "Reply to maria.lopez@protonmail.com today", "maria.lopez@protonmail.com"),
    ("P002", "Call me on +44 20 7123 4567 tomorrow", "+44 20 7123 4567"),
    ("P002", "my phone is (415) 867-5309", "(415) 867-5309"),
    ("P003", "My card is 4539 5260 1815 9083.", "4539 5260 1815 9083"),
    ("P003", "card 5412301661318603", "5412301661318603"),
    ("P004", "Pay to DE44 5001 0517 5407 3249 31 now", "DE44 5001 0517 5407 3249 31"),
    ("P004", "IBAN FR1420041010050500013M02606", "FR1420041010050500013M02606"),
    ("P005", "My SSN is 512-74-3829", "512-74-3829"),
    ("P005", "ssn 512 74 3829", "512 74 3829"),
    ("P006", "I logged in from 93.184.216.34 today", "93.184.216.34"),
    ("P006", "client 2a00:1450:4001:82a::200e connected", "2a00:1450:4001:82a::200e"),
    ("P101", f"Use {OPENAI} for that", OPENAI),
    ("P101", "old key sk-4fQ9zLmW2xR7tY1uI8oP3aS6dF0gH5jK", "sk-4fQ9zLmW2xR7tY1uI8oP3aS6dF0gH5jK"),
    ("P102", f"key: {ANTHROPIC}", ANTHROPIC),
    ("P103", f"export AWS_ACCESS_KEY_ID={AWS_ID}", AWS_ID),
    ("P103", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("P104", f"token {GITHUB}", GITHUB),
    ("P105", f"bot token {SLACK}", SLACK),
    ("P106", f"stripe.api_key = '{STRIPE}'", STRIPE),
    ("P107", f"maps key {GOOGLE}", GOOGLE),
    ("P108", f"here:\n{PRIVATE_KEY}\nthanks", PRIVATE_KEY),
    ("P109", f"Authorization: Bearer {JWT}", JWT),
    ("P110", f"DATABASE_URL=postgres://app:{PASSWORD}@db.internal:5432/app", PASSWORD),
]

PASSING = [
    # placeholders and documented examples
    "Reply to jane@example.com or ops@mail.test",
    "Write to your.name@gmail.com",
    "Call (415) 555-0134 or +1 415 555 0199",
    "Test with 4242 4242 4242 4242 or 4111-1111-1111-1111",
    "IBAN GB82 WEST 1234 5698 7654 32",
    "Example SSN 123-45-6789",
    "Set OPENAI_API_KEY=sk-XXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "Set OPENAI_API_KEY=sk-proj-your-api-key-goes-here-1234",
    "api_key = 'sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
    "YOUR_API_KEY",
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "stripe key sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "postgres://user:password@localhost/db and mysql://root:$DB_PASSWORD@db/app",
    "redis://:${REDIS_PASSWORD}@cache:6379",
    # checksum negatives
    "My card is 4539 5260 1815 9084",  # Luhn fails
    "Reference 1234 5678 9012 3456 7",
    "Pay to DE45 5001 0517 5407 3249 31",  # mod-97 fails
    "IBAN DE44 5001 0517 5407 3249",  # wrong length for DE
    "SSN 666-74-3829 or 000-12-3456 or 912-34-5678",
    # private and reserved addresses
    "Router 192.168.1.20, host 10.0.0.7, vpn 172.16.4.1, local 127.0.0.1, link 169.254.3.3",
    "Docs use 203.0.113.5 and 198.51.100.7 and 2001:db8::1; DNS 8.8.8.8",
    "Version 1.2.3.4 and v2.10.1.5 and OID 1.3.6.1.4.1",
    # ordinary numbers and text
    "Order 415-555-0134 shipped on 2024-03-15 for $1,234.56; time 12:30:45",
    "The meeting is at 10:30 in room 4 on floor 12.",
]


def lint_text(tmp_path: Path, *contents: str, **kwargs: object) -> list[Finding]:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*(chat(c, "OK.") for c in contents)), encoding="utf-8")
    kwargs.setdefault("select", ["privacy"])
    return list(check([path], today=TODAY, **kwargs).findings)  # type: ignore[arg-type]


def raw_column(line: str, value: str) -> int:
    """The 1-based column of ``value`` in a raw JSONL line (JSON-escaped as it is written)."""
    return line.index(json.dumps(value)[1:-1]) + 1


@pytest.mark.parametrize(("code", "text", "value"), FAILING, ids=[f[0] for f in FAILING])
def test_rule_reports_value_with_line_pointer_and_column(
    tmp_path: Path, code: str, text: str, value: str
) -> None:
    findings = lint_text(tmp_path, "A clean first example.", text)
    raw = jsonl(chat(text, "OK.")).rstrip("\n")
    assert [(f.code, f.line, f.pointer, f.column) for f in findings] == [
        (code, 2, "/messages/0/content", raw_column(raw, value))
    ]
    assert findings[0].end_column == raw_column(raw, value) + len(json.dumps(value)) - 2


@pytest.mark.parametrize("text", PASSING)
def test_placeholders_negatives_and_private_ranges_pass(tmp_path: Path, text: str) -> None:
    assert lint_text(tmp_path, text) == []


def test_several_values_in_one_message_are_each_reported(tmp_path: Path) -> None:
    text = f"mail bob.smith@gmail.com, key {GITHUB}, card 4539 5260 1815 9083"
    findings = lint_text(tmp_path, text)
    assert [(f.code, f.line) for f in findings] == [("P001", 1), ("P104", 1), ("P003", 1)]
    assert len({f.fingerprint for f in findings}) == 3


def test_tool_call_arguments_and_tool_definitions_are_scanned(tmp_path: Path) -> None:
    arguments = json.dumps({"to": "ann.lee@yahoo.com", "token": GITHUB})
    example = {
        "messages": [
            {"role": "user", "content": "Mail Ann"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "send", "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sent"},
            {"role": "assistant", "content": "Done."},
        ],
        "tools": [{"type": "function", "function": {
            "name": "send", "description": "Escalate to root@corp-mail.net",
            "parameters": {"type": "object", "properties": {}}}}],
    }  # fmt: skip
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(example), encoding="utf-8")
    findings = check([path], select=["privacy"], today=TODAY).findings
    raw = path.read_text(encoding="utf-8")
    arguments_pointer = "/messages/1/tool_calls/0/function/arguments"
    assert [(f.code, f.line, f.pointer) for f in findings] == [
        ("P001", 1, arguments_pointer),
        ("P104", 1, arguments_pointer),
        ("P001", 1, "/tools/0/function/description"),
    ]
    # The column points into the doubly escaped arguments string, at the value itself.
    email_in_raw = raw.index("ann.lee@yahoo.com") + 1
    assert findings[0].column == email_in_raw
    assert findings[2].column == raw.index("root@corp-mail.net") + 1


def test_the_three_columns_are_searched_in_one_pass_per_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts, tool calls and tool definitions side by side in one RE2 pass per pack (each
    pass compiles the pack); every column's rows still map back to their own lines, on a
    first run and on a re-run that searches only the edited line's texts."""
    import os

    import pyarrow.compute as pc

    from dslint.rules.privacy import packs

    def tools(description: str) -> list[dict[str, object]]:
        return [{"type": "function", "function": {
            "name": "send", "description": description,
            "parameters": {"type": "object", "properties": {}}}}]  # fmt: skip

    def call(arguments: dict[str, str]) -> dict[str, object]:
        return {"role": "assistant", "content": "", "tool_calls": [{"id": "c1",
                "type": "function", "function": {"name": "send",
                "arguments": json.dumps(arguments)}}]}  # fmt: skip

    examples = [
        {"messages": [{"role": "user", "content": "Hi"}, call({"to": "team"}),
                      {"role": "tool", "tool_call_id": "c1", "content": "ok"},
                      {"role": "assistant", "content": "Sent."}],
         "tools": tools("Send a note")},
        {"messages": [{"role": "user", "content": "Reach me at bob.smith@gmail.com"},
                      {"role": "assistant", "content": "Noted."}]},
        {"messages": [{"role": "user", "content": "Mail Ann"}, call({"token": GITHUB}),
                      {"role": "tool", "tool_call_id": "c1", "content": "sent"},
                      {"role": "assistant", "content": "Done."}],
         "tools": tools("Escalate to root@corp-mail.net")},
    ]  # fmt: skip
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*examples), encoding="utf-8")
    passes: list[str] = []
    real = pc.match_substring_regex

    def counted(*args: object, **kwargs: object) -> object:
        passes.append("pass")
        return real(*args, **kwargs)

    monkeypatch.setattr(pc, "match_substring_regex", counted)
    expected = [
        ("P001", 2, "/messages/0/content"),
        ("P104", 3, "/messages/1/tool_calls/0/function/arguments"),
        ("P001", 3, "/tools/0/function/description"),
    ]
    monkeypatch.chdir(tmp_path)
    for run in range(2):
        if run:  # a re-run after the first example changed: only its texts are searched
            examples[0]["messages"][0]["content"] = "Hello there"  # type: ignore[index]
            path.write_text(jsonl(*examples), encoding="utf-8")
        passes.clear()
        findings = check([path], select=["privacy"], today=TODAY, cache=True).findings
        assert [(f.code, f.line, f.pointer) for f in findings] == expected
        assert len(passes) == len(packs.PACKS)
    assert os.path.isdir(tmp_path / ".dslint_cache")


def test_scan_setting_limits_what_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "dslint.toml").write_text('[tool.dslint.privacy]\nscan = ["messages"]\n')
    arguments = json.dumps({"to": "ann.lee@yahoo.com"})
    example = {"messages": [
        {"role": "user", "content": "write to bob.smith@gmail.com"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "send", "arguments": arguments}}]},
    ]}  # fmt: skip
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(example), encoding="utf-8")
    findings = check([path], select=["privacy"], today=TODAY).findings
    assert [(f.code, f.pointer) for f in findings] == [("P001", "/messages/0/content")]


def test_allow_lists_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dslint.privacy]\n"
        'allow = ["Support@Acme-Corp.com", "+44 20 7123 4567"]\n'
        'allow-domains = ["partner.io"]\n'
        "allow-patterns = ['^ops-[a-z]+@ops\\.net$']\n",
        encoding="utf-8",
    )
    findings = lint_text(
        tmp_path,
        "Write to support@acme-corp.com or sales@eu.partner.io or ops-night@ops.net",
        "Call +44 20 7123 4567",
        "But not bob.smith@gmail.com",
    )
    assert [(f.code, f.line) for f in findings] == [("P001", 3)]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("allowlist = []", "'allowlist'"),
        ("allow = 'x@y.com'", "'allow' must be a list"),
        ("allow-patterns = ['(']", "allow-patterns"),
        ("scan = ['attachments']", "'attachments'"),
    ],
)
def test_bad_privacy_section_is_a_config_error(tmp_path: Path, body: str, needle: str) -> None:
    (tmp_path / "dslint.toml").write_text(f"[tool.dslint.privacy]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        lint_text(tmp_path, "hello")
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "data.jsonl")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_json_escapes_before_the_value_keep_the_column_exact(tmp_path: Path) -> None:
    text = 'line one\nline \u00e9\t"two" \U0001f600 mail bob.smith@gmail.com'
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(chat(text, "OK.")), encoding="utf-8")
    (finding,) = check([path], select=["P001"], today=TODAY).findings
    raw = path.read_text(encoding="utf-8")
    assert finding.column == raw.index("bob.smith@gmail.com") + 1


SECRETS = [OPENAI, ANTHROPIC, AWS_ID, AWS_SECRET, GITHUB, SLACK, STRIPE, GOOGLE, JWT, KEY_BODY,
           PASSWORD]  # fmt: skip
PII = ["maria.lopez@protonmail.com", "+44 20 7123 4567", "4539 5260 1815 9083", "512-74-3829",
       "DE44 5001 0517 5407 3249 31", "93.184.216.34"]  # fmt: skip


def _leaks(output: str) -> list[str]:
    """Values (or any 8-character piece of a value beyond its vendor prefix) in the output."""
    leaked = []
    for value in SECRETS + PII:
        compact = value.replace(" ", "")
        # A report may show the vendor prefix, so the pieces are taken from what follows it.
        prefix = next((p for p in _PREFIXES if compact.startswith(p)), "")
        body = compact[len(prefix) :]
        pieces = {body[i : i + 8] for i in range(max(1, len(body) - 7))}
        if value in output or compact in output or any(p in output for p in pieces):
            leaked.append(value)
    return leaked


_PREFIXES = ("sk-proj-", "sk-ant-api03-", "sk_live_", "ghp_", "xoxb-", "AIza", "AKIA", "eyJ")


def test_no_value_reaches_any_reporter_or_output_file(tmp_path: Path) -> None:
    texts = [text for _, text, _ in FAILING]
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*(chat(t, "OK.") for t in texts)), encoding="utf-8")
    report = check([path], today=TODAY)
    assert {f.code for f in report.findings} >= {code for code, _, _ in FAILING}
    assert _leaks(path.read_text(encoding="utf-8"))  # the check itself can see a leak
    rendered = {}
    for name in reporters():
        reporter = load_reporter(name)()
        rendered[name] = reporter.render(report)
    assert {"text", "json"} <= set(rendered)
    for name, output in rendered.items():
        assert _leaks(output) == [], f"the {name} reporter leaks a value"
    # And through the command line, stdout and -o files alike.
    outputs = [str(tmp_path / "out.json"), str(tmp_path / "out.txt")]
    args = ["check", str(path), "--format", "json", "--fail-on", "never"]
    result = CliRunner().invoke(cli, [*args, *(x for o in outputs for x in ("-o", o))])
    assert result.exit_code == 0, result.output
    assert _leaks(result.output) == []
    for out in outputs:
        assert _leaks(Path(out).read_text(encoding="utf-8")) == []
    shown = {(f.code, f.message.split("'")[1]) for f in report.findings if "'" in f.message}
    assert {("P101", "sk-proj-…"), ("P101", "sk-…"), ("P104", "ghp_…")} <= shown


def test_privacy_rules_are_on_by_default(tmp_path: Path) -> None:
    findings = lint_text(tmp_path, f"key {STRIPE}", select=None)
    assert ("P106", 1) in [(f.code, f.line) for f in findings]


def test_every_pattern_of_the_shipped_packs_compiles_in_both_engines() -> None:
    """Python's expressions are compiled when first used (dslint.rules.privacy.packs), so a
    broken one would show only on the first text it is needed for: compile them all here."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    from dslint.rules.privacy import packs

    for name in packs.PACKS:
        pack = packs.load(name)
        assert isinstance(pack.regex, re.Pattern)
        assert sorted(pack.regex.groupindex) >= sorted(pack.patterns)
        pc.match_substring_regex(pa.array(["x"]), pack.re2)  # RE2 accepts it
        for pattern in pack.patterns.values():
            assert pattern.context is None or isinstance(pattern.context, re.Pattern)
            assert pattern.keep is None or isinstance(pattern.keep, re.Pattern)
            assert (pattern.context is None) == (not pattern.context_words)


def test_columns_of_different_string_types_are_searched_together() -> None:
    """string, large_string and categorical columns in one pass: each keeps its own rows."""
    import pandas as pd
    import pyarrow as pa

    from dslint.config import Config
    from dslint.rules.privacy.scanner import _Finder
    from dslint.rules.privacy.settings import parse

    finder = _Finder(parse(Config()), "test")
    small = pd.Series(
        ["mail bob.smith@gmail.com please", "nothing"], dtype=pd.ArrowDtype(pa.string())
    )
    large = pd.Series(["x", f"key {GITHUB}"], dtype=pd.ArrowDtype(pa.large_string()))
    repeated = pd.Series(["root@corp-mail.net", "y", "root@corp-mail.net", None]).astype("category")
    for columns, expected in (
        ([small, large, repeated], [[0], [1], [0, 2]]),
        ([large, small], [[1], [0]]),
        ([repeated], [[0, 2]]),
    ):
        assert [rows.tolist() for rows in finder.candidates_in(columns)] == expected
