"""A large file checked on two cores reports exactly what one core reports (dslint.shards)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES, TODAY, chat
from dslint import helper, offload, shards
from dslint.api import check
from dslint.config import Config
from dslint.dataset import GROWABLE_MAPS, DatasetBuilder, SharedText
from dslint.engine import Engine
from dslint.loader import Span, read_file
from dslint.reporters.json import JsonReporter

MEMORY_FILES = GROWABLE_MAPS and hasattr(os, "memfd_create")

# Lines of the bad fixtures that stay one line each (the bare-CR file would not).
BAD = ["broken-lines.jsonl", "chat-schema.jsonl", "lone-surrogate.jsonl", "mixed-formats.jsonl"]


def varied_file(path: Path, examples: int = 2400) -> Path:
    """Clean chats with bad lines, secrets, duplicates and near-duplicates across both halves."""
    bad = [
        line
        for name in BAD
        for line in (FIXTURES / "bad" / name).read_bytes().splitlines()
        if line.strip()
    ]
    lines: list[bytes] = []
    for i in range(examples):
        if i % 97 == 0:
            lines.append(bad[(i // 97) % len(bad)])
            continue
        user = f"How do I change the plan of account {i % 400}? I need it for order {i}."
        answer = f"Open Settings, choose Plan {i % 7}, and confirm. Ticket {i % 300} is noted!"
        if i % 211 == 0:
            answer += " Use the key sk-proj-" + "A1b2C3d4" * 6 + " to test."
        if i % 53 == 0:
            user = "How do I change my plan?"  # the same prompt with different answers
        example = chat(user, answer, system="You are the Acme support assistant.")
        lines.append(json.dumps(example, ensure_ascii=i % 2 == 0).encode())
        if i % 101 == 0:
            lines.append(b"")  # blank lines are records too
    # Copies of early lines late in the file: duplicates found across the two halves.
    lines += lines[10:40]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def offloaded_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process ids that ran the offloaded dataset rules (dslint.offload)."""
    pids: list[int] = []
    result = offload.Offloaded.result

    def spy(self: offload.Offloaded) -> offload.RulesResult | None:
        done = result(self)
        pids.append(done.pid if done is not None else os.getpid())
        return done

    monkeypatch.setattr(offload.Offloaded, "result", spy)
    return pids


def run(path: Path, **kwargs: Any) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    report = check([path], today=TODAY, **kwargs)
    dataset = report.datasets[0]
    return JsonReporter().render(report), dataset.records, dataset.messages


def test_halves_cut_at_a_line_start(tmp_path: Path, small_shards: None) -> None:
    path = varied_file(tmp_path / "data.jsonl")
    data = path.read_bytes()
    spans = shards.halves(path)
    assert spans is not None
    first, second = spans
    assert first.stop == second.start and data[second.start - 1 : second.start] == b"\n"
    # The second span's first line is counted by the helper that reads it (shards.counted).
    assert second.first_line == shards.UNCOUNTED
    job = shards.SpanJob(config=Config(), today=TODAY, path=path, split="train", span=second,
                         first_index=10 - 1, format="chat", target=None, cache=None)  # fmt: skip
    known = shards.counted(job)
    assert known is not None and shards.counted(known) is known
    second = known.span
    assert second.first_line == data[: second.start].count(b"\n") + 1
    assert known.first_index == 10 + second.first_line - 1  # line 1 is record 10
    spans = (first, second)
    whole = [(r.line, r.offset, r.raw) for r in read_file(path)[1]]
    parts = [(r.line, r.offset, r.raw) for span in spans for r in read_file(path, 0, "train", span)[1]]  # fmt: skip
    assert parts == whole


def test_a_span_beyond_the_end_of_a_shrunk_file_is_reported_not_read(
    tmp_path: Path, small_shards: None
) -> None:
    path = varied_file(tmp_path / "data.jsonl")
    spans = shards.halves(path)
    assert spans is not None
    path.write_bytes(path.read_bytes()[: spans[1].start // 2])  # cut before the split
    job = shards.SpanJob(config=Config(), today=TODAY, path=path, split="train",
                         span=spans[1], first_index=-1, format="chat", target=None,
                         cache=None)  # fmt: skip
    assert shards.counted(job) is None
    result = shards.check_span(job)
    assert result.first_line == shards.UNCOUNTED and result.lines == 0
    assert result.record_chunks == [] and result.findings == []
    assert result.changed is not None and "changed while it was read" in result.changed
    # The engine keeps the first span's records and reports the change (S-rule on the file).
    path = varied_file(tmp_path / "data.jsonl")
    monkeypatch_result = shards.Helper.result
    try:
        shards.Helper.result = lambda self, engine: shards._shrunk(self.job)  # type: ignore[method-assign]
        report = check([path], today=TODAY)
    finally:
        shards.Helper.result = monkeypatch_result  # type: ignore[method-assign]
    assert any("changed while it was read" in f.message for f in report.findings)
    first_span_lines = path.read_bytes()[: spans[1].start].count(b"\n")
    assert len(report.datasets[0].records) == first_span_lines
    assert max(f.line or 0 for f in report.findings) <= first_span_lines


def test_no_split_for_small_compressed_or_single_line_files(tmp_path: Path) -> None:
    plain = varied_file(tmp_path / "data.jsonl")
    assert shards.halves(plain) is None  # below MIN_BYTES
    shards.MIN_BYTES, saved = 10_000, shards.MIN_BYTES
    try:
        packed = tmp_path / "data.jsonl.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        assert shards.halves(packed) is None
        one_line = tmp_path / "one.jsonl"
        one_line.write_text(json.dumps(chat("x" * 50_000, "y")), encoding="utf-8")
        assert shards.halves(one_line) is None
        assert shards.halves(plain) is not None
    finally:
        shards.MIN_BYTES = saved


def test_a_split_check_reports_what_one_core_reports(
    tmp_path: Path,
    small_shards: None,
    helper_pids: list[int],
    offloaded_pids: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = varied_file(tmp_path / "data.jsonl")
    validation = tmp_path / "validation.jsonl"
    validation.write_bytes(path.read_bytes()[:200_000])
    ran: list[str] = []
    collect = Engine.collect

    def spy(self: Engine, rule: Any, dataset: Any) -> Any:
        ran.append(rule.code)
        return collect(self, rule, dataset)

    monkeypatch.setattr(Engine, "collect", spy)
    started_ahead: dict[str, int] = {}
    spares = helper.spares

    @contextlib.contextmanager
    def watched(wanted: Any) -> Any:
        with spares(wanted):
            started_ahead.update((child.purpose, child.process.pid) for child in helper._SPARES)
            yield

    monkeypatch.setattr(helper, "spares", watched)
    split = run(path, validation=[validation])
    # Both halves of both files were read in a helper, and the duplicate and privacy rules
    # and V011 (offload.OFFLOADED_RULES) ran in one.
    assert len(helper_pids) == 2 and os.getpid() not in helper_pids
    assert len(offloaded_pids) == 1 and os.getpid() not in offloaded_pids
    # One child had been started ahead, with the modules it needs imported meanwhile: it
    # read the first file's second half, then ran the offloaded rules (helper.spares: one
    # interpreter for both); the validation file's second half took a child of its own.
    assert started_ahead.keys() == {shards.SPARE}
    assert started_ahead[shards.SPARE] == helper_pids[0] == offloaded_pids[0]
    assert helper_pids[1] != helper_pids[0]
    # Meanwhile the token rules, which split their own work over both cores, ran last here
    # (DatasetRule.splits_over_cores); the report keeps the rule order all the same.
    tokens = [i for i, code in enumerate(ran) if code.startswith("T")]
    assert tokens and tokens == list(range(len(ran) - len(tokens), len(ran))), ran
    assert not any(code.startswith(("D", "P")) or code == "V011" for code in ran)
    assert {"V001", "V012"} <= set(ran)  # the rest of the voice family ran here
    monkeypatch.setenv("DSLINT_WORKERS", "1")
    helper_pids.clear()
    offloaded_pids.clear()
    serial = run(path, validation=[validation])
    assert not helper_pids and not offloaded_pids
    assert split[0] == serial[0]
    pd.testing.assert_frame_equal(split[1], serial[1])
    pd.testing.assert_frame_equal(split[2], serial[2])
    codes = {finding["code"] for finding in json.loads(serial[0])["findings"]}
    # The comparison means something: record, file and dataset rules all reported.
    assert {"S001", "D001", "D002", "P101", "V011"} <= codes, codes


def test_helpers_start_ahead_only_for_a_dataset_large_enough_to_use_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two files of 6 kB: checked as two datasets, neither reaches MIN_BYTES, and a spare for
    # the offloaded rules would be started, and its imports made, for nothing.
    monkeypatch.setattr(shards, "MIN_BYTES", 10_000)
    started: list[list[str]] = []

    def spares(wanted: Any) -> Any:
        started.append([purpose for purpose, *_ in wanted])
        return contextlib.nullcontext()

    monkeypatch.setattr(helper, "spares", spares)
    paths = []
    for name in ("a.jsonl", "b.jsonl"):
        path = tmp_path / name
        lines = [json.dumps(chat(f"Question {i} of {name}?", "An answer.")) for i in range(80)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert 5_000 < path.stat().st_size < 10_000
        paths.append(path)
    check(paths, today=TODAY)
    assert started == []
    check(paths, today=TODAY, combine_files=True)  # one dataset of both: its rules go away
    assert started == [[offload.SPARE]]
    started.clear()
    check(paths[:1], validation=paths[1:], today=TODAY)  # a file with its validation file
    assert started == [[offload.SPARE]]
    # Two datasets that both reach it: one child, for both files' spans and rules in turn.
    monkeypatch.setattr(shards, "MIN_BYTES", 5_000)
    started.clear()
    again: list[bool] = []
    monkeypatch.setattr(helper, "spares", lambda wanted: again.extend(
        len(entry) > 3 and entry[3] for entry in wanted) or spares(wanted))  # fmt: skip
    check(paths, today=TODAY)
    assert started == [[shards.SPARE]] and again == [True]


def test_the_cache_keeps_what_the_helper_checked(
    tmp_path: Path, small_shards: None, helper_pids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = varied_file(tmp_path / "data.jsonl")
    monkeypatch.chdir(tmp_path)
    cold = run(path, cache=True)
    stores = list((tmp_path / ".dslint_cache").glob("records-*.json"))
    assert len(stores) == 1
    from dslint.cache import _read_entries

    entries = _read_entries(stores[0])  # the clean lines' entries are packed as columns
    distinct = len(set(path.read_bytes().splitlines()))
    # Both halves' records are kept (the helper's entries reached this process's store).
    assert len(entries) >= distinct - 1
    memos = {p.name for p in (tmp_path / ".dslint_cache").glob("memo-*.json")}
    warm = run(path, cache=True)
    assert len(helper_pids) == 2
    # The duplicate rules' memos, kept by the helper, were written by this process, and so
    # were their row memos (dslint.rows).
    assert memos == {p.name for p in (tmp_path / ".dslint_cache").glob("memo-*.json")}
    (rows,) = (tmp_path / ".dslint_cache").glob("rows-*.npz")
    with np.load(rows) as saved:
        assert any(name.startswith("records:duplicates.buckets@") for name in saved.files)
    monkeypatch.setenv("DSLINT_WORKERS", "1")
    assert cold[0] == warm[0] == run(path, cache=False)[0]


def test_a_helper_that_cannot_start_leaves_the_work_here(
    tmp_path: Path,
    small_shards: None,
    helper_pids: list[int],
    offloaded_pids: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = varied_file(tmp_path / "data.jsonl")
    serial = run(path)  # compared below with the fallback
    helper_pids.clear()
    offloaded_pids.clear()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    fallback = run(path)
    assert helper_pids == [os.getpid()]  # the second half was read here
    assert offloaded_pids == [os.getpid()]  # and the duplicate rules ran here
    assert fallback[0] == serial[0]


def test_a_call_runs_in_another_process_and_reports_failures() -> None:
    call = helper.Call("os", "getpid")
    assert call.result() not in (None, os.getpid())
    failing = helper.Call("json", "loads", "{not json")
    assert failing.result() is None
    assert failing.failure is not None and "JSONDecodeError" in failing.failure


def imported_in_child(module: str, spare: str | None) -> Any:
    """Whether ``module`` was imported in the child before its call ran."""
    return helper.Call("builtins", "eval", f"{module!r} in __import__('sys').modules",
                       spare=spare).result()  # fmt: skip


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_a_spare_child_imports_ahead_and_is_stopped_when_not_taken() -> None:
    assert imported_in_child("colorsys", spare="a") is False  # no spare: a fresh child
    preload = ["colorsys", "no_such_module_for_dslint"]
    with helper.spares([("a", preload), ("a", preload), ("b", ["wave"])]):
        waiting = {child.process.pid for child in helper._SPARES}
        assert len(waiting) == 3 and set(children()) >= waiting
        # The call ran in one of them, after its imports (a missing module is skipped).
        assert imported_in_child("colorsys", spare="a") is True
        assert len(helper._SPARES) == 2
        # What the imports made is frozen: the collector's passes in the child skip it.
        assert helper.Call("gc", "get_freeze_count", spare="a").result() > 0
        assert [child.purpose for child in helper._SPARES] == ["b"]
        assert imported_in_child("colorsys", spare=None) is False  # not asked: not taken
        assert imported_in_child("colorsys", spare="c") is False  # none for that purpose
    # The one never taken was stopped with the block; none is left.
    assert helper._SPARES == [] and children() == []


WHO = "(__import__('os').getpid(), 'wave' in __import__('sys').modules)"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_a_spare_serves_its_next_purpose_after_its_first_call() -> None:
    with helper.spares([("a", ["colorsys"], ("b", ["wave"]))]):
        (child,) = helper._SPARES
        first = helper.Call("builtins", "eval", WHO, spare="a").result()
        assert first == (child.process.pid, False)  # its own purpose's modules only
        # Waiting again, for its next purpose, whose modules it imported meanwhile.
        assert [(c.purpose, c.process.pid) for c in helper._SPARES] == [("b", child.process.pid)]
        assert helper.Call("builtins", "eval", WHO, spare="b").result() == (child.process.pid, True)
        assert helper._SPARES == []
        assert children() == []  # done with its last purpose: it ended
    # The descriptors its first call received are closed before its second call.
    read_end, write_end = os.pipe()
    try:
        with helper.spares([("a", [], ("b", []))]):
            theirs = helper.Call("dslint.helper", "local", read_end, pass_fds=(read_end,),
                                 spare="a").result()  # fmt: skip
            assert isinstance(theirs, int)
            still_open = f"__import__('os').path.exists('/proc/self/fd/{theirs}')"
            assert helper.Call("builtins", "eval", still_open, spare="b").result() is False
    finally:
        os.close(read_end)
        os.close(write_end)
    # Called for its first purpose only: stopped with the block.
    with helper.spares([("a", [], ("b", []))]):
        assert helper.Call("os", "getpid", spare="a").result() is not None
        assert [c.purpose for c in helper._SPARES] == ["b"]
    assert helper._SPARES == [] and children() == []
    # A failed first call ends it: no next purpose.
    with helper.spares([("a", [], ("b", []))]):
        assert helper.Call("json", "loads", "{not json", spare="a").result() is None
        assert helper._SPARES == [] and children() == []
    # Its first call still running when the block ends: it ends after that call.
    with helper.spares([("a", [], ("b", []))]):
        running = helper.Call("builtins", "eval", "__import__('time').sleep(0.2) or 7",
                              spare="a")  # fmt: skip
    assert running.result() == 7
    assert helper._SPARES == [] and children() == []
    # Asked for its next purpose first: it serves that call alone, then ends.
    with helper.spares([("a", [], ("b", ["wave"]))]):
        (child,) = helper._SPARES
        taken = helper.Call("builtins", "eval", WHO, spare="b").result()
        assert taken == (child.process.pid, False)
        assert helper._SPARES == [] and children() == []


@pytest.mark.skipif(not MEMORY_FILES, reason="memory files (memfd) are Linux-only")
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_a_spare_serves_both_purposes_in_turn_for_several_datasets() -> None:
    read_end, write_end = os.pipe()
    try:
        with helper.spares([("a", ["colorsys"], ("b", ["wave"]), True)]):
            (child,) = helper._SPARES
            pid = child.process.pid
            for _ in range(3):  # a, b, a, b, a, b: one interpreter, its imports done once
                assert helper.Call("builtins", "eval", WHO, spare="a").result()[0] == pid
                assert [c.purpose for c in helper._SPARES] == ["b"]
                theirs = helper.Call("dslint.helper", "local", read_end, pass_fds=(read_end,),
                                     spare="b").result()  # fmt: skip
                assert [c.purpose for c in helper._SPARES] == ["a"]
                # Each call's descriptors are closed before the next call.
                still_open = f"__import__('os').path.exists('/proc/self/fd/{theirs}')"
                assert helper.Call("builtins", "eval", still_open, spare="a").result() is False
                assert helper.Call("builtins", "eval", WHO, spare="b").result() == (pid, True)
            assert children() == [pid]
        # Waiting when the block ends: stopped.
        assert helper._SPARES == [] and children() == []
    finally:
        os.close(read_end)
        os.close(write_end)
    # A failed call ends it, as any child.
    with helper.spares([("a", [], ("b", []), True)]):
        assert helper.Call("os", "getpid", spare="a").result() is not None
        assert helper.Call("json", "loads", "{not json", spare="b").result() is None
        assert helper._SPARES == [] and children() == []


def test_a_spare_maps_a_memory_file_made_after_it_started() -> None:
    import pyarrow as pa

    from dslint.dataset import TextColumn

    texts = ["first", "é" * 3, "", "last"]
    with helper.spares([("text", [])]):
        column = TextColumn(growable=True)  # its memory file exists only from now on
        column.append(pa.array(texts, pa.large_string()))
        shared = SharedText.of(column.finish())
        assert shared is not None
        call = helper.Call("builtins", "eval", "text.array().to_pylist()", {"text": shared},
                           pass_fds=(shared.descriptor,), spare="text")  # fmt: skip
        assert call.result() == texts
        # Without the descriptor the child cannot map the text: the caller does it here.
        alone = helper.Call("builtins", "eval", "text.array()", {"text": shared})
        assert alone.result() is None and alone.failure is not None


def test_a_span_of_a_compressed_file_is_refused(tmp_path: Path) -> None:
    packed = tmp_path / "data.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"a": 1}\n' * 10))
    with pytest.raises(ValueError, match="compressed"):
        read_file(packed, 0, "train", Span(9, None, 2))


def children() -> list[int]:
    """This process's live child processes (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] != b"Z":
                found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_an_interrupted_run_leaves_no_helper_behind(
    tmp_path: Path, small_shards: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.schema.quality import EmptyContent

    path = varied_file(tmp_path / "data.jsonl")
    seen = [0]
    check_record = EmptyContent.check

    def interrupted(self: EmptyContent, record: Any) -> Any:
        seen[0] += 1
        if seen[0] == 300:
            raise KeyboardInterrupt
        return check_record(self, record)

    monkeypatch.setattr(EmptyContent, "check", interrupted)
    with pytest.raises(KeyboardInterrupt):
        check([path], today=TODAY)
    assert children() == []


def test_a_family_is_not_offloaded_when_nothing_else_runs(
    tmp_path: Path, small_shards: None, offloaded_pids: list[int]
) -> None:
    path = varied_file(tmp_path / "data.jsonl")
    run(path, select=["D"])
    assert offloaded_pids == []  # only duplicate rules: they run here, on the only frames
    run(path, select=["D", "V"])
    assert len(offloaded_pids) == 1


def test_frames_reach_the_helper_unchanged(tmp_path: Path) -> None:
    import pickle

    import pyarrow as pa

    path = varied_file(tmp_path / "data.jsonl")
    dataset = check([path], today=TODAY).datasets[0]
    for frame in (dataset.records, dataset.messages):
        packed = offload.Frame(frame)
        # Arrow-backed text travels as Arrow arrays (pandas would copy them to pickle them),
        # and the messages' text, where memory files exist, as a memory file to map.
        shared = {n for n, v in packed.columns.items() if isinstance(v, SharedText)}
        assert shared == ({"text"} if frame is dataset.messages and MEMORY_FILES else set())
        # The messages' text is the one Arrow string column; the others are categories.
        assert packed.arrow == ({"text"} if frame is dataset.messages else set())
        assert all(
            isinstance(packed.columns[name], pa.ChunkedArray) for name in packed.arrow - shared
        )
        assert len(packed.descriptors) == len(shared)
        arrived = pickle.loads(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL)).frame()
        pd.testing.assert_frame_equal(arrived, frame)


@pytest.mark.skipif(not MEMORY_FILES, reason="no memory files (memfd) on this platform")
def test_the_helper_maps_the_text_instead_of_receiving_a_copy(tmp_path: Path) -> None:
    import pickle

    path = varied_file(tmp_path / "data.jsonl")
    messages = check([path], today=TODAY).datasets[0].messages
    packed = offload.Frame(messages)
    text = packed.columns["text"]
    assert isinstance(text, SharedText)
    # The pickle holds the offsets, not the text itself.
    sent = pickle.dumps(packed.columns["text"], protocol=pickle.HIGHEST_PROTOCOL)
    assert len(sent) < text.offsets.nbytes + 1000
    assert len(sent) < sum(len(t.encode()) for t in messages["text"])
    # A process that inherits the descriptor maps the same texts.
    child = (
        "import json, pickle, sys\n"
        "text = pickle.load(sys.stdin.buffer)\n"
        "print(json.dumps(text.array().to_pylist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], input=sent, capture_output=True,
        pass_fds=packed.descriptors, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == messages["text"].tolist()
    # Without the descriptor there is nothing to map: the helper fails, and the engine then
    # runs the rules itself (dslint.offload.Offloaded.result).
    alone = subprocess.run([sys.executable, "-c", child], input=sent, capture_output=True)
    assert alone.returncode != 0


@pytest.mark.skipif(not MEMORY_FILES, reason="memory files (memfd) are Linux-only")
def test_a_column_moves_out_of_a_memory_file_block_by_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow as pa

    from dslint import dataset as dataset_module
    from dslint.dataset import TextColumn

    monkeypatch.setattr(dataset_module, "TAKE_BLOCK", 7)  # many blocks, none aligned
    texts = [f"text {i} " + "é" * (i % 5) for i in range(300)] + [""]
    descriptor = os.memfd_create("test-text")
    try:
        helper_side = TextColumn(file=descriptor)
        helper_side.append(pa.array(texts[:150], pa.large_string()))
        helper_side.append(pa.array(texts[150:], pa.large_string()))
        shared = SharedText.of(helper_side.finish())
        assert shared is not None and shared.descriptor == descriptor
        del helper_side
        parent = TextColumn()
        parent.append(pa.array(["first", "ü"], pa.large_string()))
        parent.take_file(shared)
        parent.append(pa.array(["last"], pa.large_string()))
        assert parent.finish().to_pylist() == ["first", "ü", *texts, "last"]
        assert os.fstat(descriptor).st_size == 0  # the file was emptied as it was copied
    finally:
        os.close(descriptor)


@pytest.mark.skipif(not MEMORY_FILES, reason="memory files (memfd) are Linux-only")
def test_the_helpers_half_of_the_text_comes_back_in_a_memory_file(
    tmp_path: Path, small_shards: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    arrived: list[tuple[Any, int]] = []
    original = shards.Helper.result

    def watched(self: shards.Helper, engine: Any) -> shards.SpanResult:
        result = original(self, engine)
        arrived.append((result.text, len(pickle.dumps(result.text))))
        return result

    monkeypatch.setattr(shards.Helper, "result", watched)
    path = varied_file(tmp_path / "data.jsonl")
    messages = check([path], today=TODAY).datasets[0].messages
    [(text, pickled)] = arrived
    assert isinstance(text, SharedText)
    assert pickled < text.offsets.nbytes + 1000  # offsets only: the text stayed in the file
    # Closed once its text was copied: no descriptor of it is left open here.
    links = [os.readlink(f"/proc/self/fd/{n}") for n in os.listdir("/proc/self/fd")
             if os.path.exists(f"/proc/self/fd/{n}")]  # fmt: skip
    assert not [link for link in links if "dslint-text-half" in link]
    monkeypatch.setenv("DSLINT_WORKERS", "1")
    assert (
        messages["text"].tolist()
        == check([path], today=TODAY).datasets[0].messages["text"].tolist()
    )


@pytest.mark.parametrize("workers", ["2", "1"])
def test_without_dataset_rules_no_frames_are_built_unless_asked(
    tmp_path: Path,
    small_shards: None,
    helper_pids: list[int],
    monkeypatch: pytest.MonkeyPatch,
    workers: str,
) -> None:
    """A schema-only check (the cheap pre-commit hook) builds no frames: the same findings,
    here and in the helper that reads the second half, and the frames only when asked."""
    monkeypatch.setenv("DSLINT_WORKERS", workers)
    path = varied_file(tmp_path / "data.jsonl")
    built: list[int] = []
    real_add = DatasetBuilder.add

    def add(self: Any, record: Any) -> None:
        built.append(os.getpid())
        real_add(self, record)

    monkeypatch.setattr(DatasetBuilder, "add", add)
    lean = check([path], today=TODAY, select=["S"], datasets=False)
    # None here; none in the helper either, whose chunks would be in the frames.
    assert built == [] and len(lean.datasets[0].records) == 0
    assert (len(helper_pids) == 1) == (workers == "2")
    full = check([path], today=TODAY, select=["S"])
    assert len(full.datasets[0].records) == len(path.read_bytes().splitlines())  # a row a line
    assert JsonReporter().render(lean) == JsonReporter().render(full)
    assert {f.code for f in lean.findings} >= {"S001"}
    # A dataset rule chosen: the frames are built whatever the caller asks.
    with_rules = check([path], today=TODAY, select=["S", "D001"], datasets=False)
    assert len(with_rules.datasets[0].records) == len(full.datasets[0].records)


def test_a_spans_helper_imports_the_record_rules_alone() -> None:
    """What a span's helper builds (check_span): record rules, no dataset family, no pandas."""
    probe = (
        "import sys\n"
        "from dslint.config import Config\n"
        "from dslint.engine import Engine\n"
        "from dslint.shards import RECORD_RULES\n"
        "engine = Engine(Config(), kinds=RECORD_RULES)\n"
        "print(len(engine.record_rules), len(engine.file_rules), len(engine.dataset_rules),\n"
        "      'pandas' in sys.modules, 'dslint.rules.duplicates' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    records, files, datasets, pandas, duplicates = done.stdout.split()
    assert int(records) > 10 and int(files) == int(datasets) == 0, done.stderr
    assert pandas == duplicates == "False"
    # The whole engine, for comparison: the test would pass for nothing if it did not.
    full = subprocess.run(
        [sys.executable, "-c", probe.replace("kinds=RECORD_RULES", "")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert full.stdout.split()[2:] != ["0", "False", "False"], full.stderr
