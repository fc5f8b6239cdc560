"""Every reporter: golden files, SARIF validity, fingerprints, limits, escaping, several outputs.

Golden files live in tests/golden/. After an intended change, regenerate them with
``DSLINT_UPDATE_GOLDEN=1 pytest tests/test_reporters.py`` and review the diff. The version
and the machine's absolute paths are replaced by placeholders before comparing.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import TODAY, clean_chat, jsonl
from dslint import __version__
from dslint.cli import cli
from dslint.finding import FIELDS, Category, Finding, Severity
from dslint.loader import FileInfo
from dslint.rawlines import read_lines_at
from dslint.registry import all_rules
from dslint.report import FileSummary, Report
from dslint.reporters.figures import default_epochs
from dslint.reporters.github import GithubReporter, escape_data, escape_property
from dslint.reporters.html import HtmlReporter
from dslint.reporters.json import JsonReporter
from dslint.reporters.markdown import MAX_BYTES, MarkdownReporter
from dslint.reporters.sarif import GITHUB_MAX_RESULTS, SarifReporter, _sentence, rule_descriptor
from dslint.reporters.text import TextReporter
from reportdata import EMAIL, IMG_PAYLOAD, SCRIPT_PAYLOAD, render_in, sample_report

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
SCHEMA = TESTS.parents[1] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
MULTITOOL = TESTS.parent / ".tools" / "sarif" / "node_modules" / ".bin" / "sarif-multitool"
UPDATE = bool(os.environ.get("DSLINT_UPDATE_GOLDEN"))

REPORTERS: dict[str, tuple[Any, str]] = {
    "text": (TextReporter, "txt"),
    "json": (JsonReporter, "json"),
    "sarif": (SarifReporter, "sarif"),
    "html": (HtmlReporter, "html"),
    "github": (GithubReporter, "txt"),
    "markdown": (MarkdownReporter, "md"),
}


def normalise(output: str, folder: Path) -> str:
    output = output.replace(folder.resolve().as_uri(), "file:///WORKSPACE")
    output = output.replace(str(folder.resolve()), "/WORKSPACE")
    return re.sub(rf"(?<![\w.]){re.escape(__version__)}(?![\w.])", "VERSION", output)


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Report, Path]:
    return sample_report(tmp_path), tmp_path


def sarif_of(report: Report, folder: Path) -> dict[str, Any]:
    return json.loads(render_in(folder, SarifReporter(root=folder), report))  # type: ignore[no-any-return]


def validate_sarif(document: dict[str, Any]) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(document)


# -- golden files ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_golden(name: str, sample: tuple[Report, Path]) -> None:
    report, folder = sample
    reporter_class, suffix = REPORTERS[name]
    output = normalise(render_in(folder, reporter_class(), report), folder)
    golden = GOLDEN / f"{name}.{suffix}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(output, encoding="utf-8", newline="")
    assert golden.is_file(), f"{golden} is missing: run with DSLINT_UPDATE_GOLDEN=1"
    assert output == golden.read_text(encoding="utf-8"), f"{name} output differs from {golden}"


def test_golden_clean_run(tmp_path: Path) -> None:
    data = tmp_path / "clean.jsonl"
    data.write_text(jsonl(*clean_chat(60)), encoding="utf-8")
    (tmp_path / ".git").mkdir()
    report = _check_in(tmp_path, "clean.jsonl")
    assert not report.findings
    document = sarif_of(report, tmp_path)
    validate_sarif(document)
    assert document["runs"][0]["results"] == []
    assert {r["id"] for r in document["runs"][0]["tool"]["driver"]["rules"]} == {
        r.code for r in report.rules
    }
    text = TextReporter().render(report)
    # (a run note may precede it, e.g. the OpenAI fine-tuning wind-down date)
    assert text.splitlines()[-1] == "No problems found in 1 file, 60 examples."
    assert all(line.startswith("note: ") for line in text.splitlines()[:-1])
    assert "No problems found." in render_in(tmp_path, HtmlReporter(), report)
    assert "dslint: No problems" in GithubReporter(root=tmp_path).render(report)
    assert "no problems found" in MarkdownReporter().render(report)


def _check_in(folder: Path, *paths: str) -> Report:
    from dslint.api import check

    previous = Path.cwd()
    os.chdir(folder)
    try:
        return check(list(paths), today=TODAY)
    finally:
        os.chdir(previous)


# -- JSON ------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [0, 1, 3])
def test_json_report_is_the_standard_indented_json(count: int) -> None:
    """The JSON reporter writes its findings with the C encoder; the text must be what
    ``json.dumps(indent=2)`` gives, for values that look like its separators too."""
    awkward = ['a "quoted" },\n      { brace', "ünïcødé \u2028 \t tab", "", "}", "{"]
    findings = tuple(
        Finding(
            code="V011",
            name="tone-outlier",
            category=Category.VOICE,
            severity=Severity.INFO,
            path=f"data/{awkward[i % 5]}.jsonl",
            line=i or None,
            column=None if i % 2 else 3,
            pointer="/messages/0/content",
            message=awkward[(i + 1) % 5],
            fingerprint=f"{i:016x}",
            end_column=7 if i == 2 else None,
        )
        for i in range(count)
    )
    report = Report(findings=findings, files=(), rules=(), notes=("a note",))
    output = JsonReporter().render(report)
    document = json.loads(output)
    assert output == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert [f["code"] for f in document["findings"]] == ["V011"] * count
    assert [list(f) for f in document["findings"]] == [list(FIELDS)] * count
    # Every field of a finding is in the report but the internal ones (--changed-since's
    # related lines, and the baseline's pathless fingerprint).
    assert [f.name for f in dataclasses.fields(Finding)] == [*FIELDS, "related", "pathless"]


# -- SARIF -----------------------------------------------------------------------------------
def test_sarif_is_valid_against_the_official_schema(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    validate_sarif(sarif_of(report, folder))


def test_sarif_rules_and_results(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    run = sarif_of(report, folder)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r.code for r in report.rules)
    by_id = {r["id"]: r for r in rules}
    privacy = by_id["P901"]
    assert privacy["properties"]["security-severity"] == "5.5"
    assert "security" in privacy["properties"]["tags"]
    assert privacy["defaultConfiguration"]["level"] == "warning"
    assert "security-severity" not in by_id["S103"]["properties"]
    assert by_id["S103"]["properties"]["precision"] == "very-high"
    assert by_id["S103"]["help"]["markdown"].startswith("## S103 `invalid-role`")
    assert by_id["S103"]["shortDescription"]["text"].endswith(".")
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["automationDetails"]["id"] == "dslint/"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == folder.resolve().as_uri() + "/"

    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]): r
               for r in run["results"]}  # fmt: skip
    assert len(results) == len(report.findings)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact == {"uri": "data/train.jsonl", "uriBaseId": "%SRCROOT%", "index": 0}
    email = results[("P901", 7)]
    region = email["locations"][0]["physicalLocation"]["region"]
    assert region["endColumn"] - region["startColumn"] == len(EMAIL)
    assert email["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == (
        "/messages/1/content"
    )
    assert email["level"] == "warning"
    assert EMAIL not in json.dumps(run)  # redacted values only
    file_level = results[("S021", 1)]
    assert file_level["properties"]["scope"] == "file"
    assert file_level["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "logicalLocations" not in file_level["locations"][0]
    dataset_level = results[("D901", 1)]
    assert dataset_level["properties"]["scope"] == "dataset"
    assert dataset_level["level"] == "note"


def test_sarif_help_of_privacy_and_moderation_rules_quotes_no_example() -> None:
    for rule in all_rules():
        descriptor = rule_descriptor(rule)
        help_text = descriptor["help"]["text"] + descriptor["help"]["markdown"]
        if rule.category in (Category.PRIVACY, Category.MODERATION):
            assert "FAIL::" not in help_text and f"dslint rule {rule.code}" in help_text
            assert descriptor["fullDescription"]["text"] == _sentence(rule.summary())
        else:
            assert descriptor["help"]["text"] == rule.documentation()


def test_sarif_fingerprints_survive_inserted_lines(tmp_path: Path) -> None:
    before_folder, after_folder = tmp_path / "before", tmp_path / "after"
    before_folder.mkdir()
    after_folder.mkdir()
    before = sarif_of(sample_report(before_folder), before_folder)["runs"][0]["results"]
    after = sarif_of(sample_report(after_folder, extra_top_lines=3), after_folder)["runs"][0][
        "results"
    ]

    def keyed(results: list[dict[str, Any]], shift: int) -> dict[str, tuple[str, int]]:
        return {
            r["partialFingerprints"]["primaryLocationLineHash"]: (
                r["ruleId"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"]
                + (shift if r["properties"]["scope"] == "record" else 0),
            )
            for r in results
        }

    old = keyed(before, 3)
    new = keyed(after, 0)
    record_level = [r for r in before if r["properties"]["scope"] == "record"]
    assert len(record_level) >= 4
    # Same hashes, and each now points three lines further down.
    assert set(old) <= set(new)
    for fingerprint, (rule, line) in old.items():
        assert new[fingerprint] == (rule, line)
    assert len(set(old)) == len(before)  # distinct per finding


def test_sarif_duplicate_records_get_distinct_hashes(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    line = json.dumps({"messages": [{"role": "bot", "content": "x"}]})
    (tmp_path / "d.jsonl").write_text(jsonl(*clean_chat(12)) + f"{line}\n{line}\n", "utf-8")
    results = sarif_of(_check_in(tmp_path, "d.jsonl"), tmp_path)["runs"][0]["results"]
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    assert len(hashes) == len(set(hashes))
    s103 = sorted(h for r, h in zip(results, hashes, strict=True) if r["ruleId"] == "S103")
    assert [h.rsplit(":", 1)[1] for h in s103] == ["1", "2"]


def test_sarif_links_the_examples_a_finding_names(tmp_path: Path) -> None:
    """A duplicate finding's other example is a related location, linked from the message
    (GitHub shows related locations only through such links); cached runs write the same."""
    (tmp_path / ".git").mkdir()
    examples: list[Any] = clean_chat(40)
    examples[30] = examples[3]  # D001 on line 31, the copy of line 4
    prompt = examples[7]["messages"][-2]["content"]
    examples[35] = {
        "messages": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": "Something else entirely."},
        ]
    }
    (tmp_path / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    (tmp_path / "val.jsonl").write_text(jsonl(*clean_chat(60)[50:], examples[9]), "utf-8")
    arguments = ["check", "train.jsonl", "--validation", "val.jsonl", "--today", "2026-11-24"]
    runs = []
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        for options in (["--no-cache"], [], []):  # the last one reuses the whole check
            result = CliRunner().invoke(cli, [*arguments, *options, "-o", "out.sarif"])
            assert result.exit_code == 1, result.output
            runs.append((tmp_path / "out.sarif").read_text(encoding="utf-8"))
    finally:
        os.chdir(previous)
    assert runs[0] == runs[1] == runs[2]
    document = json.loads(runs[0])
    validate_sarif(document)
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]): r
               for r in document["runs"][0]["results"]}  # fmt: skip
    named = {
        key: (r["message"]["text"], [(loc["id"], loc["physicalLocation"]["artifactLocation"]["uri"],
                                      loc["physicalLocation"]["region"]["startLine"])
                                     for loc in r["relatedLocations"]])
        for key, r in results.items() if "relatedLocations" in r
    }  # fmt: skip
    copy_text, copy_places = named[("D001", 31)]
    assert copy_text.startswith("Exact duplicate of [line 4](1) (copy 2 of 2)")
    assert copy_places == [(1, "train.jsonl", 4)]
    # D002 stands on one of the two answers to the prompt (chosen by content) and names the other.
    (answer,) = [key for key in named if key[0] == "D002"]
    answer_text, answer_places = named[answer]
    other = {8: 36, 36: 8}[answer[1]]
    assert f"[line {other}](1)" in answer_text and answer_places == [(1, "train.jsonl", other)]
    leak_text, leak_places = named[("D004", 11)]
    assert leak_places == [(1, "train.jsonl", 10)] and "[line 10](1)" in leak_text
    # Findings that name no other example have neither.
    assert all(key[0].startswith("D") for key in named)


def test_sarif_escapes_brackets_only_in_a_message_with_links(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    first = report.findings[0]
    path = next(f.path for f in report.findings if f.path)
    bracketed = dataclasses.replace(first, message="like line 3 [profile 'x'], see line 30",
                                    path=path, related=((path, 3),))  # fmt: skip
    unnamed = dataclasses.replace(first, message="a [bracket] and line 3", related=((path, 9),))
    plain = dataclasses.replace(first, message="a [bracket] and line 3")
    hand_built = dataclasses.replace(report, findings=(bracketed, unnamed, plain))
    results = sarif_of(hand_built, folder)["runs"][0]["results"]
    texts = [r["message"]["text"] for r in results]
    assert texts == [
        "Like [line 3](1) \\[profile 'x'\\], see line 30.",
        "A [bracket] and line 3.",  # no mention of line 9: no link, so nothing escaped
        "A [bracket] and line 3.",
    ]
    assert [len(r.get("relatedLocations", [])) for r in results] == [1, 1, 0]
    validate_sarif(sarif_of(hand_built, folder))


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is missing")
def test_sarif_multitool_finds_nothing(sample: tuple[Report, Path], tmp_path: Path) -> None:
    assert MULTITOOL.exists(), (
        "the SARIF multitool is not installed: run .ci/run, or "
        "npm install --prefix .tools/sarif @microsoft/sarif-multitool"
    )
    report, folder = sample
    # Every installed rule in the table, so each rule's metadata is checked too.
    everything = {r.code: r for r in (*all_rules(), *report.rules)}
    # And a finding that names another example: a related location linked from its message.
    path = next(f.path for f in report.findings if f.line)
    named = dataclasses.replace(
        next(f for f in report.findings if f.line), message="like line 3 [x]", related=((path, 3),)
    )
    report = dataclasses.replace(
        report, rules=tuple(everything.values()), findings=(*report.findings, named)
    )
    log = tmp_path / "dslint.sarif"
    log.write_text(render_in(folder, SarifReporter(root=folder), report), encoding="utf-8")
    out = tmp_path / "validation.sarif"
    completed = subprocess.run(
        [str(MULTITOOL), "validate", "--rule-kind", '"Gh;Sarif"', "-o", str(out), str(log)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(out.read_text(encoding="utf-8-sig"))["runs"][0]["results"]
    assert results == [], [(r["ruleId"], r["message"]) for r in results]


def test_sarif_keeps_the_most_severe_5000_and_says_so(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    bad = "not json\n" * (GITHUB_MAX_RESULTS + 10)  # errors (S001)
    data = tmp_path / "big.jsonl"
    data.write_text(jsonl(*clean_chat(10)) + '{"messages": [{"role": "user", "content": ""}]}\n'
                    * 30 + bad, encoding="utf-8")  # fmt: skip
    runner = CliRunner()
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = runner.invoke(
            cli, ["check", "big.jsonl", "-o", "out.sarif", "--today", "2026-11-24"]
        )
    finally:
        os.chdir(previous)
    assert result.exit_code == 1, result.output
    assert "note: the sarif report keeps the 5,000 most severe of" in result.output
    run = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))["runs"][0]
    assert len(run["results"]) == GITHUB_MAX_RESULTS
    assert {r["level"] for r in run["results"]} == {"error"}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("5,000 most severe" in n["message"]["text"] for n in notes)
    validate_sarif({"version": "2.1.0", "runs": [run]})


def test_limited_keeps_severity_then_file_order() -> None:
    def finding(line: int, severity: Severity) -> Finding:
        return Finding(
            "S001", "x", Category.SCHEMA, severity, "a.jsonl", line, 1, "", "m", str(line)
        )

    severities = [Severity.INFO, Severity.ERROR, Severity.WARNING, Severity.ERROR, Severity.INFO]
    report = Report(findings=tuple(finding(i + 1, s) for i, s in enumerate(severities)))
    assert [f.line for f in report.limited(3).findings] == [2, 3, 4]
    assert report.limited(10) is report


# -- several outputs in one run ---------------------------------------------------------------
def test_several_outputs_in_one_run(sample: tuple[Report, Path]) -> None:
    _, folder = sample
    runner = CliRunner()
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = runner.invoke(
            cli,
            ["check", "data/train.jsonl", "-o", "dslint.sarif", "-o", "report.html",
             "-o", "summary.md", "--today", "2026-11-24"],
            env={"GITHUB_ACTIONS": ""},
        )  # fmt: skip
    finally:
        os.chdir(previous)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1].startswith("Found ")
    assert "data/train.jsonl:3:24: S103 error:" in result.output
    sarif = json.loads((folder / "dslint.sarif").read_text(encoding="utf-8"))
    validate_sarif(sarif)
    codes = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert codes == {line.split()[1] for line in lines[:-1] if not line.startswith("note: ")}
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and 'data-rule="S103"' in page
    assert (folder / "summary.md").read_text(encoding="utf-8").startswith("## dslint: ✖")


def test_github_is_the_default_under_actions(sample: tuple[Report, Path]) -> None:
    _, folder = sample
    runner = CliRunner()
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = runner.invoke(cli, ["check", "data/train.jsonl"], env={"GITHUB_ACTIONS": "true"})
        explicit = runner.invoke(
            cli, ["check", "data/train.jsonl", "--format", "text"], env={"GITHUB_ACTIONS": "true"}
        )
    finally:
        os.chdir(previous)
    assert result.output.startswith("::error file=data/train.jsonl,")
    assert not explicit.output.startswith("::")


# -- GitHub annotations ----------------------------------------------------------------------
def _finding(severity: Severity, line: int | None, message: str, path: str = "a.jsonl") -> Finding:
    return Finding("S103", "invalid-role", Category.SCHEMA, severity, path, line,
                   2 if line else None, "/messages/0", message, f"f{line}")  # fmt: skip


def test_github_escapes_per_the_workflow_command_spec(tmp_path: Path) -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    report = Report(
        findings=(_finding(Severity.ERROR, 3, "bad\n::set-env name=X::1 50%", "d,1:x.jsonl"),),
        files=(FileSummary("d,1:x.jsonl", "chat", 5, None, 10),),
    )
    first = GithubReporter(root=tmp_path).render(report).splitlines()[0]
    assert first == (
        "::error file=d%2C1%3Ax.jsonl,line=3,col=2,title=S103 (invalid-role)::"
        "bad%0A::set-env name=X::1 50%25"
    )


def test_github_puts_errors_first_and_closes_with_a_summary(tmp_path: Path) -> None:
    findings = [_finding(Severity.INFO, 1, "i"), _finding(Severity.WARNING, 2, "w")]
    findings += [_finding(Severity.ERROR, n, "e") for n in range(3, 15)]
    findings.append(_finding(Severity.ERROR, None, "file-level"))
    report = Report(findings=tuple(findings), files=(FileSummary("a.jsonl", "chat", 20, None, 1),))
    lines = GithubReporter(root=tmp_path).render(report).splitlines()
    commands = [line.split(" ", 1)[0] for line in lines if line.startswith("::")]
    assert commands == ["::error"] * 13 + ["::warning", "::notice"]
    assert "::error file=a.jsonl,title=S103 (invalid-role)::file-level" in lines
    assert "10 annotations per severity" in lines[-2]
    assert (
        lines[-1]
        == "dslint: Found 15 problems (13 errors, 1 warning, 1 info) in 1 file, 20 examples."
    )


# -- markdown --------------------------------------------------------------------------------
def test_markdown_escapes_and_stays_under_one_mebibyte() -> None:
    message = "role '<script>' | @octocat *bold* [link](x) " + "x" * 300
    findings = tuple(_finding(Severity.WARNING, n, message) for n in range(1, 20_001))
    files = tuple(FileSummary(f"f{i}.jsonl", "chat", 1, None, 1) for i in range(3_000))
    output = MarkdownReporter().render(Report(findings=findings, files=files))
    assert len(output.encode("utf-8")) < MAX_BYTES
    assert "<script>" not in output and "&lt;script&gt;" in output
    assert "@octocat" not in output and "&#64;octocat" in output
    assert "\\| &#64;octocat \\*bold\\* \\[link\\](x)" in output
    assert "first 200 of 20,000" in output
    assert "2,900 more files" in output


# -- HTML ------------------------------------------------------------------------------------
def test_html_escapes_dataset_text_and_redacts_privacy(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    page = render_in(folder, HtmlReporter(), report)
    assert SCRIPT_PAYLOAD not in page and IMG_PAYLOAD not in page
    assert "&lt;script&gt;window.__pwned" in page
    assert page.count("<script>") == 1  # ours
    assert EMAIL not in page and "Write to [redacted] | please" in page


def test_html_csp_allows_exactly_the_page_style_and_script(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    page = render_in(folder, HtmlReporter(), report)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert style is not None and script is not None

    def digest(source: str) -> str:
        return base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()

    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == f"'sha256-{digest(style.group(1))}'"
    assert directives["script-src"] == f"'sha256-{digest(script.group(1))}'"
    # No inline style or event handler attribute in any tag.
    assert not re.search(r"<[a-zA-Z][^<>]*\s(style|on\w+)=", page)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched


def test_html_without_samples_has_no_dataset_text(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    page = render_in(folder, HtmlReporter(samples=False), report)
    for marker in ("__pwned", "Be brief", "Inserted", "a***@example.com", "bot'"):
        assert marker not in page
    assert "<details>" not in page
    assert page.count("<tr data-severity") == len(report.findings)
    assert 'id="chart-tokens"' in page  # aggregates stay


def test_html_token_figures_degrade_without_token_columns(tmp_path: Path) -> None:
    report = sample_report(tmp_path, tokens=False)
    page = render_in(tmp_path, HtmlReporter(), report)
    assert 'id="chart-tokens"' not in page and 'id="sum-tokens"' not in page
    assert 'id="sum-cost"' not in page
    assert 'id="chart-rules"' in page and 'id="chart-roles"' in page
    markdown = MarkdownReporter().render(report)
    assert "tokens" not in markdown.split("###")[0]


def test_role_figures_count_messages_without_a_role(tmp_path: Path) -> None:
    from dslint.api import check
    from dslint.reporters.figures import shape_figures

    path = tmp_path / "d.jsonl"
    no_role = {"messages": [{"content": "hi"}, {"role": "assistant", "content": "yo"}]}
    roles = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    path.write_text(json.dumps(no_role) + "\n" + json.dumps(roles) + "\n")
    figures = shape_figures(check([path], today=TODAY))
    assert figures.roles == {"(none)": 1, "assistant": 2, "user": 1}


def test_html_token_figures_with_token_columns(sample: tuple[Report, Path]) -> None:
    report, folder = sample
    page = render_in(folder, HtmlReporter(), report)
    assert 'id="sum-tokens">7,815' in page
    # 11 training examples: 9 epochs; each example billed up to the 4,096 limit; $8 per 1M.
    billed = 7_815 - (4_600 - 4_096)
    assert f'id="sum-cost">${billed * 9 * 8 / 1e6:,.2f}' in page
    assert 'class="limit"' in page and "limit 4,096 (gpt-3.5-turbo-0613)" in page


@pytest.mark.parametrize(
    ("examples", "epochs"), [(1, 25), (10, 10), (11, 9), (34, 3), (1000, 3), (9000, 2), (30000, 1)]
)
def test_default_epochs(examples: int, epochs: int) -> None:
    assert default_epochs(examples) == epochs


# -- raw lines -------------------------------------------------------------------------------
@pytest.mark.parametrize("compressed", [False, True])
def test_read_lines_at_offsets(tmp_path: Path, compressed: bool) -> None:
    content = "\ufeffline one\nline two\r\nline three"
    path = tmp_path / ("d.jsonl.gz" if compressed else "d.jsonl")
    data = content.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compressed else data)
    info = FileInfo(path="d", real_path=path, gzip=compressed)
    two = data.index(b"line two")
    three = data.index(b"line three")
    assert read_lines_at(info, {0, two, three}) == {
        0: "line one",
        two: "line two",
        three: "line three",
    }
    assert read_lines_at(info, set()) == {}
    assert read_lines_at(dataclasses.replace(info, real_path=tmp_path / "gone"), {0}) == {}


def test_preference_examples_name_the_preferred_and_the_other_answer() -> None:
    from dslint.reporters.examples import parts_of

    record = {
        "input": {"messages": [{"role": "user", "content": "Hi"}]},
        "preferred_output": [{"role": "assistant", "content": "Hello!"}],
        "non_preferred_output": [{"role": "assistant", "content": "What?"}],
    }
    assert [(p.pointer, p.role, p.text) for p in parts_of(record)] == [
        ("/input/messages/0", "user", "Hi"),
        ("/preferred_output/0", "assistant (preferred)", "Hello!"),
        ("/non_preferred_output/0", "assistant (not preferred)", "What?"),
    ]
