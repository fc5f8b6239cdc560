"""Shared helpers: write a dataset to a temporary file and lint it through the real engine."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from dslint.api import check
from dslint.finding import Finding

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "real"
TODAY = dt.date(2026, 11, 24)


def jsonl(*examples: Any) -> str:
    """Examples (dicts, or raw strings taken as they are) as JSONL text."""
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in examples)


def chat(user: str = "Hi", assistant: str = "Hello!", system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def clean_chat(count: int = 10) -> list[dict[str, Any]]:
    """Distinct, valid chat examples (enough to pass the file-level minimum)."""
    return [
        chat(f"Question number {i} about our service?", f"Answer number {i}.") for i in range(count)
    ]


@pytest.fixture(autouse=True)
def _private_cache_key(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache's secret key and the unpacked data copies (dslint.derived) go to a temporary
    folder shared by the session, never the tester's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run in the tests happens on TODAY, so no result depends on the calendar."""
    monkeypatch.setenv("DSLINT_TODAY", TODAY.isoformat())


def run_notes(notes: Sequence[str]) -> list[str]:
    """A report's notes without the date-driven OpenAI wind-down notice."""
    return [n for n in notes if not n.startswith("OpenAI accepts no new fine-tuning jobs")]


@pytest.fixture
def lint(tmp_path: Path):  # type: ignore[no-untyped-def]
    """lint(text, name="data.jsonl", **check_kwargs) -> list of findings."""

    def run(text: str | bytes, name: str = "data.jsonl", **kwargs: Any) -> list[Finding]:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", newline="")
        kwargs.setdefault("today", TODAY)
        return list(check([path], **kwargs).findings)

    return run


def located(findings: Sequence[Finding], *codes: str) -> list[tuple[str, int | None, str]]:
    """(code, line, pointer) of the findings, optionally only those with these codes."""
    return [(f.code, f.line, f.pointer) for f in findings if not codes or f.code in codes]


def codes(findings: Sequence[Finding]) -> set[str]:
    return {f.code for f in findings}


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/real is absent")


def write_style(tmp_path: Path) -> None:
    """A Vale style folder styles/House (a substitution, an unsupported spelling rule and an
    existence rule) and a dslint.toml that runs it."""
    style = tmp_path / "styles" / "House"
    style.mkdir(parents=True)
    (style / "Terms.yml").write_text(
        "extends: substitution\nmessage: \"Use '%s' instead of '%s'.\"\nlevel: error\n"
        "ignorecase: true\naction:\n  name: replace\nswap:\n  log in: sign in\n"
    )
    (style / "Spelling.yml").write_text(
        "extends: spelling\nmessage: \"Did you really mean '%s'?\"\n"
    )
    (style / "Hedging.yml").write_text(
        "extends: existence\nmessage: \"Avoid '%s'.\"\nlevel: suggestion\nignorecase: true\n"
        "tokens:\n  - perhaps\n"
    )
    (tmp_path / "dslint.toml").write_text('[tool.dslint.voice]\nvale = ["styles/House"]\n')


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of 10 kB or more are split between this process and a helper (dslint.shards)."""
    from dslint import shards

    monkeypatch.setattr(shards, "MIN_BYTES", 10_000)


@pytest.fixture
def helper_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process ids that read a second half (merge_counts sees every helper's result)."""
    from dslint import shards

    pids: list[int] = []
    merge = shards.merge_counts

    def spy(info: Any, result: shards.SpanResult) -> None:
        pids.append(result.pid)
        merge(info, result)

    monkeypatch.setattr(shards, "merge_counts", spy)
    return pids
