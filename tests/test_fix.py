"""``dslint fix``: only safe, explained changes; untouched lines byte for byte; atomic writes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import dslint
from conftest import TODAY, chat, clean_chat
from dslint.cli import cli
from dslint.fix import fix
from dslint.loader import InputError

DPO_OLD = {
    "input": {"messages": [{"role": "user", "content": "Hi"}]},
    "preferred_completion": [{"role": "assistant", "content": "Hello!"}],
    "non_preferred_completion": [{"role": "assistant", "content": "What?"}],
}
LOAD_CODES = {"S001", "S002", "S003", "S005", "S006", "S008", "S009"}


def dumps(value: object, **kwargs: object) -> bytes:
    return json.dumps(value, **kwargs).encode()  # type: ignore[arg-type]


def messy_lines() -> list[bytes]:
    """Forty clean lines with fixable problems placed between them (line numbers in comments)."""
    clean = [dumps(e) for e in clean_chat(40)]
    # Unusual but valid spacing and escapes: must survive byte for byte.
    clean[7] = (
        b'{ "messages" :[{"role":"user","content":"caf\\u00e9 \\ud83d\\ude00?"},  {"role": "assistant", "content": "Oui."}] }'
    )
    lines = clean[:10]
    lines.append(b'{"messages": [{"role": "user", "content": "x"}')  # 11: invalid JSON
    lines.append(b'{"messages": "caf\xe9"}')  # 12: invalid UTF-8
    lines.append(b"[1, 2]")  # 13: not an object
    lines.append(b'{"messages": [], "score": NaN}')  # 14: NaN
    lines.append(b'{"messages": [{"role": "user", "content": "\\ud800"}]}')  # 15: lone surrogate
    lines.append(b"   ")  # 16: blank
    lines.append(clean[3])  # 17: exact duplicate of line 4
    # 18: surrounding whitespace, written with escapes that must stay as they are
    lines.append(b'{"messages": [{"role": "user", "content": "\\n\\t Caf\\u00e9 au lait?  "}, {"role": "assistant", "content": [{"type": "text", "text": " Yes. "}]}]}')  # fmt: skip
    lines.append(dumps(DPO_OLD))  # 19: old DPO keys
    lines.append(dumps(chat("  Spaced out?  ", "Answer.")))  # 20: duplicate of 21 once stripped
    lines.append(dumps(chat("Spaced out?", "Answer.")))  # 21
    lines.extend(clean[10:])
    return lines


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join(messy_lines()) + b"\n")
    return path


def test_untouched_lines_stay_byte_identical_and_in_order(messy: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed.jsonl"
    result = fix(messy, out)
    changed = {c.line for c in result.changes if c.line is not None}
    assert changed == {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}
    original = messy.read_bytes().split(b"\n")[:-1]
    untouched = [line for number, line in enumerate(original, 1) if number not in changed]
    written = out.read_bytes().split(b"\n")[:-1]
    edited_positions = {10, 11, 12}  # lines 18, 19 and 20 are the 11th to 13th written
    assert [w for i, w in enumerate(written) if i not in edited_positions] == untouched
    assert b'"caf\\u00e9 \\ud83d\\ude00?"},  {"role"' in out.read_bytes()  # escapes kept
    assert result.lines_read == 51 and result.lines_written == len(written) == 43


def test_edits_are_surgical(messy: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed.jsonl"
    fix(messy, out)
    written = out.read_bytes().split(b"\n")
    assert written[10] == (
        b'{"messages": [{"role": "user", "content": "Caf\\u00e9 au lait?"}, '
        b'{"role": "assistant", "content": [{"type": "text", "text": "Yes."}]}]}'
    )
    assert written[11] == dumps(DPO_OLD).replace(b"_completion", b"_output")


def test_checking_the_output_shows_the_fixed_findings_gone(messy: Path, tmp_path: Path) -> None:
    before = {f.code for f in dslint.check([messy], today=TODAY).findings}
    assert LOAD_CODES - {"S008"} <= before and "S301" in before
    out = tmp_path / "fixed.jsonl"
    fix(messy, out)
    after = dslint.check([out], today=TODAY).findings
    assert not {f.code for f in after} & (LOAD_CODES | {"S301"})
    values = [json.loads(line) for line in out.read_text().splitlines()]
    canonical = [json.dumps(v, sort_keys=True) for v in values]
    assert len(canonical) == len(set(canonical))  # no exact duplicates left
    for value in values:
        for message in value.get("messages", []):
            if isinstance(message.get("content"), str):
                assert message["content"] == message["content"].strip()


def test_rejects_hold_the_original_lines_and_the_reasons(messy: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed.jsonl"
    result = fix(messy, out)
    assert result.rejects == str(tmp_path / "fixed.rejects.jsonl") or result.rejects
    entries = [json.loads(x) for x in (tmp_path / "fixed.rejects.jsonl").read_text().splitlines()]
    assert [(e["line"], [r["code"] for r in e["reasons"]]) for e in entries] == [
        (11, ["S001"]), (12, ["S002"]), (13, ["S003"]), (14, ["S005"]), (15, ["S009"]),
    ]  # fmt: skip
    original = messy.read_bytes().split(b"\n")
    for entry in entries:
        restored = (
            base64.b64decode(entry["base64"]) if "base64" in entry else entry["text"].encode()
        )
        assert restored == original[entry["line"] - 1]  # nothing lost


def test_the_input_is_never_modified_without_in_place(messy: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(messy.read_bytes()).hexdigest()
    fix(messy, tmp_path / "out.jsonl", drop=["quality"])
    assert hashlib.sha256(messy.read_bytes()).hexdigest() == digest
    with pytest.raises(InputError, match="is the input file"):
        fix(messy, messy)
    with pytest.raises(InputError, match="either -o OUTPUT or --in-place"):
        fix(messy)


def test_in_place_keeps_a_backup_and_never_overwrites_one(messy: Path) -> None:
    original = messy.read_bytes()
    result = fix(messy, in_place=True)
    backup = messy.with_name("train.jsonl.bak")
    assert backup.read_bytes() == original
    assert messy.read_bytes() != original and result.backup
    with pytest.raises(InputError, match="backup already exists"):
        fix(messy, in_place=True)
    fixed = messy.read_bytes()
    assert messy.read_bytes() == fixed and backup.read_bytes() == original


def test_crlf_and_bare_cr_are_normalised(tmp_path: Path) -> None:
    lines = [dumps(e) for e in clean_chat(12)]
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = fix(crlf, tmp_path / "a.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == b"\n".join(lines) + b"\n"
    assert [c.action for c in result.changes] == ["line-ends"]
    bare = tmp_path / "cr.jsonl"
    bare.write_bytes(b"\r".join(lines) + b"\r")
    result = fix(bare, tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == b"\n".join(lines) + b"\n"
    assert (
        dslint.check([tmp_path / "b.jsonl"], today=TODAY, select=["S0"], ignore=["S014"]).findings
        == ()
    )
    assert result.changes[0].action == "split-line" and result.changes[0].line == 1


def test_a_leading_bom_and_a_missing_final_newline(tmp_path: Path) -> None:
    lines = [dumps(chat(" Hi ", "Hello!"))] + [dumps(e) for e in clean_chat(11)]
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines))
    result = fix(path, tmp_path / "out.jsonl")
    written = (tmp_path / "out.jsonl").read_bytes()
    assert written.startswith(b'\xef\xbb\xbf{"messages": [{"role": "user", "content": "Hi"}')
    assert written.endswith(lines[-1] + b"\n")
    assert "added the missing final newline" in [c.detail for c in result.changes]


def test_drop_moves_examples_with_findings_of_those_categories(messy: Path, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    lines = [dumps(e) for e in clean_chat(20)]
    lines[4] = dumps(chat("   ", "Hello"))  # Q001 (quality)
    lines[6] = dumps(
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "x"}]}
    )  # schema
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    result = fix(path, out, drop=["quality"])
    assert [(c.line, c.action) for c in result.changes] == [(5, "dropped")]
    after = dslint.check([out], today=TODAY).findings
    assert "Q001" not in {f.code for f in after}
    assert any(f.category.value == "schema" and f.line == 6 for f in after)  # not asked for
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert rejects[0]["line"] == 5 and rejects[0]["reasons"][0]["code"] == "Q001"
    assert rejects[0]["text"].encode() == lines[4]
    result = fix(path, tmp_path / "out2.jsonl", drop=["schema,quality"])
    assert sorted(c.line for c in result.changes if c.action == "dropped") == [5, 7]
    after = dslint.check([tmp_path / "out2.jsonl"], today=TODAY).findings
    assert not [f for f in after if f.line is not None]


def test_drop_names_only_real_categories(messy: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a category"):
        fix(messy, tmp_path / "o.jsonl", drop=["sanity"])


def test_renamed_dpo_outputs_are_stripped_in_the_same_run(tmp_path: Path) -> None:
    padded = {**DPO_OLD, "preferred_completion": [{"role": "assistant", "content": "Hello! "}]}
    path = tmp_path / "dpo.jsonl"
    path.write_bytes(dumps(padded) + b"\n")
    result = fix(path, tmp_path / "o.jsonl")
    assert [c.action for c in result.changes] == ["renamed-keys", "stripped-whitespace"]
    expected = dumps(padded).replace(b"_completion", b"_output").replace(b"Hello! ", b"Hello!")
    assert (tmp_path / "o.jsonl").read_bytes() == expected + b"\n"


def test_dpo_keys_are_not_renamed_over_an_existing_key(tmp_path: Path) -> None:
    both = {**DPO_OLD, "preferred_output": DPO_OLD["preferred_completion"]}
    path = tmp_path / "dpo.jsonl"
    path.write_bytes(dumps(both) + b"\n")
    result = fix(path, tmp_path / "o.jsonl")
    assert (tmp_path / "o.jsonl").read_bytes() == dumps(both).replace(
        b'"non_preferred_completion"', b'"non_preferred_output"'
    ) + b"\n"
    assert [c.action for c in result.changes] == ["renamed-keys"]


def test_gzip_input_gives_plain_output_and_refuses_in_place(tmp_path: Path) -> None:
    lines = b"\n".join(dumps(e) for e in clean_chat(12)) + b"\n"
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(lines + lines))
    result = fix(path, tmp_path / "data.jsonl")
    assert (tmp_path / "data.jsonl").read_bytes() == lines
    assert result.count("removed-duplicate") == 12
    with pytest.raises(InputError, match="gzip-compressed"):
        fix(path, in_place=True)
    with pytest.raises(InputError, match="plain JSONL"):
        fix(path, tmp_path / "again.jsonl.gz")


def test_damaged_gzip_and_lfs_pointers_write_nothing(tmp_path: Path) -> None:
    data = gzip.compress(b"\n".join(dumps(e) for e in clean_chat(500)) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged after line"):
        fix(path, tmp_path / "o.jsonl")
    pointer = tmp_path / "lfs.jsonl"
    pointer.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n")
    with pytest.raises(InputError, match="LFS pointer"):
        fix(pointer, tmp_path / "o.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.jsonl.gz", "lfs.jsonl"]


def test_binary_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"PAR1" + bytes(range(256)) * 10)
    with pytest.raises(InputError, match="Parquet"):
        fix(path, tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_output_is_written_atomically(
    messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out" / "fixed.jsonl"
    out.parent.mkdir()
    out.write_bytes(b"previous content\n")
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def recording_replace(source: str, target: str | Path) -> None:
        renames.append((Path(source), Path(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", recording_replace)
    fix(messy, out)
    assert {target for _, target in renames} == {out, tmp_path / "out" / "fixed.rejects.jsonl"}
    assert all(source.parent == target.parent for source, target in renames)

    # A failure in the middle leaves the old output as it was and no temporary file behind.
    import dslint.fix as fix_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fix_module, "_edit", broken)
    out.write_bytes(b"previous content\n")
    with pytest.raises(RuntimeError):
        fix(messy, out)
    assert out.read_bytes() == b"previous content\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["fixed.jsonl", "fixed.rejects.jsonl"]


def test_output_keeps_the_permissions_of_the_input(messy: Path, tmp_path: Path) -> None:
    os.chmod(messy, 0o640)
    fix(messy, tmp_path / "o.jsonl")
    assert (tmp_path / "o.jsonl").stat().st_mode & 0o777 == 0o640


# -- through the command line ----------------------------------------------------------------


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_prints_the_change_log_and_writes_it(
    messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("fix", "train.jsonl", "-o", "fixed.jsonl", "--log", "changes.txt")
    assert result.exit_code == 0, result.output
    log = result.stdout.splitlines()
    assert "train.jsonl:11: rejected: S001 invalid JSON: Expecting ',' delimiter" in log
    assert "train.jsonl:17: removed-duplicate: same example as line 4" in log
    assert (
        "train.jsonl:19: renamed-keys: 'preferred_completion' -> 'preferred_output', 'non_preferred_completion' -> 'non_preferred_output'"
        in log
    )
    assert log[-1].startswith("dslint fix: 51 lines read, 43 written to fixed.jsonl")
    assert Path("changes.txt").read_text().splitlines() == log
    quiet = invoke("fix", "train.jsonl", "-o", "fixed2.jsonl", "-q")
    assert len(quiet.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["fix", "train.jsonl"], "either -o OUTPUT or --in-place"),
        (["fix", "train.jsonl", "-o", "train.jsonl"], "is the input file"),
        (["fix", "missing.jsonl", "-o", "x.jsonl"], "no such file"),
        (["fix", ".", "-o", "x.jsonl"], "is a folder"),
        (["fix", "train.jsonl", "-o", "x.jsonl", "--drop", "nonsense"], "not a category"),
        (["fix", "train.jsonl", "-o", "no/such/folder/x.jsonl"], "cannot write here"),
        # The log or the rejects named as another file of the run (new or not): refused
        # before anything is written, so neither replaces the data nor the fixed copy.
        (["fix", "train.jsonl", "-o", "x.jsonl", "--log", "train.jsonl"], "log file must be"),
        (["fix", "train.jsonl", "-o", "x.jsonl", "--log", "x.jsonl"], "log file must be"),
        (["fix", "train.jsonl", "--in-place", "--log", "train.jsonl.bak"], "log file must be"),
        (["fix", "train.jsonl", "-o", "x.jsonl", "--rejects", "x.jsonl"], "must be a new file"),
    ],
)
def test_cli_errors_are_one_line(
    messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], fragment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    data = (tmp_path / "train.jsonl").read_bytes()
    result = invoke(*args)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and fragment in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert (tmp_path / "train.jsonl").read_bytes() == data


def test_log_lines_are_terminal_safe(tmp_path: Path) -> None:
    path = tmp_path / "esc.jsonl"
    path.write_bytes(b'{"\x1b[31mkey": 1, "\x1b[31mkey": 2}\n' + b'["\\u001b[2J"]\n')
    result = fix(path, tmp_path / "o.jsonl")
    assert result.count("rejected") == 2  # a raw ESC inside a JSON string is invalid JSON
    assert all("\x1b" not in line for line in result.log_lines())
