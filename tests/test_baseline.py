"""Baselines: accept today's findings, fail only on new ones, survive moved lines."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, clean_chat, jsonl, located, run_notes
from dslint.api import check
from dslint.baseline import Baseline, compare
from dslint.cli import cli


def missing_content(i: int) -> dict[str, Any]:
    """A bad example (S104: the assistant message has no content), distinct per i."""
    return {"messages": [{"role": "user", "content": f"Bad question {i}?"}, {"role": "assistant"}]}


SECRET_LIKE = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"


def whitespace_user(i: int) -> dict[str, Any]:
    """A bad example (Q001: whitespace-only user content) that also carries a secret-like text."""
    return {
        "messages": [
            {"role": "system", "content": f"Key {SECRET_LIKE} number {i}"},
            {"role": "user", "content": "   "},
            {"role": "assistant", "content": "Hello"},
        ]
    }


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            cli, [*args, "--today", TODAY.isoformat()], catch_exceptions=False
        )

    return invoke


def write(path: Path, examples: list[Any]) -> None:
    path.write_text(jsonl(*examples), encoding="utf-8")


def base_examples() -> list[Any]:
    examples: list[Any] = clean_chat(50)
    examples[3] = missing_content(1)
    examples[10] = missing_content(2)
    examples[20] = whitespace_user(1)
    return examples


def findings_of(output: str) -> list[tuple[str, int | None, str]]:
    document = json.loads(output)
    return [(f["code"], f["line"], f["pointer"]) for f in document["findings"]]


def test_baseline_accepts_todays_findings(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "train.jsonl", base_examples())
    assert run("check", "train.jsonl").exit_code == 1
    written = run("baseline", "train.jsonl")
    assert written.exit_code == 0
    assert (tmp_path / ".dslint-baseline.json").is_file()
    result = run("check", "train.jsonl", "--baseline", ".dslint-baseline.json", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["findings"] == []
    (note,) = run_notes(document["summary"]["notes"])
    assert "4 known findings not shown" in note and "0 baseline findings fixed" in note


def test_only_new_findings_fail_after_inserts_deletes_and_reorders(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    examples = base_examples()
    write(tmp_path / "train.jsonl", examples)
    run("baseline", "train.jsonl", "-o", "base.json")

    # Insert clean lines above the known problems, delete a clean line, move a known bad
    # line to the end, and add one new bad line in the middle.
    edited = [*clean_chat(53)[50:], *examples]
    del edited[5]
    edited.append(edited.pop(3 + 3 - 1))  # missing_content(1), now last
    edited.insert(30, missing_content(3))
    write(tmp_path / "train.jsonl", edited)

    result = run("check", "train.jsonl", "--baseline", "base.json", "--format", "json")
    assert result.exit_code == 1
    assert findings_of(result.output) == [("S104", 31, "/messages/1")]
    assert (
        "0 baseline findings fixed" in run_notes(json.loads(result.output)["summary"]["notes"])[0]
    )
    # Without the baseline every problem is still there, at its new line.
    plain = findings_of(run("check", "train.jsonl", "--format", "json").output)
    assert ("S104", len(edited), "/messages/1") in plain
    assert len([f for f in plain if f[0] in ("S104", "Q001")]) == 4


def test_fixed_findings_are_counted(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    examples = base_examples()
    write(tmp_path / "train.jsonl", examples)
    run("baseline", "train.jsonl")
    examples[10] = clean_chat(60)[55]  # fix one known problem
    examples[20] = clean_chat(60)[56]  # and another (with the key that P101 reported)
    write(tmp_path / "train.jsonl", examples)
    result = run("check", "train.jsonl", "--baseline", ".dslint-baseline.json", "--format", "json")
    assert result.exit_code == 0
    (note,) = run_notes(json.loads(result.output)["summary"]["notes"])
    assert "1 known finding not shown" in note and "3 baseline findings fixed" in note
    text = run("check", "train.jsonl", "--baseline", ".dslint-baseline.json")
    assert "note: baseline .dslint-baseline.json: 1 known finding not shown" in text.output


def test_files_left_out_of_a_check_fixed_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # pre-commit passes only the files a commit touches: the baseline's other files were not
    # checked, and their findings are neither shown nor fixed.
    write(tmp_path / "a.jsonl", base_examples())
    write(tmp_path / "b.jsonl", varied_examples())
    run("baseline", "a.jsonl", "b.jsonl", "-o", "base.json")
    recorded_b = sum(n for e, n in Baseline.load(tmp_path / "base.json").entries.items()
                     if e.path == "b.jsonl")  # fmt: skip
    assert recorded_b >= 8

    def note_of(*paths: str) -> str:
        result = run("check", *paths, "--baseline", "base.json", "--format", "json")
        assert result.exit_code == 0, result.output
        return next(n for n in json.loads(result.output)["summary"]["notes"] if "base.json" in n)

    assert note_of("a.jsonl").endswith("0 baseline findings fixed since it was recorded")
    assert "0 baseline findings fixed" in note_of("a.jsonl", "b.jsonl")
    write(tmp_path / "b.jsonl", clean_chat(60))  # b's problems fixed
    assert f"; {recorded_b} baseline findings fixed" in note_of("a.jsonl", "b.jsonl")
    assert note_of("a.jsonl").endswith("0 baseline findings fixed since it was recorded")
    (tmp_path / "b.jsonl").unlink()  # a file that is gone: its findings are gone with it
    assert f"; {recorded_b} baseline findings fixed" in note_of("a.jsonl")


def test_a_baseline_of_some_files_keeps_the_others_entries(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "a.jsonl", base_examples())
    write(tmp_path / "b.jsonl", varied_examples())
    run("baseline", "a.jsonl", "b.jsonl", "-o", "base.json")
    recorded = Baseline.load(tmp_path / "base.json")
    of_b = {e: n for e, n in recorded.entries.items() if e.path == "b.jsonl"}
    # a.jsonl gets one more accepted problem; b.jsonl is not given, and keeps its entries.
    write(tmp_path / "a.jsonl", [*base_examples(), missing_content(8)])
    again = run("baseline", "a.jsonl", "-o", "base.json")
    assert again.exit_code == 0
    assert again.output == (
        f"Wrote base.json: {recorded.total + 1} findings in 2 files (1 file checked now; the "
        "entries of b.jsonl, not checked, kept).\n"
    )
    updated = Baseline.load(tmp_path / "base.json")
    assert {e: n for e, n in updated.entries.items() if e.path == "b.jsonl"} == of_b
    both = run("check", "a.jsonl", "b.jsonl", "--baseline", "base.json", "--format", "json")
    assert both.exit_code == 0 and new_findings(both) == []
    # Run from a subfolder, the recorded paths are still found (from the baseline's folder),
    # and the new ones are relative to it: in a repository, a note says to run from the root.
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert (
        "not the repository root" not in run("baseline", "../a.jsonl", "-o", "../base.json").output
    )
    (tmp_path / ".git").mkdir()
    sub = run("baseline", "../a.jsonl", "-o", "../base.json")
    assert sub.exit_code == 0 and sub.output.endswith(
        f"not the repository root {tmp_path.resolve()}; pre-commit and CI check from the "
        "root, so run 'dslint baseline' there\n"
    )
    assert {e: n for e, n in Baseline.load(tmp_path / "base.json").entries.items()
            if e.path == "b.jsonl"} == of_b  # fmt: skip
    monkeypatch.chdir(tmp_path)
    # A file that is gone is not kept.
    (tmp_path / "b.jsonl").unlink()
    assert run("baseline", "a.jsonl", "-o", "base.json").exit_code == 0
    assert {e.path for e in Baseline.load(tmp_path / "base.json").entries} == {"a.jsonl"}


def test_baseline_never_overwrites_a_file_that_is_not_a_baseline(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "train.jsonl", base_examples())
    data = (tmp_path / "train.jsonl").read_bytes()
    mistaken = run("baseline", "train.jsonl", "-o", "train.jsonl")  # -o naming the dataset
    assert mistaken.exit_code == 2
    assert mistaken.output == (
        "dslint: error: train.jsonl exists and is not a dslint baseline; remove it or choose "
        "another -o\n"
    )
    assert (tmp_path / "train.jsonl").read_bytes() == data
    # A baseline of another format version is dslint's own: it is replaced, and said so.
    (tmp_path / "old.json").write_text('{"tool": {"name": "dslint"}, "version": 0, "findings": []}')
    replaced = run("baseline", "train.jsonl", "-o", "old.json")
    assert replaced.exit_code == 0 and "format version 0 is not supported" in replaced.output
    assert Baseline.load(tmp_path / "old.json").total == 4


def test_the_same_fingerprint_twice_is_a_multiset(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    examples: list[Any] = clean_chat(50)
    examples[5] = examples[8] = missing_content(7)  # the same bad line twice
    write(tmp_path / "train.jsonl", examples)
    run("baseline", "train.jsonl")
    document = json.loads((tmp_path / ".dslint-baseline.json").read_text())
    (entry,) = [e for e in document["findings"] if e["code"] == "S104"]
    assert entry["count"] == 2

    examples.insert(0, missing_content(7))  # a third copy is new
    write(tmp_path / "train.jsonl", examples)
    result = run("check", "train.jsonl", "--baseline", ".dslint-baseline.json", "--format", "json")
    assert result.exit_code == 1
    # Which copy counts as new is not meaningful; that exactly one is reported is.
    # (the new copy is also an exact duplicate, D001: new as well)
    assert [code for code, _, _ in findings_of(result.output)] == ["D001", "S104"]

    del examples[0]
    del examples[5]  # now only one copy is left: one accepted S104 is fixed, and so is the
    write(tmp_path / "train.jsonl", examples)  # D001 that said the second copy was a copy
    result = run("check", "train.jsonl", "--baseline", ".dslint-baseline.json", "--format", "json")
    assert result.exit_code == 0
    assert (
        "2 baseline findings fixed" in run_notes(json.loads(result.output)["summary"]["notes"])[0]
    )


def test_the_baseline_holds_no_message_and_no_data(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "train.jsonl", base_examples())
    run("baseline", "train.jsonl")
    text = (tmp_path / ".dslint-baseline.json").read_text()
    assert SECRET_LIKE not in text and "Bad question" not in text
    document = json.loads(text)
    assert set(document) == {"tool", "version", "summary", "findings"}
    assert {key for entry in document["findings"] for key in entry} == {
        "fingerprint",
        "code",
        "path",
        "count",
        "pathless",
    }
    assert document["summary"]["findings"] == 4  # S104 twice, Q001, and P101 for the key


def test_a_bad_baseline_is_a_one_line_error(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "train.jsonl", base_examples())
    for content in ("not json", '{"findings": 3}', '{"version": 1, "findings": [{"code": 1}]}',
                    '{"version": 99, "findings": []}'):  # fmt: skip
        (tmp_path / "b.json").write_text(content)
        result = run("check", "train.jsonl", "--baseline", "b.json")
        assert result.exit_code == 2, content
        assert result.output.startswith("dslint: error: baseline b.json:")
        assert len(result.output.strip().splitlines()) == 1
    missing = run("check", "train.jsonl", "--baseline", "absent.json")
    assert missing.exit_code == 2 and "absent.json" in missing.output


def test_the_api_filters_and_the_cli_only_prints(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    write(path, base_examples())
    everything = check([path], today=TODAY)
    Baseline.from_findings(everything.findings[:1]).write(tmp_path / "b.json")
    rest = check([path], today=TODAY, baseline=tmp_path / "b.json")
    assert located(rest.findings) == located(everything.findings[1:])
    assert rest.exit_code() == 1
    # A baseline file round-trips to the same multiset.
    loaded = Baseline.load(tmp_path / "b.json")
    assert loaded == Baseline.from_findings(everything.findings[:1])
    outcome = compare(everything.findings, loaded)
    assert (outcome.suppressed, outcome.fixed, len(outcome.new)) == (1, 0, 3)


def new_findings(result: Any) -> list[tuple[str, str, int | None, str]]:
    return [(f["path"], f["code"], f["line"], f["pointer"])
            for f in json.loads(result.output)["findings"]]  # fmt: skip


def test_a_renamed_or_moved_file_keeps_its_baseline(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir()
    examples = varied_examples()
    write(tmp_path / "data" / "train.jsonl", examples)
    assert run("baseline", "data/train.jsonl", "-o", "base.json").exit_code == 0
    recorded = Baseline.load(tmp_path / "base.json").total
    assert recorded >= 8

    # The pull request moves the file into a new folder and adds one bad line to it.
    (tmp_path / "data" / "v2").mkdir()
    (tmp_path / "data" / "train.jsonl").rename(tmp_path / "data" / "v2" / "train.jsonl")
    write(tmp_path / "data" / "v2" / "train.jsonl", [*examples, missing_content(9)])
    moved = "data/v2/train.jsonl"
    for attempt in ("cold", "reused"):  # the second run is the cache's whole-check reuse
        result = run("check", moved, "--baseline", "base.json", "--format", "json")
        assert result.exit_code == 1, attempt
        fresh = new_findings(result)  # the new line's findings (S104, and V010: no prompt)
        assert {(path, line) for path, _, line, _ in fresh} == {(moved, len(examples) + 1)}
        assert ("S104", "/messages/1") in {(code, pointer) for _, code, _, pointer in fresh}
        (note,) = [n for n in json.loads(result.output)["summary"]["notes"] if "base.json" in n]
        assert note == (
            f"baseline base.json: {recorded} known findings not shown ({recorded} of them "
            "recorded in data/train.jsonl, a file that is gone: taken as renamed or moved); "
            "0 baseline findings fixed since it was recorded (run 'dslint baseline' to record "
            "the new paths)"
        )
    # Without following the move, every accepted finding would have been new.
    plain = new_findings(run("check", moved, "--format", "json"))
    assert len(plain) == recorded + len(fresh)


def test_a_check_from_another_folder_finds_the_recorded_files(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # Recorded from the repository's root (as pre-commit and CI run), checked from a
    # subfolder: the same files, named otherwise. Nothing is new, nothing is called moved.
    (tmp_path / ".git").mkdir()
    (tmp_path / "data").mkdir()
    examples = varied_examples()
    write(tmp_path / "data" / "train.jsonl", examples)
    assert run("baseline", "data/train.jsonl", "-o", "base.json").exit_code == 0
    recorded = Baseline.load(tmp_path / "base.json").total
    elsewhere = tmp_path.parent / f"{tmp_path.name}-base.json"  # as CI's /tmp/base.json
    elsewhere.write_bytes((tmp_path / "base.json").read_bytes())
    monkeypatch.chdir(tmp_path / "data")
    for baseline in ("../base.json", str(elsewhere)):
        result = run("check", "train.jsonl", "--baseline", baseline, "--format", "json")
        assert result.exit_code == 0 and new_findings(result) == [], baseline
        (note,) = [n for n in json.loads(result.output)["summary"]["notes"] if baseline in n]
        assert note == (
            f"baseline {baseline}: {recorded} known findings not shown ({recorded} of them "
            "recorded as data/train.jsonl, the same file named from another folder); 0 "
            "baseline findings fixed since it was recorded"
        )
    examples[-1] = clean_chat(70)[65]  # one accepted problem fixed (S104 and V010 go)
    write(tmp_path / "data" / "train.jsonl", examples)
    result = run("check", "train.jsonl", "--baseline", "../base.json", "--format", "json")
    assert "; 2 baseline findings fixed since" in json.loads(result.output)["summary"]["notes"][-1]


def test_a_copy_or_a_known_file_does_not_take_another_files_baseline(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    examples = varied_examples()
    write(tmp_path / "a.jsonl", examples)
    write(tmp_path / "b.jsonl", clean_chat(40))
    run("baseline", "a.jsonl", "b.jsonl", "-o", "base.json")

    # A copy next to its original (still there) is new data: all its findings are new, when
    # it is checked alone (as pre-commit checks the files a commit touches) or with the rest.
    write(tmp_path / "copy.jsonl", examples)
    alone = run("check", "copy.jsonl", "--baseline", "base.json", "--format", "json")
    assert alone.exit_code == 1
    assert new_findings(alone) == new_findings(run("check", "copy.jsonl", "--format", "json"))
    assert "renamed or moved" not in "".join(json.loads(alone.output)["summary"]["notes"])

    # a.jsonl is deleted and its bad lines pasted into b.jsonl: b is a file the baseline
    # knows, not a moved one, so the pasted problems are new in it.
    (tmp_path / "copy.jsonl").unlink()
    (tmp_path / "a.jsonl").unlink()
    write(tmp_path / "b.jsonl", [*clean_chat(40), *examples])
    pasted = run("check", "b.jsonl", "--baseline", "base.json", "--format", "json")
    assert pasted.exit_code == 1
    assert new_findings(pasted) == new_findings(run("check", "b.jsonl", "--format", "json"))


def test_a_moved_files_entries_go_to_the_file_it_became(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # b.jsonl is renamed c.jsonl in the same commit that adds a.jsonl, which has one of b's
    # bad lines: that line is new in a.jsonl, and c.jsonl keeps all of b's entries.
    examples = varied_examples()
    write(tmp_path / "b.jsonl", examples)
    run("baseline", "b.jsonl", "-o", "base.json")
    (tmp_path / "b.jsonl").rename(tmp_path / "c.jsonl")
    write(tmp_path / "a.jsonl", [*clean_chat(50), examples[-1]])  # the S104 line of b
    for order in (("a.jsonl", "c.jsonl"), ("c.jsonl", "a.jsonl")):
        result = run("check", *order, "--baseline", "base.json", "--format", "json")
        assert {f[0] for f in new_findings(result)} == {"a.jsonl"}, order
        assert ("a.jsonl", "S104", 51, "/messages/1") in new_findings(result)
    assert new_findings(result) == new_findings(run("check", "a.jsonl", "--format", "json"))


def test_an_old_baseline_loads_and_does_not_follow_moves(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "train.jsonl", base_examples())
    run("baseline", "train.jsonl", "-o", "base.json")
    document = json.loads((tmp_path / "base.json").read_text())
    for entry in document["findings"]:
        del entry["pathless"]  # as dslint wrote baselines before the key existed
    (tmp_path / "old.json").write_text(json.dumps(document))
    same = run("check", "train.jsonl", "--baseline", "old.json", "--format", "json")
    assert same.exit_code == 0 and new_findings(same) == []
    (tmp_path / "train.jsonl").rename(tmp_path / "renamed.jsonl")
    moved = run("check", "renamed.jsonl", "--baseline", "old.json", "--format", "json")
    assert len(new_findings(moved)) == 4
    followed = run("check", "renamed.jsonl", "--baseline", "base.json", "--format", "json")
    assert followed.exit_code == 0 and new_findings(followed) == []


def test_moved_findings_match_as_a_multiset(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    examples: list[Any] = clean_chat(30)
    examples[4] = missing_content(1)
    write(path, examples)
    recorded = Baseline.from_findings(check([path], today=TODAY).findings)
    examples[9] = missing_content(1)  # a second copy of the accepted bad line
    moved = tmp_path / "moved.jsonl"
    write(moved, examples)
    now = check([moved], today=TODAY).findings
    gone = {str(path)}
    outcome = compare(now, recorded, gone=lambda p: p in gone)
    # S104 once from the baseline; the second S104 and the D001 copy finding are new.
    assert sorted((f.code, f.line) for f in outcome.new) == [("D001", 10), ("S104", 10)]
    # The rest moved: the S104 and the file's own finding (S014: fewer than 50 examples).
    assert sorted(f.code for f in now if f not in outcome.new) == ["S014", "S104"]
    assert (outcome.moved, outcome.moved_from, outcome.fixed) == (2, (str(path),), 0)
    # While the recorded file is still there, nothing moved.
    still = compare(now, recorded)
    assert (len(still.new), still.suppressed, still.fixed) == (len(now), 0, 2)


def varied_examples() -> list[Any]:
    """Examples that many default rules report, the dataset rules' keyed findings included:
    a system prompt variant (V009), a missing prompt (V010), copies and conflicting answers
    (D001, D002), near-duplicates (D003), a secret and an email address (privacy)."""
    system = "You are the Acme support assistant. Answer briefly and kindly, and cite the manual."
    examples: list[Any] = [
        {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"How do I reset device {i} after the update?"},
                {"role": "assistant", "content": f"Hold the power button of device {i} for ten "
                 "seconds, then follow the steps in chapter two of the manual."},
            ]
        }
        for i in range(60)
    ]  # fmt: skip
    examples[5]["messages"][0]["content"] = system.replace("briefly", "very briefly")
    del examples[7]["messages"][0]
    examples[9] = examples[2]
    examples[11]["messages"][1]["content"] = examples[12]["messages"][1]["content"]
    examples[11]["messages"][2]["content"] = "No."
    examples[14]["messages"][2]["content"] = examples[15]["messages"][2]["content"] + " Thanks!"
    examples[14]["messages"][1]["content"] = examples[15]["messages"][1]["content"]
    examples[20]["messages"][2]["content"] += (
        " Mail jane.doe@acme-mail.com or use sk-proj-" + "A1b2C3d4" * 6
    )
    examples.append(missing_content(1))
    return examples


def test_findings_and_fingerprints_do_not_depend_on_the_process(tmp_path: Path) -> None:
    # Python's string hash differs in every process (PYTHONHASHSEED): a fingerprint made from
    # it would make a baselined finding new again on the next run.
    write(tmp_path / "train.jsonl", varied_examples())

    def dslint(seed: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.pop("GITHUB_ACTIONS", None)
        return subprocess.run(
            [sys.executable, "-m", "dslint", *args, "--today", TODAY.isoformat()],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip

    reports = [dslint(seed, "check", "train.jsonl", "--no-cache", "--format", "json")
               for seed in ("1", "2")]  # fmt: skip
    assert [r.returncode for r in reports] == [1, 1]
    assert reports[0].stdout == reports[1].stdout
    found = {f["code"] for f in json.loads(reports[0].stdout)["findings"]}
    assert {"V009", "V010", "D001", "D002", "D003", "S104"} <= found
    assert {"P001", "P101"} <= found

    made = dslint("3", "baseline", "train.jsonl", "-o", ".dslint-baseline.json", "--no-cache")
    assert made.returncode == 0, made.stderr
    later = dslint("4", "check", "train.jsonl", "--baseline", ".dslint-baseline.json",
                   "--no-cache", "--format", "json")  # fmt: skip
    assert later.returncode == 0, later.stdout
    assert json.loads(later.stdout)["findings"] == []


def grouped_examples() -> list[Any]:
    """varied_examples() and more findings placed on one member of a group: a padded system
    prompt that several examples share (Q003, on the first), heavy tool definitions that
    several share (T004, on the first), a prompt with three different answers (D002), and
    groups of three whose findings once depended on which member came first: three mutually
    near-duplicate examples (D003), a prompt with three answers of which two are near-duplicates
    of each other (D002 counted one conflict or two)."""
    examples = varied_examples()
    padded = "You are the Acme billing assistant.\n"
    described = "Look up an invoice by its number and return its lines, totals and due date. "
    tools = [{"type": "function", "function": {
        "name": "lookup_invoice", "description": described * 4,
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}}}}]  # fmt: skip
    for i in range(4):
        examples.append({"messages": [{"role": "system", "content": padded},
                                      {"role": "user", "content": f"Invoice {i}?"},
                                      {"role": "assistant", "content": f"Invoice {i} is paid."}],
                         "tools": tools})  # fmt: skip
    for answer in ("Yes.", "No.", "Only for invoices over 500 euros."):
        examples.append(chat("Can I pay by cheque?", answer))
    words = [f"{name}{i % 7}" for i, name in enumerate(("parcel refund boots tent stove courier "
                                                         "invoice label river lake " * 12).split())]  # fmt: skip
    for edits in ((), (40,), (80,)):
        text = [("edited" if i in edits else word) for i, word in enumerate(words)]
        examples.append(chat("Summarise this note: " + " ".join(text[:60]), " ".join(text[60:])))
    answer = words[:50]
    for reply in (answer, [*answer[:25], "edited", *answer[26:]], words[50:100]):
        examples.append(chat("What does the long contract say?", " ".join(reply)))
    return examples


def test_findings_on_one_member_of_a_group_keep_their_fingerprints_when_lines_move(
    run,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Q003 and T004 are on the first example of those that share a prompt or tools:
    reordered lines put them on other examples, and each must stay the same finding (a
    shuffled dataset is not new problems). D002 and D003 choose their reference example by
    content, so they stay on the same examples."""
    examples = grouped_examples()
    write(tmp_path / "train.jsonl", examples)
    lines = (tmp_path / "train.jsonl").read_text().splitlines()

    def report() -> list[dict[str, Any]]:
        result = run("check", "train.jsonl", "--no-cache", "--format", "json")
        findings: list[dict[str, Any]] = json.loads(result.output)["findings"]
        return findings

    before = report()
    counts = Counter(f["code"] for f in before)
    assert counts["Q003"] and counts["T004"] and counts["D002"] >= 3 and counts["D003"] >= 3
    assert run("baseline", "train.jsonl", "-o", "base.json", "--no-cache").exit_code == 0
    for seed in range(3):
        shuffled = examples[:]
        random.Random(seed).shuffle(shuffled)
        write(tmp_path / "train.jsonl", shuffled)
        after = report()
        assert sorted(f["fingerprint"] for f in after) == sorted(f["fingerprint"] for f in before)
    write(tmp_path / "train.jsonl", examples[::-1])
    after = report()
    assert sorted(f["fingerprint"] for f in after) == sorted(f["fingerprint"] for f in before)

    def carriers(code: str) -> tuple[set[str], set[str]]:
        return ({lines[f["line"] - 1] for f in before if f["code"] == code},
                {lines[len(lines) - f["line"]] for f in after if f["code"] == code})  # fmt: skip

    # Q003 and T004 now stand on other examples (else this proves nothing); D002 and D003
    # on the same ones.
    assert all(len(set(map(frozenset, carriers(code)))) == 2 for code in ("Q003", "T004"))
    assert all(len(set(map(frozenset, carriers(code)))) == 1 for code in ("D002", "D003"))
    result = run("check", "train.jsonl", "--baseline", "base.json", "--no-cache",
                 "--format", "json")  # fmt: skip
    assert result.exit_code == 0 and json.loads(result.output)["findings"] == []
    (note,) = [n for n in json.loads(result.output)["summary"]["notes"] if "baseline" in n]
    assert f"{len(before)} known findings not shown; 0 baseline findings fixed" in note
