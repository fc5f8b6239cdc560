"""The pre-commit hook, through the real ``pre-commit try-repo`` on a temporary repository
(and ``pre-commit run`` with a user's config, where the hook needs ``args``).

``try-repo`` installs the hook from a git repository at a commit (plus uncommitted changes
to *tracked* files only), so the test commits a snapshot of this working tree, untracked
new files included, and points ``try-repo`` at it: what is tested is exactly the code here.

pre-commit builds a fresh virtual environment for the hook and runs ``pip install .`` in the
snapshot on every ``try-repo``. So that this takes seconds, not a minute, the test puts its
own site-packages on ``PYTHONPATH``: pip then finds pandas, pyarrow and the rest already
installed and only builds and installs dslint itself from the snapshot (dslint is a regular
package in the hook's environment, so it wins over anything on that path).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT, clean_chat, jsonl

pytestmark = pytest.mark.slow

IDENTITY = ["-c", "user.name=dslint tests", "-c", "user.email=tests@example.com"]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args], cwd=folder, capture_output=True, text=True, check=True
    )
    return done.stdout


def project_files() -> list[Path]:
    """The files of this working tree that a commit would hold (tracked and new, not ignored)."""
    try:
        listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.fail("the pre-commit test needs the project to be a git working tree")
    return [Path(name) for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("dslint-snapshot")
    for relative in project_files():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination)
    assert (target / ".pre-commit-hooks.yaml").is_file()
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "--no-verify", "-m", "snapshot")
    return target


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's repository with a good dataset, a bad one and a file the hook must skip."""
    folder = tmp_path_factory.mktemp("user-repo")
    (folder / "good.jsonl").write_text(jsonl(*clean_chat(60)))
    (folder / "more.jsonl.gz").write_bytes(gzip.compress(jsonl(*clean_chat(55)).encode()))
    bad = clean_chat(60)
    bad[2] = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}
    (folder / "bad.jsonl").write_text(jsonl(*bad))
    (folder / "notes.txt").write_text("{not a dataset}\n")
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "data")
    return folder


def try_repo(snapshot: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return pre_commit(project, "try-repo", str(snapshot), "dslint", *args)


def pre_commit(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("GITHUB_ACTIONS", "PYTHONHOME", "VIRTUAL_ENV", "NO_COLOR")
    }
    paths = sysconfig.get_paths()
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    environment["PRE_COMMIT_HOME"] = str(project.parent / "pre-commit-home")
    environment["PRE_COMMIT_COLOR"] = "never"
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_hook_passes_on_good_data(snapshot: Path, project: Path) -> None:
    result = try_repo(
        snapshot, project, "--verbose", "--files", "good.jsonl", "more.jsonl.gz", "notes.txt"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dslint" in result.stdout and "Passed" in result.stdout
    # One dslint call (require_serial) with both datasets, .gz included, and not the notes.
    assert "in 2 files, 115 examples." in result.stdout
    assert "notes.txt" not in result.stdout


def test_the_hook_fails_on_bad_data_and_shows_where(snapshot: Path, project: Path) -> None:
    result = try_repo(snapshot, project, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout
    assert "- exit code: 1" in result.stdout
    assert "bad.jsonl:3:" in result.stdout and "S104 error" in result.stdout
    assert "in 3 files, 175 examples." in result.stdout


def test_a_commit_of_the_validation_file_alone_is_compared_with_training(
    snapshot: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """pre-commit passes only the files a commit changed: a validation file that now leaks a
    training example fails the hook although the training file is not among them; with both
    files, the validation file is not also compared with itself."""
    folder = tmp_path_factory.mktemp("paired-repo")
    train = clean_chat(60)
    (folder / "train.jsonl").write_text(jsonl(*train))
    held = [{"messages": [{"role": "user", "content": f"Held-out question {i}?"},
                          {"role": "assistant", "content": f"Held-out answer {i}."}]}
            for i in range(12)]  # fmt: skip
    (folder / "val.jsonl").write_text(jsonl(*held, train[5]))
    (folder / "dslint.toml").write_text('validation = { "train.jsonl" = "val.jsonl" }\n')
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "data")
    alone = try_repo(snapshot, folder, "--files", "val.jsonl")
    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert "val.jsonl:13:1: D004 error" in alone.stdout and "(train.jsonl line 6)" in alone.stdout
    assert "in 1 file, 13 examples." in alone.stdout
    both = try_repo(snapshot, folder, "--all-files")
    assert both.returncode == 1, both.stdout + both.stderr
    assert both.stdout.count("D004 error") == 1  # not each validation example against itself
    assert "in 2 files, 73 examples." in both.stdout


def test_a_commit_that_renames_a_dataset_keeps_its_baseline(
    snapshot: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The hook as a user configures it, with the baseline in ``args``: a commit that moves a
    dataset passes (pre-commit passes only the new path), and a bad line added to it fails."""
    folder = tmp_path_factory.mktemp("renaming-repo")
    bad = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}
    (folder / "data").mkdir()
    (folder / "data" / "train.jsonl").write_text(
        jsonl(*clean_chat(60)[:30], bad, *clean_chat(60)[30:])
    )
    rev = git(snapshot, "rev-parse", "HEAD").strip()
    (folder / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {snapshot}\n    rev: {rev}\n    hooks:\n      - id: dslint\n"
        "        args: [--baseline, .dslint-baseline.json]\n"
    )
    recorded = subprocess.run(
        [sys.executable, "-m", "dslint", "baseline", "data/train.jsonl", "-o",
         ".dslint-baseline.json"], cwd=folder, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Wrote .dslint-baseline.json: 1 finding in 1 file." in recorded.stderr
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "--no-verify", "-m", "data")
    (folder / "data" / "v2").mkdir()
    git(folder, "mv", "data/train.jsonl", "data/v2/train.jsonl")
    moved = pre_commit(folder, "run", "--verbose", "--files", "data/v2/train.jsonl")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "1 known finding not shown (1 of them recorded in data/train.jsonl" in moved.stdout
    with (folder / "data" / "v2" / "train.jsonl").open("a") as handle:
        handle.write(
            jsonl({"messages": [{"role": "user", "content": "Yo"}, {"role": "assistant"}]})
        )
    grown = pre_commit(folder, "run", "--files", "data/v2/train.jsonl")
    assert grown.returncode == 1, grown.stdout + grown.stderr
    assert "data/v2/train.jsonl:62:" in grown.stdout and "S104 error" in grown.stdout
    assert "data/v2/train.jsonl:31:" not in grown.stdout
