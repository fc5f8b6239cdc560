"""The incremental cache: it skips unchanged work and never changes a report."""

from __future__ import annotations

import json
import random
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, clean_chat, jsonl, run_notes, write_style
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


def test_record_hits_are_kept_across_days_unless_a_plugin_rule_could_read_the_date(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.engine import Engine

    (workdir / "train.jsonl").write_text(jsonl(*dataset()), encoding="utf-8")
    checked = watch(monkeypatch, Engine, "_run_record_rules", lambda engine, record: [record])

    def on(day: str, *args: str) -> str:
        result = CliRunner().invoke(cli, ["check", "train.jsonl", "--today", day, "--format",
                                          "json", *args], catch_exceptions=False)  # fmt: skip
        return result.output

    built_in = ("--select", "S,Q")  # record rules, none of them the plugin's X300
    on("2026-03-01", *built_in)
    assert len(checked) >= 59
    checked.clear()
    next_day = on("2026-03-02", *built_in)
    assert checked == []  # every line's hits came from the day before
    assert next_day == on("2026-03-02", *built_in, "--no-cache")

    on("2026-03-02")  # the plugin's record rule is chosen: its hits are kept per day
    Loud.calls = 0
    on("2026-03-03")
    assert Loud.calls == 59


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
        clean = document["clean"]  # the clean lines' entries, packed as columns
        assert len(clean["keys"]) == 32 * len(clean["hashes"]) > 0
        document["entries"].update(
            {clean["keys"][i : i + 32]: [[], []] for i in range(0, len(clean["keys"]), 32)}
        )
        store.write_text(json.dumps(document))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("other-user")))
    assert run("train.jsonl") == expected
    assert Loud.calls == 59
    # Damaged files cost time, never results.
    for store in (workdir / CACHE_DIR).glob("*.json"):
        store.write_bytes(b"\x00{not json")
    assert run("train.jsonl") == expected
    assert run("train.jsonl") == expected and Loud.calls == 0  # rewritten and reused


def test_clean_entries_are_packed_and_damaged_columns_ignored(tmp_path: Path) -> None:
    from dslint import cache as cache_module

    clean_key, other_key, short_key = "a" * 32, "b" * 32, "c" * 8
    entries = {
        clean_key: [[], [], -(2**63), 1],
        "d" * 32: (2**63 - 1, False),  # as read from a file
        other_key: [[["S001", "/x", "m"]], []],
        short_key: [[], [], 5, 0],  # not a record key: kept as it is
    }
    packed, others = cache_module._pack_clean(entries)
    assert others == {other_key: entries[other_key], short_key: entries[short_key]}
    assert cache_module._unpack_clean(packed) == {clean_key: (-(2**63), True),
                                                  "d" * 32: (2**63 - 1, False)}  # fmt: skip
    assert cache_module._unpack_clean(json.loads(json.dumps(packed))) == (
        cache_module._unpack_clean(packed)
    )
    damaged = [
        {**packed, "keys": packed["keys"][:-1]},
        {**packed, "hashes": [1.5, 2]},
        {**packed, "hashes": packed["hashes"][:1]},
        {**packed, "plain": "12"},
        {**packed, "plain": 1},
        [packed],
    ]
    for columns in damaged:
        assert cache_module._unpack_clean(columns) == {}
    # A damaged key only misses: a record's key is 32 hexadecimal digits.
    assert set(cache_module._unpack_clean({**packed, "keys": "Z" * 64})) == {"Z" * 32}
    # Through a store's file: the packed entries read back as they were kept.
    store = cache_module._Store(tmp_path / "records-x.json", packs_clean=True)
    for key, value in entries.items():
        store.put(key, value)
    store.save({})
    document = json.loads((tmp_path / "records-x.json").read_text())
    assert set(document["entries"]) == {other_key, short_key}
    assert document["count"] == 4
    again = cache_module._Store(tmp_path / "records-x.json", packs_clean=True)
    assert again.entries_on_file() == 4
    assert again.old == {**entries, clean_key: (-(2**63), True)}


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


# -- the dataset rule families that go through the text memo -----------------------------------

WORDS = [
    "river", "stone", "lantern", "harbor", "meadow", "copper", "violet", "thunder", "orchard",
    "pebble", "candle", "willow", "saddle", "ember", "falcon", "quartz",
]  # fmt: skip


def sentence(seed: int, words: int = 30) -> str:
    """Prose of seed-chosen words (long enough for near-duplicate detection)."""
    chosen = random.Random(seed)
    return " ".join(chosen.choice(WORDS) for _ in range(words)) + "."


def watch(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, given: Callable[..., Iterable[Any]]
) -> list[Any]:
    """Wrap ``owner.name`` so that what each call is given (``given(*args)``) is recorded."""
    seen: list[Any] = []
    real = getattr(owner, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.extend(given(*args))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)
    return seen


def family_dataset() -> list[Any]:
    """Findings for every wired family: tokens, privacy, exact and near duplicates."""
    examples: list[Any] = [chat(sentence(i), sentence(100 + i), system="Be kind.")
                           for i in range(40)]  # fmt: skip
    examples[5] = chat("Mail maria.lopez@protonmail.com today", "Noted.")
    examples[6] = chat("My card is 4539 5260 1815 9083", "Thanks.")
    examples[7] = chat("Key sk-proj-" + "Xy7Qp2Lm9Rt4Vb8Nc1Kd6Hf3Jg5Ws0Ea", "Revoked.")
    examples[8] = examples[9]  # an exact copy
    examples[11] = chat(sentence(10), sentence(110).replace("river", "ocean", 1),
                        system="Be kind.")  # near example 10  # fmt: skip
    examples[12] = chat("lorem " * 150_000, "long")  # over the token limit of the target
    examples.append({"messages": [{"role": "user", "content": "Which tool?"},
                                  {"role": "assistant", "content": "This one."}],
                     "tools": [{"type": "function", "function": {
                         "name": "lookup", "description": sentence(3, 120)}}]})  # fmt: skip
    return examples


def edit(examples: list[Any]) -> list[Any]:
    """Insert, change, delete and reorder lines, touching every family's texts."""
    changed = list(examples)
    changed.insert(0, chat("Reach me at sam.rivers@fastmail.com", "Will do."))
    changed[16] = chat(sentence(300), sentence(301), system="Be kind.")
    del changed[30]
    changed[20], changed[21] = changed[21], changed[20]
    changed.append(chat(sentence(15), sentence(115).replace("stone", "glass", 1),
                        system="Be kind."))  # near example 15  # fmt: skip
    return changed


def texts_of(example: Any) -> list[str]:
    return [m["content"] for m in example["messages"]]


@pytest.mark.parametrize("family", ["T", "P", "D"])
def test_memoised_families_report_the_same_with_and_without_the_cache(
    workdir: Path, family: str
) -> None:
    data = workdir / "train.jsonl"
    examples = family_dataset()
    for version in (examples, edit(examples)):
        data.write_text(jsonl(*version), encoding="utf-8")
        cached = run("train.jsonl", "--select", family)
        assert cached == run("train.jsonl", "--select", family)  # warm: all from the memo
        assert cached == run("train.jsonl", "--select", family, "--no-cache")
        found = {f["code"] for f in json.loads(cached[1])["findings"]}
        expected = {"T": {"T001"}, "P": {"P001", "P003", "P101"}, "D": {"D001", "D003"}}
        assert found >= expected[family]


def test_token_counts_are_encoded_once_per_text_and_the_tokenizer_not_loaded_when_known(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.tokens import counting

    encoded: list[str] = []
    loaded: list[str] = []
    real_lengths, real_encoding = counting._lengths, counting.get_encoding

    def lengths(name: str) -> Any:
        count = real_lengths(name)
        return lambda texts: (encoded.extend(texts.to_pylist()), count(texts))[1]

    def get_encoding(name: str) -> Any:
        loaded.append(name)
        return real_encoding(name)

    monkeypatch.setattr(counting, "_lengths", lengths)
    monkeypatch.setattr(counting, "get_encoding", get_encoding)
    examples = family_dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    run("train.jsonl", "--select", "T")
    assert loaded and "Be kind." in encoded and len(encoded) == len(set(encoded))
    encoded.clear(), loaded.clear()
    run("train.jsonl", "--select", "T")
    assert encoded == [] and loaded == []  # everything known: the tokenizer is never loaded
    changed = edit(examples)
    (workdir / "train.jsonl").write_text(jsonl(*changed), encoding="utf-8")
    with monkeypatch.context() as tiktoken_only:
        tiktoken_only.setattr(counting.plain, "MAX_CHARS", 0)
        run("train.jsonl", "--select", "T")
    new = {t for e in changed for t in texts_of(e)} - {t for e in examples for t in texts_of(e)}
    assert set(encoded) == new and len(encoded) == len(new)
    # A few new plain texts (a small edit) are counted without loading the tokenizer at all
    # (dslint.tokens.plain), and come out as tiktoken counts them.
    encoded.clear(), loaded.clear()
    changed[3] = chat("Where is the stone bridge?", "Two miles north, past the mill.")
    (workdir / "train.jsonl").write_text(jsonl(*changed), encoding="utf-8")
    result = run("train.jsonl", "--select", "T")
    assert encoded == [] and loaded == []
    assert result == run("train.jsonl", "--select", "T", "--no-cache") and loaded


def test_a_small_edit_counts_no_unchanged_tool_call_and_loads_no_tokenizer(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.tokens import counting

    counted: list[str] = []
    loaded: list[str] = []
    real_lengths, real_encoding = counting._Memoised.lengths, counting.get_encoding

    def lengths(self: Any, texts: Any) -> Any:
        counted.extend(texts.to_pylist())
        return real_lengths(self, texts)

    def get_encoding(name: str) -> Any:
        loaded.append(name)
        return real_encoding(name)

    monkeypatch.setattr(counting._Memoised, "lengths", lengths)
    monkeypatch.setattr(counting, "get_encoding", get_encoding)
    examples = family_dataset()
    for i in range(30):  # each tool call a text of its own, as in real data (its id)
        call = {
            "id": f"call_{i:04d}",
            "type": "function",
            "function": {"name": "lookup", "arguments": json.dumps({"order": i})},
        }
        examples.append({"messages": [
            {"role": "user", "content": f"Where is order {i}?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "shipped"},
            {"role": "assistant", "content": "It has shipped."}]})  # fmt: skip
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    run("train.jsonl", "--select", "T")
    calls = [text for text in counted if text.startswith('[{"id": "call_')]
    assert len(calls) == 30 and loaded
    counted.clear(), loaded.clear()
    examples[3] = chat("Where is the stone bridge?", "Two miles north, past the mill.")
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    edited = run("train.jsonl", "--select", "T")
    # Only the edited example's texts are counted (the row memos know the other rows), few
    # and plain enough to need no tokenizer (dslint.tokens.plain).
    assert not [text for text in counted if text.startswith('[{"id": "call_')]
    assert loaded == []
    assert edited == run("train.jsonl", "--select", "T", "--no-cache")


def test_token_counts_the_memo_lacks_are_counted_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts missing from the memo go to the counter together, not a memo batch at a time:
    one large call is what spreads the counting over both cores (a first run with the cache
    counted on one core before, twice as long as without a cache)."""
    import pyarrow as pa

    from dslint.cache import TextMemo, _Store, memos
    from dslint.tokens import counting
    from dslint.tokens import lengths as text_lengths

    calls: list[list[str]] = []
    real_lengths = counting._lengths

    def lengths(name: str) -> Any:
        count = real_lengths(name)
        return lambda texts: (calls.append(texts.to_pylist()), count(texts))[1]

    monkeypatch.setattr(counting, "_lengths", lengths)
    monkeypatch.setattr(counting.plain, "MAX_CHARS", 0)  # tiktoken itself, not the plain path
    monkeypatch.setattr(text_lengths, "BATCH", 3)  # the memo's batches: smaller than the asks
    made: list[TextMemo] = []

    def factory(namespace: str, version: str) -> TextMemo:
        made.append(TextMemo(_Store(tmp_path / "memo-tokens.json"), b"k" * 32, namespace))
        return made[-1]

    def counted(texts: list[str]) -> list[int]:
        made.clear()
        with memos(factory):
            result = counting._Memoised("o200k_base").lengths(pa.array(texts, pa.large_string()))
        for memo in made:
            memo._store.save({"namespace": memo.namespace})  # type: ignore[union-attr]
        return result

    expected = counting._Memoised("o200k_base").lengths  # no memo: every text counted
    first = [f"Question {n}: where is the {n}th stone bridge?" for n in range(10)]
    assert counted(first) == expected(pa.array(first, pa.large_string()))
    assert calls[-1] == first and len(calls) == 2  # one call here (the other: expected's)
    calls.clear()
    again = [*first[:4], "A new question about the mill.", *first[4:], "And one more."]
    assert counted(again) == expected(pa.array(again, pa.large_string()))
    # The store was read (12 texts against its 10 entries), the two new texts counted at once.
    assert calls[0] == ["A new question about the mill.", "And one more."] and len(calls) == 2


def test_languages_are_classified_once_per_prose(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.voice import language

    classified = watch(monkeypatch, language, "classify_many", lambda identifier, texts: texts)
    replies = [
        "O contrato estabelece que o locatário deve pagar o aluguel até o quinto dia útil.",
        "A cláusula de rescisão permite que qualquer das partes encerre o acordo com aviso.",
        "O documento resume as obrigações do fornecedor quanto à entrega dos produtos.",
        "Segundo a decisão, o tribunal reconheceu o direito do autor à indenização devida.",
    ]
    examples = [chat("Resuma o documento.", replies[i % 4] + f" Caso {i}.") for i in range(12)]
    examples[9] = chat("Resuma o documento.", "The contract states that the tenant must pay the "
                       "rent by the fifth business day of each month.")  # fmt: skip
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    first = run("train.jsonl", "--select", "V012")
    assert [f["line"] for f in json.loads(first[1])["findings"]] == [10]
    assert len(classified) == 12
    classified.clear()
    examples[3] = chat("Resuma o documento.", replies[1] + " Um caso novo, diferente dos outros.")
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    edited = run("train.jsonl", "--select", "V012")
    assert classified == [replies[1] + " Um caso novo, diferente dos outros."]  # the new prose
    assert edited == run("train.jsonl", "--select", "V012", "--no-cache")


# Replies made of these words: a sample of 30 of them holds more than the 100 words a
# vocabulary keeps, so which replies are sampled decides the vocabulary.
WORDS_TEXT = (
    "order parcel refund jacket tent store account page warranty delivery week month team "
    "package return label courier address invoice payment card bank size colour stock shop "
    "manager answer question issue problem update change cancel confirm receive arrive send "
    "replace repair check track number email phone call message reply help support service "
    "price discount code coupon sale offer member points reward gift voucher basket checkout "
    "shipping express standard weekend holiday morning evening today tomorrow yesterday soon "
    "quickly carefully happily sadly simply really always never often usually sometimes "
    "boots shoes socks gloves hat scarf coat shirt trousers shorts bag bottle stove lamp map"
)


def test_moved_lines_reuse_the_language_vocabulary_counts(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # V012 learns a vocabulary from a sample of the replies and counts its words in every
    # reply through a row memo named by the vocabulary. The sample is chosen by content,
    # so moving lines keeps the vocabulary and no reply is counted again.
    from dslint.rules.voice import language

    monkeypatch.setattr(language, "SAMPLE_MESSAGES", 30)
    counted = watch(monkeypatch, language, "_count", lambda prose, pattern: [len(prose)])
    rng, words = random.Random(7), WORDS_TEXT.split()
    examples = [
        chat(f"Question {i}?", " ".join(rng.choice(words) for _ in range(rng.randint(12, 20))))
        for i in range(300)
    ]
    data = workdir / "train.jsonl"
    data.write_text(jsonl(*examples), encoding="utf-8")
    run("train.jsonl", "--select", "V012")
    assert sum(counted) == 30 + 300  # the sample's share, then every reply
    counted.clear()
    moved = [*examples[:50], *examples[120:], *examples[50:120]]
    moved[3], moved[200] = moved[200], moved[3]
    data.write_text(jsonl(*moved), encoding="utf-8")
    again = run("train.jsonl", "--select", "V012")
    assert sum(counted) == 30  # the sample's share only: every reply's count was remembered
    assert again == run("train.jsonl", "--select", "V012", "--no-cache")


def test_vale_styles_run_only_on_new_texts(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslint import vale

    write_style(workdir)
    style = workdir / "styles" / "House"
    seen = watch(monkeypatch, vale, "run_checks", lambda styles, texts: texts)
    replies = [f"Perhaps you can log in again, perhaps not ({i})." for i in range(20)]
    examples = [chat(f"Question {i}?", reply) for i, reply in enumerate(replies)]
    data = workdir / "train.jsonl"
    data.write_text(jsonl(*examples), encoding="utf-8")
    first = run("train.jsonl", "--select", "V013")
    assert sorted(seen) == sorted(replies)
    assert len(json.loads(first[1])["findings"]) == 20 * 3  # perhaps twice, log in
    seen.clear()
    examples[4] = chat("Question 4?", "Please LOG IN first; perhaps later.")
    examples[7], examples[12] = examples[12], examples[7]
    data.write_text(jsonl(*examples), encoding="utf-8")
    edited = run("train.jsonl", "--select", "V013")
    assert seen == ["Please LOG IN first; perhaps later."]
    assert edited == run("train.jsonl", "--select", "V013", "--no-cache")
    seen.clear()
    (style / "Hedging.yml").write_text(  # a changed style: every text is checked again
        "extends: existence\nmessage: \"Avoid '%s'.\"\nlevel: warning\ntokens:\n  - perhaps\n"
    )
    changed = run("train.jsonl", "--select", "V013")
    assert len(seen) == 20
    assert changed == run("train.jsonl", "--select", "V013", "--no-cache")
    assert changed != edited


def test_profanity_scores_only_new_texts(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslint.rules.moderation import profanity

    scored = watch(monkeypatch, profanity, "_predict", lambda texts: texts)
    examples = [chat(f"Question {i}?", f"Answer {i}.") for i in range(12)]
    examples[5] = chat("You are a worthless piece of shit", "Let us keep this civil.")
    data = workdir / "train.jsonl"
    data.write_text(jsonl(*examples), encoding="utf-8")
    first = run("train.jsonl", "--select", "M001")
    assert len(scored) == 24
    assert [f["line"] for f in json.loads(first[1])["findings"]] == [6]
    scored.clear()
    examples[8] = chat("Question 8?", "What a shitty answer this is.")
    data.write_text(jsonl(*examples), encoding="utf-8")
    edited = run("train.jsonl", "--select", "M001")
    assert scored == ["What a shitty answer this is."]
    assert edited == run("train.jsonl", "--select", "M001", "--no-cache")
    assert [f["line"] for f in json.loads(edited[1])["findings"]] == [6, 9]


def test_structure_problems_of_known_shapes_come_from_the_memo(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.schema import _structure

    validated = watch(monkeypatch, _structure, "_problems", lambda record: [record.value])
    examples = dataset()
    examples[20] = {"messages": [{"role": "user", "contents": "Hi"}, {"role": "assistant"}]}
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    _structure._BY_SHAPE.clear()  # as in a new process (earlier tests validated shapes)
    first = run("train.jsonl", "--select", "S")
    assert validated and {"S102", "S104"} <= {f["code"] for f in json.loads(first[1])["findings"]}
    # Each new process starts without the shapes it validated; the memo has them. Edited
    # lines of known shapes (a new text, a new unknown key's value) are not validated again.
    examples[20]["messages"][0]["contents"] = "Hello there"
    examples[9]["messages"][0]["content"] = "Hi again"
    examples[30] = chat("A new question", "A new answer")
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    validated.clear()
    _structure._BY_SHAPE.clear()
    edited = run("train.jsonl", "--select", "S")
    assert validated == []
    _structure._BY_SHAPE.clear()
    assert edited == run("train.jsonl", "--select", "S", "--no-cache") and validated
    # A new shape is validated (once) and its problems reported.
    examples[31] = {"messages": [{"role": "user", "content": "Hi", "weight": 2}]}
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    validated.clear()
    _structure._BY_SHAPE.clear()
    codes = {f["code"] for f in json.loads(run("train.jsonl", "--select", "S")[1])["findings"]}
    assert validated == [examples[31]] and "S107" in codes


def test_privacy_scans_only_new_texts(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslint.rules.privacy import scanner

    scanned = watch(monkeypatch, scanner._Finder, "matches_of", lambda finder, texts: texts)
    examples = family_dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    first = run("train.jsonl", "--select", "P")
    assert "Mail maria.lopez@protonmail.com today" in scanned
    scanned.clear()
    assert run("train.jsonl", "--select", "P") == first and scanned == []
    (workdir / "train.jsonl").write_text(jsonl(*edit(examples)), encoding="utf-8")
    run("train.jsonl", "--select", "P")
    assert scanned == ["Reach me at sam.rivers@fastmail.com"]  # the one new candidate text
    stored = "".join(p.read_text() for p in (workdir / CACHE_DIR).glob("memo-*.json"))
    assert "protonmail" not in stored and "4539" not in stored and "sk-proj" not in stored


def test_privacy_allow_lists_apply_to_remembered_matches(workdir: Path) -> None:
    (workdir / "train.jsonl").write_text(jsonl(*family_dataset()), encoding="utf-8")
    run("train.jsonl", "--select", "P")
    (workdir / "dslint.toml").write_text('[privacy]\nallow = ["maria.lopez@protonmail.com"]\n')
    allowed = run("train.jsonl", "--select", "P")
    assert "P001" not in {f["code"] for f in json.loads(allowed[1])["findings"]}
    assert allowed == run("train.jsonl", "--select", "P", "--no-cache")


def test_minhash_summaries_are_computed_only_for_changed_examples(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.duplicates import similar

    summarised = watch(monkeypatch, similar, "_summaries", lambda examples, *rest: examples)
    examples = family_dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    run("train.jsonl", "--select", "D")
    assert len(summarised) > 30
    summarised.clear()
    run("train.jsonl", "--select", "D")
    assert summarised == []
    (workdir / "train.jsonl").write_text(jsonl(*edit(examples)), encoding="utf-8")
    run("train.jsonl", "--select", "D")
    # The new first line, the changed line and the appended one. An example's text is its
    # messages' texts (each with its tool calls, none here), without the shared system prompt.
    changed = edit(examples)
    assert sorted(summarised) == sorted(
        "\n".join(f"{text} " for text in texts_of(example) if text != "Be kind.")
        for example in (changed[0], changed[16], changed[-1])
    )


def test_dataset_findings_on_unchanged_lines_are_placed_from_the_memo(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint import locate

    examples = family_dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    placed = watch(monkeypatch, locate, "columns", lambda raw, pointer, span: [raw])
    first = run("train.jsonl", "--select", "P,D")
    findings = json.loads(first[1])["findings"]
    assert {f["code"][0] for f in findings} == {"P", "D"}
    spanned = [f for f in findings if f.get("end_column")]
    assert spanned, "the privacy findings are placed by a span inside a string"
    assert placed
    # An added line, and a line indented by three spaces: the same content (the same
    # fingerprint), but its columns move, so it is placed again rather than remembered.
    indented = json.dumps(examples[6], ensure_ascii=False)
    changed = [chat("Reach me at sam.rivers@fastmail.com", "Will do."), *examples]
    changed[7] = "   " + indented
    (workdir / "train.jsonl").write_text(jsonl(*changed), encoding="utf-8")
    placed.clear()
    edited = run("train.jsonl", "--select", "P,D")
    assert sorted(set(placed)) == sorted(
        [json.dumps(changed[0], ensure_ascii=False), "   " + indented]
    )
    assert edited == run("train.jsonl", "--select", "P,D", "--no-cache")
    card = [f for f in json.loads(edited[1])["findings"] if f["line"] == 8]
    assert card and all(f["column"] > 3 for f in card)
    assert {(f["code"], f["column"] - 3) for f in card} == {
        (f["code"], f["column"]) for f in findings if f["line"] == 7
    }


def test_near_duplicate_candidates_are_compared_again_only_with_a_changed_example(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.duplicates import similar

    compared = watch(monkeypatch, similar, "_confirm",
                     lambda dataset, record_of, kept, left, right, *rest:
                     zip(left.tolist(), right.tolist(), strict=True))  # fmt: skip
    examples = family_dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    first = run("train.jsonl", "--select", "D")
    assert (10, 11) in compared  # the near pair
    compared.clear()
    changed = edit(examples)
    # A near twin of example 25 (record 26 after the inserted first line), appended.
    changed.append(chat(sentence(25), sentence(125)[:-1] + " ocean.", system="Be kind."))
    (workdir / "train.jsonl").write_text(jsonl(*changed), encoding="utf-8")
    second = run("train.jsonl", "--select", "D")
    # The new pair is compared; the pair of examples 10 and 11 (now records 11 and 12), both
    # unchanged, comes from the memo; every pair compared holds a new or changed example.
    new = {0, 16, len(changed) - 2, len(changed) - 1}
    assert (26, len(changed) - 1) in compared
    assert (11, 12) not in compared
    assert all(new & {left, right} for left, right in compared)
    assert second == run("train.jsonl", "--select", "D", "--no-cache")
    assert first != second


def test_damaged_memo_values_are_recomputed_not_trusted(workdir: Path) -> None:
    (workdir / "train.jsonl").write_text(jsonl(*family_dataset()), encoding="utf-8")
    expected = run("train.jsonl", "--select", "S,T,P,D,V012", "--no-cache")
    assert run("train.jsonl", "--select", "S,T,P,D,V012") == expected
    # Valid JSON with this user's keys but values of the wrong shape (a damaged file).
    wrong: list[Any] = ["x", -1, [["?"]], [1, "zz"], None, {"a": 1}, 1.5, True]
    for store in (workdir / CACHE_DIR).glob("memo-*.json"):
        document = json.loads(store.read_text())
        document["entries"] = {
            key: wrong[n % len(wrong)] for n, key in enumerate(document["entries"])
        }
        store.write_text(json.dumps(document))
    from dslint.rules.schema import _structure

    _structure._BY_SHAPE.clear()  # a new process: the shapes come from the damaged memo
    assert run("train.jsonl", "--select", "S,T,P,D,V012") == expected
    _structure._BY_SHAPE.clear()
    assert run("train.jsonl", "--select", "S,T,P,D,V012") == expected


# -- row memos (dslint.rows) -------------------------------------------------------------------


def test_rows_follow_their_lines_wherever_they_moved() -> None:
    import numpy as np

    from dslint.rows import _previous_rows

    def layout(*records: tuple[int, str, int]) -> dict[str, Any]:
        return {
            "hashes": np.array([h for h, _, _ in records], dtype=np.int64),
            "formats": np.array([f for _, f, _ in records], dtype="S"),
            "counts": np.array([n for _, _, n in records], dtype=np.int64),
        }

    # Message rows last time: line 11 -> rows 0-1, line 12 -> row 2, line 14 -> rows 3-5.
    old = layout((11, "chat", 2), (12, "chat", 1), (13, "chat", 0), (14, "chat", 3))
    now = layout(
        (14, "chat", 3),  # moved to the top
        (11, "chat", 2),
        (99, "chat", 1),  # new
        (13, "chat", 0),
        (12, "dpo", 1),  # the same line read as another format: not the same rows
        (11, "chat", 3),  # the same hash with another number of rows: not trusted
    )
    assert _previous_rows(old, now, "records").tolist() == [3, 0, -1, 2, -1, -1]
    assert _previous_rows(old, now, "messages").tolist() == [3, 4, 5, 0, 1, -1, -1, -1, -1, -1]
    assert _previous_rows({}, now, "messages").tolist() == [-1] * 10


def test_a_re_run_computes_only_the_rows_of_new_and_edited_lines(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.voice import _shared, _stats

    counted = watch(monkeypatch, _stats, "_message_counts", lambda text: text.tolist())
    # The RE2 prefilter of the voice profile's terms (V001, V002), over the replies' text.
    prefiltered = watch(monkeypatch, _shared, "_prefiltered", lambda text, _: text.to_pylist())
    examples = family_dataset()
    (workdir / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    run("train.jsonl")
    assert len(counted) > 40  # every reply, the first time
    assert sorted(prefiltered) == sorted(counted)
    assert len(list((workdir / CACHE_DIR).glob("rows-*.npz"))) == 1
    counted.clear()
    prefiltered.clear()
    changed = edit(examples)  # lines inserted, changed, deleted and swapped
    (workdir / "train.jsonl").write_text(jsonl(*changed), encoding="utf-8")
    edited = run("train.jsonl")
    # The voice counts of the replies of the new first line, the changed and the added one.
    assert sorted(counted) == sorted(
        texts_of(e)[-1] for e in (changed[0], changed[16], changed[-1])
    )
    assert sorted(prefiltered) == sorted(counted)
    assert edited == run("train.jsonl", "--no-cache")
    codes = {f["code"] for f in json.loads(edited[1])["findings"]}
    assert {"T001", "D001", "D003", "P101"} <= codes, codes


def test_profile_terms_are_found_the_same_with_and_without_the_cache(workdir: Path) -> None:
    (workdir / "dslint.toml").write_text('[tool.dslint.voice]\nprofile = "brand.toml"\n')
    examples = family_dataset()
    for banned, version in (("river", examples), ("river", edit(examples)),
                            ("ember", edit(examples))):  # fmt: skip
        (workdir / "brand.toml").write_text(f'[terms]\nbanned = ["{banned}"]\n')
        (workdir / "train.jsonl").write_text(jsonl(*version), encoding="utf-8")
        cached = run("train.jsonl", "--select", "V001")
        assert cached == run("train.jsonl", "--select", "V001", "--no-cache")
        found = json.loads(cached[1])["findings"]
        assert found and all(banned in f["message"] for f in found)


def test_a_damaged_rows_file_is_not_trusted(workdir: Path) -> None:
    import numpy as np

    examples = family_dataset()
    versions = [examples, edit(examples)]
    data = workdir / "train.jsonl"
    expected = []
    for version in versions:
        data.write_text(jsonl(*version), encoding="utf-8")
        expected.append(run("train.jsonl", "--no-cache"))
    run("train.jsonl")
    (rows,) = (workdir / CACHE_DIR).glob("rows-*.npz")
    with np.load(rows) as saved:
        arrays = {name: saved[name] for name in saved.files}

    def short(name: str) -> dict[str, Any]:
        return {**arrays, name: arrays[name][:-1]}

    damages: list[Callable[[], None]] = [
        lambda: rows.write_bytes(b"not an archive"),
        lambda: rows.write_bytes(rows.read_bytes()[:100]),
        lambda: np.savez(rows, **short("counts")),  # the layout disagrees with itself
        lambda: np.savez(rows, **short(next(n for n in arrays if n.startswith("messages:")))),
        lambda: np.savez(rows, **{**arrays, "hashes": np.array([object()], dtype=object)}),
    ]
    for number, damage in enumerate(damages):
        version = number % 2  # another version of the file each time: nothing is reused whole
        data.write_text(jsonl(*versions[version]), encoding="utf-8")
        damage()
        assert run("train.jsonl") == expected[version], number


def test_row_memo_values_follow_moved_lines_and_subsets_merge(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    from dslint.dataset import Dataset
    from dslint.rows import RowStore, row_memo

    def dataset(hashes: list[int], rows_per_record: list[int]) -> Dataset:
        records = pd.DataFrame(
            {"content_hash": hashes, "format": pd.Categorical(["chat"] * len(hashes))}
        )
        owner = np.repeat(np.arange(len(hashes)), rows_per_record).astype(np.int32)
        made = Dataset(records, pd.DataFrame({"record": owner}))
        made.rows = RowStore(tmp_path / "rows-test.npz")
        return made

    first = dataset([11, 12, 13], [2, 1, 1])
    # Two subsets of the message rows keep the same column (two role sets): both stand.
    row_memo(first, "messages", "test.n", "1").keep(np.array([5, 6]), rows=np.array([0, 2]))
    row_memo(first, "messages", "test.n", "1").keep(np.array([7]), rows=np.array([3]))
    assert first.rows is not None
    first.rows.save(first)
    second = dataset([13, 11, 12, 99], [1, 2, 1, 1])  # the last line moved first, one added
    values, known = row_memo(second, "messages", "test.n", "1").recall()
    assert values.tolist() == [7, 5, -1, 6, -1]
    assert known.tolist() == [True, True, False, True, False]
    # Another version of the values is another memo: nothing known.
    assert not row_memo(second, "messages", "test.n", "2").recall()[1].any()


def test_remembered_columns_without_a_cache_are_computed_once_for_every_row(
    tmp_path: Path,
) -> None:
    import numpy as np
    import pandas as pd

    from dslint.dataset import Dataset
    from dslint.rows import RowStore, remembered, row_memo

    records = pd.DataFrame({"content_hash": [11, 12, 13], "format": pd.Categorical(["chat"] * 3)})
    messages = pd.DataFrame({"record": np.array([0, 0, 1, 2], dtype=np.int32)})
    rows = np.array([0, 2, 3])  # positions in the messages frame
    asked: list[Any] = []

    def compute(selected: Any) -> dict[str, Any]:
        asked.append(selected)
        chosen = np.arange(len(rows))[selected]
        return {"n": (rows[chosen] * 10).astype(np.int32), "m": rows[chosen] + 1}

    no_cache = Dataset(records, messages)
    # Every row is new: its "last run" is a read-only view, not a column allocated per memo.
    previous = row_memo(no_cache, "messages", "test.n", "1").previous
    assert previous.tolist() == [-1] * 4 and not previous.flags.writeable
    values = remembered(no_cache, "messages", "test", "1", ("n", "m"), rows, compute)
    assert asked == [slice(None)]  # once, for all rows
    # Integer columns keep the type they were computed in (a narrow one saves room).
    assert {k: (v.dtype, v.tolist()) for k, v in values.items()} == {
        "n": (np.int32, [0, 20, 30]),
        "m": (np.int64, [1, 3, 4]),
    }
    asked.clear()
    empty = remembered(no_cache, "messages", "test", "1", ("n",), rows[:0], compute)
    assert asked == [] and empty["n"].dtype == np.int64 and len(empty["n"]) == 0

    # With a cache whose last run kept one column of two, nothing is recalled: the rows are
    # computed again, all of them, and both columns kept for the next run.
    cached = Dataset(records, messages)
    cached.rows = RowStore(tmp_path / "rows-test.npz")
    row_memo(cached, "messages", "test.n", "1").keep(np.array([7, 7, 7]), rows=rows)
    cached.rows.save(cached)
    again = Dataset(records, messages)
    again.rows = RowStore(tmp_path / "rows-test.npz")
    values = remembered(again, "messages", "test", "1", ("n", "m"), rows, compute)
    assert asked == [slice(None)] and values["n"].tolist() == [0, 20, 30]
    assert sorted(again.rows.kept) == ["messages:test.m@" + _version_name("1"),
                                       "messages:test.n@" + _version_name("1")]  # fmt: skip


def _version_name(version: str) -> str:
    import hashlib

    return hashlib.blake2b(version.encode(), digest_size=8).hexdigest()


def test_row_memos_are_kept_per_dataset(workdir: Path) -> None:
    examples = family_dataset()
    (workdir / "a.jsonl").write_text(jsonl(*examples[:25]), encoding="utf-8")
    (workdir / "b.jsonl").write_text(jsonl(*examples[25:]), encoding="utf-8")
    (workdir / "val.jsonl").write_text(jsonl(*examples[20:30]), encoding="utf-8")
    arguments = ("a.jsonl", "b.jsonl", "--validation", "val.jsonl")
    run(*arguments)
    assert len(list((workdir / CACHE_DIR).glob("rows-*.npz"))) == 2  # one per training file
    # Lines of b moved into a (another dataset): the results are a's own, nothing else's.
    changed = edit(examples)
    (workdir / "a.jsonl").write_text(jsonl(*changed[:30]), encoding="utf-8")
    assert run(*arguments) == run(*arguments, "--no-cache")
    combined = (*arguments, "--combine-files")
    run(*combined)
    (workdir / "b.jsonl").write_text(jsonl(*changed[30:]), encoding="utf-8")
    assert run(*combined) == run(*combined, "--no-cache")


def test_a_few_new_entries_go_to_a_journal_not_a_rewrite(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint import cache as cache_module

    examples = family_dataset()
    data = workdir / "train.jsonl"
    data.write_text(jsonl(*examples), encoding="utf-8")
    run("train.jsonl")
    folder = workdir / CACHE_DIR
    before = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    changed = list(examples)
    changed[3] = chat(sentence(500), sentence(501), system="Be kind.")
    data.write_text(jsonl(*changed), encoding="utf-8")
    assert run("train.jsonl") == run("train.jsonl", "--no-cache")
    journals = sorted(p.name for p in folder.glob("*.journal"))
    # The record store and the token memo took the edited line's entries in their journals;
    # their files are as they were.
    assert any(name.startswith("records-") for name in journals), journals
    for name in journals:
        base = name.removesuffix(".journal")
        assert (folder / base).read_bytes() == before[base]
    # A later run reads the files with their journals.
    changed[5] = chat(sentence(502), sentence(503), system="Be kind.")
    data.write_text(jsonl(*changed), encoding="utf-8")
    assert run("train.jsonl") == run("train.jsonl", "--no-cache")
    # A damaged journal is ignored.
    for name in journals:
        (folder / name).write_text("{not json")
    changed[7] = chat(sentence(504), sentence(505), system="Be kind.")
    data.write_text(jsonl(*changed), encoding="utf-8")
    assert run("train.jsonl") == run("train.jsonl", "--no-cache")
    # Once a journal outgrows its share of the store, the two are written as one file.
    monkeypatch.setattr(cache_module, "JOURNAL_MIN", 0)
    monkeypatch.setattr(cache_module, "JOURNAL_SHARE", 0.0)
    changed[9] = chat(sentence(506), sentence(507), system="Be kind.")
    data.write_text(jsonl(*changed), encoding="utf-8")
    assert run("train.jsonl") == run("train.jsonl", "--no-cache")
    assert not list(folder.glob("*.journal"))


def test_a_memo_asked_for_few_texts_computes_them_without_reading_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint import cache as cache_module
    from dslint.cache import SKIP_RATIO, TextMemo, _Store, journal_path

    path = tmp_path / "memo-a.json"
    texts = [f"text {n}" for n in range(SKIP_RATIO * 4)]
    computed: list[str] = []

    def length(batch: list[str]) -> list[int]:
        computed.extend(batch)
        return [len(t) for t in batch]

    def memo() -> TextMemo:
        return TextMemo(_Store(path), b"secret", "test.length")

    first = memo()
    assert first.map(texts, length) == [len(t) for t in texts]
    first._store.save({"namespace": "test.length"})  # type: ignore[union-attr]
    assert _Store(path).entries_on_file() == len(texts)  # the count, from the file's start
    reads = watch(monkeypatch, cache_module, "_read_entries", lambda read: [read])
    # Three texts (fewer than a fiftieth of the store's entries): computed, store not read.
    computed.clear()
    few = memo()
    asked = ["text 1", "new one", "text 1", "another"]
    assert few.map(asked, length) == [len(t) for t in asked]
    assert sorted(computed) == ["another", "new one", "text 1"]
    assert path not in reads
    few._store.save({"namespace": "test.length"})  # type: ignore[union-attr]
    assert journal_path(path).exists()  # what it computed: in the journal, the file as it was
    assert _Store(path).entries_on_file() == len(texts)
    # Many texts: the store is read with its journal, and nothing is computed again.
    computed.clear()
    many = memo()
    asked = [*texts[:20], "new one", "another"]
    assert many.map(asked, length) == [len(t) for t in asked]
    assert computed == []
    # A store written without a count (an older layout) is read as before.
    path.write_text('{"format":1,"entries":{}}')
    assert _Store(path).entries_on_file() is None and _Store(path).worth_reading(1)


def test_a_store_reads_its_journal_and_pruning_removes_it(tmp_path: Path) -> None:
    from dslint.cache import _Store, journal_path

    path = tmp_path / "records-a.json"
    first = _Store(path)
    for n in range(10):
        first.put(f"k{n}", [n])
    first.save({})
    assert path.exists() and not journal_path(path).exists()
    second = _Store(path)
    assert second.get("k3") == [3]
    second.put("k3", [33])  # a changed entry and a new one: the journal
    second.put("new", [1])
    second.save({})
    assert journal_path(path).exists()
    third = _Store(path)
    assert (third.get("k3"), third.get("new"), third.get("k9")) == ([33], [1], [9])
    cache = Cache(tmp_path, b"secret")
    (tmp_path / "records-b.json").write_text("{}")  # newer
    cache.keep_newest("records-*.json", 1)
    assert not path.exists() and not journal_path(path).exists()
