"""The loader: every physical line becomes a located record or a located finding."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dslint
from conftest import TODAY, chat, clean_chat, jsonl, located
from dslint.loader import InputError, read_file, resolve_paths

GOOD = jsonl(*clean_chat(50))


def test_line_numbers_and_byte_offsets(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [json.dumps(chat("é" * i)) for i in range(3)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, records = read_file(path)
    got = [(r.line, r.offset) for r in records]
    expected_offsets = [0]
    for line in lines[:-1]:
        expected_offsets.append(expected_offsets[-1] + len(line.encode()) + 1)
    assert got == list(zip([1, 2, 3], expected_offsets, strict=True))


def test_crlf_missing_final_newline_and_bom_are_read(lint) -> None:  # type: ignore[no-untyped-def]
    text = GOOD.replace("\n", "\r\n").rstrip("\r\n")
    assert lint(text) == []
    findings = lint("\ufeff" + GOOD)
    assert located(findings) == [("S007", 1, "")]


def test_blank_lines_are_reported_and_not_counted(lint) -> None:  # type: ignore[no-untyped-def]
    lines = GOOD.splitlines(keepends=True)
    text = "".join(lines[:3]) + "\n   \n" + "".join(lines[3:])
    findings = lint(text)
    assert located(findings) == [("S006", 4, ""), ("S006", 5, "")]


def test_invalid_json_gives_the_parser_message_and_column(lint) -> None:  # type: ignore[no-untyped-def]
    bad = '{"messages": [{"role": "user", "content": "Hi"} {"role": "assistant"}]}'
    findings = lint(GOOD + bad + "\n", select=["S001"])
    assert located(findings) == [("S001", 51, "")]
    assert findings[0].column == bad.index('{"role": "assistant"') + 1
    assert "Expecting ',' delimiter" in findings[0].message


def test_invalid_utf8_is_located(lint) -> None:  # type: ignore[no-untyped-def]
    bad = b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n'
    findings = lint(GOOD.encode() + bad, select=["S002"])
    assert located(findings) == [("S002", 51, "")]
    assert findings[0].column == bad.index(b"\xe9") + 1


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('["a", "b"]', "S003"),
        ('"just a string"', "S003"),
        ("42", "S003"),
        ('{"messages": [], "messages": []}', "S004"),
        ('{"messages": [{"role": "user", "content": "x", "score": NaN}]}', "S005"),
        ('{"messages": [{"role": "user", "content": "x"}], "s": -Infinity}', "S005"),
        ('{"messages": [{"role": "user", "content": "x"}], "s": 1e999}', "S005"),
    ],
)
def test_json_that_the_api_rejects(lint, line: str, code: str) -> None:  # type: ignore[no-untyped-def]
    findings = lint(GOOD + line + "\n", select=[code])
    assert located(findings) == [(code, 51, "")]


def test_deep_nesting_and_long_lines_do_not_crash(lint) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 100_000 + "]" * 100_000
    long_text = "word " * 2_000_000  # a 10 MB line
    text = GOOD + deep + "\n" + json.dumps(chat(long_text)) + "\n"
    findings = lint(text, select=["S001", "S003"])
    assert located(findings) == [("S001", 51, "")]
    assert "nested too deeply" in findings[0].message


def test_gzip_is_read_by_content_not_name(tmp_path: Path) -> None:
    data = gzip.compress(GOOD.encode())
    (tmp_path / "a.jsonl.gz").write_bytes(data)
    (tmp_path / "b.jsonl").write_bytes(data)  # gzip without its extension
    report = dslint.check([tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl"], today=TODAY)
    assert [f.examples for f in report.files] == [50, 50]
    assert located(report.findings) == [("S016", None, "")]  # decompress before upload (info)


def test_truncated_gzip_and_lfs_pointer_and_empty_file(lint) -> None:  # type: ignore[no-untyped-def]
    data = gzip.compress(GOOD.encode() * 20)
    assert "S012" in {f.code for f in lint(data[: len(data) // 2], name="t.jsonl")}
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 10\n"
    assert located(lint(pointer)) == [("S011", None, "")]
    assert located(lint("")) == [("S010", None, "")]


def test_paths_files_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    for name in ("a.jsonl", "sub/b.ndjson", "sub/deeper/c.jsonl.gz", "sub/notes.txt"):
        (tmp_path / name).write_text("")
    found = resolve_paths([str(tmp_path)])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.jsonl",
        "sub/b.ndjson",
        "sub/deeper/c.jsonl.gz",
    ]
    assert resolve_paths([str(tmp_path / "sub" / "*.ndjson")]) == [tmp_path / "sub" / "b.ndjson"]
    assert len(resolve_paths([str(tmp_path / "a.jsonl"), str(tmp_path)])) == 3  # no repeats


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("missing.jsonl", "no such file or folder"),
        ("nothing-*.jsonl", "no file matches this pattern"),
        ("emptydir", "folder holds no .jsonl"),
    ],
)
def test_unusable_paths_raise_input_errors(tmp_path: Path, given: str, message: str) -> None:
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(InputError, match=message):
        resolve_paths([str(tmp_path / given)])


def test_frames_hold_records_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    vision = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What?"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                ],
            },
            {"role": "assistant", "content": "A chart."},
        ]
    }
    path.write_text(jsonl(chat(system="Be kind."), "not json", vision))
    dataset = dslint.check([path], today=TODAY).datasets[0]
    records, messages = dataset.records, dataset.messages
    assert list(records["line"]) == [1, 2, 3]
    assert list(records["is_object"]) == [True, False, True]
    assert isinstance(messages["text"].dtype, pd.StringDtype)
    assert messages["text"].dtype.storage == "pyarrow"
    assert list(zip(messages["record"], messages["role"], messages["pointer"], strict=True)) == [
        (0, "system", "/messages/0/content"),
        (0, "user", "/messages/1/content"),
        (0, "assistant", "/messages/2/content"),
        (2, "user", "/messages/0/content/0/text"),
        (2, "assistant", "/messages/1/content"),
    ]


def test_frames_built_from_many_chunks_hold_every_text_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint import dataset as dataset_module

    monkeypatch.setattr(dataset_module, "CHUNK_RECORDS", 3)
    texts = [f"question {i} " + "é" * (i % 4) for i in range(20)]
    lines = [
        chat(user=t, assistant="" if i % 5 == 0 else f"answer {i}") for i, t in enumerate(texts)
    ]
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*lines))
    messages = dslint.check([path], today=TODAY).datasets[0].messages
    users = messages[messages["role"] == "user"]["text"].tolist()
    assert users == texts
    answers = messages[messages["role"] == "assistant"]["text"].tolist()
    assert answers == ["" if i % 5 == 0 else f"answer {i}" for i in range(20)]


def test_role_name_and_pointer_are_categories_across_chunks_with_nulls_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint import dataset as dataset_module

    # Chunks of 2 records: each chunk sees other values, so the codes must be remapped.
    monkeypatch.setattr(dataset_module, "CHUNK_RECORDS", 2)
    examples = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"content": "no role"}, {"role": "assistant", "content": "c"}]},
        {"messages": [{"role": "tool", "name": "lookup", "content": "d"}]},
        {"messages": [{"role": "zeta", "content": "e"}, {"role": "user", "content": "f"}]},
        {"messages": [{"role": "user", "name": "ann", "content": "g"}]},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*examples))
    messages = dslint.check([path], today=TODAY).datasets[0].messages
    for column in ("role", "name", "pointer"):
        assert isinstance(messages[column].dtype, pd.CategoricalDtype)
        assert messages[column].cat.codes.dtype == np.int8  # a few values: one byte a row
    roles = messages["role"].astype(object).where(messages["role"].notna(), None).tolist()
    assert roles == ["user", "assistant", None, "assistant", "tool", "zeta", "user", "user"]
    assert list(messages["role"].cat.categories) == ["assistant", "tool", "user", "zeta"]
    names = messages["name"].astype(object).where(messages["name"].notna(), None).tolist()
    assert names == [None, None, None, None, "lookup", None, None, "ann"]
    assert messages["pointer"].tolist() == [
        "/messages/0/content", "/messages/1/content", "/messages/0/content",
        "/messages/1/content", "/messages/0/content", "/messages/0/content",
        "/messages/1/content", "/messages/0/content",
    ]  # fmt: skip
    assert (messages["role"] == "assistant").tolist() == [
        False, True, False, True, False, False, False, False,
    ]  # fmt: skip


def test_json_columns_are_categories_of_their_text_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tools, tool_calls, images and image_key: mostly missing, so categories (a code a row)
    rather than strings (8 bytes of offsets a row); read back as Arrow strings, as before."""
    from dslint import dataset as dataset_module

    monkeypatch.setattr(dataset_module, "CHUNK_RECORDS", 2)
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    picture = {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "low"}}
    examples = [
        chat(),
        {"messages": [{"role": "user", "content": "Hi"},
                      {"role": "assistant", "tool_calls": [call]}], "tools": tools},
        chat(),
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What?"}, picture]},
                      {"role": "assistant", "content": "A chart."}]},
        {"messages": [{"role": "user", "content": "Hi"},
                      {"role": "assistant", "tool_calls": [call]}], "tools": tools},
    ]  # fmt: skip
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*examples))
    dataset = dslint.check([path], today=TODAY).datasets[0]
    records, messages = dataset.records, dataset.messages

    def values(column: pd.Series) -> list[object]:
        assert isinstance(column.dtype, pd.CategoricalDtype)
        strings = dataset_module.arrow_strings(column).to_pylist()
        assert strings == column.astype(object).where(column.notna(), None).tolist()
        return strings

    definitions = json.dumps(tools, ensure_ascii=False, sort_keys=True)
    assert values(records["tools"]) == [None, definitions, None, None, definitions]
    calls = values(messages["tool_calls"])
    assert [json.loads(c) if c else None for c in calls] == [
        None, None, None, [call], None, None, None, None, None, [call],
    ]  # fmt: skip
    assert values(messages["images"]).count("low") == 1
    keys = values(messages["image_key"])
    assert sum(k is not None for k in keys) == 1
    assert messages["tool_calls"].cat.codes.dtype == np.int8


def test_message_and_part_numbers_are_narrow_unless_they_cannot_be(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(chat()))
    messages = dslint.check([path], today=TODAY).datasets[0].messages
    assert messages["message"].dtype == np.int16 and messages["part"].dtype == np.int16
    assert messages["record"].dtype == np.int32
    # A conversation of more turns than int16 holds keeps its numbers whole.
    turns = [{"role": ("user", "assistant")[i % 2], "content": "x"} for i in range(40_000)]
    path.write_text(jsonl({"messages": turns}))
    messages = dslint.check([path], today=TODAY).datasets[0].messages
    assert messages["message"].dtype == np.int32
    assert messages["message"].tolist() == list(range(40_000))


@pytest.mark.parametrize("growable", [True, False], ids=["one-growing-map", "chunks"])
def test_the_text_column_gathers_chunks_in_order_and_grows(growable: bool) -> None:
    import pyarrow as pa

    from dslint.dataset import GROWABLE_MAPS, TextColumn

    if growable and not GROWABLE_MAPS:
        pytest.skip("this platform's memory maps cannot grow in place")

    whole = pa.array([f"text {i} " + "é" * (i % 7) for i in range(3000)], type=pa.large_string())
    big = pa.array(["x" * 1_000_000] * 20, type=pa.large_string())  # beyond the first map
    pieces = [
        whole.slice(0, 1000),
        whole.slice(1000, 0),  # an empty chunk
        pa.array(["", "", ""], type=pa.large_string()),  # rows without bytes
        whole.slice(1000, 2000),  # a slice: its offsets start past zero
        big,
        pa.array(["ünïcode", "plain"], type=pa.string()),  # 32-bit offsets are widened
    ]
    column = TextColumn(growable)
    for piece in pieces:
        column.append(piece)
    assert len(column) == sum(len(p) for p in pieces)
    finished = column.finish()
    expected = pa.concat_arrays([p.cast(pa.large_string()) for p in pieces])
    assert finished.type == pa.large_string()
    assert finished.equals(expected)
    assert finished.validate(full=True) is None


@pytest.mark.parametrize("growable", [True, False], ids=["one-growing-map", "chunks"])
def test_the_text_column_copies_interleaved_rows_as_a_take_would(growable: bool) -> None:
    import random

    import numpy as np
    import pyarrow as pa

    from dslint.dataset import GROWABLE_MAPS, Interleaved, TextColumn

    if growable and not GROWABLE_MAPS:
        pytest.skip("this platform's memory maps cannot grow in place")
    whole = pa.array([f"row {i} " + "ü" * (i % 5) for i in range(2000)], type=pa.large_string())
    plain = pa.array(["", *(f"plain {i}" for i in range(900)), ""] * 2, type=pa.string())
    sources = [whole.slice(300, 1200), plain.slice(1, 1500), pa.array(["x" * 3_000_000])]
    rows = sum(len(s) for s in sources)
    # Runs of each source in their order, shuffled together, as a fast-lane block's merge
    # gives them (and one order that is not runs at all).
    ordered = np.argsort([random.Random(7).random() for _ in range(rows)], kind="stable")
    bounds = np.cumsum([0, *(len(s) for s in sources)])
    cuts = [np.array_split(np.arange(bounds[i], bounds[i + 1]), 7) for i in range(3)]
    runs = np.concatenate([run for group in zip(*cuts, strict=True) for run in group])
    split = np.concatenate([np.arange(0, 1200, 2), np.arange(1200, rows), np.arange(1, 1200, 2)])
    expected_column = pa.concat_arrays([s.cast(pa.large_string()) for s in sources])
    column = TextColumn(growable)
    column.append(pa.array(["before"], type=pa.large_string()))
    for order in (ordered, runs, split, np.zeros(0, dtype=np.int64)):
        column.append_interleaved(Interleaved(sources, order))
    one = Interleaved([sources[1]], np.arange(len(sources[1]))[::-1])  # one source, reversed
    column.append_interleaved(one)
    assert len(column) == 1 + 3 * rows + len(sources[1])
    finished = column.finish()
    expected = pa.concat_arrays([
        pa.array(["before"], type=pa.large_string()),
        *(expected_column.take(order) for order in (ordered, runs, split)),
        sources[1].cast(pa.large_string()).take(one.order),
    ])  # fmt: skip
    assert finished.equals(expected)
    assert finished.validate(full=True) is None
    with pytest.raises(ValueError, match="no nulls"):
        TextColumn(growable).append_interleaved(
            Interleaved([whole.slice(0, 2), pa.array(["a", None])], np.arange(4))
        )


def test_the_text_column_refuses_missing_texts() -> None:
    import pyarrow as pa

    from dslint.dataset import TextColumn

    for growable in (True, False):
        with pytest.raises(ValueError, match="no nulls"):
            TextColumn(growable).append(pa.array(["a", None], type=pa.large_string()))
        assert len(TextColumn(growable).finish()) == 0


def test_the_text_column_works_where_memory_files_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import pyarrow as pa

    from dslint import dataset as dataset_module

    def refused(*_: object) -> int:
        raise PermissionError(1, "Operation not permitted")

    if not dataset_module.GROWABLE_MAPS:
        pytest.skip("this platform's memory maps cannot grow in place")
    monkeypatch.setattr(os, "memfd_create", refused, raising=False)
    column = dataset_module.TextColumn()
    texts = pa.array(["a" * 100_000] * 300, type=pa.large_string())  # grows past 16 MB
    column.append(texts)
    finished = column.finish()
    assert finished.equals(texts)
    assert dataset_module.SharedText.of(finished) is None  # nothing to share: sent as bytes


def test_a_finished_text_column_pickles_as_its_text_not_its_map() -> None:
    import pickle

    import pyarrow as pa

    from dslint.dataset import TextColumn

    column = TextColumn()
    texts = pa.array(["x" * 100] * 1000, type=pa.large_string())
    column.append(texts)
    finished = column.finish()
    sent = pickle.dumps(finished, protocol=pickle.HIGHEST_PROTOCOL)  # as to or from a helper
    assert len(sent) < 2 * texts.nbytes  # the map's spare room (16 MB here) stays behind
    assert pickle.loads(sent).equals(texts)
