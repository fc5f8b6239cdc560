"""A small dataset with findings of every kind, and the report the reporter tests render.

It has record-level findings (with and without a text span), a line that is not JSON, a
file-level and a dataset-level finding, a privacy finding (with a span to redact), markup
that must never run in the HTML report, and per-example token counts like the ones the
token rules put in the records frame.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any

from conftest import TODAY, chat, jsonl
from dslint.api import check
from dslint.finding import Category, Finding, Severity
from dslint.fingerprint import fingerprint
from dslint.report import Report
from dslint.rule import DatasetRule

SCRIPT_PAYLOAD = "<script>window.__pwned = 'script'; alert(1)</script>"
IMG_PAYLOAD = "<img src=x onerror=\"window.__pwned = 'img'; alert(2)\">"
EMAIL = "alice.secret@example.com"
MODEL = "gpt-3.5-turbo-0613"  # a 4,096-token limit, so the token chart's limit line shows


class FakeEmail(DatasetRule):
    """An email address in a message (test stand-in for a privacy rule).

    Addresses identify people; remove or mask them.
    """

    code = "P901"
    name = "test-email-address"
    category = Category.PRIVACY
    severity = Severity.WARNING


class FakeNearDuplicate(DatasetRule):
    """Training and validation overlap (test stand-in for a dataset-level rule)."""

    code = "D901"
    name = "test-overlap"
    category = Category.DUPLICATES
    severity = Severity.INFO


def lines() -> list[str]:
    examples: list[Any] = [
        chat(f"Question {i}: where is order {i}?", f"Order {i} ships tomorrow.", system="Be brief.")
        for i in range(9)
    ]
    examples[2] = {"messages": [{"role": "bot", "content": "Hello"}]}
    examples[4] = chat(f"{SCRIPT_PAYLOAD} and {IMG_PAYLOAD}", "", system="Be brief.")
    examples[6] = chat(f"Write to {EMAIL} | please", "Done: mail sent.", system="Be brief.")
    examples.append('{"messages": [')  # not JSON
    examples.append({"prompt": "Say hi", "completion": "hi"})  # another format: file-level
    return jsonl(*examples).splitlines()


SELECTED = ["S001", "S014", "S021", "S103", "S108", "Q001"]
TOKENS = [120, 4_600, 35, 180, 90, 2_400, 150, 130, 110]  # per parsed chat example


def write_dataset(folder: Path, extra_top_lines: int = 0) -> Path:
    """Write data/train.jsonl under ``folder`` (a repository: it gets a .git folder)."""
    (folder / ".git").mkdir(exist_ok=True)
    data = folder / "data"
    data.mkdir(exist_ok=True)
    top = [
        json.dumps(chat(f"Inserted question {i}?", f"Inserted answer {i}."))
        for i in range(extra_top_lines)
    ]
    path = data / "train.jsonl"
    path.write_text("\n".join([*top, *lines()]) + "\n", encoding="utf-8")
    return path


def _email_finding(report: Report, folder: Path, path: str) -> Finding:
    dataset = report.datasets[0]
    records = dataset.records
    target = dataset.messages[dataset.messages["text"].str.contains(EMAIL, regex=False)].iloc[0]
    row = records.loc[int(target["record"])]
    raw = (folder / path).read_text(encoding="utf-8").splitlines()[int(row["line"]) - 1]
    start = raw.index(EMAIL) + 1
    return Finding(
        code=FakeEmail.code,
        name=FakeEmail.name,
        category=FakeEmail.category,
        severity=FakeEmail.severity,
        path=path,
        line=int(row["line"]),
        column=start,
        pointer=str(target["pointer"]),
        message="message 1 (user): an email address (a***@example.com); remove or mask it",
        fingerprint=fingerprint(FakeEmail.code, path, int(row["content_hash"]), "", "email"),
        end_column=start + len(EMAIL),
    )


def sample_report(folder: Path, extra_top_lines: int = 0, tokens: bool = True) -> Report:
    """Lint the dataset from inside ``folder`` (relative paths) and add the stand-in findings."""
    write_dataset(folder, extra_top_lines)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        # Only the rules this data triggers: rule families added later leave the goldens alone.
        report = check(["data/train.jsonl"], model=MODEL, today=TODAY, select=SELECTED)
    finally:
        os.chdir(previous)
    path = "data/train.jsonl"
    email = _email_finding(report, folder, path)
    overlap = Finding(
        code=FakeNearDuplicate.code,
        name=FakeNearDuplicate.name,
        category=FakeNearDuplicate.category,
        severity=FakeNearDuplicate.severity,
        path="",
        line=None,
        column=None,
        pointer="",
        message="3 training examples also appear in the validation data",
        fingerprint=fingerprint(FakeNearDuplicate.code, "", None, "", ""),
    )
    findings = sorted([*report.findings, email, overlap], key=lambda f: f.sort_key)
    if tokens:
        records = report.datasets[0].records
        parsed = records["is_object"] & (records["format"] == "chat")
        counts = itertools.cycle(TOKENS)
        records["tokens"] = [next(counts) if ok else None for ok in parsed]
        records["assistant_tokens"] = [t // 3 if t is not None else None for t in records["tokens"]]
    return dataclasses.replace(
        report,
        findings=tuple(findings),
        rules=(*report.rules, FakeEmail, FakeNearDuplicate),
    )


def render_in(folder: Path, reporter: Any, report: Report) -> str:
    """Render from inside ``folder``: the report's paths (and files' real paths) are relative."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        return str(reporter.render(report))
    finally:
        os.chdir(previous)
