"""The engine's own guarantees: columns, fingerprints, plugins, the DataFrame API."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import dslint
from conftest import TODAY, chat, clean_chat, jsonl
from dslint import registry
from dslint.locate import columns


@pytest.mark.parametrize(
    "content",
    ["plain <|endoftext|> text", 'é\n\t"quoted" <|endoftext|>', "emoji 😀 then <|endoftext|>"],
)
def test_span_columns_count_escapes_in_the_raw_line(lint, content: str) -> None:  # type: ignore[no-untyped-def]
    example = chat(user=content)
    for ensure_ascii in (True, False):
        line = json.dumps(example, ensure_ascii=ensure_ascii)
        (finding,) = lint(jsonl(*clean_chat(50)) + line + "\n", select=["S111"])
        token = "<|endoftext|>"
        assert line[finding.column - 1 : finding.end_column - 1] == token


def test_pointer_columns_point_at_the_value() -> None:
    raw = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "x": [1, {"y": 2}]}]}'
    assert columns(raw, "", None) == (1, None)
    assert raw[columns(raw, "/messages/1/x/1/y", None)[0] - 1] == "2"
    assert columns(raw, "/messages/7", None) == (None, None)


def test_pointer_columns_follow_json_rules_for_duplicate_keys_and_damage() -> None:
    raw = '{"a": 1, "b": [10, 20], "a": {"c": 3}}'
    assert raw[columns(raw, "/a/c", None)[0] - 1] == "3"  # the last "a" wins, as in json.loads
    assert raw[columns(raw, "/b/1", None)[0] - 1 :].startswith("20")
    damaged = '{"a": [1, 2, {"b": tru'
    assert damaged[columns(damaged, "/a/1", None)[0] - 1] == "2"  # members before the damage
    assert columns(damaged, "/a/2/b", None)[0] is not None
    assert columns(damaged, "/a/5", None) == (None, None)


def test_locating_many_findings_in_one_line_scans_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each container of a line is scanned once, whatever the number of pointers into it: a
    conversation of 20,000 turns with a finding on each took 79 s when every pointer walked
    the line from its start."""
    from dslint import locate

    turns = [{"role": "user", "content": f"turn {i}"} for i in range(2_000)]
    raw = json.dumps({"messages": turns})
    decoded = []
    real = locate._DECODER

    class Counting:
        def raw_decode(self, text: str, index: int) -> tuple[object, int]:
            decoded.append(index)
            return real.raw_decode(text, index)

    monkeypatch.setattr(locate, "_DECODER", Counting())
    for i in range(len(turns)):
        column, end = columns(raw, f"/messages/{i}/content", (0, 4))
        assert column is not None and raw[column - 1 : end - 1] == "turn"
    # The messages array once (2,000 values), each message object once (two values each).
    assert len(decoded) <= 1 + 2_000 + 2 * 2_000


def test_fingerprints_survive_inserted_and_reordered_lines(lint) -> None:  # type: ignore[no-untyped-def]
    bad = [
        {"messages": [{"role": "user", "content": "A"}, {"role": "assistant"}]},
        {"messages": [{"role": "user", "content": "B"}, {"role": "assistant"}]},
    ]
    before = lint(jsonl(*clean_chat(50), *bad), select=["S104"])
    after = lint(
        jsonl(bad[1], *clean_chat(50)[:7], chat("new"), *clean_chat(50)[7:], bad[0]),
        select=["S104"],
    )
    assert [f.line for f in before] != [f.line for f in after]
    assert {f.fingerprint for f in before} == {f.fingerprint for f in after}
    assert len({f.fingerprint for f in before}) == 2


def test_findings_as_a_dataframe(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*clean_chat(9)))
    report = dslint.check([path], today=TODAY)
    frame = report.findings_frame()
    assert list(frame["code"]) == ["S013"]
    # The columns are the JSON report's fields, no more (Finding.related is internal).
    assert list(frame.columns) == list(report.findings[0].to_dict())


def test_a_broken_plugin_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint(
        name="acme", value="acme_rules_that_do_not_exist:RULES", group="dslint.rules"
    )
    real = registry.entry_points

    def fake(group: str):  # type: ignore[no-untyped-def]
        found = list(real(group=group))
        return [*found, broken] if group == registry.RULES_GROUP else found

    monkeypatch.setattr(registry, "entry_points", fake)
    registry.all_rules.cache_clear()
    try:
        with pytest.raises(registry.PluginError, match="acme_rules_that_do_not_exist"):
            registry.all_rules()
    finally:
        registry.all_rules.cache_clear()


def test_dslint_without_its_metadata_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A source folder on PYTHONPATH has no entry points: a check would load no rule, and a
    baseline would record no finding and exit 0. Both say what is wrong instead."""
    from click.testing import CliRunner

    from dslint.cli import cli

    real = registry.entry_points

    def without_dslint(group: str):  # type: ignore[no-untyped-def]
        return [ep for ep in real(group=group) if not ep.value.startswith("dslint.")]

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.jsonl").write_text(jsonl(*clean_chat(12)))
    monkeypatch.setattr(registry, "entry_points", without_dslint)
    registry.all_rules.cache_clear()
    registry.reporters.cache_clear()
    try:
        for arguments in (["check", "train.jsonl"], ["baseline", "train.jsonl", "-o", "b.json"],
                          ["rules"]):  # fmt: skip
            result = CliRunner().invoke(cli, [*arguments, "--no-cache"] if arguments != ["rules"]
                                        else arguments)  # fmt: skip
            assert result.exit_code == 2, arguments
            (line,) = result.output.strip().splitlines()
            assert line.startswith("dslint: error: dslint's ") and "pip install -e ." in line
        assert not (tmp_path / "b.json").exists()
    finally:
        registry.all_rules.cache_clear()
        registry.reporters.cache_clear()


def test_a_plugin_rule_runs_like_a_built_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys
    import types

    module = types.ModuleType("acme_dslint_rules")
    exec(  # a third-party rule, as a plugin package would ship it
        "from dslint.rule import RecordRule\n"
        "from dslint.finding import Category, Hit, Severity\n"
        "class NoShouting(RecordRule):\n"
        "    '''Assistant replies must not be all capitals.'''\n"
        "    code = 'X100'\n"
        "    name = 'no-shouting'\n"
        "    category = Category.VOICE\n"
        "    severity = Severity.WARNING\n"
        "    def check(self, record):\n"
        "        for i, m in enumerate(record.value.get('messages', [])):\n"
        "            if m.get('role') == 'assistant' and str(m.get('content')).isupper():\n"
        "                yield Hit('shouting', f'/messages/{i}/content')\n"
        "RULES = [NoShouting]\n",
        module.__dict__,
    )
    monkeypatch.setitem(sys.modules, "acme_dslint_rules", module)
    plugin = EntryPoint(name="acme", value="acme_dslint_rules:RULES", group="dslint.rules")
    real = registry.entry_points
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [*real(group=group), *([plugin] if group == registry.RULES_GROUP else [])],
    )
    registry.all_rules.cache_clear()
    try:
        path = tmp_path / "d.jsonl"
        path.write_text(jsonl(*clean_chat(50), chat(assistant="HELLO THERE")))
        report = dslint.check([path], today=TODAY)
        assert [(f.code, f.line, f.pointer) for f in report.findings] == [
            ("X100", 51, "/messages/1/content")
        ]
    finally:
        registry.all_rules.cache_clear()


def test_the_committed_rule_catalog_matches_the_rules() -> None:
    """``python -m dslint.registry > src/dslint/rules/catalog.json`` after changing a rule."""
    committed = registry.CATALOG.read_text(encoding="utf-8")
    assert committed == registry.render_catalog(registry.build_catalog())
    assert [(r.code, r.name) for r in registry.catalog()] == [
        (r.code, r.name) for r in registry.all_rules()
    ]


def test_a_stale_catalog_is_named_not_trusted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    document = json.loads(registry.CATALOG.read_text(encoding="utf-8"))
    document["schema"][0][1] = "renamed-since"
    stale = tmp_path / "catalog.json"
    stale.write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setattr(registry, "CATALOG", stale)
    registry._read_catalog.cache_clear()
    try:
        path = tmp_path / "d.jsonl"
        path.write_text(jsonl(*clean_chat(3)))
        with pytest.raises(registry.PluginError, match="out of date"):
            dslint.check([path], today=TODAY)
    finally:
        registry._read_catalog.cache_clear()


@pytest.mark.parametrize(
    ("select", "imported"),
    [("S", []), ("S013", []), ("T", ["pandas"]), (None, ["dslint.rules.voice", "pandas"])],
)
def test_only_the_chosen_rule_families_are_imported(
    tmp_path: Path, select: str | None, imported: list[str]
) -> None:
    """A hook limited to the schema rules never pays for pandas (about 0.3 s); a default
    check imports neither the Vale check kinds (no style is set) nor the moderation rules
    (all off), which cost a pre-commit run about 0.02 s."""
    import os
    import subprocess
    import sys

    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*clean_chat(3)))
    probe = (
        "import sys\n"
        "from dslint.api import check\n"
        # The Vale check kinds and the moderation rules are not needed by a default check.
        "MODULES = ('pandas', 'dslint.rules.voice', 'dslint.vale',"
        " 'dslint.rules.moderation.profanity')\n"
        f"report = check([{str(path)!r}], select={[select] if select else None!r})\n"
        "print(sorted(r.code for r in report.rules)[:1],"
        " sorted(m for m in MODULES if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, loaded = done.stdout.rsplit("] ", 1)
    assert loaded.strip() == repr(imported)
    assert first.strip("[]'") == {"S": "S001", "S013": "S013", "T": "T001", None: "D001"}[select]


def test_a_check_searches_the_installed_entry_points_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each search reads every installed package's metadata (3-5 ms); a check asked up to
    five times, for the catalog, the chosen rules, the reuse key and the reporters."""
    real = registry.entry_points
    searched: list[str] = []

    def counted(group: str) -> Any:
        searched.append(group)
        return real(group=group)

    monkeypatch.setattr(registry, "entry_points", counted)
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*clean_chat(3)))
    for _ in range(2):
        dslint.check([path], today=TODAY)
    assert searched == [registry.RULES_GROUP]


def test_shared_entries_are_dropped_after_their_last_reader(tmp_path: Path) -> None:
    """Memory at scale: the voice family's shared replies, counts and features (1.4 GB at a
    million examples) are let go once no rule still to run declares them."""
    import types

    from dslint.engine import release_shared
    from dslint.rule import DatasetRule

    class First(DatasetRule):
        shares = ("x.",)

    class Second(DatasetRule):
        shares = ("x.", "y.")

    first, second = First(), Second()
    dataset: Any = types.SimpleNamespace(cache={"x.1": 1, "y.1": 2, "z": 3})
    release_shared(dataset, [first, second], [second])
    assert dataset.cache == {"x.1": 1, "y.1": 2, "z": 3}  # the second rule still reads them
    release_shared(dataset, [first, second], [])
    assert dataset.cache == {"z": 3}  # an entry no rule declares is kept

    path = tmp_path / "d.jsonl"
    replies = [
        chat(f"Question {i}?", f"Thanks for asking about invoice {i}. You can download it from "
             "the billing page, and we keep a copy for seven years.")
        for i in range(40)
    ]  # fmt: skip
    shout = chat("Hi", "WOW!!! THIS IS AMAZING!!! BEST DAY EVER!!! " * 5)
    path.write_text(jsonl(*replies, shout), encoding="utf-8")
    report = dslint.check([path], select=["V"], today=TODAY)
    (checked,) = report.datasets
    assert not [key for key in checked.cache if key.startswith("voice.")], list(checked.cache)
    alone = dslint.check([path], select=["V011"], today=TODAY)
    assert [f for f in report.findings if f.code == "V011"] == list(alone.findings)
    assert alone.findings  # the comparison is not between two empty lists


def test_rule_triggers_do_not_hide_escaped_keys(lint) -> None:  # type: ignore[no-untyped-def]
    # "\u0074ool_calls" is "tool_calls": the substring pre-filter must not skip this line.
    line = (
        '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", '
        '"\\u0074ool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}'
    )
    findings = lint(jsonl(*clean_chat(50)) + line + "\n", select=["S201"])
    assert [(f.code, f.line, f.pointer) for f in findings] == [
        ("S201", 51, "/messages/1/tool_calls/0")
    ]


def test_dataset_rules_compare_examples_within_one_file_unless_combined(tmp_path: Path) -> None:
    with_prompt = tmp_path / "support.jsonl"
    with_prompt.write_text(
        jsonl(*[chat(f"Q{i}?", f"Answer {i}.", system="Be kind.") for i in range(50)])
    )
    without = tmp_path / "other.jsonl"
    without.write_text(jsonl(*[chat(f"Other {i}?", f"Reply {i}.") for i in range(10)]))
    separate = dslint.check([with_prompt, without], select=["V010"], today=TODAY)
    assert separate.findings == ()
    assert len(separate.datasets) == 2
    combined = dslint.check(
        [with_prompt, without], select=["V010"], combine_files=True, today=TODAY
    )
    assert {(Path(f.path).name, f.code) for f in combined.findings} == {("other.jsonl", "V010")}


def image_example(i: int) -> dict[str, Any]:
    picture = {"type": "image_url", "image_url": {"url": f"https://example.com/{i}.png"}}
    question = {"role": "user", "content": [{"type": "text", "text": f"What is in {i}?"}, picture]}
    return {"messages": [question, {"role": "assistant", "content": f"Picture {i} shows a cat."}]}


@pytest.mark.parametrize("cache", [False, True])
def test_images_after_the_format_sample_choose_a_vision_model_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool
) -> None:
    """A file's default model is chosen from its first examples. Text examples first and
    image ones after (two files joined) must not get a model without vision fine-tuning,
    which S023 would then report as the user's error."""
    from dslint import lean, models
    from dslint.api import check
    from dslint.engine import Engine

    reads: list[str] = []
    read = Engine._read
    monkeypatch.setattr(Engine, "_read", lambda self, path, *a: reads.append(path.name)
                        or read(self, path, *a))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lean, "MIN_BYTES", 0)  # with the cache: the re-run's fast lane too
    vision = models.resolve(models.default_for("chat", has_images=True), {}).name
    text_first = [*clean_chat(300), *(image_example(i) for i in range(5))]
    (tmp_path / "late.jsonl").write_text(jsonl(*text_first))
    (tmp_path / "early.jsonl").write_text(jsonl(*text_first[::-1]))
    for _ in range(2 if cache else 1):  # with the cache: a first run and a re-run
        report = check(["late.jsonl", "early.jsonl"], today=TODAY, cache=cache)
        assert [(f.path, f.model) for f in report.files] == [
            ("late.jsonl", vision),
            ("early.jsonl", vision),
        ]
        assert "S023" not in {f.code for f in report.findings}
    # The built-in record rules do not read the model: nothing was read twice for it.
    assert reads == ["late.jsonl", "early.jsonl"] * (2 if cache else 1)
    # A model the user chose is kept, and S023 says what it cannot take.
    report = check(["late.jsonl"], today=TODAY, model="gpt-4.1-mini-2025-04-14", cache=cache)
    assert [f.model for f in report.files] == ["gpt-4.1-mini-2025-04-14"]
    (finding,) = [f for f in report.findings if f.code == "S023"]
    assert finding.message.startswith("5 examples contain images")
