"""A whole check reused from .dslint_cache/ when nothing it depends on changed (dslint.reuse)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, clean_chat, jsonl
from dslint import api, registry, reuse
from dslint.cache import CACHE_DIR
from dslint.cli import cli
from dslint.engine import Engine

SARIF_SCHEMA = (
    Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    examples: list[Any] = clean_chat(30)
    examples[4] = examples[9]  # an exact duplicate (a dataset rule)
    examples[6] = chat("Key?", "Use sk-proj-" + "a1B2c3D4e5" * 5 + " to log in.")  # privacy
    examples[11] = '{"messages": [broken'  # a located parse error
    (tmp_path / "train.jsonl").write_text(jsonl(*examples), encoding="utf-8")
    (tmp_path / "valid.jsonl").write_text(jsonl(*clean_chat(3)), encoding="utf-8")
    return tmp_path


class Runs:
    """Counts the checks that really ran (Engine.run) as the CLI is invoked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = Engine.run

        def counted(engine: Engine, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(engine, *args, **kwargs)

        monkeypatch.setattr(Engine, "run", counted)

    def cli(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
        return result.exit_code, result.output


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Runs:
    return Runs(monkeypatch)


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_an_unchanged_check_is_reused_and_reports_exactly_the_same(
    workdir: Path, runs: Runs, fmt: str
) -> None:
    args = ("train.jsonl", "--validation", "valid.jsonl", "--format", fmt)
    fresh = runs.cli(*args, "--no-cache")
    first = runs.cli(*args)
    assert runs.count == 2
    again = runs.cli(*args)
    assert runs.count == 2  # the third check did not run: its findings came from the cache
    assert fresh == first == again
    assert again[0] == 1  # the exit code too
    if fmt == "json":
        codes = {f["code"] for f in json.loads(again[1])["findings"]}
        assert {"S001", "D001", "P101"} <= codes, codes
    if fmt == "sarif" and SARIF_SCHEMA.is_file():
        document = json.loads(again[1])
        jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
        assert document["runs"][0]["tool"]["driver"]["rules"]  # the rule table is loaded


def test_formats_that_draw_from_the_data_always_run(workdir: Path, runs: Runs) -> None:
    runs.cli("train.jsonl", "--format", "json")
    runs.cli("train.jsonl", "-o", "report.html", "--format", "json")
    runs.cli("train.jsonl", "--format", "markdown")
    assert runs.count == 3
    assert "tokens" in (workdir / "report.html").read_text(encoding="utf-8")
    reused = api.check(["train.jsonl"], cache=True, reuse=True, rule_table=False)
    assert runs.count == 3 and reused.datasets == () and reused.rules == ()
    full = api.check(["train.jsonl"], cache=True)
    assert runs.count == 4 and full.datasets and full.rules
    assert full.findings == reused.findings and full.files == reused.files


def edit_data(folder: Path) -> None:
    path = folder / "train.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = json.dumps(chat("A changed question?", "A changed answer.")) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def edit_validation(folder: Path) -> None:
    (folder / "valid.jsonl").write_text(jsonl(*clean_chat(4)), encoding="utf-8")


def add_config(folder: Path) -> None:
    (folder / "dslint.toml").write_text("[tool.dslint.rules.V011]\nmax-share = 0.1\n")


def edit_named_profile(folder: Path) -> None:
    # The config names a voice profile; only the profile's content changes.
    (folder / "brand.toml").write_text('[terms]\nbanned = ["answer"]\n', encoding="utf-8")


def add_dslint_code(folder: Path) -> None:
    # A newer dslint (or an edited editable install): another stamp of its code.
    reuse._code_stamp.cache_clear()
    os.utime(Path(reuse.__file__), ns=(0, 0))


@pytest.mark.parametrize(
    "change", [edit_data, edit_validation, add_config, edit_named_profile, add_dslint_code]
)
def test_any_change_the_findings_depend_on_runs_the_check_again(
    workdir: Path, runs: Runs, change: Callable[[Path], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "brand.toml").write_text('[terms]\nbanned = ["synergy"]\n', encoding="utf-8")
    (workdir / "dslint.toml").write_text('[tool.dslint.voice]\nprofile = "brand.toml"\n')
    source = Path(reuse.__file__)
    stat = source.stat()
    try:
        args = ("train.jsonl", "--validation", "valid.jsonl", "--format", "json")
        runs.cli(*args)
        runs.cli(*args)
        assert runs.count == 1
        change(workdir)
        changed = runs.cli(*args)
        assert runs.count == 2
        assert changed == runs.cli(*args, "--no-cache")
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        reuse._code_stamp.cache_clear()


def test_installing_or_upgrading_a_package_runs_the_check_again(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.cache import Cache
    from dslint.config import Config

    store = Cache.open()
    assert store is not None
    assert any(name.startswith("pandas-") for name in reuse._installed())

    def key_with(installed: list[str]) -> str:
        monkeypatch.setattr(reuse, "_installed", lambda: installed)
        reuse._code_stamp.cache_clear()
        run_key = reuse.key(store, Config(), [Path("train.jsonl")], [], TODAY.isoformat())
        assert run_key is not None
        return run_key.value

    try:
        before = key_with(["pandas-2.2.3.dist-info"])
        assert key_with(["pandas-2.2.3.dist-info"]) == before
        assert key_with(["pandas-3.0.0.dist-info"]) != before
        assert key_with(["alt_profanity_check-1.5.dist-info", "pandas-2.2.3.dist-info"]) != before
    finally:
        reuse._code_stamp.cache_clear()


def test_files_a_config_names_count_unless_they_are_a_cache_or_too_large(
    workdir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslint.cache import Cache
    from dslint.config import load

    # A moderation cache folder named in the (offline) config changes as runs go: left out.
    (workdir / "dslint.toml").write_text(
        '[tool.dslint.moderation]\ncache-dir = ".dslint_cache/moderation"\n'
    )
    runs.cli("train.jsonl")
    (workdir / CACHE_DIR / "moderation").mkdir()
    (workdir / CACHE_DIR / "moderation" / "answers.json").write_text("{}")
    runs.cli("train.jsonl")
    assert runs.count == 1
    # A folder too large to hash each run: the check runs instead.
    (workdir / "styles").mkdir()
    (workdir / "styles" / "big.txt").write_text("x" * 4096)
    (workdir / "dslint.toml").write_text('[tool.dslint.rules.V011]\nnote = "styles"\n')
    store = Cache.open()
    assert store is not None
    config = load(workdir / "dslint.toml")
    assert reuse.key(store, config, [Path("train.jsonl")], [], TODAY.isoformat()) is not None
    monkeypatch.setattr(reuse, "MAX_NAMED_BYTES", 1024)
    assert reuse.key(store, config, [Path("train.jsonl")], [], TODAY.isoformat()) is None


def test_another_day_runs_the_check_again(workdir: Path, runs: Runs) -> None:
    runs.cli("train.jsonl", "--today", TODAY.isoformat())
    runs.cli("train.jsonl", "--today", "2027-01-07")  # after a model's retirement date
    runs.cli("train.jsonl", "--today", TODAY.isoformat())
    assert runs.count == 2


def test_no_reuse_where_the_key_cannot_cover_what_a_check_depends_on(
    workdir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    from dslint.cache import Cache
    from dslint.config import load

    store = Cache.open()
    assert store is not None
    key = reuse.key(store, load_default(), [Path("train.jsonl")], [], TODAY.isoformat())
    assert key is not None
    # Answers from a service may change from one run to the next.
    config = workdir / "dslint.toml"
    config.write_text('[tool.dslint.moderation]\nprovider = "openai"\n')
    assert reuse.key(store, load(config), [Path("train.jsonl")], [], TODAY.isoformat()) is None
    config.write_text('[tool.dslint.review]\nmode = "llm"\n')
    assert reuse.key(store, load(config), [Path("train.jsonl")], [], TODAY.isoformat()) is None
    config.unlink()
    # --changed-since depends on git's state.
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for step in (["init", "-q"], ["add", "train.jsonl"], ["commit", "-q", "-m", "data"]):
        subprocess.run([*git, *step], cwd=workdir, check=True)
    runs.cli("train.jsonl", "--changed-since", "HEAD")
    runs.cli("train.jsonl", "--changed-since", "HEAD")
    assert runs.count == 2
    # A rule plugin's code is not part of the key.
    plugin = metadata.EntryPoint(name="x", value="os:sep", group=registry.RULES_GROUP)
    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real(group=group), plugin])
    assert reuse.key(store, load_default(), [Path("train.jsonl")], [], TODAY.isoformat()) is None
    monkeypatch.setattr(registry, "entry_points", real)
    monkeypatch.setattr("dslint.__version__", "99.0")  # another dslint: another key
    assert reuse.key(store, load_default(), [Path("train.jsonl")], [], TODAY.isoformat()) != key


def load_default() -> Any:
    from dslint.config import Config

    return Config()


def test_a_damaged_or_foreign_saved_run_is_never_trusted(
    workdir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: Any
) -> None:
    expected = runs.cli("train.jsonl", "--format", "json")
    (saved,) = (workdir / CACHE_DIR).glob("run-*.json")
    document = json.loads(saved.read_text(encoding="utf-8"))
    document["findings"] = []  # claims the data is clean
    saved.write_text(json.dumps(document), encoding="utf-8")
    # Another user (or a pull request that commits .dslint_cache/): another key.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("other-user")))
    assert runs.cli("train.jsonl", "--format", "json") == expected
    assert runs.count == 2
    for damaged in (b"\x00{not json", b'{"format": 1, "findings": [["S001"]]}', b"[]"):
        for path in (workdir / CACHE_DIR).glob("run-*.json"):
            path.write_bytes(damaged)
        assert runs.cli("train.jsonl", "--format", "json") == expected
    assert runs.count == 5
    assert runs.cli("train.jsonl", "--format", "json") == expected and runs.count == 5


def test_a_file_edited_while_it_is_checked_is_not_kept(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Engine.run

    def edited_meanwhile(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        report = real(engine, *args, **kwargs)
        edit_data(workdir)  # saved after the key was made, before the run is kept
        return report

    monkeypatch.setattr(Engine, "run", edited_meanwhile)
    api.check(["train.jsonl"], cache=True, reuse=True)
    assert not list((workdir / CACHE_DIR).glob("run-*.json"))


def test_only_the_latest_runs_are_kept(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reuse, "KEEP_RUNS", 2)
    for count in (3, 4, 5):
        (workdir / f"part{count}.jsonl").write_text(jsonl(*clean_chat(count)), encoding="utf-8")
        api.check([f"part{count}.jsonl"], cache=True, reuse=True)
    assert len(list((workdir / CACHE_DIR).glob("run-*.json"))) == 2


def test_a_reused_check_imports_neither_rules_nor_pandas(workdir: Path) -> None:
    """What makes the pre-commit hook instant on a file checked before (numpy alone took a
    third of such a run when pruning the cache folder imported it; importlib.metadata, a
    fifth, before dslint.installed read the entry points)."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('loaded:', sorted(m for m in ('pandas', 'tiktoken',"
        " 'dslint.rules.duplicates', 'numpy', 'importlib.metadata') if m in sys.modules),"
        " file=sys.stderr))\n"
        "from dslint.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", probe, "check", "train.jsonl", "--format", "json"]
    first = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    second = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    assert first.returncode == second.returncode == 1, first.stderr
    assert first.stdout == second.stdout
    assert "loaded: ['dslint.rules.duplicates', 'numpy', 'pandas', 'tiktoken']" in first.stderr
    assert "loaded: []" in second.stderr, second.stderr


def test_a_file_hashed_by_pieces_on_two_threads_or_one_has_one_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(reuse, "PIECE", 1000)
    path = tmp_path / "d.jsonl"
    data = bytearray(os.urandom(10_500))  # ten whole pieces and a part
    path.write_bytes(data)
    threads: set[int] = set()
    blake2b = reuse.hashlib.blake2b

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.add(threading.get_ident())
        return blake2b(*args, **kwargs)

    monkeypatch.setattr(reuse.hashlib, "blake2b", spy)
    both = reuse._file_digest(path)
    assert len(threads) >= 2  # the pieces were hashed off this thread too
    monkeypatch.setenv("DSLINT_WORKERS", "1")
    threads.clear()
    one = reuse._file_digest(path)
    assert threads == {threading.get_ident()}
    assert both == one and both is not None
    seen = {both}
    for position in (0, 999, 1000, 10_499):  # each end of a piece, and the last byte
        changed = bytearray(data)
        changed[position] ^= 1
        path.write_bytes(changed)
        seen.add(reuse._file_digest(path))
    path.write_bytes(data + b"\x00")  # one byte more: the size is in the digest too
    seen.add(reuse._file_digest(path))
    path.write_bytes(data[:10_000])  # whole pieces only
    seen.add(reuse._file_digest(path))
    assert len(seen) == 7
    assert reuse._file_digest(tmp_path / "missing.jsonl") is None
