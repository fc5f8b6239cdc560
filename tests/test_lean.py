"""The fast lane of a re-run (dslint.lean): plain, clean lines an earlier run saw are read by
Arrow, not parsed in Python, and the frames and reports are those of a run without it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import CORPUS, FIXTURES, TODAY, chat, needs_corpus
from dslint import lean, loader
from dslint.api import check
from dslint.cli import cli


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder to run in, with the fast lane on for small files and blocks of a few lines."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setattr(lean, "MIN_BYTES", 0)
    monkeypatch.setattr(lean, "BLOCK_BYTES", 3000)
    monkeypatch.setattr(lean, "ARROW_BLOCK", 1000)
    return tmp_path


def plain_lines(count: int) -> list[str]:
    """Plain lines (dslint.lean.is_plain) with text Arrow and Python must read alike."""
    texts = ["café ☕ 東京", "emoji 😀 and \U0001f9ea", 'quote " back \\ slash', "tab\tnew\nline",
             "nul \u0000 byte", "inner  spaces", "ünïcödé " * 3 + "end"]  # fmt: skip
    lines = []
    for i in range(count):
        text = texts[i % len(texts)]
        example: dict[str, Any] = chat(f"Question {i}: {text}?", f"Answer {i}. {text}")
        if i % 3 == 0:
            example["messages"].insert(0, {"role": "system", "content": f"Be brief {i % 7}."})
        if i % 5 == 0:
            example["messages"][-1]["weight"] = 1
            example["messages"][0]["name"] = f"user_{i % 4}"
        if i % 29 == 0:  # keys that make no rows, at both levels (and a finding: unknown key)
            example["metadata"] = {"id": i, "tags": ["a", {"b": None}], "score": 1.5}
            example["messages"][0]["refusal"] = None
        if i % 31 == 0:
            example["messages"][-1]["content"] = ""  # an empty reply: a finding
        # Both ways JSON is written: escaped (Python's default) and raw UTF-8.
        lines.append(json.dumps(example, ensure_ascii=i % 2 == 0))
    return lines


def other_lines() -> list[str]:
    """Lines that are not plain, or not clean: always read the normal way."""
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    user = {"role": "user", "content": "Do it"}
    parts = {"role": "user", "content": [{"type": "text", "text": "x"}]}
    picture = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    image = {"role": "user", "content": [{"type": "text", "text": "What is this?"}, picture]}
    return [
        json.dumps({**chat("Use the tool", "Sure."), "tools": [tool]}),
        json.dumps({"messages": [user, {"role": "assistant", "tool_calls": [call]}]}),
        json.dumps({"messages": [parts, {"role": "assistant", "content": "Parts."}]}),
        '{"messages": [broken',
        "",
        json.dumps({"messages": [user, {"role": "assistant", "content": "x", "weight": 1.0}]}),
        json.dumps({"messages": [{"role": 5, "content": "Role?"}, user]}),
        '{"messages": [{"role": "user", "content": "a", "content": "b"}, '
        '{"role": "assistant", "content": "Twice."}]}',
        '{"messages": [{"role": "user", "content": "lone \\ud800 here"}, '
        '{"role": "assistant", "content": "Half a pair."}]}',
        json.dumps({"messages": [image, {"role": "assistant", "content": "A picture."}]}),
        json.dumps(chat("Why?", "Because I am an AI language model, I cannot.")),
    ]


def is_plain(line: str) -> bool:
    try:
        return lean.is_plain(json.loads(line))
    except ValueError:
        return False


def write(
    path: Path, lines: list[str], crlf: frozenset[int] = frozenset(), end: bool = True
) -> None:
    ends = ["\r\n" if i in crlf else "\n" for i in range(len(lines))]
    if not end:
        ends[-1] = ""
    path.write_bytes("".join(line + e for line, e in zip(lines, ends, strict=True)).encode())


def mixed(count: int = 320) -> list[str]:
    lines = plain_lines(count)
    for position, line in zip(range(5, count, 31), other_lines(), strict=False):
        lines[position] = line
    return lines


def frames(cache: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    report = check(["train.jsonl"], cache=cache, today=TODAY)
    dataset = report.datasets[0]
    return dataset.records, dataset.messages


def report(*args: str) -> str:
    result = CliRunner().invoke(
        cli, ["check", "train.jsonl", *args, "--today", TODAY.isoformat(), "--format", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    return result.output


class Counter:
    """Notes the lines the fast lane hands to the normal path (``lines``) and the clean lines
    it parses without the record rules (``clean``); Arrow reads the others."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lines: list[int] = []
        self.clean: list[int] = []
        real = loader.parse_line

        def counted(raw: bytes, info: Any, number: int, offset: int, index: int) -> Any:
            self.lines.append(number)
            return real(raw, info, number, offset, index)

        monkeypatch.setattr(lean, "parse_line", counted)
        real_clean = lean._Reader._clean

        def clean(reader: Any, line: bytes, content_hash: int) -> Any:
            self.clean.append(reader.number)
            return real_clean(reader, line, content_hash)

        monkeypatch.setattr(lean._Reader, "_clean", clean)


def assert_same_frames(warm: tuple[pd.DataFrame, ...], cold: tuple[pd.DataFrame, ...]) -> None:
    for mine, theirs in zip(warm, cold, strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)
        for column in mine.columns:  # the same categories, not only the same values
            assert mine[column].dtype == theirs[column].dtype, column


def test_a_rerun_reads_plain_clean_lines_without_parsing_them(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = mixed()
    write(workdir / "train.jsonl", lines, crlf=frozenset({40, 41, 200}), end=False)
    uncached = frames(cache=False)
    first = report("--no-cache")
    frames(cache=True)  # fills the cache; the lane has nothing to go by yet
    counter = Counter(monkeypatch)
    warm = frames(cache=True)
    # Parsed the normal way: line 1, lines that are not clean, none of the clean ones. Clean
    # lines that are not plain (tools, tool calls, parts) are parsed, but given to no record
    # rule. The last of other_lines is plain: its finding is a dataset rule's.
    others = {position + 1 for position in range(5, 320, 31)[: len(other_lines()) - 1]}
    reported = {f["line"] for f in json.loads(first)["findings"]}
    normal, clean = set(counter.lines), set(counter.clean)
    assert others | {1} <= normal | clean
    assert normal - others - {1} <= reported
    assert clean <= others  # (a dataset rule may report them: T004 on tools)
    assert len(clean) >= 3
    assert len(counter.lines) + len(counter.clean) == len(normal | clean)  # each once
    assert len(set(range(1, 321)) - reported - others) > 100  # enough plain lines
    assert_same_frames(warm, uncached)
    assert report() == first


def test_a_rerun_after_edits_gives_the_frames_and_report_of_a_run_without_cache(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workdir / "train.jsonl"
    lines = mixed()
    write(data, lines)
    assert report() == report("--no-cache")  # fills the cache
    # Inserted, changed, deleted and swapped lines; a known line becomes line 1.
    lines.insert(0, lines.pop(10))
    lines[50] = json.dumps(chat("Changed?", "Now different."))
    del lines[100]
    lines[150], lines[151] = lines[151], lines[150]
    lines.insert(200, json.dumps({**chat("New", "With tools"), "tools": [{"type": "function"}]}))
    write(data, lines)
    counter = Counter(monkeypatch)
    warm_report = report()
    # Parsed: the changed line (51), the new one (201), line 1, and no other plain line
    # without findings.
    reported = {f["line"] for f in json.loads(warm_report)["findings"]}
    clean = {number for number, line in enumerate(lines, 1) if is_plain(line)} - reported
    assert {1, 51, 201} <= set(counter.lines)
    assert clean & set(counter.lines) == {1, 51}  # line 1 is the old line 11, plain
    assert not clean & set(counter.clean)
    assert counter.clean  # the known tools and tool-call lines
    assert len(clean) > 100
    warm = frames(cache=True)
    assert_same_frames(warm, frames(cache=False))
    assert warm_report == report("--no-cache")


def test_random_edit_chains_give_the_reports_of_runs_without_cache(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rounds of random edits, each checked with the cache the rounds before left: every
    report is that of a run without the cache. (A larger version of this, on a 40 MB file
    with the real corpus mixed in, found that V012 recounted every reply after a moved line.)"""
    from dslint import shards

    monkeypatch.setattr(shards, "MIN_BYTES", 20_000)  # both cores: helpers, offloaded rules
    rng = random.Random(11)
    data = workdir / "train.jsonl"
    lines = mixed(400) + BAD_LINES
    rng.shuffle(lines)
    write(data, lines)
    assert report() == report("--no-cache")

    def edit(line: str) -> str:
        try:
            value = json.loads(line)
            value["messages"][-1]["content"] += rng.choice([" Thanks!", " SHOUT!!!", " café"])
        except (ValueError, KeyError, IndexError, TypeError):
            return line
        return json.dumps(value, ensure_ascii=rng.random() < 0.5)

    operations = {
        "edit": lambda i: lines.__setitem__(i, edit(lines[i])),
        "copy": lambda i: lines.insert(rng.randrange(len(lines)), lines[i]),
        "delete": lambda i: lines.pop(i),
        "swap": lambda i: lines.insert(rng.randrange(len(lines)), lines.pop(i)),
        "move": lambda i: lines.__setitem__(slice(0, 0), [lines.pop(i) for _ in range(5)]),
        "break": lambda i: lines.__setitem__(i, lines[i][: len(lines[i]) // 2]),
        "blank": lambda i: lines.insert(i, ""),
        "respace": lambda i: lines.__setitem__(i, lines[i].replace('", "', '","')),
    }
    for _ in range(8):
        for _ in range(rng.choice([1, 3, 10])):
            operations[rng.choice(sorted(operations))](rng.randrange(len(lines) - 5))
        write(data, lines, crlf=frozenset({rng.randrange(len(lines))}), end=rng.random() < 0.8)
        counter = Counter(monkeypatch)
        warm = report()
        # The lane read most lines (Arrow or the clean path), not the normal parse.
        assert len(counter.lines) < len(lines) // 4
        assert warm == report("--no-cache")


def _text_lines(*names: str) -> list[str]:
    """The lines of some bad fixtures that are UTF-8 text (write() writes text)."""
    found = []
    for name in names:
        for line in (FIXTURES / "bad" / name).read_bytes().splitlines():
            try:
                found.append(line.decode())
            except UnicodeDecodeError:
                continue
    return [line for line in found if line.strip()]


BAD_LINES = _text_lines("broken-lines.jsonl", "chat-schema.jsonl", "mixed-formats.jsonl")


# Tool definitions that hold a key "tools" of their own (a parameter's name).
TOOL = {"type": "function", "function": {"name": "find", "parameters": {
    "type": "object", "properties": {"tools": {"type": "array"}}}}}  # fmt: skip
OTHER_TOOL = {"type": "function", "function": {"name": "book", "description": "Book, ünï ☕"}}


def tool_line(i: int, tools: list[Any], **keys: Any) -> str:
    return json.dumps({**chat(f"Question {i}", f"Answer {i}"), **keys, "tools": tools})


def test_shared_tools_parse_every_line_as_json_loads() -> None:
    base = [tool_line(i, [TOOL]) for i in range(3)]
    suffix = base[0][base[0].index(', "tools"') :]
    lines = [
        *base,
        json.dumps(json.loads(base[0]), separators=(",", ":")),  # other spacing
        json.dumps({"tools": [TOOL], **chat("Q", "A")}),  # tools first
        json.dumps({**chat("Q", "A"), "tools": [TOOL], "x": 1}),  # tools not last
        tool_line(9, [TOOL, OTHER_TOOL]),  # other definitions
        tool_line(10, [TOOL], metadata={"tools": [1]}),  # a key "tools" nested before
        '{"messages": [], "note": "x"' + suffix,  # the same suffix after another head
        '{"messages": [], "tools": 1' + suffix,  # ... after a head with tools (twice: last wins)
        json.dumps({"messages": [{"role": "user", "content": suffix}], "tools": [TOOL]}),
        base[1],
    ]
    parser = lean.SharedTools()
    parsed = [parser.parse(line.encode()) for line in lines]
    assert parsed == [json.loads(line) for line in lines]
    # Learnt from the first line: the later lines with its suffix share its tools object.
    assert parsed[1]["tools"] is parsed[0]["tools"] is parsed[-1]["tools"]
    assert parsed[7]["tools"] is parsed[8]["tools"] is parsed[0]["tools"]
    assert parsed[9]["tools"] is not parsed[0]["tools"]  # its head has tools: parsed whole
    for broken in ('{"messages": [1' + suffix, '{"messages": []' + suffix[:-1]):
        with pytest.raises(ValueError):
            json.loads(broken)
        with pytest.raises(ValueError):
            parser.parse(broken.encode())


def test_lines_sharing_tool_definitions_give_the_frames_of_a_run_without_cache(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = plain_lines(320)
    for i in range(0, 320, 3):  # two lists of definitions in turn, some with tool calls
        tools = [TOOL] if i % 2 else [OTHER_TOOL, TOOL]
        lines[i] = tool_line(i, tools)
        if i % 9 == 0:
            example = json.loads(lines[i])
            example["messages"].insert(1, {"role": "assistant", "tool_calls": [
                {"id": f"c{i}", "type": "function",
                 "function": {"name": "find", "arguments": "{}"}}]})  # fmt: skip
            example["messages"].insert(2, {"role": "tool", "tool_call_id": f"c{i}",
                                           "content": "found"})  # fmt: skip
            lines[i] = json.dumps(example, ensure_ascii=i % 2 == 0)
    write(workdir / "train.jsonl", lines)
    uncached = frames(cache=False)
    first = report("--no-cache")
    frames(cache=True)
    shared = []
    real = lean.SharedTools.parse

    def parse(self: lean.SharedTools, line: bytes) -> Any:
        value = real(self, line)
        shared.append(any(value.get("tools") is tools for _, tools in self._known))
        return value

    monkeypatch.setattr(lean.SharedTools, "parse", parse)
    warm = frames(cache=True)
    assert sum(shared) > 80  # of the 107 lines with tools: their definitions parsed once
    assert_same_frames(warm, uncached)
    assert report() == first


def test_a_block_arrow_cannot_read_is_read_the_normal_way(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.json as pj

    write(workdir / "train.jsonl", mixed())
    expected = frames(cache=False)
    frames(cache=True)
    real = pj.read_json
    calls = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise pa.ArrowInvalid("JSON parse error: simulated")
        return real(*args, **kwargs)

    monkeypatch.setattr(pj, "read_json", fails_once)
    counter = Counter(monkeypatch)
    warm = frames(cache=True)
    assert len(calls) > 2
    assert len(counter.lines) > 20  # the second block's lines, parsed in Python
    assert_same_frames(warm, expected)


def test_new_or_small_files_and_other_formats_take_the_normal_path(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workdir / "train.jsonl"
    write(data, mixed())
    counter = Counter(monkeypatch)
    frames(cache=True)
    assert counter.lines == []  # no cache yet: the lane is not tried
    frames(cache=True)
    assert counter.lines  # now it is
    monkeypatch.setattr(lean, "MIN_BYTES", data.stat().st_size + 1)
    counter.lines.clear()
    frames(cache=True)
    assert counter.lines == []  # too small to be worth it
    monkeypatch.setattr(lean, "MIN_BYTES", 0)
    # A file of another format (prompt/completion) never takes the lane.
    legacy = [json.dumps({"prompt": f"p{i}", "completion": f" c{i}"}) for i in range(300)]
    write(data, legacy)
    frames(cache=True)
    counter.lines.clear()
    frames(cache=True)
    assert counter.lines == []
    # Nor does a file whose lines are mostly new.
    write(data, plain_lines(300))
    frames(cache=True)
    write(data, [json.dumps(chat(f"Fresh {i}?", f"New {i}.")) for i in range(300)])
    counter.lines.clear()
    frames(cache=True)
    assert counter.lines == []


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"messages": [{"role": "user", "content": "Hi", "name": "a", "weight": 0}]}, True),
        ({"messages": [], "id": 3, "metadata": {"x": [1]}}, True),
        ({"messages": [{"role": "user", "content": None}]}, False),
        ({"messages": [{"role": "user"}]}, False),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, False),
        ({"messages": [{"role": "user", "content": "x", "weight": True}]}, False),
        ({"messages": [{"role": "user", "content": "x", "weight": 1.0}]}, False),
        ({"messages": [{"role": "user", "content": "x", "weight": 2**70}]}, False),
        ({"messages": [{"role": ["user"], "content": "x"}]}, False),
        ({"messages": [{"role": "user", "content": "x", "name": 5}]}, False),
        ({"messages": [{"role": "assistant", "content": "x", "tool_calls": [{}]}]}, False),
        ({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, False),
        ({"messages": ["not an object"]}, False),
        ({"messages": "nope"}, False),
        (["messages"], False),
    ],
)
def test_is_plain(value: Any, plain: bool) -> None:
    assert lean.is_plain(value) is plain


def test_a_large_file_is_read_through_the_lane_on_both_cores(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second half goes to a helper process (dslint.shards), which takes the lane too."""
    import os

    from dslint import shards

    monkeypatch.setattr(shards, "MIN_BYTES", 10_000)
    write(workdir / "train.jsonl", mixed(600), crlf=frozenset({300, 301}), end=False)
    expected = frames(cache=False)
    expected_report = report("--no-cache")
    frames(cache=True)
    jobs: list[shards.SpanJob] = []
    pids: list[int] = []
    first_lines: list[int] = []
    helper, merge = shards.Helper.__init__, shards.merge_counts

    def spy_helper(self: shards.Helper, job: shards.SpanJob) -> None:
        jobs.append(job)
        helper(self, job)

    def spy_merge(info: Any, result: shards.SpanResult) -> None:
        pids.append(result.pid)
        first_lines.append(result.first_line)
        merge(info, result)

    monkeypatch.setattr(shards.Helper, "__init__", spy_helper)
    monkeypatch.setattr(shards, "merge_counts", spy_merge)
    counter = Counter(monkeypatch)
    warm = frames(cache=True)
    assert [job.lane for job in jobs] == [True]
    assert pids and pids[0] != os.getpid()  # the second half was read by the helper
    assert counter.lines and max(counter.lines) < first_lines[0]  # this half here
    assert_same_frames(warm, expected)
    assert report() == expected_report


def test_a_check_without_dataset_rules_only_counts_known_plain_lines(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No frame is built (schema rules only): a known clean line is counted, not parsed, but
    for one with an image (the file's image count)."""
    data = workdir / "train.jsonl"
    lines = mixed()
    write(data, lines)
    report("--select", "S")
    lines[100] = json.dumps(chat("Edited?", "Yes."))  # not the same check: not reused whole
    write(data, lines)
    counter = Counter(monkeypatch)
    warm = report("--select", "S")
    assert warm == report("--select", "S", "--no-cache")
    images = {n for n, line in enumerate(lines, 1) if '"image_url"' in line}
    assert images and set(counter.clean) == images
    assert 101 in counter.lines


def test_shards_of_one_dataset_and_a_validation_file_through_the_lane(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two training files checked as one dataset, and a validation file: each file's rows
    keep their record numbers, paths and split."""
    lines = mixed(600)
    write(workdir / "a.jsonl", lines[:300])
    write(workdir / "b.jsonl", lines[300:])
    write(workdir / "valid.jsonl", plain_lines(280)[::-1])

    def both(*args: str) -> tuple[str, tuple[pd.DataFrame, pd.DataFrame]]:
        result = CliRunner().invoke(
            cli, ["check", "a.jsonl", "b.jsonl", "--combine-files", "--validation",
                  "valid.jsonl", "--today", TODAY.isoformat(), "--format", "json", *args],
            catch_exceptions=False,
        )  # fmt: skip
        report = check(["a.jsonl", "b.jsonl"], validation=["valid.jsonl"], combine_files=True,
                       today=TODAY, cache="--no-cache" not in args)  # fmt: skip
        dataset = report.datasets[0]
        return result.output, (dataset.records, dataset.messages)

    expected, expected_frames = both("--no-cache")
    both()
    lines[350] = json.dumps(chat("Edited?", "Yes."))
    write(workdir / "b.jsonl", lines[300:])
    expected, expected_frames = both("--no-cache")
    counter = Counter(monkeypatch)
    warm, warm_frames = both()
    assert warm == expected
    assert_same_frames(warm_frames, expected_frames)
    assert len(counter.lines) < 150  # of 880: the lane read the rest of all three files


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "CameronVetter-FineTuning-A-Pirate__training_set.jsonl",  # plain
        "GBurgardt-charly-garcia-IA__fine_tuning_data.jsonl",  # plain, Spanish
        "microsoft-foundry__chartqa_vision_validation.jsonl",  # images: clean, not plain
        "microsoft-foundry__stock_toolcall_validation.jsonl",  # tools and tool calls
    ],
)
def test_real_files_through_the_lane(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Real files, their lines repeated to 600 or more (the lane needs 256 examples to decide
    a file's format): the same frames and findings as without the cache."""
    lines = (CORPUS / name).read_bytes().splitlines(keepends=True)
    (workdir / "train.jsonl").write_bytes(b"".join(lines * (600 // len(lines) + 1)))
    expected = check(["train.jsonl"], today=TODAY)
    check(["train.jsonl"], cache=True, today=TODAY)
    counter = Counter(monkeypatch)
    warm = check(["train.jsonl"], cache=True, today=TODAY)
    assert len(counter.lines) < 200  # of 550 to 733: the lane read the others
    places = [(f.code, f.line, f.column, f.message) for f in expected.findings]
    assert [(f.code, f.line, f.column, f.message) for f in warm.findings] == places
    mine, theirs = warm.datasets[0], expected.datasets[0]
    assert_same_frames((mine.records, mine.messages), (theirs.records, theirs.messages))
