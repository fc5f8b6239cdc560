"""The incremental cache: it skips unchanged work and never changes a report."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, clean_chat, jsonl, run_notes
from dslint import registry
from dslint.cache import CACHE_DIR, Cache
from dslint.cli import cli
from dslint.finding import Category, Hit, Severity
from dslint.loader import Record
from dslint.rule import RecordRule


@dataclass(frozen=True)
class LoudOptions:
    word: str = "SHOUT"


class Loud(RecordRule):
    """An assistant reply contains the configured word (counts its calls, for the tests)."""

    code = "X300"
    name = "loud-reply"
    category = Category.VOICE
    severity = Severity.WARNING
    options_type = LoudOptions
    calls: ClassVar[int] = 0

    def check(self, record: Record) -> Iterator[Hit]:
        Loud.calls += 1
        for i, message in enumerate(record.value.get("messages", [])):
            content = message.get("content")
            if message.get("role") == "assistant" and isinstance(content, str):
                start = content.find(self.options.word)
                if start >= 0:
                    if "note" in content:
                        self.context.notes.append("a loud reply asked for a note")
                    yield Hit(
                        f"reply contains {self.options.word}",
                        f"/messages/{i}/content",
                        span=(start, start + len(self.options.word)),
                        severity=Severity.ERROR if "!" in content else None,
                        key=self.options.word,
                    )


@pytest.fixture(autouse=True)
def loud_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    module = types.ModuleType("cache_test_rules")
    module.RULES = [Loud]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cache_test_rules", module)
    plugin = EntryPoint(name="x", value="cache_test_rules:RULES", group="dslint.rules")
    real = registry.entry_points
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [*real(group=group), *([plugin] if group == registry.RULES_GROUP else [])],
    )
    registry.all_rules.cache_clear()
    yield
    registry.all_rules.cache_clear()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    """Run the CLI; return its exit code and its JSON output, and how many records it checked."""
    Loud.calls = 0
    result = CliRunner().invoke(
        cli, ["check", *args, "--today", TODAY.isoformat(), "--format", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    return result.exit_code, result.output


def dataset() -> list[Any]:
    examples: list[Any] = clean_chat(60)
    examples[3] = chat("Why?", "Because SHOUT.")
    examples[7] = chat("Really?", "SHOUT! with a note")
    examples[9] = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}
    examples[12] = '{"messages": [broken'
    examples[15] = chat('Escaped "quotes" and \\ backslashes', 'SHOUT "\u00e9" \t here')
    return examples


def test_reports_are_identical_with_and_without_the_cache_also_after_edits(workdir: Path) -> None:
    data = workdir / "train.jsonl"
    examples = dataset()
    data.write_text(jsonl(*examples), encoding="utf-8")
    cold = run("train.jsonl")
    assert Loud.calls == 59  # every parsed object was checked
    warm = run("train.jsonl")
    assert Loud.calls == 0  # nothing changed: every record came from the cache
    uncached = run("train.jsonl", "--no-cache")
    assert Loud.calls == 59
    assert cold == warm == uncached
    assert cold[0] == 1
    document = json.loads(cold[1])
    assert run_notes(document["summary"]["notes"]) == ["a loud reply asked for a note"]
    assert {f["code"] for f in document["findings"]} >= {"X300", "S001", "S104"}

    # Edits: insert lines (every later line moves), change one, delete one, reorder two.
    examples.insert(0, chat("New first?", "A SHOUT at the top."))
    examples[20] = chat("Changed?", "Now SHOUT too.")
    del examples[30]
    examples[40], examples[41] = examples[41], examples[40]
    indented = " " + json.dumps(chat("Indented?", "Leading SHOUT space"))  # columns move
    examples.append(indented)
    data.write_text(jsonl(*examples), encoding="utf-8")
    edited = run("train.jsonl")
    # Only the new and changed records, and the old first line (line 1 is keyed apart: a
    # byte order mark can only be there).
    assert Loud.calls == 4
    assert edited == run("train.jsonl", "--no-cache")
    lines = {(f["line"], f["column"]) for f in json.loads(edited[1])["findings"]}
    assert (len(examples), indented.index("SHOUT") + 1) in lines  # its space counts


def test_rule_configuration_and_version_key_the_cache(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "train.jsonl").write_text(jsonl(*dataset()), encoding="utf-8")
    first = run("train.jsonl")
    (workdir / "dslint.toml").write_text('[rules.X300]\nword = "Because"\n')
    changed = run("train.jsonl")
    assert Loud.calls == 59  # a new option: nothing reused
    assert changed != first
    assert changed == run("train.jsonl", "--no-cache")
    assert [f["line"] for f in json.loads(changed[1])["findings"] if f["code"] == "X300"] == [4]

    (workdir / "dslint.toml").unlink()
    monkeypatch.setattr("dslint.__version__", "99.0")
    run("train.jsonl")
    assert Loud.calls == 59  # another dslint version: nothing reused


def test_no_cache_writes_nothing_and_the_folder_ignores_itself(workdir: Path) -> None:
    (workdir / "train.jsonl").write_text(jsonl(*dataset()), encoding="utf-8")
    run("train.jsonl", "--no-cache")
    assert not (workdir / CACHE_DIR).exists()
    run("train.jsonl")
    assert (workdir / CACHE_DIR / ".gitignore").read_text().splitlines()[-1] == "*"
    stored = "".join(p.read_text() for p in (workdir / CACHE_DIR).glob("*.json"))
    assert "Question number 5" not in stored  # hits are kept, not the data


def test_a_foreign_or_damaged_cache_is_never_trusted(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    examples = dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    expected = run("train.jsonl", "--no-cache")
    run("train.jsonl")
    # Someone else's cache (a pull request that commits .dslint_cache/, say) that claims
    # the bad records are clean: with this user's key its entries match nothing.
    for store in (workdir / CACHE_DIR).glob("records-*.json"):
        document = json.loads(store.read_text())
        document["entries"] = {key: [[], []] for key in document["entries"]}
        store.write_text(json.dumps(document))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("other-user")))
    assert run("train.jsonl") == expected
    assert Loud.calls == 59
    # Damaged files cost time, never results.
    for store in (workdir / CACHE_DIR).glob("*.json"):
        store.write_bytes(b"\x00{not json")
    assert run("train.jsonl") == expected
    assert run("train.jsonl") == expected and Loud.calls == 0  # rewritten and reused


def test_text_memo_computes_only_unseen_texts(workdir: Path) -> None:
    computed: list[str] = []

    def lengths(texts: list[str]) -> list[int]:
        computed.extend(texts)
        return [len(t) for t in texts]

    cache = Cache.open()
    assert cache is not None
    memo = cache.memo("test.length", version="1")
    assert memo.map(["a", "bb", "a", "ccc"], lengths) == [1, 2, 1, 3]
    assert computed == ["a", "bb", "ccc"]  # each distinct text once
    cache.save()

    computed.clear()
    again = Cache.open()
    assert again is not None
    memo = again.memo("test.length", version="1")
    assert memo.map(["ccc", "quokka", "a"], lengths) == [3, 6, 1]
    assert computed == ["quokka"]
    assert memo.lookup(["bb", "zz"]) == {"bb": 2}
    # Another version or namespace is another memo.
    computed.clear()
    assert again.memo("test.length", version="2").map(["a"], lengths) == [1]
    assert again.memo("test.other", version="1").map(["a"], lengths) == [1]
    assert computed == ["a", "a"]
    again.save()
    stored = "".join(p.read_text() for p in (workdir / CACHE_DIR).glob("memo-*.json"))
    assert "quokka" not in stored  # keys are hashes, not texts (hex never holds a "q")


def test_rules_reach_the_memo_through_their_context(workdir: Path) -> None:
    from dslint.cache import null_memo
    from dslint.config import Config
    from dslint.engine import Engine

    cache = Cache.open()
    engine = Engine(Config(), today=TODAY, cache=cache)
    rule = engine.rules[0]
    assert rule.context.memo("x.y").map(["t"], lambda ts: [7 for _ in ts]) == [7]
    assert rule.context.memo("x.y").lookup(["t"]) == {"t": 7}
    off = Engine(Config(), today=TODAY)
    assert off.rules[0].context.memo("x.y").lookup(["t"]) == {}
    assert null_memo("x").map(["a", "b"], lambda ts: [len(ts)] * len(ts)) == [2, 2]
