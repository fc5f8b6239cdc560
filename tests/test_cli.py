"""The command line, through click's CliRunner: output formats, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, ROOT, clean_chat, jsonl
from dslint import __version__
from dslint.cli import cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)

    def invoke(*args: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return invoke


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    lines = clean_chat(50)
    lines[2] = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}
    lines[4] = {
        "messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "Hello"}]
    }
    path.write_text(jsonl(*lines))
    return path


def test_text_output_and_exit_code(run, data: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("check", data.name)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("train.jsonl:3:")
    assert " S104 error: " in lines[0]
    assert lines[1].startswith("train.jsonl:5:") and " Q001 warning: " in lines[1]
    assert lines[-1] == "Found 2 problems (1 error, 1 warning) in 1 file, 50 examples."
    assert "\x1b[" not in result.output  # not a terminal: no colour


def test_fail_on_and_exit_zero(run, data: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("check", data, "--ignore", "S104").exit_code == 0
    assert run("check", data, "--ignore", "S104", "--fail-on", "warning").exit_code == 1
    assert run("check", data, "--fail-on", "never").exit_code == 0
    assert run("check", data, "--exit-zero").exit_code == 0


def test_clean_data_exits_zero(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.jsonl").write_text(jsonl(*clean_chat(50)))
    result = run("check", "ok.jsonl", "--today", "2026-01-01")
    assert result.exit_code == 0
    assert result.output == "No problems found in 1 file, 50 examples.\n"


def test_json_contract(run, data: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("check", data, "--format", "json")
    document = json.loads(result.output)
    assert document["tool"] == {"name": "dslint", "version": __version__}
    assert document["summary"]["findings"] == 2
    assert document["summary"]["by_severity"] == {"error": 1, "warning": 1, "info": 0}
    finding = document["findings"][0]
    contract = {
        "code",
        "name",
        "category",
        "severity",
        "path",
        "line",
        "column",
        "pointer",
        "message",
        "fingerprint",
    }
    assert contract <= finding.keys()
    assert (finding["code"], finding["name"], finding["line"], finding["pointer"]) == (
        "S104", "missing-content", 3, "/messages/1",
    )  # fmt: skip


def test_select_and_ignore_by_prefix_name_and_category(run, data: Path) -> None:  # type: ignore[no-untyped-def]
    def codes(*args: str) -> list[str]:
        out = json.loads(run("check", data, "--format", "json", *args).output)
        return [f["code"] for f in out["findings"]]

    assert codes("--select", "Q") == ["Q001"]
    assert codes("--select", "missing-content") == ["S104"]
    assert codes("--ignore", "quality") == ["S104"]
    assert codes("--ignore", "S1,Q001") == []


def test_colour_only_on_a_terminal_and_never_under_no_color(
    run, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("dslint.cli._color", lambda stream: True)
    assert "\x1b[" in run("check", data).output
    monkeypatch.undo()
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert "\x1b[" not in run("check", data).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "nope.jsonl"], "nope.jsonl: no such file or folder"),
        (
            ["check", "train.jsonl", "--model", "gpt-4.1-mimi"],
            "unknown model 'gpt-4.1-mimi'; closest: gpt-4.1-mini",
        ),
        (["check", "train.jsonl", "--select", "X999"], "'X999' matches no rule"),
        (["check", "train.jsonl", "-o", "report.pdf"], "cannot tell the format"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    run, data: Path, args: list[str], message: str
) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_config_is_named(run, data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dslint.toml").write_text('selekt = ["S"]\n')
    result = run("check", data)
    assert result.exit_code == 2
    assert "unknown key 'selekt'" in result.output and "dslint.toml" in result.output


def test_several_outputs_in_one_run(run, data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("check", data, "-o", "out.json", "-o", "out.txt")
    assert result.exit_code == 1
    assert json.loads((tmp_path / "out.json").read_text())["summary"]["findings"] == 2
    assert (tmp_path / "out.txt").read_text().splitlines()[-1].startswith("Found 2 problems")
    assert result.output.splitlines()[-1].startswith("Found 2 problems")


def test_an_output_never_replaces_an_input(run, data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A dataset named .json (S018 says to rename it), given by name or found by a glob, the
    # baseline and the config: -o naming one of them is an error before anything is written.
    named = tmp_path / "sets" / "train.json"
    named.parent.mkdir()
    named.write_bytes(data.read_bytes())
    run("baseline", data, "-o", "base.json")
    (tmp_path / "settings.txt").write_text("fail-on = 'error'\n")  # a config of any name
    kept = {p: p.read_bytes() for p in (named, tmp_path / "base.json", tmp_path / "settings.txt")}
    for arguments, output in [
        (["sets/train.json"], "sets/train.json"),
        (["sets/*.json"], "sets/train.json"),
        ([data, "--baseline", "base.json"], "base.json"),
        ([data, "--config", "settings.txt"], "settings.txt"),
    ]:
        result = run("check", *arguments, "-o", output)
        assert result.exit_code == 2, (arguments, result.output)
        assert result.output.endswith(
            f"dslint: error: -o {output} is {output}, an input of this check: the report would "
            "replace it; choose another path\n"
        )
    assert {p: p.read_bytes() for p in kept} == kept


def test_quiet_prints_findings_only(run, data: Path) -> None:  # type: ignore[no-untyped-def]
    lines = run("check", data, "--quiet").output.splitlines()
    assert len(lines) == 2 and all(" error: " in x or " warning: " in x for x in lines)


def test_rules_listing_and_rule_page(run) -> None:  # type: ignore[no-untyped-def]
    rules = json.loads(run("rules", "--format", "json").output)
    assert {"code", "name", "category", "severity", "enabled_by_default", "summary"} <= rules[
        0
    ].keys()
    assert {r["code"] for r in rules} >= {"S001", "S101", "S202", "Q001"}
    page = run("rule", "S202").output
    assert page.startswith("# S202 `invalid-arguments`")
    assert "double-encodes" in page
    assert run("rule", "invalid-arguments").output == page
    missing = run("rule", "Z123")
    assert missing.exit_code == 2 and "no rule 'Z123'" in missing.output


def test_docs_rules_md_is_current() -> None:
    from dslint.docs import markdown_reference

    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == markdown_reference(), (
        "docs/rules.md is stale: run python -m dslint.docs > docs/rules.md"
    )


def test_quick_start_on_the_fixtures_shows_real_findings(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", FIXTURES)
    assert result.exit_code == 1
    assert "S202 error" in result.output and "S020 error" in result.output
    assert "Traceback" not in result.output


# -- the command's end (dslint.cli.main ends the process with os._exit) ---------------------


def test_the_command_ends_with_its_status_its_whole_output_and_the_exit_handlers(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    data = tmp_path / "bad.jsonl"
    # Enough findings that the JSON is far larger than a pipe's buffer: all of it must arrive.
    data.write_text(jsonl(*[{"messages": [{"role": "human", "content": f"Hi {i}"}]}
                            for i in range(400)]), encoding="utf-8")  # fmt: skip
    probe = (
        "import atexit, sys, threading, time\n"
        "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        "threading.Thread(target=lambda: (time.sleep(1.5), print('thread done',"
        " file=sys.stderr))).start()\n"
        "from dslint.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for arguments, status in ((["--format", "json"], 1), (["--exit-zero", "--format", "json"], 0),
                              (["--fail-on", "bogus"], 2)):  # fmt: skip
        done = subprocess.run([sys.executable, "-c", probe, "check", str(data), *arguments],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == status, done.stderr
        assert "handler ran" in done.stderr and "thread done" in done.stderr
        if status != 2:
            assert len(json.loads(done.stdout)["findings"]) >= 400


def test_exit_codes_of_sys_exit_values(capsys: pytest.CaptureFixture[str]) -> None:
    from dslint.cli import _exit_status

    assert [_exit_status(code) for code in (None, 0, 1, 2, 256)] == [0, 0, 1, 2, 0]
    assert _exit_status("stopped: no input") == 1
    assert capsys.readouterr().err == "stopped: no input\n"


def test_the_frames_are_asked_for_only_by_reports_that_show_them(
    run, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from dslint import api

    asked: list[bool] = []
    real = api.check

    def check(*args: object, **kwargs: object) -> object:
        asked.append(bool(kwargs["datasets"]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "check", check)
    run("check", data, "--select", "S", "--format", "json")
    run("check", data, "--select", "S", "-o", tmp_path / "report.html")
    run("check", data, "--select", "S", "--format", "markdown")
    assert asked == [False, True, True]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "S104" in page and "train.jsonl" in page
