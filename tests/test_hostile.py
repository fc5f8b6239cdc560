"""Hostile inputs: each gives located findings, or one line on stderr and exit 2; never a traceback.

Large inputs (a 100 MB line, 100,000-deep nesting) are generated at test time, not committed.
Memory is checked in a subprocess under an address-space limit a few hundred MB above its
own baseline, so a loader that held a whole file (or copied a long line many times) fails.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import dslint
from conftest import TODAY, clean_chat, jsonl, located
from dslint.cli import cli
from dslint.engine import Engine
from dslint.loader import InputError, binary_kind, read_file

GOOD = jsonl(*clean_chat(10)).encode()  # ten clean lines: hostile lines start at line 11
BAD_LINE = 11


def cli_run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dslint: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def chat_line(user: str = "Hi", assistant: str = "Hello!") -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ]
        }
    )


# -- line-level hostile content: each case is (bytes of line 11, code, pointer) --------------

OVERLONG_AND_INVALID_UTF8 = [
    b"\xc0\xaf",  # overlong "/"
    b"\xe0\x80\xaf",  # overlong "/" in three bytes
    b"\xf0\x80\x80\xaf",  # overlong "/" in four bytes
    b"\xc1\xbf",  # overlong DEL
    b"\xed\xa0\x80",  # a UTF-16 surrogate encoded as UTF-8 (CESU-8)
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xff",
    b"\xe9",  # Latin-1 e-acute
    b"\xe2\x82",  # a truncated three-byte sequence
]

LONE_SURROGATES = [
    ("\\ud800", "/messages/0/content"),
    ("\\udfff", "/messages/0/content"),
    ("\\udc00\\ud800", "/messages/0/content"),  # a pair in the wrong order
    ("end \\ud83d", "/messages/0/content"),  # an emoji cut in half
]


def line_cases() -> Iterator[tuple[str, bytes, str, str]]:
    for i, sequence in enumerate(OVERLONG_AND_INVALID_UTF8):
        line = b'{"messages": [{"role": "user", "content": "x' + sequence + b'"}]}'
        yield f"utf8-{i}", line, "S002", ""
    for i, (escape, pointer) in enumerate(LONE_SURROGATES):
        content = json.dumps("PLACEHOLDER")
        line = chat_line("PLACEHOLDER", "ok").replace(content, f'"{escape}"', 1).encode()
        yield f"surrogate-{i}", line, "S009", pointer
    key_line = b'{"messages": [{"role": "user", "content": "x", "\\udbff": 1}]}'
    yield "surrogate-key", key_line, "S009", "/messages/0"
    yield "bom-in-middle", "\ufeff".encode() + chat_line().encode(), "S001", ""
    yield "nul-after-object", chat_line().encode() + b"\x00", "S001", ""
    yield "nul-inside", b'{"messages": [\x00]}', "S001", ""
    yield "nul-only", b"\x00\x00\x00", "S001", ""
    for literal in ("1e999", "-1e999", "NaN", "Infinity", "-Infinity"):
        line = f'{{"messages": [{{"role": "user", "content": "x"}}], "score": {literal}}}'
        yield f"non-finite-{literal}", line.encode(), "S005", ""
    yield "duplicate-keys", b'{"messages": [], "messages": []}', "S004", ""
    for top in ('["a"]', '"text"', "42", "-1.5", "true", "null"):
        yield f"top-level-{top}", top.encode(), "S003", ""
    yield "deep-200", b"[" * 200 + b"]" * 200, "S001", ""
    yield "huge-integer", b'{"messages": [], "n": ' + b"7" * 5000 + b"}", "S001", ""
    yield "truncated-object", chat_line().encode()[:-7], "S001", ""
    yield "escape-sequence", b'{"messages": "\x1b[2J\x1b]0;owned\x07"}', "S001", ""


@pytest.mark.parametrize(
    ("line", "code", "pointer"),
    [case[1:] for case in line_cases()],
    ids=[case[0] for case in line_cases()],
)
def test_hostile_line_gives_a_located_finding(lint, line: bytes, code: str, pointer: str) -> None:  # type: ignore[no-untyped-def]
    findings = lint(GOOD + line + b"\n" + GOOD)
    assert (code, BAD_LINE, pointer) in located(findings)
    assert all(f.line in (None, BAD_LINE) for f in findings if f.code.startswith("S0"))
    for finding in findings:
        finding.message.encode("utf-8")  # every message can be written as UTF-8
        assert "\x1b" not in finding.message and "\x00" not in finding.message


def test_columns_point_at_the_bad_byte(lint) -> None:  # type: ignore[no-untyped-def]
    line = chat_line().encode() + b"\x00"
    (finding,) = [f for f in lint(GOOD + line + b"\n") if f.code == "S001"]
    assert finding.column == len(line)  # the NUL is the last byte
    bad = b'{"messages": "ab\xc0\xafcd"}'
    (finding,) = [f for f in lint(GOOD + bad + b"\n") if f.code == "S002"]
    assert finding.column == bad.index(b"\xc0") + 1


def test_lone_surrogates_are_replaced_for_the_rest_of_the_checks(tmp_path: Path) -> None:
    line = b'{"messages": [{"role": "user", "content": "a\\ud800b"}, {"role": "assistant", "content": "ok"}]}'
    path = tmp_path / "surrogates.jsonl"
    path.write_bytes(GOOD + line + b"\n")
    report = dslint.check([path], today=TODAY)
    texts = report.datasets[0].messages["text"]
    assert "a\ufffdb" in set(texts)  # pyarrow holds it; the API's rejection is the finding
    assert located(report.findings, "S009") == [("S009", BAD_LINE, "/messages/0/content")]
    (finding,) = [f for f in report.findings if f.code == "S009"]
    assert finding.column == line.index(b'"a\\ud800b"') + 1


@pytest.mark.parametrize("output_format", ["json", "text"])
def test_reporters_survive_surrogates_and_escape_sequences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output_format: str
) -> None:
    monkeypatch.chdir(tmp_path)
    hostile = [
        b'{"messages": [{"role": "user", "content": "\\udfff\\ud800"}, {"role": "\\ud83d", "content": "x"}]}',
        b'{"messages": [{"role": "user\x1b[31m", "content": "\\u001b]0;title\\u0007"}]}',
        b'{"\\ud800": 1}',
    ]
    name = os.fsdecode(b"odd-\xff-name.jsonl")  # a file name that is not UTF-8
    Path(name).write_bytes(GOOD + b"\n".join(hostile) + b"\n")
    result = cli_run("check", "--format", output_format, name)
    assert result.exit_code == 1, result.stderr
    result.stdout.encode("utf-8")  # no lone surrogate reached the output
    assert "\x1b" not in result.stdout
    if output_format == "json":
        document = json.loads(result.stdout)
        paths = {f["path"] for f in document["findings"]}
        assert paths == {"odd-\\xff-name.jsonl"}
        assert ("S009", 11) in {(f["code"], f["line"]) for f in document["findings"]}
    else:
        assert "odd-\\xff-name.jsonl:11:" in result.stdout


# -- file-level hostile inputs ---------------------------------------------------------------


def test_cr_only_line_ends_are_one_finding(lint) -> None:  # type: ignore[no-untyped-def]
    text = GOOD.replace(b"\n", b"\r")
    findings = lint(text)
    assert located(findings, "S008", "S001") == [("S008", 1, "")]
    assert findings[[f.code for f in findings].index("S008")].column == GOOD.index(b"\n") + 1
    assert lint(GOOD.replace(b"\n", b"\r\n"), ignore=["S014"]) == []  # CRLF is fine


def test_a_binary_file_named_jsonl_is_one_file_level_finding(lint) -> None:  # type: ignore[no-untyped-def]
    noise = random.Random(9).randbytes(1_000_000)
    findings = lint(noise)
    assert located(findings) == [("S017", None, "")]
    zeros = lint(b"\x00" * 50_000)  # a zero-filled file (a crash during a copy)
    assert located(zeros) == [("S017", None, "")] and "looks binary" in zeros[0].message
    assert located(lint(gzip.compress(noise), name="noise.jsonl")) == [("S017", None, "")]


@pytest.mark.parametrize(
    ("start", "named"),
    [(b"PAR1", "Parquet"), (b"PK\x03\x04", "ZIP"), (b"\x28\xb5\x2f\xfd", "zstd"),
     (b"\xfd7zXZ\x00", "xz"), (b"\x89PNG\r\n\x1a\n", "PNG")],
)  # fmt: skip
def test_known_binary_formats_are_named(start: bytes, named: str) -> None:
    kind = binary_kind(start + b"\x00\x01" * 100)
    assert kind is not None and named in kind


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_named(lint, encoding: str) -> None:  # type: ignore[no-untyped-def]
    findings = lint(GOOD.decode().encode(encoding))
    assert located(findings) == [("S017", None, "")]
    assert "save it as UTF-8" in findings[0].message


def test_text_with_a_few_odd_bytes_is_not_called_binary() -> None:
    assert binary_kind(GOOD + b"\x00" + GOOD) is None
    assert binary_kind(("é" * 5000).encode()[:4097]) is None  # a character cut at the end
    assert binary_kind(b"") is None


def test_gzip_without_extension_truncated_gzip_and_empty_file(lint) -> None:  # type: ignore[no-untyped-def]
    data = gzip.compress(GOOD + b"[1]\n")
    assert located(lint(data, name="plain-name.jsonl", ignore=["S014"])) == [("S003", 11, "")]
    broken = gzip.compress(GOOD * 200)
    assert "S012" in {f.code for f in lint(broken[: len(broken) // 2], name="cut.jsonl")}
    assert located(lint(b"")) == [("S010", None, "")]


def test_a_folder_named_like_a_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.jsonl").mkdir()
    assert_one_line_error(cli_run("check", "x.jsonl"), "x.jsonl")
    Path("x.jsonl", "inner.jsonl").write_bytes(GOOD + b"[]\n")
    Path("walk").mkdir()
    Path("walk", "y.jsonl").mkdir()  # a folder with a data suffix inside a folder walk
    Path("walk", "real.jsonl").write_bytes(GOOD)
    result = cli_run("check", "x.jsonl", "walk")
    assert result.exit_code == 1
    assert "x.jsonl/inner.jsonl:11:1: S003" in result.stdout
    assert "y.jsonl" not in result.stdout and "Traceback" not in result.output


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("locked.jsonl").write_bytes(GOOD)
    os.chmod("locked.jsonl", 0)
    try:
        result = cli_run("check", "locked.jsonl")
        assert "Traceback" not in result.output
        if os.geteuid() == 0:
            # root reads a mode-000 file regardless of its permissions, so the run succeeds;
            # only the permission-denied assertion is skipped, not the no-traceback one.
            assert result.exit_code == 0
        else:
            assert_one_line_error(result, "permission denied")
    finally:
        os.chmod("locked.jsonl", 0o600)


def test_an_unreadable_file_in_read_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the user id, an open() that fails with EACCES becomes an InputError.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    path = tmp_path / "a.jsonl"
    path.write_bytes(GOOD)
    monkeypatch.setattr("dslint.loader.open", refuse, raising=False)
    with pytest.raises(InputError, match="Permission denied"):
        read_file(path)


def test_symlink_loops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink("b.jsonl", "a.jsonl")
    os.symlink("a.jsonl", "b.jsonl")
    os.symlink("self.jsonl", "self.jsonl")
    assert_one_line_error(cli_run("check", "a.jsonl"), "symbolic link loop")
    assert_one_line_error(cli_run("check", "self.jsonl"), "symbolic link loop")
    Path("folder").mkdir()
    Path("folder", "good.jsonl").write_bytes(GOOD)
    os.symlink("loop.jsonl", "folder/loop.jsonl")
    os.symlink("..", "folder/up")  # a folder loop: the walk does not follow it
    result = cli_run("check", "folder")
    assert result.exit_code == 0, result.output
    assert "1 file, 10 examples" in result.stdout


def test_a_file_that_grows_while_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "growing.jsonl"
    path.write_bytes(GOOD * 50)
    info, records = read_file(path)
    first = next(records)
    with open(path, "ab") as writer:
        writer.write(GOOD)
    rest = list(records)
    assert first.line == 1 and len(rest) >= 499
    assert info.changed is not None and "changed while it was read" in info.changed


def test_a_file_that_changes_while_it_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "racing.jsonl"
    path.write_bytes(GOOD * 5)
    original = Engine.run

    def run_with_a_writer(self: Engine, paths: list[Path], validation: object = None) -> object:
        import dslint.engine as engine

        real_read = engine.read_file

        def read_then_write(p: Path, *args: object) -> object:
            info, records = real_read(p, *args)

            def racing() -> Iterator[object]:
                for number, record in enumerate(records):
                    if number == 2:
                        writer = threading.Thread(target=_append, args=(p,))
                        writer.start()
                        writer.join()
                    yield record

            return info, racing()

        monkeypatch.setattr(engine, "read_file", read_then_write)
        return original(self, paths, validation)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "run", run_with_a_writer)
    report = dslint.check([path], today=TODAY)
    assert located(report.findings, "S018") == [("S018", None, "")]


def _append(path: Path) -> None:
    with open(path, "ab") as writer:
        writer.write(GOOD)


def test_a_file_that_shrinks_while_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "shrinking.jsonl"
    path.write_bytes(GOOD * 50)
    info, records = read_file(path)
    next(records)
    os.truncate(path, len(GOOD))
    list(records)
    assert info.changed is not None


def test_a_steady_file_is_not_reported_as_changed(tmp_path: Path) -> None:
    path = tmp_path / "steady.jsonl"
    path.write_bytes(GOOD)
    info, records = read_file(path)
    list(records)
    assert info.changed is None
    gz = tmp_path / "steady.jsonl.gz"
    gz.write_bytes(gzip.compress(GOOD))
    info, records = read_file(gz)
    list(records)
    assert info.changed is None


def test_deep_nesting_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    deep_array = "[" * 100_000 + "]" * 100_000
    deep_object = '{"a":' * 100_000 + "1" + "}" * 100_000
    Path("deep.jsonl").write_text(
        GOOD.decode() + deep_array + "\n" + deep_object + "\n" + chat_line("[" * 5000) + "\n"
    )
    result = cli_run("check", "--format", "json", "deep.jsonl")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["line"]) for f in findings if f["code"] == "S001"] == [("S001", 11), ("S001", 12)]  # fmt: skip


# -- memory: a subprocess under an address-space limit ----------------------------------------

PROBE = textwrap.dedent(
    """
    import resource, sys
    import dslint
    from dslint.cli import main

    small, budget_mb, *targets = sys.argv[1:]
    dslint.check([small])  # import what a run needs before measuring the baseline
    from dslint.tokens.encodings import get_encoding
    get_encoding("o200k_base")  # a few small texts are counted without it (tokens.plain)

    def virtual_size():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        raise SystemExit("no VmSize")

    limit = virtual_size() + int(budget_mb) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    sys.argv = ["dslint", "check", "--format", "json", *targets]
    main()
    """
)


def _run_limited(
    tmp_path: Path, budget_mb: int, *targets: Path
) -> subprocess.CompletedProcess[str]:
    small = tmp_path / "small.jsonl"
    small.write_bytes(GOOD)
    # A fixed number of malloc arenas keeps the virtual size (what RLIMIT_AS counts) stable.
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(small), str(budget_mb), *map(str, targets)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def huge_inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("huge")
    long_line = folder / "long-line.jsonl"
    with open(long_line, "w", encoding="utf-8") as out:  # a 100 MB line: one huge message
        out.write('{"messages": [{"role": "user", "content": "')
        chunk = "lorem ipsum " * 100_000
        for _ in range(84):
            out.write(chunk)
        out.write('"}, {"role": "assistant", "content": "ok"}]}\n')
    no_newline = folder / "no-newline.jsonl"
    with open(no_newline, "wb") as out:  # 100 MB of one unterminated, invalid line
        for _ in range(100):
            out.write(b"x" * 1_000_000)
    deep = folder / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    return [long_line, no_newline, deep]


needs_rlimit = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux-only"
)


@needs_rlimit
@pytest.mark.slow
def test_memory_stays_bounded_on_huge_lines(tmp_path: Path, huge_inputs: list[Path]) -> None:
    assert huge_inputs[0].stat().st_size > 100_000_000
    done = _run_limited(tmp_path, 500, *huge_inputs)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    by_file = {(Path(f["path"]).name, f["code"], f["line"]) for f in findings}
    assert ("no-newline.jsonl", "S001", 1) in by_file
    assert ("deep.jsonl", "S001", 1) in by_file
    assert not any(name == "long-line.jsonl" and code.startswith("S0") and line for name, code, line in by_file)  # fmt: skip


@needs_rlimit
@pytest.mark.slow
def test_running_out_of_memory_is_still_one_line(tmp_path: Path, huge_inputs: list[Path]) -> None:
    # The same input under a limit too small for it: the limit is real, and even then the
    # user gets one line and exit 2, not a traceback.
    done = _run_limited(tmp_path, 60, huge_inputs[0])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "dslint: error: internal error: MemoryError:  (run with --debug for details)"
    ]


# -- the same inputs through the command line -------------------------------------------------


def test_every_hostile_line_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cases = list(line_cases())
    Path("all.jsonl").write_bytes(GOOD + b"\n".join(case[1] for case in cases) + b"\n")
    result = cli_run("check", "--format", "json", "all.jsonl")
    assert result.exit_code == 1 and result.stderr == ""
    found = {(f["code"], f["line"], f["pointer"]) for f in json.loads(result.stdout)["findings"]}
    for number, (_, _, code, pointer) in enumerate(cases, start=BAD_LINE):
        assert (code, number, pointer) in found
    text = cli_run("check", "all.jsonl")
    assert text.exit_code == 1 and "\x1b" not in text.stdout and "Traceback" not in text.output


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (random.Random(1).randbytes(200_000), "S017"),
        (b"PAR1" + bytes(1000), "S017"),
        (b"", "S010"),
        (gzip.compress(jsonl(*clean_chat(3000)).encode())[:8000], "S012"),  # of about 17 kB
        (GOOD.replace(b"\n", b"\r"), "S008"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", "S011"),
    ],
    ids=["random-bytes", "parquet", "empty", "truncated-gzip", "bare-cr", "lfs-pointer"],
)
def test_hostile_files_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, code: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data.jsonl").write_bytes(content)
    result = cli_run("check", "--format", "json", "data.jsonl")
    assert result.exit_code == 1 and "Traceback" not in result.output
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert code in codes and len(codes) <= 3  # one finding for the file, not one per line
