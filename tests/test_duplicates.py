"""Duplicate rules (D001-D006), the shares for ``dslint stats`` and the MinHash building blocks."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import CORPUS, TODAY, chat, jsonl, located, needs_corpus
from dslint.api import check
from dslint.cli import cli
from dslint.config import ConfigError
from dslint.rules.duplicates import minhash, shares
from dslint.rules.duplicates.keys import keys

VOCABULARY = """
order parcel refund jacket boots tent stove delivery warehouse courier invoice receipt size
colour strap zipper seam pocket hood sleeve warranty repair store pickup monday friday morning
evening label account email address phone number tracking code window shelf discount voucher
points member trail river mountain lake forest camp night rain
"""
WORDS = VOCABULARY.split()

SYSTEM = (
    "You are the support assistant of a small outdoor shop. Answer warmly and briefly, quote "
    "order numbers back to the customer, never promise refunds you cannot grant and always "
    "offer the next concrete step the customer can take today."
)


def prose(seed: int, words: int = 40) -> str:
    generator = random.Random(seed)
    return " ".join(generator.choice(WORDS) for _ in range(words)) + "."


def edited(text: str, position: int = 3, word: str = "banana") -> str:
    """One word of ``text`` replaced (near the start, so few shingles change)."""
    parts = text.split()
    parts[position] = word
    return " ".join(parts)


def distinct(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [chat(prose(1000 + i), prose(2000 + i), system=SYSTEM) for i in range(start, count)]


def run(tmp_path: Path, train: list[Any], validation: list[Any] | None = None,
        select: tuple[str, ...] = ("D",), **kwargs: Any) -> list[Any]:  # fmt: skip
    (tmp_path / "train.jsonl").write_text(jsonl(*train), encoding="utf-8")
    extra = []
    if validation is not None:
        (tmp_path / "val.jsonl").write_text(jsonl(*validation), encoding="utf-8")
        extra = [tmp_path / "val.jsonl"]
    report = check(
        [tmp_path / "train.jsonl"], validation=extra, select=list(select), today=TODAY, **kwargs
    )
    return list(report.findings)


def at(findings: list[Any], *codes: str) -> list[tuple[str, str, int | None, str]]:
    return [(f.code, Path(f.path).name, f.line, f.pointer) for f in findings
            if not codes or f.code in codes]  # fmt: skip


# -- D001 exact duplicates -----------------------------------------------------------------


def test_exact_duplicates_after_normalising_whitespace_unicode_and_key_order(lint) -> None:  # type: ignore[no-untyped-def]
    original = chat("Où est ma commande ?", "Elle arrive demain.")
    spaced = chat("  Où   est ma commande ?", "Elle arrive\tdemain. ")
    decomposed = chat("Ou\u0300 est ma commande ?", "Elle arrive demain.")
    reordered = {"messages": [{"content": m["content"], "role": m["role"]}
                              for m in original["messages"]]}  # fmt: skip
    unicode_space = chat("Où\u00a0est ma commande\u3000?", "Elle arrive demain.")
    findings = lint(jsonl(original, chat("Other", "Thing"), spaced, decomposed, reordered,
                          unicode_space))  # fmt: skip
    assert located(findings, "D001") == [("D001", n, "") for n in (3, 4, 5, 6)]
    assert all("line 1" in f.message for f in findings if f.code == "D001")


def test_exact_duplicates_pass_when_roles_or_case_differ(lint) -> None:  # type: ignore[no-untyped-def]
    user_then_assistant = chat("Same words", "Same words")
    swapped = {"messages": [{"role": "user", "content": "Same words"},
                            {"role": "assistant", "content": "same words"}]}  # fmt: skip
    findings = lint(jsonl(user_then_assistant, swapped, chat("A", "B", system="Be brief.")))
    assert located(findings, "D001") == []


def test_exact_duplicate_casefold_option(tmp_path: Path) -> None:
    (tmp_path / "dslint.toml").write_text("[tool.dslint.rules.D001]\ncasefold = true\n")
    examples = [chat("Reset my PASSWORD", "Sure."), chat("reset my password", "sure.")]
    assert at(run(tmp_path, examples, select=("D001",))) == [("D001", "train.jsonl", 2, "")]


def test_exact_duplicates_are_per_file_unless_files_are_combined(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(jsonl(chat("Hi", "Hello")))
    (tmp_path / "b.jsonl").write_text(jsonl(chat("Hi", "Hello")))
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    assert located(check(paths, select=["D001"]).findings) == []
    (tmp_path / "dslint.toml").write_text("combine-files = true\n")
    findings = check(paths, select=["D001"]).findings
    assert at(list(findings)) == [("D001", "b.jsonl", 1, "")]
    assert "a.jsonl line 1" in findings[0].message


def test_broken_lines_are_not_duplicates(lint) -> None:  # type: ignore[no-untyped-def]
    findings = lint("{not json\n{not json\n\n\n" + jsonl(chat(), chat()), select=["D"])
    assert located(findings) == [("D001", 6, "")]


# -- D002 same prompt, different answers -------------------------------------------------------


def flagged(findings: list[Any], examples: list[Any], code: str) -> list[str]:
    """The examples a rule's findings stand on, by content (lines say nothing across orders)."""
    return sorted(json.dumps(examples[f.line - 1]) for f in findings if f.code == code)


def test_conflicting_answers_point_at_each_different_answer(lint) -> None:  # type: ignore[no-untyped-def]
    examples = [
        chat("Capital of France?", "Paris.", system="Be brief."),
        chat("Capital of Spain?", "Madrid.", system="Be brief."),
        chat("Capital of  France?", "Lyon.", system="Be brief."),
        chat("Capital of France?", "Paris.", system="Be brief."),
        chat("Capital of France?", "Marseille.", system="Be brief."),
    ]
    findings = lint(jsonl(*examples), select=["D"])
    # Two of the three answers to one prompt (whitespace aside) are flagged, each naming the
    # third, the reference; the copy of line 1 is D001's.
    conflicts = [f for f in findings if f.code == "D002"]
    assert ("D001", 4, "") in located(findings) and len(findings) == 3
    assert len(conflicts) == 2 and {f.pointer for f in conflicts} == {"/messages/2/content"}
    (reference,) = {1, 3, 5} - {f.line for f in conflicts}
    assert all(f"same prompt as line {reference} but" in f.message for f in conflicts)
    assert all("(3 different answers to this prompt)" in f.message for f in conflicts)
    # Which answer is the reference depends on the answers, not on the lines' order.
    for seed in range(4):
        shuffled = examples[:]
        random.Random(seed).shuffle(shuffled)
        again = lint(jsonl(*shuffled), select=["D002"])
        assert flagged(again, shuffled, "D002") == flagged(findings, examples, "D002")


def test_conflicting_answers_legacy_and_pass_cases(lint) -> None:  # type: ignore[no-untyped-def]
    legacy = [{"prompt": "Q: 2+2?", "completion": " 4"}, {"prompt": "Q: 2+2?", "completion": " 5"}]
    (finding,) = lint(jsonl(*legacy), select=["D002"])
    assert (finding.pointer, f"same prompt as line {3 - finding.line} but") == (
        "/completion", finding.message[: len("same prompt as line 1 but")])  # fmt: skip
    (reversed_finding,) = lint(jsonl(*legacy[::-1]), select=["D002"])
    assert reversed_finding.line == 3 - finding.line  # the same answer, on the other line
    # A different system prompt or earlier turn makes it a different prompt.
    different = [
        chat("Capital?", "Paris.", system="France"),
        chat("Capital?", "Rome.", system="Italy"),
    ]
    assert located(lint(jsonl(*different), select=["D002"])) == []


# -- D003 near-duplicates ------------------------------------------------------------------


def test_near_duplicates_form_a_cluster_around_one_representative(lint) -> None:  # type: ignore[no-untyped-def]
    base = chat(prose(1, 60), prose(2, 60), system=SYSTEM)
    copy_one = chat(edited(prose(1, 60)), prose(2, 60), system=SYSTEM)
    copy_two = chat(edited(prose(1, 60), 50, "kiwi"), prose(2, 60), system=SYSTEM)
    seen = set()
    for members in itertools.permutations([base, copy_one, copy_two]):
        examples = [*distinct(3), *members]
        findings = lint(jsonl(*examples), select=["D"])
        # Two of the three mutually similar examples are flagged, each naming the third.
        assert [f.code for f in findings] == ["D003", "D003"]
        (representative,) = {4, 5, 6} - {f.line for f in findings}
        assert all(f"near-duplicate of line {representative} (" in f.message and
                   "cluster of 3 examples" in f.message for f in findings)  # fmt: skip
        # The same two whatever the order: a shuffle moves no finding to another example.
        seen.add(tuple(flagged(findings, examples, "D003")))
    assert len(seen) == 1


def test_shards_of_one_dataset_report_what_one_file_reports(tmp_path: Path) -> None:
    """A later exact copy is D001's finding, in the same file or in another shard of a
    combined dataset: it does not also join its original's near-duplicate cluster."""
    base = chat(prose(1, 60), prose(2, 60), system=SYSTEM)
    near = chat(edited(prose(1, 60)), prose(2, 60), system=SYSTEM)
    first, second = [*distinct(3), base, near], [*distinct(6, 3), near]
    (tmp_path / "a.jsonl").write_text(jsonl(*first))
    (tmp_path / "b.jsonl").write_text(jsonl(*second))
    (tmp_path / "all.jsonl").write_text(jsonl(*first, *second))
    one = check([tmp_path / "all.jsonl"], select=["D"], today=TODAY).findings
    shards = check([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], select=["D"], today=TODAY,
                   combine_files=True).findings  # fmt: skip
    # The near pair is lines 4 and 5 of both all.jsonl and a.jsonl; its later exact copy is
    # D001's alone.
    line = one[0].line
    assert line in (4, 5)
    assert at(list(one)) == [("D003", "all.jsonl", line, ""), ("D001", "all.jsonl", 9, "")]
    assert at(list(shards)) == [("D003", "a.jsonl", line, ""), ("D001", "b.jsonl", 4, "")]
    assert one[0].message == shards[0].message  # "... cluster of 2 examples ..."


def test_near_duplicates_leave_out_a_shared_system_prompt(lint) -> None:  # type: ignore[no-untyped-def]
    # Short distinct turns under a long shared system prompt are not alike...
    short = [chat(f"Where is order {i}?", f"It ships on day {i}.", system=SYSTEM) for i in range(6)]
    assert located(lint(jsonl(*short), select=["D003"])) == []
    # ...but a system prompt of a single example is part of what it says.
    own = [chat("Hi", "Hello", system=prose(7, 60)),
           chat("Hi", "Hello", system=edited(prose(7, 60), 30, "kiwi"))]  # fmt: skip
    assert located(lint(jsonl(*own), select=["D003"])) == [("D003", 2, "")]


def test_near_duplicates_do_not_chain(lint) -> None:  # type: ignore[no-untyped-def]
    first = prose(3, 150)
    second = edited(edited(first, 30, "kiwi"), 90, "plum")
    third = edited(edited(second, 60, "pear"), 120, "fig")
    examples = [chat(first, "Yes."), chat(second, "Yes."), chat(third, "Yes.")]
    sets = [_shingles(e) for e in examples]
    assert minhash.jaccard(sets[0], sets[1]) >= 0.8 and minhash.jaccard(sets[1], sets[2]) >= 0.8
    assert minhash.jaccard(sets[0], sets[2]) < 0.8
    seen = set()
    for order in itertools.permutations(range(3)):
        findings = lint(jsonl(*(examples[i] for i in order)), select=["D003"])
        # Each member resembles the example its finding names itself: the first and third
        # (similar only through the second) are never a cluster's representative and member.
        pairs = set()
        for finding in findings:
            named = int(finding.message.split("near-duplicate of line ")[1].split()[0])
            pair = order[finding.line - 1], order[named - 1]
            assert minhash.jaccard(sets[pair[0]], sets[pair[1]]) >= 0.8
            pairs.add(frozenset(pair))
        assert findings and frozenset({0, 2}) not in pairs
        seen.add(frozenset(pairs))
    assert len(seen) == 1  # the same clusters whatever the order


def test_near_pairs_hold_the_exact_jaccard_of_each_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.duplicates import similar

    # Groups of near-copies spread over the file, so that with chunks of 3 examples a pair's
    # sets are made in different chunks and dropped after their last pair.
    originals = [prose(40 + i, 80) for i in range(4)]
    examples = [chat(text, "Noted.") for text in originals]
    examples += [chat(edited(text, 10 + i, "kiwi"), "Noted.") for i, text in enumerate(originals)]
    examples += distinct(3)
    examples += [chat(edited(text, 60, "plum"), "Noted.") for text in originals]
    path = tmp_path / "train.jsonl"
    path.write_text(jsonl(*examples), encoding="utf-8")
    expected = [_shingles(example) for example in examples]
    results = []
    for chunk in (3, similar.CHUNK_RECORDS):
        monkeypatch.setattr(similar, "CHUNK_RECORDS", chunk)
        dataset = check([path], select=["S001"], today=TODAY).datasets[0]
        pairs = similar.near_pairs(dataset, similar.NearParameters())
        found = list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
        # Each original with its two copies (the copies differ from each other by two edits,
        # similarity 0.77 over 80 words).
        assert sorted(found) == sorted(
            [(i, 4 + i) for i in range(4)] + [(i, 11 + i) for i in range(4)]
        )
        for (left, right), score in zip(found, pairs.similarity.tolist(), strict=True):
            assert score == minhash.jaccard(expected[left], expected[right]) >= 0.8
        results.append(found)
    assert results[0] == results[1]


def test_clusters_make_again_the_sets_a_chain_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.rules.duplicates import near, similar

    first = prose(3, 150)
    second = edited(first, 30, "kiwi")
    third = edited(second, 90, "plum")
    examples = [chat(first, "Yes."), chat(second, "Yes."), chat(third, "Yes.")]
    path = tmp_path / "train.jsonl"
    path.write_text(jsonl(*examples), encoding="utf-8")
    dataset = check([path], select=["S001"], today=TODAY).datasets[0]
    sets = [_shingles(e) for e in examples]
    # The three are alike two by two; the clusters take them in the order of their keys.
    first, middle, last = np.argsort(keys(dataset).exact).tolist()
    missed = (min(first, last), max(first, last))

    def without_first_and_last(data: Any, parameters: Any) -> similar.NearPairs:
        # As if LSH had missed the pair (first, last): the last example joins the first's
        # cluster through the middle one, compared with the first on sets made again.
        pairs = similar.near_pairs(data, parameters)
        assert len(pairs.left) == 3
        kept = ~((pairs.left == missed[0]) & (pairs.right == missed[1]))
        return similar.NearPairs(
            pairs.parameters, pairs.left[kept], pairs.right[kept], pairs.similarity[kept],
            pairs.kept_rows,
        )  # fmt: skip

    monkeypatch.setattr(near, "near_pairs", without_first_and_last)
    clusters = near.near_clusters(dataset, near.NearOptions())
    assert clusters["record"].tolist() == sorted([middle, last])
    assert clusters["representative"].tolist() == [first, first]
    similarity = dict(
        zip(clusters["record"].tolist(), clusters["similarity"].tolist(), strict=True)
    )
    assert similarity[last] == minhash.jaccard(sets[first], sets[last]) >= 0.8


def test_keys_do_not_depend_on_the_row_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys are made CHUNK_ROWS message rows at a time; an example whose rows straddle
    two chunks must get the keys it gets in one."""
    from conftest import FIXTURES
    from dslint.rules.duplicates import keys as keys_module

    paths = sorted((FIXTURES / "good").glob("*.jsonl")) + [
        FIXTURES / "bad" / name for name in ("chat-schema.jsonl", "legacy.jsonl")
    ]
    for path in paths:
        made = []
        for rows in (keys_module.CHUNK_ROWS, 3, 1):
            monkeypatch.setattr(keys_module, "CHUNK_ROWS", rows)
            dataset = check([path], select=["S001"], today=TODAY).datasets[0]
            made.append(keys_module.keys(dataset))
        assert len(made[0].text) > 3, path  # several chunks of 3 rows
        for other in made[1:]:
            for name in ("exact", "prompt", "answer", "answer_row", "prompt_row", "text"):
                assert np.array_equal(getattr(made[0], name), getattr(other, name)), (path, name)


def test_near_duplicate_options(tmp_path: Path) -> None:
    text = prose(4, 30)
    pair = [chat(text, "Thanks."), chat(edited(edited(text, 8, "kiwi"), 20, "plum"), "Thanks.")]
    assert run(tmp_path, pair, select=("D003",)) == []  # similarity about 0.6
    (tmp_path / "dslint.toml").write_text(
        "[tool.dslint.rules.D003]\nthreshold = 0.5\nngram = 3\nnum-perm = 64\nlarge-cluster = 2\n"
    )
    findings = run(tmp_path, pair, select=("D003",))
    assert at(findings) == [("D003", "train.jsonl", 2, "")]
    assert "templated" in findings[0].message  # a cluster of 2 is "large" here
    (tmp_path / "dslint.toml").write_text("[tool.dslint.rules.D003]\nmin-words = 100\n")
    assert run(tmp_path, pair, select=("D003",)) == []
    (tmp_path / "dslint.toml").write_text("[tool.dslint.rules.D003]\nthreshold = 'high'\n")
    with pytest.raises(ConfigError, match="threshold"):
        run(tmp_path, pair, select=("D003",))


def test_near_duplicate_rejects_impossible_options(tmp_path: Path) -> None:
    (tmp_path / "dslint.toml").write_text("[tool.dslint.rules.D003]\nthreshold = 1.5\n")
    (tmp_path / "train.jsonl").write_text(jsonl(chat()))
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "train.jsonl"), "--select", "D"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_near_duplicates_large_templated_cluster_is_explained(lint) -> None:  # type: ignore[no-untyped-def]
    template = prose(5, 80)
    examples = [chat(edited(template, 40, f"item{i}"), "Noted.") for i in range(60)]
    findings = [f for f in lint(jsonl(*examples), select=["D003"]) if f.code == "D003"]
    assert len(findings) == 59
    (representative,) = set(range(1, 61)) - {f.line for f in findings}
    assert all(f"of line {representative} (" in f.message and "cluster of 60" in f.message
               and "templated" in f.message for f in findings)  # fmt: skip


# -- D004-D006 leakage -------------------------------------------------------------------


def test_a_validation_near_copy_names_the_same_training_example_in_any_order(
    tmp_path: Path,
) -> None:
    """D005's fingerprint names the most similar training example; between two equally
    similar ones, the choice is by content, so reordering the training file keeps it."""
    text = prose(77, 80)
    training = [*distinct(4), chat(edited(text, 40, "kiwi"), "Noted."),
                chat(edited(text, 40, "plum"), "Noted.")]  # fmt: skip
    validation = [chat(text, "Noted.")]
    findings = [run(tmp_path, order, validation, select=("D005",))
                for order in (training, training[::-1])]  # fmt: skip
    assert [len(found) for found in findings] == [1, 1]
    assert findings[0][0].fingerprint == findings[1][0].fingerprint
    assert findings[0][0].message != findings[1][0].message  # the same example, on another line


def test_leakage_exact_near_and_shared_prompt(tmp_path: Path) -> None:
    train = [*distinct(4), chat("Capital of France?", "Paris.")]
    near = chat(edited(prose(1001), 2, "kiwi"), prose(2001), system=SYSTEM)
    validation = [
        chat(prose(50), prose(51)),  # clean
        train[0],  # exact copy of training line 1
        near,  # near copy of training line 2
        chat("Capital of France?", "It is Paris."),  # same prompt as training line 5
    ]
    findings = run(tmp_path, train, validation)
    assert at(findings) == [
        ("D004", "val.jsonl", 2, ""),
        ("D005", "val.jsonl", 3, ""),
        ("D006", "val.jsonl", 4, "/messages/0/content"),
    ]
    assert [f.severity.value for f in findings] == ["error", "error", "warning"]
    assert "train.jsonl line 1" in findings[0].message
    assert "train.jsonl line 2" in findings[1].message


def test_same_split_rules_do_not_report_across_splits(tmp_path: Path) -> None:
    train = distinct(3)
    validation = [train[0], chat(edited(prose(1001), 2, "kiwi"), prose(2001), system=SYSTEM)]
    findings = run(tmp_path, train, validation)
    assert {f.code for f in findings} == {"D004", "D005"}
    assert all(Path(f.path).name == "val.jsonl" for f in findings)
    # Duplicates inside the validation file are still the validation file's own D001.
    assert at(run(tmp_path, distinct(2), [chat(), chat()])) == [("D001", "val.jsonl", 2, "")]


def test_leakage_from_the_command_line_and_from_config(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(jsonl(*distinct(3)))
    (tmp_path / "val.jsonl").write_text(jsonl(distinct(3)[1]))
    runner = CliRunner()
    result = runner.invoke(cli, ["check", str(tmp_path / "train.jsonl"), "--validation",
                                  str(tmp_path / "val.jsonl"), "--format", "json"])  # fmt: skip
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["findings"]
    leaks = [(f["code"], Path(f["path"]).name, f["line"]) for f in findings if f["code"][0] == "D"]
    assert leaks == [("D004", "val.jsonl", 1)]

    (tmp_path / "dslint.toml").write_text(
        '[tool.dslint]\nvalidation = {"train.jsonl" = "val.jsonl"}\n'
    )
    result = runner.invoke(cli, ["check", str(tmp_path / "train.jsonl"), "--format", "json"])
    assert result.exit_code == 1, result.output
    codes = [f["code"] for f in json.loads(result.stdout)["findings"] if f["code"][0] == "D"]
    assert codes == ["D004"]


def test_no_leakage_findings_without_validation(tmp_path: Path) -> None:
    assert run(tmp_path, distinct(5), select=("D004", "D005", "D006")) == []


# -- fingerprints --------------------------------------------------------------------------


def _fingerprints(tmp_path: Path, train: list[Any], validation: list[Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in run(tmp_path, train, validation):
        found.setdefault(finding.code, set()).add(finding.fingerprint)
    return found


def test_fingerprints_survive_moved_and_inserted_lines(tmp_path: Path) -> None:
    near = chat(edited(prose(1003), 4, "kiwi"), prose(2003), system=SYSTEM)
    conflict = [chat("Capital of France?", "Paris."), chat("Capital of France?", "Lyon.")]
    train = [*distinct(5), distinct(5)[0], distinct(5)[0], near, *conflict]
    validation = [distinct(5)[2], chat(edited(prose(1004), 4, "kiwi"), prose(2004), system=SYSTEM),
                  chat("Capital of France?", "Nice.")]  # fmt: skip
    before = _fingerprints(tmp_path, train, validation)
    assert set(before) == {"D001", "D002", "D003", "D004", "D005", "D006"}
    assert len(before["D001"]) == 2  # two extra copies, two identities

    shuffled = [chat("A new first line", "with its answer"), *reversed(train)]
    shuffled.insert(4, chat("Another inserted line", "and answer"))
    after = _fingerprints(tmp_path, shuffled, [chat("New validation line", "ok"), *validation])
    # D002 and D003 flag the later of two examples: reversing the file flags the other one.
    assert {code: after[code] for code in after if code not in ("D002", "D003")} == {
        code: before[code] for code in before if code not in ("D002", "D003")
    }
    moved = [*train[:3], chat("Inserted", "line"), *train[3:]]
    assert _fingerprints(tmp_path, moved, validation) == before


# -- stats ---------------------------------------------------------------------------------


def test_shares_per_file(tmp_path: Path) -> None:
    near = chat(edited(prose(1002), 2, "kiwi"), prose(2002), system=SYSTEM)
    train = [*distinct(7), distinct(7)[0], distinct(7)[1], near]  # 10 examples
    (tmp_path / "train.jsonl").write_text(jsonl(*train) + "not json\n")
    (tmp_path / "val.jsonl").write_text(jsonl(*distinct(4, start=20)))
    report = check([tmp_path / "train.jsonl"], validation=[tmp_path / "val.jsonl"], select=["S"])
    result = {Path(path).name: value for path, value in shares(report.datasets[0]).items()}
    assert result == {
        "train.jsonl": {
            "exact_duplicates": pytest.approx(0.2),
            "near_duplicates": pytest.approx(0.1),
        },
        "val.jsonl": {"exact_duplicates": 0.0, "near_duplicates": 0.0},
    }


def test_summaries_are_memoised_in_the_dataset_cache(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(jsonl(*distinct(4)))
    dataset = check([tmp_path / "train.jsonl"], select=["D"]).datasets[0]
    assert dataset.cache and all(key.startswith("duplicates.") for key in dataset.cache)


# -- the MinHash building blocks -------------------------------------------------------------


def _shingles(example: dict[str, Any], ngram: int = 5) -> Any:
    import pyarrow as pa

    texts = pa.array([m["content"] for m in example["messages"]])
    found = minhash.shingles(texts, np.zeros(len(texts), dtype=np.int64), 1, ngram)
    return np.unique(found.hashes)


def test_signature_agreement_estimates_jaccard() -> None:
    import pyarrow as pa

    base = prose(9, 400).split()
    texts, truths = [], []
    for changes in (0, 10, 30, 60, 120):
        variant = list(base)
        for position in random.Random(changes).sample(range(len(base)), changes):
            variant[position] = f"new{position}"
        texts += [" ".join(base), " ".join(variant)]
    found = minhash.shingles(pa.array(texts), np.arange(len(texts), dtype=np.int64), len(texts), 5)
    signature = minhash.signatures(found, len(texts), 256)
    for pair in range(0, len(texts), 2):
        left = np.unique(found.hashes[found.owner == pair])
        right = np.unique(found.hashes[found.owner == pair + 1])
        truths.append(minhash.jaccard(left, right))
        estimate = float(np.mean(signature[pair] == signature[pair + 1]))
        assert abs(estimate - truths[-1]) < 0.1, (estimate, truths[-1])
    assert truths[0] == 1.0 and truths[-1] < 0.3


def test_short_texts_get_a_full_signature() -> None:
    import pyarrow as pa

    found = minhash.shingles(pa.array(["one two three four five six"]), np.zeros(1, np.int64), 1, 5)
    signature = minhash.signatures(found, 1, 128)
    assert len(found.hashes) == 2 and (signature != 0xFFFFFFFF).all()


def test_band_choice_favours_recall() -> None:
    bands, rows = minhash.optimal_bands(0.8, 128)
    assert (bands, rows) == (16, 8)  # as docs/duplicates.md says
    assert bands * rows <= 128
    assert 1 - (1 - 0.8**rows) ** bands >= 0.9
    assert 1 - (1 - 0.4**rows) ** bands < 0.02


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.8, 128), (0.5, 64), (0.9, 256), (0.7, 100)])
def test_band_choice_is_the_best_scored_one(threshold: float, num_perm: int) -> None:
    """The search scores every choice at once; here each is scored on its own, in order."""
    below, above = np.linspace(0.0, threshold, 200), np.linspace(threshold, 1.0, 200)

    def area(values: np.ndarray, points: np.ndarray) -> float:
        return float(np.sum((values[1:] + values[:-1]) * np.diff(points)) / 2)

    best = (float("inf"), 0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = 0.05 * area(1 - (1 - below**rows) ** bands, below) + 0.95 * area(
                (1 - above**rows) ** bands, above
            )
            best = min(best, (error, bands, rows), key=lambda scored: scored[0])
    minhash.optimal_bands.cache_clear()
    assert minhash.optimal_bands(threshold, num_perm) == best[1:]


# -- the real corpus -----------------------------------------------------------------------


@needs_corpus
def test_real_file_with_twenty_exact_duplicate_lines() -> None:
    path = CORPUS / "GBurgardt-charly-garcia-IA__fine_tuning_data.jsonl"
    findings = [f for f in check([path], select=["D001"]).findings if f.code == "D001"]
    seen: dict[str, int] = {}
    expected = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        key = json.dumps(json.loads(line), sort_keys=True)
        if key in seen:
            expected.append((number, seen[key]))
        else:
            seen[key] = number
    assert len(expected) == 20
    assert [(f.line, f.pointer) for f in findings] == [(line, "") for line, _ in expected]
    for finding, (_, first) in zip(findings, expected, strict=True):
        assert f"line {first} " in finding.message


def test_the_same_question_about_different_images_is_not_a_duplicate(lint) -> None:  # type: ignore[no-untyped-def]
    def ask(url: str, answer: str) -> dict[str, object]:
        question = [
            {"type": "text", "text": "What is the highest value in this chart?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        return {
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        }

    findings = lint(
        jsonl(
            ask("https://x/1.png", "42"), ask("https://x/2.png", "17"), ask("https://x/1.png", "42")
        ),
        select=["D"],
    )
    assert located(findings) == [("D001", 3, "")]  # only the true copy (same image, same answer)


def test_prompts_without_any_text_are_not_the_same_prompt(lint) -> None:  # type: ignore[no-untyped-def]
    empty = [chat("   ", f"Answer {i}.") for i in range(3)]
    assert located(lint(jsonl(*empty), select=["D002"])) == []


def test_column_hashes_equal_those_of_the_columns_as_strings() -> None:
    """hash_column skips the string-per-row conversion, never changing a hash (fingerprints
    of duplicate findings are built from them)."""
    import pandas as pd
    import pyarrow as pa

    from dslint.rules.duplicates.hashing import arrow, hash_column, hash_strings

    values = ["system", "user", None, "assistant", "user", "", "système"]
    unused_category = ["user", "zzz", "assistant", "system", "système", ""]
    columns = [
        pd.Series(pd.Categorical(values)),
        pd.Series(pd.Categorical(values, categories=unused_category)),
        pd.Series(pd.Categorical([None, None])),
        pd.Series(pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))),
        pd.Series([1, 0, None, 1], dtype="Int8"),
    ]
    for column in columns:
        expected = hash_strings(arrow(column.astype("string")))
        assert hash_column(column).tolist() == expected.tolist()
    # null hashes like the empty string, a category without rows changes nothing
    assert hash_column(columns[0])[2] == hash_column(columns[0])[5]


def test_run_groups_give_what_pandas_groupby_gives() -> None:
    import numpy as np
    import pandas as pd

    from dslint.rules.duplicates.scope import run_groups

    rng = np.random.default_rng(5)
    scope = rng.integers(0, 2, 5_000).astype(np.int64)
    pool = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2)  # 64-bit hashes
    key = pool[rng.integers(0, 300, 5_000)]
    first, place, size = run_groups(scope, key)
    frame = pd.DataFrame({"scope": scope, "key": key, "row": np.arange(5_000)})
    grouped = frame.groupby(["scope", "key"], sort=False)["row"]
    assert (first == grouped.transform("min").to_numpy()).all()
    assert (place == grouped.cumcount().to_numpy()).all()
    assert (size == grouped.transform("size").to_numpy()).all()
    assert run_groups(scope[:0], key[:0])[0].shape == (0,)
