"""The fast lane of a re-run (dslint.lean): plain, clean lines an earlier run saw are read by
Arrow, not parsed in Python, and the frames and reports are those of a run without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import TODAY, chat
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
             "nul \u0000 byte", "", "  spaces  ", "ünïcödé " * 3]  # fmt: skip
    lines = []
    for i in range(count):
        text = texts[i % len(texts)]
        example: dict[str, Any] = chat(f"Question {i}: {text}?", f"Answer {i}. {text}")
        if i % 3 == 0:
            example["messages"].insert(0, {"role": "system", "content": f"Be brief {i % 7}."})
        if i % 5 == 0:
            example["messages"][-1]["weight"] = i % 2
            example["messages"][0]["name"] = f"user_{i % 4}"
        if i % 7 == 0:  # keys that make no rows, at both levels
            example["metadata"] = {"id": i, "tags": ["a", {"b": None}], "score": 1.5}
            example["messages"][0]["refusal"] = None
        # Both ways JSON is written: escaped (Python's default) and raw UTF-8.
        lines.append(json.dumps(example, ensure_ascii=i % 2 == 0))
    return lines


def other_lines() -> list[str]:
    """Lines that are not plain, or not clean: always read the normal way."""
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    user = {"role": "user", "content": "Do it"}
    parts = {"role": "user", "content": [{"type": "text", "text": "x"}]}
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
    """Counts the lines the fast lane hands to the normal path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lines: list[int] = []
        real = loader.parse_line

        def counted(raw: bytes, info: Any, number: int, offset: int, index: int) -> Any:
            self.lines.append(number)
            return real(raw, info, number, offset, index)

        monkeypatch.setattr(lean, "parse_line", counted)


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
    # Parsed: line 1, every line that is not plain, and none of the lines without findings
    # (the last of other_lines is plain: its finding is a dataset rule's).
    others = {position + 1 for position in range(5, 320, 31)[: len(other_lines()) - 1]}
    reported = {f["line"] for f in json.loads(first)["findings"]}
    assert others | {1} <= set(counter.lines) <= others | reported | {1}
    assert len(counter.lines) == len(set(counter.lines))  # each once
    assert len(set(range(1, 321)) - reported) > 100  # enough clean lines to go by
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
    assert clean & set(counter.lines) == {51}
    assert len(clean) > 100
    warm = frames(cache=True)
    assert_same_frames(warm, frames(cache=False))
    assert warm_report == report("--no-cache")


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
