"""The fast voice statistics equal the definitions they replace, on a varied sample.

The reference functions below are the voice family's former code (pandas ``str.count`` per
pattern, a Python loop for the longest sentence, one scan of the combined profile pattern
per message); the rules now compute the same numbers another way.
"""

from __future__ import annotations

import hashlib
import random
import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from dslint.dataset import Dataset
from dslint.readability import GRADE_METRICS, TextStatistics
from dslint.rules.voice import _stats
from dslint.rules.voice.limits import EMOJI, METRIC_NAMES, counts, grade_column
from dslint.rules.voice.profile import load_profile
from dslint.rules.voice.tone import (
    CONTRACTION,
    FIRST_PLURAL,
    FIRST_SINGULAR,
    MARKDOWN,
    style_features,
)

TRICKY = [
    "", "a", " ", "\n\n", "ok.", ". ", "?!. a. b.", "end!\n", "x!\n\n", "AEIOU yay",
    "Hi!! there? ok.\n\nNext. one", "It’s a dog's\u00a0life… Yes. no",
    "x\v y\x1c z. \n a b c", "a.\n b", "Tab.\tc d e\f f", "a\u2003b. c\u00a0d.\u2003e",
    "émoji 😀 here! ✅ and ⭐⭐", "I'm sure we'll fix it; I can't say we're done. My bad, ours.",
    "# Title\n\n- item one\n* item two\n1. first\n2) second\n> quote\n```\ncode\n```\n**bold** `x` __u__",
    "  - indented item\n\v- vertical tab item", "Ⅻ ½ ² ſ K İı", "Straße café naïve résumé.",
    "I I I I I me my mine myself. We us our ours ourselves!", "don’t can’t won’t — I’m",
    "Please e-mail us or email us; log in at the web site, sign in on the website.",
    "As an AI language model, I can't. I'm ChatGPT. My name is Bob. Acme acmecloud AcmeCloud.",
    "leverage synergy, no worries! to be honest, Dear Sir: click on GitHub iphone.",
    "e-mailemail email-e-mail log-in log  in LOG IN signin sign\nin",
]  # fmt: skip
PIECES = ["I", "we", "'m", "n't", "’", " ", "  ", "\n", "\v", "\u00a0", "\u2003", ".", "!", "?",
          "…", "😀", "é", "-", "*", "#", "`", "1.", ">", "email", "e-mail", "log in", "Acme",
          "web site", "word", "Sentence", "AcmeCloud", "synergy", "\x1c", "\t", "ok"]  # fmt: skip


def sample() -> list[str]:
    rng = random.Random(5)
    random_texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 60)))
                    for _ in range(600)]  # fmt: skip
    return TRICKY + random_texts


def column(texts: list[str]) -> pd.Series:
    return pd.Series(texts, dtype=pd.StringDtype("pyarrow"))


def old_max_sentence_words(text: str) -> int:
    split = re.compile(r"(?<=[.!?…])\s+|\n+")
    return max((len(re.findall(r"\S+", s)) for s in split.split(text)), default=0)


def old_counts(text: pd.Series) -> dict[str, Any]:
    return {
        "exclamations": text.str.count("!").to_numpy(dtype=np.int64),
        "questions": text.str.count(r"\?").to_numpy(dtype=np.int64),
        "emoji": text.str.count(EMOJI).to_numpy(dtype=np.int64),
        "words": text.str.count(r"\S+").to_numpy(dtype=np.int64),
        "sentence_words": np.array([old_max_sentence_words(t) for t in text.tolist()]),
    }


def old_features(text: pd.Series) -> dict[str, Any]:
    base = old_counts(text)
    words = base["words"].astype(float)
    per_words = 100.0 / np.maximum(words, 1.0)
    sentences = np.maximum(text.str.count(r"[.!?]+(?:\s|$)").to_numpy(dtype=float), 1.0)
    letters = np.maximum(text.str.count(r"[A-Za-z]").to_numpy(dtype=float), 1.0)
    syllables = text.str.count(r"(?i)[aeiouy]+").to_numpy(dtype=float)
    return {
        "length": np.log1p(words),
        "sentence": words / sentences,
        "exclamation": base["exclamations"] / sentences,
        "question": base["questions"] / sentences,
        "emoji": text.str.count(EMOJI).to_numpy(dtype=float) * per_words,
        "capitals": text.str.count(r"[A-Z]").to_numpy(dtype=float) / letters,
        "first_singular": text.str.count(FIRST_SINGULAR).to_numpy(dtype=float) * per_words,
        "first_plural": text.str.count(FIRST_PLURAL).to_numpy(dtype=float) * per_words,
        "contractions": text.str.count(CONTRACTION).to_numpy(dtype=float) * per_words,
        "markdown": text.str.count(MARKDOWN).to_numpy(dtype=float) * per_words,
        "grade": 0.39 * words / sentences + 11.8 * syllables / np.maximum(words, 1) - 15.59,
    }


def old_grade(text: pd.Series, metric_name: str) -> Any:
    words = np.maximum(text.str.count(r"[A-Za-z0-9'’]+").to_numpy(dtype=float), 1.0)
    sentences = np.maximum(text.str.count(r"[.!?]+(?:\s|$)").to_numpy(dtype=float), 1.0)
    letters = text.str.count(r"[A-Za-z0-9]").to_numpy(dtype=float)
    syllables = np.maximum(text.str.count(r"(?i)[aeiouy]+").to_numpy(dtype=float), words)
    statistics = TextStatistics(words, sentences, syllables, 0, letters, 0, 0)  # type: ignore[arg-type]
    return GRADE_METRICS[metric_name](statistics)


def fake_dataset() -> Any:
    return types.SimpleNamespace(cache={})


@pytest.mark.parametrize("chunk", [1 << 24, 97])  # one block, and many small blocks
def test_counts_equal_the_old_definitions(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(_stats, "CHUNK_BYTES", chunk)
    text = column(sample())
    rows = pd.DataFrame({"text": text})
    new = counts(fake_dataset(), rows, "k")
    for name, expected in old_counts(text).items():
        assert new[name].tolist() == expected.tolist(), name
    features = style_features(fake_dataset(), rows, "k")
    for name, expected in old_features(text).items():
        np.testing.assert_array_equal(features[name].to_numpy(), expected, err_msg=name)
    for metric in METRIC_NAMES.values():
        np.testing.assert_array_equal(grade_column(new, metric), old_grade(text, metric))


def test_counts_of_an_empty_column() -> None:
    new = counts(fake_dataset(), pd.DataFrame({"text": column([])}), "k")
    assert len(new) == 0 and "sentence_words" in new


def test_byte_classes_are_what_re2_matches() -> None:
    """The byte tables stand for RE2's classes: no non-ASCII character matches them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    array = pa.array(characters)
    for pattern, expected in (("[A-Za-z]", 52), ("[A-Z]", 26), ("(?i)[aeiouy]", 12),
                              ("[A-Za-z0-9]", 62), (r"[.!?]", 3)):  # fmt: skip
        found = pc.match_substring_regex(array, pattern).to_numpy(zero_copy_only=False)
        assert found.sum() == expected
        assert all(ord(characters[i]) < 0x80 for i in np.flatnonzero(found))
    python_space = [ord(c) for c in characters if re.fullmatch(r"\s", c) and ord(c) < 0x80]
    ascii_bytes = np.arange(128, dtype=np.uint8)
    assert np.flatnonzero(_stats.python_space(ascii_bytes)).tolist() == python_space


def test_profile_matches_equal_one_scan_per_message(lint: Any, tmp_path: Path) -> None:
    import datetime as dt

    from dslint.config import parse
    from dslint.engine import RunContext
    from dslint.rules.voice._shared import profile_matches
    from dslint.rules.voice.terms import BannedTerm

    texts = sample()
    profile_path = ROOT / "rules" / "voice" / "example.toml"
    profile = load_profile(profile_path)
    rule = BannedTerm()
    config = parse({"voice": {"profile": str(profile_path)}}, tmp_path / "x.toml")
    rule.context = RunContext(config=config, today=dt.date(2026, 1, 1), model_given=False)
    messages = pd.DataFrame({"role": "assistant", "text": column(texts)})
    dataset = types.SimpleNamespace(cache={"voice.rows.assistant": messages},
                                    messages=messages)  # fmt: skip
    found = [(m.row, m.start, m.end, m.entry, m.text) for m in profile_matches(rule, dataset)]  # type: ignore[arg-type]
    expected = [(row, m.start(), m.end(), (m.lastindex or 0) - 1, m.group())
                for row, text in enumerate(texts) for m in profile.pattern.finditer(text)]  # fmt: skip
    assert len(expected) > 100  # the sample does exercise the profile
    assert found == expected


def test_letter_counts_equal_str_count() -> None:
    text = column(sample())
    letters, words = _stats.letter_counts(text)
    assert letters.tolist() == text.str.count(r"[^\W\d_]").tolist()
    assert words.tolist() == text.str.count(r"[^\W\d_]{2,}").tolist()
    ascii_only = column([t for t in sample() if t.isascii()])
    letters, words = _stats.letter_counts(ascii_only)  # the column pandas counts with RE2
    assert letters.tolist() == ascii_only.str.count(r"[^\W\d_]").tolist()
    assert words.tolist() == ascii_only.str.count(r"[^\W\d_]{2,}").tolist()


def test_counts_of_rows_longer_than_a_16_bit_sum() -> None:
    texts = ["ab! " * 20_000, "x", "Yes. " * 14_000 + "no"]
    text = column(texts)
    new = counts(fake_dataset(), pd.DataFrame({"text": text}), "k")
    for name, expected in old_counts(text).items():
        assert new[name].tolist() == expected.tolist(), name
    assert new["letters"].tolist() == text.str.count("[A-Za-z]").tolist()


FOREIGN = [
    "Le contrat précise que le locataire doit payer le loyer avant le cinquième jour ouvrable.",
    "O contrato estabelece que o locatário deve pagar o aluguel até o quinto dia útil do mês.",
    "Der Vertrag legt fest, dass der Mieter die Miete bis zum fünften Werktag zahlen muss.",
    "El contrato establece que el inquilino debe pagar el alquiler de la vivienda antes del "
    "quinto día hábil de cada mes, según lo acordado por las partes.",
    "Il contratto stabilisce che l'inquilino deve pagare l'affitto entro il quinto giorno.",
]


def hash_of(text: str) -> int:
    """A stable signed 64-bit hash of a text, as the records' ``content_hash`` column."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def english_reply(rng: random.Random) -> str:
    subjects = ["Your order", "The parcel", "Our team", "The refund", "This jacket", "The tent"]
    verbs = ["will arrive", "has been sent", "can be returned", "is covered", "was updated"]
    tails = ["within five days.", "as soon as possible.", "under the warranty.",
             "from your account page.", "at any of our stores."]  # fmt: skip
    return " ".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(tails)}"
                    for _ in range(rng.randint(2, 4)))  # fmt: skip


def test_language_on_a_large_mixed_dataset(lint: Any) -> None:
    """Past the sampling size, replies in other languages are still all found."""
    import json

    from dslint.rules.voice.language import SAMPLE_MESSAGES

    rng = random.Random(3)
    replies = [english_reply(rng) for _ in range(SAMPLE_MESSAGES + 600)]
    foreign_lines = sorted(rng.sample(range(len(replies)), 25))
    for number, line in enumerate(foreign_lines):
        replies[line] = FOREIGN[number % len(FOREIGN)] + f" Referência {number}."
    text = "".join(json.dumps({"messages": [{"role": "user", "content": "Help?"},
                                            {"role": "assistant", "content": reply}]}) + "\n"
                   for reply in replies)  # fmt: skip
    findings = lint(text, select=["V012"])
    assert sorted(f.line for f in findings) == [line + 1 for line in foreign_lines]
    assert all(f.pointer == "/messages/1/content" for f in findings)


def test_classify_many_equals_classify() -> None:
    from dslint.rules.voice._langid import BATCH, classify_many
    from dslint.rules.voice.language import identifier

    rng = random.Random(7)
    texts = [english_reply(rng) for _ in range(BATCH + 50)] + FOREIGN + sample()
    texts += ["ПРИВЕТ МИР, как дела?", "日本語のテキストです。", "12345", "", "\ud800 lone"]
    model = identifier()
    assert classify_many(model, texts) == [model.classify(t) for t in texts]


def test_prose_equals_the_pandas_definition() -> None:
    from dslint.rules.voice.language import _CODE, SAMPLE_CHARS, _prose

    texts = [*sample(), "See `code` and ```block\nx``` then https://x.y/z?q=1 ok", "é" * 500]
    text = column(texts)
    expected = text.str.replace(_CODE, " ", regex=True).str.slice(0, SAMPLE_CHARS)
    assert _prose(text).tolist() == expected.tolist()


def test_threaded_counts_equal_pandas_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vocabulary count of V012 and the sparse counts run on two threads (Arrow releases
    the GIL): the same numbers as pandas, on ASCII columns (RE2) and others (Python's re)."""
    from dslint.rules.voice import _stats, language

    monkeypatch.setattr(_stats, "THREADED_ROWS", 10)
    pattern = r"(?i)\b(?:the|you|within|account)\b"
    ascii_rows = [f"The account{i % 3} is yours, you know; within days the_end THE {i}" * (i % 4)
                  for i in range(501)]  # fmt: skip
    in_python: list[int] = []
    real = language._python_count
    monkeypatch.setattr(language, "_python_count",
                        lambda column, p: in_python.append(len(column)) or real(column, p))  # fmt: skip
    for rows in (ascii_rows, [*ascii_rows, "café thé the naïve ſo The"]):
        text = pd.Series(pd.array(rows, dtype=pd.StringDtype("pyarrow")))
        expected = text.str.count(pattern).to_numpy()
        assert language._count(text, pattern).tolist() == expected.tolist()
        assert _stats.sparse_count(text, pattern).tolist() == expected.tolist()
    assert expected.sum() > 1000  # the comparison is not over zeros
    # V012's count is Python's re also where RE2's ASCII-only \b would differ (a word next to
    # an accented letter); only the rows that are not ASCII go through Python.
    in_python.clear()
    others = ["theé the theéthe", "café thé the naïve ſo The", "ünd the, you."]
    rows = [*ascii_rows[:250], *others, *ascii_rows[250:]]
    text = pd.Series(pd.array(rows, dtype=pd.StringDtype("pyarrow")))
    expected = np.array([len(re.findall(pattern, row)) for row in rows])
    assert language._count(text, pattern).tolist() == expected.tolist()
    assert in_python == [3]


@pytest.mark.parametrize("block", [None, 64], ids=["one-block", "blocks-of-64"])
@pytest.mark.parametrize("share", [0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("pattern", [r"(?i)\bthe\b", r"zebra", r"[!?]"])
def test_sparse_counts_of_a_selection_equal_pandas_counts(
    share: float, pattern: str, block: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most rows selected: scanned in place; few: copied out first. Matches in most rows:
    the whole column is counted; in few: only those rows. Every way, and block by block
    (each block deciding for itself), gives pandas' numbers on the selected rows and 0
    elsewhere."""
    from dslint.rules.voice import _stats

    if block is not None:
        monkeypatch.setattr(_stats, "COUNT_BLOCK_ROWS", block)

    rows = [("The end! " * (i % 3)) + ("zebra? " if i % 7 == 0 else "") + f"row {i}"
            for i in range(400)]  # fmt: skip
    text = pd.Series(pd.array(rows, dtype=pd.StringDtype("pyarrow")))
    candidates = (np.arange(len(rows)) * 37 % 100) < share * 100
    expected = np.where(candidates, text.str.count(pattern).to_numpy(), 0)
    assert _stats.sparse_count(text, pattern, candidates).tolist() == expected.tolist()


def test_a_few_texts_are_classified_without_preparing_the_walker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dslint.rules.voice import _langid
    from dslint.rules.voice.language import identifier

    model = identifier()
    monkeypatch.setattr(_langid, "_WALKERS", {})
    made: list[object] = []
    real = _langid._Walker

    def spy(found: object) -> object:
        made.append(found)
        return real(found)

    monkeypatch.setattr(_langid, "_Walker", spy)
    texts = [*FOREIGN, *sample()][: _langid.DIRECT - 1]
    assert _langid.classify_many(model, texts) == [model.classify(t) for t in texts]
    assert made == []  # a pre-commit sized run does not widen the model's tables
    many = [english_reply(random.Random(3)) for _ in range(_langid.DIRECT)]
    assert _langid.classify_many(model, many) == [model.classify(t) for t in many]
    assert made == [model]


@pytest.mark.parametrize("sample_size", [20, 5_000], ids=["vocabulary", "detector-only"])
def test_language_detection_by_blocks_equals_one_pass(
    monkeypatch: pytest.MonkeyPatch, sample_size: int
) -> None:
    """V012 reads the prose a block of rows at a time (memory at a million examples): the
    same languages and confidences as with the whole column in one block, through the
    vocabulary shortcut and the detector alike, with rows of code, URLs and other scripts."""
    from concurrent.futures import Future

    from dslint.rules.voice import _text, language
    from dslint.rules.voice.language import LanguageOptions, _detect, identifier

    rng = random.Random(5)
    texts = [english_reply(rng) for _ in range(300)] + FOREIGN * 3 + sample()
    texts += ["See `code` then https://x.y/z?q=1 " + english_reply(rng), "é" * 500, ""]
    rng.shuffle(texts)
    # One reply per line; the sample is chosen by the lines' content hashes.
    records = pd.DataFrame({"content_hash": [hash_of(t) for t in texts]})
    rows = pd.DataFrame(
        {
            "record": np.arange(len(texts), dtype=np.int32),
            "pointer": pd.Categorical(["/messages/1/content"] * len(texts)),
            "text": column(texts),
        }
    )
    model: Future[Any] = Future()
    model.set_result(identifier())
    monkeypatch.setattr(language, "SAMPLE_MESSAGES", sample_size)
    results = []
    for block in (10**6, 7):
        monkeypatch.setattr(_text, "BLOCK_ROWS", block)
        results.append(_detect(Dataset(records, rows), rows, LanguageOptions(), model))
    pd.testing.assert_frame_equal(results[0], results[1])
    assert set(results[0]["language"]) >= {"en", ""} and len(set(results[0]["language"])) > 3


def _matrix_outliers(values: Any, eligible: Any, threshold: float, floors: Any) -> tuple[Any, ...]:
    """V011's former statistics: the whole feature matrix at once."""
    scored = values[eligible]
    median = np.median(scored, axis=0)
    mad = np.median(np.abs(scored - median), axis=0)
    fallback = np.mean(np.abs(scored - median), axis=0) * 1.2533
    spread = np.where(mad > 0, mad / 0.6745, fallback)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 0, (values - median) / spread, 0.0)
    outlier = (np.abs(z) >= threshold) & (np.abs(values - median) >= floors)
    return median, spread, outlier & eligible[:, None]


@pytest.mark.parametrize("rows", [40, 1_001, 250_000])
def test_tone_statistics_one_feature_at_a_time_equal_the_matrix(rows: int) -> None:
    """V011 computes each feature's median, spread and outliers apart (memory); the figures
    are the whole matrix's, bit for bit: features with a MAD of 0 (the mean's fallback),
    with no spread at all, and a threshold of 0 included."""
    from dslint.rules.voice.tone import _robust_outliers

    rng = np.random.default_rng(rows)
    values = np.column_stack([
        rng.normal(10, 3, rows),  # spread out
        np.where(rng.random(rows) < 0.9, 0.0, rng.exponential(5, rows)),  # MAD 0
        np.full(rows, 2.5),  # no spread
        rng.integers(0, 4, rows).astype(float) * 1e6 + rng.random(rows),  # large, uneven
    ])  # fmt: skip
    eligible = rng.random(rows) < 0.8
    floors = np.array([1.0, 0.5, 0.0, 3.0])
    columns = [np.ascontiguousarray(values[:, c]) for c in range(values.shape[1])]
    for threshold in (4.0, 2.0, 0.0):
        expected = _matrix_outliers(values, eligible, threshold, floors)
        found = _robust_outliers(columns, eligible, threshold, floors.tolist())
        for mine, theirs in zip(found, expected, strict=True):
            assert np.array_equal(mine, theirs)
        assert expected[2].any() or threshold == 4.0  # flagged rows are compared too


def test_voice_rules_read_the_replies_a_block_at_a_time(
    lint: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checked rows keep no copy of the replies' text: the voice rules read it from the
    messages' column a block of rows at a time (memory). Every voice finding, with a profile
    and a Vale style, is the same with blocks of 2 rows as with one block."""
    import json

    from dslint.rules.voice import _text
    from dslint.rules.voice._text import RowText, row_text, rows_for_roles
    from test_voice import write_style

    rng = random.Random(11)
    replies = [english_reply(rng) for _ in range(120)] + FOREIGN + sample()
    replies += ["We leverage synergy!!! No worries 🎉🎉 " * 3, "Please log in, perhaps. " * 40]
    rng.shuffle(replies)
    text = "".join(json.dumps({"messages": [{"role": "user", "content": "Help?"},
                                            {"role": "assistant", "content": reply}]}) + "\n"
                   for reply in replies if reply)  # fmt: skip
    write_style(tmp_path)  # the House Vale style; its dslint.toml is replaced below
    (tmp_path / "dslint.toml").write_text(
        f'[tool.dslint.voice]\nprofile = "{ROOT / "rules" / "voice" / "example.toml"}"\n'
        'vale = ["styles/House"]\n',
        encoding="utf-8",
    )
    config = tmp_path / "dslint.toml"

    def voice() -> list[tuple[Any, ...]]:
        found = lint(text, select=["V"], config=config)
        return [(f.code, f.line, f.pointer, f.message, f.column) for f in found]

    whole = voice()
    monkeypatch.setattr(_text, "BLOCK_ROWS", 2)
    assert voice() == whole
    assert {"V001", "V004", "V011", "V012", "V013"} <= {finding[0] for finding in whole}

    dataset = Dataset.__new__(Dataset)
    messages = pd.DataFrame({"role": ["user", "assistant", "assistant"], "section": "messages",
                             "record": [0, 0, 1], "pointer": ["/a", "/b", "/c"],
                             "text": column(["Hi", "Hello there", "Bye"])})  # fmt: skip
    dataset.messages, dataset.cache = messages, {}
    rows = rows_for_roles(dataset, ["assistant"])
    assert "text" not in rows.columns and isinstance(row_text(rows), RowText)
    assert row_text(rows).iloc[slice(None)].tolist() == ["Hello there", "Bye"]
    assert row_text(rows).iloc[[1]].tolist() == ["Bye"]


def test_system_prompts_equal_the_filtered_frames() -> None:
    """V009/V010's system prompts are found from masks and positions; they equal the former
    filtered frames: each record's first system or developer message of its list (DPO
    ``input`` included, other sections not), the counts and the records with a list."""
    from dslint.rules.voice.drift import system_prompts

    rows = [  # record, section, role, text
        (0, "messages", "system", "Be brief."), (0, "messages", "user", "Hi"),
        (0, "messages", "system", "Second system."), (1, "messages", "user", "No system"),
        (2, "input", "developer", "Be brief."), (2, "preferred", "assistant", "Ok"),
        (3, "prompt", "system", "not a list"), (4, "messages", "system", "Be kind."),
        (5, "messages", None, "no role"), (6, "messages", "system", "Be brief."),
    ]  # fmt: skip
    messages = pd.DataFrame({
        "record": np.array([r[0] for r in rows], dtype=np.int32),
        "section": pd.Categorical([r[1] for r in rows]),
        "role": pd.Categorical([r[2] for r in rows]),
        "text": column([r[3] for r in rows]),
        "pointer": [f"/p{i}" for i in range(len(rows))],
    })  # fmt: skip
    dataset = types.SimpleNamespace(messages=messages, cache={})
    found = system_prompts(dataset)  # type: ignore[arg-type]

    in_lists = messages[messages["section"].isin(["messages", "input"])]
    system = in_lists[in_lists["role"].isin(["system", "developer"])]
    first = system.drop_duplicates("record", keep="first")[["record", "text", "pointer"]]
    pd.testing.assert_frame_equal(found.frame, first.reset_index(drop=True))
    pd.testing.assert_series_equal(found.counts, first["text"].value_counts())
    assert found.chat_records.tolist() == np.unique(in_lists["record"].to_numpy()).tolist()
    assert found.frame["text"].tolist() == ["Be brief.", "Be brief.", "Be kind.", "Be brief."]
