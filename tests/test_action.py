"""action.yml: its structure, and its shell steps run for real against a stand-in dslint.

GitHub's runner cannot run here, so the test checks what can go wrong on our side: the
metadata is a composite action whose expressions name declared inputs and step outputs, every
``run`` script is valid bash, and the check step, executed by bash with GitHub's environment
files, calls dslint with options that the real ``dslint check`` parses, writes the step
summary and outputs, and hands the exit code to the final step.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from dslint.cli import EXTENSIONS, cli

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in STEPS if s.get("id") == step_id)


def last_step() -> dict[str, Any]:
    return STEPS[-1]


def test_the_metadata_is_a_composite_action_with_declared_names() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(ACTION)
    text = (ROOT / "action.yml").read_text()
    declared = set(ACTION["inputs"])
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used <= declared, used - declared
    ids = {s["id"] for s in STEPS if "id" in s}
    for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
        assert step_id in ids
        assert re.search(rf"echo \"{output}=", step(step_id)["run"]), (step_id, output)
    for entry in STEPS:
        assert ("run" in entry) != ("uses" in entry)
        if "run" in entry:
            assert entry["shell"] == "bash"  # composite run steps must name their shell
    uses = [s["uses"] for s in STEPS if "uses" in s]
    assert "github/codeql-action/upload-sarif@v3" in uses


def test_every_run_script_is_valid_bash() -> None:
    for entry in STEPS:
        if "run" in entry:
            done = subprocess.run(["bash", "-n"], input=entry["run"], text=True,
                                  capture_output=True)  # fmt: skip
            assert done.returncode == 0, (entry.get("name"), done.stderr)


def test_the_sarif_upload_is_skipped_for_fork_pull_requests() -> None:
    upload = next(s for s in STEPS if s.get("uses", "").startswith("github/codeql-action"))
    condition = " ".join(upload["if"].split())
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "inputs.upload-sarif == 'auto'" in condition
    assert upload["with"]["sarif_file"] == "${{ steps.check.outputs.sarif-file }}"


STAND_IN = """#!{python}
import json, os, sys
arguments = sys.argv[1:]
with open(os.environ["CALLS"], "a") as log:
    log.write(json.dumps(arguments) + "\\n")
for index, value in enumerate(arguments):
    if value == "-o":
        with open(arguments[index + 1], "w") as out:
            out.write("## dslint summary\\n" if arguments[index + 1].endswith(".md") else "{{}}")
print("::error file=train.jsonl,line=3::stand-in finding")
sys.exit(int(os.environ["STAND_IN_EXIT"]))
"""


def run_step(
    entry: dict[str, Any], env: dict[str, str], folder: Path
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as GitHub does (bash -e -o pipefail) with its env filled in."""
    environment = {**os.environ, **env}
    for key, value in entry.get("env", {}).items():
        environment[key] = env.get(key, "") if "${{" in str(value) else str(value)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", entry["run"]],
        cwd=folder, env=environment, text=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def runner(tmp_path: Path) -> dict[str, str]:
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    stand_in = bin_folder / "dslint"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    for name in ("workspace", "temp"):
        (tmp_path / name).mkdir()
    return {
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls.jsonl"),
        "GITHUB_WORKSPACE": str(tmp_path / "workspace"),
        "RUNNER_TEMP": str(tmp_path / "temp"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def outputs(runner: dict[str, str]) -> dict[str, str]:
    lines = Path(runner["GITHUB_OUTPUT"]).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_the_check_step_calls_dslint_with_options_it_accepts(
    runner: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **runner,
        "STAND_IN_EXIT": "1",
        "PATHS": "data/train.jsonl data/val.jsonl",
        "FAIL_ON": "warning",
        "BASELINE_FILE": "/tmp/base.json",
        "CHANGED_SINCE": "origin/main",
        "EXTRA_ARGS": "--model gpt-4.1-mini --ignore Q001",
    }
    done = run_step(step("check"), env, tmp_path / "workspace")
    assert done.returncode == 0, done.stderr  # the gate is the last step, not this one
    assert "::error file=train.jsonl,line=3::" in done.stdout  # annotations reach the log
    (arguments,) = [json.loads(line) for line in Path(runner["CALLS"]).read_text().splitlines()]
    assert arguments[:3] == ["check", "data/train.jsonl", "data/val.jsonl"]
    # The real command line parser accepts every option the action passes.
    context = cli.commands["check"].make_context("check", arguments[1:])
    assert context.params["fail_on"] == "warning"
    assert context.params["baseline_file"] == "/tmp/base.json"
    assert context.params["changed_since"] == "origin/main"
    assert context.params["output_format"] == "github"
    assert context.params["model"] == "gpt-4.1-mini"
    assert context.params["no_cache"]  # a runner is thrown away with its cache
    formats = sorted(EXTENSIONS[Path(out).suffix] for out in context.params["outputs"])
    assert formats == ["markdown", "sarif"]
    assert "## dslint summary" in Path(runner["GITHUB_STEP_SUMMARY"]).read_text()
    written = outputs(runner)
    assert written["exit-code"] == "1"
    assert written["sarif-file"] == str(tmp_path / "workspace" / "dslint.sarif")

    # The final step turns exit codes into the job's result.
    for code, expected in (("0", 0), ("1", 1), ("2", 2)):
        final = run_step(last_step(), {"CODE": code}, tmp_path)
        assert final.returncode == expected


def test_without_baseline_or_revision_no_such_options_are_passed(
    runner: dict[str, str], tmp_path: Path
) -> None:
    env = {**runner, "STAND_IN_EXIT": "0", "PATHS": ".", "FAIL_ON": "error"}
    assert run_step(step("check"), env, tmp_path / "workspace").returncode == 0
    (arguments,) = [json.loads(line) for line in Path(runner["CALLS"]).read_text().splitlines()]
    params = cli.commands["check"].make_context("check", arguments[1:]).params
    assert params["baseline_file"] is None and params["changed_since"] is None
    assert params["paths"] == (".",)
    assert outputs(runner)["exit-code"] == "0"


def test_the_baseline_comes_from_the_base_branch(runner: dict[str, str], tmp_path: Path) -> None:
    """A pull request that edits the baseline does not change what the gate accepts."""
    origin = tmp_path / "origin"
    origin.mkdir()
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]

    def git(folder: Path, *args: str) -> None:
        subprocess.run(["git", *identity, *args], cwd=folder, check=True, capture_output=True)

    git(origin, "init", "-q", "-b", "main")
    (origin / ".dslint-baseline.json").write_text('{"version": 1, "findings": []}\n')
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "base")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-qb", "pr")
    (clone / ".dslint-baseline.json").write_text('{"version": 1, "findings": ["accept me"]}\n')
    git(clone, "commit", "-qam", "accept my own findings")
    env = {**runner, "BASELINE": ".dslint-baseline.json", "BASE_REF": "main"}
    done = run_step(step("baseline"), env, clone)
    assert done.returncode == 0, done.stderr
    used = Path(outputs(runner)["file"])
    assert used.read_text() == '{"version": 1, "findings": []}\n'
