"""--changed-since REF: report only records added or changed since a git revision."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, clean_chat, jsonl, run_notes
from dslint import models, registry, shards
from dslint.cli import cli
from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.loader import Record
from dslint.rule import DatasetRule, RecordRule


class RepeatedReply(DatasetRule):
    """An assistant reply that an earlier example already gave (a small duplicates rule)."""

    code = "X200"
    name = "repeated-reply"
    category = Category.DUPLICATES
    severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        messages = dataset.messages
        replies = messages[messages["role"] == "assistant"]
        seen: set[str] = set()
        for record, text, pointer in zip(
            replies["record"], replies["text"], replies["pointer"], strict=True
        ):
            if text in seen:
                yield Hit("this reply repeats an earlier one", str(pointer), record=int(record))
            seen.add(str(text))


class Counted(RecordRule):
    """Reports nothing; counts the records it was asked to check."""

    code = "X201"
    name = "counted"
    category = Category.QUALITY
    severity = Severity.INFO
    calls: ClassVar[int] = 0

    def check(self, record: Record) -> Iterator[Hit]:
        Counted.calls += 1
        return iter(())


@pytest.fixture
def repeated_reply_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import sys
    import types

    module = types.ModuleType("changed_since_rules")
    module.RULES = [RepeatedReply, Counted]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "changed_since_rules", module)
    plugin = EntryPoint(name="x", value="changed_since_rules:RULES", group="dslint.rules")
    real = registry.entry_points
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [*real(group=group), *([plugin] if group == registry.RULES_GROUP else [])],
    )
    registry.all_rules.cache_clear()
    yield
    registry.all_rules.cache_clear()


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def commit(repo: Path, message: str = "data") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def missing_content(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"Bad question {i}?"}, {"role": "assistant"}]}


def run(*args: str) -> Any:
    result = CliRunner().invoke(
        cli, [*args, "--today", TODAY.isoformat(), "--format", "json"], catch_exceptions=False
    )
    return result.exit_code, json.loads(result.output) if result.exit_code != 2 else result.output


def located(document: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    return [(f["code"], f["line"], f["pointer"]) for f in document["findings"]]


def placed(document: dict[str, Any]) -> list[tuple[str, str, int | None, str]]:
    """The record findings by path, code, line and pointer."""
    return [(f["path"], f["code"], f["line"], f["pointer"]) for f in document["findings"]
            if f["line"] is not None]  # fmt: skip


def test_only_added_or_changed_records_are_reported(repo: Path) -> None:
    examples: list[Any] = clean_chat(60)
    examples[4] = missing_content(1)  # a known problem, unchanged in the PR
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)

    edited = [*examples]
    edited.insert(0, chat("A new first question?", "A new first answer."))  # shifts every line
    edited[20] = missing_content(2)  # a changed record, now bad
    edited.append(missing_content(3))  # an added bad record
    edited[10], edited[30] = edited[30], edited[10]  # reordered clean records
    (repo / "train.jsonl").write_text(jsonl(*edited))

    code, everything = run("check", "train.jsonl")
    assert sorted(located(everything)) == [
        ("S104", 6, "/messages/1"),
        ("S104", 21, "/messages/1"),
        ("S104", 62, "/messages/1"),
    ]
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD")
    assert code == 1
    assert located(document) == [("S104", 21, "/messages/1"), ("S104", 62, "/messages/1")]
    (note,) = run_notes(document["summary"]["notes"])
    assert note.startswith("--changed-since HEAD: 3 lines of 62 added or changed")

    # Against the working tree's own state nothing is new.
    commit(repo, "edit")
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD")
    assert code == 0 and document["findings"] == []
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD~1")
    assert len(document["findings"]) == 2


def test_a_copied_line_is_new_even_though_its_content_existed(repo: Path) -> None:
    examples: list[Any] = clean_chat(60)
    examples[7] = missing_content(1)
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    examples.append(missing_content(1))  # the same bad line once more
    (repo / "train.jsonl").write_text(jsonl(*examples))
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD")
    # The copy is new: its own problem and the fact that it is a copy are reported.
    assert code == 1 and located(document) == [("D001", 61, ""), ("S104", 61, "/messages/1")]


def test_dataset_rules_compare_new_records_with_the_whole_file(
    repo: Path, repeated_reply_plugin: None
) -> None:
    examples: list[Any] = clean_chat(60)
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    # The new record repeats the reply of an old, unchanged record.
    examples.append(chat("A brand new question?", "Answer number 12."))
    (repo / "train.jsonl").write_text(jsonl(*examples))
    Counted.calls = 0
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD", "--no-cache")
    assert Counted.calls == 1  # record rules ran on the new record only
    assert code == 0 and located(document) == [("X200", 61, "/messages/1/content")]


def test_a_finding_on_an_old_line_stays_when_the_example_it_names_is_new(repo: Path) -> None:
    """D001-D006 place a finding on one example and name another (the copy, the other answer,
    the cluster's representative, the training example): a new example inserted above its
    older partner, or added to the training file of an unchanged validation example, puts
    the finding on the old line; it must still be reported, and old pairs must not be."""
    words = " ".join(f"term{i}" for i in range(60))
    old_pair = [chat(f"Old question {words}", f"Old answer {words}"),
                chat(f"Old question {words.replace('term9 ', 'other ')}", f"Old answer {words}")]  # fmt: skip
    examples: list[Any] = [
        chat("What is the capital of France?", "Paris."),
        chat(f"Describe the product {words}", f"It is good {words}"),
        *old_pair,  # a near-duplicate pair before and after: not new
        *clean_chat(40),
    ]
    leaked = chat("A validation question nobody trained on?", "A validation answer.")
    (repo / "train.jsonl").write_text(jsonl(*examples))
    validation = [chat(f"Validation question {i}?", f"Validation answer {i}.") for i in range(3)]
    (repo / "val.jsonl").write_text(jsonl(*validation, leaked))
    commit(repo)
    code, document = run("check", "train.jsonl", "--validation", "val.jsonl")
    assert placed(document) == [("train.jsonl", "D003", 4, "")]

    edited = [
        chat("What is the capital of France?", "Lyon."),  # contradicts line 3
        chat(f"Describe the product {words.replace('term30', 'changed')}", f"It is good {words}"),
        *examples,
        leaked,  # now in training too
    ]
    (repo / "train.jsonl").write_text(jsonl(*edited))
    _, everything = run("check", "train.jsonl", "--validation", "val.jsonl")
    # The new lines 1 and 2 come first: the findings stand on the old lines 3 and 4 ...
    assert sorted(placed(everything)) == [
        ("train.jsonl", "D002", 3, "/messages/1/content"), ("train.jsonl", "D003", 4, ""),
        ("train.jsonl", "D003", 6, ""), ("val.jsonl", "D004", 4, ""),
    ]  # fmt: skip
    for cache in ("--no-cache", "--no-cache", None):  # the second run of None reads the cache
        options = [cache] if cache else []
        code, document = run("check", "train.jsonl", "--validation", "val.jsonl",
                             "--changed-since", "HEAD", *options)  # fmt: skip
        # ... and stay, but not the old pair's (line 6), whose examples are both unchanged.
        assert code == 1
        assert sorted(placed(document)) == [
            ("train.jsonl", "D002", 3, "/messages/1/content"),
            ("train.jsonl", "D003", 4, ""),
            ("val.jsonl", "D004", 4, ""),
        ]  # fmt: skip


def test_a_large_file_is_read_on_two_cores_knowing_its_new_lines(
    repo: Path, small_shards: None, helper_pids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which copy of a repeated line is new follows the file's order; a large file is decided
    before it is read, so that a helper can read its second half (skipping the record rules
    of its unchanged lines too): the report is the one a single process gives."""
    helpers = helper_pids
    examples: list[Any] = clean_chat(700)  # the first half holds a whole format sample
    examples[5] = missing_content(1)  # an old problem, in the first half
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    edited = [*examples]
    edited[500] = missing_content(2)  # changed, in the second half
    edited.insert(550, examples[10])  # a copy of an old clean line: new, in the second half
    edited.append(examples[5])  # a copy of the old problem, at the end
    edited.insert(3, chat("A new question near the top?", "A new answer."))  # shifts the rest
    (repo / "train.jsonl").write_text(jsonl(*edited))
    assert (repo / "train.jsonl").stat().st_size > 2 * shards.MIN_BYTES
    _, two = run("check", "train.jsonl", "--changed-since", "HEAD", "--no-cache")
    assert helpers and os.getpid() not in helpers  # a helper read the second half
    monkeypatch.setenv("DSLINT_WORKERS", "1")
    helpers.clear()
    _, one = run("check", "train.jsonl", "--changed-since", "HEAD", "--no-cache")
    assert not helpers
    assert two == one
    changed, copy, last = 501 + 1, 551 + 1, len(edited)
    assert sorted(located(one)) == [
        ("D001", copy, ""), ("D001", last, ""),
        ("S104", changed, "/messages/1"), ("S104", last, "/messages/1"),
    ]  # fmt: skip
    (note,) = [n for n in run_notes(one["summary"]["notes"]) if n.startswith("--changed")]
    assert note.startswith(f"--changed-since HEAD: 4 lines of {len(edited)} added or changed")


def test_a_validation_file_checked_alone_counts_its_own_lines(repo: Path) -> None:
    """Its training file is read as context (api.training_inputs): a leak of one of its
    examples is new, and the note counts the lines of the file the report is about."""
    train = clean_chat(60)
    (repo / "train.jsonl").write_text(jsonl(*train))
    held = [chat(f"Held-out question {i}?", f"Held-out answer {i}.") for i in range(11)]
    (repo / "val.jsonl").write_text(jsonl(*held))
    (repo / "dslint.toml").write_text('validation = { "train.jsonl" = "val.jsonl" }\n')
    commit(repo)
    (repo / "val.jsonl").write_text(jsonl(*held, train[7]))
    code, document = run("check", "val.jsonl", "--changed-since", "HEAD")
    assert code == 1 and placed(document) == [("val.jsonl", "D004", 12, "")]
    notes = run_notes(document["summary"]["notes"])
    assert any(n.startswith("--changed-since HEAD: 1 line of 12 added or changed") for n in notes)


def test_with_a_baseline_the_unchecked_lines_are_not_called_fixed(repo: Path) -> None:
    """README's pull-request command: --baseline with --changed-since. The record rules skip
    the unchanged lines, so their accepted findings are missing, not fixed."""
    examples: list[Any] = clean_chat(60)
    examples[3], examples[10] = missing_content(1), missing_content(2)
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    recorded = CliRunner().invoke(cli, ["baseline", "train.jsonl", "-o", "base.json",
                                        "--today", TODAY.isoformat()])  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    (repo / "train.jsonl").write_text(jsonl(*examples, missing_content(3)))
    code, document = run("check", "train.jsonl", "--baseline", "base.json",
                         "--changed-since", "HEAD")  # fmt: skip
    assert code == 1 and located(document) == [("S104", 61, "/messages/1")]
    (note,) = [n for n in document["summary"]["notes"] if n.startswith("baseline")]
    assert note.endswith("; fixed findings are not counted when only changed lines are checked")
    assert "dslint baseline" not in note
    # Without --changed-since every line is checked, and nothing was fixed.
    code, document = run("check", "train.jsonl", "--baseline", "base.json")
    (note,) = [n for n in document["summary"]["notes"] if n.startswith("baseline")]
    assert note.endswith("0 baseline findings fixed since it was recorded")


def test_file_level_findings_stay_only_where_a_line_changed(repo: Path) -> None:
    """A file's own findings are new only if its lines are: a pull request that does not touch
    a legacy file must not fail on it (S013, fewer than 10 examples, is an error)."""
    (repo / "tiny.jsonl").write_text(jsonl(*clean_chat(8)))
    (repo / "small.jsonl").write_text(jsonl(*clean_chat(12)))
    commit(repo)
    (repo / "other.jsonl").write_text(jsonl(*clean_chat(60)))  # the pull request's new file
    code, document = run("check", "tiny.jsonl", "small.jsonl", "other.jsonl",
                         "--changed-since", "HEAD")  # fmt: skip
    assert code == 0 and document["findings"] == []
    (note,) = [n for n in document["summary"]["notes"] if n.startswith("--changed-since")]
    assert note.endswith(", and 2 file-level findings of files with the same lines as at HEAD "
                         "not shown")  # fmt: skip
    # Reordered lines are the same lines; a removed line, an added one or a new file are not.
    (repo / "small.jsonl").write_text(jsonl(*reversed(clean_chat(12))))
    assert run("check", "small.jsonl", "--changed-since", "HEAD")[1]["findings"] == []
    for changed in (clean_chat(12)[1:], [*clean_chat(12), *clean_chat(13)[12:]]):
        (repo / "small.jsonl").write_text(jsonl(*changed))
        code, document = run("check", "small.jsonl", "--changed-since", "HEAD")
        assert [(f["code"], f["line"]) for f in document["findings"]] == [("S014", None)]
    (repo / "fresh.jsonl").write_text(jsonl(*clean_chat(8)))
    code, document = run("check", "fresh.jsonl", "--changed-since", "HEAD")
    assert code == 1 and [f["code"] for f in document["findings"]] == ["S013"]


def test_files_absent_at_the_revision_are_all_new_and_gzip_is_read(repo: Path) -> None:
    (repo / "old.jsonl").write_text(jsonl(*clean_chat(60)))
    commit(repo)
    examples: list[Any] = clean_chat(60)
    examples[2] = missing_content(1)
    (repo / "new.jsonl").write_text(jsonl(*examples))  # not in HEAD: every record is new
    packed = clean_chat(60)
    packed[5] = missing_content(2)
    (repo / "packed.jsonl.gz").write_bytes(gzip.compress(jsonl(*packed).encode()))
    commit(repo, "more")
    packed.insert(0, missing_content(3))
    (repo / "packed.jsonl.gz").write_bytes(gzip.compress(jsonl(*packed).encode()))
    code, document = run(
        "check", "new.jsonl", "packed.jsonl.gz", "old.jsonl", "--changed-since", "HEAD~1"
    )
    # (S016, file level, says the API takes no .gz; the file changed, so it stays.)
    assert sorted(located(document)) == [
        ("S016", None, ""),
        ("S104", 1, "/messages/1"),  # packed.jsonl.gz: added since HEAD~1 as a whole
        ("S104", 3, "/messages/1"),  # new.jsonl
        ("S104", 7, "/messages/1"),  # packed.jsonl.gz
    ]
    code, document = run("check", "packed.jsonl.gz", "--changed-since", "HEAD")
    assert code == 1
    assert located(document) == [("S016", None, ""), ("S104", 1, "/messages/1")]


def test_a_renamed_file_is_compared_with_its_former_path(repo: Path) -> None:
    """A pull request that moves a dataset (and edits it) must not make every old finding
    new: git's rename detection gives the file's path at REF."""
    examples: list[Any] = clean_chat(60)
    examples[4] = missing_content(1)  # an old problem
    (repo / "data").mkdir()
    (repo / "data" / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    (repo / "sets").mkdir()
    git(repo, "mv", "data/train.jsonl", "sets/v2.jsonl")  # staged, as a commit would have it
    examples.insert(10, missing_content(2))  # and a new one
    (repo / "sets" / "v2.jsonl").write_text(jsonl(*examples))
    code, document = run("check", "sets/v2.jsonl", "--changed-since", "HEAD")
    assert code == 1 and located(document) == [("S104", 11, "/messages/1")]
    notes = run_notes(document["summary"]["notes"])
    assert notes[0].startswith("--changed-since HEAD: 1 line of 61 added or changed")
    assert notes[1] == (
        "--changed-since HEAD: sets/v2.jsonl is compared with data/train.jsonl, its name at HEAD"
    )
    commit(repo, "moved")
    code, document = run("check", "sets/v2.jsonl", "--changed-since", "HEAD~1")
    assert located(document) == [("S104", 11, "/messages/1")]
    # A copy is not a rename: the original is still there, and every line of the copy is new.
    (repo / "copy.jsonl").write_text(jsonl(*examples))
    commit(repo, "copied")
    code, document = run("check", "copy.jsonl", "--changed-since", "HEAD~1")
    assert sorted(located(document)) == [("S104", 5, "/messages/1"), ("S104", 11, "/messages/1")]


def test_bad_revisions_and_no_repository_are_one_line_errors(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "train.jsonl").write_text(jsonl(*clean_chat(60)))
    commit(repo)
    for ref in ("no-such-branch", "--output=x"):
        code, output = run("check", "train.jsonl", f"--changed-since={ref}")
        assert code == 2 and output.startswith("dslint: error: --changed-since:")
        assert len(output.strip().splitlines()) == 1
    outside = tmp_path_factory.mktemp("no-repo")
    (outside / "train.jsonl").write_text(jsonl(*clean_chat(60)))
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(outside.parent))
    code, output = run("check", "train.jsonl", "--changed-since", "HEAD")
    assert code == 2 and "not inside a git repository" in output


def test_lines_a_rerun_knows_clean_are_still_asked_whether_they_are_new(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-run reads the lines its cache knows clean without their record rules (dslint.lean);
    --changed-since must still see each of them, in order: a PR that copies a clean line
    adds a duplicate whose finding is on the new copy."""
    from dslint import lean

    monkeypatch.setattr(lean, "MIN_BYTES", 0)  # the lane for this small file too
    monkeypatch.setattr(lean, "BLOCK_BYTES", 4000)  # and many blocks
    read_spans: list[int] = []
    read_span = lean.read_span
    monkeypatch.setattr(lean, "read_span", lambda *a: read_spans.append(1) or read_span(*a))
    examples: list[Any] = clean_chat(300)
    examples[7] = missing_content(1)
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    run("check", "train.jsonl")  # the cache now knows every clean line
    examples.insert(100, examples[12])  # a copy of a clean line, in the middle
    examples.append(examples[200])  # and one at the end
    examples.append(missing_content(2))
    (repo / "train.jsonl").write_text(jsonl(*examples))
    expected = run("check", "train.jsonl", "--changed-since", "HEAD", "--no-cache")
    assert not read_spans
    assert run("check", "train.jsonl", "--changed-since", "HEAD") == expected
    assert read_spans  # through the lane
    code, document = expected
    assert code == 1  # the S104 error
    assert located(document) == [("D001", 101, ""), ("D001", 302, ""), ("S104", 303, "/messages/1")]
    (note,) = run_notes(document["summary"]["notes"])
    assert note.startswith("--changed-since HEAD: 3 lines of 303 added or changed")


def test_files_with_a_smudge_filter_are_compared_as_checked_out(repo: Path) -> None:
    """Git LFS stores a pointer and its smudge filter writes the content: the lines at REF are
    read through the filters. Here a stand-in filter stores each file reversed."""
    reverse = f'"{sys.executable}" -c "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1])"'
    git(repo, "config", "filter.reversed.clean", reverse)
    git(repo, "config", "filter.reversed.smudge", reverse)
    (repo / ".gitattributes").write_text("*.jsonl filter=reversed\n")
    examples: list[Any] = clean_chat(60)
    examples[4] = missing_content(1)
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    assert git(repo, "cat-file", "blob", "HEAD:train.jsonl").startswith("\n}]")  # stored reversed
    examples.append(missing_content(2))
    (repo / "train.jsonl").write_text(jsonl(*examples))
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD")
    assert code == 1 and located(document) == [("S104", 61, "/messages/1")]


def test_a_git_lfs_pointer_at_the_revision_is_a_one_line_error(repo: Path) -> None:
    """Without git-lfs, the file at REF is its pointer: every line would count as new."""
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{'0' * 64}\nsize 12345\n"
    (repo / "train.jsonl").write_text(pointer)
    commit(repo)
    (repo / "train.jsonl").write_text(jsonl(*clean_chat(60)))
    code, output = run("check", "train.jsonl", "--changed-since", "HEAD")
    assert code == 2
    (line,) = output.strip().splitlines()
    assert line == (
        "dslint: error: --changed-since: train.jsonl is in Git LFS and its content at HEAD is "
        "not here (git gave its pointer): install git-lfs and fetch it (git lfs fetch origin HEAD)"
    )


def test_a_file_read_twice_for_its_late_images_is_compared_once(
    repo: Path, repeated_reply_plugin: None
) -> None:
    """Images after the format sample make dslint read the file again with a vision model
    when a plugin's record rule ran (dslint.engine): each line must be compared with REF
    once all the same."""
    picture = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    image = {"messages": [{"role": "user", "content": [{"type": "text", "text": "What?"}, picture]},
                          {"role": "assistant", "content": "A cat."}]}  # fmt: skip
    examples: list[Any] = [*clean_chat(300), image]
    (repo / "train.jsonl").write_text(jsonl(*examples))
    commit(repo)
    examples.append(missing_content(1))
    (repo / "train.jsonl").write_text(jsonl(*examples))
    Counted.calls = 0
    code, document = run("check", "train.jsonl", "--changed-since", "HEAD", "--no-cache")
    assert Counted.calls == 2  # the new record, in each of the two readings
    vision = models.resolve(models.default_for("chat", has_images=True), {}).name
    assert document["summary"]["inputs"][0]["model"] == vision  # read again for it
    assert code == 1 and located(document) == [("S104", 302, "/messages/1")]
    (note,) = run_notes(document["summary"]["notes"])
    assert note.startswith("--changed-since HEAD: 1 line of 302 added or changed")
